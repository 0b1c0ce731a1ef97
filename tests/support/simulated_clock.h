#ifndef TRUNKROUTE_TESTS_SUPPORT_SIMULATED_CLOCK_H_
#define TRUNKROUTE_TESTS_SUPPORT_SIMULATED_CLOCK_H_

#include <atomic>
#include <deque>

#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "common/random.h"

namespace trunkroute::testing {

// A clock that moves only when the test says so. Thread-safe.
class SimulatedClock final : public Clock {
 public:
  explicit SimulatedClock(int64_t wall_start_unix_ms = 1'800'000'000'000)
      : wall_start_ms_(wall_start_unix_ms) {}
  MonoTime Now() const override { return MonoTime(Duration(offset_ns_.load())); }
  int64_t WallUnixMs() const override { return wall_start_ms_ + offset_ns_.load() / 1'000'000; }
  void Advance(Duration d) { offset_ns_.fetch_add(d.count()); }
  void AdvanceMs(int64_t ms) { Advance(std::chrono::milliseconds(ms)); }
  // Moves the wall clock alone (an NTP step; or, after Advance, a restart whose monotonic clock
  // has nothing to do with the last run's).
  void StepWallMs(int64_t ms) { wall_start_ms_.fetch_add(ms); }

 private:
  std::atomic<int64_t> wall_start_ms_;
  // Starts well after the epoch so "time zero" never looks like an unset deadline.
  std::atomic<int64_t> offset_ns_{int64_t{1'000'000} * 1'000'000'000};
};

// Returns the queued values in order, then `fallback` forever.
class FakeRandom final : public RandomSource {
 public:
  explicit FakeRandom(double fallback = 0.0) : fallback_(fallback) {}
  void Push(double v) {
    absl::MutexLock l(&mu_);
    values_.push_back(v);
  }
  double NextUnit() override {
    absl::MutexLock l(&mu_);
    if (values_.empty()) return fallback_;
    double v = values_.front();
    values_.pop_front();
    return v;
  }

 private:
  absl::Mutex mu_;
  std::deque<double> values_ ABSL_GUARDED_BY(mu_);
  double fallback_;
};

}  // namespace trunkroute::testing

#endif  // TRUNKROUTE_TESTS_SUPPORT_SIMULATED_CLOCK_H_
