#ifndef TRUNKROUTE_SERVER_GRPC_SERVER_H_
#define TRUNKROUTE_SERVER_GRPC_SERVER_H_

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "config/config_manager.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "health/tracker.h"
#include "server/config_service.h"
#include "server/health_service.h"
#include "server/routing_core.h"
#include "server/routing_service.h"
#include "server/rpc_observer.h"

namespace trunkroute::server {

// The gRPC face of trunkrouted: RoutingService, ConfigService, HealthService, plus the standard
// grpc.health.v1 service and server reflection (v1alpha in gRPC 1.51), over plaintext or TLS.
class GrpcServer {
 public:
  struct Options {
    // "host:port" or "[v6]:port"; port 0 picks a free port (see port()).
    std::string listen_address = "127.0.0.1:50051";
    // More services to serve on the same port (e.g. AdminService); not owned, must outlive the
    // server.
    std::vector<grpc::Service*> extra_services;
    // Threads answering RouteCall/ReportCallOutcome (one completion queue each); 0 = one per
    // CPU core.
    int routing_threads = 0;
    // Metrics hooks (optional, not owned, must outlive the server): every RouteCall decision
    // (gRPC and the HTTP face alike) and every answered request with its status code.
    router::DecisionObserver* decision_observer = nullptr;
    RpcObserver* rpc_observer = nullptr;
    // Authorization of every call (server/grpc_auth.h): its interceptor is installed first and
    // RoutingService, ConfigService and HealthService check its decisions (nullptr: open). Not
    // owned; extra_services take it with their own SetAuth.
    GrpcAuth* auth = nullptr;
    // Listener credentials; nullptr: plaintext. For TLS: ReloadingTlsServerCredentials
    // (server/grpc_tls_credentials.h). Kept by the server while it runs.
    std::shared_ptr<grpc::ServerCredentials> credentials;
  };

  // FailedPrecondition naming the address and the reason (e.g. "Address already in use") when
  // the port cannot be bound; InvalidArgument for a malformed address.
  static absl::StatusOr<std::unique_ptr<GrpcServer>> Start(const Options& options,
                                                           config::ConfigManager* config,
                                                           health::HealthTracker* health);
  ~GrpcServer();

  int port() const { return port_; }
  // The address actually bound, e.g. "127.0.0.1:43125".
  const std::string& address() const { return address_; }
  RoutingCore* routing_core() { return &core_; }

  // Stops accepting, ends watch streams, lets in-flight calls finish until `grace` has passed,
  // then cancels what is left. Idempotent.
  void Shutdown(std::chrono::milliseconds grace = std::chrono::milliseconds(5000));
  // Blocks until the server has shut down.
  void Wait();

 private:
  GrpcServer(config::ConfigManager* config, health::HealthTracker* health);

  RoutingCore core_;
  AsyncRoutingService routing_service_;
  ConfigServiceImpl config_service_;
  HealthServiceImpl health_service_;
  // Declared before server_: destroyed after it (gRPC's core calls into TLS credentials).
  std::shared_ptr<grpc::ServerCredentials> credentials_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::string address_;
  bool shut_down_ = false;
};

// Splits "host:port" / "[v6]:port". InvalidArgument naming the address when malformed.
absl::Status ParseListenAddress(const std::string& address, std::string* host, int* port);

}  // namespace trunkroute::server

#endif  // TRUNKROUTE_SERVER_GRPC_SERVER_H_
