#ifndef TRUNKROUTE_SIP_CALL_PLAN_H_
#define TRUNKROUTE_SIP_CALL_PLAN_H_

// From a routing decision to the attempts a call may make: per candidate trunk, its codec filter
// applied to the caller's offer and its max_concurrent_calls. Pure (no Sofia); the load per
// trunk comes from the caller.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "router/decision.h"
#include "sip/admission.h"
#include "sip/call.h"

namespace trunkroute::sip {

// The caller's INVITE body.
struct CallerOffer {
  std::string_view content_type;  // empty when the INVITE had no body
  std::string_view body;
};

struct CallPlan {
  // Set: no candidate can take the call (NoUsableCandidate: 488 no common codec anywhere, 503
  // none usable); `candidates` still says why each was skipped.
  std::optional<EdgeRejection> rejection;
  // One per decision candidate, in decision order (skipped ones included, marked).
  std::vector<CallCandidate> candidates;
  // Per candidate: the offer filtered for that trunk; "" = send the body as received (no body,
  // or not SDP).
  std::vector<std::string> offers;
};

// For a trunk whose host is a name: its targets in the order this call tries them (empty: the
// name has no address yet or at all).
using TargetsOfTrunk = absl::FunctionRef<std::vector<CallTarget>(const router::CompiledTrunk&)>;

// `trunk_load(id)`: legs the edge has open towards trunk `id` right now. `targets_of` (null:
// every trunk goes to its configured address as it is) gives a host name's targets; one with
// none is skipped (kUnresolved).
// A trunk at its max_concurrent_calls is skipped (kAtCapacity) before its codecs are looked at;
// an SDP offer with no codec the trunk allows skips it (kNoCommonCodec). Skipped trunks get no
// attempt and are not reported to health.
CallPlan PlanCall(const router::Decision& decision, const CallerOffer& offer,
                  absl::FunctionRef<int(const std::string&)> trunk_load,
                  const TargetsOfTrunk* targets_of = nullptr);

}  // namespace trunkroute::sip

#endif  // TRUNKROUTE_SIP_CALL_PLAN_H_
