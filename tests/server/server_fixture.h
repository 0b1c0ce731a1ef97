#ifndef TRUNKROUTE_TESTS_SERVER_SERVER_FIXTURE_H_
#define TRUNKROUTE_TESTS_SERVER_SERVER_FIXTURE_H_

#include <chrono>
#include <memory>
#include <string>

#include "config/config_manager.h"
#include "config/config_store.h"
#include "config/file_config_store.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "health/tracker.h"
#include "server/admin_service.h"
#include "server/cluster_service.h"
#include "server/grpc_auth.h"
#include "server/grpc_server.h"
#include "tests/support/simulated_clock.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_tokens.h"
#include "trunkroute/v1/config_service.grpc.pb.h"
#include "trunkroute/v1/health.grpc.pb.h"
#include "trunkroute/v1/routing.grpc.pb.h"

namespace trunkroute::testing {

inline constexpr char kPrimaryPassword[] = "topsecret-primary-pw";

// Two loopback trunks and two routes: NANP (primary, backup) and an E.164 catch-all (backup).
inline v1::Config TwoTrunkConfig() {
  v1::Config config;
  v1::Trunk* primary = config.add_trunks();
  primary->set_id("primary");
  primary->set_host("127.0.0.1");
  primary->set_port(5081);
  primary->set_transport(v1::TRANSPORT_UDP);
  primary->set_username("acme");
  primary->set_password(kPrimaryPassword);
  v1::Trunk* backup = config.add_trunks();
  backup->set_id("backup");
  backup->set_host("127.0.0.1");
  backup->set_port(5082);
  backup->set_transport(v1::TRANSPORT_UDP);
  v1::Route* nanp = config.add_routes();
  nanp->set_id("nanp");
  nanp->set_priority(10);
  nanp->set_pattern("\\+1\\d{10}");
  nanp->add_trunk_ids("primary");
  nanp->add_trunk_ids("backup");
  v1::Route* intl = config.add_routes();
  intl->set_id("intl");
  intl->set_priority(100);
  intl->set_pattern("\\+\\d{8,15}");
  intl->add_trunk_ids("backup");
  return config;
}

// The authorization a test server runs with: the real Authorizer over `tokens` (on `clock`, so
// backoff runs on simulated time) and the gRPC interceptor in front of it.
class TestGrpcAuth {
 public:
  TestGrpcAuth(Clock* clock, const std::vector<TestToken>& tokens,
               auth::AuthObserver* observer = nullptr)
      : authorizer_(clock, Options(tokens, observer)), grpc_(&authorizer_) {}
  server::GrpcAuth* grpc() { return &grpc_; }
  auth::Authorizer& authorizer() { return authorizer_; }

 private:
  static auth::Authorizer::Options Options(const std::vector<TestToken>& tokens,
                                           auth::AuthObserver* observer) {
    auth::Authorizer::Options o;
    if (!tokens.empty()) o.tokens = MakeTokenSet(tokens);
    o.observer = observer;
    return o;
  }
  auth::Authorizer authorizer_;
  server::GrpcAuth grpc_;
};

// A real trunkroute gRPC server on 127.0.0.1 (port 0), over a store in a temp directory, with
// health on simulated time (nothing in these tests waits for a timer).
class ServerHarness {
 public:
  // Optional: the server's metrics hooks and its authorization (server/grpc_auth.h).
  explicit ServerHarness(const std::string& data_dir, v1::Config initial = TwoTrunkConfig(),
                         router::DecisionObserver* decision_observer = nullptr,
                         server::RpcObserver* rpc_observer = nullptr,
                         server::GrpcAuth* auth = nullptr)
      : tracker_(&clock_, &random_, nullptr) {
    auto store = config::FileConfigStore::Open(data_dir);
    EXPECT_TRUE(store.ok()) << store.status();
    if (!store.ok()) return;
    store_ = *std::move(store);
    auto loaded = config::LoadOrSeed(*store_, clock_.WallUnixMs(), [&] { return initial; });
    EXPECT_TRUE(loaded.ok()) << loaded.status();
    if (!loaded.ok()) return;
    auto manager = config::ConfigManager::Create(store_.get(), &clock_, loaded->stored.config,
                                                 loaded->stored.revision);
    EXPECT_TRUE(manager.ok()) << manager.status();
    if (!manager.ok()) return;
    manager_ = *std::move(manager);
    tracker_.ApplyTable(*manager_->Current());
    manager_->AddListener([this](const auto& table) { tracker_.ApplyTable(*table); });
    server::GrpcServer::Options options;
    options.listen_address = "127.0.0.1:0";
    options.decision_observer = decision_observer;
    options.rpc_observer = rpc_observer;
    options.auth = auth;
    // AdminService and ClusterService as trunkrouted serves them, so every trunkroute.v1
    // service is on the port.
    admin_ = std::make_unique<server::AdminServiceImpl>(server::AdminServiceImpl::Info{});
    admin_->SetAuth(auth);
    options.extra_services.push_back(admin_.get());
    cluster_ = std::make_unique<server::ClusterServiceImpl>(&cluster_status_);
    cluster_->SetAuth(auth);
    options.extra_services.push_back(cluster_.get());
    auto server = server::GrpcServer::Start(options, manager_.get(), &tracker_);
    EXPECT_TRUE(server.ok()) << server.status();
    if (!server.ok()) return;
    server_ = *std::move(server);
    channel_ = grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials());
    routing_ = v1::RoutingService::NewStub(channel_);
    config_ = v1::ConfigService::NewStub(channel_);
    health_ = v1::HealthService::NewStub(channel_);
  }
  ~ServerHarness() { Stop(); }

  bool ok() const { return server_ != nullptr; }
  void Stop() {
    if (server_ != nullptr) server_->Shutdown(std::chrono::milliseconds(2000));
    server_.reset();
  }

  v1::RoutingService::Stub& routing() { return *routing_; }
  v1::ConfigService::Stub& config() { return *config_; }
  v1::HealthService::Stub& health() { return *health_; }
  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }
  server::GrpcServer& server() { return *server_; }
  config::ConfigManager& manager() { return *manager_; }
  config::FileConfigStore& store() { return *store_; }
  SimulatedClock& clock() { return clock_; }

 private:
  SimulatedClock clock_;
  FakeRandom random_{0.5};
  health::HealthTracker tracker_;
  std::unique_ptr<config::FileConfigStore> store_;
  std::unique_ptr<config::ConfigManager> manager_;
  std::unique_ptr<server::AdminServiceImpl> admin_;
  // One instance, this one, as the file store reports it.
  struct SelfOnly final : server::ClusterStatusSource {
    absl::StatusOr<v1::ListInstancesResponse> ListInstances() override {
      return v1::ListInstancesResponse();
    }
  } cluster_status_;
  std::unique_ptr<server::ClusterServiceImpl> cluster_;
  std::unique_ptr<server::GrpcServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::RoutingService::Stub> routing_;
  std::unique_ptr<v1::ConfigService::Stub> config_;
  std::unique_ptr<v1::HealthService::Stub> health_;
};

// A client context with a deadline, so no test can hang on a broken server.
inline std::unique_ptr<grpc::ClientContext> Ctx(int seconds = 10) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return ctx;
}

}  // namespace trunkroute::testing

#endif  // TRUNKROUTE_TESTS_SERVER_SERVER_FIXTURE_H_
