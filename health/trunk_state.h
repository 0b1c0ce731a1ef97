#ifndef TRUNKROUTE_HEALTH_TRUNK_STATE_H_
#define TRUNKROUTE_HEALTH_TRUNK_STATE_H_

#include <atomic>
#include <cstdint>
#include <functional>
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
#include "health/step_context.h"
#include "health/target_state.h"
#include "router/policy.h"
#include "router/routing_table.h"
#include "trunkroute/state/health_state.pb.h"
#include "trunkroute/v1/health.pb.h"

namespace trunkroute::health {

// A trunk back from DOWN starts its recovery ramp at this share of new calls and grows linearly
// to 1 over ramp_up_ms. Not zero: the trunk must see some traffic to prove itself.
inline constexpr double kRampFloor = 0.1;

// Share at `now` of a ramp running from `start` to `end`; 1 when no ramp (end == MonoTime{}) or
// the ramp is over.
double RampShare(MonoTime start, MonoTime end, MonoTime now);


// Values the hot path reads that change with nearly every outcome: published through atomics
// (shared with every snapshot that shows this trunk) instead of rebuilding a snapshot each time.
struct TrunkLive {
  std::atomic<uint32_t> attempt_timeout_ms{0};
};

// What a trunk's resolver (the SIP edge) found for its host name: see HealthTracker::SetTargets.
struct TargetUpdate {
  std::string trunk_id;
  // The configured address it was resolved for: an update for an address the trunk no longer
  // has (the config changed meanwhile) is ignored.
  std::string host;
  uint32_t port = 0;
  v1::Transport transport = v1::TRANSPORT_TLS;
  // In RFC 3263 order, at most 8. Empty: the name resolves to nothing (`error` says why).
  std::vector<TargetSpec> targets;
  // Why `targets` is empty, or why they are the last good answer kept while DNS fails.
  std::string error;
};

// The health of one trunk (design.md §3): its targets' measured health (health/target_state.h),
// combined, under the admin overlay, with the trunk-wide recovery ramp and adaptive attempt
// timeout. Not thread-safe: the tracker owns every TrunkState and calls it under its lock. Every
// method takes the current time from the context; nothing happens between calls.
//
// Targets: an IP literal has one, its own address. A host name has the addresses its resolver
// reports (SetTargets); until the first report it has none and is UP ("resolving"), and a name
// that resolves to nothing is DOWN (UNRESOLVED). When nobody resolves names for the tracker (no
// SIP edge: dialers report outcomes over the API), a name is one target, the trunk as a whole.
// The trunk is UP while any target is UP, else PROBING while any target is PROBING, else DOWN;
// a trunk with one target reads exactly as that target (same reasons and details).
//
// Rules beyond design.md, chosen here:
//  - What counts at all (alive, failure, neutral) is Classify()'s; e.g. 401/407 without
//    credentials_sent and ring-no-answer are neutral.
//  - An outcome that names a target counts for that target only; one that does not (a dialer's
//    report) counts for every target.
//  - The recovery ramp and the adaptive timeout are the trunk's, not each target's.
class TrunkState {
 public:
  // A trunk the tracker has not seen (or whose address changed): UP, reason CONFIGURED (ADMIN if
  // its admin state overrides), probed at the next Tick. Appends the transition from
  // `previous_reported` (UNSPECIFIED for a new trunk).
  //
  // With `saved` (what an earlier run exported for this trunk id): its measured state instead,
  // see TargetState::Restore, if it was measured for the same address (else ignored, logged).
  // A trunk whose targets come from DNS keeps the saved targets until the first answer: those
  // still in it get their saved state, the others are forgotten.
  static std::unique_ptr<TrunkState> Create(const router::CompiledTrunk& trunk, std::string detail,
                                            v1::HealthState previous_reported, StepContext& ctx,
                                            const state::TrunkRecord* saved = nullptr);
  // What Create needs to restore this state in a later run; times on the wall clock.
  void Export(MonoTime now, int64_t wall_now_ms, state::TrunkRecord* out) const;
  // Whether Create restored a saved state (for the start-up log).
  bool restored() const { return restored_; }

