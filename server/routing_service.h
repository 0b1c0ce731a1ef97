#ifndef TRUNKROUTE_SERVER_ROUTING_SERVICE_H_
#define TRUNKROUTE_SERVER_ROUTING_SERVICE_H_

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "grpcpp/server_builder.h"
#include "server/grpc_auth.h"
#include "server/routing_core.h"
#include "server/rpc_observer.h"
#include "trunkroute/v1/routing.grpc.pb.h"

namespace trunkroute::server {

// RoutingService on gRPC's async API. RouteCall is the hot path (a dialer asks once per call), so
// it runs on our own completion-queue threads, one per queue: the request is decided and answered
// on the thread that dequeued it, with no hand-off to another pool (the sync and callback APIs of
// gRPC 1.51 each add a thread hop per call). The cost per call is then the decision itself plus
// gRPC's framing: no interceptor runs for these calls (the handler checks authorization and
// reports the status itself), the answer is built in a response kept per thread (serialized by
// Finish at once, so its storage is reused by the next call) and nothing is allocated for it.
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
  // nullptr: open. The handlers decide their calls themselves (GrpcAuth::CheckInHandler) and
  // report them to `rpc_observer` themselves: the server must be built with these methods
  // passed to GrpcAuth::DecideInHandler and MakeRpcObserverInterceptor's reported_by_handler
  // (GrpcServer does), so that gRPC runs RouteCall with no interceptor at all. Before Start().
  void SetAuth(const GrpcAuth* auth) { auth_ = auth; }
  void SetRpcObserver(RpcObserver* observer) { rpc_observer_ = observer; }
  // The full method names this service answers ("/trunkroute.v1.RoutingService/RouteCall", ...).
  static const std::vector<std::string>& MethodNames();
  // `threads` completion queues, one thread each (at least 1).
  void Register(grpc::ServerBuilder* builder, int threads);
  void Start();
  void Shutdown();

  class Rpc;  // one in-flight call (internal)

 private:
  void Loop(grpc::ServerCompletionQueue* cq);

  RoutingCore* const core_;
  const GrpcAuth* auth_ = nullptr;
  RpcObserver* rpc_observer_ = nullptr;
  v1::RoutingService::AsyncService service_;
  std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> cqs_;
  std::vector<std::thread> threads_;
  bool started_ = false;
  bool shut_down_ = false;
};

}  // namespace trunkroute::server

#endif  // TRUNKROUTE_SERVER_ROUTING_SERVICE_H_
