// Early media, failover after it, and 100rel/PRACK (RFC 3262), on the wire with SIPp on both
// sides of the edge. Every test asserts on what the caller (and the trunks) received: the To-tag
// of each provisional and of the 200, the SDP bodies, Require/Supported, RSeq/RAck.
//
// The rule under test (docs/sip-edge.md "Early media"): no dialog towards the caller ever carries
// two different answers. The 200 goes in the caller's main dialog (the tag the stack gave the
// INVITE) with the answering trunk's SDP; a provisional with SDP goes in an early dialog of its
// attempt's own; provisionals without SDP go in the main dialog.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/sip/edge_test_fixture.h"

namespace trunkroute::sip::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;

// Slots 70–77 (see EdgeE2eTest::UseSlot).
class EdgeEarlyMediaTest : public EdgeE2eTest {
 protected:
  static std::vector<std::string> Feature(const std::string& line) {
    return {"-key", "feature", line};
  }
  static std::vector<std::string> Who(const std::string& name) { return {"-key", "who", name}; }

  // The responses to the INVITE the caller received (provisionals except 100, and finals).
  static std::vector<SipMessage> InviteResponses(const std::vector<SipMessage>& caller) {
    std::vector<SipMessage> out;
    for (const SipMessage& m : Responses(caller, /*received=*/true, "INVITE")) {
      if (m.status() > 100) out.push_back(m);
    }
    return out;
  }

  // RFC 3261 §13.2.1 / RFC 3264 / RFC 6337: per To-tag, every SDP the caller got is the same one.
  static void ExpectOneAnswerPerDialog(const std::vector<SipMessage>& caller) {
    std::map<std::string, std::set<std::string>> answers;
    for (const SipMessage& m : InviteResponses(caller)) {
      if (!m.body.empty()) answers[m.tag("To")].insert(m.body);
    }
    for (const auto& [tag, bodies] : answers) {
      EXPECT_THAT(bodies, SizeIs(1))
          << "dialog with To-tag " << tag << " carries different answers:\n"
          << Describe(caller);
    }
  }

  // The last 200 to the INVITE the caller received; nullopt when none.
  static std::optional<SipMessage> Final200(const std::vector<SipMessage>& caller) {
    const std::vector<SipMessage> ok = Responses(caller, true, "INVITE", 200);
    if (ok.empty()) return std::nullopt;
    return ok.back();
  }
};

// A trunk's 183 with SDP reaches the caller (early media), and its 200 carries the same SDP.
TEST_F(EdgeEarlyMediaTest, EarlyMediaIsRelayedAndTheAnswerCarriesTheSameSdp) {
  UseSlot(70);
  StartEdge(Config());
  Sipp* primary =
      StartTrunk("primary", primary_port(), "uas_early_media_answer.xml", 1, Who("primary-media"));
  Sipp* dialer = RunDialer("uac_early_media.xml", Feature("X-Feature: none"));
  EXPECT_EQ(dialer_status_, 0) << dialer->Messages();
  EXPECT_THAT(dialer->Log(), HasSubstr("BYE;OK"));
  EXPECT_EQ(primary->Wait(std::chrono::seconds(5)), 0) << primary->Messages();

  const std::vector<SipMessage> caller = Trace(dialer);
  const std::vector<SipMessage> progress = Responses(caller, true, "INVITE", 183);
  ASSERT_THAT(progress, SizeIs(1)) << Describe(caller);
  EXPECT_THAT(progress[0].body, HasSubstr("o=primary-media 1 1"));
  EXPECT_EQ(progress[0].header("Content-Type"), "application/sdp");
  EXPECT_EQ(progress[0].header("RSeq"), "") << "the caller did not offer 100rel";
  const std::optional<SipMessage> ok = Final200(caller);
  ASSERT_TRUE(ok.has_value()) << Describe(caller);
  EXPECT_EQ(ok->body, progress[0].body) << "the answer the caller heard early is the answer";
  EXPECT_FALSE(progress[0].tag("To").empty());
  EXPECT_NE(progress[0].tag("To"), ok->tag("To"))
      << "an early answer goes in an early dialog of its attempt's own";
  ExpectOneAnswerPerDialog(caller);
  // The call runs in the 200's dialog: the ACK and BYE reached the trunk.
  const std::vector<SipMessage> trunk = Trace(primary);
  EXPECT_THAT(Requests(trunk, true, "ACK"), SizeIs(1)) << Describe(trunk);
  EXPECT_THAT(Requests(trunk, true, "BYE"), SizeIs(1)) << Describe(trunk);
  ExpectNoLeftovers();
}

