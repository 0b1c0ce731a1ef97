#ifndef TRUNKROUTE_SERVER_ROUTING_SERVICE_H_
#define TRUNKROUTE_SERVER_ROUTING_SERVICE_H_

#include <memory>
#include <thread>
#include <vector>

#include "grpcpp/server_builder.h"
#include "server/grpc_auth.h"
#include "server/routing_core.h"
#include "trunkroute/v1/routing.grpc.pb.h"

namespace trunkroute::server {

// RoutingService on gRPC's async API. RouteCall is the hot path (a dialer asks once per call), so
// it runs on our own completion-queue threads, one per queue: the request is decided and answered
// on the thread that dequeued it, with no hand-off to another pool (the sync and callback APIs of
// gRPC 1.51 each add a thread hop per call). The cost per call is then the decision itself plus
// gRPC's framing.
//
// Lifecycle: Register() before the builder starts the server, Start() after, and
// Shutdown() after grpc::Server::Shutdown() (it drains and joins the queue threads).
class AsyncRoutingService {
 public:
  explicit AsyncRoutingService(RoutingCore* core) : core_(core) {}
  ~AsyncRoutingService();
  AsyncRoutingService(const AsyncRoutingService&) = delete;
  AsyncRoutingService& operator=(const AsyncRoutingService&) = delete;

  // Every call answers with its authorization decision when refused (server/grpc_auth.h);
  // nullptr: open. Before Start().
  void SetAuth(const GrpcAuth* auth) { auth_ = auth; }
  // `threads` completion queues, one thread each (at least 1).
  void Register(grpc::ServerBuilder* builder, int threads);
  void Start();
  void Shutdown();

  class Rpc;  // one in-flight call (internal)

 private:
  void Loop(grpc::ServerCompletionQueue* cq);

  RoutingCore* const core_;
  const GrpcAuth* auth_ = nullptr;
  v1::RoutingService::AsyncService service_;
  std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> cqs_;
  std::vector<std::thread> threads_;
  bool started_ = false;
  bool shut_down_ = false;
};

}  // namespace trunkroute::server

#endif  // TRUNKROUTE_SERVER_ROUTING_SERVICE_H_
