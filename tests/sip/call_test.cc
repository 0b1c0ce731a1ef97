// The per-call failover state machine under simulated time: which answer fails over, when the
// setup timer and the budget fire, how abandoned attempts are cleaned up (RFC 3261 §9.1), and
// what the caller hears at the end.
#include "sip/call.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/simulated_clock.h"

namespace trunkroute::sip {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Kind = CallAction::Kind;

router::EffectiveFailoverPolicy Policy() {
  router::EffectiveFailoverPolicy p;  // defaults: 1000 ms, 5 attempts, 0 retries, 4000 ms budget
  for (uint32_t c : router::kDefaultFailoverCodes) p.failover_codes.set(c);
  return p;
}

CallCandidate Trunk(std::string id, uint32_t timeout_ms = 1000, bool creds = false) {
  CallCandidate c;
  c.trunk_id = std::move(id);
  c.attempt_timeout_ms = timeout_ms;
  c.has_credentials = creds;
  return c;
}

// "SendInvite a0 c1", "ReportOutcome primary 503", "RejectCaller 503" ... one per action.
std::vector<std::string> Describe(const CallActions& actions) {
  std::vector<std::string> out;
  for (const CallAction& a : actions) {
    std::string s(CallActionKindName(a.kind));
    switch (a.kind) {
      case Kind::kReportOutcome:
        absl::StrAppend(&s, " ", a.outcome.trunk_id, " ", a.outcome.sip_status,
                        a.outcome.timed_out ? " timeout" : "",
                        a.outcome.transport_error ? " transport" : "",
                        a.outcome.credentials_sent ? " creds" : "",
                        a.outcome.provisional_received ? " rang" : "");
        break;
      case Kind::kRejectCaller:
        absl::StrAppend(&s, " ", a.status);
        break;
      case Kind::kRelayProvisional:
      case Kind::kRelayFinal:
      case Kind::kAnswer:
        absl::StrAppend(&s, " a", a.attempt, " ", a.status);
        break;
      default:
        absl::StrAppend(&s, " a", a.attempt, " c", a.candidate);
    }
    out.push_back(s);
  }
  return out;
}

class CallFsmTest : public ::testing::Test {
 protected:
  MonoTime Now() const { return clock_.Now(); }
  void Advance(int64_t ms) { clock_.AdvanceMs(ms); }
  // Advances to the FSM's deadline and fires it.
  CallActions FireTimer(CallFsm& fsm) {
    MonoTime d = fsm.NextDeadline();
    EXPECT_NE(d, MonoTime::max());
    clock_.Advance(d - clock_.Now());
    return fsm.OnTimer(clock_.Now());
  }