// The primary plays early media, then fails 503: the call fails over and the caller's 200 carries
// the backup's SDP, never the primary's, in a dialog that had no other answer.
TEST_F(EdgeEarlyMediaTest, EarlyMediaThenFailoverTheCallerEndsUpWithTheAnsweringTrunksSdp) {
  UseSlot(71);
  StartEdge(Config());
  Sipp* primary =
      StartTrunk("primary", primary_port(), "uas_early_media_fail.xml", 1, Who("primary-media"));
  Sipp* backup = StartTrunk("backup", backup_port(), "uas_answer.xml");
  Sipp* dialer = RunDialer("uac_early_media.xml", Feature("X-Feature: none"));
  EXPECT_EQ(dialer_status_, 0) << dialer->Messages();
  EXPECT_THAT(dialer->Log(), HasSubstr("BYE;OK"));
  EXPECT_EQ(primary->Wait(std::chrono::seconds(5)), 0) << primary->Messages();
  EXPECT_EQ(backup->Wait(std::chrono::seconds(5)), 0) << backup->Messages();

  const std::vector<SipMessage> caller = Trace(dialer);
  const std::vector<SipMessage> progress = Responses(caller, true, "INVITE", 183);
  ASSERT_THAT(progress, SizeIs(1)) << Describe(caller);
  EXPECT_THAT(progress[0].body, HasSubstr("o=primary-media"));
  const std::optional<SipMessage> ok = Final200(caller);
  ASSERT_TRUE(ok.has_value()) << Describe(caller);
  EXPECT_THAT(ok->body, HasSubstr("o=trunk 1 1")) << "the backup's answer";
  EXPECT_THAT(ok->body, Not(HasSubstr("primary-media")));
  EXPECT_NE(progress[0].tag("To"), ok->tag("To"))
      << "the failed trunk's early answer must not share the 200's dialog";
  // The backup's 180 (no SDP) is in the main dialog, the one the 200 confirms.
  const std::vector<SipMessage> ringing = Responses(caller, true, "INVITE", 180);
  ASSERT_THAT(ringing, SizeIs(1)) << Describe(caller);
  EXPECT_EQ(ringing[0].tag("To"), ok->tag("To"));
  ExpectOneAnswerPerDialog(caller);
  EXPECT_EQ(counters().failovers.load(), 1u);
  ExpectNoLeftovers();
}

// A 183 without SDP carries no answer: it stays in the main dialog, and the backup's 200 after
// the failover confirms that same dialog.
TEST_F(EdgeEarlyMediaTest, A183WithoutSdpThenFailoverStaysInOneDialog) {
  UseSlot(72);
  StartEdge(Config());
  Sipp* primary = StartTrunk("primary", primary_port(), "uas_183_fail.xml");
  Sipp* backup = StartTrunk("backup", backup_port(), "uas_answer.xml");
  Sipp* dialer = RunDialer("uac_early_media.xml", Feature("X-Feature: none"));
  EXPECT_EQ(dialer_status_, 0) << dialer->Messages();
  EXPECT_THAT(dialer->Log(), HasSubstr("BYE;OK"));
  EXPECT_EQ(primary->Wait(std::chrono::seconds(5)), 0) << primary->Messages();
  EXPECT_EQ(backup->Wait(std::chrono::seconds(5)), 0) << backup->Messages();

  const std::vector<SipMessage> caller = Trace(dialer);
  const std::vector<SipMessage> responses = InviteResponses(caller);
  ASSERT_THAT(responses, SizeIs(3)) << Describe(caller);  // 183, 180, 200
  EXPECT_EQ(responses[0].status(), 183);
  EXPECT_TRUE(responses[0].body.empty());
  EXPECT_EQ(responses[1].status(), 180);
  EXPECT_EQ(responses[2].status(), 200);
  EXPECT_THAT(responses[2].body, HasSubstr("o=trunk 1 1"));
  for (const SipMessage& m : responses) {
    EXPECT_EQ(m.tag("To"), responses[2].tag("To")) << m.Summary() << "\n" << Describe(caller);
  }
  ExpectOneAnswerPerDialog(caller);
  ExpectNoLeftovers();
}

