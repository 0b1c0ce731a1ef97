#ifndef TRUNKROUTE_HEALTH_TRUNK_STATE_H_
#define TRUNKROUTE_HEALTH_TRUNK_STATE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/random.h"
#include "health/health_words.h"  // HealthStateShortName, HealthReasonShortName
#include "health/outcome.h"
#include "health/prober.h"
#include "health/rto_estimator.h"
#include "router/policy.h"
#include "router/routing_table.h"
#include "trunkroute/v1/health.pb.h"

namespace trunkroute::health {

// A trunk back from DOWN starts its recovery ramp at this share of new calls and grows linearly
// to 1 over ramp_up_ms. Not zero: the trunk must see some traffic to prove itself.
inline constexpr double kRampFloor = 0.1;

// Share at `now` of a ramp running from `start` to `end`; 1 when no ramp (end == MonoTime{}) or
// the ramp is over.
double RampShare(MonoTime start, MonoTime end, MonoTime now);

// One change of a trunk's reported state (what decisions and ListTrunkHealth see) and/or its
// measured state (what outcomes and probes say, under any admin override).
struct Transition {
  v1::HealthState from_reported = v1::HEALTH_STATE_UNSPECIFIED;
  v1::HealthState to_reported = v1::HEALTH_STATE_UNSPECIFIED;
  v1::HealthState from_measured = v1::HEALTH_STATE_UNSPECIFIED;
  v1::HealthState to_measured = v1::HEALTH_STATE_UNSPECIFIED;
  v1::HealthReason reason = v1::HEALTH_REASON_UNSPECIFIED;
  std::string detail;
  bool reported_changed() const { return from_reported != to_reported; }
};

// What a step needs from its caller (time, randomness, the probe id counter) and what it hands
// back (transitions to log and stream, probes to send once the tracker's lock is released).
struct StepContext {
  MonoTime now;
  const Clock* clock = nullptr;  // for the wall time, read only when a state changes
  int64_t WallMs() {
    if (!wall_ms_read) {
      wall_ms = clock->WallUnixMs();
      wall_ms_read = true;
    }
    return wall_ms;
  }
  int64_t wall_ms = 0;
  bool wall_ms_read = false;
  RandomSource* random = nullptr;
  bool can_probe = false;  // a ProbeSender exists
  uint64_t* next_probe_id = nullptr;
  std::vector<ProbeTarget>* probes = nullptr;
  std::vector<Transition> transitions;
  std::vector<ProbeResult> expired_probes;  // probes Tick declared timed out (for observers)
  bool view_changed = false;  // the published view of this trunk must be rebuilt
};

// Values the hot path reads that change with nearly every outcome: published through atomics
// (shared with every snapshot that shows this trunk) instead of rebuilding a snapshot each time.
struct TrunkLive {
  std::atomic<uint32_t> attempt_timeout_ms{0};
};

// The health state machine of one trunk (design.md §3). Not thread-safe: the tracker owns every
// TrunkState and calls it under its lock. Every method takes the current time from the context;
// nothing happens between calls.
//
// Rules beyond design.md, chosen here:
//  - Call failures and probe failures are counted separately (failure_threshold and
//    probe_failure_threshold). A successful call or callee-final answer resets both; a successful
//    probe resets only the probe count (an OPTIONS answer does not prove INVITEs work).
//  - What counts at all (alive, failure, neutral) is Classify()'s; e.g. 401/407 without
//    credentials_sent and ring-no-answer are neutral.
//  - Consecutive-ejection count (the hold-down exponent) resets lazily at the next ejection if
//    the trunk had then been UP for at least the (un-jittered) length of its last hold-down.
//  - A Retry-After hold counts as an ejection (it raises the exponent) but is never jittered;
//    a 503 Retry-After while DOWN extends the hold-down when it ends later.
//  - A failed probe of an UP trunk that does not eject it yet is followed by the next probe after
//    probe_interval_down_ms (not probe_interval_up_ms), to confirm quickly.
//  - A failure of any kind while PROBING ejects again at once.
//  - Outcomes while DOWN (panic-mode calls) never end the hold-down early.
class TrunkState {
 public:
  // A trunk the tracker has not seen (or whose address changed): UP, reason CONFIGURED (ADMIN if
  // its admin state overrides), probed at the next Tick. Appends the transition from
  // `previous_reported` (UNSPECIFIED for a new trunk).
  static std::unique_ptr<TrunkState> Create(const router::CompiledTrunk& trunk,
                                            std::string detail,
                                            v1::HealthState previous_reported, StepContext& ctx);

  // Whether `trunk` is still the same peer; if not, the tracker replaces this state with a fresh
  // one (a new address is a new peer; new credentials after an AUTH_FAILED ejection deserve a
  // fresh start). Returns the detail for the fresh state, or nullopt to keep this one.
  std::optional<std::string> ReplacementReason(const router::CompiledTrunk& trunk) const;
  // Same peer, possibly new policy or admin state: keeps measured health.
  void Reconfigure(const router::CompiledTrunk& trunk, StepContext& ctx);

