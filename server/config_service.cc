#include "server/config_service.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "router/decision.h"
#include "router/number.h"
#include "server/status_util.h"

namespace trunkroute::server {
namespace {

// "HEALTH_STATE_DOWN" → "DOWN" for human notes.
std::string StateName(v1::HealthState state) {
  std::string name = v1::HealthState_Name(state);
  constexpr std::string_view kPrefix = "HEALTH_STATE_";
  if (name.rfind(kPrefix, 0) == 0) name.erase(0, kPrefix.size());
  return name;
}

absl::Status RequireId(const std::string& id, const char* field) {
  if (id.empty()) return absl::InvalidArgumentError(absl::StrCat(field, ": required"));
  return absl::OkStatus();
}

// The trunk as stored after an upsert, found by id in the table that now serves (or would).
v1::Trunk StoredTrunk(const router::RoutingTable& table, const std::string& id) {
  for (const v1::Trunk& trunk : table.config().trunks()) {
    if (trunk.id() == id) return config::RedactTrunk(trunk);
  }
  return {};
}

// Tells the call's audit line what the change was about and what came of it (every outcome:
// a refused change is audited too).
void NoteUpdate(const GrpcAuth* auth, const grpc::ServerContext* context, std::string target,
                uint64_t from_version,
                const absl::StatusOr<config::ConfigManager::UpdateResult>& result,
                bool dry_run = false) {
  ChangeNote note;
  note.target = std::move(target);
  note.from_version = from_version;
  note.dry_run = dry_run;
  if (result.ok()) {
    note.to_version = result->applied ? result->table->version() : from_version;
    note.summary = absl::StrJoin(result->changes, "; ");
  }
  NoteChange(auth, context, std::move(note));
}

}  // namespace

grpc::Status ConfigServiceImpl::UpsertTrunk(grpc::ServerContext* context,
                                            const v1::UpsertTrunkRequest* request,
                                            v1::UpsertTrunkResponse* response) {
  if (grpc::Status denied = Authorize(auth_, context); !denied.ok()) return denied;
  if (auto st = RequireId(request->trunk().id(), "trunk.id"); !st.ok()) return ToGrpcStatus(st);
  bool created = true;
  uint64_t from_version = 0;
  auto result = config_->Update(request->expected_version(), [&](v1::Config& config) {
    from_version = config.version();
    v1::Config incoming;
    *incoming.add_trunks() = request->trunk();
    // Write-only password: empty keeps the stored one unless clear_password is set.
    config::CarryOverSecrets(config, &incoming);
    for (v1::Trunk& trunk : *config.mutable_trunks()) {
      if (trunk.id() == request->trunk().id()) {
        created = false;
        trunk = incoming.trunks(0);
        return absl::OkStatus();
      }
    }
    *config.add_trunks() = incoming.trunks(0);
    return absl::OkStatus();
  });
  NoteUpdate(auth_, context, "trunk:" + request->trunk().id(), from_version, result);
  if (!result.ok()) return ToGrpcStatus(result.status());
  *response->mutable_trunk() = StoredTrunk(*result->table, request->trunk().id());
  response->set_version(result->table->version());
  response->set_created(created);
  return grpc::Status::OK;
}

grpc::Status ConfigServiceImpl::DeleteTrunk(grpc::ServerContext* context,
                                            const v1::DeleteTrunkRequest* request,
                                            v1::DeleteTrunkResponse* response) {
  if (grpc::Status denied = Authorize(auth_, context); !denied.ok()) return denied;
  if (auto st = RequireId(request->id(), "id"); !st.ok()) return ToGrpcStatus(st);
  uint64_t from_version = 0;
  auto result = config_->Update(request->expected_version(), [&](v1::Config& config) {
    from_version = config.version();
    std::vector<std::string> users;
    for (const v1::Route& route : config.routes()) {
      bool uses = route.ingress_trunk_id() == request->id() ||
                  std::find(route.trunk_ids().begin(), route.trunk_ids().end(), request->id()) !=
                      route.trunk_ids().end();
      if (uses) users.push_back(absl::StrCat("'", route.id(), "'"));
    }
    auto* trunks = config.mutable_trunks();
    auto it = std::find_if(trunks->begin(), trunks->end(),
                           [&](const v1::Trunk& t) { return t.id() == request->id(); });
    if (it == trunks->end()) {
      return absl::NotFoundError(absl::StrCat("trunk '", request->id(), "' not found"));
    }
    if (!users.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("trunk '", request->id(), "' is used by route", users.size() > 1 ? "s " : " ",
                       absl::StrJoin(users, ", "), "; remove it from them first"));
    }
    trunks->erase(it);
    return absl::OkStatus();
  });
  NoteUpdate(auth_, context, "trunk:" + request->id(), from_version, result);
  if (!result.ok()) return ToGrpcStatus(result.status());
  response->set_version(result->table->version());
  return grpc::Status::OK;
}

