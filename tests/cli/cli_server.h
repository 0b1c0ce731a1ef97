#ifndef TRUNKROUTE_TESTS_CLI_CLI_SERVER_H_
#define TRUNKROUTE_TESTS_CLI_CLI_SERVER_H_

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "config/config_manager.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "health/tracker.h"
#include "server/admin_service.h"
#include "server/grpc_server.h"
#include "tests/support/simulated_clock.h"
#include "trunkroute/v1/config_service.grpc.pb.h"
#include "trunkroute/v1/health.grpc.pb.h"

namespace trunkroute::testing {

inline constexpr char kCarrierPassword[] = "carrier-a-secret-pw";
inline constexpr int64_t kStartedAtUnixMs = 1714564800000;  // 2024-05-01T12:00:00Z

// Two trunks (one with a password) and a route that uses both.
inline v1::Config CliTestConfig() {
  v1::Config config;
  v1::Trunk* a = config.add_trunks();
  a->set_id("carrier-a");
  a->set_name("Carrier A");
  a->set_host("sip.carrier-a.example");
  a->set_port(5061);
  a->set_transport(v1::TRANSPORT_TLS);
  a->set_username("acme");
  a->set_password(kCarrierPassword);
  v1::Trunk* b = config.add_trunks();
  b->set_id("carrier-b");
  b->set_name("Carrier B");
  b->set_host("127.0.0.1");
  b->set_port(5082);
  b->set_transport(v1::TRANSPORT_UDP);
  v1::Route* nanp = config.add_routes();
  nanp->set_id("nanp");
  nanp->set_priority(10);
  nanp->set_pattern("\\+1\\d{10}");
  nanp->add_trunk_ids("carrier-a");
  nanp->add_trunk_ids("carrier-b");
  return config;
}

// Records the `authorization` metadata of each GetServerInfo call, then answers as the real
// AdminService does: the test's view of what the CLI put on the wire.
class RecordingAdminService final : public v1::AdminService::Service {
 public:
  explicit RecordingAdminService(server::AdminServiceImpl* real) : real_(real) {}

  grpc::Status SetLogLevel(grpc::ServerContext* context, const v1::SetLogLevelRequest* request,
                           v1::SetLogLevelResponse* response) override {
    return real_->SetLogLevel(context, request, response);
  }
  grpc::Status GetServerInfo(grpc::ServerContext* context, const v1::GetServerInfoRequest* request,
                             v1::GetServerInfoResponse* response) override {
    {
      absl::MutexLock lock(&mu_);
      auto range = context->client_metadata().equal_range("authorization");
      std::string value = "<none>";
      if (range.first != range.second) {
        value = std::string(range.first->second.data(), range.first->second.size());
      }
      authorizations_.push_back(value);
    }
    return real_->GetServerInfo(context, request, response);
  }
  std::vector<std::string> authorizations() {
    absl::MutexLock lock(&mu_);
    return authorizations_;
  }

 private:
  server::AdminServiceImpl* const real_;
  absl::Mutex mu_;
  std::vector<std::string> authorizations_ ABSL_GUARDED_BY(mu_);
};

// The real trunkroute gRPC server (ConfigService, RoutingService, HealthService from
// trunkroute_server, AdminService from server/admin_service.cc) on 127.0.0.1 port 0, over a
// ConfigManager with no store, health on simulated time.
class CliServer {
 public:
  explicit CliServer(v1::Config initial = CliTestConfig())
      : tracker_(&clock_, &random_, nullptr),
        admin_(server::AdminServiceImpl::Info{
            "9.8.7-test", kStartedAtUnixMs, "127.0.0.1:0", "", "127.0.0.1:5060",
            [this] { return manager_ ? manager_->Current()->version() : 0; }}),
        recording_admin_(&admin_) {
    auto manager = config::ConfigManager::Create(nullptr, &clock_, std::move(initial));
    EXPECT_TRUE(manager.ok()) << manager.status();
    if (!manager.ok()) return;
    manager_ = *std::move(manager);
    tracker_.ApplyTable(*manager_->Current());
    manager_->AddListener([this](const auto& table) { tracker_.ApplyTable(*table); });
    server::GrpcServer::Options options;
    options.listen_address = "127.0.0.1:0";
    options.extra_services = {&recording_admin_};
    auto server = server::GrpcServer::Start(options, manager_.get(), &tracker_);
    EXPECT_TRUE(server.ok()) << server.status();
    if (!server.ok()) return;
    server_ = *std::move(server);
    channel_ = grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials());
    config_ = v1::ConfigService::NewStub(channel_);
    health_ = v1::HealthService::NewStub(channel_);
  }
  ~CliServer() {
    if (server_ != nullptr) server_->Shutdown(std::chrono::milliseconds(2000));
  }

  bool ok() const { return server_ != nullptr; }
  // Graceful shutdown, as trunkrouted does on SIGTERM.
  void Shutdown() { server_->Shutdown(std::chrono::milliseconds(2000)); }
  const std::string& address() const { return server_->address(); }
  v1::ConfigService::Stub& config() { return *config_; }
  v1::HealthService::Stub& health() { return *health_; }
  config::ConfigManager& manager() { return *manager_; }
  RecordingAdminService& admin() { return recording_admin_; }
  health::HealthTracker& tracker() { return tracker_; }

 private:
  SimulatedClock clock_;
  FakeRandom random_{0.5};
  health::HealthTracker tracker_;
  std::unique_ptr<config::ConfigManager> manager_;
  server::AdminServiceImpl admin_;
  RecordingAdminService recording_admin_;
  std::unique_ptr<server::GrpcServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::ConfigService::Stub> config_;
  std::unique_ptr<v1::HealthService::Stub> health_;
};

inline std::unique_ptr<grpc::ClientContext> Ctx() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return ctx;
}

}  // namespace trunkroute::testing

#endif  // TRUNKROUTE_TESTS_CLI_CLI_SERVER_H_
