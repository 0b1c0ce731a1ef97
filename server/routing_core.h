#ifndef TRUNKROUTE_SERVER_ROUTING_CORE_H_
#define TRUNKROUTE_SERVER_ROUTING_CORE_H_

#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "config/config_manager.h"
#include "health/tracker.h"
#include "router/decision_observer.h"
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

  // Metrics hook told about every RouteCall decision; set before serving, must outlive this.
  // `clock` times the decisions (default: the real clock).
  void SetDecisionObserver(router::DecisionObserver* observer, const Clock* clock = nullptr) {
    observer_ = observer;
    if (clock != nullptr) clock_ = clock;
  }

  // InvalidArgument (bad number), NotFound ("no route for +1555..."), Unavailable (fail-fast
  // route with every trunk down).
  absl::StatusOr<v1::RouteCallResponse> RouteCall(const v1::RouteCallRequest& request) const;
  // The same answer into `response` (cleared first; its storage is reused, so a caller that keeps
  // one response per thread allocates nothing for it per call). On error `response` is cleared.
  absl::Status RouteCall(const v1::RouteCallRequest& request,
                         v1::RouteCallResponse* response) const;

  // InvalidArgument when trunk_id is empty; NotFound when the trunk is unknown.
  absl::StatusOr<v1::ReportCallOutcomeResponse> ReportCallOutcome(
      const v1::ReportCallOutcomeRequest& request);

  std::vector<v1::TrunkHealth> ListTrunkHealth() const;

 private:
  config::ConfigManager* const config_;
  health::HealthTracker* const health_;
  router::DecisionObserver* observer_ = nullptr;
  const Clock* clock_ = RealClock::Get();
};

}  // namespace trunkroute::server

#endif  // TRUNKROUTE_SERVER_ROUTING_CORE_H_
