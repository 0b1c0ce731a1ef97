// On the wire, with SIPp on both sides of the edge, what was only unit-tested before: digest
// answers to a proxy's 407, caller-ID rewriting per trunk, session changes the trunk starts
// (re-INVITE, UPDATE), a BYE while a relayed re-INVITE is pending, and a CANCEL racing a 200.
// Every test asserts on the messages each side received (from the peers' message traces), not
// only on how the call ended.
#include <chrono>
#include <map>
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

// Slots 60–69 (see EdgeE2eTest::UseSlot).
class EdgeWireTest : public EdgeE2eTest {};

// ---------------------------------------------------------------------------------------------
// 407 Proxy Authentication Required

TEST_F(EdgeWireTest, ProxyChallengeIsAnsweredWithTheTrunksCredentials) {
  UseSlot(60);
  ConfigVars v;
  v.primary_extra = R"(, "username": "acme", "password": "s3cret")";
  StartEdge(Config(v));
  Sipp* primary = StartTrunk("primary", primary_port(), "uas_proxy_auth.xml");
  Sipp* dialer = RunDialer("uac_call.xml");
  EXPECT_THAT(dialer->Log(), HasSubstr("BYE;OK")) << dialer->Messages();
  EXPECT_EQ(primary->Wait(std::chrono::seconds(5)), 0) << primary->Messages();

  const std::vector<SipMessage> trunk = Trace(primary);
  const std::vector<SipMessage> invites = Requests(trunk, /*received=*/true, "INVITE");
  ASSERT_THAT(invites, SizeIs(2)) << Describe(trunk);
  const std::vector<SipMessage> challenges = Responses(trunk, /*received=*/false, "INVITE", 407);
  ASSERT_THAT(challenges, SizeIs(1)) << Describe(trunk);
  EXPECT_EQ(invites[0].header("Proxy-Authorization"), "") << "nothing to answer yet";

  // RFC 3261 §22.2: the retried INVITE is the same request in the same call, CSeq + 1, and
  // answers the proxy in Proxy-Authorization (never Authorization, which is for a 401).
  const SipMessage& retry = invites[1];
  EXPECT_EQ(retry.header("Call-ID"), invites[0].header("Call-ID"));
  EXPECT_EQ(retry.tag("From"), invites[0].tag("From"));
  EXPECT_EQ(retry.cseq(), invites[0].cseq() + 1);
  EXPECT_EQ(retry.header("Authorization"), "");
  const std::string answer = retry.header("Proxy-Authorization");
  ASSERT_THAT(answer, HasSubstr("Digest ")) << retry.Summary();
  const std::map<std::string, std::string> got = DigestParams(answer);
  const std::map<std::string, std::string> asked =
      DigestParams(challenges[0].header("Proxy-Authenticate"));
  EXPECT_EQ(got.at("username"), "acme");
  EXPECT_EQ(got.at("realm"), "carrier.example");
  EXPECT_EQ(got.at("nonce"), asked.at("nonce"));
  EXPECT_EQ(got.at("opaque"), asked.at("opaque")) << "RFC 2617 §3.2.2: opaque is returned";
  EXPECT_EQ(got.at("uri"), retry.request_uri());
  EXPECT_EQ(got.at("qop"), "auth");
  ASSERT_TRUE(got.count("cnonce") && got.count("nc")) << answer;
  EXPECT_EQ(got.at("response"), ExpectedDigestResponse("INVITE", "acme", "s3cret", got))
      << "the digest must be computed with the trunk's password";

  EXPECT_EQ(counters().attempts.load(), 1u) << "an answered challenge is the same attempt";
  EXPECT_EQ(counters().auth_failures.load(), 0u);
  v1::TrunkHealth h;
  ASSERT_TRUE(harness_->health().Get("primary", &h));
  EXPECT_EQ(h.consecutive_failures(), 0u) << "a challenge is not a failure";
  ExpectNoLeftovers();
}

// ---------------------------------------------------------------------------------------------
// Caller-ID per trunk (design.md §2: From/PAI preserved by default; sip:+E164@trunk-domain when
// rewriting)

