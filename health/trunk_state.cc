#include "health/trunk_state.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace trunkroute::health {
namespace {

// A trunk keeps at most this many targets (the resolver sends no more; a guard all the same).
constexpr size_t kMaxTargets = 8;

// Debian's Abseil has its own string_view: StrCat does not take std::string_view.
absl::string_view Av(std::string_view s) { return absl::string_view(s.data(), s.size()); }

void SaturatingIncrement(uint32_t* v) {
  if (*v < std::numeric_limits<uint32_t>::max()) ++*v;
}

std::string_view TransportText(v1::Transport t) {
  switch (t) {
    case v1::TRANSPORT_UDP:
      return "udp";
    case v1::TRANSPORT_TCP:
      return "tcp";
    default:
      return "tls";
  }
}

std::string HostPortKey(const std::string& host, uint32_t port) {
  return host.find(':') != std::string::npos ? absl::StrCat("[", host, "]:", port)
                                             : absl::StrCat(host, ":", port);
}

std::string_view AdminText(v1::AdminState a) {
  switch (a) {
    case v1::ADMIN_STATE_DRAINING:
      return "draining";
    case v1::ADMIN_STATE_FORCED_DOWN:
      return "forced down";
    case v1::ADMIN_STATE_FORCED_UP:
      return "forced up";
    default:
      return "enabled";
  }
}

}  // namespace

double RampShare(MonoTime start, MonoTime end, MonoTime now) {
  if (end == MonoTime{} || now >= end) return 1.0;
  if (now <= start) return kRampFloor;
  const double done = std::chrono::duration<double>(now - start).count() /
                      std::chrono::duration<double>(end - start).count();
  return kRampFloor + (1.0 - kRampFloor) * done;
}

TrunkState::TrunkState(const router::CompiledTrunk& trunk) { ApplyTrunk(trunk); }

std::string_view TrunkState::transport_name() const { return TransportText(transport_); }

void TrunkState::ApplyTrunk(const router::CompiledTrunk& trunk) {
  id_ = trunk.id;
  host_ = trunk.host;
  port_ = trunk.port;
  transport_ = trunk.transport;
  // What the prober and the edge send to, for logs: "127.0.0.1:5081", "[2001:db8::1]:5061".
  peer_ = host_.find(':') != std::string::npos ? absl::StrCat("[", host_, "]:", port_)
                                               : absl::StrCat(host_, ":", port_);
  host_is_ip_ = trunk.host_is_ip;
  username_ = trunk.username;
  password_ = trunk.password;
  policy_ = trunk.health;
}

TargetSpec TrunkState::ImplicitTarget() const {
  TargetSpec spec;
  spec.key = HostPortKey(host_, port_);
  spec.address = host_is_ip_ ? host_ : std::string();
  spec.port = port_;
  spec.transport = transport_;
  return spec;
}

std::unique_ptr<TrunkState> TrunkState::Create(const router::CompiledTrunk& trunk,
                                               std::string detail,
                                               v1::HealthState previous_reported,
                                               StepContext& ctx,
                                               const state::TrunkRecord* saved) {
  std::unique_ptr<TrunkState> t(new TrunkState(trunk));
  t->admin_ = trunk.admin_state == v1::ADMIN_STATE_UNSPECIFIED ? v1::ADMIN_STATE_ENABLED
                                                               : trunk.admin_state;
  t->measured_ = v1::HEALTH_STATE_UP;
  t->reason_ = v1::HEALTH_REASON_CONFIGURED;
  t->detail_ = std::move(detail);
  t->since_wall_ms_ = ctx.WallMs();
  t->admin_since_wall_ms_ = ctx.WallMs();
  if (saved != nullptr && (saved->host() != trunk.host || saved->port() != trunk.port ||
                           saved->transport() != trunk.transport)) {
    LogInfo("saved health state ignored: the trunk's address changed", {{"trunk", trunk.id}});
    saved = nullptr;
  }
  if (saved != nullptr) t->ejection_count_ = saved->ejection_count();
  if (!trunk.host_is_ip && ctx.resolves_names) {
    // Its addresses come from the resolver (SetTargets); UP meanwhile, with nothing to probe.
    t->dns_managed_ = true;
    if (saved != nullptr) {
      t->restored_targets_.assign(saved->targets().begin(), saved->targets().end());
      t->restored_ = !t->restored_targets_.empty();
    }
  } else {
    TargetSpec spec = t->ImplicitTarget();
    std::unique_ptr<TargetState> target;
    for (int i = 0; saved != nullptr && i < saved->targets_size() && target == nullptr; ++i) {
      if (saved->targets(i).key() == spec.key) {
        target = TargetState::Restore(spec, saved->targets(i), t->policy_, ctx);
      }
    }
    if (target != nullptr) {
      // One target: the trunk reads exactly as it.
      t->restored_ = true;
      t->measured_ = target->state();
      t->reason_ = target->reason();
      t->detail_ = target->detail();
      t->since_wall_ms_ = target->since_wall_ms();
    } else {
      target = std::make_unique<TargetState>(std::move(spec), t->detail_, ctx);
    }
    t->targets_.push_back(std::move(target));
  }
  t->PublishTimeout();

  Transition tr;
  tr.from_reported = previous_reported;
  tr.to_reported = t->ReportedState();
  tr.from_measured = v1::HEALTH_STATE_UNSPECIFIED;
  tr.to_measured = t->measured_;
  tr.reason = t->ReportedReason();
  tr.detail = t->ReportedDetail();
  ctx.transitions.push_back(std::move(tr));
  ctx.view_changed = true;
  return t;
}

