#include "health/target_state.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"

namespace trunkroute::health {
namespace {

void SaturatingIncrement(uint32_t* v) {
  if (*v < std::numeric_limits<uint32_t>::max()) ++*v;
}

// Restored exponents beyond this mean nothing more (the hold-down is capped long before: 2^31
// times the base) and only come from a damaged file.
constexpr uint32_t kMaxRestoredExponent = 32;
// An UP target restored as UP since longer than this is treated as UP since this long.
constexpr int64_t kMaxRestoredUpMs = int64_t{30} * 24 * 3600 * 1000;

// The longest hold-down `p` can give: the cap plus its jitter, or a Retry-After hold.
int64_t MaxHoldMs(const router::EffectiveHealthPolicy& p) {
  const int64_t capped = int64_t{p.hold_down_max_ms} +
                         int64_t{p.hold_down_max_ms} * p.hold_down_jitter_pct / 100;
  return std::max<int64_t>(capped, p.retry_after_max_ms);
}

}  // namespace

TargetState::TargetState(TargetSpec spec, std::string detail, StepContext& ctx)
    : spec_(std::move(spec)) {
  measured_ = v1::HEALTH_STATE_UP;
  reason_ = v1::HEALTH_REASON_CONFIGURED;
  detail_ = std::move(detail);
  since_wall_ms_ = ctx.WallMs();
  up_since_ = ctx.now;
  next_probe_at_ = ctx.now;  // a new target is probed at once
  ctx.target_transitions.push_back(
      {spec_.key, v1::HEALTH_STATE_UNSPECIFIED, measured_, reason_, detail_});
}

std::unique_ptr<TargetState> TargetState::Restore(TargetSpec spec,
                                                  const state::TargetRecord& saved,
                                                  const router::EffectiveHealthPolicy& p,
                                                  StepContext& ctx) {
  if (saved.state() != v1::HEALTH_STATE_UP && saved.state() != v1::HEALTH_STATE_DOWN &&
      saved.state() != v1::HEALTH_STATE_PROBING) {
    return nullptr;
  }
  std::unique_ptr<TargetState> t(new TargetState(std::move(spec)));
  const int64_t wall_now = ctx.WallMs();
  const int64_t max_hold_ms = MaxHoldMs(p);
  t->ejection_count_ = saved.ejection_count();
  t->consecutive_ejections_ = std::min(saved.consecutive_ejections(), kMaxRestoredExponent);
  t->last_hold_down_ms_ = static_cast<uint32_t>(
      std::min<int64_t>(saved.last_hold_down_ms(), max_hold_ms));
  t->measured_ = saved.state();
  t->reason_ = saved.reason();
  t->detail_ = saved.detail();
  // A time from the future (a wall clock set back meanwhile, a damaged file) reads as now.
  t->since_wall_ms_ = saved.since_unix_ms() > 0 ? std::min(saved.since_unix_ms(), wall_now)
                                                : wall_now;
  t->up_since_ = ctx.now;
  t->next_probe_at_ = ctx.now;  // UP and PROBING targets are probed at once
  switch (saved.state()) {
    case v1::HEALTH_STATE_DOWN: {
      const int64_t until = saved.down_until_unix_ms();
      const int64_t left_ms = until > wall_now ? std::min(until - wall_now, max_hold_ms) : 0;
      if (left_ms <= 0) {
        // The hold-down ran out while we were stopped: the prober checks it first.
        t->measured_ = v1::HEALTH_STATE_PROBING;
        t->reason_ = v1::HEALTH_REASON_HOLD_DOWN_EXPIRED;
        t->detail_ = "hold-down over while stopped, probing";
        t->since_wall_ms_ = wall_now;
        break;
      }
      t->down_until_ = ctx.now + milliseconds(left_ms);
      t->down_until_wall_ms_ = wall_now + left_ms;
      t->next_probe_at_ = MonoTime::max();
      break;
    }
    case v1::HEALTH_STATE_UP: {
      const int64_t since = saved.up_since_unix_ms();
      const int64_t up_ms =
          since > 0 && since < wall_now ? std::min(wall_now - since, kMaxRestoredUpMs) : 0;
      t->up_since_ = ctx.now - milliseconds(up_ms);
      break;
    }
    default:
      break;
  }
  ctx.target_transitions.push_back(
      {t->spec_.key, v1::HEALTH_STATE_UNSPECIFIED, t->measured_, t->reason_, t->detail_});
  return t;
}

void TargetState::Export(MonoTime now, int64_t wall_now_ms, state::TargetRecord* out) const {
  out->set_key(spec_.key);
  out->set_address(spec_.address);
  out->set_port(spec_.port);
  out->set_transport(spec_.transport);
  out->set_priority(spec_.priority);
  out->set_weight(spec_.weight);
  out->set_state(measured_);
  out->set_reason(reason_);
  out->set_detail(detail_);
  out->set_since_unix_ms(since_wall_ms_);
  if (measured_ == v1::HEALTH_STATE_DOWN) {
    // From the monotonic deadline, not down_until_wall_ms_: a wall clock stepped since the
    // ejection must not shorten or stretch the hold.
    out->set_down_until_unix_ms(wall_now_ms + MillisBetween(now, down_until_));
  }
  out->set_ejection_count(ejection_count_);
  out->set_consecutive_ejections(consecutive_ejections_);
  out->set_last_hold_down_ms(last_hold_down_ms_);
  if (measured_ == v1::HEALTH_STATE_UP) {
    out->set_up_since_unix_ms(wall_now_ms - MillisBetween(up_since_, now));
  }
}

void TargetState::Reconfigure(const router::EffectiveHealthPolicy& old_policy,
                              const router::EffectiveHealthPolicy& p, bool probes_on,
                              StepContext& ctx) {
  if (!probes_on) {
    outstanding_probe_id_ = 0;
  } else if (old_policy.probe_interval_up_ms != p.probe_interval_up_ms ||
             old_policy.probe_interval_down_ms != p.probe_interval_down_ms ||
             !old_policy.probes_enabled) {
    // A shorter interval takes effect now rather than after the old, longer wait.
    next_probe_at_ = std::min(next_probe_at_, ctx.now + milliseconds(ProbeIntervalMs(p)));
  }
}

std::optional<bool> TargetState::OnProbe(const ProbeResult& r,
                                         const router::EffectiveHealthPolicy& p, StepContext& ctx) {
  if (outstanding_probe_id_ == 0 || r.probe_id != outstanding_probe_id_) return std::nullopt;
  outstanding_probe_id_ = 0;
  const bool answered =
      !r.timed_out && !r.transport_error && r.sip_status >= 200 && r.sip_status <= 699;
  if (answered) {
    const int64_t us = std::chrono::duration_cast<microseconds>(r.rtt).count();
    last_probe_rtt_us_ =
        static_cast<uint32_t>(std::clamp<int64_t>(us, 0, std::numeric_limits<uint32_t>::max()));
  }
  const bool alive = answered && !p.IsProbeFailureCode(r.sip_status);
  if (alive) {
    OnAlive(/*from_call=*/false, p, ctx);
  } else {
    Failure f;
    f.probe = true;
    f.transport = r.transport_error;
    f.tls = r.transport_error && !r.tls_failure.empty();
    f.text = f.tls               ? absl::StrCat("probe: TLS handshake failed: ", r.tls_failure)
             : r.transport_error ? "transport error"
             : answered        ? absl::StrCat(r.sip_status)
                               : std::string("timeout");
    OnFailure(f, p, ctx);
  }
  return alive;
}

void TargetState::OnAlive(bool from_call, const router::EffectiveHealthPolicy& p,
                          StepContext& ctx) {
  if (from_call) consecutive_failures_ = 0;
  consecutive_probe_failures_ = 0;
  SaturatingIncrement(&consecutive_successes_);
  if (measured_ == v1::HEALTH_STATE_PROBING && consecutive_successes_ >= p.recovery_threshold) {
    Recover(p, ctx);
  }
}

void TargetState::OnFailure(const Failure& f, const router::EffectiveHealthPolicy& p,
                            StepContext& ctx) {
  consecutive_successes_ = 0;
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
        if (f.tls) {
          Eject(v1::HEALTH_REASON_TLS_FAILED, f.text, 0, p, ctx);
        } else {
          Eject(v1::HEALTH_REASON_TRANSPORT_ERROR,
                f.probe ? "probe: transport error" : "transport error", 0, p, ctx);
        }
      } else if (f.retry_after_ms > 0) {
        Eject(v1::HEALTH_REASON_RETRY_AFTER, retry_after_detail(), f.retry_after_ms, p, ctx);
      } else if (!f.probe && consecutive_failures_ >= p.failure_threshold) {
        Eject(f.auth ? v1::HEALTH_REASON_AUTH_FAILED : v1::HEALTH_REASON_CONSECUTIVE_FAILURES,
              absl::StrCat(consecutive_failures_, " consecutive failures, last: ", f.text), 0, p,
              ctx);
      } else if (f.probe && consecutive_probe_failures_ >= p.probe_failure_threshold) {
        Eject(v1::HEALTH_REASON_PROBE_FAILURES,
              absl::StrCat(consecutive_probe_failures_, " failed probes, last: ", f.text), 0, p,
              ctx);
      } else if (f.probe) {
        // Confirm a failed probe at the PROBING pace, not a whole UP interval later: an idle
        // target that went silent is then DOWN within two UP probe intervals (design.md §3).
        next_probe_at_ = std::min(next_probe_at_, ctx.now + milliseconds(p.probe_interval_down_ms));
      }
      return;
    case v1::HEALTH_STATE_PROBING: {
      // One failure is enough: the target had its hold-down and is still not well.
      v1::HealthReason reason = f.tls              ? v1::HEALTH_REASON_TLS_FAILED
                                : f.transport      ? v1::HEALTH_REASON_TRANSPORT_ERROR
                                : f.retry_after_ms ? v1::HEALTH_REASON_RETRY_AFTER
                                : f.auth           ? v1::HEALTH_REASON_AUTH_FAILED
                                : f.probe          ? v1::HEALTH_REASON_PROBE_FAILURES
                                                   : v1::HEALTH_REASON_CONSECUTIVE_FAILURES;
      std::string detail =
          f.retry_after_ms > 0
              ? retry_after_detail()
              : absl::StrCat(f.probe ? "probe" : "call", " failed while probing, last: ", f.text);
      Eject(reason, std::move(detail), f.retry_after_ms, p, ctx);
      return;
    }
    case v1::HEALTH_STATE_DOWN:
      if (f.retry_after_ms > 0) {
        const MonoTime until = ctx.now + milliseconds(f.retry_after_ms);
        if (until > down_until_) {
          down_until_ = until;
          down_until_wall_ms_ = ctx.WallMs() + f.retry_after_ms;
          ctx.state_changed = true;  // not a transition, but the saved deadline moves
        }
      }
      return;
    default:
      return;
  }
}

