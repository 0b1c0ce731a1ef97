#ifndef TRUNKROUTE_SIP_OVERLOAD_H_
#define TRUNKROUTE_SIP_OVERLOAD_H_

// The edge's load-shedding state, as plain objects over injected time (no Sofia, no sockets):
// the overload detector (fed by the SIP thread's own measurements) and the call-rate caps
// (edge.max_cps, edge.max_cps_per_source). sip/admission.cc decides from them; the edge only
// feeds them (docs/sip-edge.md, "Overload").

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "common/clock.h"

namespace trunkroute::sip {

// `rate` tokens per second, holding at most `depth` (and at least 1); starts full.
class TokenBucket {
 public:
  TokenBucket() = default;
  TokenBucket(double rate_per_s, double depth, MonoTime now);

  // Refills up to `now`; true if a whole token is there (nothing taken).
  bool Ready(MonoTime now);
  // Takes one token; only after Ready() said yes.
  void Take();
  // As a new bucket would be at `now` (an idle source: safe to forget).
  bool FullAt(MonoTime now) const;
  double rate() const { return rate_; }

 private:
  double rate_ = 0;
  double depth_ = 1;
  double tokens_ = 1;
  MonoTime last_{};
};

// Depth of the call-rate buckets: a tenth of a second of calls, at least two. The cap holds
// over any 100 ms, so a dialer's burst beyond it is refused rather than queued; two, because a
// bucket one token deep loses the refill between arrivals that do not line up with its rate
// (calls every 30 ms against 10/s would get 8.3/s).
double CallRateBucketDepth(uint32_t calls_per_s);

// edge.max_cps (all sources together) and edge.max_cps_per_source (each source address), each a
// token bucket. A call takes a token from both or from neither. Per-source buckets of idle
// sources are dropped (a full bucket is the same as none), so the map stays as small as the set
// of sources calling now.
class CallRateLimiter {
 public:
  enum class Verdict { kAdmit, kOverall, kPerSource };
  // 0 = no cap. The caps come from the config snapshot of each call; a changed cap starts its
  // buckets afresh.
  Verdict Admit(std::string_view source, uint32_t max_cps, uint32_t max_cps_per_source,
                MonoTime now);
  size_t tracked_sources() const { return per_source_.size(); }

 private:
  void PruneIdle(MonoTime now);

  uint32_t overall_cap_ = 0;
  TokenBucket overall_;
  uint32_t per_source_cap_ = 0;
  absl::flat_hash_map<std::string, TokenBucket> per_source_;
  size_t prune_at_ = 1024;
};

// When the edge takes no new calls because the SIP thread cannot keep up. Two signals, both
// leading the collapse (they grow before datagrams are dropped and INVITEs retransmitted):
//  - the UDP receive queue: bytes waiting in the SIP socket, as a fraction of its buffer. The
//    queue is already the integral of (arrivals − what the thread serves), so it is used raw;
//  - the loop lag: how late the SIP thread's own periodic timer fires (a step that ran long, a
//    burst of timers), smoothed (EWMA).
// Overloaded when either is at or above its "on" level; back to normal when both are at or
// below their "off" levels (hysteresis: no flapping around one threshold).
struct OverloadOptions {
  double queue_on = 0.25;   // fraction of the receive buffer
  // Close below "on": while shedding, the refusals themselves keep some queue, and an "off" level
  // the shedding edge cannot reach would refuse every call for seconds (measured: 3 % of calls
  // completed at 2,000 calls/s offered with 5 %).
  double queue_off = 0.15;
  Duration lag_on = milliseconds(50);
  Duration lag_off = milliseconds(20);
  double lag_weight = 0.25;  // EWMA weight of each new lag sample
};

class OverloadDetector {
 public:
  OverloadDetector() = default;
  explicit OverloadDetector(const OverloadOptions& options) : options_(options) {}

  struct Sample {
    Duration lag{};                // lateness of the periodic timer (negative counts as 0)
    uint64_t rx_queued_bytes = 0;  // bytes waiting in the UDP receive queue
    uint64_t rx_buffer_bytes = 0;  // the queue's capacity; 0 = not known (queue not used)
  };
  // One measurement; true when it changed the state.
  bool Observe(const Sample& sample);

  bool overloaded() const { return overloaded_; }
  Duration smoothed_lag() const { return Duration(static_cast<int64_t>(lag_ns_)); }
  double queue_fill() const { return queue_fill_; }
  // What holds the edge overloaded ("queue", "lag"), or "" when it is not.
  std::string_view cause() const { return cause_; }

 private:
  OverloadOptions options_;
  bool overloaded_ = false;
  double lag_ns_ = 0;
  double queue_fill_ = 0;
  std::string_view cause_;
};

}  // namespace trunkroute::sip

#endif  // TRUNKROUTE_SIP_OVERLOAD_H_
