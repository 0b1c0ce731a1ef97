// End-to-end call handling through the SIP edge, with SIPp as the dialer and as the trunks on
// 127.0.0.1: relaying, serial failover (503, silence), callee finals, CANCEL, BYE both ways,
// the edge's own rejections (403, 483, 482, 404, 488), digest auth, late answers.
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/sip/edge_test_fixture.h"

namespace trunkroute::sip::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

// What the metrics hooks saw, one line per call ("failover e164 primary->backup 503").
class RecordingObserver : public EdgeObserver {
 public:
  void OnDecision(std::string_view route, std::string_view result, Duration) override {
    Add("decision " + std::string(route) + " " + std::string(result));
  }
  void OnFailover(std::string_view route, std::string_view from, std::string_view to,
                  std::string_view reason) override {
    Add("failover " + std::string(route) + " " + std::string(from) + "->" + std::string(to) + " " +
        std::string(reason));
  }
  void OnPostDialDelay(std::string_view trunk, Duration) override {
    Add("pdd " + std::string(trunk));
  }
  void OnRejected(int status, std::string_view reason) override {
    Add("rejected " + std::to_string(status) + " " + std::string(reason));
  }
  void OnActiveCalls(std::string_view trunk, int delta) override {
    absl::MutexLock l(&mu_);
    active_[std::string(trunk)] += delta;
  }
  std::vector<std::string> lines() {
    absl::MutexLock l(&mu_);
    return lines_;
  }
  int active(const std::string& trunk) {
    absl::MutexLock l(&mu_);
    return active_[trunk];
  }

 private:
  void Add(std::string line) {
    absl::MutexLock l(&mu_);
    lines_.push_back(std::move(line));
  }
  absl::Mutex mu_;
  std::vector<std::string> lines_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> active_ ABSL_GUARDED_BY(mu_);
};

// The dialer's "FINAL;<code>;<reason>" line.
std::string FinalLine(Sipp* dialer) {
  std::string log = dialer->Log();
  size_t p = log.find("FINAL;");
  if (p == std::string::npos) return "(no final) " + log;
  return log.substr(p, log.find('\n', p) - p);
}

// The transaction timers reach Sofia's transaction layer (read back from it, not from our
// constants): T4 shortened to 1 s (Timers I and K: how long a finished server INVITE and a
// finished client BYE are kept, with their messages), T1×64 4 s (the floor above this config's
// 500 ms setup timeout).
TEST_F(EdgeE2eTest, StackRunsWithTheShortenedTransactionTimers) {
  UseSlot(120);
  StartEdge(Config());
  ASSERT_TRUE(Eventually([&] { return counters().stack_t4_ms.load() != 0; }))
      << "the stack never reported its parameters";
  EXPECT_EQ(counters().stack_t4_ms.load(), 1000u);
  EXPECT_EQ(counters().stack_t1x64_ms.load(), 4000u);
}

// Timer D (sip/sofia_timer_d.h): the trunk-side INVITE transaction of a finished call is freed
// 5 s after the trunk's 200, not after Sofia's 32 s. The count is read from nta's own queue.
TEST_F(EdgeE2eTest, FinishedTrunkInviteIsFreedAfterTheShortenedTimerD) {
  UseSlot(137);
  StartEdge(Config());
  ASSERT_TRUE(Eventually([&] { return counters().stack_timer_d_ms.load() != 0; }))
      << "Sofia's layout was not recognised (see the edge's warning)";
  EXPECT_EQ(counters().stack_timer_d_ms.load(), 5000u);
  StartTrunk("primary", primary_port(), "uas_answer.xml");
  StartTrunk("backup", backup_port(), "uas_answer.xml");
  Sipp* dialer = RunDialer("uac_call.xml");
  EXPECT_THAT(dialer->Log(), HasSubstr("BYE;OK")) << dialer->Messages();
  ASSERT_TRUE(Eventually([&] { return counters().stack_invites_in_timer_d.load() == 1; }))
      << counters().stack_invites_in_timer_d.load();
  EXPECT_TRUE(Eventually([&] { return counters().stack_invites_in_timer_d.load() == 0; },
                         std::chrono::seconds(10)))
      << "still waiting for Timer D: " << counters().stack_invites_in_timer_d.load();
  ExpectNoLeftovers();
}