std::optional<std::string> TrunkState::ReplacementReason(const router::CompiledTrunk& trunk) const {
  if (trunk.host != host_ || trunk.port != port_ || trunk.transport != transport_) {
    return std::string("address changed");
  }
  const bool credentials_changed = trunk.username != username_ || trunk.password != password_;
  if (credentials_changed && measured_ != v1::HEALTH_STATE_UP &&
      reason_ == v1::HEALTH_REASON_AUTH_FAILED) {
    return std::string("credentials changed");
  }
  return std::nullopt;
}

void TrunkState::Reconfigure(const router::CompiledTrunk& trunk, StepContext& ctx) {
  const router::EffectiveHealthPolicy old_policy = policy_;
  ApplyTrunk(trunk);
  for (auto& t : targets_) t->Reconfigure(old_policy, policy_, ProbesOn(ctx.can_probe), ctx);

  const v1::AdminState admin = trunk.admin_state == v1::ADMIN_STATE_UNSPECIFIED
                                   ? v1::ADMIN_STATE_ENABLED
                                   : trunk.admin_state;
  if (admin == admin_) return;
  Transition tr;
  tr.from_reported = ReportedState();
  tr.from_measured = tr.to_measured = measured_;
  admin_ = admin;
  admin_since_wall_ms_ = ctx.WallMs();
  tr.to_reported = ReportedState();
  tr.reason = v1::HEALTH_REASON_ADMIN;
  tr.detail = admin_ == v1::ADMIN_STATE_ENABLED
                  ? absl::StrCat("admin: enabled; measured ", Av(HealthStateShortName(measured_)),
                                 ": ", detail_)
                  : ReportedDetail();
  ctx.transitions.push_back(std::move(tr));
  ctx.view_changed = true;
}

bool TrunkState::SetTargets(const TargetUpdate& update, StepContext& ctx) {
  if (host_is_ip_ || update.host != host_ || update.port != port_ ||
      update.transport != transport_) {
    return false;
  }
  const size_t mark = ctx.target_transitions.size();
  const bool was_dns_managed = dns_managed_;
  bool restored_any = false;
  dns_managed_ = true;
  dns_answered_ = true;
  dns_error_ = update.error;
  std::vector<std::unique_ptr<TargetState>> next;
  for (const TargetSpec& spec : update.targets) {
    if (next.size() >= kMaxTargets) break;
    auto same = [&](const std::unique_ptr<TargetState>& t) {
      return t != nullptr && t->key() == spec.key;
    };
    if (std::any_of(next.begin(), next.end(), same)) continue;
    auto it = std::find_if(targets_.begin(), targets_.end(), same);
    if (it != targets_.end()) {
      (*it)->set_spec(spec);
      next.push_back(std::move(*it));
      continue;
    }
    std::unique_ptr<TargetState> target;
    for (const state::TargetRecord& r : restored_targets_) {
      if (r.key() == spec.key) target = TargetState::Restore(spec, r, policy_, ctx);
      if (target != nullptr) break;
    }
    if (target != nullptr) {
      restored_any = true;
    } else {
      target = std::make_unique<TargetState>(spec, "new target from DNS", ctx);
    }
    next.push_back(std::move(target));
  }
  restored_targets_.clear();  // addresses the first answer no longer has are forgotten
  for (const auto& old : targets_) {
    if (old != nullptr && was_dns_managed) {
      ctx.target_transitions.push_back({old->key(), old->state(), v1::HEALTH_STATE_UNSPECIFIED,
                                        v1::HEALTH_REASON_CONFIGURED, "no longer in DNS"});
    }
  }
  targets_ = std::move(next);
  ctx.view_changed = true;
  Settle(mark, ctx, /*count_ejection=*/!restored_any);
  return true;
}

