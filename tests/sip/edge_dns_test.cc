// Trunks named by DNS (RFC 3263) on the wire: a real DNS server (dnsmasq on a loopback port,
// stopped by PID) gives trunk "carrier" two SRV targets on 127.0.0.1, SIPp (and, for TLS, the
// Sofia peer) play them. A target's failure moves calls to the next target of the same trunk
// before the trunk is failed; probes reach every target; health shows each one.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/sip/dns_server.h"
#include "tests/sip/edge_test_fixture.h"
#include "tests/sip/sofia_peer.h"

namespace trunkroute::sip::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

// "carrier" is a name only: no port, no transport (NAPTR decides); "backup" an IP literal.
constexpr char kConfig[] = R"json({
  "trunks": [
    {"id": "carrier", "host": "carrier.test" $CARRIER_EXTRA},
    {"id": "backup", "host": "127.0.0.1", "port": $BACKUP, "transport": "TRANSPORT_UDP"}
  ],
  "routes": [
    {"id": "e164", "priority": 10, "pattern": "\\+\\d{6,15}", "trunk_ids": ["carrier", "backup"]}
  ],
  "failover_policy": {"setup_timeout_ms": 500, "adaptive_timeout": false},
  "health_policy": {"failure_threshold": 1, "hold_down_base_ms": 60000, $HEALTH}
})json";

class EdgeDnsTest : public EdgeE2eTest {
 protected:
  int target1_port() const { return primary_port(); }
  int target2_port() const { return base_ + 4; }
  int dns_port() const { return base_ + 8; }
  std::string target1() const { return absl::StrCat("127.0.0.1:", target1_port()); }
  std::string target2() const { return absl::StrCat("127.0.0.1:", target2_port()); }

  // NAPTR → _sip._udp → sbc1 (priority 10), sbc2 (priority 20), both on 127.0.0.1.
  DnsZone CarrierZone() const {
    DnsZone z;
    z.Naptr("carrier.test", 10, 10, "s", "SIP+D2U", "_sip._udp.carrier.test")
        .Srv("_sip._udp.carrier.test", "sbc1.carrier.test", target1_port(), 10, 10)
        .Srv("_sip._udp.carrier.test", "sbc2.carrier.test", target2_port(), 20, 10)
        .A("sbc1.carrier.test", "127.0.0.1")
        .A("sbc2.carrier.test", "127.0.0.1");
    return z;
  }

  void StartDns(const DnsZone& zone) {
    dns_ = DnsServer::Start(dns_port(), zone, dir_);
    ASSERT_NE(dns_, nullptr) << "dnsmasq (Debian package dnsmasq-base) must be installed";
  }

  void StartDnsEdge(const std::string& health = R"("probes_enabled": false)",
                    const std::string& carrier_extra = "", EdgeOptions options = {}) {
    options.dns_server = dns_->address();
    StartEdge(absl::StrReplaceAll(kConfig, {{"$CARRIER_EXTRA", carrier_extra},
                                            {"$HEALTH", health},
                                            {"$BACKUP", std::to_string(backup_port())}}),
              options);
    // Calls need the resolved targets: wait for the first DNS answer to reach health.
    ASSERT_TRUE(Eventually([&] { return Health("carrier").targets_size() == 2; }))
        << Health("carrier").DebugString();
  }

  v1::TrunkHealth Health(const std::string& trunk) {
    v1::TrunkHealth h;
    if (harness_ != nullptr) harness_->health().Get(trunk, &h);
    return h;
  }
  // "127.0.0.1:27611 HEALTH_STATE_DOWN" per target of "carrier".
  std::vector<std::string> Targets() {
    std::vector<std::string> out;
    const v1::TrunkHealth h = Health("carrier");
    for (const v1::TargetHealth& t : h.targets()) {
      out.push_back(absl::StrCat(t.target(), " ", v1::HealthState_Name(t.state())));
    }
    return out;
  }

  std::unique_ptr<DnsServer> dns_;
};

