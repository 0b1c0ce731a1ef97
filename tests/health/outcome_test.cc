#include "health/outcome.h"

#include "gtest/gtest.h"
#include "router/policy.h"
#include "tests/health/health_test_util.h"

namespace trunkroute::health {
namespace {

using testing::AuthRejected;
using testing::Final;
using testing::RetryAfter;
using testing::RingNoAnswer;
using testing::SilentTimeout;
using testing::TransportError;

class ClassifyTest : public ::testing::Test {
 protected:
  OutcomeClass Of(const AttemptOutcome& o) const { return Classify(o, policy_).outcome_class; }
  OutcomeVerdict VerdictOf(const AttemptOutcome& o) const { return Classify(o, policy_); }
  // Whether the same call goes on to another attempt after `o`.
  bool FailsOver(const AttemptOutcome& o) const {
    return Classify(o, policy_).call == CallStep::kNextAttempt;
  }
  router::EffectiveFailoverPolicy policy_ = router::DefaultFailoverPolicy();
};

TEST_F(ClassifyTest, TwoHundredsAreSuccess) {
  EXPECT_EQ(Of(Final("a", 200)), OutcomeClass::kSuccess);
  EXPECT_EQ(Of(Final("a", 202)), OutcomeClass::kSuccess);
}

TEST_F(ClassifyTest, DefaultFailoverCodesAreFailover) {
  for (int code : {408, 500, 502, 503, 504}) {
    EXPECT_EQ(Of(Final("a", code)), OutcomeClass::kFailover) << code;
  }
  EXPECT_EQ(Of(RetryAfter("a", 30)), OutcomeClass::kFailover);
}

TEST_F(ClassifyTest, CalleeAnswersAreCalleeFinal) {
  for (int code : {302, 404, 480, 486, 487, 488, 501, 600, 603, 604, 606}) {
    EXPECT_EQ(Of(Final("a", code)), OutcomeClass::kCalleeFinal) << code;
  }
}

TEST_F(ClassifyTest, SilenceAndTransportErrorsAreFailover) {
  EXPECT_EQ(Of(SilentTimeout("a")), OutcomeClass::kFailover);
  EXPECT_EQ(Of(TransportError("a")), OutcomeClass::kFailover);
  // A report with no final status and no flag says nothing came back: a timeout.
  EXPECT_EQ(Of(Final("a", 0)), OutcomeClass::kFailover);
  EXPECT_EQ(Of(Final("a", 100)), OutcomeClass::kFailover);
}

TEST_F(ClassifyTest, TimeoutOr408AfterRingingIsRingNoAnswer) {
  EXPECT_EQ(Of(RingNoAnswer("a")), OutcomeClass::kRingNoAnswer);
  AttemptOutcome late408 = Final("a", 408);
  late408.provisional_received = true;
  EXPECT_EQ(Of(late408), OutcomeClass::kRingNoAnswer);
  // Other failures after ringing are still the trunk's.
  AttemptOutcome late503 = Final("a", 503);
  late503.provisional_received = true;
  EXPECT_EQ(Of(late503), OutcomeClass::kFailover);
}

TEST_F(ClassifyTest, ChallengeAfterCredentialsIsAuthFailed) {
  EXPECT_EQ(Of(AuthRejected("a", 401, true)), OutcomeClass::kAuthFailed);
  EXPECT_EQ(Of(AuthRejected("a", 407, true)), OutcomeClass::kAuthFailed);
  EXPECT_EQ(Of(AuthRejected("a", 401, false)), OutcomeClass::kCalleeFinal);
  EXPECT_EQ(Of(AuthRejected("a", 407, false)), OutcomeClass::kCalleeFinal);
}

TEST_F(ClassifyTest, FailoverCodesComeFromThePolicy) {
  policy_.failover_codes.reset(500);
  policy_.failover_codes.set(486);
  EXPECT_EQ(Of(Final("a", 500)), OutcomeClass::kCalleeFinal);
  EXPECT_EQ(Of(Final("a", 486)), OutcomeClass::kFailover);
}

TEST_F(ClassifyTest, PolicyFlagsDecideFailoverButSilenceStaysAFailure) {
  policy_.failover_on_timeout = false;
  policy_.failover_on_transport_error = false;
  const AttemptOutcome timeout = SilentTimeout("a");
  const AttemptOutcome refused = TransportError("a");
  EXPECT_EQ(Of(timeout), OutcomeClass::kFailover);
  EXPECT_EQ(Of(refused), OutcomeClass::kFailover);
  EXPECT_FALSE(FailsOver(timeout));
  EXPECT_FALSE(FailsOver(refused));
  EXPECT_TRUE(FailsOver(Final("a", 503)));
  // The call ends there, with the failure; health still counts it.
  EXPECT_EQ(VerdictOf(timeout).call, CallStep::kEndCall);
  EXPECT_EQ(VerdictOf(timeout).health, HealthEffect::kFailure);
  EXPECT_EQ(VerdictOf(refused).call, CallStep::kEndCall);
  EXPECT_EQ(VerdictOf(refused).health, HealthEffect::kFailure);
}

// A 401/407 without credentials fails the call over (another carrier may take it without a
// password), as CallFsm always did; the old, unused health::FailsOver said it did not.
TEST_F(ClassifyTest, FailsOverOnlyOnTrunkProblems) {
  for (const AttemptOutcome& o : {SilentTimeout("a"), TransportError("a"), Final("a", 503),
                                  AuthRejected("a", 401, true), AuthRejected("a", 407, false)}) {
    EXPECT_TRUE(FailsOver(o)) << o.sip_status;
  }
  for (const AttemptOutcome& o : {Final("a", 200), Final("a", 486), RingNoAnswer("a")}) {
    EXPECT_FALSE(FailsOver(o)) << o.sip_status;
  }
}

// The rule table of health/outcome.h, row by row: the call's view and the trunk's view of the
// same outcome from the one function.
TEST_F(ClassifyTest, EveryRowOfTheRuleGivesTheCallAndTheTrunkTheirVerdict) {
  struct Row {
    const char* what;
    AttemptOutcome outcome;
    OutcomeVerdict verdict;
  };
  AttemptOutcome late408 = Final("a", 408);
  late408.provisional_received = true;
  AttemptOutcome refused_after_ringing = TransportError("a");
  refused_after_ringing.provisional_received = true;
  AttemptOutcome tls_failed = TransportError("a");
  tls_failed.tls_failure = "certificate verify failed: certificate has expired";
  const Row rows[] = {
      {"0 TLS handshake failed: no retry on the same trunk",
       tls_failed,
       {.outcome_class = OutcomeClass::kFailover,
        .reason = FailureReason::kTlsFailed,
        .health = HealthEffect::kFailure,
        .call = CallStep::kNextAttempt,
        .retry_same_trunk = false}},
      {"1 transport error",
       TransportError("a"),
       {.outcome_class = OutcomeClass::kFailover,
        .reason = FailureReason::kTransportError,
        .health = HealthEffect::kFailure,
        .call = CallStep::kNextAttempt,
        .retry_same_trunk = true}},
      {"1 transport error after ringing",
       refused_after_ringing,
       {.outcome_class = OutcomeClass::kFailover,
        .reason = FailureReason::kTransportError,
        .health = HealthEffect::kFailure,
        .call = CallStep::kNextAttempt,
        .retry_same_trunk = true}},
      {"2 silence after ringing",
       RingNoAnswer("a"),
       {.outcome_class = OutcomeClass::kRingNoAnswer,
        .reason = FailureReason::kNone,
        .health = HealthEffect::kNeutral,
        .call = CallStep::kRelayFinal,
        .retry_same_trunk = false}},
      {"3 silence",
       SilentTimeout("a"),
       {.outcome_class = OutcomeClass::kFailover,
        .reason = FailureReason::kTimeout,
        .health = HealthEffect::kFailure,
        .call = CallStep::kNextAttempt,
        .retry_same_trunk = true}},
      {"4 408 after ringing",
       late408,
       {.outcome_class = OutcomeClass::kRingNoAnswer,
        .reason = FailureReason::kNone,
        .health = HealthEffect::kNeutral,
        .call = CallStep::kRelayFinal,
        .retry_same_trunk = false}},
      {"5 200",
       Final("a", 200),
       {.outcome_class = OutcomeClass::kSuccess,
        .reason = FailureReason::kNone,
        .health = HealthEffect::kAlive,
        .call = CallStep::kConnect,
        .retry_same_trunk = false}},
      {"6 401 after credentials",
       AuthRejected("a", 401, true),
       {.outcome_class = OutcomeClass::kAuthFailed,
        .reason = FailureReason::kAuthFailed,
        .health = HealthEffect::kFailure,
        .call = CallStep::kNextAttempt,
        .retry_same_trunk = false}},
      {"7 407 without credentials",
       AuthRejected("a", 407, false),
       {.outcome_class = OutcomeClass::kCalleeFinal,
        .reason = FailureReason::kNoCredentials,
        .health = HealthEffect::kNeutral,
        .call = CallStep::kNextAttempt,
        .retry_same_trunk = false}},
      {"8 503",
       Final("a", 503),
       {.outcome_class = OutcomeClass::kFailover,
        .reason = FailureReason::kStatus,
        .health = HealthEffect::kFailure,
        .call = CallStep::kNextAttempt,
        .retry_same_trunk = true}},
      {"8 503 Retry-After",
       RetryAfter("a", 30),
       {.outcome_class = OutcomeClass::kFailover,
        .reason = FailureReason::kStatus,
        .health = HealthEffect::kFailure,
        .call = CallStep::kNextAttempt,
        .retry_same_trunk = false}},
      {"8 408 without ringing",
       Final("a", 408),
       {.outcome_class = OutcomeClass::kFailover,
        .reason = FailureReason::kStatus,
        .health = HealthEffect::kFailure,
        .call = CallStep::kNextAttempt,
        .retry_same_trunk = true}},
      {"9 486",
       Final("a", 486),
       {.outcome_class = OutcomeClass::kCalleeFinal,
        .reason = FailureReason::kNone,
        .health = HealthEffect::kAlive,
        .call = CallStep::kRelayFinal,
        .retry_same_trunk = false}},
      {"9 302",
       Final("a", 302),
       {.outcome_class = OutcomeClass::kCalleeFinal,
        .reason = FailureReason::kNone,
        .health = HealthEffect::kAlive,
        .call = CallStep::kRelayFinal,
        .retry_same_trunk = false}},
  };
  for (const Row& row : rows) {
    const OutcomeVerdict v = VerdictOf(row.outcome);
    EXPECT_EQ(v.outcome_class, row.verdict.outcome_class) << row.what;
    EXPECT_EQ(v.reason, row.verdict.reason) << row.what;
    EXPECT_EQ(v.health, row.verdict.health) << row.what;
    EXPECT_EQ(v.call, row.verdict.call) << row.what;
    EXPECT_EQ(v.retry_same_trunk, row.verdict.retry_same_trunk) << row.what;
  }
}

TEST_F(ClassifyTest, OnlyAnAddressesOwnFailureTriesTheTrunksNextTarget) {
  AttemptOutcome retry_after = Final("a", 503);
  retry_after.retry_after_s = 30;
  AttemptOutcome auth = Final("a", 401);
  auth.credentials_sent = true;
  AttemptOutcome refused;
  refused.trunk_id = "a";
  refused.transport_error = true;
  AttemptOutcome silent;
  silent.trunk_id = "a";
  silent.timed_out = true;
  EXPECT_TRUE(VerdictOf(Final("a", 503)).next_target);
  EXPECT_TRUE(VerdictOf(retry_after).next_target) << "RFC 3263 §4.3: a 503 tries the next server";
  EXPECT_TRUE(VerdictOf(refused).next_target);
  EXPECT_TRUE(VerdictOf(silent).next_target);
  EXPECT_FALSE(VerdictOf(auth).next_target) << "the credentials are the trunk's";
  EXPECT_FALSE(VerdictOf(Final("a", 407)).next_target);
  EXPECT_FALSE(VerdictOf(Final("a", 486)).next_target);
  EXPECT_FALSE(VerdictOf(Final("a", 200)).next_target);
}

TEST_F(ClassifyTest, FailoverAfterRingingIsStillTheTrunks) {
  AttemptOutcome late503 = Final("a", 503);
  late503.provisional_received = true;
  EXPECT_EQ(VerdictOf(late503).call, CallStep::kNextAttempt);
  EXPECT_EQ(VerdictOf(late503).health, HealthEffect::kFailure);
}

TEST_F(ClassifyTest, CredentialsSentChangesOnlyWhatAChallengeMeans) {
  // credentials_sent is a fact about the attempt; it changes only what a 401/407 means.
  AttemptOutcome answered = Final("a", 200);
  answered.credentials_sent = true;
  EXPECT_EQ(VerdictOf(answered).outcome_class, OutcomeClass::kSuccess);
  AttemptOutcome busy = Final("a", 503);
  busy.credentials_sent = true;
  EXPECT_EQ(VerdictOf(busy).reason, FailureReason::kStatus);
}

TEST(FailoverReasonLabelTest, IsTheStatusOrAWord) {
  EXPECT_EQ(FailoverReasonLabel(FailureReason::kStatus, 503), "503");
  EXPECT_EQ(FailoverReasonLabel(FailureReason::kAuthFailed, 401), "401");
  EXPECT_EQ(FailoverReasonLabel(FailureReason::kNoCredentials, 407), "407");
  EXPECT_EQ(FailoverReasonLabel(FailureReason::kTimeout, 0), "timeout");
  EXPECT_EQ(FailoverReasonLabel(FailureReason::kTransportError, 0), "transport_error");
  EXPECT_EQ(FailoverReasonLabel(FailureReason::kTlsFailed, 0), "tls_failed");
}

TEST(FailureReasonNameTest, NamesEveryReason) {
  EXPECT_EQ(FailureReasonName(FailureReason::kNone), "none");
  EXPECT_EQ(FailureReasonName(FailureReason::kStatus), "status");
  EXPECT_EQ(FailureReasonName(FailureReason::kTimeout), "timeout");
  EXPECT_EQ(FailureReasonName(FailureReason::kTransportError), "transport_error");
  EXPECT_EQ(FailureReasonName(FailureReason::kTlsFailed), "tls_failed");
  EXPECT_EQ(FailureReasonName(FailureReason::kAuthFailed), "auth_failed");
  EXPECT_EQ(FailureReasonName(FailureReason::kNoCredentials), "no_credentials");
}

TEST(OutcomeClassNameTest, NamesEveryClass) {
  EXPECT_EQ(OutcomeClassName(OutcomeClass::kSuccess), "SUCCESS");
  EXPECT_EQ(OutcomeClassName(OutcomeClass::kFailover), "FAILOVER");
  EXPECT_EQ(OutcomeClassName(OutcomeClass::kCalleeFinal), "CALLEE_FINAL");
  EXPECT_EQ(OutcomeClassName(OutcomeClass::kAuthFailed), "AUTH_FAILED");
  EXPECT_EQ(OutcomeClassName(OutcomeClass::kRingNoAnswer), "RING_NO_ANSWER");
}

}  // namespace
}  // namespace trunkroute::health