void TrunkState::ForTargets(std::string_view key, const std::function<void(TargetState&)>& f) {
  for (auto& t : targets_) {
    if (key.empty() || t->key() == key) f(*t);
  }
}

void TrunkState::OnOutcome(const AttemptOutcome& o, const OutcomeVerdict& v, StepContext& ctx) {
  if (o.first_response_ms > 0) {
    rto_.AddSample(o.first_response_ms);
  } else if (v.reason == FailureReason::kTimeout) {
    // One doubling per ejection-worth of silent timeouts (see RtoEstimator).
    rto_.OnSilentTimeout(static_cast<int>(policy_.failure_threshold));
  }
  PublishTimeout();

  const size_t mark = ctx.target_transitions.size();
  switch (v.health) {
    case HealthEffect::kNeutral:
      // Ring-no-answer, or a challenge nobody could answer: nothing about the trunk either way.
      return;
    case HealthEffect::kAlive:
      in_auth_streak_ = false;
      ForTargets(o.target, [&](TargetState& t) { t.OnAlive(/*from_call=*/true, policy_, ctx); });
      Settle(mark, ctx);
      return;
    case HealthEffect::kFailure:
      break;
  }
  Failure f;
  switch (v.reason) {
    case FailureReason::kAuthFailed:
      // The AUTH_FAILED log line is health's (the edge only counts what ReportOutcome returns):
      // one per run of auth failures on a trunk, not one per call.
      if (!in_auth_streak_) {
        const std::string status = absl::StrCat(o.sip_status);
        LogWarn("trunk rejected our credentials (wrong password, or our IP is no longer allowed)",
                {{"trunk", id_},
                 {"status", status},
                 {"call_id", o.call_id},
                 {"reason", HealthReasonShortName(v1::HEALTH_REASON_AUTH_FAILED)}});
      }
      in_auth_streak_ = true;
      f.auth = true;
      f.text = absl::StrCat(o.sip_status, " after credentials");
      ForTargets(o.target, [&](TargetState& t) { t.OnFailure(f, policy_, ctx); });
      Settle(mark, ctx);
      return;
    case FailureReason::kTransportError:
      f.transport = true;
      f.text = "transport error";
      break;
    case FailureReason::kTlsFailed:
      f.transport = true;
      f.tls = true;
      f.text = absl::StrCat("TLS handshake failed: ", o.tls_failure);
      break;
    case FailureReason::kTimeout:
      f.text = "timeout";
      break;
    default:
      f.text = absl::StrCat(o.sip_status);
      if (o.sip_status == 503 && o.retry_after_s > 0 && policy_.retry_after_max_ms > 0) {
        const uint64_t asked_ms = uint64_t{o.retry_after_s} * 1000;
        f.retry_after_ms =
            static_cast<uint32_t>(std::min<uint64_t>(asked_ms, policy_.retry_after_max_ms));
        f.retry_after_s = o.retry_after_s;
      }
      break;
  }
  in_auth_streak_ = false;
  ForTargets(o.target, [&](TargetState& t) { t.OnFailure(f, policy_, ctx); });
  Settle(mark, ctx);
}

