#ifndef TRUNKROUTE_ROUTER_HEALTH_VIEW_H_
#define TRUNKROUTE_ROUTER_HEALTH_VIEW_H_

#include <cstdint>
#include <string_view>

#include "trunkroute/v1/health.pb.h"

namespace trunkroute::router {

// What a routing decision needs to know about one trunk right now.
struct TrunkAvailability {
  // UP, DOWN, PROBING, DRAINING, FORCED_DOWN or FORCED_UP (admin states included).
  v1::HealthState state = v1::HEALTH_STATE_UP;
  // Share of new calls while ramping up after recovery, in (0, 1]; 1 = not ramping.
  double ramp_share = 1.0;
  // Attempt timeout for this trunk (adaptive, learned from time-to-first-1xx); 0 = use the
  // route's setup_timeout_ms. The decision clamps it to the route's setup_timeout_ms.
  uint32_t attempt_timeout_ms = 0;
  // Short human reason for the state ("3 consecutive failures, last 503"); may be empty.
  std::string_view reason;
};

// Read side of the health tracker, as the router sees it. Implementations must be callable from
// any thread without blocking (atomics or an atomically swapped snapshot): the SIP thread calls it
// for every INVITE.
class HealthView {
 public:
  virtual ~HealthView() = default;
  // Unknown trunks are reported UP (a trunk the tracker has not seen yet has no bad history).
  virtual TrunkAvailability Availability(std::string_view trunk_id) const = 0;
};

// Every trunk UP: for callers without health (tests, dry-run explanations).
class AllUpHealthView final : public HealthView {
 public:
  TrunkAvailability Availability(std::string_view) const override { return {}; }
};

}  // namespace trunkroute::router

#endif  // TRUNKROUTE_ROUTER_HEALTH_VIEW_H_
