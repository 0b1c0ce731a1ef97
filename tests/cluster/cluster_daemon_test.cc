// Several trunkrouted instances (daemon::Daemon, in process) sharing one config through a real
// etcd started by the test: propagation, racing writers, etcd failures, compaction, invalid
// documents, auth, the probe hint.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "daemon/daemon.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "tests/support/etcd_cluster.h"
#include "tests/support/temp_dir.h"
#include "trunkroute/v1/admin.grpc.pb.h"
#include "trunkroute/v1/cluster.grpc.pb.h"
#include "trunkroute/v1/config_service.grpc.pb.h"
#include "trunkroute/v1/health.grpc.pb.h"
#include "trunkroute/v1/routing.grpc.pb.h"

namespace trunkroute {
namespace {

using testing::EtcdCluster;
using ::testing::HasSubstr;
using testing::TempDir;
using SteadyClock = std::chrono::steady_clock;

// Polls `done` every 10 ms until it holds or `timeout` passes.
bool WaitFor(const std::function<bool()>& done,
             std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = SteadyClock::now() + timeout;
  while (SteadyClock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

std::unique_ptr<grpc::ClientContext> Ctx() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return ctx;
}

// One instance and its gRPC stubs.
class Instance {
 public:
  Instance(const EtcdCluster& etcd, const std::string& id, const std::string& data_dir,
           const std::string& prefix = "/trunkroute/test") {
    options_.version = "test";
    options_.data_dir = data_dir;
    options_.grpc_listen = "127.0.0.1:0";
    options_.http_listen = "127.0.0.1:0";
    options_.sip_enabled = false;
    options_.etcd_endpoints = etcd.EndpointList();
    options_.etcd_prefix = prefix;
    options_.instance_id = id;
    options_.etcd_lease_ttl_seconds = 3;
  }
  daemon::DaemonOptions& options() { return options_; }

  absl::Status Start() {
    auto d = daemon::Daemon::Start(options_, RealClock::Get());
    if (!d.ok()) return d.status();
    daemon_ = *std::move(d);
    auto channel = grpc::CreateChannel(daemon_->grpc_address(), grpc::InsecureChannelCredentials());
    config_ = v1::ConfigService::NewStub(channel);
    routing_ = v1::RoutingService::NewStub(channel);
    admin_ = v1::AdminService::NewStub(channel);
    cluster_ = v1::ClusterService::NewStub(channel);
    health_ = v1::HealthService::NewStub(channel);
    return absl::OkStatus();
  }
  void Stop() { daemon_.reset(); }

  uint64_t version() { return daemon_->config()->Current()->version(); }
  const v1::Config& config() { return daemon_->config()->Current()->config(); }

  // UpsertTrunk over gRPC: the trunk `id` on `port`.
  grpc::Status Upsert(const std::string& id, uint32_t port, uint64_t expected = 0,
                      v1::UpsertTrunkResponse* out = nullptr) {
    v1::UpsertTrunkRequest req;
    req.mutable_trunk()->set_id(id);
    req.mutable_trunk()->set_host("127.0.0.1");
    req.mutable_trunk()->set_port(port);
    req.mutable_trunk()->set_transport(v1::TRANSPORT_UDP);
    req.set_expected_version(expected);
    v1::UpsertTrunkResponse resp;
    grpc::Status st = config_->UpsertTrunk(Ctx().get(), req, &resp);
    if (out != nullptr) *out = resp;
    return st;
  }
  uint32_t PortOf(const std::string& trunk_id) {
    for (const v1::Trunk& t : config().trunks()) {
      if (t.id() == trunk_id) return t.port();
    }
    return 0;
  }
  grpc::Status RouteCall(v1::RouteCallResponse* resp) {
    v1::RouteCallRequest req;
    req.set_dialed_number("+15551234567");
    return routing_->RouteCall(Ctx().get(), req, resp);
  }
  v1::GetServerInfoResponse Info() {
    v1::GetServerInfoResponse resp;
    EXPECT_TRUE(admin_->GetServerInfo(Ctx().get(), {}, &resp).ok());
    return resp;
  }
  v1::ListInstancesResponse Instances() {
    v1::ListInstancesResponse resp;
    grpc::Status st = cluster_->ListInstances(Ctx().get(), {}, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return resp;
  }
  v1::HealthService::Stub& health() { return *health_; }
  daemon::Daemon& daemon() { return *daemon_; }

 private:
  daemon::DaemonOptions options_;
  std::unique_ptr<daemon::Daemon> daemon_;
  std::unique_ptr<v1::ConfigService::Stub> config_;
  std::unique_ptr<v1::RoutingService::Stub> routing_;
  std::unique_ptr<v1::AdminService::Stub> admin_;
  std::unique_ptr<v1::ClusterService::Stub> cluster_;
  std::unique_ptr<v1::HealthService::Stub> health_;
};

// The value of `series` (name with labels) in a /metrics scrape of `http_address` ("" when
// absent).
std::string Metric(const std::string& http_address, const std::string& series) {
  httplib::Client client("http://" + http_address);
  client.set_read_timeout(5, 0);
  auto res = client.Get("/metrics");
  if (!res || res->status != 200) return "";
  for (absl::string_view line : absl::StrSplit(res->body, '\n')) {
    if (absl::StartsWith(line, series + " ")) return std::string(line.substr(series.size() + 1));
  }
  return "";
}

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(etcd_.Start()) << "etcd did not start"; }
  EtcdCluster etcd_;
  TempDir tmp_;
};

TEST_F(ClusterTest, ChangeOnAServesOnB) {
  Instance a(etcd_, "a", tmp_.Sub("a"));
  Instance b(etcd_, "b", tmp_.Sub("b"));
  ASSERT_TRUE(a.Start().ok());
  ASSERT_TRUE(b.Start().ok());
  EXPECT_EQ(a.version(), 1u);
  EXPECT_EQ(b.version(), 1u);  // B found A's seed and served it
  v1::UpsertTrunkResponse resp;
  ASSERT_TRUE(a.Upsert("demo-backup", 6100, 0, &resp).ok());
  EXPECT_EQ(resp.version(), 2u);
  ASSERT_TRUE(WaitFor([&] { return b.PortOf("demo-backup") == 6100; }));
  EXPECT_EQ(b.version(), 2u);
  // …and back the other way, with expected_version meaning the same on both.
  ASSERT_TRUE(b.Upsert("demo-backup", 6101, /*expected=*/2).ok());
  ASSERT_TRUE(WaitFor([&] { return a.PortOf("demo-backup") == 6101; }));
  EXPECT_EQ(a.version(), 3u);
  // The local copy follows too (written just after the new config serves).
  EXPECT_TRUE(WaitFor([&] {
    return absl::StrContains(testing::ReadFileBytes(tmp_.Sub("a/etcd-cache.json")), "6101");
  }));
  v1::GetServerInfoResponse info = a.Info();
  EXPECT_EQ(info.config_source(), "etcd");
  EXPECT_TRUE(info.clustered());
  EXPECT_TRUE(info.etcd_reachable());
  EXPECT_EQ(info.instance_id(), "a");
  EXPECT_EQ(Metric(a.daemon().http_address(), "trunkroute_config_source{source=\"etcd\"}"), "1");
  EXPECT_EQ(Metric(b.daemon().http_address(), "trunkroute_etcd_up"), "1");
}

TEST_F(ClusterTest, RacingWritersOnAAndBOneIsAbortedNothingLost) {
  Instance a(etcd_, "a", tmp_.Sub("a"));
  Instance b(etcd_, "b", tmp_.Sub("b"));
  ASSERT_TRUE(a.Start().ok());
  ASSERT_TRUE(b.Start().ok());
  // Both were told version 1 and both write from it, at the same moment.
  grpc::Status sa, sb;
  std::thread ta([&] { sa = a.Upsert("x", 6200, 1); });
  std::thread tb([&] { sb = b.Upsert("y", 6300, 1); });
  ta.join();
  tb.join();
  ASSERT_NE(sa.ok(), sb.ok()) << sa.error_message() << " / " << sb.error_message();
  const grpc::Status& loser = sa.ok() ? sb : sa;
  EXPECT_EQ(loser.error_code(), grpc::StatusCode::ABORTED) << loser.error_message();
  const std::string winner = sa.ok() ? "x" : "y";
  ASSERT_TRUE(WaitFor([&] { return a.PortOf(winner) != 0 && b.PortOf(winner) != 0; }));
  EXPECT_EQ(a.version(), 2u);
  EXPECT_EQ(b.version(), 2u);
  EXPECT_EQ(a.PortOf(sa.ok() ? "y" : "x"), 0u);
  EXPECT_EQ(
      Metric((sa.ok() ? b : a).daemon().http_address(), "trunkroute_config_cas_conflicts_total"),
      "1");
}

TEST_F(ClusterTest, EtcdDownRoutingGoesOnWritesAreUnavailableThenCatchUp) {
  Instance a(etcd_, "a", tmp_.Sub("a"));
  Instance b(etcd_, "b", tmp_.Sub("b"));
  ASSERT_TRUE(a.Start().ok());
  ASSERT_TRUE(b.Start().ok());
  etcd_.KillAll();
  ASSERT_TRUE(WaitFor([&] { return !b.Info().etcd_reachable(); }));
  for (int i = 0; i < 20; ++i) {
    v1::RouteCallResponse resp;
    ASSERT_TRUE(b.RouteCall(&resp).ok());
    EXPECT_EQ(resp.candidates_size(), 2);
  }
  grpc::Status st = a.Upsert("demo-backup", 6400);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(st.error_message(), HasSubstr("etcd"));
  EXPECT_EQ(a.version(), 1u);
  EXPECT_EQ(Metric(b.daemon().http_address(), "trunkroute_etcd_up"), "0");

  etcd_.StartMember(0);
  ASSERT_TRUE(etcd_.WaitHealthy(std::chrono::seconds(20)));
  // Each instance reconnects by itself; a write on A then reaches B.
  ASSERT_TRUE(
      WaitFor([&] { return a.Upsert("demo-backup", 6401).ok(); }, std::chrono::seconds(15)));
  ASSERT_TRUE(WaitFor([&] { return b.PortOf("demo-backup") == 6401; }));
  EXPECT_TRUE(b.Info().etcd_reachable());
}

TEST_F(ClusterTest, StartWithEtcdDownServesTheLocalCopyAndCatchesUpAfter) {
  {
    Instance a(etcd_, "a", tmp_.Sub("a"));
    ASSERT_TRUE(a.Start().ok());
    ASSERT_TRUE(a.Upsert("demo-backup", 6500).ok());
  }
  etcd_.KillAll();
  Instance a(etcd_, "a", tmp_.Sub("a"));
  ASSERT_TRUE(a.Start().ok());
  EXPECT_EQ(a.version(), 2u);
  EXPECT_EQ(a.PortOf("demo-backup"), 6500u);
  v1::GetServerInfoResponse info = a.Info();
  EXPECT_EQ(info.config_source(), "cache");
  EXPECT_FALSE(info.etcd_reachable());
  EXPECT_EQ(Metric(a.daemon().http_address(), "trunkroute_config_source{source=\"cache\"}"), "1");
  EXPECT_EQ(a.Upsert("demo-backup", 6501).error_code(), grpc::StatusCode::UNAVAILABLE);

  etcd_.StartMember(0);
  ASSERT_TRUE(etcd_.WaitHealthy(std::chrono::seconds(20)));
  ASSERT_TRUE(
      WaitFor([&] { return a.Info().config_source() == "etcd"; }, std::chrono::seconds(15)));
  EXPECT_TRUE(a.Upsert("demo-backup", 6502).ok());
  EXPECT_EQ(a.version(), 3u);
}

TEST_F(ClusterTest, FirstStartWithEtcdDownAndNoLocalCopyIsAClearError) {
  etcd_.KillAll();
  Instance a(etcd_, "a", tmp_.Sub("a"));
  absl::Status st = a.Start();
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(st.message(), HasSubstr("no config to serve"));
  EXPECT_THAT(st.message(), HasSubstr("etcd-cache.json"));
}

TEST_F(ClusterTest, InvalidConfigPutByHandIsRefusedAndTheOldOneKeepsServing) {
  Instance a(etcd_, "a", tmp_.Sub("a"));
  ASSERT_TRUE(a.Start().ok());
  // Not JSON at all, then JSON that names a trunk that does not exist.
  ASSERT_EQ(etcd_.Etcdctl({"put", "/trunkroute/test/config", "{oops"}), 0) << etcd_.EtcdctlLog();
  ASSERT_TRUE(WaitFor([&] {
    return Metric(a.daemon().http_address(), "trunkroute_config_rejected_total") == "1";
  }));
  ASSERT_EQ(etcd_.Etcdctl({"put", "/trunkroute/test/config",
                           R"({"version": "9", "routes": [{"id": "r", "priority": 1,
                               "pattern": "\\+1.*", "trunk_ids": ["ghost"]}]})"}),
            0);
  ASSERT_TRUE(WaitFor([&] {
    return Metric(a.daemon().http_address(), "trunkroute_config_rejected_total") == "2";
  }));
  EXPECT_EQ(a.version(), 1u);
  v1::RouteCallResponse resp;
  ASSERT_TRUE(a.RouteCall(&resp).ok());
  EXPECT_EQ(resp.candidates_size(), 2);
  // A write through the API replaces the bad document; versions never go back.
  ASSERT_TRUE(a.Upsert("demo-backup", 6600).ok());
  EXPECT_EQ(a.version(), 10u);
}

