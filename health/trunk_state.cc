#include "health/trunk_state.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace trunkroute::health {
namespace {

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
  username_ = trunk.username;
  password_ = trunk.password;
  policy_ = trunk.health;
}

std::unique_ptr<TrunkState> TrunkState::Create(const router::CompiledTrunk& trunk,
                                               std::string detail,
                                               v1::HealthState previous_reported,
                                               StepContext& ctx) {
  std::unique_ptr<TrunkState> t(new TrunkState(trunk));
  t->admin_ = trunk.admin_state == v1::ADMIN_STATE_UNSPECIFIED ? v1::ADMIN_STATE_ENABLED
                                                               : trunk.admin_state;
  t->measured_ = v1::HEALTH_STATE_UP;
  t->reason_ = v1::HEALTH_REASON_CONFIGURED;
  t->detail_ = std::move(detail);
  t->since_wall_ms_ = ctx.WallMs();
  t->admin_since_wall_ms_ = ctx.WallMs();
  t->up_since_ = ctx.now;
  t->next_probe_at_ = ctx.now;  // a new trunk is probed at once
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

  if (!ProbesOn(ctx.can_probe)) {
    outstanding_probe_id_ = 0;
  } else if (old_policy.probe_interval_up_ms != policy_.probe_interval_up_ms ||
             old_policy.probe_interval_down_ms != policy_.probe_interval_down_ms ||
             !old_policy.probes_enabled) {
    // A shorter interval takes effect now rather than after the old, longer wait.
    next_probe_at_ = std::min(next_probe_at_, ctx.now + milliseconds(ProbeIntervalMs()));
  }

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

void TrunkState::OnOutcome(const AttemptOutcome& o, const OutcomeVerdict& v, StepContext& ctx) {
  if (o.first_response_ms > 0) {
    rto_.AddSample(o.first_response_ms);
  } else if (v.reason == FailureReason::kTimeout) {
    // One doubling per ejection-worth of silent timeouts (see RtoEstimator).
    rto_.OnSilentTimeout(static_cast<int>(policy_.failure_threshold));
  }
  PublishTimeout();

  switch (v.health) {
    case HealthEffect::kNeutral:
      // Ring-no-answer, or a challenge nobody could answer: nothing about the trunk either way.
      return;
    case HealthEffect::kAlive:
      in_auth_streak_ = false;
      OnAlive(/*from_call=*/true, ctx);
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
      OnFailure(f, ctx);
      return;
    case FailureReason::kTransportError:
      f.transport = true;
      f.text = "transport error";
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
  OnFailure(f, ctx);
}

std::optional<bool> TrunkState::OnProbe(const ProbeResult& r, StepContext& ctx) {
  if (outstanding_probe_id_ == 0 || r.probe_id != outstanding_probe_id_) return std::nullopt;
  outstanding_probe_id_ = 0;
  const bool answered =
      !r.timed_out && !r.transport_error && r.sip_status >= 200 && r.sip_status <= 699;
  if (answered) {
    const int64_t us = std::chrono::duration_cast<microseconds>(r.rtt).count();
    last_probe_rtt_us_ =
        static_cast<uint32_t>(std::clamp<int64_t>(us, 0, std::numeric_limits<uint32_t>::max()));
  }
  const bool alive = answered && !policy_.IsProbeFailureCode(r.sip_status);
  if (alive) {
    OnAlive(/*from_call=*/false, ctx);
  } else {
    Failure f;
    f.probe = true;
    f.transport = r.transport_error;
    f.text = r.transport_error ? "transport error"
             : answered        ? absl::StrCat(r.sip_status)
                               : std::string("timeout");
    OnFailure(f, ctx);
  }
  return alive;
}

void TrunkState::OnAlive(bool from_call, StepContext& ctx) {
  if (from_call) consecutive_failures_ = 0;
  consecutive_probe_failures_ = 0;
  SaturatingIncrement(&consecutive_successes_);
  if (measured_ == v1::HEALTH_STATE_PROBING &&
      consecutive_successes_ >= policy_.recovery_threshold) {
    Recover(ctx);
  }
}

void TrunkState::OnFailure(const Failure& f, StepContext& ctx) {
  consecutive_successes_ = 0;
  last_failure_ = f.text;
  SaturatingIncrement(f.probe ? &consecutive_probe_failures_ : &consecutive_failures_);

  auto retry_after_detail = [&] {
    return f.retry_after_ms == f.retry_after_s * uint64_t{1000}
               ? absl::StrCat("503 Retry-After: ", f.retry_after_s, " s")
               : absl::StrCat("503 Retry-After: ", f.retry_after_s, " s, held ",
                              f.retry_after_ms / 1000, " s");
  };

  switch (measured_) {
    case v1::HEALTH_STATE_UP:
      if (f.transport) {
        Eject(v1::HEALTH_REASON_TRANSPORT_ERROR,
              f.probe ? "probe: transport error" : "transport error", 0, ctx);
      } else if (f.retry_after_ms > 0) {
        Eject(v1::HEALTH_REASON_RETRY_AFTER, retry_after_detail(), f.retry_after_ms, ctx);
      } else if (!f.probe && consecutive_failures_ >= policy_.failure_threshold) {
        Eject(f.auth ? v1::HEALTH_REASON_AUTH_FAILED : v1::HEALTH_REASON_CONSECUTIVE_FAILURES,
              absl::StrCat(consecutive_failures_, " consecutive failures, last: ", f.text), 0, ctx);
      } else if (f.probe && consecutive_probe_failures_ >= policy_.probe_failure_threshold) {
        Eject(v1::HEALTH_REASON_PROBE_FAILURES,
              absl::StrCat(consecutive_probe_failures_, " failed probes, last: ", f.text), 0, ctx);
      } else if (f.probe) {
        // Confirm a failed probe at the PROBING pace, not a whole UP interval later: an idle
        // trunk that went silent is then DOWN within two UP probe intervals (design.md §3).
        next_probe_at_ =
            std::min(next_probe_at_, ctx.now + milliseconds(policy_.probe_interval_down_ms));
      }
      return;
    case v1::HEALTH_STATE_PROBING: {
      // One failure is enough: the trunk had its hold-down and is still not well.
      v1::HealthReason reason = f.transport        ? v1::HEALTH_REASON_TRANSPORT_ERROR
                                : f.retry_after_ms ? v1::HEALTH_REASON_RETRY_AFTER
                                : f.auth           ? v1::HEALTH_REASON_AUTH_FAILED
                                : f.probe          ? v1::HEALTH_REASON_PROBE_FAILURES
                                                   : v1::HEALTH_REASON_CONSECUTIVE_FAILURES;
      std::string detail =
          f.retry_after_ms > 0
              ? retry_after_detail()
              : absl::StrCat(f.probe ? "probe" : "call", " failed while probing, last: ", f.text);
      Eject(reason, std::move(detail), f.retry_after_ms, ctx);
      return;
    }
    case v1::HEALTH_STATE_DOWN:
      if (f.retry_after_ms > 0) {
        const MonoTime until = ctx.now + milliseconds(f.retry_after_ms);
        if (until > down_until_) {
          down_until_ = until;
          down_until_wall_ms_ = ctx.WallMs() + f.retry_after_ms;
        }
      }
      return;
    default:
      return;
  }
}

void TrunkState::Eject(v1::HealthReason reason, std::string detail, uint32_t fixed_hold_ms,
                       StepContext& ctx) {
  if (measured_ == v1::HEALTH_STATE_UP && consecutive_ejections_ > 0 &&
      ctx.now - up_since_ >= milliseconds(last_hold_down_ms_)) {
    consecutive_ejections_ = 0;  // it stayed UP as long as it was last held down: start over
  }
  SaturatingIncrement(&consecutive_ejections_);
  SaturatingIncrement(&ejection_count_);

  uint64_t hold_ms = fixed_hold_ms;
  uint64_t jitter_ms = 0;
  if (fixed_hold_ms == 0) {
    hold_ms = policy_.hold_down_base_ms;
    for (uint32_t i = 1; i < consecutive_ejections_ && hold_ms < policy_.hold_down_max_ms; ++i) {
      hold_ms *= 2;
    }
    hold_ms = std::min<uint64_t>(hold_ms, policy_.hold_down_max_ms);
    if (policy_.hold_down_jitter_pct > 0 && ctx.random != nullptr) {
      const double span = static_cast<double>(hold_ms) * policy_.hold_down_jitter_pct / 100.0;
      jitter_ms = static_cast<uint64_t>(std::floor(span * ctx.random->NextUnit()));
    }
  }
  last_hold_down_ms_ = static_cast<uint32_t>(hold_ms);
  const uint64_t total_ms = hold_ms + jitter_ms;
  down_until_ = ctx.now + milliseconds(total_ms);
  down_until_wall_ms_ = ctx.WallMs() + static_cast<int64_t>(total_ms);

  // A probe in flight was asked of the trunk before it failed: its answer means nothing now.
  outstanding_probe_id_ = 0;
  next_probe_at_ = MonoTime::max();
  ramp_start_ = ramp_end_ = MonoTime{};
  SetMeasured(v1::HEALTH_STATE_DOWN, reason, std::move(detail), ctx);
}

void TrunkState::EnterProbing(StepContext& ctx) {
  consecutive_successes_ = 0;
  consecutive_failures_ = 0;
  consecutive_probe_failures_ = 0;
  next_probe_at_ = ctx.now;
  SetMeasured(v1::HEALTH_STATE_PROBING, v1::HEALTH_REASON_HOLD_DOWN_EXPIRED,
              "hold-down over, probing", ctx);
}

void TrunkState::Recover(StepContext& ctx) {
  if (policy_.ramp_up_ms > 0) {
    ramp_start_ = ctx.now;
    ramp_end_ = ctx.now + milliseconds(policy_.ramp_up_ms);
  }
  if (outstanding_probe_id_ == 0) {
    next_probe_at_ = ctx.now + milliseconds(policy_.probe_interval_up_ms);
  }
  SetMeasured(v1::HEALTH_STATE_UP, v1::HEALTH_REASON_RECOVERED,
              absl::StrCat(consecutive_successes_, " consecutive successes"), ctx);
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
  if (to == v1::HEALTH_STATE_UP) up_since_ = ctx.now;
  tr.to_reported = ReportedState();
  tr.to_measured = measured_;
  tr.reason = reason_;
  tr.detail = detail_;
  ctx.transitions.push_back(std::move(tr));
  ctx.view_changed = true;
}

void TrunkState::Tick(StepContext& ctx) {
  if (outstanding_probe_id_ != 0 && ctx.now >= probe_deadline_) {
    // The sender lost it or is late: a probe nobody answered in time is a failed probe.
    ProbeResult expired;
    expired.trunk_id = id_;
    expired.probe_id = outstanding_probe_id_;
    expired.timed_out = true;
    OnProbe(expired, ctx);
    ctx.expired_probes.push_back(std::move(expired));
  }
  if (measured_ == v1::HEALTH_STATE_DOWN && ctx.now >= down_until_) EnterProbing(ctx);
  if (ramp_end_ != MonoTime{} && ctx.now >= ramp_end_) {
    ramp_start_ = ramp_end_ = MonoTime{};
    ctx.view_changed = true;
  }
  MaybeSendProbe(ctx);
}

bool TrunkState::ProbeNow(StepContext& ctx) {
  if (measured_ != v1::HEALTH_STATE_UP || outstanding_probe_id_ != 0) return false;
  next_probe_at_ = std::min(next_probe_at_, ctx.now);
  MaybeSendProbe(ctx);
  return outstanding_probe_id_ != 0;
}

void TrunkState::MaybeSendProbe(StepContext& ctx) {
  if (!ProbesOn(ctx.can_probe) || measured_ == v1::HEALTH_STATE_DOWN ||
      outstanding_probe_id_ != 0 || ctx.now < next_probe_at_ || ctx.probes == nullptr) {
    return;
  }
  outstanding_probe_id_ = (*ctx.next_probe_id)++;
  probe_deadline_ = ctx.now + milliseconds(policy_.probe_timeout_ms);
  next_probe_at_ = ctx.now + milliseconds(ProbeIntervalMs());
  ProbeTarget target;
  target.trunk_id = id_;
  target.host = host_;
  target.port = port_;
  target.transport = transport_;
  target.timeout_ms = policy_.probe_timeout_ms;
  target.probe_id = outstanding_probe_id_;
  ctx.probes->push_back(std::move(target));
}

MonoTime TrunkState::NextDeadline(bool can_probe) const {
  MonoTime next = MonoTime::max();
  if (outstanding_probe_id_ != 0) next = std::min(next, probe_deadline_);
  if (measured_ == v1::HEALTH_STATE_DOWN) next = std::min(next, down_until_);
  if (ramp_end_ != MonoTime{}) next = std::min(next, ramp_end_);
  if (ProbesOn(can_probe) && measured_ != v1::HEALTH_STATE_DOWN && outstanding_probe_id_ == 0) {
    next = std::min(next, next_probe_at_);
  }
  return next;
}

uint32_t TrunkState::ProbeIntervalMs() const {
  return measured_ == v1::HEALTH_STATE_PROBING ? policy_.probe_interval_down_ms
                                               : policy_.probe_interval_up_ms;
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

void TrunkState::FillProto(MonoTime now, v1::TrunkHealth* out) const {
  out->set_trunk_id(id_);
  out->set_state(ReportedState());
  out->set_since_unix_ms(admin_ == v1::ADMIN_STATE_ENABLED ? since_wall_ms_ : admin_since_wall_ms_);
  out->set_reason(ReportedReason());
  out->set_detail(ReportedDetail());
  out->set_consecutive_failures(std::max(consecutive_failures_, consecutive_probe_failures_));
  out->set_consecutive_successes(consecutive_successes_);
  out->set_last_probe_rtt_us(last_probe_rtt_us_);
  out->set_ejection_count(ejection_count_);
  out->set_down_until_unix_ms(measured_ == v1::HEALTH_STATE_DOWN ? down_until_wall_ms_ : 0);
  out->set_attempt_timeout_ms(rto_.TimeoutMs());
  out->set_ramp_share(
      ReportedState() == v1::HEALTH_STATE_UP ? RampShare(ramp_start_, ramp_end_, now) : 1.0);
  out->set_admin_state(admin_);
}

}  // namespace trunkroute::health
