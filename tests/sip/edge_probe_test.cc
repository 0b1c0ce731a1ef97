// The edge's OPTIONS prober against real peers, OPTIONS to the edge itself, in-dialog
// re-INVITE relaying, graceful stop, and start-up errors.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/sip/edge_test_fixture.h"

namespace trunkroute::sip::testing {
namespace {

using ::testing::HasSubstr;

// A UDP port that swallows everything: a trunk host that is up but whose SIP service hangs.
class BlackHole {
 public:
  explicit BlackHole(int port) {
    fd_ = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bound_ = bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  }
  ~BlackHole() { close(fd_); }
  bool bound() const { return bound_; }

 private:
  int fd_ = -1;
  bool bound_ = false;
};

constexpr char kFastProbes[] =
    R"("probes_enabled": true, "probe_interval_up_ms": 200, "probe_interval_down_ms": 100,
       "probe_timeout_ms": 150)";

TEST_F(EdgeE2eTest, OptionsProbesReachTheTrunkAndFeedHealth) {
  UseSlot(30);
  ConfigVars v;
  v.health = kFastProbes;
  Sipp* primary = StartTrunk("primary", primary_port(), "uas_options.xml", /*calls=*/2);
  StartTrunk("backup", backup_port(), "uas_options.xml", /*calls=*/100);
  StartEdge(Config(v));
  EXPECT_EQ(primary->Wait(std::chrono::seconds(5)), 0) << primary->Output();
  EXPECT_EQ(Count(primary->Log(), "OPT"), 2);
  EXPECT_THAT(primary->Messages(), HasSubstr("OPTIONS sip:127.0.0.1:"));
  v1::TrunkHealth h;
  ASSERT_TRUE(Eventually(
      [&] { return harness_->health().Get("backup", &h) && h.last_probe_rtt_us() > 0; }));
  EXPECT_EQ(h.state(), v1::HEALTH_STATE_UP);
  EXPECT_GE(counters().probes_answered.load(), 2u);
}

TEST_F(EdgeE2eTest, TrunkAddedAtRuntimeIsProbedAtOnce) {
  UseSlot(38);
  ConfigVars v;
  v.health = R"("probes_enabled": true, "probe_interval_up_ms": 60000)";  // no periodic probes
  StartTrunk("backup", backup_port(), "uas_options.xml", /*calls=*/100);
  StartEdge(Config(v));
  const int third_port = base_ + 4;
  Sipp* third = StartTrunk("third", third_port, "uas_options.xml", /*calls=*/1);
  auto updated = harness_->config().Update(0, [&](v1::Config& c) {
    v1::Trunk* t = c.add_trunks();
    t->set_id("third");
    t->set_host("127.0.0.1");
    t->set_port(static_cast<uint32_t>(third_port));
    t->set_transport(v1::TRANSPORT_UDP);
    return absl::OkStatus();
  });
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(third->Wait(std::chrono::seconds(3)), 0) << "no OPTIONS reached the new trunk";
  v1::TrunkHealth h;
  EXPECT_TRUE(
      Eventually([&] { return harness_->health().Get("third", &h) && h.last_probe_rtt_us() > 0; }));
}

TEST_F(EdgeE2eTest, SilentTrunkIsEjectedByProbesAlone) {
  UseSlot(31);
  ConfigVars v;
  v.health = kFastProbes;
  BlackHole hole(primary_port());
  ASSERT_TRUE(hole.bound());
  StartTrunk("backup", backup_port(), "uas_options.xml", /*calls=*/100);
  StartEdge(Config(v));
  v1::TrunkHealth h;
  ASSERT_TRUE(Eventually([&] {
    return harness_->health().Get("primary", &h) && h.state() == v1::HEALTH_STATE_DOWN;
  })) << "state "
      << v1::HealthState_Name(h.state());
  EXPECT_EQ(h.reason(), v1::HEALTH_REASON_PROBE_FAILURES);
  EXPECT_EQ(counters().attempts.load(), 0u) << "no call was needed to find out";
  EXPECT_GE(counters().probes_timed_out.load(), 2u);
  ASSERT_TRUE(harness_->health().Get("backup", &h));
  EXPECT_EQ(h.state(), v1::HEALTH_STATE_UP);
}

TEST_F(EdgeE2eTest, EjectedPrimaryIsSkippedByTheNextCall) {
  UseSlot(32);
  ConfigVars v;
  v.health = kFastProbes;
  BlackHole hole(primary_port());
  Sipp* backup = StartTrunk("backup", backup_port(), "uas_answer.xml", /*calls=*/100);
  StartEdge(Config(v));
  v1::TrunkHealth h;
  ASSERT_TRUE(Eventually(
      [&] { return harness_->health().Get("primary", &h) && h.state() == v1::HEALTH_STATE_DOWN; }));
  Sipp* dialer = RunDialer("uac_call.xml");
  ASSERT_THAT(dialer->Log(), HasSubstr("ANSWERED;"));
  const int pdd_ms = std::stoi(dialer->Log().substr(dialer->Log().find("ANSWERED;") + 9));
  EXPECT_LT(pdd_ms, 450) << "the DOWN primary's 500 ms setup timeout was not paid";
  EXPECT_EQ(counters().attempts.load(), 1u);
  EXPECT_EQ(Count(backup->Log(), "INV"), 1);
}

TEST_F(EdgeE2eTest, OptionsToTheEdgeItselfAreAnswered200) {
  UseSlot(33);
  StartEdge(Config());
  Sipp* dialer = RunDialer("uac_options.xml");
  EXPECT_EQ(dialer_status_, 0) << dialer->Messages();
  EXPECT_THAT(dialer->Log(), HasSubstr("OPTIONS;200"));
  ExpectNoLeftovers();
}

TEST_F(EdgeE2eTest, ReInviteIsRelayedBothWays) {
  UseSlot(34);
  StartEdge(Config());
  Sipp* primary = StartTrunk("primary", primary_port(), "uas_reinvite.xml");
  Sipp* dialer = RunDialer("uac_reinvite.xml");
  EXPECT_EQ(dialer_status_, 0) << dialer->Messages();
  EXPECT_THAT(dialer->Log(), HasSubstr("REINVITE;200"));
  EXPECT_THAT(dialer->Log(), HasSubstr("BYE;OK"));
  EXPECT_EQ(primary->Wait(std::chrono::seconds(5)), 0) << primary->Messages();
  EXPECT_THAT(primary->Log(), HasSubstr("REINVITE"));
  ExpectNoLeftovers();
}

TEST_F(EdgeE2eTest, UpdateIsRelayedWithItsAnswer) {
  UseSlot(39);
  StartEdge(Config());
  Sipp* primary = StartTrunk("primary", primary_port(), "uas_update.xml");
  Sipp* dialer = RunDialer("uac_update.xml");
  EXPECT_EQ(dialer_status_, 0) << dialer->Messages();
  EXPECT_THAT(dialer->Log(), HasSubstr("UPDATE;200"));
  EXPECT_THAT(dialer->Log(), HasSubstr("BYE;OK"));
  EXPECT_EQ(primary->Wait(std::chrono::seconds(5)), 0) << primary->Messages();
  EXPECT_THAT(primary->Log(), HasSubstr("UPDATE"));
  ExpectNoLeftovers();
}

TEST_F(EdgeE2eTest, StopEndsConnectedCallsOnBothLegs) {
  UseSlot(35);
  StartEdge(Config());
  Sipp* primary = StartTrunk("primary", primary_port(), "uas_answer.xml");
  Sipp* dialer = StartDialer("uac_wait_bye.xml", /*calls=*/1, /*rate=*/10, /*hold_ms=*/0);
  // Stop once the call is confirmed end to end: the trunk has the ACK and the dialer has moved on
  // to waiting for a BYE (it logs ANSWERED just before).
  ASSERT_TRUE(Eventually([&] {
    return primary->Messages().find("ACK sip:") != std::string::npos &&
           dialer->Log().find("ANSWERED;") != std::string::npos;
  }));
  harness_->Stop();
  EXPECT_EQ(dialer->Wait(std::chrono::seconds(5)), 0) << dialer->Messages();
  EXPECT_THAT(dialer->Log(), HasSubstr("BYE;RECEIVED"));
  EXPECT_EQ(primary->Wait(std::chrono::seconds(5)), 0) << primary->Messages();
}

TEST_F(EdgeE2eTest, BusyPortIsAClearStartError) {
  UseSlot(36);
  StartEdge(Config());
  EdgeOptions options;
  options.listen = absl::StrCat("127.0.0.1:", edge_port());
  auto second = EdgeHarness::Start(Config(), options);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(second.status().message()),
              HasSubstr(absl::StrCat("cannot listen on udp 127.0.0.1:", edge_port(),
                                     ": Address already in use")));
}

TEST_F(EdgeE2eTest, MalformedListenAddressIsInvalidArgument) {
  UseSlot(37);
  EdgeOptions options;
  options.listen = "127.0.0.1:99999";
  auto h = EdgeHarness::Start(Config(), options);
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(h.status().message()), HasSubstr("sip listen: bad port"));
}

}  // namespace
}  // namespace trunkroute::sip::testing