TEST_F(ClusterTest, ClusterStatusListsInstancesAndAStoppedOneLeavesAtOnce) {
  Instance a(etcd_, "a", tmp_.Sub("a"));
  Instance b(etcd_, "b", tmp_.Sub("b"));
  ASSERT_TRUE(a.Start().ok());
  ASSERT_TRUE(b.Start().ok());
  ASSERT_TRUE(WaitFor([&] { return a.Instances().instances_size() == 2; }));
  v1::ListInstancesResponse list = a.Instances();
  EXPECT_TRUE(list.clustered());
  EXPECT_TRUE(list.etcd_reachable());
  EXPECT_EQ(list.instances(0).instance_id(), "a");
  EXPECT_TRUE(list.instances(0).self());
  EXPECT_EQ(list.instances(1).instance_id(), "b");
  EXPECT_FALSE(list.instances(1).config_drift());
  EXPECT_EQ(list.instances(1).grpc_address(), b.daemon().grpc_address());
  EXPECT_EQ(list.instances(1).trunks_size(), 2);
  b.Stop();
  ASSERT_TRUE(
      WaitFor([&] { return a.Instances().instances_size() == 1; }, std::chrono::seconds(2)));
  // The gauge follows A's watch, which may lag the direct read above by a few milliseconds.
  EXPECT_TRUE(WaitFor(
      [&] { return Metric(a.daemon().http_address(), "trunkroute_cluster_instances") == "1"; }));
}

