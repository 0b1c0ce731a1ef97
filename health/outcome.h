#ifndef TRUNKROUTE_HEALTH_OUTCOME_H_
#define TRUNKROUTE_HEALTH_OUTCOME_H_

// The one failover rule: what the end of one attempt means for the call that made it and for the
// trunk that answered. CallFsm (sip/call.cc), the health tracker (health/trunk_state.cc) and the
// metrics (through the tracker's observers and FailoverReasonLabel) all read Classify(); nobody
// else looks at raw SIP codes to decide failover. Its own library (trunkroute_outcome), so that
// the no-Sofia call logic links it without the tracker.

#include <cstdint>
#include <string>
#include <string_view>

#include "router/policy.h"

namespace trunkroute::health {

// What one attempt towards one trunk ended with, as the edge or a dialer saw it.
struct AttemptOutcome {
  std::string trunk_id;
  int sip_status = 0;                 // final status; 0 = none (timeout, transport error)
  bool timed_out = false;             // no final answer before our timer
  bool transport_error = false;       // refused, TLS failure, unreachable
  // With transport_error: the TLS handshake with the trunk failed (untrusted CA, wrong name,
  // expired, protocol version), OpenSSL's reason. TLS_FAILED, its own health reason and metric.
  std::string tls_failure;
  bool provisional_received = false;  // a 180/183 arrived (ring-no-answer if it then times out)
  bool credentials_sent = false;      // a 401/407 after we answered a challenge: AUTH_FAILED
  uint32_t retry_after_s = 0;         // 503 Retry-After (0 = none)
  uint32_t first_response_ms = 0;     // INVITE → first 1xx (0 = none/unknown)
  std::string call_id;                // for logs only
  // The trunk's target the attempt went to ("192.0.2.1:5060"); empty = the trunk as a whole
  // (a dialer's report): the outcome then counts for every target of the trunk.
  std::string target;
};

// What an outcome says about the trunk, never by raw code. These names are an API: the metrics'
// `outcome` label and ReportCallOutcomeResponse.outcome_class (OutcomeClassName).
enum class OutcomeClass {
  kSuccess,       // 2xx
  kFailover,      // trunk problem: policy failover codes, timeout, transport error
  kCalleeFinal,   // the callee's answer (404, 480, 486, 487, 6xx...): proves the trunk alive
  kAuthFailed,    // 401/407 after credentials: a failure with its own reason
  kRingNoAnswer,  // timeout/408 after 180/183: not the trunk's fault
};

// Why an attempt failed, when it did: the sub-reason of kFailover and kAuthFailed, and the
// challenge nobody could answer. kNone for outcomes that are not a failure of the attempt.
enum class FailureReason : uint8_t {
  kNone,            // 2xx, callee final, ring-no-answer
  kStatus,          // a final in the policy's failover_codes (503, 500, 502, 504, 408 …)
  kTimeout,         // no final (nor 180/183) before our timer, or the stack's own 408
  kTransportError,  // refused, unreachable: a final our own stack made up
  kTlsFailed,       // the TLS handshake with the trunk failed (AttemptOutcome::tls_failure)
  kAuthFailed,      // 401/407 after our credentials (or a realm we will not answer)
  kNoCredentials,   // 401/407 and the trunk has no credentials to answer it with
};

// What the trunk's health makes of an outcome (TrunkState::OnOutcome).
enum class HealthEffect : uint8_t {
  kAlive,    // the trunk answered as a working trunk: resets its failure counts
  kFailure,  // counts towards ejection (a transport error or 503 + Retry-After ejects at once)
  kNeutral,  // says nothing about the trunk either way
};

// What the same call does next (CallFsm::OnFinal / OnTimer).
enum class CallStep : uint8_t {
  kConnect,      // 2xx: relay it; the call is up
  kRelayFinal,   // the callee's answer (or ring-no-answer): relay it; the call is over
  kNextAttempt,  // the trunk failed: next attempt (this trunk again if retries allow, else next)
  kEndCall,      // the trunk failed but the policy forbids failover on this reason: the caller
                 // gets the most telling failure collected so far
};

// Everything the outcome means, for the call and for the trunk, from one rule.
struct OutcomeVerdict {
  OutcomeClass outcome_class = OutcomeClass::kFailover;
  FailureReason reason = FailureReason::kNone;
  HealthEffect health = HealthEffect::kNeutral;
  CallStep call = CallStep::kEndCall;
  // kNextAttempt only: retries_per_trunk may send the call to this trunk again. Not after a 503
  // with Retry-After (the trunk asked us to stay away) nor after any 401/407 (the same
  // credentials would get the same answer).
  bool retry_same_trunk = false;
  // kNextAttempt only: the failure is the address's own — refused, silent, a failover code from
  // that host (a 503 with Retry-After included: RFC 3263 §4.3) — so the same trunk's next target
  // (another address of its host name) comes before the next trunk. Not after a 401/407: the
  // credentials are the trunk's, every target of it would refuse them.
  bool next_target = false;

