#ifndef TRUNKROUTE_SERVER_ROUTING_SERVICE_H_
#define TRUNKROUTE_SERVER_ROUTING_SERVICE_H_

#include "server/routing_core.h"
#include "trunkroute/v1/routing.grpc.pb.h"

namespace trunkroute::server {

// RoutingService on gRPC's callback API: RouteCall is the hot path (dialers ask per call), and
// the callback API answers inline on gRPC's own threads without a hand-off to a sync pool.
class RoutingServiceImpl final : public v1::RoutingService::CallbackService {
 public:
  explicit RoutingServiceImpl(RoutingCore* core) : core_(core) {}
  // The generated bases keep sync-signature overloads of the same names; keep them visible.
  using v1::RoutingService::CallbackService::ReportCallOutcome;
  using v1::RoutingService::CallbackService::RouteCall;

  grpc::ServerUnaryReactor* RouteCall(grpc::CallbackServerContext* context,
                                      const v1::RouteCallRequest* request,
                                      v1::RouteCallResponse* response) override;
  grpc::ServerUnaryReactor* ReportCallOutcome(grpc::CallbackServerContext* context,
                                              const v1::ReportCallOutcomeRequest* request,
                                              v1::ReportCallOutcomeResponse* response) override;

 private:
  RoutingCore* const core_;
};

}  // namespace trunkroute::server

#endif  // TRUNKROUTE_SERVER_ROUTING_SERVICE_H_