grpc::Status ConfigServiceImpl::GetTrunk(grpc::ServerContext* context, const v1::GetTrunkRequest* request,
                                         v1::Trunk* response) {
  if (grpc::Status denied = Authorize(auth_, context); !denied.ok()) return denied;
  if (auto st = RequireId(request->id(), "id"); !st.ok()) return ToGrpcStatus(st);
  auto table = config_->Current();
  for (const v1::Trunk& trunk : table->config().trunks()) {
    if (trunk.id() == request->id()) {
      *response = config::RedactTrunk(trunk);
      return grpc::Status::OK;
    }
  }
  return ToGrpcStatus(absl::NotFoundError(absl::StrCat("trunk '", request->id(), "' not found")));
}

grpc::Status ConfigServiceImpl::ListTrunks(grpc::ServerContext* context, const v1::ListTrunksRequest*,
                                           v1::ListTrunksResponse* response) {
  if (grpc::Status denied = Authorize(auth_, context); !denied.ok()) return denied;
  auto table = config_->Current();
  for (const v1::Trunk& trunk : table->config().trunks()) {
    *response->add_trunks() = config::RedactTrunk(trunk);
  }
  response->set_version(table->version());
  return grpc::Status::OK;
}

grpc::Status ConfigServiceImpl::UpsertRoute(grpc::ServerContext* context,
                                            const v1::UpsertRouteRequest* request,
                                            v1::UpsertRouteResponse* response) {
  if (grpc::Status denied = Authorize(auth_, context); !denied.ok()) return denied;
  if (auto st = RequireId(request->route().id(), "route.id"); !st.ok()) return ToGrpcStatus(st);
  bool created = true;
  uint64_t from_version = 0;
  auto result = config_->Update(request->expected_version(), [&](v1::Config& config) {
    from_version = config.version();
    for (v1::Route& route : *config.mutable_routes()) {
      if (route.id() == request->route().id()) {
        created = false;
        route = request->route();
        return absl::OkStatus();
      }
    }
    *config.add_routes() = request->route();
    return absl::OkStatus();
  });
  NoteUpdate(auth_, context, "route:" + request->route().id(), from_version, result);
  if (!result.ok()) return ToGrpcStatus(result.status());
  for (const v1::Route& route : result->table->config().routes()) {
    if (route.id() == request->route().id()) *response->mutable_route() = route;
  }
  response->set_version(result->table->version());
  response->set_created(created);
  return grpc::Status::OK;
}

grpc::Status ConfigServiceImpl::DeleteRoute(grpc::ServerContext* context,
                                            const v1::DeleteRouteRequest* request,
                                            v1::DeleteRouteResponse* response) {
  if (grpc::Status denied = Authorize(auth_, context); !denied.ok()) return denied;
  if (auto st = RequireId(request->id(), "id"); !st.ok()) return ToGrpcStatus(st);
  uint64_t from_version = 0;
  auto result = config_->Update(request->expected_version(), [&](v1::Config& config) {
    from_version = config.version();
    auto* routes = config.mutable_routes();
    auto it = std::find_if(routes->begin(), routes->end(),
                           [&](const v1::Route& r) { return r.id() == request->id(); });
    if (it == routes->end()) {
      return absl::NotFoundError(absl::StrCat("route '", request->id(), "' not found"));
    }
    routes->erase(it);
    return absl::OkStatus();
  });
  NoteUpdate(auth_, context, "route:" + request->id(), from_version, result);
  if (!result.ok()) return ToGrpcStatus(result.status());
  response->set_version(result->table->version());
  return grpc::Status::OK;
}

