#ifndef TRUNKROUTE_HEALTH_TARGET_STATE_H_
#define TRUNKROUTE_HEALTH_TARGET_STATE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "health/prober.h"
#include "health/step_context.h"
#include "router/policy.h"
#include "trunkroute/state/health_state.pb.h"
#include "trunkroute/v1/health.pb.h"

namespace trunkroute::health {

// One address of a trunk: an A/AAAA record of one of its SRV targets, or, for an IP literal
// (or a name nobody resolves for us), the trunk's own configured address.
struct TargetSpec {
  std::string key;      // "192.0.2.1:5060", "[2001:db8::1]:5061"
  std::string address;  // IP literal; empty = the trunk's host as configured
  uint32_t port = 0;
  v1::Transport transport = v1::TRANSPORT_TLS;
  uint32_t priority = 0;  // SRV (0 without)
  uint32_t weight = 0;
  bool operator==(const TargetSpec&) const = default;
};

// What one failure was, for the counters, the reason and the detail text.
struct Failure {
  bool probe = false;
  bool transport = false;
  bool tls = false;  // with transport: the TLS handshake failed (text says why)
  bool auth = false;
  uint32_t retry_after_ms = 0;  // honoured Retry-After hold (already capped), 0 = none
  uint32_t retry_after_s = 0;   // as the peer sent it, for the detail
  std::string text;             // "503", "timeout", "transport error", "401 after credentials"
};

// The measured health of one target (design.md §3): UP → DOWN (hold-down, doubling, jitter,
// Retry-After) → PROBING → UP, with probes. A trunk's health is made of its targets' (see
// TrunkState); the rules are the trunk rules of design.md, applied per address:
//  - Call failures and probe failures are counted separately (failure_threshold and
//    probe_failure_threshold). A successful call or callee-final answer resets both; a successful
//    probe resets only the probe count (an OPTIONS answer does not prove INVITEs work).
//  - Consecutive-ejection count (the hold-down exponent) resets lazily at the next ejection if
//    the target had then been UP for at least the (un-jittered) length of its last hold-down.
//  - A Retry-After hold counts as an ejection (it raises the exponent) but is never jittered;
//    a 503 Retry-After while DOWN extends the hold-down when it ends later.
//  - A failed probe of an UP target that does not eject it yet is followed by the next probe
//    after probe_interval_down_ms (not probe_interval_up_ms), to confirm quickly.
//  - A failure of any kind while PROBING ejects again at once.
//  - Outcomes while DOWN (panic-mode calls) never end the hold-down early.
// Every change appends a TargetTransition to the context. Not thread-safe (the tracker's lock).
class TargetState {
 public:
  // UP, reason CONFIGURED with `detail`, probed at the next Tick.
  TargetState(TargetSpec spec, std::string detail, StepContext& ctx);
  // The state an earlier run saved (Export), under today's time: a hold-down still running stays
  // DOWN for the time it had left (capped at the longest hold `p` allows); one that ran out
  // meanwhile is PROBING, probed at the next Tick, like UP and PROBING targets. The ejection
  // history comes back too, so hold-downs keep doubling. Null when `saved` holds no measured
  // state (UP, DOWN or PROBING): the caller starts the target fresh.
  static std::unique_ptr<TargetState> Restore(TargetSpec spec, const state::TargetRecord& saved,
                                              const router::EffectiveHealthPolicy& p,
                                              StepContext& ctx);
  // What Restore needs, its times converted from `now` to the wall clock `wall_now_ms`.
  void Export(MonoTime now, int64_t wall_now_ms, state::TargetRecord* out) const;

  const TargetSpec& spec() const { return spec_; }
  void set_spec(TargetSpec spec) { spec_ = std::move(spec); }
  const std::string& key() const { return spec_.key; }

