// Warm restart (issue 13 item 4, docs/health.md): the real trunkrouted ejects a primary trunk
// that does not answer, is restarted on the same data directory — once with SIGTERM, once with
// kill -9 (then only what was written when the state changed is there) — and the very first call
// after the restart goes straight to the backup: the primary, listening again by then, sees no
// INVITE. Once the hold-down that was running before the restart is over, the primary is probed,
// recovers and takes calls again. SIPp peers on loopback; each test its own port slot.
#include <signal.h>

#include <chrono>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "health/state_file.h"
#include "tests/sip/edge_test_fixture.h"
#include "tests/support/temp_dir.h"
#include "tests/support/trunkrouted_process.h"
#include "trunkroute/v1/health.grpc.pb.h"

namespace trunkroute::sip::testing {
namespace {

using trunkroute::testing::TrunkroutedProcess;

// Probes for the primary only (a SIPp UAS runs one scenario: the backup takes calls, never
// OPTIONS). A 10 s hold-down: long enough to restart within it, short enough to wait it out.
constexpr char kConfig[] = R"json({
  "trunks": [
    {"id": "primary", "host": "127.0.0.1", "port": $PRIMARY, "transport": "TRANSPORT_UDP",
     "health": {"probes_enabled": true, "probe_interval_up_ms": 600000}},
    {"id": "backup", "host": "127.0.0.1", "port": $BACKUP, "transport": "TRANSPORT_UDP"}
  ],
  "routes": [
    {"id": "e164", "priority": 10, "pattern": "\\+\\d{6,15}", "trunk_ids": ["primary", "backup"]}
  ],
  "failover_policy": {"setup_timeout_ms": 500},
  "health_policy": {"probes_enabled": false, "hold_down_base_ms": 10000,
                    "hold_down_jitter_pct": 0, "recovery_threshold": 1, "ramp_up_ms": 0}
})json";

class WarmRestartTest : public EdgeE2eTest {
 protected:
  std::unique_ptr<TrunkroutedProcess> StartDaemon(const std::string& name) {
    const std::string config_path = dir_ + "/config-seed.json";
    trunkroute::testing::WriteFileBytes(
        config_path, absl::StrReplaceAll(kConfig, {{"$PRIMARY", std::to_string(primary_port())},
                                                   {"$BACKUP", std::to_string(backup_port())}}));
    auto daemon = std::make_unique<TrunkroutedProcess>(
        TRUNKROUTED_PATH,
        std::vector<std::string>{"--data-dir", dir_ + "/data", "--grpc-listen", "127.0.0.1:0",
                                 "--http-listen", "127.0.0.1:0", "--sip-listen",
                                 absl::StrCat("127.0.0.1:", edge_port()), "--bootstrap-config",
                                 config_path, "--log-level", "info"},
        dir_ + "/" + name + ".log");
    std::optional<std::string> grpc = daemon->WaitServing(std::chrono::seconds(20));
    EXPECT_TRUE(grpc.has_value()) << daemon->Output();
    if (grpc) {
      health_ = v1::HealthService::NewStub(
          grpc::CreateChannel(*grpc, grpc::InsecureChannelCredentials()));
    }
    return daemon;
  }

  // The primary's health as the running trunkrouted reports it over gRPC.
  v1::TrunkHealth Primary() {
    v1::ListTrunkHealthResponse response;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    if (!health_->ListTrunkHealth(&ctx, v1::ListTrunkHealthRequest(), &response).ok()) return {};
    for (const v1::TrunkHealth& t : response.trunks()) {
      if (t.trunk_id() == "primary") return t;
    }
    return {};
  }

  // The primary's state in the health-state file on the disk.
  v1::HealthState SavedPrimary() {
    std::optional<state::HealthStateFile> saved =
        health::LoadHealthState(dir_ + "/data/health-state.json");
    if (!saved) return v1::HEALTH_STATE_UNSPECIFIED;
    for (const state::TrunkRecord& t : saved->trunks()) {
      if (t.trunk_id() == "primary") return t.state();
    }
    return v1::HEALTH_STATE_UNSPECIFIED;
  }