// Both trunks play early media before the second answers: each early answer has its own dialog
// and the 200 (the second trunk's SDP) a third one; no dialog carries two answers.
TEST_F(EdgeEarlyMediaTest, TwoTrunksWithEarlyMediaEachGetTheirOwnEarlyDialog) {
  UseSlot(73);
  StartEdge(Config());
  Sipp* primary =
      StartTrunk("primary", primary_port(), "uas_early_media_fail.xml", 1, Who("primary-media"));
  Sipp* backup =
      StartTrunk("backup", backup_port(), "uas_early_media_answer.xml", 1, Who("backup-media"));
  Sipp* dialer = RunDialer("uac_early_media.xml", Feature("X-Feature: none"));
  EXPECT_EQ(dialer_status_, 0) << dialer->Messages();
  EXPECT_THAT(dialer->Log(), HasSubstr("BYE;OK"));
  EXPECT_EQ(primary->Wait(std::chrono::seconds(5)), 0) << primary->Messages();
  EXPECT_EQ(backup->Wait(std::chrono::seconds(5)), 0) << backup->Messages();

  const std::vector<SipMessage> caller = Trace(dialer);
  const std::vector<SipMessage> progress = Responses(caller, true, "INVITE", 183);
  ASSERT_THAT(progress, SizeIs(2)) << Describe(caller);
  EXPECT_THAT(progress[0].body, HasSubstr("o=primary-media"));
  EXPECT_THAT(progress[1].body, HasSubstr("o=backup-media"));
  const std::optional<SipMessage> ok = Final200(caller);
  ASSERT_TRUE(ok.has_value()) << Describe(caller);
  EXPECT_THAT(ok->body, HasSubstr("o=backup-media"));
  EXPECT_EQ(ok->body, progress[1].body);
  const std::set<std::string> tags = {progress[0].tag("To"), progress[1].tag("To"), ok->tag("To")};
  EXPECT_THAT(tags, SizeIs(3)) << Describe(caller);
  ExpectOneAnswerPerDialog(caller);
  ExpectNoLeftovers();
}

