#ifndef TRUNKROUTE_HEALTH_RTO_ESTIMATOR_H_
#define TRUNKROUTE_HEALTH_RTO_ESTIMATOR_H_

#include <cstdint>

namespace trunkroute::health {

// Learns one trunk's attempt timeout from its time-to-first-1xx, the way TCP learns its
// retransmission timeout (RFC 6298): SRTT and RTTVAR smoothed with alpha = 1/8 and beta = 1/4,
// timeout = max(150 ms, SRTT + max(4 × RTTVAR, SRTT / 4)). The SRTT/4 margin plays the part of
// RFC 6298's clock-granularity term: a trunk whose answers are steady (RTTVAR near 0) may still
// be a quarter slower than its mean once in a while without being abandoned.
//
// Backoff (Karn): each run of `per_doubling` consecutive attempts that time out with no 1xx at
// all doubles the current timeout (up to kMaxBackoffMs), so a trunk that got slower but is alive
// is given longer attempts after each ejection instead of being abandoned forever at a timeout it
// can no longer meet. The next real sample drops the backoff and the estimate continues from
// SRTT/RTTVAR.
//
// Why not double on every timeout, as TCP does: calls are independent and concurrent. At 50
// calls/s the calls that start between the first timeouts and the ejection would each wait 2x,
// 4x the timeout for a trunk that is simply dead (measured: 300 and 600 ms instead of 150).
// Doubling once per failure_threshold timeouts keeps every call of a dead trunk at the learned
// timeout, and still grows the timeout for a slow trunk once per ejection cycle.
//
// Not thread-safe: owned by one trunk's state, under the tracker's lock.
class RtoEstimator {
 public:
  static constexpr uint32_t kFloorMs = 150;
  // The least margin over SRTT, as a fraction of SRTT.
  static constexpr double kMinMarginOfSrtt = 0.25;
  // The largest setup_timeout_ms a policy may have: backing off further is pointless because the
  // decision clamps the value to the route's setup_timeout_ms anyway.
  static constexpr uint32_t kMaxBackoffMs = 32000;

  // A first 1xx arrived `ms` after the INVITE was sent (ms > 0).
  void AddSample(uint32_t ms);
  // The attempt timed out with no 1xx: every `per_doubling`-th in a row backs off (≥ 1).
  void OnSilentTimeout(int per_doubling = 1);

  // 0 until the first sample (the decision then uses setup_timeout_ms).
  uint32_t TimeoutMs() const;

  bool has_sample() const { return has_sample_; }
  double srtt_ms() const { return srtt_ms_; }
  double rttvar_ms() const { return rttvar_ms_; }
  int backoff_shift() const { return backoff_shift_; }

 private:
  bool has_sample_ = false;
  double srtt_ms_ = 0;
  double rttvar_ms_ = 0;
  int backoff_shift_ = 0;
  int silent_streak_ = 0;  // silent timeouts since the last doubling or sample
};

}  // namespace trunkroute::health

#endif  // TRUNKROUTE_HEALTH_RTO_ESTIMATOR_H_
