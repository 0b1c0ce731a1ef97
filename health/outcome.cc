#include "health/outcome.h"

namespace trunkroute::health {
namespace {

bool IsAuthChallenge(int status) { return status == 401 || status == 407; }

// A report without a usable final status says "nothing came back": the same as our timer firing.
bool NoFinalAnswer(const AttemptOutcome& o) {
  return o.timed_out || o.sip_status < 200 || o.sip_status > 699;
}

}  // namespace

std::string_view OutcomeClassName(OutcomeClass c) {
  switch (c) {
    case OutcomeClass::kSuccess: return "SUCCESS";
    case OutcomeClass::kFailover: return "FAILOVER";
    case OutcomeClass::kCalleeFinal: return "CALLEE_FINAL";
    case OutcomeClass::kAuthFailed: return "AUTH_FAILED";
    case OutcomeClass::kRingNoAnswer: return "RING_NO_ANSWER";
  }
  return "UNKNOWN";
}

OutcomeClass Classify(const AttemptOutcome& o, const router::EffectiveFailoverPolicy& policy) {
  if (o.transport_error) return OutcomeClass::kFailover;
  if (NoFinalAnswer(o)) {
    // Once the far end rang, silence is the callee not answering, not the trunk failing.
    return o.provisional_received ? OutcomeClass::kRingNoAnswer : OutcomeClass::kFailover;
  }
  const int status = o.sip_status;
  if (status == 408 && o.provisional_received) return OutcomeClass::kRingNoAnswer;
  if (status < 300) return OutcomeClass::kSuccess;
  if (IsAuthChallenge(status) && o.credentials_sent) return OutcomeClass::kAuthFailed;
  if (policy.IsFailoverCode(status)) return OutcomeClass::kFailover;
  return OutcomeClass::kCalleeFinal;
}

bool FailsOver(const AttemptOutcome& o, OutcomeClass c,
               const router::EffectiveFailoverPolicy& policy) {
  switch (c) {
    case OutcomeClass::kAuthFailed:
      return true;
    case OutcomeClass::kFailover:
      if (o.transport_error) return policy.failover_on_transport_error;
      if (NoFinalAnswer(o)) return policy.failover_on_timeout;
      return true;
    default:
      return false;
  }
}

}  // namespace trunkroute::health