  bool operator==(const OutcomeVerdict&) const = default;
};

// The rule, checked top to bottom; the first row that matches decides. `policy` is the route's
// effective failover policy (or the global one).
//
//  | # | outcome                         | class          | reason          | health  | call      |
//  |---|---------------------------------|----------------|-----------------|---------|-----------|
//  | 0 | transport_error + tls_failure   | FAILOVER       | tls_failed      | failure | next¹     |
//  | 1 | transport_error                 | FAILOVER       | transport_error | failure | next¹ (r) |
//  | 2 | no final², after 180/183        | RING_NO_ANSWER | none            | neutral | relay     |
//  | 3 | no final², no 180/183           | FAILOVER       | timeout         | failure | next¹ (r) |
//  | 4 | 408 after 180/183               | RING_NO_ANSWER | none            | neutral | relay     |
//  | 5 | 2xx                             | SUCCESS        | none            | alive   | connect   |
//  | 6 | 401/407 with credentials_sent   | AUTH_FAILED    | auth_failed     | failure | next      |
//  | 7 | 401/407 without                 | CALLEE_FINAL   | no_credentials  | neutral | next      |
//  | 8 | a code in policy.failover_codes | FAILOVER       | status          | failure | next (r³) |
//  | 9 | any other 3xx–6xx               | CALLEE_FINAL   | none            | alive   | relay     |
//
//  (r) retry_same_trunk: retries_per_trunk may try this trunk again.
//  ¹ kEndCall instead when policy.failover_on_transport_error (rows 0, 1) or
//    policy.failover_on_timeout (row 3) is off. Timeouts and transport errors count against
//    health whatever those flags say: silence is bad news about the trunk even when the call
//    may not move on.
//  ² timed_out, or a status that is not a final (0, 1xx, > 699): nothing usable came back.
//  ³ not after a 503 with Retry-After.
//  Row 0 is never retried on the same trunk: its certificate would be refused again.
//
// Where the call and the trunk read the same outcome differently, and why:
//  - Row 7: the call fails over (another carrier may take it without credentials), but health
//    counts nothing: a challenge is how a digest trunk says hello, not a fault. CallFsm answers a
//    challenge itself when the trunk has credentials, so a 401/407 it classifies without
//    credentials_sent is one nobody could answer. Its class stays CALLEE_FINAL (the trunk
//    answered; the metrics label set does not change).
//  - Rows 2 and 4: ring-no-answer is neutral for health and relayed for the call: the far end
//    rang, so the trunk works and the callee did not pick up; another carrier would ring the
//    same phone.
//  - Row 8 after 180/183 still fails over (the trunk gave up, not the callee); only a 408 (or
//    silence) after ringing is ring-no-answer.
OutcomeVerdict Classify(const AttemptOutcome& outcome,
                        const router::EffectiveFailoverPolicy& policy);

// "SUCCESS", "FAILOVER", "CALLEE_FINAL", "AUTH_FAILED", "RING_NO_ANSWER".
std::string_view OutcomeClassName(OutcomeClass c);
// "none", "status", "timeout", "transport_error", "tls_failed", "auth_failed", "no_credentials".
std::string_view FailureReasonName(FailureReason r);

// The `reason` label of trunkroute_failovers_total (EdgeObserver::OnFailover) for a failed
// attempt: the trunk's status ("503", "407"), or "timeout" / "transport_error" / "tls_failed".
std::string FailoverReasonLabel(FailureReason reason, int sip_status);

}  // namespace trunkroute::health

#endif  // TRUNKROUTE_HEALTH_OUTCOME_H_