  void OnAlive(bool from_call, const router::EffectiveHealthPolicy& p, StepContext& ctx);
  void OnFailure(const Failure& f, const router::EffectiveHealthPolicy& p, StepContext& ctx);
  // Whether the probe proved the target alive; nullopt when it is not this target's outstanding
  // probe (stale, or another target's).
  std::optional<bool> OnProbe(const ProbeResult& result, const router::EffectiveHealthPolicy& p,
                              StepContext& ctx);
  // Probe timeouts, hold-down expiry, probes due (built from `probe`, which names the trunk).
  void Tick(const router::EffectiveHealthPolicy& p, bool probes_on, const ProbeTarget& probe,
            StepContext& ctx);
  MonoTime NextDeadline(const router::EffectiveHealthPolicy& p, bool probes_on) const;
  // Probes now, if UP with probes on and none outstanding; true when a probe was queued.
  bool ProbeNow(const router::EffectiveHealthPolicy& p, bool probes_on, const ProbeTarget& probe,
                StepContext& ctx);
  // The trunk's policy changed: a shorter probe interval takes effect now; probes turned off
  // forget the probe in flight.
  void Reconfigure(const router::EffectiveHealthPolicy& old_policy,
                   const router::EffectiveHealthPolicy& p, bool probes_on, StepContext& ctx);

  v1::HealthState state() const { return measured_; }
  v1::HealthReason reason() const { return reason_; }
  const std::string& detail() const { return detail_; }
  int64_t since_wall_ms() const { return since_wall_ms_; }
  uint32_t consecutive_failures() const {
    return std::max(consecutive_failures_, consecutive_probe_failures_);
  }
  uint32_t consecutive_successes() const { return consecutive_successes_; }
  uint32_t ejection_count() const { return ejection_count_; }
  MonoTime down_until() const { return down_until_; }
  int64_t down_until_wall_ms() const { return down_until_wall_ms_; }
  uint32_t last_probe_rtt_us() const { return last_probe_rtt_us_; }
  uint64_t outstanding_probe_id() const { return outstanding_probe_id_; }

  void FillProto(v1::TargetHealth* out) const;

 private:
  explicit TargetState(TargetSpec spec) : spec_(std::move(spec)) {}
  void Eject(v1::HealthReason reason, std::string detail, uint32_t fixed_hold_ms,
             const router::EffectiveHealthPolicy& p, StepContext& ctx);
  void EnterProbing(StepContext& ctx);
  void Recover(const router::EffectiveHealthPolicy& p, StepContext& ctx);
  void SetMeasured(v1::HealthState to, v1::HealthReason reason, std::string detail,
                   StepContext& ctx);
  void MaybeSendProbe(const router::EffectiveHealthPolicy& p, bool probes_on,
                      const ProbeTarget& probe, StepContext& ctx);
  uint32_t ProbeIntervalMs(const router::EffectiveHealthPolicy& p) const;

  TargetSpec spec_;

  v1::HealthState measured_ = v1::HEALTH_STATE_UP;
  v1::HealthReason reason_ = v1::HEALTH_REASON_CONFIGURED;
  std::string detail_;
  int64_t since_wall_ms_ = 0;
  MonoTime up_since_{};

  uint32_t consecutive_failures_ = 0;        // calls
  uint32_t consecutive_probe_failures_ = 0;  // probes
  uint32_t consecutive_successes_ = 0;

  uint32_t ejection_count_ = 0;
  uint32_t consecutive_ejections_ = 0;
  uint32_t last_hold_down_ms_ = 0;  // un-jittered
  MonoTime down_until_{};
  int64_t down_until_wall_ms_ = 0;

  MonoTime next_probe_at_{};  // meaningful when no probe is outstanding
  uint64_t outstanding_probe_id_ = 0;
  MonoTime probe_deadline_{};
  uint32_t last_probe_rtt_us_ = 0;
};

}  // namespace trunkroute::health

#endif  // TRUNKROUTE_HEALTH_TARGET_STATE_H_
