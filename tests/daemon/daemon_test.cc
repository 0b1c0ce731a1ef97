// daemon::Daemon, in process: start-up on a data directory, the order of failures, restarts.
// The SIP edge is off here (it needs known ports; tests/server/trunkrouted_binary_test.cc runs
// the whole binary with it).
#include "daemon/daemon.h"

#include <filesystem>
#include <memory>
#include <string>

#include "config/config_store.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"
#include "trunkroute/v1/config_service.grpc.pb.h"
#include "trunkroute/v1/routing.grpc.pb.h"

namespace trunkroute::daemon {
namespace {

using ::testing::HasSubstr;
using trunkroute::testing::TempDir;
using trunkroute::testing::WriteFileBytes;

DaemonOptions Options(const std::string& data_dir) {
  DaemonOptions o;
  o.version = "test";
  o.data_dir = data_dir;
  o.grpc_listen = "127.0.0.1:0";
  o.http_listen = "127.0.0.1:0";
  o.sip_enabled = false;
  return o;
}

std::unique_ptr<grpc::ClientContext> Ctx() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return ctx;
}

// The trunk ids RouteCall returns for `number` through the daemon's gRPC face.
std::vector<std::string> Candidates(const Daemon& d, const std::string& number) {
  auto stub = v1::RoutingService::NewStub(
      grpc::CreateChannel(d.grpc_address(), grpc::InsecureChannelCredentials()));
  v1::RouteCallRequest req;
  req.set_dialed_number(number);
  v1::RouteCallResponse resp;
  grpc::Status st = stub->RouteCall(Ctx().get(), req, &resp);
  EXPECT_TRUE(st.ok()) << st.error_message();
  std::vector<std::string> ids;
  for (const auto& c : resp.candidates()) ids.push_back(c.trunk_id());
  return ids;
}

constexpr char kBootstrap[] = R"({
  "trunks": [{"id": "solo", "host": "127.0.0.1", "port": 5099, "transport": "TRANSPORT_UDP"}],
  "routes": [{"id": "all", "priority": 10, "pattern": "\\+\\d+", "trunk_ids": ["solo"]}]
})";

TEST(DaemonTest, EmptyDataDirServesTheEmbeddedDefaultAndStoresIt) {
  TempDir tmp;
  auto d = Daemon::Start(Options(tmp.Sub("data")), RealClock::Get());
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_THAT(Candidates(**d, "+15551234567"),
              ::testing::ElementsAre("demo-primary", "demo-backup"));
  EXPECT_EQ((*d)->config()->Current()->version(), 1u);
  EXPECT_THAT(testing::ReadFileBytes(tmp.Sub("data/config.json")), HasSubstr("demo-primary"));
  (*d)->Stop();
  (*d)->Stop();  // idempotent
}

TEST(DaemonTest, BootstrapConfigSeedsOnlyAnEmptyStoreAndChangesSurviveARestart) {
  TempDir tmp;
  WriteFileBytes(tmp.Sub("bootstrap.json"), kBootstrap);
  DaemonOptions options = Options(tmp.Sub("data"));
  options.bootstrap_config = tmp.Sub("bootstrap.json");
  {
    auto d = Daemon::Start(options, RealClock::Get());
    ASSERT_TRUE(d.ok()) << d.status();
    EXPECT_THAT(Candidates(**d, "+4930123456"), ::testing::ElementsAre("solo"));
    auto stub = v1::ConfigService::NewStub(
        grpc::CreateChannel((*d)->grpc_address(), grpc::InsecureChannelCredentials()));
    v1::UpsertTrunkRequest req;
    req.mutable_trunk()->set_id("solo");
    req.mutable_trunk()->set_host("127.0.0.1");
    req.mutable_trunk()->set_port(5098);
    req.mutable_trunk()->set_transport(v1::TRANSPORT_UDP);
    v1::UpsertTrunkResponse resp;
    ASSERT_TRUE(stub->UpsertTrunk(Ctx().get(), req, &resp).ok());
    EXPECT_EQ(resp.version(), 2u);
  }
  // A different bootstrap file on the next start is ignored: the store holds a config.
  WriteFileBytes(tmp.Sub("bootstrap.json"), "not even json");
  auto d = Daemon::Start(options, RealClock::Get());
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ((*d)->config()->Current()->version(), 2u);
  EXPECT_EQ((*d)->config()->Current()->config().trunks(0).port(), 5098u);
}

TEST(DaemonTest, BadBootstrapConfigIsAClearErrorAndStoresNothing) {
  TempDir tmp;
  DaemonOptions options = Options(tmp.Sub("data"));
  options.bootstrap_config = tmp.Sub("missing.json");
  auto missing = Daemon::Start(options, RealClock::Get());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(missing.status().message(),
              HasSubstr("--bootstrap-config " + tmp.Sub("missing.json")));

  WriteFileBytes(tmp.Sub("invalid.json"),
                 R"({"routes": [{"id": "r", "priority": 1, "pattern": "(", "trunk_ids": ["x"]}]})");
  options.bootstrap_config = tmp.Sub("invalid.json");
  auto invalid = Daemon::Start(options, RealClock::Get());
  EXPECT_EQ(invalid.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(invalid.status().message(), HasSubstr("routes[0].pattern"));
  EXPECT_FALSE(std::filesystem::exists(tmp.Sub("data/config.json")));
}

TEST(DaemonTest, FailureAfterTheStoreIsOpenReleasesEverythingItStarted) {
  TempDir tmp;
  auto first = Daemon::Start(Options(tmp.Sub("a")), RealClock::Get());
  ASSERT_TRUE(first.ok()) << first.status();

  // The same data directory: refused by the store's lock, before anything listens.
  auto same_dir = Daemon::Start(Options(tmp.Sub("a")), RealClock::Get());
  EXPECT_EQ(same_dir.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(same_dir.status().message(), HasSubstr("in use by another trunkrouted"));

  // A busy HTTP port fails after the gRPC server is up: both the gRPC port and the data dir are
  // released again, so a corrected start on the same directory works.
  DaemonOptions busy = Options(tmp.Sub("b"));
  busy.http_listen = (*first)->http_address();
  auto second = Daemon::Start(busy, RealClock::Get());
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(second.status().message(), HasSubstr((*first)->http_address()));
  auto third = Daemon::Start(Options(tmp.Sub("b")), RealClock::Get());
  EXPECT_TRUE(third.ok()) << third.status();
}

}  // namespace
}  // namespace trunkroute::daemon
