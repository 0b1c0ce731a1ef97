#ifndef TRUNKROUTE_SERVER_RPC_OBSERVER_H_
#define TRUNKROUTE_SERVER_RPC_OBSERVER_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "grpcpp/support/server_interceptor.h"
#include "grpcpp/support/status.h"

namespace trunkroute::server {

// Told about every gRPC request the server answers (trunkroute_grpc_requests_total). Called on
// gRPC threads, concurrently: implementations must be quick, thread-safe and never block.
class RpcObserver {
 public:
  virtual ~RpcObserver() = default;
  // `method` is the full method name ("/trunkroute.v1.RoutingService/RouteCall"): a bounded set,
  // the methods the server registered.
  virtual void OnRpcDone(std::string_view method, grpc::StatusCode code) = 0;
};

// Status code name as gRPC spells it ("OK", "NOT_FOUND", ...); "UNKNOWN" for out-of-range values.
std::string_view StatusCodeName(grpc::StatusCode code);

// An interceptor factory that reports each request's final status to `observer` (which must
// outlive the server). An RPC the client cancels before the server answers sends no status and
// is not reported. Calls of `reported_by_handler` get no interceptor: their handler reports them
// itself (AsyncRoutingService, the hot path), so gRPC runs them without interception.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> MakeRpcObserverInterceptor(
    RpcObserver* observer, std::vector<std::string> reported_by_handler = {});

}  // namespace trunkroute::server

#endif  // TRUNKROUTE_SERVER_RPC_OBSERVER_H_