TEST_F(ClusterTest, DriftAndDisagreementAreShown) {
  Instance a(etcd_, "a", tmp_.Sub("a"));
  Instance b(etcd_, "b", tmp_.Sub("b"));
  ASSERT_TRUE(a.Start().ok());
  ASSERT_TRUE(b.Start().ok());
  // B sees demo-primary fail (a dialer reports a 503 with Retry-After through B).
  v1::ReportCallOutcomeRequest report;
  report.set_trunk_id("demo-primary");
  report.set_sip_status(503);
  report.set_retry_after_s(30);
  v1::ReportCallOutcomeResponse ignored;
  auto routing = v1::RoutingService::NewStub(
      grpc::CreateChannel(b.daemon().grpc_address(), grpc::InsecureChannelCredentials()));
  ASSERT_TRUE(routing->ReportCallOutcome(Ctx().get(), report, &ignored).ok());
  ASSERT_TRUE(WaitFor([&] { return a.Instances().disagreements_size() == 1; }));
  v1::TrunkDisagreement d = a.Instances().disagreements(0);
  EXPECT_EQ(d.trunk_id(), "demo-primary");
  EXPECT_THAT(d.down_on(), ::testing::ElementsAre("b"));
  EXPECT_THAT(d.up_on(), ::testing::ElementsAre("a"));
}

