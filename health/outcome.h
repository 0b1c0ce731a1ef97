#ifndef TRUNKROUTE_HEALTH_OUTCOME_H_
#define TRUNKROUTE_HEALTH_OUTCOME_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "router/policy.h"

namespace trunkroute::health {

// What one attempt towards one trunk ended with, as the edge or a dialer saw it.
struct AttemptOutcome {
  std::string trunk_id;
  int sip_status = 0;            // final status; 0 = none (timeout, transport error)
  bool timed_out = false;        // no final answer before our timer
  bool transport_error = false;  // refused, TLS failure, unreachable
  bool provisional_received = false;  // a 180/183 arrived (ring-no-answer if it then times out)
  bool credentials_sent = false;      // a 401/407 after we answered a challenge: AUTH_FAILED
  uint32_t retry_after_s = 0;         // 503 Retry-After (0 = none)
  uint32_t first_response_ms = 0;     // INVITE → first 1xx (0 = none/unknown)
  std::string call_id;                // for logs only
};

// Outcomes by what they say about the trunk, never by raw code.
enum class OutcomeClass {
  kSuccess,       // 2xx
  kFailover,      // trunk problem: policy failover codes, timeout, transport error
  kCalleeFinal,   // the callee's answer (404, 480, 486, 487, 6xx...): proves the trunk alive
  kAuthFailed,    // 401/407 after credentials: a failure with its own reason
  kRingNoAnswer,  // timeout/408 after 180/183: not the trunk's fault
};

std::string_view OutcomeClassName(OutcomeClass c);  // "SUCCESS", "FAILOVER", ...

// Pure classification against a route's (or the global) failover policy.
OutcomeClass Classify(const AttemptOutcome& outcome, const router::EffectiveFailoverPolicy& policy);

}  // namespace trunkroute::health

#endif  // TRUNKROUTE_HEALTH_OUTCOME_H_
