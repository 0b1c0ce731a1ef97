#ifndef TRUNKROUTE_HEALTH_HEALTH_WORDS_H_
#define TRUNKROUTE_HEALTH_HEALTH_WORDS_H_

// The words for health states and reasons that logs, details and metric labels use: the proto
// enum value's name without its prefix, in lower case ("forced_down", "transport_error"), which
// is also what trunkroutectl prints. Failover reasons ("transport_error", "timeout") and the
// other label vocabularies are lower case too, so a grep or a PromQL matcher is written once.
//
// Header-only on purpose: the metrics library turns these into label values without linking
// trunkroute_health.

#include <string_view>

#include "trunkroute/v1/health.pb.h"

namespace trunkroute::health {

// "up", "down", "probing", "draining", "forced_down", "forced_up"; "unspecified" otherwise.
constexpr std::string_view HealthStateShortName(v1::HealthState s) {
  switch (s) {
    case v1::HEALTH_STATE_UP:
      return "up";
    case v1::HEALTH_STATE_DOWN:
      return "down";
    case v1::HEALTH_STATE_PROBING:
      return "probing";
    case v1::HEALTH_STATE_DRAINING:
      return "draining";
    case v1::HEALTH_STATE_FORCED_DOWN:
      return "forced_down";
    case v1::HEALTH_STATE_FORCED_UP:
      return "forced_up";
    default:
      return "unspecified";
  }
}

// "configured", "consecutive_failures", ... ; "unspecified" for 0 and unknown values.
constexpr std::string_view HealthReasonShortName(v1::HealthReason r) {
  switch (r) {
    case v1::HEALTH_REASON_CONFIGURED:
      return "configured";
    case v1::HEALTH_REASON_CONSECUTIVE_FAILURES:
      return "consecutive_failures";
    case v1::HEALTH_REASON_PROBE_FAILURES:
      return "probe_failures";
    case v1::HEALTH_REASON_RETRY_AFTER:
      return "retry_after";
    case v1::HEALTH_REASON_TRANSPORT_ERROR:
      return "transport_error";
    case v1::HEALTH_REASON_AUTH_FAILED:
      return "auth_failed";
    case v1::HEALTH_REASON_HOLD_DOWN_EXPIRED:
      return "hold_down_expired";
    case v1::HEALTH_REASON_RECOVERED:
      return "recovered";
    case v1::HEALTH_REASON_ADMIN:
      return "admin";
    case v1::HEALTH_REASON_UNRESOLVED:
      return "unresolved";
    case v1::HEALTH_REASON_TLS_FAILED:
      return "tls_failed";
    default:
      return "unspecified";
  }
}

}  // namespace trunkroute::health

#endif  // TRUNKROUTE_HEALTH_HEALTH_WORDS_H_
