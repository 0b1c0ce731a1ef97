#ifndef TRUNKROUTE_ROUTER_DECISION_OBSERVER_H_
#define TRUNKROUTE_ROUTER_DECISION_OBSERVER_H_

#include <string_view>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "router/decision.h"

namespace trunkroute::router {

// Words for the `result` of a routing decision, shared by every place that decides (RouteCall,
// the HTTP face, the SIP edge) so the metrics and logs of all of them line up.
inline constexpr std::string_view kResultRouted = "routed";
inline constexpr std::string_view kResultPanic = "panic";
inline constexpr std::string_view kResultNoRoute = "no_route";
inline constexpr std::string_view kResultInvalid = "invalid";
inline constexpr std::string_view kResultUnavailable = "unavailable";

// routed | panic | no_route (NotFound) | invalid (InvalidArgument) | unavailable (anything else).
inline std::string_view DecisionResult(const absl::StatusOr<Decision>& decision) {
  if (decision.ok()) return decision->panic ? kResultPanic : kResultRouted;
  if (absl::IsNotFound(decision.status())) return kResultNoRoute;
  if (absl::IsInvalidArgument(decision.status())) return kResultInvalid;
  return kResultUnavailable;
}

// The id of the route a decision matched, or "" when none did.
inline std::string_view DecisionRouteId(const absl::StatusOr<Decision>& decision) {
  return decision.ok() && decision->route != nullptr ? std::string_view(decision->route->id)
                                                     : std::string_view();
}

// Told about every routing decision made for a call (not ExplainRoute's dry runs). Called on the
// deciding thread, which may be the SIP thread or a gRPC thread: implementations must be quick,
// thread-safe and must never block.
class DecisionObserver {
 public:
  virtual ~DecisionObserver() = default;
  // `result` is one of the words above; `route_id` is "" unless a route matched; `elapsed` is the
  // time Decide() took.
  virtual void OnDecision(std::string_view route_id, std::string_view result, Duration elapsed) = 0;
};

}  // namespace trunkroute::router

#endif  // TRUNKROUTE_ROUTER_DECISION_OBSERVER_H_