TEST_F(EdgeWireTest, E164PolicyPresentsTheNationalCallerAsPlusE164AtTheTrunkDomain) {
  UseSlot(61);
  ConfigVars v;
  v.primary_extra =
      R"(, "caller_id": {"mode": "CALLER_ID_MODE_E164", "domain": "carrier.example",
                         "default_country_code": "1"})";
  StartEdge(Config(v));
  Sipp* primary = StartTrunk("primary", primary_port(), "uas_answer.xml");
  // A dialer that presents the caller nationally (From and P-Asserted-Identity).
  Sipp* dialer = RunDialer("uac_call_as.xml", {"-key", "caller", "5550001111"});
  EXPECT_THAT(dialer->Log(), HasSubstr("BYE;OK")) << dialer->Messages();

  const std::vector<SipMessage> invites = Requests(Trace(primary), true, "INVITE");
  ASSERT_THAT(invites, SizeIs(1));
  const SipMessage& invite = invites[0];
  EXPECT_EQ(invite.without_tag("From"), "\"Alice\" <sip:+15550001111@carrier.example>");
  EXPECT_FALSE(invite.tag("From").empty());
  const std::vector<SipMessage> sent = Requests(Trace(dialer), false, "INVITE");
  ASSERT_THAT(sent, SizeIs(1));
  EXPECT_NE(invite.tag("From"), sent[0].tag("From")) << "leg B has its own From tag";
  EXPECT_EQ(invite.header("P-Asserted-Identity"), "<sip:+15550001111@carrier.example>");
  EXPECT_THAT(invite.header("P-Asserted-Identity"), Not(HasSubstr("dialer.example")));
  ExpectNoLeftovers();
}

TEST_F(EdgeWireTest, EachAttemptPresentsItsOwnTrunksCallerId) {
  UseSlot(62);
  ConfigVars v;
  // The primary presents one fixed number (at its host, the default domain) and fails over;
  // the backup preserves what the caller sent.
  v.primary_extra =
      R"(, "caller_id": {"mode": "CALLER_ID_MODE_FIXED", "fixed_number": "+18005550199"})";
  StartEdge(Config(v));
  Sipp* primary = StartTrunk("primary", primary_port(), "uas_503.xml");
  Sipp* backup = StartTrunk("backup", backup_port(), "uas_answer.xml");
  Sipp* dialer = RunDialer("uac_call.xml");
  EXPECT_THAT(dialer->Log(), HasSubstr("BYE;OK")) << dialer->Messages();

  const std::vector<SipMessage> to_primary = Requests(Trace(primary), true, "INVITE");
  ASSERT_THAT(to_primary, SizeIs(1));
  EXPECT_EQ(to_primary[0].without_tag("From"), "\"Alice\" <sip:+18005550199@127.0.0.1>");
  EXPECT_EQ(to_primary[0].header("P-Asserted-Identity"), "<sip:+18005550199@127.0.0.1>");

  const std::vector<SipMessage> to_backup = Requests(Trace(backup), true, "INVITE");
  ASSERT_THAT(to_backup, SizeIs(1));
  EXPECT_THAT(to_backup[0].without_tag("From"),
              ::testing::MatchesRegex(R"("Alice" <sip:\+15550001111@127\.0\.0\.1:[0-9]+>)"));
  EXPECT_EQ(to_backup[0].header("P-Asserted-Identity"),
            "\"Alice\" <sip:+15550001111@dialer.example>")
      << "the primary's rewrite must not leak into the next attempt";
  ExpectNoLeftovers();
}

// ---------------------------------------------------------------------------------------------
// Session changes started by the trunk

