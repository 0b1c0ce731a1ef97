#include "router/decision.h"

#include <algorithm>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "router/number.h"

namespace trunkroute::router {
namespace {

absl::string_view AbslView(std::string_view sv) { return absl::string_view(sv.data(), sv.size()); }

bool IsUsable(v1::HealthState state) {
  return state == v1::HEALTH_STATE_UP || state == v1::HEALTH_STATE_FORCED_UP ||
         state == v1::HEALTH_STATE_UNSPECIFIED;
}

// DOWN and PROBING trunks are measured-unhealthy and are still worth a try when nothing else is
// left; DRAINING and FORCED_DOWN are operator intent and are honoured even then.
bool IsPanicCandidate(v1::HealthState state) {
  return state == v1::HEALTH_STATE_DOWN || state == v1::HEALTH_STATE_PROBING;
}

std::string SkipReason(const TrunkAvailability& availability) {
  switch (availability.state) {
    case v1::HEALTH_STATE_DOWN:
      return availability.reason.empty() ? std::string("DOWN")
                                          : absl::StrCat("DOWN: ", AbslView(availability.reason));
    case v1::HEALTH_STATE_PROBING:
      return "PROBING: waiting for recovery";
    case v1::HEALTH_STATE_DRAINING:
      return "DRAINING (admin)";
    case v1::HEALTH_STATE_FORCED_DOWN:
      return "FORCED_DOWN (admin)";
    default:
      return absl::StrCat(v1::HealthState_Name(availability.state));
  }
}

uint32_t AttemptTimeout(const EffectiveFailoverPolicy& policy,
                        const TrunkAvailability& availability) {
  if (policy.adaptive_timeout && availability.attempt_timeout_ms != 0 &&
      availability.attempt_timeout_ms < policy.setup_timeout_ms) {
    return availability.attempt_timeout_ms;
  }
  return policy.setup_timeout_ms;
}

std::string DescribeSkips(const Decision& decision) {
  return absl::StrJoin(decision.skipped, "; ", [](std::string* out, const DecisionSkip& skip) {
    absl::StrAppend(out, skip.trunk->id, ": ", skip.reason);
  });
}

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace

std::string NoRouteMessage(const RoutingTable& table, std::string_view normalized_number,
                           std::string_view normalized_caller, std::string_view ingress_trunk_id,
                           std::string_view detail) {
  std::string message =
      absl::StrCat("no route matches ", AbslView(normalized_number), AbslView(detail));
  if (!AllDigits(normalized_number)) return message;  // E.164 already, or * / # codes
  const std::string digits(normalized_number);
  std::vector<std::string> guesses = {"+" + digits};
  if (digits.size() == 10) guesses.push_back("+1" + digits);
  if (digits.rfind("011", 0) == 0) guesses.push_back("+" + digits.substr(3));
  if (digits.rfind("00", 0) == 0) guesses.push_back("+" + digits.substr(2));
  // Every reading that a route takes (a 10-digit number may be NANP national or an E.164 number
  // without its '+', and only the operator knows which), the best route's first, as routing
  // would rank them: a catch-all comes last.
  std::vector<std::pair<const CompiledRoute*, std::string>> hits;
  for (const std::string& guess : guesses) {
    if (guess.size() < 2) continue;
    if (const CompiledRoute* route = table.Match(guess, normalized_caller, ingress_trunk_id)) {
      hits.emplace_back(route, guess);
    }
  }
  std::stable_sort(hits.begin(), hits.end(),
                   [](const auto& a, const auto& b) { return a.first->index < b.first->index; });
  if (!hits.empty()) {
    absl::StrAppend(&message, "; routes match E.164 numbers: did you mean ",
                    absl::StrJoin(hits, " or ",
                                  [](std::string* out, const auto& hit) {
                                    absl::StrAppend(out, hit.second, " (route '", hit.first->id,
                                                    "')");
                                  }),
                    "?");
  }
  return message;
}

std::string Decision::RequestUri(const CompiledTrunk& trunk) const {
  std::string uri;
  RequestUri(trunk, &uri);
  return uri;
}

void Decision::RequestUri(const CompiledTrunk& trunk, std::string* out) const {
  std::string& uri = *out;
  uri.clear();
  uri.reserve(4 + normalized_number.size() + 2 + trunk.uri_suffix.size());
  uri.append("sip:");
  for (char c : normalized_number) {
    // '#' is not allowed unescaped in a SIP URI user part (RFC 3261 §25.1).
    if (c == '#') {
      uri.append("%23");
    } else {
      uri.push_back(c);
    }
  }
  uri.push_back('@');
  uri.append(trunk.uri_suffix);
}

void Decision::ToProto(v1::RouteCallResponse* out) const {
  out->Clear();
  out->set_route_id(route->id);
  out->set_normalized_number(normalized_number);
  for (const DecisionCandidate& candidate : candidates) {
    v1::Candidate* c = out->add_candidates();
    c->set_trunk_id(candidate.trunk->id);
    RequestUri(*candidate.trunk, c->mutable_sip_uri());
    c->set_setup_timeout_ms(candidate.attempt_timeout_ms);
    c->set_health_state(candidate.health_state);
    c->set_host(candidate.trunk->host);
    c->set_port(candidate.trunk->port);
    c->set_transport(candidate.trunk->transport);
  }
  for (const DecisionSkip& skip : skipped) {
    v1::SkippedTrunk* s = out->add_skipped();
    s->set_trunk_id(skip.trunk->id);
    s->set_health_state(skip.health_state);
    s->set_reason(skip.reason);
  }
  out->set_panic(panic);
  route->policy.ToProto(out->mutable_failover_policy());
  out->set_config_version(table->version());
}

absl::StatusOr<Decision> Decide(std::shared_ptr<const RoutingTable> table, const HealthView& health,
                                const CallQuery& query, double entropy) {
  absl::StatusOr<std::string> number = NormalizeNumber(query.dialed_number);
  if (!number.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("dialed_number: ", number.status().message()));
  }
  Decision decision;
  if (!query.caller_id.empty()) {
    // A caller ID we cannot read is not a reason to refuse the call; it just matches no
    // caller-ID pattern.
    absl::StatusOr<std::string> caller = NormalizeNumber(query.caller_id);
    if (caller.ok()) decision.normalized_caller = *std::move(caller);
  }
  const CompiledRoute* route =
      table->Match(*number, decision.normalized_caller, query.ingress_trunk_id);
  if (route == nullptr) {
    return absl::NotFoundError(NoRouteMessage(
        *table, *number, decision.normalized_caller, query.ingress_trunk_id,
        query.ingress_trunk_id.empty()
            ? std::string()
            : absl::StrCat(" (ingress trunk '", AbslView(query.ingress_trunk_id), "')")));
  }
  decision.route = route;
  const v1::NumberTransform& transform = route->transform;
  if (transform.strip_digits() == 0 && transform.prepend().empty() && !transform.e164()) {
    decision.normalized_number = *std::move(number);
  } else {
    absl::StatusOr<std::string> transformed = ApplyTransform(*number, transform);
    if (!transformed.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("dialed_number: route '", route->id,
                                                     "' transform: ",
                                                     transformed.status().message()));
    }
    decision.normalized_number = *std::move(transformed);
  }

