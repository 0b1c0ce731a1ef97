// policy get|set, route explain|call.
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "cli/command.h"
#include "cli/display.h"
#include "cli/json.h"
#include "cli/table.h"

namespace trunkroute::cli {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

std::string FlagName(const FieldDescriptor* field) {
  return absl::StrReplaceAll(field->name(), {{"_", "-"}});
}

// `policy set` has one flag per field of FailoverPolicy and HealthPolicy (no names are
// shared), derived from the proto so a new policy field is settable without touching the CLI.
std::vector<const FieldDescriptor*> PolicyFields() {
  std::vector<const FieldDescriptor*> fields;
  for (const Descriptor* d : {v1::FailoverPolicy::descriptor(), v1::HealthPolicy::descriptor()}) {
    for (int i = 0; i < d->field_count(); ++i) fields.push_back(d->field(i));
  }
  return fields;
}

std::string ValueHint(const FieldDescriptor* field) {
  if (field->is_repeated()) return "N,N,...";
  if (field->cpp_type() == FieldDescriptor::CPPTYPE_BOOL) return "on|off";
  return "N";
}

// Sets one policy field from its flag text; the error names the flag.
std::optional<std::string> SetPolicyField(const FieldDescriptor* field, const std::string& text,
                                          Message* policy) {
  const std::string flag = FlagName(field);
  const auto* r = policy->GetReflection();
  if (field->is_repeated()) {
    std::vector<uint32_t> values;
    if (auto err = ParseUintList(flag, text, &values)) return err;
    r->ClearField(policy, field);
    for (uint32_t v : values) r->AddUInt32(policy, field, v);
    return std::nullopt;
  }
  if (field->cpp_type() == FieldDescriptor::CPPTYPE_BOOL) {
    bool value = false;
    if (auto err = ParseOnOff(flag, text, &value)) return err;
    r->SetBool(policy, field, value);
    return std::nullopt;
  }
  uint32_t value = 0;
  if (auto err = ParseUint32(flag, text, &value)) return err;
  r->SetUInt32(policy, field, value);
  return std::nullopt;
}

void PrintPolicy(CommandEnv& env, const v1::FailoverPolicy& failover,
                 const v1::HealthPolicy& health, uint64_t version) {
  KeyValueList view;
  FlattenMessage(failover, "failover", &view);
  FlattenMessage(health, "health", &view);
  view.Add("config_version", std::to_string(version));
  view.Print(env.out);
}

int PolicyGet(CommandEnv& env) {
  v1::GetFailoverPolicyRequest req;
  if (auto route = env.args.Get("route")) req.set_route_id(*route);
  v1::GetFailoverPolicyResponse resp;
  grpc::Status s = env.conn.config().GetFailoverPolicy(env.conn.NewContext().get(), req, &resp);
  if (!s.ok()) return env.Fail(s);
  if (env.globals.json) {
    env.out << ToJson(resp);
  } else {
    PrintPolicy(env, resp.failover_policy(), resp.health_policy(), resp.version());
  }
  return kExitOk;
}

int PolicySet(CommandEnv& env) {
  v1::UpdateFailoverPolicyRequest req;
  bool any = false;
  for (const FieldDescriptor* field : PolicyFields()) {
    auto text = env.args.Get(FlagName(field));
    if (!text) continue;
    Message* policy = field->containing_type() == v1::FailoverPolicy::descriptor()
                          ? static_cast<Message*>(req.mutable_failover_policy())
                          : static_cast<Message*>(req.mutable_health_policy());
    if (auto err = SetPolicyField(field, *text, policy)) return env.Usage(*err);
    any = true;
  }
  if (!any) return env.Usage("nothing to change: give at least one policy flag");
  if (auto text = env.args.Get("expected-version")) {
    uint64_t expected = 0;
    if (auto err = ParseUint64("expected-version", *text, &expected)) return env.Usage(*err);
    req.set_expected_version(expected);
  }
  v1::UpdateFailoverPolicyResponse resp;
  grpc::Status s = env.conn.config().UpdateFailoverPolicy(env.conn.NewContext().get(), req, &resp);
  if (!s.ok()) return env.Fail(s);
  if (env.globals.json) {
    env.out << ToJson(resp);
  } else {
    PrintPolicy(env, resp.failover_policy(), resp.health_policy(), resp.version());
  }
  return kExitOk;
}

void PrintCandidates(CommandEnv& env, const v1::RouteCallResponse& d) {
  Table candidates({"#", "TRUNK", "STATE", "TIMEOUT_MS", "URI"});
  int n = 0;
  for (const v1::Candidate& c : d.candidates()) {
    candidates.AddRow({std::to_string(++n), c.trunk_id(), ShortEnum(c.health_state()),
                       std::to_string(c.setup_timeout_ms()), c.sip_uri()});
  }
  candidates.Print(env.out);
  if (d.skipped_size() > 0) {
    env.out << '\n';
    Table skipped({"SKIPPED", "STATE", "REASON"});
    for (const v1::SkippedTrunk& t : d.skipped()) {
      skipped.AddRow({t.trunk_id(), ShortEnum(t.health_state()), t.reason()});
    }
    skipped.Print(env.out);
  }
}

void PrintDecisionHeader(CommandEnv& env, const v1::RouteCallResponse& d) {
  KeyValueList head;
  head.Add("route", d.route_id());
  head.Add("number", d.normalized_number());
  if (d.panic()) head.Add("panic", "yes: every trunk is unavailable, all are offered anyway");
  head.Add("config_version", std::to_string(d.config_version()));
  head.Print(env.out);
  env.out << '\n';
}

int RouteExplain(CommandEnv& env) {
  v1::ExplainRouteRequest req;
  req.set_dialed_number(env.args.positional[0]);
  if (auto v = env.args.Get("caller")) req.set_caller_id(*v);
  if (auto v = env.args.Get("ingress")) req.set_ingress_trunk_id(*v);
  v1::ExplainRouteResponse resp;
  grpc::Status s = env.conn.config().ExplainRoute(env.conn.NewContext().get(), req, &resp);
  if (!s.ok()) return env.Fail(s);
  if (env.globals.json) {
    env.out << ToJson(resp);
    return kExitOk;
  }
  env.out << "number  " << resp.normalized_number() << "\n\n";
  Table tried({"ROUTE", "PRIORITY", "PATTERN", "MATCHED", "REASON"});
  for (const v1::RouteTrial& t : resp.tried()) {
    tried.AddRow({t.route_id(), std::to_string(t.priority()), t.pattern(),
                  t.matched() ? "yes" : "no", t.reason()});
  }
  tried.Print(env.out);
  env.out << '\n';
  if (resp.matched_route_id().empty()) {
    env.out << "no route matches\n";
  } else {
    PrintDecisionHeader(env, resp.decision());
    PrintCandidates(env, resp.decision());
  }
  if (resp.notes_size() > 0) {
    env.out << '\n';
    for (const std::string& note : resp.notes()) env.out << "note: " << note << '\n';
  }
  return kExitOk;
}

int RouteCall(CommandEnv& env) {
  v1::RouteCallRequest req;
  req.set_dialed_number(env.args.positional[0]);
  if (auto v = env.args.Get("caller")) req.set_caller_id(*v);
  if (auto v = env.args.Get("ingress")) req.set_ingress_trunk_id(*v);
  if (auto v = env.args.Get("call-id")) req.set_call_id(*v);
  v1::RouteCallResponse resp;
  grpc::Status s = env.conn.routing().RouteCall(env.conn.NewContext().get(), req, &resp);
  if (!s.ok()) return env.Fail(s);
  if (env.globals.json) {
    env.out << ToJson(resp);
    return kExitOk;
  }
  PrintDecisionHeader(env, resp);
  PrintCandidates(env, resp);
  return kExitOk;
}

std::string PolicySetDetails() {
  std::string text =
      "Only the flags given change (merge semantics); every other setting keeps its value.\n"
      "Failover and health policy flags (see docs for defaults and bounds):\n";
  for (const FieldDescriptor* field : PolicyFields()) {
    text += "  --" + FlagName(field) + " " + ValueHint(field) + "\n";
  }
  text +=
      "--expected-version N fails with ABORTED (exit 5) unless version N is serving.\n"
      "Out-of-bounds values are rejected by the server (INVALID_ARGUMENT, exit 1).";
  return text;
}

}  // namespace