std::optional<bool> TrunkState::OnProbe(const ProbeResult& r, StepContext& ctx) {
  const size_t mark = ctx.target_transitions.size();
  for (auto& t : targets_) {
    std::optional<bool> alive = t->OnProbe(r, policy_, ctx);
    if (!alive.has_value()) continue;
    if (!r.timed_out && !r.transport_error && r.sip_status >= 200 && r.sip_status <= 699) {
      last_probe_rtt_us_ = t->last_probe_rtt_us();
    }
    Settle(mark, ctx);
    return alive;
  }
  return std::nullopt;
}

v1::HealthState TrunkState::Combined() const {
  if (targets_.empty()) {
    return dns_answered_ ? v1::HEALTH_STATE_DOWN : v1::HEALTH_STATE_UP;  // UNRESOLVED : resolving
  }
  bool probing = false;
  for (const auto& t : targets_) {
    if (t->state() == v1::HEALTH_STATE_UP) return v1::HEALTH_STATE_UP;
    if (t->state() == v1::HEALTH_STATE_PROBING) probing = true;
  }
  return probing ? v1::HEALTH_STATE_PROBING : v1::HEALTH_STATE_DOWN;
}

std::string TrunkState::DescribeTarget(const TargetTransition& t) const {
  if (!dns_managed_) return t.detail;  // the trunk's own address: it reads as the trunk
  if (t.to == v1::HEALTH_STATE_DOWN && targets_.size() > 1) {
    return absl::StrCat("all ", targets_.size(), " targets down; last ", t.key, ": ", t.detail);
  }
  return absl::StrCat(t.key, ": ", t.detail);
}

void TrunkState::Settle(size_t mark, StepContext& ctx, bool count_ejection) {
  const v1::HealthState to = Combined();
  if (to == measured_) return;
  // The change of this step that made the difference: the latest target move into `to`.
  const TargetTransition* cause = nullptr;
  for (size_t i = ctx.target_transitions.size(); i > mark; --i) {
    if (ctx.target_transitions[i - 1].to == to) {
      cause = &ctx.target_transitions[i - 1];
      break;
    }
  }
  v1::HealthReason reason = v1::HEALTH_REASON_CONFIGURED;
  std::string detail;
  if (cause != nullptr) {
    reason = cause->reason;
    detail = DescribeTarget(*cause);
  } else if (targets_.empty()) {
    reason = v1::HEALTH_REASON_UNRESOLVED;
    detail = absl::StrCat("DNS: ", dns_error_.empty() ? "no address for " + host_ : dns_error_);
  } else {
    detail = "DNS: targets changed";
  }
  if (to == v1::HEALTH_STATE_UP && reason == v1::HEALTH_REASON_RECOVERED &&
      policy_.ramp_up_ms > 0) {
    ramp_start_ = ctx.now;
    ramp_end_ = ctx.now + milliseconds(policy_.ramp_up_ms);
  }
  if (to != v1::HEALTH_STATE_UP) ramp_start_ = ramp_end_ = MonoTime{};
  if (to == v1::HEALTH_STATE_DOWN && !targets_.empty() && count_ejection) {
    SaturatingIncrement(&ejection_count_);
  }
  SetMeasured(to, reason, std::move(detail), ctx);
}

void TrunkState::SetMeasured(v1::HealthState to, v1::HealthReason reason, std::string detail,
                             StepContext& ctx) {
  Transition tr;
  tr.from_reported = ReportedState();
  tr.from_measured = measured_;
  measured_ = to;
  reason_ = reason;
  detail_ = std::move(detail);
  since_wall_ms_ = ctx.WallMs();
  tr.to_reported = ReportedState();
  tr.to_measured = measured_;
  tr.reason = reason_;
  tr.detail = detail_;
  ctx.transitions.push_back(std::move(tr));
  ctx.view_changed = true;
}

ProbeTarget TrunkState::ProbeBase() const {
  ProbeTarget p;
  p.trunk_id = id_;
  p.host = host_;
  p.port = port_;
  p.transport = transport_;
  return p;
}

void TrunkState::Tick(StepContext& ctx) {
  const size_t mark = ctx.target_transitions.size();
  const ProbeTarget base = ProbeBase();
  const bool probes_on = ProbesOn(ctx.can_probe);
  for (auto& t : targets_) t->Tick(policy_, probes_on, base, ctx);
  Settle(mark, ctx);
  if (ramp_end_ != MonoTime{} && ctx.now >= ramp_end_) {
    ramp_start_ = ramp_end_ = MonoTime{};
    ctx.view_changed = true;
  }
}