grpc::Status ConfigServiceImpl::ListRoutes(grpc::ServerContext* context, const v1::ListRoutesRequest*,
                                           v1::ListRoutesResponse* response) {
  if (grpc::Status denied = Authorize(auth_, context); !denied.ok()) return denied;
  auto table = config_->Current();
  std::vector<const v1::Route*> routes;
  for (const v1::Route& route : table->config().routes()) routes.push_back(&route);
  std::stable_sort(routes.begin(), routes.end(), [](const v1::Route* a, const v1::Route* b) {
    return a->priority() < b->priority();
  });
  for (const v1::Route* route : routes) *response->add_routes() = *route;
  response->set_version(table->version());
  return grpc::Status::OK;
}

grpc::Status ConfigServiceImpl::GetConfig(grpc::ServerContext* context, const v1::GetConfigRequest*,
                                          v1::Config* response) {
  if (grpc::Status denied = Authorize(auth_, context); !denied.ok()) return denied;
  *response = config::RedactConfig(config_->Current()->config());
  return grpc::Status::OK;
}

grpc::Status ConfigServiceImpl::ApplyConfig(grpc::ServerContext* context,
                                            const v1::ApplyConfigRequest* request,
                                            v1::ApplyConfigResponse* response) {
  if (grpc::Status denied = Authorize(auth_, context); !denied.ok()) return denied;
  uint64_t from_version = 0;
  auto result = config_->Update(
      request->expected_version(),
      [&](v1::Config& config) {
        from_version = config.version();
        v1::Config next = request->config();
        config::CarryOverSecrets(config, &next);
        next.set_version(config.version());
        next.set_applied_at_unix_ms(config.applied_at_unix_ms());
        config = std::move(next);
        return absl::OkStatus();
      },
      request->dry_run());
  NoteUpdate(auth_, context, "config", from_version, result, request->dry_run());
  if (!result.ok()) return ToGrpcStatus(result.status());
  response->set_applied(result->applied);
  response->set_version(result->applied ? result->table->version()
                                        : config_->Current()->version());
  for (std::string& change : result->changes) response->add_changes(std::move(change));
  return grpc::Status::OK;
}

grpc::Status ConfigServiceImpl::GetFailoverPolicy(grpc::ServerContext* context,
                                                  const v1::GetFailoverPolicyRequest* request,
                                                  v1::GetFailoverPolicyResponse* response) {
  if (grpc::Status denied = Authorize(auth_, context); !denied.ok()) return denied;
  auto table = config_->Current();
  const router::EffectiveFailoverPolicy* policy = &table->default_failover_policy();
  if (!request->route_id().empty()) {
    const router::CompiledRoute* route = table->FindRoute(request->route_id());
    if (route == nullptr) {
      return ToGrpcStatus(
          absl::NotFoundError(absl::StrCat("route '", request->route_id(), "' not found")));
    }
    policy = &route->policy;
  }
  *response->mutable_failover_policy() = policy->ToProto();
  *response->mutable_health_policy() = table->default_health_policy().ToProto();
  response->set_version(table->version());
  return grpc::Status::OK;
}

grpc::Status ConfigServiceImpl::UpdateFailoverPolicy(grpc::ServerContext* context,
                                                     const v1::UpdateFailoverPolicyRequest* request,
                                                     v1::UpdateFailoverPolicyResponse* response) {
  if (grpc::Status denied = Authorize(auth_, context); !denied.ok()) return denied;
  uint64_t from_version = 0;
  auto result = config_->Update(request->expected_version(), [&](v1::Config& config) {
    from_version = config.version();
    // MergeFrom copies exactly the optional fields that are set, but appends repeated ones: a
    // code list given in the request replaces the stored list instead.
    v1::FailoverPolicy* fp = config.mutable_failover_policy();
    const v1::FailoverPolicy& fp_in = request->failover_policy();
    auto codes = fp->failover_codes();
    fp->MergeFrom(fp_in);
    *fp->mutable_failover_codes() = fp_in.failover_codes().empty() ? codes : fp_in.failover_codes();

    v1::HealthPolicy* hp = config.mutable_health_policy();
    const v1::HealthPolicy& hp_in = request->health_policy();
    auto probe_codes = hp->probe_failure_codes();
    hp->MergeFrom(hp_in);
    *hp->mutable_probe_failure_codes() =
        hp_in.probe_failure_codes().empty() ? probe_codes : hp_in.probe_failure_codes();
    return absl::OkStatus();
  });
  NoteUpdate(auth_, context, "failover_policy", from_version, result);
  if (!result.ok()) return ToGrpcStatus(result.status());
  *response->mutable_failover_policy() = result->table->default_failover_policy().ToProto();
  *response->mutable_health_policy() = result->table->default_health_policy().ToProto();
  response->set_version(result->table->version());
  return grpc::Status::OK;
}