// The control: without short_timer_d the queue is found but not written, the stack reports
// Sofia's own 32 s, and the same call's INVITE transaction is still held well after 5 s.
TEST_F(EdgeE2eTest, WithoutShortTimerDTheStackKeepsSofiasOwn32s) {
  UseSlot(138);
  EdgeOptions options;
  options.short_timer_d = false;
  StartEdge(Config(), options);
  ASSERT_TRUE(Eventually([&] { return counters().stack_timer_d_ms.load() != 0; }));
  EXPECT_EQ(counters().stack_timer_d_ms.load(), 32000u);
  StartTrunk("primary", primary_port(), "uas_answer.xml");
  StartTrunk("backup", backup_port(), "uas_answer.xml");
  Sipp* dialer = RunDialer("uac_call.xml");
  EXPECT_THAT(dialer->Log(), HasSubstr("BYE;OK")) << dialer->Messages();
  ASSERT_TRUE(Eventually([&] { return counters().stack_invites_in_timer_d.load() == 1; }));
  EXPECT_FALSE(Eventually([&] { return counters().stack_invites_in_timer_d.load() == 0; },
                          std::chrono::seconds(7)));
}

// A 200 the trunk retransmits after Timer D freed the INVITE transaction (as if our ACK had been
// lost) meets no transaction: Sofia drops it as a stray. The call is not disturbed: the caller
// sees one answer, and its BYE 8 s later ends both legs.
TEST_F(EdgeE2eTest, TrunkRetransmitting200AfterTimerDLeavesTheCallAlone) {
  UseSlot(139);
  StartEdge(Config());
  Sipp* primary = StartTrunk("primary", primary_port(), "uas_answer_retransmit_late.xml");
  StartTrunk("backup", backup_port(), "uas_answer.xml");
  Sipp* dialer = RunDialer("uac_call.xml", {}, "+15551234567", "127.0.0.1", /*hold_ms=*/8000);
  EXPECT_EQ(dialer_status_, 0) << dialer->Messages();
  EXPECT_THAT(dialer->Log(), HasSubstr("BYE;OK"));
  EXPECT_EQ(primary->Wait(std::chrono::seconds(5)), 0) << primary->Messages();
  const std::vector<SipMessage> trunk = Trace(primary);
  EXPECT_GE(Responses(trunk, /*received=*/false, "INVITE", 200).size(), 2u) << Describe(trunk);
  const std::vector<SipMessage> caller = Trace(dialer);
  EXPECT_EQ(Responses(caller, /*received=*/true, "INVITE", 200).size(), 1u) << Describe(caller);
  EXPECT_EQ(counters().calls_answered.load(), 1u);
  EXPECT_EQ(counters().stack_invites_in_timer_d.load(), 0u);
  ExpectNoLeftovers();
}

TEST_F(EdgeE2eTest, NormalCallIsRelayedWithIdentityPreservedAndG729Stripped) {
  UseSlot(1);
  StartEdge(Config());
  Sipp* primary = StartTrunk("primary", primary_port(), "uas_answer_checked.xml");
  Sipp* backup = StartTrunk("backup", backup_port(), "uas_answer.xml");
  Sipp* dialer = RunDialer("uac_call.xml");
  EXPECT_EQ(dialer_status_, 0) << dialer->Output();
  EXPECT_THAT(dialer->Log(), HasSubstr("ANSWERED;"));
  EXPECT_THAT(dialer->Log(), HasSubstr("BYE;OK"));
  // uas_answer_checked.xml fails the call (exit 1) if Request-URI, From, PAI, Max-Forwards or
  // the codec list are not what the edge must send.
  EXPECT_EQ(primary->Wait(std::chrono::seconds(5)), 0) << primary->Messages();
  EXPECT_EQ(Count(backup->Log(), "INV"), 0);
  EXPECT_EQ(counters().attempts.load(), 1u);
  EXPECT_EQ(counters().calls_answered.load(), 1u);
  ExpectNoLeftovers();
}

