#ifndef TRUNKROUTE_SIP_OVERLOAD_H_
#define TRUNKROUTE_SIP_OVERLOAD_H_

// The edge's load-shedding state, as plain objects over injected time (no Sofia, no sockets):
// the overload detector (fed by the SIP thread's own measurements) and the call-rate caps
// (edge.max_cps, edge.max_cps_per_source). sip/admission.cc decides from them; the edge only
// feeds them (docs/sip-edge.md, "Overload").

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
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
  // buckets afresh. Thread-safe: the SIP workers of one edge share one limiter.
  Verdict Admit(std::string_view source, uint32_t max_cps, uint32_t max_cps_per_source,
                MonoTime now) ABSL_LOCKS_EXCLUDED(mu_);
  size_t tracked_sources() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void PruneIdle(MonoTime now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  uint32_t overall_cap_ ABSL_GUARDED_BY(mu_) = 0;
  TokenBucket overall_ ABSL_GUARDED_BY(mu_);
  uint32_t per_source_cap_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<std::string, TokenBucket> per_source_ ABSL_GUARDED_BY(mu_);
  size_t prune_at_ ABSL_GUARDED_BY(mu_) = 1024;
};

// When, and how many, new calls the edge refuses because the SIP thread cannot keep up.
// Two signals, both leading the collapse (they grow before datagrams are dropped and INVITEs
// retransmitted):
//  - the standing UDP receive queue: the smallest fill of the SIP socket's receive buffer seen
//    over each `window` (CoDel's insight, on bytes). A burst the thread works off within the
//    window leaves a minimum near zero; a thread that cannot keep up keeps a queue through the
//    whole window. A fill at `queue_hard` (datagrams about to be dropped) counts at once;
//  - the loop lag: how late the SIP thread's own periodic timer fires (a step that ran long, a
//    burst of timers), smoothed (EWMA).
// Overloaded when either is high. While overloaded the detector admits a fraction of the new
// calls, AIMD over windows: the fraction is cut by `admit_decrease` at the onset and at every
// window in which a signal is still high, and raised by `admit_increase` at every window in
// which both are low; it is back to normal when the fraction is back at 1. In between (a signal
// between its "off" and "on" levels) the fraction holds. So the edge refuses the excess, not
// every call while a queue lasts (all-or-nothing refused up to half the calls at 1.5x the load
// the unshedding edge carries: docs/benchmarks.md "Overload").
//
// The fill is the kernel's receive-memory count against the buffer (SO_MEMINFO). Linux's UDP
// gives memory back to that count in batches of up to a quarter of the buffer while its reader
// queue is not empty (udp_rmem_release, the "forward deficit"), so under steady traffic the
// count reads up to 25 % above the bytes really waiting: a reading of 25-40 % stood for whole
// seconds at 62 % of a core (docs/benchmarks.md "Overload"). The levels sit a quarter above what
// they mean: 0.5 = at least a quarter of the buffer really waiting.
struct OverloadOptions {
  Duration window = milliseconds(100);
  double queue_on = 0.50;   // standing fill (the window's minimum), fraction of the buffer
  double queue_off = 0.35;  // standing fill at or below which the queue counts as low
  double queue_hard = 0.85;  // an instantaneous fill at which the queue is high at once
  Duration lag_on = milliseconds(50);
  Duration lag_off = milliseconds(20);
  double lag_weight = 0.25;  // EWMA weight of each new lag sample
  double admit_decrease = 0.7;  // the admitted fraction is multiplied by this
  double admit_increase = 0.05;  // ... or raised by this, once per window
  double admit_min = 0.05;       // never below (a trickle keeps measuring what the edge can do)
};

// What the detector says now, for metrics.
struct OverloadReading {
  bool overloaded = false;
  double admit_fraction = 1.0;
  Duration smoothed_lag{};
  double standing_fill = 0;
};

class OverloadDetector {
 public:
  OverloadDetector() = default;
  explicit OverloadDetector(const OverloadOptions& options) : options_(options) {}

  struct Sample {
    MonoTime now{};
    Duration lag{};                // lateness of the periodic timer (negative counts as 0)
    uint64_t rx_queued_bytes = 0;  // bytes waiting in the UDP receive queue
    uint64_t rx_buffer_bytes = 0;  // the queue's capacity; 0 = not known (queue not used)
  };
  // One measurement; true when it changed the state (overloaded or not).
  bool Observe(const Sample& sample);

  // For each new call while overloaded: false for the calls beyond the admitted fraction (spread
  // evenly: with 0.7, 7 of every 10). Always true while not overloaded.
  bool AdmitNext();

  bool overloaded() const { return overloaded_; }
  // The fraction of new calls admitted (1 while not overloaded).
  double admit_fraction() const { return admit_; }
  Duration smoothed_lag() const { return Duration(static_cast<int64_t>(lag_ns_)); }
  double queue_fill() const { return queue_fill_; }        // the last sample's
  double standing_fill() const { return standing_fill_; }  // the last whole window's minimum
  // What holds the edge overloaded ("queue", "lag"), or "" when it is not.
  std::string_view cause() const { return cause_; }
  OverloadReading reading() const {
    return {.overloaded = overloaded_, .admit_fraction = admit_, .smoothed_lag = smoothed_lag(),
            .standing_fill = standing_fill_};
  }

 private:
  void Onset(MonoTime now, std::string_view cause);

  OverloadOptions options_;
  bool overloaded_ = false;
  double admit_ = 1.0;
  double credit_ = 0;
  double lag_ns_ = 0;
  double queue_fill_ = 0;
  double standing_fill_ = 0;
  bool started_ = false;
  MonoTime window_start_{};
  double window_min_ = 0;
  bool window_hard_ = false;  // a fill at queue_hard seen in this window
  std::string_view cause_;
};

}  // namespace trunkroute::sip

#endif  // TRUNKROUTE_SIP_OVERLOAD_H_
