// The clustered mode with the SIP edge on: calls through an instance never depend on etcd, and
// one instance's ejection makes the others probe the trunk at once. Real peers: etcd, SIPp trunks
// and dialers on 127.0.0.1 (ports from TRUNKROUTE_SIP_TEST_PORT_BASE, slots 90-99 of tests/sip's
// scheme).
#include <chrono>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "daemon/daemon.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "tests/sip/sipp.h"
#include "tests/support/etcd_cluster.h"
#include "tests/support/temp_dir.h"
#include "trunkroute/v1/health.grpc.pb.h"
#include "trunkroute/v1/routing.grpc.pb.h"

namespace trunkroute {
namespace {

using sip::testing::Scenario;
using sip::testing::Sipp;
using sip::testing::WaitUdpBound;
using testing::EtcdCluster;
using testing::TempDir;

bool WaitFor(const std::function<bool()>& done,
             std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

int Count(const std::string& text, const std::string& needle) {
  int n = 0;
  for (size_t p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1)) ++n;
  return n;
}

// Ports of one test: port slot `slot` of tests/sip's scheme (checked unique by
// tests/sip/check_port_slots.py).
struct Ports {
  explicit Ports(int slot) {
    int range = 27000;
    if (const char* b = std::getenv("TRUNKROUTE_SIP_TEST_PORT_BASE")) range = std::atoi(b);
    base = range + slot * 10;
    media = range + 13000 + slot * 40;
  }
  int base = 0;
  int media = 0;
};

constexpr char kConfig[] = R"json({
  "trunks": [
    {"id": "primary", "host": "127.0.0.1", "port": $PRIMARY, "transport": "TRANSPORT_UDP"},
    {"id": "backup", "host": "127.0.0.1", "port": $BACKUP, "transport": "TRANSPORT_UDP"}
  ],
  "routes": [
    {"id": "e164", "priority": 10, "pattern": "\\+\\d{6,15}", "trunk_ids": ["primary", "backup"]}
  ],
  "failover_policy": {"setup_timeout_ms": 500},
  "health_policy": {$HEALTH}
})json";

daemon::DaemonOptions Options(const EtcdCluster& etcd, const std::string& id,
                              const std::string& dir, const std::string& bootstrap, int sip_port) {
  daemon::DaemonOptions o;
  o.version = "test";
  o.data_dir = dir;
  o.bootstrap_config = bootstrap;
  o.grpc_listen = "127.0.0.1:0";
  o.http_listen = "127.0.0.1:0";
  o.sip_listen = absl::StrCat("127.0.0.1:", sip_port);
  o.etcd_endpoints = etcd.EndpointList();
  o.etcd_prefix = "/trunkroute/sip";
  o.instance_id = id;
  o.etcd_lease_ttl_seconds = 3;
  return o;
}

std::unique_ptr<grpc::ClientContext> Ctx() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return ctx;
}

v1::HealthState StateOf(daemon::Daemon& d, const std::string& trunk) {
  v1::TrunkHealth h;
  return d.health()->Get(trunk, &h) ? h.state() : v1::HEALTH_STATE_UNSPECIFIED;
}

TEST(ClusterSipTest, CallsThroughTheEdgeKeepFlowingWhileEtcdIsDown) {
  EtcdCluster etcd(1);
  ASSERT_TRUE(etcd.Start());
  TempDir tmp;
  Ports ports(90);
  const int edge = ports.base, primary = ports.base + 1, backup = ports.base + 2,
            dialer = ports.base + 3;
  testing::WriteFileBytes(
      tmp.Sub("bootstrap.json"),
      absl::StrReplaceAll(kConfig, {{"$PRIMARY", std::to_string(primary)},
                                    {"$BACKUP", std::to_string(backup)},
                                    {"$HEALTH", R"("probes_enabled": false)"}}));
  constexpr int kCalls = 40;
  auto trunk = Sipp::Start(
      "primary", tmp.path(),
      {"-sf", Scenario("uas_answer.xml"), "-i", "127.0.0.1", "-p", std::to_string(primary), "-mp",
       std::to_string(ports.media), "-m", std::to_string(kCalls), "-timeout", "30s"});
  ASSERT_TRUE(WaitUdpBound(primary, std::chrono::seconds(5)));
  auto started = daemon::Daemon::Start(
      Options(etcd, "b", tmp.Sub("b"), tmp.Sub("bootstrap.json"), edge), RealClock::Get());
  ASSERT_TRUE(started.ok()) << started.status();
  std::unique_ptr<daemon::Daemon> b = *std::move(started);

  // 40 calls at 20/s; etcd dies after the first few and stays dead.
  auto calls = Sipp::Start("dialer", tmp.path(),
                           {absl::StrCat("127.0.0.1:", edge),
                            "-sf",
                            Scenario("uac_call.xml"),
                            "-i",
                            "127.0.0.1",
                            "-p",
                            std::to_string(dialer),
                            "-mp",
                            std::to_string(ports.media + 8),
                            "-m",
                            std::to_string(kCalls),
                            "-r",
                            "20",
                            "-s",
                            "+15551234567",
                            "-d",
                            "100",
                            "-timeout",
                            "30s",
                            "-key",
                            "max_forwards",
                            "70"});
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  etcd.KillAll();
  EXPECT_EQ(calls->Wait(std::chrono::seconds(35)), 0) << calls->Output();
  EXPECT_EQ(Count(calls->Log(), "ANSWERED;"), kCalls) << calls->Log();
  EXPECT_EQ(Count(calls->Log(), "BYE;OK"), kCalls);
  EXPECT_EQ(StateOf(*b, "primary"), v1::HEALTH_STATE_UP);
}