  testing::SimulatedClock clock_;
  router::EffectiveFailoverPolicy policy_ = Policy();
};

TEST_F(CallFsmTest, StartsWithPrimaryAndArmsItsAttemptTimeout) {
  CallFsm fsm({Trunk("primary", 700), Trunk("backup")}, policy_, "c1");
  EXPECT_THAT(Describe(fsm.Start(Now())), ElementsAre("SendInvite a0 c0"));
  EXPECT_EQ(fsm.NextDeadline(), Now() + milliseconds(700));
}

// The adaptive attempt timeout only serves to move on sooner: the last possible attempt gets
// the whole setup_timeout_ms (found by the soak: a starved peer, the only candidate left, cut
// at its learned 150 ms, turned a call the trunk answered 200 ms later into a 408).
TEST_F(CallFsmTest, LastPossibleAttemptGetsTheWholeSetupTimeout) {
  {
    CallFsm fsm({Trunk("only", 150)}, policy_, "c1");
    fsm.Start(Now());
    EXPECT_EQ(fsm.NextDeadline(), Now() + milliseconds(1000)) << "nothing to move on to";
  }
  {
    CallFsm fsm({Trunk("primary", 150), Trunk("backup", 150)}, policy_, "c2");
    MonoTime t0 = Now();
    fsm.Start(Now());
    EXPECT_EQ(fsm.NextDeadline(), t0 + milliseconds(150)) << "the backup is still there";
    CallActions a = FireTimer(fsm);
    EXPECT_THAT(Describe(a), ElementsAre("ReportOutcome primary 0 timeout", "SendInvite a1 c1"));
    EXPECT_EQ(fsm.NextDeadline(), Now() + milliseconds(1000)) << "the backup is the last";
  }
  {
    CallCandidate skipped = Trunk("no-codec", 150);
    skipped.skip = CallCandidate::Skip::kNoCommonCodec;
    CallFsm fsm({Trunk("primary", 150), skipped}, policy_, "c3");
    fsm.Start(Now());
    EXPECT_EQ(fsm.NextDeadline(), Now() + milliseconds(1000)) << "a skipped trunk is no next";
  }
  {
    router::EffectiveFailoverPolicy one = policy_;
    one.max_attempts = 1;
    CallFsm fsm({Trunk("primary", 150), Trunk("backup", 150)}, one, "c4");
    fsm.Start(Now());
    EXPECT_EQ(fsm.NextDeadline(), Now() + milliseconds(1000)) << "max_attempts reached";
  }
  {
    router::EffectiveFailoverPolicy retry = policy_;
    retry.retries_per_trunk = 1;
    CallFsm fsm({Trunk("only", 150)}, retry, "c5");
    fsm.Start(Now());
    EXPECT_EQ(fsm.NextDeadline(), Now() + milliseconds(150)) << "a retry can follow";
    FireTimer(fsm);
    EXPECT_EQ(fsm.NextDeadline(), Now() + milliseconds(1000)) << "the retry is the last";
  }
  {
    router::EffectiveFailoverPolicy budget = policy_;
    budget.call_setup_budget_ms = 600;
    CallFsm fsm({Trunk("only", 150)}, budget, "c6");
    fsm.Start(Now());
    EXPECT_EQ(fsm.NextDeadline(), Now() + milliseconds(600)) << "still within the budget";
  }
}

TEST_F(CallFsmTest, NormalCallRelaysRingingAndAnswer) {
  CallFsm fsm({Trunk("primary"), Trunk("backup")}, policy_, "c1");
  fsm.Start(Now());
  Advance(5);
  EXPECT_THAT(Describe(fsm.OnProvisional(0, 100, Now())), ElementsAre());
  EXPECT_EQ(fsm.NextDeadline(), Now() - milliseconds(5) + milliseconds(4000))
      << "after 100 Trying only the budget is armed";
  EXPECT_THAT(Describe(fsm.OnProvisional(0, 180, Now())), ElementsAre("RelayProvisional a0 180"));
  EXPECT_EQ(fsm.NextDeadline(), MonoTime::max()) << "a ringing call is never timed out by us";
  CallActions answer = fsm.OnFinal(0, {.status = 200, .phrase = "OK"}, Now());
  EXPECT_THAT(Describe(answer), ElementsAre("ReportOutcome primary 200 rang", "Answer a0 200"));
  EXPECT_EQ(answer[0].outcome.first_response_ms, 5u);
  EXPECT_EQ(answer[0].outcome.call_id, "c1");
  EXPECT_EQ(fsm.phase(), CallFsm::Phase::kConnected);
  EXPECT_EQ(fsm.connected_attempt(), 0);
  EXPECT_TRUE(fsm.AttemptsSettled());
}

TEST_F(CallFsmTest, FailsOverOn503WithinSameCallWithoutDelay) {
  CallFsm fsm({Trunk("primary"), Trunk("backup")}, policy_, "c1");
  fsm.Start(Now());
  CallActions a =
      fsm.OnFinal(0, {.status = 503, .phrase = "Service Unavailable", .retry_after_s = 30}, Now());
  EXPECT_THAT(Describe(a),
              ElementsAre("ReportOutcome primary 503", "Release a0 c0", "SendInvite a1 c1"));
  EXPECT_EQ(a[0].outcome.retry_after_s, 30u);
  fsm.OnProvisional(1, 180, Now());
  EXPECT_THAT(Describe(fsm.OnFinal(1, {.status = 200}, Now())),
              ElementsAre("ReportOutcome backup 200 rang", "Answer a1 200"));
}

TEST_F(CallFsmTest, EveryDefaultFailoverCodeFailsOver) {
  for (int code : {408, 500, 502, 503, 504}) {
    CallFsm fsm({Trunk("primary"), Trunk("backup")}, policy_, "c1");
    fsm.Start(Now());
    EXPECT_THAT(Describe(fsm.OnFinal(0, {.status = code}, Now())).back(), "SendInvite a1 c1")
        << code;
  }
}

TEST_F(CallFsmTest, CalleeFinalsAreRelayedNeverFailedOver) {
  for (int code : {404, 480, 486, 487, 600, 603}) {
    CallFsm fsm({Trunk("primary"), Trunk("backup")}, policy_, "c1");
    fsm.Start(Now());
    EXPECT_THAT(Describe(fsm.OnFinal(0, {.status = code, .phrase = "Busy Here"}, Now())),
                ElementsAre(absl::StrCat("ReportOutcome primary ", code),
                            absl::StrCat("RelayFinal a0 ", code), "Release a0 c0"))
        << code;
    EXPECT_EQ(fsm.phase(), CallFsm::Phase::kFailed);
    EXPECT_EQ(fsm.attempt_count(), 1) << "the backup never sees an INVITE";
  }
}

TEST_F(CallFsmTest, SilentPrimaryTimesOutAtItsAttemptTimeoutThenBackupAnswers) {
  CallFsm fsm({Trunk("primary", 1000), Trunk("backup", 1000)}, policy_, "c1");
  MonoTime t0 = Now();
  fsm.Start(Now());
  Advance(999);
  EXPECT_THAT(Describe(fsm.OnTimer(Now())), ElementsAre()) << "not yet";
  CallActions a = FireTimer(fsm);
  EXPECT_EQ(Now() - t0, milliseconds(1000));
  EXPECT_THAT(Describe(a), ElementsAre("ReportOutcome primary 0 timeout", "SendInvite a1 c1"))
      << "no CANCEL before a 1xx (RFC 3261 §9.1)";
  fsm.OnProvisional(1, 180, Now());
  EXPECT_THAT(Describe(fsm.OnFinal(1, {.status = 200}, Now())).back(), "Answer a1 200");
  EXPECT_FALSE(fsm.AttemptsSettled()) << "the abandoned attempt still owes its cleanup";
}

TEST_F(CallFsmTest, AbandonedAttemptIsCanceledWhenItsLate1xxArrives) {
  CallFsm fsm({Trunk("primary"), Trunk("backup")}, policy_, "c1");
  fsm.Start(Now());
  FireTimer(fsm);
  Advance(300);
  EXPECT_THAT(Describe(fsm.OnProvisional(0, 180, Now())), ElementsAre("Cancel a0 c0"))
      << "late ringing is not relayed; the owed CANCEL goes out";
  EXPECT_THAT(Describe(fsm.OnProvisional(0, 183, Now())), ElementsAre()) << "CANCEL only once";
  EXPECT_THAT(Describe(fsm.OnFinal(0, {.status = 487}, Now())), ElementsAre("Release a0 c0"));
}

TEST_F(CallFsmTest, LateAnswerOnAbandonedAttemptIsAckedAndByed) {
  CallFsm fsm({Trunk("primary"), Trunk("backup")}, policy_, "c1");
  fsm.Start(Now());
  FireTimer(fsm);
  fsm.OnProvisional(1, 180, Now());
  EXPECT_THAT(Describe(fsm.OnFinal(0, {.status = 200}, Now())), ElementsAre("AckAndBye a0 c0"));
  EXPECT_EQ(fsm.phase(), CallFsm::Phase::kSetup) << "the late answer is not the caller's call";
}

TEST_F(CallFsmTest, AnswerCrossingOurCancelIsAckedAndByed) {
  CallFsm fsm({Trunk("primary"), Trunk("backup")}, policy_, "c1");
  fsm.Start(Now());
  fsm.OnProvisional(0, 180, Now());
  EXPECT_THAT(Describe(fsm.OnCallerCancel(Now())), ElementsAre("Cancel a0 c0", "RejectCaller 487"));
  EXPECT_THAT(Describe(fsm.OnFinal(0, {.status = 200}, Now())), ElementsAre("AckAndBye a0 c0"));
  EXPECT_TRUE(fsm.AttemptsSettled());
}

TEST_F(CallFsmTest, CallerCancelBeforeAny1xxDefersTheCancel) {
  CallFsm fsm({Trunk("primary")}, policy_, "c1");
  fsm.Start(Now());
  EXPECT_THAT(Describe(fsm.OnCallerCancel(Now())), ElementsAre("RejectCaller 487"));
  EXPECT_EQ(fsm.phase(), CallFsm::Phase::kCanceled);
  EXPECT_EQ(fsm.NextDeadline(), MonoTime::max()) << "no more attempts after the caller left";
  EXPECT_THAT(Describe(fsm.OnProvisional(0, 100, Now())), ElementsAre("Cancel a0 c0"));
  EXPECT_THAT(Describe(fsm.OnFinal(0, {.status = 487}, Now())), ElementsAre("Release a0 c0"));
  EXPECT_TRUE(fsm.AttemptsSettled());
}

TEST_F(CallFsmTest, AllTrunksDownGivesMostTellingFailureWithReason) {
  CallFsm fsm({Trunk("primary"), Trunk("backup")}, policy_, "c1");
  fsm.Start(Now());
  fsm.OnFinal(0, {.status = 502, .phrase = "Bad Gateway"}, Now());
  CallActions a = fsm.OnFinal(1, {.status = 503, .phrase = "Service Unavailable"}, Now());
  EXPECT_THAT(Describe(a),
              ElementsAre("ReportOutcome backup 503", "Release a1 c1", "RejectCaller 503"));
  EXPECT_EQ(a.back().phrase, "Service Unavailable");
  EXPECT_EQ(a.back().reason,
            "SIP;cause=503;text=\"primary: 502 Bad Gateway, backup: 503 Service Unavailable\"");
}

TEST_F(CallFsmTest, AllTrunksSilentGives408) {
  CallFsm fsm({Trunk("primary", 500), Trunk("backup", 500)}, policy_, "c1");
  fsm.Start(Now());
  FireTimer(fsm);
  CallActions a = FireTimer(fsm);
  EXPECT_THAT(Describe(a), ElementsAre("ReportOutcome backup 0 timeout", "RejectCaller 408"));
  EXPECT_EQ(a.back().reason, "SIP;cause=408;text=\"primary: timeout, backup: timeout\"");
}

TEST_F(CallFsmTest, TransportErrorFailsOverAndIsReportedAsSuch) {
  CallFsm fsm({Trunk("primary"), Trunk("backup")}, policy_, "c1");
  fsm.Start(Now());
  EXPECT_THAT(
      Describe(
          fsm.OnFinal(0, {.status = 503, .phrase = "Connection refused", .local = true}, Now())),
      ElementsAre("ReportOutcome primary 0 transport", "Release a0 c0", "SendInvite a1 c1"));
  CallActions a =
      fsm.OnFinal(1, {.status = 503, .phrase = "Connection refused", .local = true}, Now());
  EXPECT_EQ(a.back().status, 503);
  EXPECT_THAT(a.back().reason, HasSubstr("backup: transport error (Connection refused)"));
}

TEST_F(CallFsmTest, TransportErrorEndsCallWhenPolicySaysSo) {
  policy_.failover_on_transport_error = false;
  CallFsm fsm({Trunk("primary"), Trunk("backup")}, policy_, "c1");
  fsm.Start(Now());
  EXPECT_THAT(
      Describe(fsm.OnFinal(0, {.status = 503, .local = true}, Now())),
      ElementsAre("ReportOutcome primary 0 transport", "Release a0 c0", "RejectCaller 503"));
}

TEST_F(CallFsmTest, TimeoutEndsCallWhenFailoverOnTimeoutIsOff) {
  policy_.failover_on_timeout = false;
  CallFsm fsm({Trunk("primary"), Trunk("backup")}, policy_, "c1");
  fsm.Start(Now());
  EXPECT_THAT(Describe(FireTimer(fsm)),
              ElementsAre("ReportOutcome primary 0 timeout", "RejectCaller 408"));
}

TEST_F(CallFsmTest, RingNoAnswer408IsRelayedNotFailedOver) {
  CallFsm fsm({Trunk("primary"), Trunk("backup")}, policy_, "c1");
  fsm.Start(Now());
  fsm.OnProvisional(0, 180, Now());
  EXPECT_THAT(Describe(fsm.OnFinal(0, {.status = 408, .phrase = "Request Timeout"}, Now())),
              ElementsAre("ReportOutcome primary 408 rang", "RelayFinal a0 408", "Release a0 c0"));
  EXPECT_EQ(fsm.attempt_count(), 1);
}

// Sofia's own transaction timer (not the trunk) ends a ringing INVITE with a 408 it makes up
// itself (FinalResponse::local). After a 180 that is the callee not answering, exactly like the
// trunk's own 408: relayed to the caller, never failed over, neutral for the trunk's health.
TEST_F(CallFsmTest, StacksOwn408AfterRingingIsRingNoAnswerRelayedNotFailedOver) {
  CallFsm fsm({Trunk("primary"), Trunk("backup")}, policy_, "c1");
  fsm.Start(Now());
  EXPECT_THAT(Describe(fsm.OnProvisional(0, 180, Now())), ElementsAre("RelayProvisional a0 180"));
  Advance(32000);  // the stack's Timer C/B, long after our setup timer would have fired
  CallActions a =
      fsm.OnFinal(0, {.status = 408, .phrase = "Request Timeout", .local = true}, Now());
  EXPECT_THAT(Describe(a), ElementsAre("ReportOutcome primary 408 timeout rang",
                                       "RelayFinal a0 408", "Release a0 c0"));
  ASSERT_EQ(a[1].kind, Kind::kRelayFinal);
  EXPECT_EQ(a[1].phrase, "Request Timeout");
  ASSERT_EQ(a[0].kind, Kind::kReportOutcome);
  EXPECT_FALSE(a[0].outcome.transport_error) << "the trunk was reached: it rang";
  const health::OutcomeVerdict verdict = health::Classify(a[0].outcome, policy_);
  EXPECT_EQ(verdict.outcome_class, health::OutcomeClass::kRingNoAnswer);
  EXPECT_EQ(verdict.health, health::HealthEffect::kNeutral) << "not counted against the trunk";
  EXPECT_EQ(fsm.phase(), CallFsm::Phase::kFailed);
  EXPECT_EQ(fsm.attempt_count(), 1) << "the backup never sees an INVITE";
  EXPECT_TRUE(fsm.AttemptsSettled());
  EXPECT_EQ(fsm.NextDeadline(), MonoTime::max());
  EXPECT_EQ(fsm.LastFailureReason(), "") << "ring-no-answer is not a failed attempt";
}

// The same stack-made 408 before any 1xx is silence: the trunk's failure, the call moves on.
TEST_F(CallFsmTest, StacksOwn408BeforeAny1xxIsATimeoutAndFailsOver) {
  CallFsm fsm({Trunk("primary"), Trunk("backup")}, policy_, "c1");
  fsm.Start(Now());
  fsm.OnProvisional(0, 100, Now());  // 100 Trying is hop-by-hop: nothing rang
  CallActions a =
      fsm.OnFinal(0, {.status = 408, .phrase = "Request Timeout", .local = true}, Now());
  EXPECT_THAT(Describe(a),
              ElementsAre("ReportOutcome primary 0 timeout", "Release a0 c0", "SendInvite a1 c1"));
  EXPECT_EQ(health::Classify(a[0].outcome, policy_).health, health::HealthEffect::kFailure);
  EXPECT_EQ(fsm.LastFailureReason(), "timeout");
}

TEST_F(CallFsmTest, FailoverCodeAfterRingingStillFailsOver) {
  CallFsm fsm({Trunk("primary"), Trunk("backup")}, policy_, "c1");
  fsm.Start(Now());
  fsm.OnProvisional(0, 183, Now());
  EXPECT_THAT(Describe(fsm.OnFinal(0, {.status = 503}, Now())).back(), "SendInvite a1 c1");
}

TEST_F(CallFsmTest, ChallengeIsAnsweredOnceThenSecondChallengeIsAuthFailed) {
  CallFsm fsm({Trunk("primary", 1000, /*creds=*/true), Trunk("backup")}, policy_, "c1");
  fsm.Start(Now());
  Advance(600);
  EXPECT_THAT(Describe(fsm.OnFinal(0, {.status = 401}, Now())), ElementsAre("Authenticate a0 c0"));
  EXPECT_EQ(fsm.NextDeadline(), Now() + milliseconds(1000))
      << "the re-sent INVITE gets its own setup timer";
  EXPECT_THAT(Describe(fsm.OnFinal(0, {.status = 401}, Now())),
              ElementsAre("ReportOutcome primary 401 creds", "Release a0 c0", "SendInvite a1 c1"));
}

TEST_F(CallFsmTest, AnsweredChallengeLeadsToNormalCall) {
  CallFsm fsm({Trunk("primary", 1000, /*creds=*/true)}, policy_, "c1");
  fsm.Start(Now());
  fsm.OnFinal(0, {.status = 407}, Now());
  fsm.OnProvisional(0, 180, Now());
  EXPECT_THAT(Describe(fsm.OnFinal(0, {.status = 200}, Now())).back(), "Answer a0 200");
}

TEST_F(CallFsmTest, ChallengeWithoutCredentialsFailsOver) {
  CallFsm fsm({Trunk("primary"), Trunk("backup")}, policy_, "c1");
  fsm.Start(Now());
  EXPECT_THAT(Describe(fsm.OnFinal(0, {.status = 407}, Now())),
              ElementsAre("ReportOutcome primary 407", "Release a0 c0", "SendInvite a1 c1"));
}

// The FSM asks health::Classify with the route's policy: a code the route adds fails over, a
// code it removes is relayed as the callee's answer.
TEST_F(CallFsmTest, FailoverCodesComeFromTheRoutesPolicy) {
  policy_.failover_codes.set(486);
  policy_.failover_codes.reset(503);
  CallFsm busy({Trunk("primary"), Trunk("backup")}, policy_, "c1");
  busy.Start(Now());
  EXPECT_THAT(Describe(busy.OnFinal(0, {.status = 486}, Now())),
              ElementsAre("ReportOutcome primary 486", "Release a0 c0", "SendInvite a1 c1"));
  CallFsm unavailable({Trunk("primary"), Trunk("backup")}, policy_, "c2");
  unavailable.Start(Now());
  EXPECT_THAT(Describe(unavailable.OnFinal(0, {.status = 503}, Now())),
              ElementsAre("ReportOutcome primary 503", "RelayFinal a0 503", "Release a0 c0"));
}

TEST_F(CallFsmTest, RetriesSameTrunkBeforeMovingOn) {
  policy_.retries_per_trunk = 1;
  CallFsm fsm({Trunk("primary"), Trunk("backup")}, policy_, "c1");
  fsm.Start(Now());
  EXPECT_THAT(Describe(fsm.OnFinal(0, {.status = 500}, Now())).back(), "SendInvite a1 c0");
  EXPECT_THAT(Describe(fsm.OnFinal(1, {.status = 500}, Now())).back(), "SendInvite a2 c1");
}

TEST_F(CallFsmTest, RetryAfterIsNotRetriedOnTheSameTrunk) {
  policy_.retries_per_trunk = 1;
  CallFsm fsm({Trunk("primary"), Trunk("backup")}, policy_, "c1");
  fsm.Start(Now());
  EXPECT_THAT(Describe(fsm.OnFinal(0, {.status = 503, .retry_after_s = 10}, Now())).back(),
              "SendInvite a1 c1");
}

TEST_F(CallFsmTest, MaxAttemptsBoundsTheCall) {
  policy_.max_attempts = 2;
  CallFsm fsm({Trunk("a"), Trunk("b"), Trunk("c")}, policy_, "c1");
  fsm.Start(Now());
  fsm.OnFinal(0, {.status = 503}, Now());
  EXPECT_THAT(Describe(fsm.OnFinal(1, {.status = 500, .phrase = "Server Internal Error"}, Now())),
              ElementsAre("ReportOutcome b 500", "Release a1 c1", "RejectCaller 503"));
  EXPECT_EQ(fsm.attempt_count(), 2) << "trunk c never tried";
}

TEST_F(CallFsmTest, BudgetCapsTheLastAttemptAndStopsNewOnes) {
  policy_.call_setup_budget_ms = 1500;
  CallFsm fsm({Trunk("a", 1000), Trunk("b", 1000), Trunk("c", 1000)}, policy_, "c1");
  MonoTime t0 = Now();
  fsm.Start(Now());
  FireTimer(fsm);  // a: 1000 ms
  EXPECT_EQ(fsm.NextDeadline(), t0 + milliseconds(1500)) << "b gets only what is left";
  CallActions a = FireTimer(fsm);
  EXPECT_THAT(Describe(a), ElementsAre("ReportOutcome b 0 timeout", "RejectCaller 408"));
}

TEST_F(CallFsmTest, BudgetAppliesAfter100TryingButNotAfterRinging) {
  policy_.call_setup_budget_ms = 2000;
  CallFsm fsm({Trunk("a"), Trunk("b")}, policy_, "c1");
  fsm.Start(Now());
  fsm.OnProvisional(0, 100, Now());
  CallActions a = FireTimer(fsm);
  EXPECT_THAT(Describe(a),
              ElementsAre("ReportOutcome a 0 timeout", "Cancel a0 c0", "RejectCaller 408"));

  CallFsm ringing({Trunk("a"), Trunk("b")}, policy_, "c2");
  ringing.Start(Now());
  ringing.OnProvisional(0, 180, Now());
  EXPECT_EQ(ringing.NextDeadline(), MonoTime::max());
}

TEST_F(CallFsmTest, NoCommonCodecAnywhereIs488) {
  CallCandidate a = Trunk("a"), b = Trunk("b");
  a.skip = b.skip = CallCandidate::Skip::kNoCommonCodec;
  CallFsm fsm({a, b}, policy_, "c1");
  CallActions out = fsm.Start(Now());
  EXPECT_THAT(Describe(out), ElementsAre("RejectCaller 488"));
  EXPECT_EQ(out[0].reason, "SIP;cause=488;text=\"no common codec with any trunk\"");
}

TEST_F(CallFsmTest, TrunkWithoutCommonCodecIsSkippedNotReported) {
  CallCandidate a = Trunk("a");
  a.skip = CallCandidate::Skip::kNoCommonCodec;
  CallFsm fsm({a, Trunk("b")}, policy_, "c1");
  EXPECT_THAT(Describe(fsm.Start(Now())), ElementsAre("SendInvite a0 c1"));
}

TEST_F(CallFsmTest, NoCandidatesIs503) {
  CallFsm fsm({}, policy_, "c1");
  EXPECT_THAT(Describe(fsm.Start(Now())), ElementsAre("RejectCaller 503"));
}

TEST_F(CallFsmTest, StrayEventsAreIgnored) {
  CallFsm fsm({Trunk("a"), Trunk("b")}, policy_, "c1");
  fsm.Start(Now());
  EXPECT_THAT(Describe(fsm.OnProvisional(5, 180, Now())), ElementsAre());
  EXPECT_THAT(Describe(fsm.OnFinal(-1, {.status = 200}, Now())), ElementsAre());
  fsm.OnFinal(0, {.status = 486}, Now());
  EXPECT_THAT(Describe(fsm.OnFinal(0, {.status = 486}, Now())), ElementsAre());
  EXPECT_THAT(Describe(fsm.OnCallerCancel(Now())), ElementsAre());
}

}  // namespace
}  // namespace trunkroute::sip