TEST_F(EdgeWireTest, TrunkReInviteAndUpdateAreRelayedToTheCallerWithTheirAnswers) {
  UseSlot(63);
  StartEdge(Config());
  Sipp* primary = StartTrunk("primary", primary_port(), "uas_reoffer_from_trunk.xml");
  Sipp* dialer = RunDialer("uac_reoffer_from_trunk.xml");
  EXPECT_EQ(dialer_status_, 0) << dialer->Messages();
  EXPECT_EQ(primary->Wait(std::chrono::seconds(5)), 0) << primary->Messages();
  EXPECT_THAT(primary->Log(), HasSubstr("REINVITE;200"));
  EXPECT_THAT(primary->Log(), HasSubstr("UPDATE;200"));

  const std::vector<SipMessage> caller = Trace(dialer);
  const std::vector<SipMessage> trunk = Trace(primary);
  const std::vector<SipMessage> caller_sent_invite = Requests(caller, false, "INVITE");
  ASSERT_THAT(caller_sent_invite, SizeIs(1));
  const std::string caller_tag = caller_sent_invite[0].tag("From");

  // The caller got each of the trunk's offers, in its own dialog (the edge's To-tag towards it,
  // its tag in To), with the trunk's SDP.
  const std::vector<SipMessage> reinvites = Requests(caller, true, "INVITE");
  ASSERT_THAT(reinvites, SizeIs(1)) << Describe(caller);
  EXPECT_EQ(reinvites[0].tag("To"), caller_tag);
  EXPECT_EQ(reinvites[0].header("Call-ID"), caller_sent_invite[0].header("Call-ID"));
  EXPECT_THAT(reinvites[0].body, HasSubstr("o=trunk 1 2"));
  EXPECT_THAT(reinvites[0].body, HasSubstr("a=sendonly"));
  const std::vector<SipMessage> updates = Requests(caller, true, "UPDATE");
  ASSERT_THAT(updates, SizeIs(1)) << Describe(caller);
  EXPECT_EQ(updates[0].tag("To"), caller_tag);
  EXPECT_THAT(updates[0].body, HasSubstr("o=trunk 1 3"));
  EXPECT_GT(updates[0].cseq(), reinvites[0].cseq()) << "the edge's own CSeq space towards us";
  // The caller's 200 to the relayed re-INVITE was ACKed.
  EXPECT_THAT(Requests(caller, true, "ACK"), SizeIs(1)) << Describe(caller);

  // The trunk got the caller's answers to its own requests, and the re-INVITE's ACK reached the
  // edge (the trunk sent it: nothing retransmitted).
  const std::vector<SipMessage> reinvite_answers = Responses(trunk, true, "INVITE", 200);
  ASSERT_FALSE(reinvite_answers.empty());
  EXPECT_THAT(reinvite_answers.back().body, HasSubstr("o=alice 1 2"));
  EXPECT_THAT(reinvite_answers.back().body, HasSubstr("a=recvonly"));
  const std::vector<SipMessage> update_answers = Responses(trunk, true, "UPDATE", 200);
  ASSERT_THAT(update_answers, SizeIs(1));
  EXPECT_THAT(update_answers[0].body, HasSubstr("o=alice 1 3"));
  EXPECT_THAT(update_answers[0].body, HasSubstr("a=sendrecv"));
  EXPECT_THAT(Requests(trunk, true, "BYE"), SizeIs(1));
  ExpectNoLeftovers();
}

// ---------------------------------------------------------------------------------------------
// BYE while a relayed re-INVITE is pending

// The trunk never answers the re-INVITE: the caller's BYE must still end both legs, the
// caller's re-INVITE must get a final (it would retransmit for 32 s otherwise), and the edge
// must let go of every handle.
TEST_F(EdgeWireTest, ByeDuringARelayedReInviteTheTrunkNeverAnswersEndsBothLegs) {
  UseSlot(64);
  StartEdge(Config());
  Sipp* primary = StartTrunk("primary", primary_port(), "uas_silent_on_reinvite.xml");
  Sipp* dialer = RunDialer("uac_bye_during_reinvite.xml");
  EXPECT_EQ(dialer_status_, 0) << dialer->Messages();
  EXPECT_THAT(dialer->Log(), HasSubstr("BYE;OK"));
  EXPECT_THAT(dialer->Log(), HasSubstr("REINVITE;FINAL;"));
  EXPECT_EQ(primary->Wait(std::chrono::seconds(5)), 0) << primary->Messages();
  EXPECT_THAT(primary->Log(), HasSubstr("REINVITE"));
  EXPECT_THAT(primary->Log(), HasSubstr("BYE"));
  ExpectNoLeftovers();
}

// The trunk holds the re-INVITE and answers it 487 after the BYE (RFC 3261 §15.1.2): the edge
// ACKs that 487 (hop by hop) and relays nothing after the call ended.
TEST_F(EdgeWireTest, ByeDuringARelayedReInviteTheTrunkThen487sEndsBothLegs) {
  UseSlot(65);
  StartEdge(Config());
  Sipp* primary = StartTrunk("primary", primary_port(), "uas_reinvite_487_after_bye.xml");
  Sipp* dialer = RunDialer("uac_bye_during_reinvite.xml");
  EXPECT_EQ(dialer_status_, 0) << dialer->Messages();
  EXPECT_THAT(dialer->Log(), HasSubstr("BYE;OK"));
  EXPECT_THAT(dialer->Log(), HasSubstr("REINVITE;FINAL;"));
  EXPECT_EQ(primary->Wait(std::chrono::seconds(5)), 0) << primary->Messages();
  EXPECT_THAT(primary->Log(), HasSubstr("ACK487"));
  ExpectNoLeftovers();
}

// ---------------------------------------------------------------------------------------------
// CANCEL racing a 200 (RFC 3261 §9.2, §15): the 200 wins.