TEST_F(EdgeDnsTest, SilentFirstTargetTheCallCompletesOnTheSecondTargetOfTheSameTrunk) {
  UseSlot(40);
  StartDns(CarrierZone());
  Sipp* sbc1 = StartTrunk("sbc1", target1_port(), "uas_silent.xml");
  Sipp* sbc2 = StartTrunk("sbc2", target2_port(), "uas_answer.xml", /*calls=*/2);
  Sipp* backup = StartTrunk("backup", backup_port(), "uas_answer.xml");
  StartDnsEdge();
  Sipp* dialer = RunDialer("uac_call.xml");
  EXPECT_THAT(dialer->Log(), HasSubstr("ANSWERED;"));
  EXPECT_EQ(Count(sbc1->Log(), "INV"), 1);
  EXPECT_EQ(Count(sbc2->Log(), "INV"), 1);
  EXPECT_EQ(Count(backup->Log(), "INV"), 0) << "the trunk had another target: no trunk failover";
  EXPECT_EQ(counters().target_failovers.load(), 1u);
  EXPECT_EQ(counters().failovers.load(), 0u);
  // The SBC sees the carrier's name in the Request-URI, and no Route header of ours.
  EXPECT_THAT(sbc2->Messages(), HasSubstr("INVITE sip:+15551234567@carrier.test SIP/2.0"));
  EXPECT_THAT(sbc2->Messages(), Not(HasSubstr("Route:")));
  // The trunk stays UP, its silent target is DOWN under it.
  EXPECT_EQ(Health("carrier").state(), v1::HEALTH_STATE_UP);
  EXPECT_THAT(Targets(),
              ElementsAre(target1() + " HEALTH_STATE_DOWN", target2() + " HEALTH_STATE_UP"));
  EXPECT_EQ(Health("carrier").targets(0).reason(), v1::HEALTH_REASON_CONSECUTIVE_FAILURES);
  // The next call goes straight to the healthy target.
  Sipp* again = RunDialer("uac_call.xml");
  EXPECT_THAT(again->Log(), HasSubstr("ANSWERED;"));
  EXPECT_TRUE(Eventually([&] { return Count(sbc2->Log(), "INV") == 2; }));
  EXPECT_EQ(counters().target_failovers.load(), 1u) << "a DOWN target is not tried first";
  EXPECT_EQ(counters().failovers.load(), 0u);
  EXPECT_EQ(counters().attempts.load(), 3u);
  ExpectNoLeftovers();
}

TEST_F(EdgeDnsTest, RefusingFirstTargetMovesToTheSecondAtOnce) {
  UseSlot(41);
  StartDns(CarrierZone());
  // Nothing listens on target 1: ICMP port unreachable.
  Sipp* sbc2 = StartTrunk("sbc2", target2_port(), "uas_answer.xml");
  Sipp* backup = StartTrunk("backup", backup_port(), "uas_answer.xml");
  StartDnsEdge();
  Sipp* dialer = RunDialer("uac_call.xml");
  EXPECT_THAT(dialer->Log(), HasSubstr("ANSWERED;"));
  EXPECT_EQ(Count(sbc2->Log(), "INV"), 1);
  EXPECT_EQ(Count(backup->Log(), "INV"), 0);
  EXPECT_EQ(counters().target_failovers.load(), 1u);
  EXPECT_EQ(Health("carrier").state(), v1::HEALTH_STATE_UP);
  ASSERT_THAT(Targets(),
              ElementsAre(target1() + " HEALTH_STATE_DOWN", target2() + " HEALTH_STATE_UP"));
  EXPECT_EQ(Health("carrier").targets(0).reason(), v1::HEALTH_REASON_TRANSPORT_ERROR)
      << "a refusal, not a timeout: the call moved on without waiting for its timer";
  ExpectNoLeftovers();
}