bool TrunkState::ProbeNow(StepContext& ctx) {
  if (measured_ != v1::HEALTH_STATE_UP) return false;
  const ProbeTarget base = ProbeBase();
  bool sent = false;
  for (auto& t : targets_) {
    if (t->ProbeNow(policy_, ProbesOn(ctx.can_probe), base, ctx)) sent = true;
  }
  return sent;
}

MonoTime TrunkState::NextDeadline(bool can_probe) const {
  MonoTime next = MonoTime::max();
  for (const auto& t : targets_)
    next = std::min(next, t->NextDeadline(policy_, ProbesOn(can_probe)));
  if (ramp_end_ != MonoTime{}) next = std::min(next, ramp_end_);
  return next;
}

void TrunkState::PublishTimeout() {
  live_->attempt_timeout_ms.store(rto_.TimeoutMs(), std::memory_order_relaxed);
}

v1::HealthState TrunkState::ReportedState() const {
  switch (admin_) {
    case v1::ADMIN_STATE_DRAINING:
      return v1::HEALTH_STATE_DRAINING;
    case v1::ADMIN_STATE_FORCED_DOWN:
      return v1::HEALTH_STATE_FORCED_DOWN;
    case v1::ADMIN_STATE_FORCED_UP:
      return v1::HEALTH_STATE_FORCED_UP;
    default:
      return measured_;
  }
}

v1::HealthReason TrunkState::ReportedReason() const {
  return admin_ == v1::ADMIN_STATE_ENABLED ? reason_ : v1::HEALTH_REASON_ADMIN;
}

std::string TrunkState::ReportedDetail() const {
  if (admin_ == v1::ADMIN_STATE_ENABLED) return detail_;
  return absl::StrCat("admin: ", Av(AdminText(admin_)), "; measured ",
                      Av(HealthStateShortName(measured_)), ": ", detail_);
}

void TrunkState::Export(MonoTime now, int64_t wall_now_ms, state::TrunkRecord* out) const {
  out->set_trunk_id(id_);
  out->set_host(host_);
  out->set_port(port_);
  out->set_transport(transport_);
  out->set_state(measured_);
  out->set_reason(reason_);
  out->set_detail(detail_);
  out->set_since_unix_ms(since_wall_ms_);
  out->set_ejection_count(ejection_count_);
  for (const auto& t : targets_) t->Export(now, wall_now_ms, out->add_targets());
  // Restarted again before DNS answered: what the earlier run saved still holds.
  for (const state::TargetRecord& r : restored_targets_) *out->add_targets() = r;
}

void TrunkState::FillProto(MonoTime now, v1::TrunkHealth* out) const {
  uint32_t failures = 0;
  uint32_t successes = 0;
  int64_t down_until = 0;
  for (const auto& t : targets_) {
    failures = std::max(failures, t->consecutive_failures());
    successes = std::max(successes, t->consecutive_successes());
    if (t->state() == v1::HEALTH_STATE_DOWN &&
        (down_until == 0 || t->down_until_wall_ms() < down_until)) {
      down_until = t->down_until_wall_ms();
    }
  }
  out->set_trunk_id(id_);
  out->set_state(ReportedState());
  out->set_since_unix_ms(admin_ == v1::ADMIN_STATE_ENABLED ? since_wall_ms_ : admin_since_wall_ms_);
  out->set_reason(ReportedReason());
  out->set_detail(ReportedDetail());
  out->set_consecutive_failures(failures);
  out->set_consecutive_successes(successes);
  out->set_last_probe_rtt_us(last_probe_rtt_us_);
  out->set_ejection_count(ejection_count_);
  out->set_down_until_unix_ms(measured_ == v1::HEALTH_STATE_DOWN ? down_until : 0);
  out->set_attempt_timeout_ms(rto_.TimeoutMs());
  out->set_ramp_share(
      ReportedState() == v1::HEALTH_STATE_UP ? RampShare(ramp_start_, ramp_end_, now) : 1.0);
  out->set_admin_state(admin_);
  if (dns_managed_) {
    for (const auto& t : targets_) t->FillProto(out->add_targets());
    out->set_dns_error(dns_error_);
  }
}

}  // namespace trunkroute::health
