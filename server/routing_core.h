#ifndef TRUNKROUTE_SERVER_ROUTING_CORE_H_
#define TRUNKROUTE_SERVER_ROUTING_CORE_H_

#include <vector>

#include "absl/status/statusor.h"
#include "config/config_manager.h"
#include "health/tracker.h"
#include "trunkroute/v1/health.pb.h"
#include "trunkroute/v1/routing.pb.h"

namespace trunkroute::server {

// The transport-independent face of routing: the gRPC RoutingService and the HTTP/JSON face for
// Genesys data actions both call this, so both answer exactly alike. Thread-safe; never blocks
// on config writers.
class RoutingCore {
 public:
  RoutingCore(config::ConfigManager* config, health::HealthTracker* health)
      : config_(config), health_(health) {}

  // InvalidArgument (bad number), NotFound ("no route for +1555..."), Unavailable (fail-fast
  // route with every trunk down).
  absl::StatusOr<v1::RouteCallResponse> RouteCall(const v1::RouteCallRequest& request) const;

  // InvalidArgument when trunk_id is empty; NotFound when the trunk is unknown.
  absl::StatusOr<v1::ReportCallOutcomeResponse> ReportCallOutcome(
      const v1::ReportCallOutcomeRequest& request);

  std::vector<v1::TrunkHealth> ListTrunkHealth() const;

 private:
  config::ConfigManager* const config_;
  health::HealthTracker* const health_;
};

}  // namespace trunkroute::server

#endif  // TRUNKROUTE_SERVER_ROUTING_CORE_H_