// A caller that supports 100rel gets the early answer reliably (Require: 100rel, RSeq); its
// PRACK is answered by the edge, not relayed (the trunk sent no reliable provisional).
TEST_F(EdgeEarlyMediaTest, CallerSupporting100relGetsAReliableEarlyAnswerAndItsPrackAnswered) {
  UseSlot(74);
  StartEdge(Config());
  Sipp* primary =
      StartTrunk("primary", primary_port(), "uas_early_media_answer.xml", 1, Who("primary-media"));
  Sipp* dialer = RunDialer("uac_100rel.xml", Feature("Supported: 100rel"));
  EXPECT_EQ(dialer_status_, 0) << dialer->Messages();
  EXPECT_THAT(dialer->Log(), HasSubstr("PRACKED;"));
  EXPECT_THAT(dialer->Log(), HasSubstr("BYE;OK"));
  EXPECT_EQ(primary->Wait(std::chrono::seconds(5)), 0) << primary->Messages();

  const std::vector<SipMessage> caller = Trace(dialer);
  const std::vector<SipMessage> progress = Responses(caller, true, "INVITE", 183);
  ASSERT_FALSE(progress.empty()) << Describe(caller);
  EXPECT_THAT(progress[0].header("Require"), HasSubstr("100rel"));
  EXPECT_THAT(progress[0].header("RSeq"), ::testing::MatchesRegex("[0-9]+"));
  EXPECT_THAT(progress[0].body, HasSubstr("o=primary-media"));
  const std::vector<SipMessage> pracks = Requests(caller, false, "PRACK");
  ASSERT_THAT(pracks, SizeIs(1));
  EXPECT_EQ(pracks[0].header("RAck"), absl::StrCat(progress[0].header("RSeq"), " 1 INVITE"));
  EXPECT_THAT(Responses(caller, true, "PRACK", 200), SizeIs(1)) << Describe(caller);
  // RFC 3262 §3: the 200 (which the trunk sent 100 ms after its 183, before the caller's PRACK
  // 300 ms after it) is held until the PRACK of the reliable 183 with SDP.
  size_t prack_at = caller.size(), answer_at = caller.size();
  for (size_t i = 0; i < caller.size(); ++i) {
    if (!caller[i].received && caller[i].is_request() && caller[i].method() == "PRACK") {
      prack_at = std::min(prack_at, i);
    }
    if (caller[i].received && caller[i].method() == "INVITE" && caller[i].status() == 200) {
      answer_at = std::min(answer_at, i);
    }
  }
  EXPECT_LT(prack_at, answer_at) << Describe(caller);
  // What the edge says it does.
  const std::optional<SipMessage> ok = Final200(caller);
  ASSERT_TRUE(ok.has_value()) << Describe(caller);
  EXPECT_EQ(ok->body, progress[0].body);
  EXPECT_THAT(ok->header("Supported"), HasSubstr("100rel"));
  EXPECT_THAT(ok->header("Allow"), HasSubstr("PRACK"));
  for (const char* method : {"MESSAGE", "SUBSCRIBE", "NOTIFY", "REFER"}) {
    EXPECT_THAT(ok->header("Allow"), Not(HasSubstr(method))) << "the edge does not do " << method;
  }
  ExpectOneAnswerPerDialog(caller);
  // Per leg: the trunk never sees the caller's PRACK.
  const std::vector<SipMessage> trunk = Trace(primary);
  EXPECT_THAT(Requests(trunk, true, "PRACK"), IsEmpty()) << Describe(trunk);
  ExpectNoLeftovers();
}