TEST_F(EdgeE2eTest, Primary503FailsOverToBackupWithinTheSameCall) {
  UseSlot(2);
  RecordingObserver observer;
  EdgeOptions options;
  options.observer = &observer;
  StartEdge(Config(), options);
  Sipp* primary = StartTrunk("primary", primary_port(), "uas_503.xml");
  Sipp* backup = StartTrunk("backup", backup_port(), "uas_answer.xml");
  Sipp* dialer = RunDialer("uac_call.xml");
  EXPECT_EQ(dialer_status_, 0) << dialer->Output();
  EXPECT_THAT(dialer->Log(), HasSubstr("ANSWERED;"));
  EXPECT_EQ(Count(primary->Log(), "INV"), 1);
  EXPECT_EQ(backup->Wait(std::chrono::seconds(5)), 0) << backup->Messages();
  EXPECT_EQ(counters().failovers.load(), 1u);
  // The trunk's 503 was ACKed hop-by-hop and the attempt closed.
  EXPECT_EQ(primary->Wait(std::chrono::seconds(5)), 0) << primary->Messages();
  ExpectNoLeftovers();
  EXPECT_THAT(observer.lines(), ElementsAre("decision e164 routed",
                                            "failover e164 primary->backup 503", "pdd backup"));
  EXPECT_EQ(observer.active("primary"), 0);
  EXPECT_EQ(observer.active("backup"), 0);
}

TEST_F(EdgeE2eTest, SilentPrimaryIsAbandonedAfterTheSetupTimeoutAndBackupAnswers) {
  UseSlot(3);
  StartEdge(Config());  // setup_timeout_ms 500
  Sipp* primary = StartTrunk("primary", primary_port(), "uas_silent.xml");
  Sipp* backup = StartTrunk("backup", backup_port(), "uas_answer.xml");
  Sipp* dialer = RunDialer("uac_call.xml");
  EXPECT_EQ(dialer_status_, 0) << dialer->Output();
  std::string log = dialer->Log();
  ASSERT_THAT(log, HasSubstr("ANSWERED;"));
  const int pdd_ms = std::stoi(log.substr(log.find("ANSWERED;") + 9));
  // Our attempt timer (500 ms) decided, not Sofia's 32 s Timer B.
  EXPECT_GE(pdd_ms, 480);
  EXPECT_LT(pdd_ms, 5000);
  EXPECT_EQ(Count(primary->Log(), "INV"), 1);
  EXPECT_EQ(backup->Wait(std::chrono::seconds(5)), 0);
  // No 1xx ever came from the primary, so no CANCEL may be sent to it (RFC 3261 §9.1).
  EXPECT_THAT(primary->Messages(), Not(HasSubstr("CANCEL sip:")));
  v1::TrunkHealth h;
  ASSERT_TRUE(harness_->health().Get("primary", &h));
  EXPECT_EQ(h.consecutive_failures(), 1u);
}

TEST_F(EdgeE2eTest, RefusedPrimaryIsATransportErrorAndFailsOverAtOnce) {
  UseSlot(19);
  StartEdge(Config());
  // Nothing listens on the primary's port: the kernel answers ICMP port unreachable.
  Sipp* backup = StartTrunk("backup", backup_port(), "uas_answer.xml");
  Sipp* dialer = RunDialer("uac_call.xml");
  EXPECT_THAT(dialer->Log(), HasSubstr("ANSWERED;"));
  EXPECT_EQ(backup->Wait(std::chrono::seconds(5)), 0);
  v1::TrunkHealth h;
  ASSERT_TRUE(harness_->health().Get("primary", &h));
  EXPECT_EQ(h.state(), v1::HEALTH_STATE_DOWN) << "a transport refusal ejects at once";
  EXPECT_EQ(h.reason(), v1::HEALTH_REASON_TRANSPORT_ERROR);
  ExpectNoLeftovers();
}

