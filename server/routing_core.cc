#include "server/routing_core.h"

#include <cstdint>
#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "router/decision.h"

namespace trunkroute::server {
namespace {

// Per-call entropy for the recovery ramp. A thread-local splitmix64 costs a few nanoseconds and
// no lock; decisions do not need cryptographic randomness, only draws independent per call.
double NextEntropy() {
  thread_local uint64_t state = [] {
    std::random_device rd;
    return (uint64_t{rd()} << 32) ^ rd();
  }();
  state += 0x9E3779B97F4A7C15ull;
  uint64_t z = state;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  // 53 random bits → uniform double in [0, 1).
  return static_cast<double>(z >> 11) * 0x1.0p-53;
}

}  // namespace

absl::StatusOr<v1::RouteCallResponse> RoutingCore::RouteCall(
    const v1::RouteCallRequest& request) const {
  v1::RouteCallResponse response;
  if (absl::Status st = RouteCall(request, &response); !st.ok()) return st;
  return response;
}

absl::Status RoutingCore::RouteCall(const v1::RouteCallRequest& request,
                                    v1::RouteCallResponse* response) const {
  response->Clear();
  if (request.dialed_number().empty()) {
    return absl::InvalidArgumentError("dialed_number: required");
  }
  std::shared_ptr<const router::RoutingTable> table = config_->Current();
  const router::CallQuery query{request.dialed_number(), request.caller_id(),
                                request.ingress_trunk_id()};
  const MonoTime start = observer_ != nullptr ? clock_->Now() : MonoTime();
  absl::StatusOr<router::Decision> decision =
      router::Decide(std::move(table), *health_, query, NextEntropy());
  if (observer_ != nullptr) {
    observer_->OnDecision(router::DecisionRouteId(decision), router::DecisionResult(decision),
                          clock_->Now() - start);
  }
  if (!decision.ok()) return decision.status();
  decision->ToProto(response);
  return absl::OkStatus();
}

absl::StatusOr<v1::ReportCallOutcomeResponse> RoutingCore::ReportCallOutcome(
    const v1::ReportCallOutcomeRequest& request) {
  if (request.trunk_id().empty()) return absl::InvalidArgumentError("trunk_id: required");
  if (request.sip_status() != 0 && (request.sip_status() < 100 || request.sip_status() > 699)) {
    return absl::InvalidArgumentError(
        absl::StrCat("sip_status: ", request.sip_status(), " is not a SIP status (100-699, or 0)"));
  }
  std::shared_ptr<const router::RoutingTable> table = config_->Current();
  if (table->FindTrunk(request.trunk_id()) == nullptr) {
    return absl::NotFoundError(absl::StrCat("trunk '", request.trunk_id(), "' not found"));
  }
  // The route's own failover codes decide what counts as a trunk failure; an unknown or absent
  // route (a dialer that does not say) falls back to the global policy.
  const router::EffectiveFailoverPolicy* policy = &table->default_failover_policy();
  if (!request.route_id().empty()) {
    if (const router::CompiledRoute* route = table->FindRoute(request.route_id())) {
      policy = &route->policy;
    }
  }
  health::AttemptOutcome outcome;
  outcome.trunk_id = request.trunk_id();
  outcome.sip_status = static_cast<int>(request.sip_status());
  outcome.timed_out = request.timed_out();
  outcome.transport_error = request.transport_error();
  outcome.provisional_received = request.provisional_received();
  outcome.credentials_sent = request.credentials_sent();
  outcome.retry_after_s = request.retry_after_s();
  outcome.first_response_ms = request.first_response_ms();
  outcome.call_id = request.call_id();
  health::OutcomeClass cls = health_->ReportOutcome(outcome, *policy);

  v1::ReportCallOutcomeResponse response;
  std::string_view name = health::OutcomeClassName(cls);
  response.set_outcome_class(std::string(name));
  response.set_health_state(health_->Availability(request.trunk_id()).state);
  return response;
}

std::vector<v1::TrunkHealth> RoutingCore::ListTrunkHealth() const { return health_->List(); }

}  // namespace trunkroute::server
