#include "health/outcome.h"

namespace trunkroute::health {
namespace {

bool IsAuthChallenge(int status) { return status == 401 || status == 407; }

// A report without a usable final status says "nothing came back": the same as our timer firing.
bool NoFinalAnswer(const AttemptOutcome& o) {
  return o.timed_out || o.sip_status < 200 || o.sip_status > 699;
}

// A failure of the trunk that the call may carry on from (rows 1, 3 of the table), unless the
// policy switched failover off for this kind of failure.
OutcomeVerdict TrunkFailure(FailureReason reason, bool may_fail_over) {
  return {.outcome_class = OutcomeClass::kFailover,
          .reason = reason,
          .health = HealthEffect::kFailure,
          .call = may_fail_over ? CallStep::kNextAttempt : CallStep::kEndCall,
          .retry_same_trunk = may_fail_over,
          .next_target = may_fail_over};
}

constexpr OutcomeVerdict kRingNoAnswer = {.outcome_class = OutcomeClass::kRingNoAnswer,
                                          .reason = FailureReason::kNone,
                                          .health = HealthEffect::kNeutral,
                                          .call = CallStep::kRelayFinal};

}  // namespace

std::string_view OutcomeClassName(OutcomeClass c) {
  switch (c) {
    case OutcomeClass::kSuccess:
      return "SUCCESS";
    case OutcomeClass::kFailover:
      return "FAILOVER";
    case OutcomeClass::kCalleeFinal:
      return "CALLEE_FINAL";
    case OutcomeClass::kAuthFailed:
      return "AUTH_FAILED";
    case OutcomeClass::kRingNoAnswer:
      return "RING_NO_ANSWER";
  }
  return "UNKNOWN";
}

std::string_view FailureReasonName(FailureReason r) {
  switch (r) {
    case FailureReason::kNone:
      return "none";
    case FailureReason::kStatus:
      return "status";
    case FailureReason::kTimeout:
      return "timeout";
    case FailureReason::kTransportError:
      return "transport_error";
    case FailureReason::kTlsFailed:
      return "tls_failed";
    case FailureReason::kAuthFailed:
      return "auth_failed";
    case FailureReason::kNoCredentials:
      return "no_credentials";
  }
  return "unknown";
}

std::string FailoverReasonLabel(FailureReason reason, int sip_status) {
  switch (reason) {
    case FailureReason::kTimeout:
    case FailureReason::kTransportError:
    case FailureReason::kTlsFailed:
      return std::string(FailureReasonName(reason));
    default:
      return std::to_string(sip_status);
  }
}

OutcomeVerdict Classify(const AttemptOutcome& o, const router::EffectiveFailoverPolicy& policy) {
  // Row 1: the trunk is unreachable, whatever it said before.
  if (o.transport_error && !o.tls_failure.empty()) {
    // Row 0: the same certificate would be refused again, so no retry on this trunk.
    OutcomeVerdict v = TrunkFailure(FailureReason::kTlsFailed, policy.failover_on_transport_error);
    v.retry_same_trunk = false;
    return v;
  }
  if (o.transport_error) {
    return TrunkFailure(FailureReason::kTransportError, policy.failover_on_transport_error);
  }
  // Rows 2, 3: once the far end rang, silence is the callee not answering, not the trunk failing.
  if (NoFinalAnswer(o)) {
    if (o.provisional_received) return kRingNoAnswer;
    return TrunkFailure(FailureReason::kTimeout, policy.failover_on_timeout);
  }
  const int status = o.sip_status;
  // Row 4.
  if (status == 408 && o.provisional_received) return kRingNoAnswer;
  // Row 5.
  if (status < 300) {
    return {.outcome_class = OutcomeClass::kSuccess,
            .reason = FailureReason::kNone,
            .health = HealthEffect::kAlive,
            .call = CallStep::kConnect};
  }
  // Rows 6, 7: this trunk will not take the call; another carrier may.
  if (IsAuthChallenge(status)) {
    if (o.credentials_sent) {
      return {.outcome_class = OutcomeClass::kAuthFailed,
              .reason = FailureReason::kAuthFailed,
              .health = HealthEffect::kFailure,
              .call = CallStep::kNextAttempt};
    }
    return {.outcome_class = OutcomeClass::kCalleeFinal,
            .reason = FailureReason::kNoCredentials,
            .health = HealthEffect::kNeutral,
            .call = CallStep::kNextAttempt};
  }
  // Row 8. A trunk that asked us to come back later (Retry-After) is not retried within the call.
  if (policy.IsFailoverCode(status)) {
    return {.outcome_class = OutcomeClass::kFailover,
            .reason = FailureReason::kStatus,
            .health = HealthEffect::kFailure,
            .call = CallStep::kNextAttempt,
            .retry_same_trunk = o.retry_after_s == 0,
            .next_target = true};
  }
  // Row 9: the callee's answer, relayed, never failed over.
  return {.outcome_class = OutcomeClass::kCalleeFinal,
          .reason = FailureReason::kNone,
          .health = HealthEffect::kAlive,
          .call = CallStep::kRelayFinal};
}

}  // namespace trunkroute::health