TEST_F(EdgeE2eTest, BothTrunksFailingGivesTheMostTellingFailureWithReason) {
  UseSlot(4);
  RecordingObserver observer;
  EdgeOptions options;
  options.observer = &observer;
  StartEdge(Config(), options);
  StartTrunk("primary", primary_port(), "uas_502.xml");
  StartTrunk("backup", backup_port(), "uas_503.xml");
  Sipp* dialer = RunDialer("uac_call.xml");
  EXPECT_EQ(dialer_status_, 0) << dialer->Output();
  EXPECT_EQ(FinalLine(dialer),
            "FINAL;503;SIP;cause=503;text=\"primary: 502 Bad Gateway, backup: 503 Service "
            "Unavailable\"");
  ExpectNoLeftovers();
  EXPECT_THAT(observer.lines(),
              ElementsAre("decision e164 routed", "failover e164 primary->backup 502",
                          "failover e164 backup-> 503"));
}

TEST_F(EdgeE2eTest, BusyIsRelayedAndNeverFailedOver) {
  UseSlot(5);
  StartEdge(Config());
  StartTrunk("primary", primary_port(), "uas_486.xml");
  Sipp* backup = StartTrunk("backup", backup_port(), "uas_answer.xml");
  Sipp* dialer = RunDialer("uac_call.xml");
  EXPECT_THAT(FinalLine(dialer), HasSubstr("FINAL;486;"));
  EXPECT_EQ(Count(backup->Log(), "INV"), 0) << "the backup must not see the call";
  EXPECT_EQ(counters().failovers.load(), 0u);
  ExpectNoLeftovers();
}

TEST_F(EdgeE2eTest, DigestChallengeIsAnsweredWithTheTrunkCredentials) {
  UseSlot(6);
  ConfigVars v;
  v.primary_extra = R"(, "username": "acme", "password": "s3cret")";
  StartEdge(Config(v));
  Sipp* primary = StartTrunk("primary", primary_port(), "uas_auth.xml", 1,
                             {"-key", "auth_user", "acme", "-key", "auth_pass", "s3cret"});
  Sipp* dialer = RunDialer("uac_call.xml");
  EXPECT_THAT(dialer->Log(), HasSubstr("ANSWERED;"));
  EXPECT_EQ(primary->Wait(std::chrono::seconds(5)), 0) << primary->Messages();
  EXPECT_THAT(primary->Log(), HasSubstr("AUTH;OK"));  // verifyauth checked the digest
  EXPECT_EQ(counters().auth_failures.load(), 0u);
  ExpectNoLeftovers();
}

TEST_F(EdgeE2eTest, SecondChallengeIsAuthFailedAndFailsOver) {
  UseSlot(7);
  ConfigVars v;
  v.primary_extra = R"(, "username": "acme", "password": "wrong")";
  StartEdge(Config(v));
  Sipp* primary = StartTrunk("primary", primary_port(), "uas_auth.xml", 1,
                             {"-key", "auth_user", "acme", "-key", "auth_pass", "s3cret"});
  StartTrunk("backup", backup_port(), "uas_answer.xml");
  Sipp* dialer = RunDialer("uac_call.xml");
  EXPECT_THAT(dialer->Log(), HasSubstr("ANSWERED;"));
  EXPECT_THAT(primary->Log(), HasSubstr("AUTH;BAD"));
  EXPECT_EQ(Count(primary->Log(), "INV"), 2) << "credentials are sent once per attempt";
  EXPECT_EQ(counters().auth_failures.load(), 1u);
  v1::TrunkHealth h;
  ASSERT_TRUE(harness_->health().Get("primary", &h));
  EXPECT_EQ(h.consecutive_failures(), 1u);
  ExpectNoLeftovers();
}