  // Whether `trunk` is still the same peer; if not, the tracker replaces this state with a fresh
  // one (a new address is a new peer; new credentials after an AUTH_FAILED ejection deserve a
  // fresh start). Returns the detail for the fresh state, or nullopt to keep this one.
  std::optional<std::string> ReplacementReason(const router::CompiledTrunk& trunk) const;
  // Same peer, possibly new policy or admin state: keeps measured health.
  void Reconfigure(const router::CompiledTrunk& trunk, StepContext& ctx);
  // New addresses for the trunk's host name. Targets that stay keep their health; new ones start
  // UP and are probed at once. False (nothing changed) when `update` is for another address.
  bool SetTargets(const TargetUpdate& update, StepContext& ctx);

  // `verdict` is Classify()'s answer for `outcome` (the one failover rule, health/outcome.h):
  // its HealthEffect decides, its FailureReason names the failure.
  void OnOutcome(const AttemptOutcome& outcome, const OutcomeVerdict& verdict, StepContext& ctx);
  // nullopt when the result is stale (not an outstanding probe) and was ignored; else whether
  // the probe proved its target alive.
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
  const std::vector<std::unique_ptr<TargetState>>& targets() const { return targets_; }
  // Whether its targets come from a resolver (shown in the API) rather than being the trunk.
  bool dns_managed() const { return dns_managed_; }

  void FillProto(MonoTime now, v1::TrunkHealth* out) const;

 private:
  explicit TrunkState(const router::CompiledTrunk& trunk);
  void ApplyTrunk(const router::CompiledTrunk& trunk);

  // Applies `f` to the targets an outcome or probe concerns.
  void ForTargets(std::string_view key, const std::function<void(TargetState&)>& f);
  // After a step: recomputes the trunk's measured state from its targets; `mark` is where the
  // step's target transitions begin in the context.
  // `count_ejection` false: a DOWN that is a restored state, not a new ejection.
  void Settle(size_t mark, StepContext& ctx, bool count_ejection = true);
  v1::HealthState Combined() const;
  std::string DescribeTarget(const TargetTransition& t) const;
  void SetMeasured(v1::HealthState to, v1::HealthReason reason, std::string detail,
                   StepContext& ctx);
  ProbeTarget ProbeBase() const;
  bool ProbesOn(bool can_probe) const { return can_probe && policy_.probes_enabled; }
  void PublishTimeout();
  TargetSpec ImplicitTarget() const;

  // Configuration.
  std::string id_;
  std::string host_;
  uint32_t port_ = 0;
  v1::Transport transport_ = v1::TRANSPORT_TLS;
  std::string peer_;  // host:port
  bool host_is_ip_ = false;
  std::string username_;
  std::string password_;  // only compared, to notice fixed credentials; never logged
  router::EffectiveHealthPolicy policy_;
  v1::AdminState admin_ = v1::ADMIN_STATE_ENABLED;

  // Targets and their combination.
  std::vector<std::unique_ptr<TargetState>> targets_;
  bool dns_managed_ = false;
  bool dns_answered_ = false;  // a resolver has reported at least once
  std::string dns_error_;
  // Saved targets of a DNS-managed trunk, waiting for the resolver's first answer.
  std::vector<state::TargetRecord> restored_targets_;
  bool restored_ = false;

  v1::HealthState measured_ = v1::HEALTH_STATE_UP;
  v1::HealthReason reason_ = v1::HEALTH_REASON_CONFIGURED;
  std::string detail_;
  int64_t since_wall_ms_ = 0;
  int64_t admin_since_wall_ms_ = 0;
  uint32_t ejection_count_ = 0;  // the trunk's own ejections (all targets down)
  uint32_t last_probe_rtt_us_ = 0;
  bool in_auth_streak_ = false;  // to log one warning per run of AUTH_FAILED outcomes

  MonoTime ramp_start_{};
  MonoTime ramp_end_{};

  RtoEstimator rto_;
  std::shared_ptr<TrunkLive> live_ = std::make_shared<TrunkLive>();
};

}  // namespace trunkroute::health

#endif  // TRUNKROUTE_HEALTH_TRUNK_STATE_H_
