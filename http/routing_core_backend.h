#ifndef TRUNKROUTE_HTTP_ROUTING_CORE_BACKEND_H_
#define TRUNKROUTE_HTTP_ROUTING_CORE_BACKEND_H_

// Header-only on purpose: trunkroute_http does not link trunkroute_server (the server may link
// http one day, and the binary links both anyway). Include this where both are linked (bin/).

#include <vector>

#include "http/routing_backend.h"
#include "server/routing_core.h"

namespace trunkroute::http {

// Serves the HTTP/JSON face from the same RoutingCore as the gRPC RoutingService.
class RoutingCoreBackend final : public RoutingBackend {
 public:
  // `core` must outlive this adapter.
  explicit RoutingCoreBackend(server::RoutingCore* core) : core_(core) {}

  absl::StatusOr<v1::RouteCallResponse> RouteCall(const v1::RouteCallRequest& request) override {
    return core_->RouteCall(request);
  }
  absl::StatusOr<v1::ReportCallOutcomeResponse> ReportCallOutcome(
      const v1::ReportCallOutcomeRequest& request) override {
    return core_->ReportCallOutcome(request);
  }
  std::vector<v1::TrunkHealth> ListTrunkHealth() override { return core_->ListTrunkHealth(); }

 private:
  server::RoutingCore* const core_;
};

}  // namespace trunkroute::http

#endif  // TRUNKROUTE_HTTP_ROUTING_CORE_BACKEND_H_