TEST_F(EdgeE2eTest, UnlistedSourceIsForbidden) {
  UseSlot(8);
  ConfigVars v;
  v.edge = R"("allowed_sources": ["127.0.0.1/32"])";
  StartEdge(Config(v));
  Sipp* primary = StartTrunk("primary", primary_port(), "uas_answer.xml");
  Sipp* dialer = RunDialer("uac_call.xml", {}, "+15551234567", "127.0.0.2");
  EXPECT_THAT(FinalLine(dialer), HasSubstr("FINAL;403;"));
  EXPECT_EQ(Count(primary->Log(), "INV"), 0);
  EXPECT_EQ(counters().calls_rejected.load(), 1u);
}

TEST_F(EdgeE2eTest, MaxForwardsZeroIsTooManyHops) {
  UseSlot(9);
  StartEdge(Config());
  Sipp* dialer = RunDialer("uac_call.xml", {"-key", "max_forwards", "0"});
  EXPECT_THAT(FinalLine(dialer), HasSubstr("FINAL;483;"));
}

TEST_F(EdgeE2eTest, RequestThatComesBackToTheEdgeIsLoopDetected) {
  UseSlot(10);
  // The "primary" trunk is the edge itself: the forwarded INVITE arrives carrying our own Via.
  std::string config = Config();
  config = absl::StrReplaceAll(config, {{absl::StrCat("\"port\": ", primary_port()),
                                         absl::StrCat("\"port\": ", edge_port())}});
  StartEdge(config);
  Sipp* dialer = RunDialer("uac_call.xml");
  EXPECT_THAT(FinalLine(dialer), HasSubstr("FINAL;482;"));
  ExpectNoLeftovers();
}

TEST_F(EdgeE2eTest, UnroutableNumberIsNotFound) {
  UseSlot(11);
  StartEdge(Config());
  Sipp* dialer = RunDialer("uac_call.xml", {}, "+12");
  EXPECT_THAT(FinalLine(dialer),
              HasSubstr("FINAL;404;SIP;cause=404;text=\"no route matches +12\""));
}

TEST_F(EdgeE2eTest, NoCommonCodecWithAnyTrunkIsNotAcceptableHere) {
  UseSlot(12);
  ConfigVars v;
  v.primary_extra = R"(, "codecs": ["g722"])";
  v.backup_extra = R"(, "codecs": ["opus"])";
  StartEdge(Config(v));
  Sipp* dialer = RunDialer("uac_call.xml");
  EXPECT_THAT(FinalLine(dialer), HasSubstr("FINAL;488;"));
  EXPECT_EQ(counters().attempts.load(), 0u);
}

TEST_F(EdgeE2eTest, CancelDuringRingingCancelsTheTrunkAndAnswers487) {
  UseSlot(13);
  StartEdge(Config());
  Sipp* primary = StartTrunk("primary", primary_port(), "uas_ring_cancel.xml");
  Sipp* dialer = RunDialer("uac_cancel.xml");
  EXPECT_EQ(dialer_status_, 0) << dialer->Messages();
  EXPECT_THAT(dialer->Log(), HasSubstr("FINAL;487;"));
  EXPECT_EQ(primary->Wait(std::chrono::seconds(5)), 0) << primary->Messages();
  EXPECT_THAT(primary->Log(), HasSubstr("CANCELED"));
  ExpectNoLeftovers();
}

TEST_F(EdgeE2eTest, ByeFromTheTrunkReachesTheCaller) {
  UseSlot(14);
  StartEdge(Config());
  Sipp* primary = StartTrunk("primary", primary_port(), "uas_hangup.xml");
  Sipp* dialer = RunDialer("uac_wait_bye.xml");
  EXPECT_EQ(dialer_status_, 0) << dialer->Messages();
  EXPECT_THAT(dialer->Log(), HasSubstr("BYE;RECEIVED"));
  EXPECT_EQ(primary->Wait(std::chrono::seconds(5)), 0) << primary->Messages();
  EXPECT_THAT(primary->Log(), HasSubstr("BYE;OK"));
  ExpectNoLeftovers();
}