void TargetState::Eject(v1::HealthReason reason, std::string detail, uint32_t fixed_hold_ms,
                        const router::EffectiveHealthPolicy& p, StepContext& ctx) {
  if (measured_ == v1::HEALTH_STATE_UP && consecutive_ejections_ > 0 &&
      ctx.now - up_since_ >= milliseconds(last_hold_down_ms_)) {
    consecutive_ejections_ = 0;  // it stayed UP as long as it was last held down: start over
  }
  SaturatingIncrement(&consecutive_ejections_);
  SaturatingIncrement(&ejection_count_);

  uint64_t hold_ms = fixed_hold_ms;
  uint64_t jitter_ms = 0;
  if (fixed_hold_ms == 0) {
    hold_ms = p.hold_down_base_ms;
    for (uint32_t i = 1; i < consecutive_ejections_ && hold_ms < p.hold_down_max_ms; ++i) {
      hold_ms *= 2;
    }
    hold_ms = std::min<uint64_t>(hold_ms, p.hold_down_max_ms);
    if (p.hold_down_jitter_pct > 0 && ctx.random != nullptr) {
      const double span = static_cast<double>(hold_ms) * p.hold_down_jitter_pct / 100.0;
      jitter_ms = static_cast<uint64_t>(std::floor(span * ctx.random->NextUnit()));
    }
  }
  last_hold_down_ms_ = static_cast<uint32_t>(hold_ms);
  const uint64_t total_ms = hold_ms + jitter_ms;
  down_until_ = ctx.now + milliseconds(total_ms);
  down_until_wall_ms_ = ctx.WallMs() + static_cast<int64_t>(total_ms);

  // A probe in flight was asked of the target before it failed: its answer means nothing now.
  outstanding_probe_id_ = 0;
  next_probe_at_ = MonoTime::max();
  SetMeasured(v1::HEALTH_STATE_DOWN, reason, std::move(detail), ctx);
}

