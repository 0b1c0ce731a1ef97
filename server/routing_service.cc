#include "server/routing_service.h"

#include <utility>

#include "server/status_util.h"

namespace trunkroute::server {

grpc::ServerUnaryReactor* RoutingServiceImpl::RouteCall(grpc::CallbackServerContext* context,
                                                        const v1::RouteCallRequest* request,
                                                        v1::RouteCallResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<v1::RouteCallResponse> result = core_->RouteCall(*request);
  if (!result.ok()) {
    reactor->Finish(ToGrpcStatus(result.status()));
    return reactor;
  }
  *response = *std::move(result);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* RoutingServiceImpl::ReportCallOutcome(
    grpc::CallbackServerContext* context, const v1::ReportCallOutcomeRequest* request,
    v1::ReportCallOutcomeResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<v1::ReportCallOutcomeResponse> result = core_->ReportCallOutcome(*request);
  if (!result.ok()) {
    reactor->Finish(ToGrpcStatus(result.status()));
    return reactor;
  }
  *response = *std::move(result);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace trunkroute::server
