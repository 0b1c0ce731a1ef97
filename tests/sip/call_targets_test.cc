// CallFsm with trunks of several targets (RFC 3263): a target's own failure moves the call to
// the trunk's next target before the next trunk, within max_attempts and the budget.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sip/call.h"
#include "tests/support/simulated_clock.h"

namespace trunkroute::sip {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Kind = CallAction::Kind;

router::EffectiveFailoverPolicy Policy() {
  router::EffectiveFailoverPolicy p;
  for (uint32_t c : router::kDefaultFailoverCodes) p.failover_codes.set(c);
  return p;
}

CallCandidate Trunk(std::string id, int targets) {
  CallCandidate c;
  c.trunk_id = std::move(id);
  c.attempt_timeout_ms = 500;
  for (int i = 0; i < targets; ++i) {
    c.targets.push_back({absl::StrCat("192.0.2.", i + 1, ":5060"), absl::StrCat("192.0.2.", i + 1),
                         5060, v1::TRANSPORT_UDP});
  }
  return c;
}

// "Invite carrier#1", "Report carrier 192.0.2.1:5060 503", "Reject 503".
std::vector<std::string> Describe(const CallActions& actions) {
  std::vector<std::string> out;
  for (const CallAction& a : actions) {
    switch (a.kind) {
      case Kind::kSendInvite:
        out.push_back(absl::StrCat("Invite c", a.candidate, "#", a.target));
        break;
      case Kind::kReportOutcome:
        out.push_back(absl::StrCat("Report ", a.outcome.trunk_id, " ", a.outcome.target, " ",
                                   a.outcome.timed_out ? "timeout"
                                   : a.outcome.transport_error
                                       ? "transport"
                                       : std::to_string(a.outcome.sip_status)));
        break;
      case Kind::kRejectCaller:
        out.push_back(absl::StrCat("Reject ", a.status));
        break;
      case Kind::kRelayFinal:
        out.push_back(absl::StrCat("Relay ", a.status));
        break;
      case Kind::kRelease:
        break;  // not the point here
      default:
        out.push_back(std::string(CallActionKindName(a.kind)));
    }
  }
  return out;
}

class CallTargetsTest : public ::testing::Test {
 protected:
  MonoTime Now() const { return clock_.Now(); }
  CallActions FireTimer(CallFsm& fsm) {
    clock_.Advance(fsm.NextDeadline() - clock_.Now());
    return fsm.OnTimer(clock_.Now());
  }
  trunkroute::testing::SimulatedClock clock_;
  router::EffectiveFailoverPolicy policy_ = Policy();
};

TEST_F(CallTargetsTest, SilentTargetMovesTheCallToTheTrunksNextTarget) {
  CallFsm fsm({Trunk("carrier", 2), Trunk("backup", 0)}, policy_, "c1");
  EXPECT_THAT(Describe(fsm.Start(Now())), ElementsAre("Invite c0#0"));
  EXPECT_THAT(Describe(FireTimer(fsm)),
              ElementsAre("Report carrier 192.0.2.1:5060 timeout", "Invite c0#1"));
  EXPECT_EQ(fsm.target_of(1), 1);
  CallActions answer = fsm.OnFinal(1, {.status = 200}, Now());
  EXPECT_EQ(answer[0].outcome.target, "192.0.2.2:5060");
  EXPECT_EQ(fsm.phase(), CallFsm::Phase::kConnected);
}

TEST_F(CallTargetsTest, RefusalAnd503FromATargetAlsoMoveWithinTheTrunk) {
  CallFsm fsm({Trunk("carrier", 3), Trunk("backup", 0)}, policy_, "c1");
  fsm.Start(Now());
  EXPECT_THAT(Describe(fsm.OnFinal(0, {.status = 503, .local = true}, Now())),
              ElementsAre("Report carrier 192.0.2.1:5060 transport", "Invite c0#1"));
  EXPECT_THAT(Describe(fsm.OnFinal(1, {.status = 503, .retry_after_s = 30}, Now())),
              ElementsAre("Report carrier 192.0.2.2:5060 503", "Invite c0#2"))
      << "a 503 with Retry-After holds its target; the trunk's other targets may take the call";
}

TEST_F(CallTargetsTest, EveryTargetDownMovesToTheNextTrunk) {
  CallFsm fsm({Trunk("carrier", 2), Trunk("backup", 0)}, policy_, "c1");
  fsm.Start(Now());
  fsm.OnFinal(0, {.status = 503, .local = true}, Now());
  EXPECT_THAT(Describe(fsm.OnFinal(1, {.status = 502}, Now())),
              ElementsAre("Report carrier 192.0.2.2:5060 502", "Invite c1#-1"));
}

TEST_F(CallTargetsTest, ACalleeAnswerFromATargetIsRelayedNotRetried) {
  CallFsm fsm({Trunk("carrier", 2), Trunk("backup", 0)}, policy_, "c1");
  fsm.Start(Now());
  EXPECT_THAT(Describe(fsm.OnFinal(0, {.status = 486}, Now())),
              ElementsAre("Report carrier 192.0.2.1:5060 486", "Relay 486"));
  EXPECT_EQ(fsm.phase(), CallFsm::Phase::kFailed);
}

TEST_F(CallTargetsTest, AuthFailureSkipsTheTrunksOtherTargets) {
  CallCandidate carrier = Trunk("carrier", 2);
  carrier.has_credentials = true;
  CallFsm fsm({carrier, Trunk("backup", 0)}, policy_, "c1");
  fsm.Start(Now());
  fsm.OnFinal(0, {.status = 401}, Now());  // answered with credentials
  EXPECT_THAT(Describe(fsm.OnFinal(0, {.status = 401}, Now())),
              ElementsAre("Report carrier 192.0.2.1:5060 401", "Invite c1#-1"))
      << "the credentials are the trunk's: another of its SBCs would refuse them too";
}

TEST_F(CallTargetsTest, TargetAttemptsCountAgainstMaxAttempts) {
  policy_.max_attempts = 2;
  CallFsm fsm({Trunk("carrier", 3), Trunk("backup", 0)}, policy_, "c1");
  fsm.Start(Now());
  fsm.OnFinal(0, {.status = 503, .phrase = "Service Unavailable"}, Now());
  CallActions last = fsm.OnFinal(1, {.status = 503, .phrase = "Service Unavailable"}, Now());
  EXPECT_THAT(Describe(last), ElementsAre("Report carrier 192.0.2.2:5060 503", "Reject 503"));
  EXPECT_THAT(last.back().reason, HasSubstr("carrier 192.0.2.1:5060: 503 Service Unavailable, "
                                            "carrier 192.0.2.2:5060: 503 Service Unavailable"));
}

TEST_F(CallTargetsTest, TheBudgetStopsTargetFailoverToo) {
  policy_.call_setup_budget_ms = 700;
  CallFsm fsm({Trunk("carrier", 3), Trunk("backup", 0)}, policy_, "c1");
  fsm.Start(Now());
  EXPECT_THAT(Describe(FireTimer(fsm)),
              ElementsAre("Report carrier 192.0.2.1:5060 timeout", "Invite c0#1"));
  EXPECT_EQ(fsm.NextDeadline(), Now() + std::chrono::milliseconds(200)) << "what the budget leaves";
  EXPECT_THAT(Describe(FireTimer(fsm)),
              ElementsAre("Report carrier 192.0.2.2:5060 timeout", "Reject 408"));
}

TEST_F(CallTargetsTest, RetriesPerTrunkComeAfterItsTargetsOnTheLastOne) {
  policy_.retries_per_trunk = 1;
  CallFsm fsm({Trunk("carrier", 2)}, policy_, "c1");
  fsm.Start(Now());
  EXPECT_THAT(Describe(fsm.OnFinal(0, {.status = 500}, Now())),
              ElementsAre("Report carrier 192.0.2.1:5060 500", "Invite c0#1"));
  EXPECT_THAT(Describe(fsm.OnFinal(1, {.status = 500}, Now())),
              ElementsAre("Report carrier 192.0.2.2:5060 500", "Invite c0#1"));
  EXPECT_THAT(Describe(fsm.OnFinal(2, {.status = 500}, Now())),
              ElementsAre("Report carrier 192.0.2.2:5060 500", "Reject 500"));
}

}  // namespace
}  // namespace trunkroute::sip
