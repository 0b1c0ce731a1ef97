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
//  - transport_error → kFailover, always (the trunk is unreachable, whatever the policy says).
//  - timed_out, or a 408, after a 180/183 → kRingNoAnswer; timed_out without → kFailover, always:
//    silence is bad news about the trunk even when the policy turns failover_on_timeout off.
//  - 2xx → kSuccess; 401/407 with credentials_sent → kAuthFailed;
//  - a code in policy.failover_codes → kFailover;
//  - any other 3xx–6xx (including 401/407 without credentials) → kCalleeFinal.
//  - no usable status (0 or 1xx as a "final") and no flag → treated as a timeout.
// Whether the edge may try the next trunk is a separate question: see FailsOver().
OutcomeClass Classify(const AttemptOutcome& outcome, const router::EffectiveFailoverPolicy& policy);

// Whether the same call goes on to the next trunk after this outcome: kFailover outcomes do,
// except a timeout when policy.failover_on_timeout is off and a transport error when
// policy.failover_on_transport_error is off (those still count against the trunk's health).
// kAuthFailed also fails over (another carrier may take the call). Everything else does not.
bool FailsOver(const AttemptOutcome& outcome, OutcomeClass c,
               const router::EffectiveFailoverPolicy& policy);

}  // namespace trunkroute::health

#endif  // TRUNKROUTE_HEALTH_OUTCOME_H_