void TargetState::EnterProbing(StepContext& ctx) {
  consecutive_successes_ = 0;
  consecutive_failures_ = 0;
  consecutive_probe_failures_ = 0;
  next_probe_at_ = ctx.now;
  SetMeasured(v1::HEALTH_STATE_PROBING, v1::HEALTH_REASON_HOLD_DOWN_EXPIRED,
              "hold-down over, probing", ctx);
}

void TargetState::Recover(const router::EffectiveHealthPolicy& p, StepContext& ctx) {
  if (outstanding_probe_id_ == 0) {
    next_probe_at_ = ctx.now + milliseconds(p.probe_interval_up_ms);
  }
  SetMeasured(v1::HEALTH_STATE_UP, v1::HEALTH_REASON_RECOVERED,
              absl::StrCat(consecutive_successes_, " consecutive successes"), ctx);
}

void TargetState::SetMeasured(v1::HealthState to, v1::HealthReason reason, std::string detail,
                              StepContext& ctx) {
  const v1::HealthState from = measured_;
  measured_ = to;
  reason_ = reason;
  detail_ = std::move(detail);
  since_wall_ms_ = ctx.WallMs();
  if (to == v1::HEALTH_STATE_UP) up_since_ = ctx.now;
  ctx.target_transitions.push_back({spec_.key, from, to, reason_, detail_});
  ctx.view_changed = true;
}