TEST_F(EdgeDnsTest, BothTargetsDownTheCallGoesToTheNextTrunk) {
  UseSlot(42);
  StartDns(CarrierZone());
  Sipp* sbc1 = StartTrunk("sbc1", target1_port(), "uas_silent.xml");
  // target 2: nothing listening.
  Sipp* backup = StartTrunk("backup", backup_port(), "uas_answer.xml");
  StartDnsEdge();
  Sipp* dialer = RunDialer("uac_call.xml");
  EXPECT_THAT(dialer->Log(), HasSubstr("ANSWERED;"));
  EXPECT_EQ(Count(sbc1->Log(), "INV"), 1);
  EXPECT_EQ(Count(backup->Log(), "INV"), 1);
  EXPECT_EQ(counters().target_failovers.load(), 1u);
  EXPECT_EQ(counters().failovers.load(), 1u);
  EXPECT_EQ(Health("carrier").state(), v1::HEALTH_STATE_DOWN);
  EXPECT_THAT(Health("carrier").detail(), HasSubstr("all 2 targets down"));
  ExpectNoLeftovers();
}

TEST_F(EdgeDnsTest, ProbesReachEveryTarget) {
  UseSlot(43);
  StartDns(CarrierZone());
  Sipp* sbc1 = StartTrunk("sbc1", target1_port(), "uas_options.xml", /*calls=*/2);
  Sipp* sbc2 = StartTrunk("sbc2", target2_port(), "uas_options.xml", /*calls=*/2);
  StartTrunk("backup", backup_port(), "uas_options.xml", /*calls=*/100);
  StartDnsEdge(R"("probes_enabled": true, "probe_interval_up_ms": 200, "probe_timeout_ms": 150)");
  EXPECT_EQ(sbc1->Wait(std::chrono::seconds(5)), 0) << sbc1->Output();
  EXPECT_EQ(sbc2->Wait(std::chrono::seconds(5)), 0) << sbc2->Output();
  EXPECT_EQ(Count(sbc1->Log(), "OPT"), 2);
  EXPECT_EQ(Count(sbc2->Log(), "OPT"), 2);
  EXPECT_THAT(sbc1->Messages(), HasSubstr("OPTIONS sip:carrier.test SIP/2.0"));
  ASSERT_TRUE(Eventually([&] {
    const v1::TrunkHealth h = Health("carrier");
    return h.targets_size() == 2 && h.targets(0).last_probe_rtt_us() > 0 &&
           h.targets(1).last_probe_rtt_us() > 0;
  })) << Health("carrier").DebugString();
  EXPECT_THAT(Targets(),
              ElementsAre(target1() + " HEALTH_STATE_UP", target2() + " HEALTH_STATE_UP"));
}

TEST_F(EdgeDnsTest, NewAnswersAreFollowedAtTheirTtl) {
  UseSlot(44);
  DnsZone zone = CarrierZone();
  zone.ttl_s = 1;
  StartDns(zone);
  EdgeOptions options;
  options.dns_ttl_floor_s = 1;
  StartDnsEdge(R"("probes_enabled": false)", "", options);
  // The carrier replaces sbc2 by sbc3 on another port; within a few TTLs health follows.
  DnsZone moved;
  moved.ttl_s = 1;
  moved.Naptr("carrier.test", 10, 10, "s", "SIP+D2U", "_sip._udp.carrier.test")
      .Srv("_sip._udp.carrier.test", "sbc1.carrier.test", target1_port(), 10, 10)
      .Srv("_sip._udp.carrier.test", "sbc3.carrier.test", base_ + 9, 20, 10)
      .A("sbc1.carrier.test", "127.0.0.1")
      .A("sbc3.carrier.test", "127.0.0.1");
  ASSERT_TRUE(dns_->Restart(moved));
  EXPECT_TRUE(Eventually(
      [&] {
        const std::vector<std::string> t = Targets();
        return t.size() == 2 && t[1] == absl::StrCat("127.0.0.1:", base_ + 9, " HEALTH_STATE_UP");
      },
      std::chrono::seconds(8)));
  // DNS down: the last good answer stays, and says why it is stale.
  dns_->Stop();
  EXPECT_TRUE(
      Eventually([&] { return !Health("carrier").dns_error().empty(); }, std::chrono::seconds(8)));
  EXPECT_EQ(Health("carrier").targets_size(), 2);
  EXPECT_EQ(Health("carrier").state(), v1::HEALTH_STATE_UP);
}

