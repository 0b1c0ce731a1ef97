#ifndef TRUNKROUTE_CLI_SIGNALS_H_
#define TRUNKROUTE_CLI_SIGNALS_H_

#include <functional>

namespace trunkroute::cli {

// SIGINT/SIGTERM handling without async-signal-safety traps: the signals are blocked in every
// thread (call this first in main, before gRPC starts its threads) and one detached thread
// takes them with sigwait(). With a cancel hook installed the hook runs (e.g. cancelling a
// stream, so `health watch` ends cleanly); without one the process exits 130/143 as a shell
// expects.
void StartSignalThread();

// Installs `cancel` for its lifetime.
class ScopedCancelOnSignal {
 public:
  explicit ScopedCancelOnSignal(std::function<void()> cancel);
  ~ScopedCancelOnSignal();
  ScopedCancelOnSignal(const ScopedCancelOnSignal&) = delete;
  ScopedCancelOnSignal& operator=(const ScopedCancelOnSignal&) = delete;
};

// True once SIGINT or SIGTERM arrived while a hook was installed.
bool Interrupted();

}  // namespace trunkroute::cli

#endif  // TRUNKROUTE_CLI_SIGNALS_H_