void TargetState::Tick(const router::EffectiveHealthPolicy& p, bool probes_on,
                       const ProbeTarget& probe, StepContext& ctx) {
  if (outstanding_probe_id_ != 0 && ctx.now >= probe_deadline_) {
    // The sender lost it or is late: a probe nobody answered in time is a failed probe.
    ProbeResult expired;
    expired.trunk_id = probe.trunk_id;
    expired.target = spec_.key;
    expired.probe_id = outstanding_probe_id_;
    expired.timed_out = true;
    OnProbe(expired, p, ctx);
    ctx.expired_probes.push_back(std::move(expired));
  }
  if (measured_ == v1::HEALTH_STATE_DOWN && ctx.now >= down_until_) EnterProbing(ctx);
  MaybeSendProbe(p, probes_on, probe, ctx);
}

bool TargetState::ProbeNow(const router::EffectiveHealthPolicy& p, bool probes_on,
                           const ProbeTarget& probe, StepContext& ctx) {
  if (measured_ != v1::HEALTH_STATE_UP || outstanding_probe_id_ != 0) return false;
  next_probe_at_ = std::min(next_probe_at_, ctx.now);
  MaybeSendProbe(p, probes_on, probe, ctx);
  return outstanding_probe_id_ != 0;
}

void TargetState::MaybeSendProbe(const router::EffectiveHealthPolicy& p, bool probes_on,
                                 const ProbeTarget& probe, StepContext& ctx) {
  if (!probes_on || measured_ == v1::HEALTH_STATE_DOWN || outstanding_probe_id_ != 0 ||
      ctx.now < next_probe_at_ || ctx.probes == nullptr) {
    return;
  }
  outstanding_probe_id_ = (*ctx.next_probe_id)++;
  probe_deadline_ = ctx.now + milliseconds(p.probe_timeout_ms);
  next_probe_at_ = ctx.now + milliseconds(ProbeIntervalMs(p));
  ProbeTarget target = probe;
  target.port = spec_.port;
  target.transport = spec_.transport;
  target.target = spec_.key;
  target.address = spec_.address;
  target.timeout_ms = p.probe_timeout_ms;
  target.probe_id = outstanding_probe_id_;
  ctx.probes->push_back(std::move(target));
}

MonoTime TargetState::NextDeadline(const router::EffectiveHealthPolicy&, bool probes_on) const {
  MonoTime next = MonoTime::max();
  if (outstanding_probe_id_ != 0) next = std::min(next, probe_deadline_);
  if (measured_ == v1::HEALTH_STATE_DOWN) next = std::min(next, down_until_);
  if (probes_on && measured_ != v1::HEALTH_STATE_DOWN && outstanding_probe_id_ == 0) {
    next = std::min(next, next_probe_at_);
  }
  return next;
}

uint32_t TargetState::ProbeIntervalMs(const router::EffectiveHealthPolicy& p) const {
  return measured_ == v1::HEALTH_STATE_PROBING ? p.probe_interval_down_ms : p.probe_interval_up_ms;
}

void TargetState::FillProto(v1::TargetHealth* out) const {
  out->set_target(spec_.key);
  out->set_transport(spec_.transport);
  out->set_state(measured_);
  out->set_since_unix_ms(since_wall_ms_);
  out->set_reason(reason_);
  out->set_detail(detail_);
  out->set_consecutive_failures(consecutive_failures());
  out->set_last_probe_rtt_us(last_probe_rtt_us_);
  out->set_ejection_count(ejection_count_);
  out->set_down_until_unix_ms(measured_ == v1::HEALTH_STATE_DOWN ? down_until_wall_ms_ : 0);
  out->set_priority(spec_.priority);
  out->set_weight(spec_.weight);
}

}  // namespace trunkroute::health
