#include "router/policy.h"

#include <bitset>
#include <cstddef>

namespace trunkroute::router {
namespace {

// Codes beyond the bitset are dropped here; validation rejects them before a config gets this
// far, so this only guards against a caller that skipped validation.
std::bitset<700> CodeSet(const google::protobuf::RepeatedField<uint32_t>& codes) {
  std::bitset<700> out;
  for (uint32_t code : codes) {
    if (code < out.size()) out.set(code);
  }
  return out;
}

template <size_t N>
std::bitset<700> CodeSet(const uint32_t (&codes)[N]) {
  std::bitset<700> out;
  for (uint32_t code : codes) out.set(code);
  return out;
}

// Ascending. Word by word (libstdc++'s _Find_first/_Find_next skip empty 64-bit words): a few
// set codes out of 700 cost a dozen word tests, not 700 bit tests, on every RouteCall answer.
void AddCodes(const std::bitset<700>& codes, google::protobuf::RepeatedField<uint32_t>* out) {
  for (size_t code = codes._Find_first(); code < codes.size(); code = codes._Find_next(code)) {
    out->Add(static_cast<uint32_t>(code));
  }
}

}  // namespace

EffectiveFailoverPolicy DefaultFailoverPolicy() {
  EffectiveFailoverPolicy policy;
  policy.failover_codes = CodeSet(kDefaultFailoverCodes);
  return policy;
}

EffectiveHealthPolicy DefaultHealthPolicy() {
  EffectiveHealthPolicy policy;
  policy.probe_failure_codes = CodeSet(kDefaultProbeFailureCodes);
  return policy;
}

EffectiveFailoverPolicy MergeFailoverPolicy(const EffectiveFailoverPolicy& base,
                                            const v1::FailoverPolicy& override) {
  EffectiveFailoverPolicy out = base;
  if (override.has_setup_timeout_ms()) out.setup_timeout_ms = override.setup_timeout_ms();
  // A repeated field has no presence: empty means "inherit", so a list can be replaced but not
  // overridden to empty (a policy with no failover codes is expressed by other means).
  if (override.failover_codes_size() > 0) out.failover_codes = CodeSet(override.failover_codes());
  if (override.has_failover_on_timeout()) out.failover_on_timeout = override.failover_on_timeout();
  if (override.has_failover_on_transport_error()) {
    out.failover_on_transport_error = override.failover_on_transport_error();
  }
  if (override.has_max_attempts()) out.max_attempts = override.max_attempts();
  if (override.has_retries_per_trunk()) out.retries_per_trunk = override.retries_per_trunk();
  if (override.has_call_setup_budget_ms()) {
    out.call_setup_budget_ms = override.call_setup_budget_ms();
  }
  if (override.has_adaptive_timeout()) out.adaptive_timeout = override.adaptive_timeout();
  if (override.has_panic_when_all_down()) out.panic_when_all_down = override.panic_when_all_down();
  return out;
}

EffectiveHealthPolicy MergeHealthPolicy(const EffectiveHealthPolicy& base,
                                        const v1::HealthPolicy& override) {
  EffectiveHealthPolicy out = base;
  if (override.has_failure_threshold()) out.failure_threshold = override.failure_threshold();
  if (override.has_probe_failure_threshold()) {
    out.probe_failure_threshold = override.probe_failure_threshold();
  }
  if (override.has_recovery_threshold()) out.recovery_threshold = override.recovery_threshold();
  if (override.has_hold_down_base_ms()) out.hold_down_base_ms = override.hold_down_base_ms();
  if (override.has_hold_down_max_ms()) out.hold_down_max_ms = override.hold_down_max_ms();
  if (override.has_retry_after_max_ms()) out.retry_after_max_ms = override.retry_after_max_ms();
  if (override.has_probe_interval_up_ms()) {
    out.probe_interval_up_ms = override.probe_interval_up_ms();
  }
  if (override.has_probe_interval_down_ms()) {
    out.probe_interval_down_ms = override.probe_interval_down_ms();
  }
  if (override.has_probe_timeout_ms()) out.probe_timeout_ms = override.probe_timeout_ms();
  if (override.has_probes_enabled()) out.probes_enabled = override.probes_enabled();
  if (override.has_ramp_up_ms()) out.ramp_up_ms = override.ramp_up_ms();
  if (override.has_hold_down_jitter_pct()) {
    out.hold_down_jitter_pct = override.hold_down_jitter_pct();
  }
  if (override.probe_failure_codes_size() > 0) {
    out.probe_failure_codes = CodeSet(override.probe_failure_codes());
  }
  return out;
}

v1::FailoverPolicy EffectiveFailoverPolicy::ToProto() const {
  v1::FailoverPolicy out;
  ToProto(&out);
  return out;
}

void EffectiveFailoverPolicy::ToProto(v1::FailoverPolicy* out) const {
  out->Clear();
  out->set_setup_timeout_ms(setup_timeout_ms);
  AddCodes(failover_codes, out->mutable_failover_codes());
  out->set_failover_on_timeout(failover_on_timeout);
  out->set_failover_on_transport_error(failover_on_transport_error);
  out->set_max_attempts(max_attempts);
  out->set_retries_per_trunk(retries_per_trunk);
  out->set_call_setup_budget_ms(call_setup_budget_ms);
  out->set_adaptive_timeout(adaptive_timeout);
  out->set_panic_when_all_down(panic_when_all_down);
}

v1::HealthPolicy EffectiveHealthPolicy::ToProto() const {
  v1::HealthPolicy out;
  out.set_failure_threshold(failure_threshold);
  out.set_probe_failure_threshold(probe_failure_threshold);
  out.set_recovery_threshold(recovery_threshold);
  out.set_hold_down_base_ms(hold_down_base_ms);
  out.set_hold_down_max_ms(hold_down_max_ms);
  out.set_retry_after_max_ms(retry_after_max_ms);
  out.set_probe_interval_up_ms(probe_interval_up_ms);
  out.set_probe_interval_down_ms(probe_interval_down_ms);
  out.set_probe_timeout_ms(probe_timeout_ms);
  out.set_probes_enabled(probes_enabled);
  out.set_ramp_up_ms(ramp_up_ms);
  out.set_hold_down_jitter_pct(hold_down_jitter_pct);
  AddCodes(probe_failure_codes, out.mutable_probe_failure_codes());
  return out;
}

}  // namespace trunkroute::router
