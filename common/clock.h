#ifndef TRUNKROUTE_COMMON_CLOCK_H_
#define TRUNKROUTE_COMMON_CLOCK_H_

#include <chrono>
#include <cstdint>

namespace trunkroute {

// Monotonic time for every timer in the product (hold-downs, probe schedules, attempt timeouts).
// Injected everywhere so that tests run health and failover logic under simulated time.
using MonoTime = std::chrono::steady_clock::time_point;
using Duration = std::chrono::nanoseconds;
using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::microseconds;

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic now: never goes back; used for all deadlines.
  virtual MonoTime Now() const = 0;
  // Wall-clock now in Unix milliseconds: only for display (since_unix_ms and the like).
  virtual int64_t WallUnixMs() const = 0;
};

// The real clock. Thread-safe and stateless.
class RealClock final : public Clock {
 public:
  MonoTime Now() const override { return std::chrono::steady_clock::now(); }
  int64_t WallUnixMs() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  // One process-wide instance, for production wiring.
  static RealClock* Get();
};

// Milliseconds between two monotonic times (b - a), as a signed count.
inline int64_t MillisBetween(MonoTime a, MonoTime b) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count();
}

}  // namespace trunkroute

#endif  // TRUNKROUTE_COMMON_CLOCK_H_
