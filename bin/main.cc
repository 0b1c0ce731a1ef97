// trunkrouted: the trunkroute daemon. main parses the command line, blocks the signals it handles
// and runs daemon::Daemon (the composition root, daemon/daemon.h) until SIGTERM or SIGINT;
// SIGHUP reloads the API's certificate and tokens (Daemon::Reload).
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <string>

#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "common/log.h"
#include "daemon/daemon.h"
#include "daemon/flags.h"

int main(int argc, char** argv) {
  using namespace trunkroute;  // NOLINT: a main file, not a header
  // Debian builds Abseil without NDEBUG, which turns on absl::Mutex deadlock detection for every
  // lock gRPC takes: about a tenth of the CPU of a RouteCall. Our lock order is fixed by design
  // (and checked under the sanitizer build), so the production binary does not pay for it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  auto command_line = daemon::ParseCommandLine(argc, argv);
  if (!command_line.ok()) {
    std::fprintf(stderr, "trunkrouted: %s\nRun 'trunkrouted --help' for the flags.\n",
                 std::string(command_line.status().message()).c_str());
    return 2;
  }
  if (command_line->help) {
    std::fputs(daemon::Usage().c_str(), stdout);
    return 0;
  }
  if (command_line->version) {
    std::printf("trunkrouted %s\n", TRUNKROUTE_VERSION);
    return 0;
  }
  SetLogLevel(command_line->log_level);
  SetLogJson(command_line->log_json);
  for (const std::string& warning : command_line->warnings) LogWarn(warning);
  command_line->options.version = TRUNKROUTE_VERSION;

  // Signals are taken synchronously by this thread (sigwait below); every thread started from
  // here on inherits the mask, so no gRPC, SIP or health thread is ever interrupted by them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto running = daemon::Daemon::Start(command_line->options, RealClock::Get());
  if (!running.ok()) {
    std::fprintf(stderr, "trunkrouted: %s\n", std::string(running.status().message()).c_str());
    return 1;
  }
  int signal = 0;
  for (;;) {
    if (sigwait(&stop_signals, &signal) != 0) continue;
    if (signal != SIGHUP) break;
    LogInfo("reloading", {{"signal", "SIGHUP"}});
    // Failures are logged and counted where they happen; what serves keeps serving.
    (void)(*running)->Reload();
  }
  LogInfo("shutting down", {{"signal", signal == SIGTERM ? "SIGTERM" : "SIGINT"}});
  (*running)->Stop();
  running->reset();
  LogInfo("stopped");
  return 0;
}