// Both legs reliable: a caller that requires 100rel and a trunk that sends its 183 reliably.
// Each leg has its own RSeq/RAck: the edge PRACKs the trunk's 183 itself and answers the caller's.
// Then the same caller across a failover after early media.
TEST_F(EdgeEarlyMediaTest, CallerRequiring100relIsPrackedPerLegAlsoAcrossAFailover) {
  UseSlot(75);
  StartEdge(Config());
  Sipp* primary =
      StartTrunk("primary", primary_port(), "uas_100rel_answer.xml", 1, Who("primary-media"));
  Sipp* dialer = RunDialer("uac_100rel.xml", Feature("Require: 100rel"));
  EXPECT_EQ(dialer_status_, 0) << dialer->Messages();
  EXPECT_THAT(dialer->Log(), HasSubstr("BYE;OK"));
  EXPECT_EQ(primary->Wait(std::chrono::seconds(5)), 0) << primary->Messages();

  const std::vector<SipMessage> trunk = Trace(primary);
  const std::vector<SipMessage> invites = Requests(trunk, true, "INVITE");
  ASSERT_THAT(invites, SizeIs(1));
  EXPECT_THAT(invites[0].header("Supported"), HasSubstr("100rel"));
  EXPECT_THAT(invites[0].header("Require"), Not(HasSubstr("100rel")))
      << "the caller's Require is not imposed on the trunk";
  const std::vector<SipMessage> trunk_pracks = Requests(trunk, true, "PRACK");
  ASSERT_THAT(trunk_pracks, SizeIs(1)) << Describe(trunk);
  EXPECT_EQ(trunk_pracks[0].header("RAck"), absl::StrCat("7 ", invites[0].cseq(), " INVITE"));
  const std::vector<SipMessage> trunk_183 = Responses(trunk, false, "INVITE", 183);
  ASSERT_FALSE(trunk_183.empty());
  EXPECT_EQ(trunk_pracks[0].tag("To"), trunk_183[0].tag("To")) << "in the 183's dialog";

  const std::vector<SipMessage> caller = Trace(dialer);
  const std::vector<SipMessage> progress = Responses(caller, true, "INVITE", 183);
  ASSERT_FALSE(progress.empty()) << Describe(caller);
  EXPECT_THAT(progress[0].header("Require"), HasSubstr("100rel"));
  ASSERT_FALSE(progress[0].header("RSeq").empty());
  const std::vector<SipMessage> pracks = Requests(caller, false, "PRACK");
  ASSERT_THAT(pracks, SizeIs(1));
  EXPECT_EQ(pracks[0].header("RAck"), absl::StrCat(progress[0].header("RSeq"), " 1 INVITE"));
  EXPECT_THAT(Responses(caller, true, "PRACK", 200), SizeIs(1)) << Describe(caller);
  const std::optional<SipMessage> ok = Final200(caller);
  ASSERT_TRUE(ok.has_value());
  EXPECT_THAT(ok->body, HasSubstr("o=primary-media"));
  ExpectOneAnswerPerDialog(caller);
  ExpectNoLeftovers();

  // The same caller across a failover: the primary's early answer goes reliably in its own early
  // dialog, the backup's 180 reliably in the main dialog (after the 183's PRACK: one reliable
  // provisional in flight at a time), with the next RSeq of the transaction; the 200 (backup's
  // SDP) waits for the 180's PRACK.
  sipps_.clear();
  Sipp* failing =
      StartTrunk("primary2", primary_port(), "uas_early_media_fail.xml", 1, Who("primary-media"));
  Sipp* answering = StartTrunk("backup2", backup_port(), "uas_ring_then_answer.xml");
  Sipp* dialer2 = RunDialer("uac_100rel_failover.xml", Feature("Require: 100rel"));
  EXPECT_EQ(dialer_status_, 0) << dialer2->Messages();
  EXPECT_THAT(dialer2->Log(), HasSubstr("BYE;OK"));
  EXPECT_EQ(failing->Wait(std::chrono::seconds(5)), 0) << failing->Messages();
  EXPECT_EQ(answering->Wait(std::chrono::seconds(5)), 0) << answering->Messages();
  const std::vector<SipMessage> caller2 = Trace(dialer2);
  const std::vector<SipMessage> early = Responses(caller2, true, "INVITE", 183);
  const std::vector<SipMessage> ringing = Responses(caller2, true, "INVITE", 180);
  const std::optional<SipMessage> answer = Final200(caller2);
  ASSERT_FALSE(early.empty()) << Describe(caller2);
  ASSERT_FALSE(ringing.empty()) << Describe(caller2);
  ASSERT_TRUE(answer.has_value()) << Describe(caller2);
  EXPECT_THAT(early[0].body, HasSubstr("o=primary-media"));
  EXPECT_THAT(answer->body, HasSubstr("o=trunk 1 1"));
  EXPECT_NE(early[0].tag("To"), answer->tag("To"));
  EXPECT_EQ(ringing[0].tag("To"), answer->tag("To"));
  EXPECT_THAT(ringing[0].header("Require"), HasSubstr("100rel"));
  const uint64_t rseq183 = std::stoull(early[0].header("RSeq"));
  ASSERT_FALSE(ringing[0].header("RSeq").empty());
  EXPECT_EQ(std::stoull(ringing[0].header("RSeq")), rseq183 + 1);
  const std::vector<SipMessage> pracks2 = Requests(caller2, false, "PRACK");
  ASSERT_THAT(pracks2, SizeIs(2));
  EXPECT_EQ(pracks2[0].tag("To"), early[0].tag("To"));
  EXPECT_EQ(pracks2[1].tag("To"), ringing[0].tag("To"));
  size_t first_prack_at = caller2.size(), ringing_at = caller2.size();
  for (size_t i = 0; i < caller2.size(); ++i) {
    if (!caller2[i].received && caller2[i].is_request() && caller2[i].method() == "PRACK") {
      first_prack_at = std::min(first_prack_at, i);
    }
    if (caller2[i].received && caller2[i].status() == 180) ringing_at = std::min(ringing_at, i);
  }
  EXPECT_LT(first_prack_at, ringing_at) << "the 180 waits for the 183's PRACK\n"
                                        << Describe(caller2);
  EXPECT_THAT(Responses(caller2, true, "PRACK", 200), SizeIs(2)) << Describe(caller2);
  ExpectOneAnswerPerDialog(caller2);
  EXPECT_THAT(Requests(Trace(failing), true, "PRACK"), IsEmpty());
  EXPECT_THAT(Requests(Trace(answering), true, "PRACK"), IsEmpty());
  ExpectNoLeftovers();
}