void AddPolicyCommands(std::vector<Command>* commands) {
  std::vector<FlagSpec> set_flags = {{"expected-version"}};
  for (const FieldDescriptor* field : PolicyFields()) set_flags.push_back({FlagName(field)});

  commands->push_back({{"policy", "get"},
                       "[--route ID]",
                       "show the effective failover and health policy",
                       "With --route, the route's effective policy (global merged with its "
                       "override).",
                       {{"route"}},
                       0,
                       0,
                       PolicyGet});
  commands->push_back({{"policy", "set"},
                       "--FIELD VALUE ... [--expected-version N]",
                       "change global failover/health policy fields",
                       PolicySetDetails(),
                       set_flags,
                       0,
                       0,
                       PolicySet});
  const std::vector<FlagSpec> match_flags = {{"caller"}, {"ingress"}};
  commands->push_back({{"route", "explain"},
                       "NUMBER [--caller X] [--ingress ID]",
                       "show which routes were tried and why each trunk is where it is",
                       "Exit 0 also when no route matches (the explanation says so).",
                       match_flags,
                       1,
                       1,
                       RouteExplain});
  commands->push_back({{"route", "call"},
                       "NUMBER [--caller X] [--ingress ID] [--call-id X]",
                       "ask for the trunks to try, as a dialer would (RouteCall)",
                       "NOT_FOUND (exit 4) when no route matches; UNAVAILABLE (exit 1) when every "
                       "trunk is down and the route fails fast.",
                       {{"caller"}, {"ingress"}, {"call-id"}},
                       1,
                       1,
                       RouteCall});
}

}  // namespace trunkroute::cli