TEST_F(EdgeDnsTest, DigestChallengeFromATargetIsAnsweredAtTheSameTarget) {
  UseSlot(47);
  StartDns(CarrierZone());
  // target 1 answers with a challenge; the re-sent INVITE must reach it again (not resolved anew).
  Sipp* sbc1 = StartTrunk("sbc1", target1_port(), "uas_auth.xml", 1,
                          {"-key", "auth_user", "acme", "-key", "auth_pass", "s3cret"});
  Sipp* sbc2 = StartTrunk("sbc2", target2_port(), "uas_answer.xml");
  StartDnsEdge(R"("probes_enabled": false)", R"(, "username": "acme", "password": "s3cret")");
  Sipp* dialer = RunDialer("uac_call.xml");
  EXPECT_THAT(dialer->Log(), HasSubstr("ANSWERED;"));
  EXPECT_EQ(sbc1->Wait(std::chrono::seconds(5)), 0) << sbc1->Messages();
  EXPECT_THAT(sbc1->Log(), HasSubstr("AUTH;OK"));
  EXPECT_EQ(Count(sbc2->Log(), "INV"), 0);
  EXPECT_EQ(counters().target_failovers.load(), 0u);
  ExpectNoLeftovers();
}

class EdgeDnsTlsTest : public EdgeDnsTest {
 protected:
  // The trunk over TLS, DNS giving one _sips._tcp target; the Sofia peer's certificate names
  // `peer_names`. Returns the peer.
  std::unique_ptr<SofiaPeer> StartTlsTrunk(const std::string& peer_names) {
    const int tls_port = base_ + 5;
    const int peer_port = base_ + 6;
    DnsZone zone;
    zone.Srv("_sips._tcp.carrier.test", "sbc1.carrier.test", peer_port, 10, 10)
        .A("sbc1.carrier.test", "127.0.0.1");
    StartDns(zone);
    const std::string edge_certs = MakeCertificate(dir_, "edge");
    const std::string peer_certs = MakeCertificate(dir_, "peer", peer_names);
    EXPECT_FALSE(edge_certs.empty() || peer_certs.empty());
    auto trunk = SofiaPeer::Start(
        {absl::StrCat("sips:127.0.0.1:", peer_port), peer_certs, /*verify=*/false});
    EdgeOptions options;
    options.tls_listen = absl::StrCat("127.0.0.1:", tls_port);
    options.tls_cert_dir = edge_certs;
    options.dns_server = dns_->address();
    StartEdge(absl::StrReplaceAll(kConfig, {{"$CARRIER_EXTRA", R"(, "transport": "TRANSPORT_TLS")"},
                                            {"$HEALTH", R"("probes_enabled": false)"},
                                            {"$BACKUP", std::to_string(backup_port())}}),
              options);
    EXPECT_TRUE(Eventually([&] { return Health("carrier").targets_size() == 1; }));
    return trunk;
  }
};

TEST_F(EdgeDnsTlsTest, CertificateNamingTheTrunkIsAcceptedAtTheTargetsAddress) {
  UseSlot(45);
  // The certificate names the carrier's domain only (not sbc1.carrier.test, not 127.0.0.1).
  auto trunk = StartTlsTrunk("carrier.test");
  ASSERT_NE(trunk, nullptr);
  Sipp* dialer = RunDialer("uac_call.xml");
  EXPECT_THAT(dialer->Log(), HasSubstr("ANSWERED;"));
  EXPECT_EQ(trunk->invites_received(), 1);
  ExpectNoLeftovers();
}

TEST_F(EdgeDnsTlsTest, CertificateNamingOnlyTheSrvTargetIsRefused) {
  UseSlot(46);
  // RFC 5922 §4.1: the identity is the domain we were asked to reach, not the SRV target.
  auto trunk = StartTlsTrunk("sbc1.carrier.test");
  ASSERT_NE(trunk, nullptr);
  Sipp* backup = StartTrunk("backup", backup_port(), "uas_answer.xml");
  Sipp* dialer = RunDialer("uac_call.xml");
  EXPECT_THAT(dialer->Log(), HasSubstr("ANSWERED;"));
  EXPECT_EQ(trunk->invites_received(), 0) << "nothing may be sent over a misnamed connection";
  EXPECT_EQ(Count(backup->Log(), "INV"), 1);
}

}  // namespace
}  // namespace trunkroute::sip::testing
