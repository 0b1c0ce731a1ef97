// On the wire (SIPp both sides): every SDP offer and answer that crosses the edge is filtered by
// the trunk's codec list (issue 11 item 3: sip/sdp_policy.h), and session timers (RFC 4028) pass
// through (item 4). Each test asserts on the bodies and headers each peer received.
#include <chrono>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/sip/edge_test_fixture.h"

namespace trunkroute::sip::testing {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;

// Slots 78–84 (see EdgeE2eTest::UseSlot).
class EdgeSdpTimerTest : public EdgeE2eTest {};

// The m= line of an SDP body (bodies are LF-terminated in traces), "" when none.
std::string MediaLine(const std::string& body) {
  const size_t at = body.find("m=audio ");
  if (at == std::string::npos) return "";
  return body.substr(at, body.find('\n', at) - at);
}

// The payload types of an m= line, after the port and protocol: "0 101".
std::string Formats(const std::string& body) {
  const std::string m = MediaLine(body);
  size_t at = m.find("RTP/AVP ");
  return at == std::string::npos ? "" : m.substr(at + 8);
}

std::string Port(const std::string& body) {
  const std::string m = MediaLine(body);
  if (m.empty()) return "";
  const size_t start = m.find(' ') + 1;
  return m.substr(start, m.find(' ', start) - start);
}

// The messages of `trace` whose body carries `origin` (an o= line's "o=alice 1 2").
std::vector<SipMessage> WithOrigin(const std::vector<SipMessage>& trace, bool received,
                                   const std::string& origin) {
  std::vector<SipMessage> out;
  for (const SipMessage& m : trace) {
    if (m.received == received && m.body.find(origin + " ") != std::string::npos) {
      out.push_back(m);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Item 3: every offer and answer is filtered

// The trunk allows PCMU, PCMA and telephone-event (the default: G.729 off). Offers both ways
// (re-INVITE from the caller, UPDATE from the trunk) and the answers (183, 200, 200 to the
// re-INVITE and the UPDATE) lose G.729; an offer of G.729 only is refused 488 to whichever side
// sent it, the other leg never sees it, and the call stays up.
TEST_F(EdgeSdpTimerTest, EveryOfferAndAnswerIsFilteredBothWaysAndAnUnusableOfferGets488) {
  UseSlot(78);
  StartEdge(Config());
  Sipp* primary = StartTrunk("primary", primary_port(), "uas_sdp_policy.xml");
  Sipp* dialer = RunDialer("uac_sdp_policy.xml");
  EXPECT_EQ(dialer_status_, 0) << dialer->Messages();
  EXPECT_EQ(primary->Wait(std::chrono::seconds(5)), 0) << primary->Messages();
  EXPECT_THAT(dialer->Log(), HasSubstr("REOFFER;488"));
  EXPECT_THAT(dialer->Log(), HasSubstr("BYE;OK")) << "the refused offers must not end the call";
  EXPECT_THAT(primary->Log(), HasSubstr("UPDATE;488"));

  const std::vector<SipMessage> caller = Trace(dialer);
  const std::vector<SipMessage> trunk = Trace(primary);

  // Towards the trunk: the first offer and the re-INVITE's offer without G.729; the G.729-only
  // re-INVITE never arrives.
  const std::vector<SipMessage> invites = Requests(trunk, true, "INVITE");
  ASSERT_THAT(invites, SizeIs(2)) << Describe(trunk);
  EXPECT_EQ(Formats(invites[0].body), "0 8 101") << invites[0].body;
  EXPECT_THAT(invites[0].body, Not(HasSubstr("G729")));
  EXPECT_THAT(invites[1].body, HasSubstr("o=alice 1 2 "));
  EXPECT_EQ(Formats(invites[1].body), "0 101") << invites[1].body;
  EXPECT_THAT(invites[1].body, Not(HasSubstr("G729")));
  EXPECT_THAT(WithOrigin(trunk, true, "o=alice 1 3"), IsEmpty()) << Describe(trunk);

  // Towards the caller: the trunk's 183 and 200 answers, its answer to the re-INVITE and its
  // UPDATE offer, each without G.729.
  const std::vector<SipMessage> early = Responses(caller, true, "INVITE", 183);
  ASSERT_THAT(early, SizeIs(1)) << Describe(caller);
  EXPECT_EQ(Formats(early[0].body), "0") << early[0].body;
  const std::vector<SipMessage> answers = Responses(caller, true, "INVITE", 200);
  ASSERT_THAT(answers, SizeIs(2)) << Describe(caller);
  EXPECT_THAT(answers[0].body, HasSubstr("o=trunk 1 1 "));
  EXPECT_EQ(Formats(answers[0].body), "0") << answers[0].body;
  EXPECT_THAT(answers[1].body, HasSubstr("o=trunk 1 2 "));
  EXPECT_EQ(Formats(answers[1].body), "0") << answers[1].body;
  for (const SipMessage& m : caller) {
    if (m.received) {
      EXPECT_THAT(m.body, Not(HasSubstr("G729"))) << m.Summary();
    }
  }
  const std::vector<SipMessage> refused = Responses(caller, true, "INVITE", 488);
  ASSERT_THAT(refused, SizeIs(1)) << Describe(caller);
  EXPECT_EQ(refused[0].cseq(), 3u);

  const std::vector<SipMessage> updates = Requests(caller, true, "UPDATE");
  ASSERT_THAT(updates, SizeIs(1)) << "the G.729-only UPDATE must not reach the caller: "
                                  << Describe(caller);
  EXPECT_THAT(updates[0].body, HasSubstr("o=trunk 1 3 "));
  EXPECT_EQ(Formats(updates[0].body), "0 101") << updates[0].body;

  // The caller's answer to the UPDATE reaches the trunk without G.729; the trunk's G.729-only
  // UPDATE got 488 from the edge.
  const std::vector<SipMessage> update_answers = Responses(trunk, true, "UPDATE", 200);
  ASSERT_THAT(update_answers, SizeIs(1)) << Describe(trunk);
  EXPECT_THAT(update_answers[0].body, HasSubstr("o=alice 1 4 "));
  EXPECT_EQ(Formats(update_answers[0].body), "0 101") << update_answers[0].body;
  const std::vector<SipMessage> update_refused = Responses(trunk, true, "UPDATE", 488);
  ASSERT_THAT(update_refused, SizeIs(1)) << Describe(trunk);
  EXPECT_EQ(update_refused[0].cseq(), 2u);

  EXPECT_THAT(Requests(trunk, true, "BYE"), SizeIs(1)) << Describe(trunk);
  EXPECT_EQ(counters().offers_refused.load(), 2u);
  EXPECT_EQ(counters().calls_answered.load(), 1u);
  ExpectNoLeftovers();
}

// An INVITE without SDP: the trunk's offer (in its 200) reaches the caller without G.729, and
// the caller's answer (in its ACK) reaches the trunk without G.729.
TEST_F(EdgeSdpTimerTest, LateOfferInTheTrunks200AndTheAnswerInTheAckAreFiltered) {
  UseSlot(79);
  StartEdge(Config());
  Sipp* primary =
      StartTrunk("primary", primary_port(), "uas_late_offer.xml", 1, {"-key", "pts", "18 0 101"});
  Sipp* dialer = RunDialer("uac_late_offer.xml");
  EXPECT_EQ(dialer_status_, 0) << dialer->Messages();
  EXPECT_THAT(dialer->Log(), HasSubstr("BYE;OK")) << dialer->Messages();
  EXPECT_EQ(primary->Wait(std::chrono::seconds(5)), 0) << primary->Messages();

  const std::vector<SipMessage> trunk = Trace(primary);
  const std::vector<SipMessage> invites = Requests(trunk, true, "INVITE");
  ASSERT_THAT(invites, SizeIs(1));
  EXPECT_EQ(invites[0].body, "") << "no offer to filter: the INVITE goes without a body";

  const std::vector<SipMessage> answers = Responses(Trace(dialer), true, "INVITE", 200);
  ASSERT_THAT(answers, SizeIs(1));
  EXPECT_THAT(answers[0].body, HasSubstr("o=trunk 1 1 "));
  EXPECT_EQ(Formats(answers[0].body), "0 101") << answers[0].body;
  EXPECT_THAT(answers[0].body, Not(HasSubstr("G729")));

  const std::vector<SipMessage> acks = Requests(trunk, true, "ACK");
  ASSERT_THAT(acks, SizeIs(1)) << Describe(trunk);
  EXPECT_THAT(acks[0].body, HasSubstr("o=alice 1 1 "));
  EXPECT_EQ(Formats(acks[0].body), "0") << acks[0].body;
  EXPECT_THAT(acks[0].body, Not(HasSubstr("G729")));
  EXPECT_THAT(acks[0].header("Content-Type"), HasSubstr("application/sdp"));
  ExpectNoLeftovers();
}

// An INVITE without SDP answered by a 200 that offers only G.729: the edge ACKs it with every
// stream declined (RFC 3261 §13.2.2.4: an unacceptable offer in a 2xx is answered, then BYEd),
// BYEs the trunk and the caller gets 488; the trunk answered, so its health is untouched.
TEST_F(EdgeSdpTimerTest, LateOfferWithNoAllowedCodecIsAckedDeclinedByedAndTheCallerGets488) {
  UseSlot(80);
  StartEdge(Config());
  Sipp* primary =
      StartTrunk("primary", primary_port(), "uas_late_offer.xml", 1, {"-key", "pts", "18"});
  Sipp* dialer = RunDialer("uac_late_offer.xml");
  EXPECT_EQ(dialer_status_, 0) << dialer->Messages();
  EXPECT_THAT(dialer->Log(), HasSubstr("FINAL;488")) << dialer->Messages();
  EXPECT_EQ(primary->Wait(std::chrono::seconds(5)), 0) << primary->Messages();

  const std::vector<SipMessage> caller = Trace(dialer);
  EXPECT_THAT(Responses(caller, true, "INVITE", 200), IsEmpty()) << Describe(caller);
  const std::vector<SipMessage> trunk = Trace(primary);
  const std::vector<SipMessage> acks = Requests(trunk, true, "ACK");
  ASSERT_THAT(acks, SizeIs(1)) << Describe(trunk);
  EXPECT_EQ(Port(acks[0].body), "0") << "every stream declined: " << acks[0].body;
  const std::vector<SipMessage> byes = Requests(trunk, true, "BYE");
  ASSERT_THAT(byes, SizeIs(1)) << Describe(trunk);
  EXPECT_EQ(byes[0].tag("To"), acks[0].tag("To"));
  EXPECT_THAT(Requests(trunk, true, "INVITE"), SizeIs(1))
      << "one attempt: the trunk's answer is not a failover";
  EXPECT_EQ(counters().offers_refused.load(), 1u);
  EXPECT_EQ(counters().calls_answered.load(), 0u);
  v1::TrunkHealth h;
  ASSERT_TRUE(harness_->health().Get("primary", &h));
  EXPECT_EQ(h.consecutive_failures(), 0u);
  ExpectNoLeftovers();
}

// ---------------------------------------------------------------------------------------------
// Item 4: session timers (RFC 4028) relayed end to end

// "timer" anywhere in a message's Supported headers (one header or several).
bool SupportsTimer(const SipMessage& m) {
  for (const std::string& v : m.all_headers("Supported")) {
    if (v.find("timer") != std::string::npos) return true;
  }
  return false;
}

// A 90 s session refreshed by the caller (refresher=uac) through a trunk whose Min-SE is 120.
// The test does not wait 45 s for the refresh: the dialer refreshes at once (an UPDATE without
// SDP, then a re-INVITE), and the test checks what a refresh must carry on each leg and that it
// reaches the other side and back. The edge keeps no timer of its own (nothing would BYE a leg).
TEST_F(EdgeSdpTimerTest,
       SessionTimersAreRelayedA422IsRetriedWithItsMinSeAndRefreshesReachBothLegs) {
  UseSlot(81);
  StartEdge(Config());
  // Two "calls" for SIPp: the 422'd INVITE and the re-sent one (a new transaction and Call-ID).
  Sipp* primary = StartTrunk("primary", primary_port(), "uas_session_timer.xml", 2);
  Sipp* dialer = RunDialer("uac_session_timer.xml");
  EXPECT_EQ(dialer_status_, 0) << dialer->Messages();
  EXPECT_THAT(dialer->Log(), HasSubstr("REFRESH;200"));
  EXPECT_THAT(dialer->Log(), HasSubstr("REINVITE;200"));
  EXPECT_THAT(dialer->Log(), HasSubstr("BYE;OK"));
  EXPECT_EQ(primary->Wait(std::chrono::seconds(5)), 0) << primary->Messages();

  const std::vector<SipMessage> trunk = Trace(primary);
  const std::vector<SipMessage> caller = Trace(dialer);

  // Leg B: the caller's timer relayed; after the 422 the same trunk gets it again with its Min-SE.
  std::vector<SipMessage> invites = Requests(trunk, true, "INVITE");
  ASSERT_THAT(invites, SizeIs(3)) << Describe(trunk);  // 422'd, re-sent, re-INVITE refresh
  EXPECT_EQ(invites[0].header("Session-Expires"), "90;refresher=uac");
  EXPECT_EQ(invites[0].header("Min-SE"), "90");
  EXPECT_TRUE(SupportsTimer(invites[0])) << invites[0].Summary();
  EXPECT_THAT(Responses(trunk, false, "INVITE", 422), SizeIs(1));
  EXPECT_EQ(invites[1].header("Session-Expires"), "120;refresher=uac");
  EXPECT_EQ(invites[1].header("Min-SE"), "120");
  EXPECT_TRUE(SupportsTimer(invites[1]));
  EXPECT_EQ(Formats(invites[1].body), "0 101") << "the re-sent INVITE keeps the offer";

  // Leg A: the trunk's answer, never longer than the caller asked for, with Require: timer
  // (refresher=uac: the caller refreshes, RFC 4028 §9); one Session-Expires, none of nua's own.
  const std::vector<SipMessage> answers = Responses(caller, true, "INVITE", 200);
  ASSERT_THAT(answers, SizeIs(2)) << Describe(caller);
  EXPECT_THAT(answers[0].all_headers("Session-Expires"),
              ::testing::ElementsAre("90;refresher=uac"));
  EXPECT_THAT(answers[0].header("Require"), HasSubstr("timer"));
  EXPECT_TRUE(SupportsTimer(answers[0]));
  EXPECT_THAT(Responses(caller, true, "INVITE", 422), IsEmpty()) << "the 422 stays on leg B";

  // The refreshes: the caller's UPDATE and re-INVITE reach the trunk with the interval, and the
  // trunk's answers come back.
  const std::vector<SipMessage> updates = Requests(trunk, true, "UPDATE");
  ASSERT_THAT(updates, SizeIs(1)) << Describe(trunk);
  EXPECT_EQ(updates[0].header("Session-Expires"), "90;refresher=uac");
  EXPECT_TRUE(SupportsTimer(updates[0]));
  EXPECT_EQ(updates[0].body, "");
  const std::vector<SipMessage> update_answers = Responses(caller, true, "UPDATE", 200);
  ASSERT_THAT(update_answers, SizeIs(1)) << Describe(caller);
  EXPECT_EQ(update_answers[0].header("Session-Expires"), "90;refresher=uac");
  EXPECT_THAT(update_answers[0].header("Require"), HasSubstr("timer"));
  EXPECT_EQ(invites[2].header("Session-Expires"), "90;refresher=uac");
  EXPECT_EQ(answers[1].header("Session-Expires"), "90;refresher=uac");

  // The 422 is part of the attempt: no failover, no failure against the trunk.
  EXPECT_EQ(counters().attempts.load(), 1u);
  EXPECT_EQ(counters().failovers.load(), 0u);
  EXPECT_EQ(counters().session_timer_retries.load(), 1u);
  v1::TrunkHealth h;
  ASSERT_TRUE(harness_->health().Get("primary", &h));
  EXPECT_EQ(h.consecutive_failures(), 0u);
  EXPECT_THAT(Requests(trunk, true, "BYE"), SizeIs(1));
  ExpectNoLeftovers();
}

}  // namespace
}  // namespace trunkroute::sip::testing