// A Require the edge cannot meet is refused 420 with Unsupported naming it (never dropped), and
// nothing reaches a trunk; a method it does not handle gets 405 with the Allow it really has.
TEST_F(EdgeEarlyMediaTest, RequireTheEdgeCannotMeetGets420AndAnUnknownMethod405) {
  UseSlot(76);
  StartEdge(Config());
  Sipp* primary = StartTrunk("primary", primary_port(), "uas_answer.xml");
  Sipp* dialer = RunDialer("uac_early_media.xml", Feature("Require: 100rel, precondition"));
  EXPECT_EQ(dialer_status_, 0) << dialer->Messages();
  EXPECT_THAT(dialer->Log(), HasSubstr("FINAL;420"));

  const std::vector<SipMessage> caller = Trace(dialer);
  const std::vector<SipMessage> refused = Responses(caller, true, "INVITE", 420);
  ASSERT_THAT(refused, SizeIs(1)) << Describe(caller);
  EXPECT_EQ(refused[0].header("Unsupported"), "precondition");
  EXPECT_THAT(Requests(Trace(primary), true, "INVITE"), IsEmpty());
  EXPECT_EQ(counters().attempts.load(), 0u);
  ExpectNoLeftovers();

  // A method the edge does not handle is refused, as its Allow says.
  sipps_.clear();
  Sipp* message = RunDialer("uac_message.xml");
  EXPECT_EQ(dialer_status_, 0) << message->Messages();
  const std::vector<SipMessage> answers = Responses(Trace(message), true, "MESSAGE", 405);
  ASSERT_THAT(answers, SizeIs(1)) << message->Messages();
  EXPECT_EQ(answers[0].header("Allow"), "INVITE, ACK, BYE, CANCEL, OPTIONS, PRACK, UPDATE, INFO");
}

// A trunk's reliable 183 to a caller without 100rel: the edge PRACKs the trunk and relays the
// early answer unreliably (no Require, no RSeq towards a caller that cannot PRACK).
TEST_F(EdgeEarlyMediaTest, ReliableTrunkAndACallerWithout100relArePrackedPerLeg) {
  UseSlot(77);
  StartEdge(Config());
  Sipp* primary =
      StartTrunk("primary", primary_port(), "uas_100rel_answer.xml", 1, Who("primary-media"));
  Sipp* dialer = RunDialer("uac_early_media.xml", Feature("X-Feature: none"));
  EXPECT_EQ(dialer_status_, 0) << dialer->Messages();
  EXPECT_THAT(dialer->Log(), HasSubstr("BYE;OK"));
  EXPECT_EQ(primary->Wait(std::chrono::seconds(5)), 0) << primary->Messages();

  const std::vector<SipMessage> trunk = Trace(primary);
  EXPECT_THAT(Requests(trunk, true, "PRACK"), SizeIs(1)) << Describe(trunk);
  const std::vector<SipMessage> caller = Trace(dialer);
  const std::vector<SipMessage> progress = Responses(caller, true, "INVITE", 183);
  ASSERT_THAT(progress, SizeIs(1)) << Describe(caller);
  EXPECT_EQ(progress[0].header("RSeq"), "");
  EXPECT_THAT(progress[0].header("Require"), Not(HasSubstr("100rel")));
  EXPECT_THAT(progress[0].body, HasSubstr("o=primary-media"));
  const std::optional<SipMessage> ok = Final200(caller);
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->body, progress[0].body);
  ExpectOneAnswerPerDialog(caller);
  ExpectNoLeftovers();
}

}  // namespace
}  // namespace trunkroute::sip::testing