// Compaction while an instance cannot see etcd: when it is back, it finds its revision gone
// from etcd's history and reads everything again instead of skipping changes.
TEST(ClusterCompactionTest, CompactedWhileDisconnectedRereadsEverything) {
  EtcdCluster etcd(3);
  ASSERT_TRUE(etcd.Start());
  TempDir tmp;
  Instance a(etcd, "a", tmp.Sub("a"));
  ASSERT_TRUE(a.Start().ok());
  // B talks to member 2 only; killing member 2 cuts B off while A (on 0 and 1) goes on.
  Instance b(etcd, "b", tmp.Sub("b"));
  b.options().etcd_endpoints = {etcd.members()[2].client_url()};
  ASSERT_TRUE(b.Start().ok());
  if (etcd.Leader() == 2) {
    // Keep the quorum on 0 and 1 while 2 is away: move leadership by restarting 2.
    etcd.Kill(2);
    ASSERT_TRUE(etcd.WaitHealthy(std::chrono::seconds(20)));
    etcd.StartMember(2);
  }
  etcd.Kill(2);
  ASSERT_TRUE(WaitFor([&] { return !b.Info().etcd_reachable(); }));
  for (uint32_t port : {6701u, 6702u, 6703u}) {
    ASSERT_TRUE(WaitFor([&] { return a.Upsert("demo-backup", port).ok(); })) << port;
  }
  // Compact at the newest revision: every event B has not seen is gone from the history.
  auto kv = etcdserverpb::KV::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", etcd.members()[0].client_port),
                          grpc::InsecureChannelCredentials()));
  etcdserverpb::RangeRequest range;
  range.set_key("/trunkroute/test/config");
  etcdserverpb::RangeResponse got;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(kv->Range(&ctx, range, &got).ok());
  }
  etcdserverpb::CompactionRequest compact;
  compact.set_revision(got.header().revision());
  etcdserverpb::CompactionResponse compacted;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(kv->Compact(&ctx, compact, &compacted).ok());
  }
  EXPECT_EQ(b.PortOf("demo-backup"), 5082u);  // still the old config
  etcd.StartMember(2);
  ASSERT_TRUE(WaitFor([&] { return b.PortOf("demo-backup") == 6703; }, std::chrono::seconds(30)));
  EXPECT_EQ(b.version(), a.version());
}

