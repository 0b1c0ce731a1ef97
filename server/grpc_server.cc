#include "server/grpc_server.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"

namespace trunkroute::server {
namespace {

// gRPC reports a failed bind only as a null server (and a log line of its own); binding the same
// address ourselves recovers the errno so the operator reads "Address already in use".
std::string DiagnoseBind(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  std::string port_text = std::to_string(port);
  int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), port_text.c_str(), &hints, &res);
  if (rc != 0) return absl::StrCat("cannot resolve '", host, "': ", gai_strerror(rc));
  std::string reason = "the address could not be bound";
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      reason = std::strerror(errno);
      continue;
    }
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) reason = std::strerror(errno);
    ::close(fd);
  }
  ::freeaddrinfo(res);
  return reason;
}

}  // namespace

absl::Status ParseListenAddress(const std::string& address, std::string* host, int* port) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon + 1 == address.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen address '", address, "': expected host:port"));
  }
  std::string h = address.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') {
    h = h.substr(1, h.size() - 2);
  } else if (h.find(':') != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen address '", address, "': write IPv6 hosts as [addr]:port"));
  }
  int p = 0;
  if (!absl::SimpleAtoi(address.substr(colon + 1), &p) || p < 0 || p > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen address '", address, "': port must be 0-65535"));
  }
  *host = h;
  *port = p;
  return absl::OkStatus();
}

GrpcServer::GrpcServer(config::ConfigManager* config, health::HealthTracker* health)
    : core_(config, health),
      routing_service_(&core_),
      config_service_(config, health),
      health_service_(config, health) {}

absl::StatusOr<std::unique_ptr<GrpcServer>> GrpcServer::Start(const Options& options,
                                                              config::ConfigManager* config,
                                                              health::HealthTracker* health) {
  std::string host;
  int port = 0;
  if (absl::Status st = ParseListenAddress(options.listen_address, &host, &port); !st.ok()) {
    return st;
  }
  // Both are process-wide switches read when a builder is created.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  auto server = std::unique_ptr<GrpcServer>(new GrpcServer(config, health));
  server->core_.SetDecisionObserver(options.decision_observer);
  server->routing_service_.SetAuth(options.auth);
  server->routing_service_.SetRpcObserver(options.rpc_observer);
  server->config_service_.SetAuth(options.auth);
  server->health_service_.SetAuth(options.auth);
  // RoutingService's handlers decide and report their calls themselves, so RouteCall (the hot
  // path) runs with no interceptor at all; every other method keeps both interceptors.
  const std::vector<std::string>& self_checked = AsyncRoutingService::MethodNames();
  if (options.auth != nullptr) {
    for (const std::string& method : self_checked) {
      if (absl::Status st = options.auth->DecideInHandler(method); !st.ok()) return st;
    }
  }
  grpc::ServerBuilder builder;
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
  // Authorization first: its decision exists before anything else looks at the call.
  if (options.auth != nullptr) creators.push_back(options.auth->MakeInterceptorFactory());
  if (options.rpc_observer != nullptr) {
    creators.push_back(MakeRpcObserverInterceptor(options.rpc_observer, self_checked));
  }
  if (!creators.empty()) builder.experimental().SetInterceptorCreators(std::move(creators));
  // gRPC sets SO_REUSEPORT by default, which lets a second trunkrouted bind a busy port and
  // silently steal half the connections. A busy port must be an error.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // Config and health RPCs are rare: one sync queue and few pollers keep those threads from
  // competing with the routing threads for the connections' reads.
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::NUM_CQS, 1);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, 1);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, 2);
  int selected_port = 0;
  server->credentials_ =
      options.credentials != nullptr ? options.credentials : grpc::InsecureServerCredentials();
  builder.AddListeningPort(options.listen_address, server->credentials_, &selected_port);
  int routing_threads = options.routing_threads;
  if (routing_threads <= 0) routing_threads = static_cast<int>(std::thread::hardware_concurrency());
  server->routing_service_.Register(&builder, routing_threads);
  builder.RegisterService(&server->config_service_);
  builder.RegisterService(&server->health_service_);
  for (grpc::Service* service : options.extra_services) builder.RegisterService(service);
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || selected_port == 0) {
    if (server->server_ != nullptr) server->server_->Shutdown();
    server->routing_service_.Shutdown();
    server->shut_down_ = true;
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot listen for gRPC on ", options.listen_address, ": ", DiagnoseBind(host, port)));
  }
  server->routing_service_.Start();
  if (auto* hc = server->server_->GetHealthCheckService()) {
    // The whole server (""), and each trunkroute service by name, as docs/api.md promises (gRPC
    // knows only "" by itself). SetServingStatus(false) at shutdown covers all of them.
    hc->SetServingStatus(true);
    for (const char* name :
         {v1::RoutingService::service_full_name(), v1::ConfigService::service_full_name(),
          v1::HealthService::service_full_name()}) {
      hc->SetServingStatus(name, true);
    }
  }
  server->port_ = selected_port;
  server->address_ = host.find(':') != std::string::npos
                         ? absl::StrCat("[", host, "]:", selected_port)
                         : absl::StrCat(host, ":", selected_port);
  return server;
}

GrpcServer::~GrpcServer() { Shutdown(); }

void GrpcServer::Shutdown(std::chrono::milliseconds grace) {
  if (shut_down_) return;
  shut_down_ = true;
  if (auto* hc = server_->GetHealthCheckService()) hc->SetServingStatus(false);
  health_service_.Shutdown();
  server_->Shutdown(std::chrono::system_clock::now() + grace);
  server_->Wait();
  routing_service_.Shutdown();
}

void GrpcServer::Wait() {
  if (server_ != nullptr) server_->Wait();
}

}  // namespace trunkroute::server