// The edge's CANCEL and the trunk's 200 cross: the caller (who CANCELed first) gets 487 and
// never a 200; the trunk's call is live, so the edge ACKs its 200 and then BYEs it.
TEST_F(EdgeWireTest, TrunkAnswerCrossingTheCancelIsAckedThenByed) {
  UseSlot(66);
  StartEdge(Config());
  Sipp* primary = StartTrunk("primary", primary_port(), "uas_answer_crossing_cancel.xml");
  Sipp* dialer = RunDialer("uac_cancel.xml");
  EXPECT_EQ(dialer_status_, 0) << dialer->Messages();
  EXPECT_EQ(primary->Wait(std::chrono::seconds(5)), 0) << primary->Messages();

  const std::vector<SipMessage> caller = Trace(dialer);
  EXPECT_THAT(Responses(caller, true, "INVITE", 487), SizeIs(1)) << Describe(caller);
  EXPECT_THAT(Responses(caller, true, "INVITE", 200), IsEmpty()) << Describe(caller);

  const std::vector<SipMessage> trunk = Trace(primary);
  const std::vector<SipMessage> answers = Responses(trunk, false, "INVITE", 200);
  ASSERT_FALSE(answers.empty());
  const std::vector<SipMessage> acks = Requests(trunk, true, "ACK");
  const std::vector<SipMessage> byes = Requests(trunk, true, "BYE");
  ASSERT_THAT(acks, SizeIs(1)) << Describe(trunk);
  ASSERT_THAT(byes, SizeIs(1)) << Describe(trunk);
  // In the dialog the 200 made (its To-tag), ACK first, then BYE.
  EXPECT_EQ(acks[0].tag("To"), answers[0].tag("To"));
  EXPECT_EQ(byes[0].tag("To"), answers[0].tag("To"));
  EXPECT_EQ(acks[0].cseq(), answers[0].cseq());
  EXPECT_GT(byes[0].cseq(), acks[0].cseq());
  size_t ack_at = 0, bye_at = 0;
  for (size_t i = 0; i < trunk.size(); ++i) {
    if (trunk[i].received && trunk[i].method() == "ACK" && trunk[i].is_request()) ack_at = i;
    if (trunk[i].received && trunk[i].method() == "BYE" && trunk[i].is_request()) bye_at = i;
  }
  EXPECT_LT(ack_at, bye_at) << "RFC 3261 §13.2.2.4: the 2xx is ACKed before the BYE";
  EXPECT_EQ(counters().late_answers_cleared.load(), 1u);
  EXPECT_EQ(counters().calls_answered.load(), 0u);
  ExpectNoLeftovers();
}

// The caller's CANCEL arrives after the edge relayed the trunk's 200: it changes nothing (no
// 487 after a 200, and nothing reaches the trunk); the caller ACKs and BYEs as §15 asks, and the
// edge relays both to the trunk.
TEST_F(EdgeWireTest, CancelAfterTheAnswerWasRelayedGetsNo487AndTheCallIsByedNormally) {
  UseSlot(67);
  StartEdge(Config());
  Sipp* primary = StartTrunk("primary", primary_port(), "uas_answer.xml");
  Sipp* dialer = RunDialer("uac_cancel_after_200.xml");
  EXPECT_EQ(dialer_status_, 0) << dialer->Messages();
  EXPECT_THAT(dialer->Log(), HasSubstr("BYE;OK"));
  EXPECT_EQ(primary->Wait(std::chrono::seconds(5)), 0) << primary->Messages();

  const std::vector<SipMessage> caller = Trace(dialer);
  EXPECT_THAT(Responses(caller, true, "INVITE", 487), IsEmpty()) << Describe(caller);
  const std::vector<SipMessage> cancel_answers = Responses(caller, true, "CANCEL");
  ASSERT_THAT(cancel_answers, SizeIs(1)) << Describe(caller);
  EXPECT_THAT(cancel_answers[0].status(), ::testing::AnyOf(200, 481));

  const std::vector<SipMessage> trunk = Trace(primary);
  EXPECT_THAT(Requests(trunk, true, "CANCEL"), IsEmpty()) << Describe(trunk);
  const std::vector<SipMessage> answers = Responses(trunk, false, "INVITE", 200);
  ASSERT_FALSE(answers.empty());
  const std::vector<SipMessage> acks = Requests(trunk, true, "ACK");
  const std::vector<SipMessage> byes = Requests(trunk, true, "BYE");
  ASSERT_THAT(acks, SizeIs(1)) << Describe(trunk);
  ASSERT_THAT(byes, SizeIs(1)) << Describe(trunk);
  EXPECT_EQ(acks[0].tag("To"), answers[0].tag("To"));
  EXPECT_EQ(byes[0].tag("To"), answers[0].tag("To"));
  EXPECT_EQ(counters().calls_answered.load(), 1u);
  ExpectNoLeftovers();
}

}  // namespace
}  // namespace trunkroute::sip::testing
