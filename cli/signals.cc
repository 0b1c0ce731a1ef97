#include "cli/signals.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <utility>

#include "absl/synchronization/mutex.h"

namespace trunkroute::cli {
namespace {

// Locked by the signal thread (a plain thread in sigwait, not a signal handler) and by
// ScopedCancelOnSignal.
ABSL_CONST_INIT absl::Mutex g_mu(absl::kConstInit);
std::function<void()>* g_cancel ABSL_GUARDED_BY(g_mu) = nullptr;
std::atomic<bool> g_interrupted{false};

sigset_t StopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

void SignalLoop(sigset_t set) {
  for (;;) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) continue;
    absl::MutexLock lock(&g_mu);
    if (g_cancel == nullptr) _exit(128 + sig);
    g_interrupted.store(true);
    (*g_cancel)();
  }
}

}  // namespace

void StartSignalThread() {
  sigset_t set = StopSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  // Detached: it blocks in sigwait for the life of the process and must not be joined at exit.
  std::thread(SignalLoop, set).detach();
}

ScopedCancelOnSignal::ScopedCancelOnSignal(std::function<void()> cancel) {
  absl::MutexLock lock(&g_mu);
  g_cancel = new std::function<void()>(std::move(cancel));
}

ScopedCancelOnSignal::~ScopedCancelOnSignal() {
  absl::MutexLock lock(&g_mu);
  delete g_cancel;
  g_cancel = nullptr;
}

bool Interrupted() { return g_interrupted.load(); }

}  // namespace trunkroute::cli