TEST(ClusterHaTest, LeaderKilledWritesResumeAndRoutingNeverStops) {
  EtcdCluster etcd(3);
  ASSERT_TRUE(etcd.Start());
  TempDir tmp;
  Instance a(etcd, "a", tmp.Sub("a"));
  Instance b(etcd, "b", tmp.Sub("b"));
  ASSERT_TRUE(a.Start().ok());
  ASSERT_TRUE(b.Start().ok());
  std::atomic<bool> stop{false};
  std::atomic<int> routed{0}, failed{0};
  std::thread caller([&] {
    while (!stop) {
      v1::RouteCallResponse resp;
      (b.RouteCall(&resp).ok() && resp.candidates_size() == 2 ? routed : failed)++;
    }
  });
  const int leader = etcd.Leader();
  ASSERT_GE(leader, 0);
  etcd.Kill(leader);
  ASSERT_TRUE(
      WaitFor([&] { return a.Upsert("demo-backup", 6800).ok(); }, std::chrono::seconds(20)));
  ASSERT_TRUE(WaitFor([&] { return b.PortOf("demo-backup") == 6800; }, std::chrono::seconds(20)));
  stop = true;
  caller.join();
  EXPECT_GT(routed.load(), 0);
  EXPECT_EQ(failed.load(), 0);
}

