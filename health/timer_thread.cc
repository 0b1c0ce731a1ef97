#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

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

  ~Impl() {
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  void Wake() {
    {
      std::lock_guard<std::mutex> l(mu_);
      woken_ = true;
    }
    cv_.notify_all();
  }

 private:
  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
      lock.unlock();
      tracker_->Tick();
      const MonoTime deadline = tracker_->NextDeadline();
      lock.lock();
      if (stop_) break;
      if (woken_) {
        woken_ = false;
        continue;
      }
      const auto now = std::chrono::steady_clock::now();
      const auto until = std::max(std::min(deadline, now + kMaxSleep), now + kMinSleep);
      cv_.wait_until(lock, until, [this] { return stop_ || woken_; });
      woken_ = false;
    }
  }

  HealthTracker* const tracker_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool woken_ = false;
  std::thread thread_;  // last: starts after every other member is ready
};

HealthTimerThread::HealthTimerThread(HealthTracker* tracker)
    : impl_(std::make_unique<Impl>(tracker)) {}
HealthTimerThread::~HealthTimerThread() = default;
void HealthTimerThread::Wake() { impl_->Wake(); }

}  // namespace trunkroute::health