  const EffectiveFailoverPolicy& policy = route->policy;
  const std::vector<CompiledTrunk>& trunks = table->trunks();
  // Ramping trunks that lost the draw go behind the fully available ones, in their own order.
  absl::InlinedVector<DecisionCandidate, 4> deferred;
  // DOWN/PROBING trunks in priority order, for panic mode.
  absl::InlinedVector<DecisionCandidate, 4> panic_candidates;
  // PROBING trunks that are never probed: real calls are their only recovery path.
  absl::InlinedVector<DecisionCandidate, 4> retry_by_calls;
  for (int trunk_index : route->trunk_indexes) {
    const CompiledTrunk& trunk = trunks[static_cast<size_t>(trunk_index)];
    if (!query.ingress_trunk_id.empty() && trunk.id == query.ingress_trunk_id) {
      decision.skipped.push_back(
          DecisionSkip{&trunk, health.Availability(trunk.id).state, "ingress trunk (loop)"});
      continue;
    }
    const TrunkAvailability availability = health.Availability(trunk.id);
    const v1::HealthState state = availability.state == v1::HEALTH_STATE_UNSPECIFIED
                                      ? v1::HEALTH_STATE_UP
                                      : availability.state;
    DecisionCandidate candidate{&trunk, state, AttemptTimeout(policy, availability)};
    if (IsUsable(state)) {
      // FORCED_UP is an operator override: it never ramps.
      const bool ramping = state == v1::HEALTH_STATE_UP && availability.ramp_share < 1.0;
      if (ramping && entropy >= availability.ramp_share) {
        deferred.push_back(candidate);
      } else {
        decision.candidates.push_back(candidate);
      }
      continue;
    }
    // Without OPTIONS probes nothing but a real call can prove a PROBING trunk alive, so it is
    // offered as a last resort behind the available trunks instead of being skipped until a
    // panic that may never come.
    if (state == v1::HEALTH_STATE_PROBING && !trunk.health.probes_enabled) {
      retry_by_calls.push_back(candidate);
      continue;
    }
    if (IsPanicCandidate(state)) panic_candidates.push_back(candidate);
    decision.skipped.push_back(DecisionSkip{&trunk, state, SkipReason(availability)});
  }
  decision.candidates.insert(decision.candidates.end(), deferred.begin(), deferred.end());
  decision.candidates.insert(decision.candidates.end(), retry_by_calls.begin(),
                             retry_by_calls.end());

  if (decision.candidates.empty()) {
    if (panic_candidates.empty()) {
      return absl::UnavailableError(absl::StrCat("route '", route->id,
                                                 "': no trunk can take the call (",
                                                 DescribeSkips(decision), ")"));
    }
    if (!policy.panic_when_all_down) {
      return absl::UnavailableError(absl::StrCat(
          "route '", route->id, "': every trunk is unavailable and the route fails fast "
          "(panic_when_all_down=false): ", DescribeSkips(decision)));
    }
    decision.panic = true;
    decision.candidates = std::move(panic_candidates);
    // What is offered is no longer "skipped"; what stays there (admin, loop) is still refused.
    absl::InlinedVector<DecisionSkip, 4> still_skipped;
    for (DecisionSkip& skip : decision.skipped) {
      bool offered = false;
      for (const DecisionCandidate& candidate : decision.candidates) {
        offered = offered || candidate.trunk == skip.trunk;
      }
      if (!offered) still_skipped.push_back(std::move(skip));
    }
    decision.skipped = std::move(still_skipped);
  }
  decision.table = std::move(table);
  return decision;
}

}  // namespace trunkroute::router
