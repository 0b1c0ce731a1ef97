#include "sip/call_plan.h"

#include <utility>

#include "sip/sdp_policy.h"

namespace trunkroute::sip {

CallPlan PlanCall(const router::Decision& decision, const CallerOffer& offer,
                  absl::FunctionRef<int(const std::string&)> trunk_load,
                  const TargetsOfTrunk* targets_of) {
  CallPlan plan;
  plan.candidates.reserve(decision.candidates.size());
  plan.offers.reserve(decision.candidates.size());
  for (const router::DecisionCandidate& dc : decision.candidates) {
    const router::CompiledTrunk& t = *dc.trunk;
    CallCandidate c{.trunk_id = t.id,
                    .attempt_timeout_ms = dc.attempt_timeout_ms,
                    .has_credentials = !t.username.empty()};
    std::string filtered;
    const bool by_targets = targets_of != nullptr && !t.host_is_ip;
    if (by_targets) c.targets = (*targets_of)(t);
    if (t.max_concurrent_calls > 0 &&
        trunk_load(t.id) >= static_cast<int>(t.max_concurrent_calls)) {
      c.skip = CallCandidate::Skip::kAtCapacity;
    } else if (by_targets && c.targets.empty()) {
      c.skip = CallCandidate::Skip::kUnresolved;
    } else {
      // The one SDP rule (sip/sdp_policy.h); a body that is not SDP goes as received.
      SdpDecision f = FilterSdpForTrunk(t.codecs, offer.content_type, offer.body,
                                        SdpDirection::kToTrunk, SdpRole::kOffer);
      if (f.kind == SdpDecision::Kind::kFiltered) {
        filtered = std::move(f.body);
      } else if (f.kind == SdpDecision::Kind::kNotAcceptable) {
        c.skip = CallCandidate::Skip::kNoCommonCodec;
      }
    }
    plan.candidates.push_back(std::move(c));
    plan.offers.push_back(std::move(filtered));
  }
  if (std::optional<NoCandidate> none = NoUsableCandidate(plan.candidates)) {
    plan.rejection = EdgeRejection{.status = none->status,
                                   .reason_header = std::move(none->reason),
                                   .log_reason = "no usable candidate",
                                   .metric_reason = kRejectNoCandidate};
  }
  return plan;
}

}  // namespace trunkroute::sip