TEST(ClusterSipTest, PeerEjectionMakesTheOthersProbeAtOnceWithoutEjecting) {
  EtcdCluster etcd(1);
  ASSERT_TRUE(etcd.Start());
  TempDir tmp;
  Ports ports(91);
  const int edge_a = ports.base, primary = ports.base + 1, backup = ports.base + 2,
            edge_b = ports.base + 4;
  // Probes every minute: the only probes inside this test are the start-up ones and hints.
  testing::WriteFileBytes(
      tmp.Sub("bootstrap.json"),
      absl::StrReplaceAll(kConfig, {{"$PRIMARY", std::to_string(primary)},
                                    {"$BACKUP", std::to_string(backup)},
                                    {"$HEALTH", R"("probe_interval_up_ms": 60000)"}}));
  auto trunk = Sipp::Start(
      "primary", tmp.path(),
      {"-sf", Scenario("uas_answer.xml"), "-i", "127.0.0.1", "-p", std::to_string(primary), "-mp",
       std::to_string(ports.media), "-m", "100", "-timeout", "30s"});
  ASSERT_TRUE(WaitUdpBound(primary, std::chrono::seconds(5)));
  auto a = daemon::Daemon::Start(
      Options(etcd, "a", tmp.Sub("a"), tmp.Sub("bootstrap.json"), edge_a), RealClock::Get());
  ASSERT_TRUE(a.ok()) << a.status();
  auto b = daemon::Daemon::Start(
      Options(etcd, "b", tmp.Sub("b"), tmp.Sub("bootstrap.json"), edge_b), RealClock::Get());
  ASSERT_TRUE(b.ok()) << b.status();
  // Probes from B as the trunk received them (its own 200 OKs echo the Via too, so count only
  // received OPTIONS requests).
  const std::string b_via = absl::StrCat("Via: SIP/2.0/UDP 127.0.0.1:", edge_b, ";");
  auto probes_from = [&](const std::string& via) {
    int n = 0;
    for (absl::string_view block : absl::StrSplit(trunk->Messages(), "message received")) {
      if (absl::StrContains(block, "\nOPTIONS sip:") && absl::StrContains(block, via)) ++n;
    }
    return n;
  };
  // Both start-up probes answered (each instance probes a new trunk at once), so that the
  // next probe from B can only be the hint's.
  auto answered = [](daemon::Daemon& d) {
    v1::TrunkHealth h;
    return d.health()->Get("primary", &h) && h.last_probe_rtt_us() > 0;
  };
  ASSERT_TRUE(WaitFor([&] { return answered(**a) && answered(**b); }));
  const int probes_from_b = probes_from(b_via);
  ASSERT_EQ(probes_from_b, 1) << trunk->Messages();

  // A dialer reports a 503 with Retry-After through A: A ejects primary at once.
  auto routing = v1::RoutingService::NewStub(
      grpc::CreateChannel((*a)->grpc_address(), grpc::InsecureChannelCredentials()));
  v1::ReportCallOutcomeRequest report;
  report.set_trunk_id("primary");
  report.set_sip_status(503);
  report.set_retry_after_s(30);
  v1::ReportCallOutcomeResponse ignored;
  ASSERT_TRUE(routing->ReportCallOutcome(Ctx().get(), report, &ignored).ok());
  EXPECT_EQ(StateOf(**a, "primary"), v1::HEALTH_STATE_DOWN);

  // B probes primary now, a minute before its schedule, and (the trunk answers) stays UP.
  EXPECT_TRUE(WaitFor([&] { return probes_from(b_via) > probes_from_b; }, std::chrono::seconds(5)))
      << trunk->Messages();
  EXPECT_EQ(StateOf(**b, "primary"), v1::HEALTH_STATE_UP);
  httplib::Client scrape("http://" + (*b)->http_address());
  auto metrics = scrape.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_THAT(metrics->body,
              ::testing::HasSubstr("trunkroute_cluster_probe_hints_total{trunk=\"primary\"} 1"));
  EXPECT_EQ(probes_from(b_via), probes_from_b + 1);
}

}  // namespace
}  // namespace trunkroute
