#ifndef TRUNKROUTE_ROUTER_POLICY_H_
#define TRUNKROUTE_ROUTER_POLICY_H_

#include <bitset>
#include <cstdint>

#include "trunkroute/v1/config.pb.h"

namespace trunkroute::router {

// Documented defaults (design.md §2–3). One list, used by validation, merging and the docs.
inline constexpr uint32_t kDefaultSetupTimeoutMs = 1000;
inline constexpr uint32_t kMinSetupTimeoutMs = 100;
inline constexpr uint32_t kMaxSetupTimeoutMs = 32000;
inline constexpr uint32_t kDefaultMaxAttempts = 5;
inline constexpr uint32_t kMaxMaxAttempts = 10;
inline constexpr uint32_t kDefaultRetriesPerTrunk = 0;
inline constexpr uint32_t kMaxRetriesPerTrunk = 3;
inline constexpr uint32_t kDefaultCallSetupBudgetMs = 4000;
inline constexpr uint32_t kMinCallSetupBudgetMs = 100;
inline constexpr uint32_t kMaxCallSetupBudgetMs = 120000;
inline constexpr uint32_t kDefaultFailoverCodes[] = {408, 500, 502, 503, 504};

inline constexpr uint32_t kDefaultFailureThreshold = 3;
inline constexpr uint32_t kDefaultProbeFailureThreshold = 2;
inline constexpr uint32_t kDefaultRecoveryThreshold = 2;
inline constexpr uint32_t kDefaultHoldDownBaseMs = 5000;
inline constexpr uint32_t kDefaultHoldDownMaxMs = 300000;
inline constexpr uint32_t kDefaultRetryAfterMaxMs = 300000;
inline constexpr uint32_t kDefaultProbeIntervalUpMs = 5000;
inline constexpr uint32_t kDefaultProbeIntervalDownMs = 1000;
inline constexpr uint32_t kDefaultProbeTimeoutMs = 500;
inline constexpr uint32_t kDefaultRampUpMs = 10000;
inline constexpr uint32_t kDefaultHoldDownJitterPct = 10;
inline constexpr uint32_t kDefaultProbeFailureCodes[] = {408, 503};
inline constexpr uint32_t kAdaptiveTimeoutFloorMs = 150;

// Bounds of the health policy fields (config.proto documents the same numbers).
inline constexpr uint32_t kMinThreshold = 1;
inline constexpr uint32_t kMaxThreshold = 100;
inline constexpr uint32_t kMinHoldDownBaseMs = 100;
inline constexpr uint32_t kMaxHoldDownBaseMs = 600000;
inline constexpr uint32_t kMinHoldDownMaxMs = 1000;
inline constexpr uint32_t kMaxHoldDownMaxMs = 3600000;
inline constexpr uint32_t kMaxRetryAfterMaxMs = 3600000;
inline constexpr uint32_t kMinProbeIntervalUpMs = 200;
inline constexpr uint32_t kMinProbeIntervalDownMs = 100;
inline constexpr uint32_t kMaxProbeIntervalMs = 3600000;
inline constexpr uint32_t kMinProbeTimeoutMs = 50;
inline constexpr uint32_t kMaxProbeTimeoutMs = 32000;
inline constexpr uint32_t kMaxRampUpMs = 600000;
inline constexpr uint32_t kMaxHoldDownJitterPct = 100;
// Failover and probe-failure codes: final responses only (1xx and 2xx never mean failure).
inline constexpr uint32_t kMinFailureCode = 300;
inline constexpr uint32_t kMaxFailureCode = 699;

// FailoverPolicy with every field resolved: what the hot path reads.
struct EffectiveFailoverPolicy {
  uint32_t setup_timeout_ms = kDefaultSetupTimeoutMs;
  std::bitset<700> failover_codes;  // indexed by SIP status
  bool failover_on_timeout = true;
  bool failover_on_transport_error = true;
  uint32_t max_attempts = kDefaultMaxAttempts;
  uint32_t retries_per_trunk = kDefaultRetriesPerTrunk;
  uint32_t call_setup_budget_ms = kDefaultCallSetupBudgetMs;
  bool adaptive_timeout = true;
  bool panic_when_all_down = true;

  bool IsFailoverCode(int status) const {
    return status >= 0 && status < 700 && failover_codes.test(static_cast<size_t>(status));
  }
  // Back to proto form with every field set (GetFailoverPolicy, RouteCallResponse).
  v1::FailoverPolicy ToProto() const;
  // The same into `out` (cleared first): reuses its storage, for the per-call RouteCallResponse.
  void ToProto(v1::FailoverPolicy* out) const;
  bool operator==(const EffectiveFailoverPolicy&) const = default;
};

// HealthPolicy with every field resolved.
struct EffectiveHealthPolicy {
  uint32_t failure_threshold = kDefaultFailureThreshold;
  uint32_t probe_failure_threshold = kDefaultProbeFailureThreshold;
  uint32_t recovery_threshold = kDefaultRecoveryThreshold;
  uint32_t hold_down_base_ms = kDefaultHoldDownBaseMs;
  uint32_t hold_down_max_ms = kDefaultHoldDownMaxMs;
  uint32_t retry_after_max_ms = kDefaultRetryAfterMaxMs;
  uint32_t probe_interval_up_ms = kDefaultProbeIntervalUpMs;
  uint32_t probe_interval_down_ms = kDefaultProbeIntervalDownMs;
  uint32_t probe_timeout_ms = kDefaultProbeTimeoutMs;
  bool probes_enabled = true;
  uint32_t ramp_up_ms = kDefaultRampUpMs;
  uint32_t hold_down_jitter_pct = kDefaultHoldDownJitterPct;
  std::bitset<700> probe_failure_codes;

  bool IsProbeFailureCode(int status) const {
    return status >= 0 && status < 700 && probe_failure_codes.test(static_cast<size_t>(status));
  }
  v1::HealthPolicy ToProto() const;
  bool operator==(const EffectiveHealthPolicy&) const = default;
};

// Built-in defaults.
EffectiveFailoverPolicy DefaultFailoverPolicy();
EffectiveHealthPolicy DefaultHealthPolicy();
// `base` with every field that `override` sets replaced (unset fields inherit).
EffectiveFailoverPolicy MergeFailoverPolicy(const EffectiveFailoverPolicy& base,
                                            const v1::FailoverPolicy& override);
EffectiveHealthPolicy MergeHealthPolicy(const EffectiveHealthPolicy& base,
                                        const v1::HealthPolicy& override);

}  // namespace trunkroute::router

#endif  // TRUNKROUTE_ROUTER_POLICY_H_
