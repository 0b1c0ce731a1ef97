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
  OutcomeClass Of(const AttemptOutcome& o) const { return Classify(o, policy_); }
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
  EXPECT_FALSE(FailsOver(timeout, Of(timeout), policy_));
  EXPECT_FALSE(FailsOver(refused, Of(refused), policy_));
  EXPECT_TRUE(FailsOver(Final("a", 503), Of(Final("a", 503)), policy_));
}

TEST_F(ClassifyTest, FailsOverOnlyOnTrunkProblems) {
  for (const AttemptOutcome& o : {SilentTimeout("a"), TransportError("a"), Final("a", 503),
                                  AuthRejected("a", 401, true)}) {
    EXPECT_TRUE(FailsOver(o, Of(o), policy_)) << o.sip_status;
  }
  for (const AttemptOutcome& o :
       {Final("a", 200), Final("a", 486), RingNoAnswer("a"), AuthRejected("a", 407, false)}) {
    EXPECT_FALSE(FailsOver(o, Of(o), policy_)) << o.sip_status;
  }
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
