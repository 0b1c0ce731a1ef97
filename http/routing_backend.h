#ifndef TRUNKROUTE_HTTP_ROUTING_BACKEND_H_
#define TRUNKROUTE_HTTP_ROUTING_BACKEND_H_

#include <vector>

#include "absl/status/statusor.h"
#include "trunkroute/v1/health.pb.h"
#include "trunkroute/v1/routing.pb.h"

namespace trunkroute::http {

// What the HTTP/JSON face needs from routing: the three calls of the data-action API. Production
// adapts server::RoutingCore to it (http/routing_core_backend.h) so that HTTP answers exactly like
// gRPC; tests plug in a fake with behaviour. Implementations must be thread-safe: HTTP worker
// threads call them concurrently.
class RoutingBackend {
 public:
  virtual ~RoutingBackend() = default;
  virtual absl::StatusOr<v1::RouteCallResponse> RouteCall(const v1::RouteCallRequest& request) = 0;
  virtual absl::StatusOr<v1::ReportCallOutcomeResponse> ReportCallOutcome(
      const v1::ReportCallOutcomeRequest& request) = 0;
  virtual std::vector<v1::TrunkHealth> ListTrunkHealth() = 0;
};

}  // namespace trunkroute::http

#endif  // TRUNKROUTE_HTTP_ROUTING_BACKEND_H_
