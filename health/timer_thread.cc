#include <algorithm>
#include <chrono>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "health/tracker.h"

namespace trunkroute::health {
namespace {

// Recompute at least this often even with nothing scheduled: config changes and outcomes that
// create deadlines need not call Wake() to be noticed within this bound.
constexpr std::chrono::milliseconds kMaxSleep{100};
// A deadline already in the past right after Tick() means a clock that is not the real one (a
// simulated clock in a test): never spin on it.
constexpr std::chrono::milliseconds kMinSleep{1};

}  // namespace

// Runs on the real steady clock: meant for a tracker built on RealClock, whose MonoTime is the
// same steady_clock.
class HealthTimerThread::Impl {
 public:
  explicit Impl(HealthTracker* tracker) : tracker_(tracker), thread_([this] { Run(); }) {}

  ~Impl() ABSL_LOCKS_EXCLUDED(mu_) {
    {
      absl::MutexLock l(&mu_);
      stop_ = true;
    }
    thread_.join();
  }

  void Wake() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock l(&mu_);
    woken_ = true;
  }

 private:
  // Tick() runs without mu_; the sleep is an Await on stop_ or woken_ with a timeout (the Mutex
  // re-evaluates the condition whenever Wake() or the destructor releases it).
  void Run() ABSL_LOCKS_EXCLUDED(mu_) {
    for (;;) {
      {
        absl::MutexLock l(&mu_);
        if (stop_) return;
      }
      tracker_->Tick();
      const MonoTime deadline = tracker_->NextDeadline();
      absl::MutexLock l(&mu_);
      if (stop_) return;
      if (woken_) {
        woken_ = false;
        continue;
      }
      const auto now = std::chrono::steady_clock::now();
      const auto until = std::max(std::min(deadline, now + kMaxSleep), now + kMinSleep);
      mu_.AwaitWithTimeout(absl::Condition(this, &Impl::StopOrWoken),
                           absl::FromChrono(until - now));
      woken_ = false;
    }
  }
  bool StopOrWoken() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_ || woken_; }

  HealthTracker* const tracker_;
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool woken_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: starts after every other member is ready
};

HealthTimerThread::HealthTimerThread(HealthTracker* tracker)
    : impl_(std::make_unique<Impl>(tracker)) {}
HealthTimerThread::~HealthTimerThread() = default;
void HealthTimerThread::Wake() { impl_->Wake(); }

}  // namespace trunkroute::health
