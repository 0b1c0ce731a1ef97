#ifndef TRUNKROUTE_ROUTER_DECISION_H_
#define TRUNKROUTE_ROUTER_DECISION_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/container/inlined_vector.h"
#include "absl/status/statusor.h"
#include "router/health_view.h"
#include "router/routing_table.h"
#include "trunkroute/v1/routing.pb.h"

namespace trunkroute::router {

struct DecisionCandidate {
  const CompiledTrunk* trunk = nullptr;
  v1::HealthState health_state = v1::HEALTH_STATE_UP;
  // Attempt timeout for this trunk: the adaptive value clamped to the policy's
  // setup_timeout_ms (or setup_timeout_ms when adaptive is off or nothing learned yet).
  uint32_t attempt_timeout_ms = 0;
};

struct DecisionSkip {
  const CompiledTrunk* trunk = nullptr;
  v1::HealthState health_state = v1::HEALTH_STATE_UP;
  std::string reason;
};

// The answer to "which trunks, in which order, for this call?". Holds the table it points into.
struct Decision {
  std::shared_ptr<const RoutingTable> table;
  const CompiledRoute* route = nullptr;
  std::string normalized_number;  // after the route's transform: the Request-URI user part
  std::string normalized_caller;  // caller after NormalizeNumber (empty if none/invalid)
  absl::InlinedVector<DecisionCandidate, 4> candidates;
  absl::InlinedVector<DecisionSkip, 4> skipped;
  bool panic = false;  // every trunk unavailable; all offered anyway

  const EffectiveFailoverPolicy& policy() const { return route->policy; }
  // "sip:<normalized_number>@<trunk uri_suffix>"
  std::string RequestUri(const CompiledTrunk& trunk) const;
  // The same into `out` (replacing its contents, reusing its capacity).
  void RequestUri(const CompiledTrunk& trunk, std::string* out) const;
  // Fills the RPC answer (no secrets).
  void ToProto(v1::RouteCallResponse* out) const;
};

// The answer for a number no route matches, for every face that reports it (RouteCall and
// POST /v1/route through Decide, ExplainRoute's note, the SIP edge's 404 Reason, trunkroutectl):
//   "no route matches <number><detail>[; routes match E.164 numbers: did you mean +1...?]"
// The hint is given only for a number of digits without '+' whose E.164 form does match a route,
// naming each such form and its route: "+" and the digits (15551234567), "+1" and ten digits
// (NANP national, 5551234567), the digits after an international prefix 00 / 011. `detail` is
// appended to the number as is (" (ingress trunk 'x')", " (3 routes tried)"). Arguments as
// RoutingTable::Match takes them.
std::string NoRouteMessage(const RoutingTable& table, std::string_view normalized_number,
                           std::string_view normalized_caller, std::string_view ingress_trunk_id,
                           std::string_view detail = "");

// The one decision function, used by RouteCall, ExplainRoute and the SIP edge.
// Order: the route's trunks in priority order; UP/FORCED_UP kept; a PROBING trunk whose probes
// are disabled goes last (only real calls can bring it back); DOWN, PROBING, DRAINING and
// FORCED_DOWN skipped with a reason; the ingress trunk never offered (loop). A ramping trunk
// (ramp_share < 1) keeps its place with probability ramp_share (drawn from `entropy`, uniform in
// [0,1)) and otherwise moves behind the fully UP trunks. If nothing is left: panic mode (DOWN and
// PROBING trunks offered in priority order, never FORCED_DOWN or the ingress trunk) unless the
// policy fails fast.
// Errors: InvalidArgument (bad number, naming it), NotFound (NoRouteMessage),
// Unavailable (every trunk down and the route fails fast, or nothing at all to offer).
// Never blocks: reads the table and the health view only.
absl::StatusOr<Decision> Decide(std::shared_ptr<const RoutingTable> table, const HealthView& health,
                                const CallQuery& query, double entropy);

}  // namespace trunkroute::router

#endif  // TRUNKROUTE_ROUTER_DECISION_H_