  // `verdict` is Classify()'s answer for `outcome` (the one failover rule, health/outcome.h):
  // its HealthEffect decides, its FailureReason names the failure.
  void OnOutcome(const AttemptOutcome& outcome, const OutcomeVerdict& verdict, StepContext& ctx);
  // nullopt when the result is stale (not the outstanding probe) and was ignored; else whether
  // the probe proved the trunk alive.
  std::optional<bool> OnProbe(const ProbeResult& result, StepContext& ctx);
  // Probe timeouts, hold-down expiry, ramp completion, probes due.
  void Tick(StepContext& ctx);
  // Probes now rather than at the next interval (another instance saw the trunk fail): only an
  // UP trunk with probes on and none outstanding. True when a probe was queued in ctx.probes.
  bool ProbeNow(StepContext& ctx);
  MonoTime NextDeadline(bool can_probe) const;

  const std::string& id() const { return id_; }
  // Where probes and calls for this trunk go, for logs: "host:port" ("[v6]:port") and "udp",
  // "tcp" or "tls".
  const std::string& peer() const { return peer_; }
  std::string_view transport_name() const;
  v1::HealthState ReportedState() const;
  v1::HealthState measured_state() const { return measured_; }
  v1::HealthReason ReportedReason() const;
  std::string ReportedDetail() const;
  // The ramp the published view carries: both MonoTime{} unless reported UP and ramping.
  MonoTime ramp_start() const { return ramp_start_; }
  MonoTime ramp_end() const { return ramp_end_; }
  const std::shared_ptr<TrunkLive>& live() const { return live_; }
  uint64_t outstanding_probe_id() const { return outstanding_probe_id_; }

  void FillProto(MonoTime now, v1::TrunkHealth* out) const;

 private:
  // What one failure was, for the counters, the reason and the detail text.
  struct Failure {
    bool probe = false;
    bool transport = false;
    bool auth = false;
    uint32_t retry_after_ms = 0;  // honoured Retry-After hold (already capped), 0 = none
    uint32_t retry_after_s = 0;   // as the peer sent it, for the detail
    std::string text;             // "503", "timeout", "transport error", "401 after credentials"
  };

  explicit TrunkState(const router::CompiledTrunk& trunk);
  void ApplyTrunk(const router::CompiledTrunk& trunk);

  void OnAlive(bool from_call, StepContext& ctx);
  void OnFailure(const Failure& f, StepContext& ctx);
  void Eject(v1::HealthReason reason, std::string detail, uint32_t fixed_hold_ms,
             StepContext& ctx);
  void EnterProbing(StepContext& ctx);
  void Recover(StepContext& ctx);
  void SetMeasured(v1::HealthState to, v1::HealthReason reason, std::string detail,
                   StepContext& ctx);
  void MaybeSendProbe(StepContext& ctx);
  bool ProbesOn(bool can_probe) const { return can_probe && policy_.probes_enabled; }
  uint32_t ProbeIntervalMs() const;
  void PublishTimeout();

  // Configuration.
  std::string id_;
  std::string host_;
  uint32_t port_ = 0;
  v1::Transport transport_ = v1::TRANSPORT_TLS;
  std::string peer_;  // host:port
  std::string username_;
  std::string password_;  // only compared, to notice fixed credentials; never logged
  router::EffectiveHealthPolicy policy_;
  v1::AdminState admin_ = v1::ADMIN_STATE_ENABLED;

  // Measured state.
  v1::HealthState measured_ = v1::HEALTH_STATE_UP;
  v1::HealthReason reason_ = v1::HEALTH_REASON_CONFIGURED;
  std::string detail_;
  int64_t since_wall_ms_ = 0;
  int64_t admin_since_wall_ms_ = 0;
  MonoTime up_since_{};

  uint32_t consecutive_failures_ = 0;        // calls
  uint32_t consecutive_probe_failures_ = 0;  // probes
  uint32_t consecutive_successes_ = 0;
  std::string last_failure_;
  bool in_auth_streak_ = false;  // to log one warning per run of AUTH_FAILED outcomes

  uint32_t ejection_count_ = 0;
  uint32_t consecutive_ejections_ = 0;
  uint32_t last_hold_down_ms_ = 0;  // un-jittered
  MonoTime down_until_{};
  int64_t down_until_wall_ms_ = 0;

  MonoTime ramp_start_{};
  MonoTime ramp_end_{};

  MonoTime next_probe_at_{};  // meaningful when no probe is outstanding
  uint64_t outstanding_probe_id_ = 0;
  MonoTime probe_deadline_{};
  uint32_t last_probe_rtt_us_ = 0;

  RtoEstimator rto_;
  std::shared_ptr<TrunkLive> live_ = std::make_shared<TrunkLive>();
};

}  // namespace trunkroute::health

#endif  // TRUNKROUTE_HEALTH_TRUNK_STATE_H_