TEST_F(EdgeE2eTest, LateAnswerFromAbandonedTrunkIsAckedAndByed) {
  UseSlot(15);
  StartEdge(Config());  // 500 ms attempt timeout; the primary answers 200 at 800 ms
  Sipp* primary = StartTrunk("primary", primary_port(), "uas_late_answer.xml");
  StartTrunk("backup", backup_port(), "uas_answer.xml");
  Sipp* dialer = RunDialer("uac_call.xml", {}, "+15551234567", "127.0.0.1", /*hold_ms=*/1000);
  EXPECT_THAT(dialer->Log(), HasSubstr("ANSWERED;"));
  EXPECT_EQ(primary->Wait(std::chrono::seconds(5)), 0) << primary->Messages();
  EXPECT_THAT(primary->Log(), HasSubstr("BYE"));
  EXPECT_THAT(primary->Messages(), Not(HasSubstr("CANCEL sip:")));
  EXPECT_EQ(counters().late_answers_cleared.load(), 1u);
  ExpectNoLeftovers();
}

TEST_F(EdgeE2eTest, LateRingingFromAbandonedTrunkGetsTheOwedCancel) {
  UseSlot(18);
  StartEdge(Config());  // 500 ms attempt timeout; the primary rings at 800 ms
  Sipp* primary = StartTrunk("primary", primary_port(), "uas_late_ring.xml");
  StartTrunk("backup", backup_port(), "uas_answer.xml");
  Sipp* dialer = RunDialer("uac_call.xml", {}, "+15551234567", "127.0.0.1", /*hold_ms=*/1000);
  EXPECT_THAT(dialer->Log(), HasSubstr("ANSWERED;"));
  EXPECT_EQ(primary->Wait(std::chrono::seconds(5)), 0) << primary->Messages();
  EXPECT_THAT(primary->Log(), HasSubstr("CANCELED"));
  ExpectNoLeftovers();
}

TEST_F(EdgeE2eTest, CallsOverTcpWork) {
  UseSlot(16);
  StartEdge(Config());
  StartTrunk("primary", primary_port(), "uas_answer.xml");
  Sipp* dialer = RunDialer("uac_call.xml", {"-t", "t1"});
  EXPECT_EQ(dialer_status_, 0) << dialer->Output();
  EXPECT_THAT(dialer->Log(), HasSubstr("BYE;OK"));
  ExpectNoLeftovers();
}

TEST_F(EdgeE2eTest, TrunkAtMaxConcurrentCallsIsSkipped) {
  UseSlot(21);
  ConfigVars v;
  v.primary_extra = R"(, "max_concurrent_calls": 1)";
  StartEdge(Config(v));
  Sipp* primary = StartTrunk("primary", primary_port(), "uas_answer.xml", /*calls=*/2);
  Sipp* backup = StartTrunk("backup", backup_port(), "uas_answer.xml", /*calls=*/2);
  // Two calls 100 ms apart, each held 1 s: the second finds the primary busy with the first.
  Sipp* dialer = StartDialer("uac_call.xml", /*calls=*/2, /*rate=*/10, /*hold_ms=*/1000);
  EXPECT_EQ(dialer->Wait(std::chrono::seconds(12)), 0) << dialer->Messages();
  EXPECT_EQ(Count(dialer->Log(), "BYE;OK"), 2);
  EXPECT_EQ(Count(primary->Log(), "INV"), 1);
  EXPECT_EQ(Count(backup->Log(), "INV"), 1);
  EXPECT_EQ(counters().failovers.load(), 0u) << "a trunk at capacity is skipped, not tried";
  ExpectNoLeftovers();
}

