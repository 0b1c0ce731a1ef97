#include "health/rto_estimator.h"

#include <algorithm>
#include <cmath>

namespace trunkroute::health {
namespace {

constexpr double kAlpha = 1.0 / 8.0;
constexpr double kBeta = 1.0 / 4.0;
// 150 << 8 is already past kMaxBackoffMs: more doublings cannot change the answer.
constexpr int kMaxShift = 8;

}  // namespace

void RtoEstimator::AddSample(uint32_t ms) {
  if (ms == 0) return;
  const double r = static_cast<double>(ms);
  if (!has_sample_) {
    srtt_ms_ = r;
    rttvar_ms_ = r / 2.0;
    has_sample_ = true;
  } else {
    // RFC 6298 §2.3: RTTVAR is updated with the old SRTT.
    rttvar_ms_ = (1.0 - kBeta) * rttvar_ms_ + kBeta * std::fabs(srtt_ms_ - r);
    srtt_ms_ = (1.0 - kAlpha) * srtt_ms_ + kAlpha * r;
  }
  backoff_shift_ = 0;
  silent_streak_ = 0;
}

void RtoEstimator::OnSilentTimeout(int per_doubling) {
  // Without a sample there is nothing to back off from: the attempt already ran with the full
  // setup_timeout_ms.
  if (!has_sample_) return;
  if (++silent_streak_ < std::max(per_doubling, 1)) return;
  silent_streak_ = 0;
  backoff_shift_ = std::min(backoff_shift_ + 1, kMaxShift);
}

uint32_t RtoEstimator::TimeoutMs() const {
  if (!has_sample_) return 0;
  // RTTVAR of a very steady trunk decays towards 0: without a margin relative to SRTT a trunk
  // that always answers in 900 ms would be cut at ~910 ms and fail over on its first slower
  // answer (found by the chaos test of a 900 ms trunk under a 1000 ms setup timeout).
  const double margin = std::max(4.0 * rttvar_ms_, srtt_ms_ * kMinMarginOfSrtt);
  double base = std::max(static_cast<double>(kFloorMs), srtt_ms_ + margin);
  double backed_off = std::ldexp(base, backoff_shift_);
  return static_cast<uint32_t>(std::ceil(std::min(backed_off, static_cast<double>(kMaxBackoffMs))));
}

}  // namespace trunkroute::health