grpc::Status ConfigServiceImpl::ExplainRoute(grpc::ServerContext* context,
                                             const v1::ExplainRouteRequest* request,
                                             v1::ExplainRouteResponse* response) {
  if (grpc::Status denied = Authorize(auth_, context); !denied.ok()) return denied;
  if (request->dialed_number().empty()) {
    return ToGrpcStatus(absl::InvalidArgumentError("dialed_number: required"));
  }
  absl::StatusOr<std::string> number = router::NormalizeNumber(request->dialed_number());
  if (!number.ok()) return ToGrpcStatus(number.status());
  std::string caller;
  if (!request->caller_id().empty()) {
    absl::StatusOr<std::string> c = router::NormalizeNumber(request->caller_id());
    if (c.ok()) {
      caller = *std::move(c);
    } else {
      response->add_notes(absl::StrCat("caller id '", request->caller_id(),
                                       "' is not a number; caller-ID patterns cannot match"));
    }
  }
  response->set_normalized_number(*number);
  auto table = config_->Current();
  const router::RoutingTable::Trial* matched = nullptr;
  std::vector<router::RoutingTable::Trial> trials =
      table->Explain(*number, caller, request->ingress_trunk_id());
  for (const router::RoutingTable::Trial& trial : trials) {
    v1::RouteTrial* out = response->add_tried();
    out->set_route_id(trial.route->id);
    out->set_priority(trial.route->priority);
    out->set_pattern(trial.route->pattern);
    out->set_matched(trial.matched);
    out->set_reason(trial.reason);
    if (trial.matched) matched = &trial;
  }
  if (matched == nullptr) {
    response->add_notes(router::NoRouteMessage(
        *table, *number, caller, request->ingress_trunk_id(),
        absl::StrCat(" (", trials.size(), " route", trials.size() == 1 ? "" : "s", " tried)")));
    return grpc::Status::OK;
  }
  response->set_matched_route_id(matched->route->id);
  response->add_notes(absl::StrCat("route '", matched->route->id, "' (priority ",
                                   matched->route->priority, ") matched: ", matched->reason));
  const router::CallQuery query{request->dialed_number(), request->caller_id(),
                                request->ingress_trunk_id()};
  // Entropy 0 keeps a ramping trunk in its place: the explanation shows the configured order,
  // and the note says the trunk is ramping.
  absl::StatusOr<router::Decision> decision = router::Decide(table, *health_, query, 0.0);
  if (!decision.ok()) {
    response->add_notes(absl::StrCat("no candidates: ", decision.status().message()));
    return grpc::Status::OK;
  }
  decision->ToProto(response->mutable_decision());
  response->mutable_decision()->set_config_version(table->version());
  if (decision->normalized_number != *number) {
    response->add_notes(
        absl::StrCat("route transform sends the call as ", decision->normalized_number));
  }
  int position = 0;
  for (const router::DecisionCandidate& c : decision->candidates) {
    response->add_notes(absl::StrCat("candidate ", ++position, ": trunk '", c.trunk->id, "' (",
                                     StateName(c.health_state), "), attempt timeout ",
                                     c.attempt_timeout_ms, " ms, ",
                                     decision->RequestUri(*c.trunk)));
  }
  for (const router::DecisionSkip& s : decision->skipped) {
    response->add_notes(absl::StrCat("skipped trunk '", s.trunk->id, "' (",
                                     StateName(s.health_state), "): ", s.reason));
  }
  if (decision->panic) {
    response->add_notes(
        "panic: every trunk of the route is unavailable; all are offered in priority order");
  }
  return grpc::Status::OK;
}

}  // namespace trunkroute::server