// edge.max_calls: the edge carries at most that many calls; the next INVITE gets 503 at once
// (no trunk is tried), and a slot freed by a finished call is used again.
TEST_F(EdgeE2eTest, EdgeAtMaxCallsAnswers503AtOnce) {
  UseSlot(22);
  ConfigVars v;
  v.edge = R"("max_calls": 1)";
  RecordingObserver observer;
  EdgeOptions options;
  options.observer = &observer;
  StartEdge(Config(v), options);
  Sipp* primary = StartTrunk("primary", primary_port(), "uas_answer.xml", /*calls=*/2);
  // Two calls 100 ms apart, each held 1 s: the second finds the edge full.
  Sipp* dialer = StartDialer("uac_call.xml", /*calls=*/2, /*rate=*/10, /*hold_ms=*/1000);
  // Its exit code says nothing here: uac_call.xml takes a final failure as a finished call.
  dialer->Wait(std::chrono::seconds(12));
  EXPECT_EQ(Count(dialer->Log(), "BYE;OK"), 1) << dialer->Messages();
  EXPECT_THAT(dialer->Messages(), HasSubstr("SIP/2.0 503 Service Unavailable"));
  EXPECT_THAT(dialer->Messages(), HasSubstr("edge at max_calls"));
  EXPECT_EQ(counters().calls_rejected.load(), 1u);
  EXPECT_EQ(counters().attempts.load(), 1u) << "the rejected call must not reach a trunk";
  EXPECT_THAT(observer.lines(), ::testing::Contains("rejected 503 max_calls"));
  // The first call has ended: once the edge has let go of it, its slot is free again.
  ASSERT_TRUE(Eventually([&] { return counters().active_calls.load() == 0; }));
  Sipp* again = RunDialer("uac_call.xml");
  EXPECT_THAT(again->Log(), HasSubstr("BYE;OK")) << again->Messages();
  EXPECT_EQ(Count(primary->Log(), "INV"), 2);
  ExpectNoLeftovers();
}

TEST_F(EdgeE2eTest, AdvertisedAddressGoesIntoViaAndContact) {
  UseSlot(20);
  EdgeOptions options;
  options.advertised_address = "edge.example.com";
  StartEdge(Config(), options);
  Sipp* primary = StartTrunk("primary", primary_port(), "uas_answer.xml");
  Sipp* dialer = RunDialer("uac_call.xml");
  EXPECT_THAT(dialer->Log(), HasSubstr("BYE;OK"));
  const std::string seen = primary->Messages();
  EXPECT_THAT(seen, HasSubstr(absl::StrCat("Via: SIP/2.0/UDP edge.example.com:", edge_port())));
  EXPECT_THAT(seen, HasSubstr(absl::StrCat("Contact: <sip:edge.example.com:", edge_port())));
  EXPECT_THAT(seen, Not(HasSubstr("Via: SIP/2.0/UDP 127.0.0.1")));
  ExpectNoLeftovers();
}

TEST_F(EdgeE2eTest, ConfigChangeAppliesToTheNextCall) {
  UseSlot(17);
  StartEdge(Config());
  Sipp* primary = StartTrunk("primary", primary_port(), "uas_answer.xml");
  Sipp* backup = StartTrunk("backup", backup_port(), "uas_answer.xml");
  auto updated = harness_->config().Update(0, [](v1::Config& c) {
    c.mutable_routes(0)->clear_trunk_ids();
    c.mutable_routes(0)->add_trunk_ids("backup");
    c.mutable_routes(0)->add_trunk_ids("primary");
    return absl::OkStatus();
  });
  ASSERT_TRUE(updated.ok()) << updated.status();
  Sipp* dialer = RunDialer("uac_call.xml");
  EXPECT_THAT(dialer->Log(), HasSubstr("BYE;OK"));
  EXPECT_EQ(Count(backup->Log(), "INV"), 1);
  EXPECT_EQ(Count(primary->Log(), "INV"), 0);
}

}  // namespace
}  // namespace trunkroute::sip::testing