  void EjectRestartAndCall(bool kill9) {
    // The primary does not answer (nothing listens on its port): its probes fail and it is
    // ejected, as during a carrier outage.
    std::unique_ptr<TrunkroutedProcess> first = StartDaemon("trunkrouted-1");
    ASSERT_TRUE(first);
    ASSERT_TRUE(Eventually([&] { return Primary().state() == v1::HEALTH_STATE_DOWN; },
                           std::chrono::seconds(10)))
        << first->Output();
    const v1::TrunkHealth ejected = Primary();
    ASSERT_GT(ejected.down_until_unix_ms(), 0);

    if (kill9) {
      // Nothing is written at exit: the file must already hold the ejection.
      ASSERT_TRUE(Eventually([&] { return SavedPrimary() == v1::HEALTH_STATE_DOWN; },
                             std::chrono::seconds(2)));
      first->Kill();
    } else {
      first->Signal(SIGTERM);
      const std::optional<int> code = first->WaitExit(std::chrono::seconds(15));
      ASSERT_TRUE(code.has_value()) << first->Output();
      EXPECT_EQ(*code, 0) << first->Output();
      EXPECT_EQ(SavedPrimary(), v1::HEALTH_STATE_DOWN);
    }

    // The carrier is back meanwhile: the primary listens (and answers the one probe it will
    // get), the backup takes one call.
    Sipp* primary = StartTrunk("primary-probed", primary_port(), "uas_options.xml", 1,
                               {"-timeout", "40s"});
    Sipp* backup = StartTrunk("backup", backup_port(), "uas_answer.xml", 1);
    std::unique_ptr<TrunkroutedProcess> second = StartDaemon("trunkrouted-2");
    ASSERT_TRUE(second);
    const v1::TrunkHealth restored = Primary();
    EXPECT_EQ(restored.state(), v1::HEALTH_STATE_DOWN) << second->Output();
    EXPECT_EQ(restored.reason(), ejected.reason());
    EXPECT_NEAR(static_cast<double>(restored.down_until_unix_ms()),
                static_cast<double>(ejected.down_until_unix_ms()), 1000.0)
        << "the same hold-down goes on";
    EXPECT_EQ(restored.ejection_count(), ejected.ejection_count());

    Sipp* dialer = RunDialer("uac_call.xml");
    EXPECT_EQ(dialer_status_, 0) << dialer->Output();
    EXPECT_EQ(Count(dialer->Log(), "ANSWERED;"), 1) << dialer->Log();
    EXPECT_EQ(backup->Wait(std::chrono::seconds(10)), 0) << backup->Output();
    EXPECT_EQ(Count(primary->Messages(), "INVITE sip:"), 0)
        << "the first call after the restart went to the ejected primary:\n"
        << primary->Messages();

    // The hold-down runs out at the time it had before the restart: probed, answers, UP.
    ASSERT_TRUE(Eventually([&] { return Primary().state() == v1::HEALTH_STATE_UP; },
                           std::chrono::seconds(20)))
        << second->Output();
    EXPECT_EQ(Primary().reason(), v1::HEALTH_REASON_RECOVERED);
    EXPECT_GE(Count(primary->Log(), "OPT"), 1);
    EXPECT_GE(clock_wall_ms(), ejected.down_until_unix_ms()) << "not before its hold-down";
    EXPECT_EQ(primary->Wait(std::chrono::seconds(10)), 0) << primary->Output();

    // And takes calls again.
    Sipp* answering = StartTrunk("primary-answering", primary_port(), "uas_answer.xml", 1);
    Sipp* again = RunDialer("uac_call.xml");
    EXPECT_EQ(dialer_status_, 0) << again->Output();
    EXPECT_EQ(answering->Wait(std::chrono::seconds(10)), 0) << answering->Output();
    EXPECT_EQ(Count(answering->Messages(), "INVITE sip:"), 1);
  }

  static int64_t clock_wall_ms() { return RealClock::Get()->WallUnixMs(); }

  std::unique_ptr<v1::HealthService::Stub> health_;
};

TEST_F(WarmRestartTest, AfterSigtermTheFirstCallGoesStraightToTheBackup) {
  UseSlot(56);
  EjectRestartAndCall(/*kill9=*/false);
}

TEST_F(WarmRestartTest, AfterKill9TheFirstCallGoesStraightToTheBackup) {
  UseSlot(57);
  EjectRestartAndCall(/*kill9=*/true);
}

}  // namespace
}  // namespace trunkroute::sip::testing