TEST(ClusterAuthTest, EtcdWithAuthOnNeedsTheRightPassword) {
  EtcdCluster etcd(1);
  ASSERT_TRUE(etcd.Start());
  // A root user (etcd needs one to enable auth) and a trunkroute user limited to its prefix.
  for (const std::vector<std::string>& cmd : std::vector<std::vector<std::string>>{
           {"user", "add", "root", "--new-user-password", "rootpw"},
           {"user", "grant-role", "root", "root"},
           {"role", "add", "trunkroute"},
           {"role", "grant-permission", "trunkroute", "readwrite", "--prefix=true", "/trunkroute/"},
           {"user", "add", "tr", "--new-user-password", "s3cret-etcd-pw"},
           {"user", "grant-role", "tr", "trunkroute"},
           {"auth", "enable"}}) {
    ASSERT_EQ(etcd.Etcdctl(cmd), 0) << etcd.EtcdctlLog();
  }
  TempDir tmp;
  Instance wrong(etcd, "a", tmp.Sub("a"));
  wrong.options().etcd_user = "tr";
  wrong.options().etcd_password = "not-it";
  absl::Status st = wrong.Start();
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;  // etcd: authentication failed
  EXPECT_THAT(st.ToString(), ::testing::Not(HasSubstr("not-it")));

  Instance outside(etcd, "a", tmp.Sub("a"), "/elsewhere");
  outside.options().etcd_user = "tr";
  outside.options().etcd_password = "s3cret-etcd-pw";
  EXPECT_EQ(outside.Start().code(), absl::StatusCode::kPermissionDenied);

  Instance a(etcd, "a", tmp.Sub("a"));
  a.options().etcd_user = "tr";
  a.options().etcd_password = "s3cret-etcd-pw";
  ASSERT_TRUE(a.Start().ok());
  Instance b(etcd, "b", tmp.Sub("b"));
  b.options().etcd_user = "tr";
  b.options().etcd_password = "s3cret-etcd-pw";
  ASSERT_TRUE(b.Start().ok());
  ASSERT_TRUE(a.Upsert("demo-backup", 6900).ok());
  ASSERT_TRUE(WaitFor([&] { return b.PortOf("demo-backup") == 6900; }));
}

TEST(ClusterTlsTest, EtcdOverTlsWithClientCertificates) {
  EtcdCluster etcd(1);
  ASSERT_TRUE(etcd.EnableTls());
  ASSERT_TRUE(etcd.Start());
  TempDir tmp;
  const std::string certs = etcd.dir().path();
  // No client certificate: the handshake fails, and a first start has nothing to serve.
  Instance anonymous(etcd, "x", tmp.Sub("x"));
  anonymous.options().etcd_ca_file = certs + "/ca.pem";
  absl::Status st = anonymous.Start();
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
  EXPECT_THAT(st.message(), HasSubstr("no config to serve"));

  Instance a(etcd, "a", tmp.Sub("a"));
  Instance b(etcd, "b", tmp.Sub("b"));
  for (Instance* i : {&a, &b}) {
    i->options().etcd_ca_file = certs + "/ca.pem";
    i->options().etcd_cert_file = certs + "/client.pem";
    i->options().etcd_key_file = certs + "/client-key.pem";
  }
  ASSERT_TRUE(a.Start().ok());
  ASSERT_TRUE(b.Start().ok());
  ASSERT_TRUE(a.Upsert("demo-backup", 7000).ok());
  ASSERT_TRUE(WaitFor([&] { return b.PortOf("demo-backup") == 7000; }));
  EXPECT_TRUE(a.Info().etcd_endpoints().starts_with("https://127.0.0.1:"));
}

}  // namespace
}  // namespace trunkroute
