#ifndef TRUNKROUTE_ROUTER_CONFIG_VALIDATOR_H_
#define TRUNKROUTE_ROUTER_CONFIG_VALIDATOR_H_

#include "absl/status/status.h"
#include "trunkroute/v1/config.pb.h"

namespace trunkroute::router {

// Validates a whole config in two layers (field bounds, then cross-references) and returns one
// InvalidArgument listing every problem as "<field path>: <reason>", one per line, e.g.
//   routes[3].pattern: missing ): (foo
//   routes[1].priority: 10 is also the priority of routes[0] ('r-main'); ties are not allowed
// Rules: ids unique and well-formed; host required; ports 1–65535; CIDRs parse; RE2 patterns
// compile; route trunk ids defined, 1–16, no duplicates; ingress trunk defined and not in the
// route's own trunk list (a loop); route priorities unique; every policy field within the bounds
// of router/policy.h; hold_down_max_ms ≥ hold_down_base_ms; failover codes 300–699; caller-ID
// FIXED has an E.164 number. OK when valid.
absl::Status ValidateConfig(const v1::Config& config);

}  // namespace trunkroute::router

#endif  // TRUNKROUTE_ROUTER_CONFIG_VALIDATOR_H_
