#ifndef TRUNKROUTE_COMMON_RANDOM_H_
#define TRUNKROUTE_COMMON_RANDOM_H_

#include <cstdint>
#include <random>

#include "absl/synchronization/mutex.h"

namespace trunkroute {

// Randomness is injected (hold-down jitter, ramp-up sampling) so that tests are deterministic.
class RandomSource {
 public:
  virtual ~RandomSource() = default;
  // Uniform in [0, 1).
  virtual double NextUnit() = 0;
};

// Production source: a seeded Mersenne twister behind a mutex. Used off the per-call path only
// (jitter on ejection); per-call draws use the call's own entropy.
class DefaultRandomSource final : public RandomSource {
 public:
  DefaultRandomSource() : engine_(std::random_device{}()) {}
  double NextUnit() override {
    absl::MutexLock lock(&mu_);
    return std::uniform_real_distribution<double>(0.0, 1.0)(engine_);
  }

 private:
  absl::Mutex mu_;
  std::mt19937_64 engine_ ABSL_GUARDED_BY(mu_);
};

}  // namespace trunkroute

#endif  // TRUNKROUTE_COMMON_RANDOM_H_
