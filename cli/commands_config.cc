// trunks list|get|apply|delete, routes list|apply|delete, config export|apply.
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "cli/command.h"
#include "cli/display.h"
#include "cli/json.h"
#include "cli/table.h"

namespace trunkroute::cli {
namespace {

// Reads and parses the -f document; on failure the usage error has been printed and
// `*exit_code` is set.
template <typename Element>
bool LoadDocument(CommandEnv& env,
                  std::optional<std::string> (*parse)(const std::string&, const std::string&,
                                                      std::vector<Element>*),
                  std::vector<Element>* out, int* exit_code) {
  auto path = env.args.Get("file");
  if (!path) {
    *exit_code = env.Usage("-f FILE is required");
    return false;
  }
  std::string text;
  std::optional<std::string> err = ReadFile(*path, &text);
  if (!err) err = parse(text, *path, out);
  if (err) {
    *exit_code = env.Usage(*err);
    return false;
  }
  return true;
}

// Optional --expected-version; false (after printing a usage error) when malformed.
bool ExpectedVersion(CommandEnv& env, uint64_t* version, int* exit_code) {
  *version = 0;
  auto text = env.args.Get("expected-version");
  if (!text) return true;
  if (auto err = ParseUint64("expected-version", *text, version)) {
    *exit_code = env.Usage(*err);
    return false;
  }
  return true;
}

std::string CreatedOrUpdated(bool created) { return created ? "created" : "updated"; }

int TrunksList(CommandEnv& env) {
  v1::ListTrunksResponse resp;
  grpc::Status s = env.conn.config().ListTrunks(env.conn.NewContext().get(), {}, &resp);
  if (!s.ok()) return env.Fail(s);
  if (env.globals.json) {
    env.out << ToJson(resp);
    return kExitOk;
  }
  Table table({"ID", "NAME", "HOST", "PORT", "TRANSPORT", "ADMIN", "PASSWORD"});
  for (const v1::Trunk& t : resp.trunks()) {
    table.AddRow({t.id(), t.name(), t.host(), std::to_string(EffectivePort(t)),
                  TransportName(t.transport()), AdminStateName(t.admin_state()),
                  t.has_password() ? "yes" : "no"});
  }
  table.Print(env.out);
  return kExitOk;
}

int TrunksGet(CommandEnv& env) {
  v1::GetTrunkRequest req;
  req.set_id(env.args.positional[0]);
  v1::Trunk t;
  grpc::Status s = env.conn.config().GetTrunk(env.conn.NewContext().get(), req, &t);
  if (!s.ok()) return env.Fail(s);
  if (env.globals.json) {
    env.out << ToJson(t);
    return kExitOk;
  }
  KeyValueList view;
  view.Add("id", t.id());
  view.Add("name", t.name());
  view.Add("host", t.host());
  view.Add("port", std::to_string(EffectivePort(t)));
  view.Add("transport", TransportName(t.transport()));
  view.Add("admin_state", AdminStateName(t.admin_state()));
  view.Add("username", t.username());
  view.Add("password", t.has_password() ? "yes (write-only)" : "no");
  view.Add("auth_realm", t.auth_realm().empty() ? "any" : t.auth_realm());
  view.Add("allow_cidrs", absl::StrJoin(t.allow_cidrs(), ","));
  view.Add("codecs", t.codecs().empty() ? "PCMU,PCMA,telephone-event (default)"
                                        : absl::StrJoin(t.codecs(), ","));
  view.Add("max_concurrent_calls",
           t.max_concurrent_calls() == 0 ? "unlimited" : std::to_string(t.max_concurrent_calls()));
  FlattenMessage(t.caller_id(), "caller_id", &view);
  FlattenMessage(t.health(), "health", &view);
  view.Print(env.out);
  return kExitOk;
}

// Each object is one upsert. With --expected-version the first upsert checks it and each next
// one checks the version the previous answered, so the batch fails (ABORTED) rather than
// interleave with another writer.
int TrunksApply(CommandEnv& env) {
  int code = kExitOk;
  std::vector<v1::Trunk> trunks;
  uint64_t expected = 0;
  if (!LoadDocument(env, &ParseTrunksDocument, &trunks, &code) ||
      !ExpectedVersion(env, &expected, &code)) {
    return code;
  }
  for (v1::Trunk& trunk : trunks) {
    v1::UpsertTrunkRequest req;
    *req.mutable_trunk() = std::move(trunk);
    req.set_expected_version(expected);
    v1::UpsertTrunkResponse resp;
    grpc::Status s = env.conn.config().UpsertTrunk(env.conn.NewContext().get(), req, &resp);
    if (!s.ok()) return env.Fail(s);
    if (expected != 0) expected = resp.version();
    if (env.globals.json) {
      env.out << ToJson(resp, /*one_line=*/true);
    } else {
      env.out << "trunk '" << resp.trunk().id() << "' " << CreatedOrUpdated(resp.created())
              << " (config version " << resp.version() << ")\n";
    }
  }
  return kExitOk;
}

int TrunksDelete(CommandEnv& env) {
  int code = kExitOk;
  v1::DeleteTrunkRequest req;
  uint64_t expected = 0;
  if (!ExpectedVersion(env, &expected, &code)) return code;
  req.set_id(env.args.positional[0]);
  req.set_expected_version(expected);
  v1::DeleteTrunkResponse resp;
  grpc::Status s = env.conn.config().DeleteTrunk(env.conn.NewContext().get(), req, &resp);
  if (!s.ok()) return env.Fail(s);
  if (env.globals.json) {
    env.out << ToJson(resp);
  } else {
    env.out << "trunk '" << req.id() << "' deleted (config version " << resp.version() << ")\n";
  }
  return kExitOk;
}

int RoutesList(CommandEnv& env) {
  v1::ListRoutesResponse resp;
  grpc::Status s = env.conn.config().ListRoutes(env.conn.NewContext().get(), {}, &resp);
  if (!s.ok()) return env.Fail(s);
  if (env.globals.json) {
    env.out << ToJson(resp);
    return kExitOk;
  }
  Table table({"ID", "PRIORITY", "PATTERN", "TRUNKS", "INGRESS", "CALLER_ID", "DESCRIPTION"});
  for (const v1::Route& r : resp.routes()) {
    table.AddRow({r.id(), std::to_string(r.priority()), r.pattern(),
                  absl::StrJoin(r.trunk_ids(), ","), r.ingress_trunk_id(), r.caller_id_pattern(),
                  r.description()});
  }
  table.Print(env.out);
  return kExitOk;
}

int RoutesApply(CommandEnv& env) {
  int code = kExitOk;
  std::vector<v1::Route> routes;
  uint64_t expected = 0;
  if (!LoadDocument(env, &ParseRoutesDocument, &routes, &code) ||
      !ExpectedVersion(env, &expected, &code)) {
    return code;
  }
  for (v1::Route& route : routes) {
    v1::UpsertRouteRequest req;
    *req.mutable_route() = std::move(route);
    req.set_expected_version(expected);
    v1::UpsertRouteResponse resp;
    grpc::Status s = env.conn.config().UpsertRoute(env.conn.NewContext().get(), req, &resp);
    if (!s.ok()) return env.Fail(s);
    if (expected != 0) expected = resp.version();
    if (env.globals.json) {
      env.out << ToJson(resp, /*one_line=*/true);
    } else {
      env.out << "route '" << resp.route().id() << "' " << CreatedOrUpdated(resp.created())
              << " (config version " << resp.version() << ")\n";
    }
  }
  return kExitOk;
}

int RoutesDelete(CommandEnv& env) {
  int code = kExitOk;
  v1::DeleteRouteRequest req;
  uint64_t expected = 0;
  if (!ExpectedVersion(env, &expected, &code)) return code;
  req.set_id(env.args.positional[0]);
  req.set_expected_version(expected);
  v1::DeleteRouteResponse resp;
  grpc::Status s = env.conn.config().DeleteRoute(env.conn.NewContext().get(), req, &resp);
  if (!s.ok()) return env.Fail(s);
  if (env.globals.json) {
    env.out << ToJson(resp);
  } else {
    env.out << "route '" << req.id() << "' deleted (config version " << resp.version() << ")\n";
  }
  return kExitOk;
}

// Always JSON (it is a file to keep and re-apply): defaults omitted, like the stored config.
int ConfigExport(CommandEnv& env) {
  v1::Config config;
  grpc::Status s = env.conn.config().GetConfig(env.conn.NewContext().get(), {}, &config);
  if (!s.ok()) return env.Fail(s);
  env.out << ToJson(config, /*one_line=*/false, /*with_defaults=*/false);
  return kExitOk;
}

int ConfigApply(CommandEnv& env) {
  int code = kExitOk;
  auto path = env.args.Get("file");
  if (!path) return env.Usage("-f FILE is required");
  std::string text;
  v1::ApplyConfigRequest req;
  std::optional<std::string> err = ReadFile(*path, &text);
  if (!err) err = ParseJson(text, *path, req.mutable_config());
  if (err) return env.Usage(*err);
  uint64_t expected = 0;
  if (!ExpectedVersion(env, &expected, &code)) return code;
  req.set_expected_version(expected);
  req.set_dry_run(env.args.Has("dry-run"));
  v1::ApplyConfigResponse resp;
  grpc::Status s = env.conn.config().ApplyConfig(env.conn.NewContext().get(), req, &resp);
  if (!s.ok()) return env.Fail(s);
  if (env.globals.json) {
    env.out << ToJson(resp);
    return kExitOk;
  }
  const size_t n = resp.changes_size();
  if (req.dry_run()) {
    env.out << "dry run: config is valid, " << n << (n == 1 ? " change" : " changes")
            << " (serving version " << resp.version() << " unchanged)\n";
  } else if (resp.applied()) {
    env.out << "applied: config version " << resp.version() << ", " << n
            << (n == 1 ? " change" : " changes") << "\n";
  } else {
    env.out << "no changes (config version " << resp.version() << ")\n";
  }
  for (const std::string& change : resp.changes()) env.out << "  " << change << '\n';
  return kExitOk;
}

const FlagSpec kFile{"file", true, 'f'};
const FlagSpec kExpectedVersion{"expected-version"};

}  // namespace

void AddConfigCommands(std::vector<Command>* commands) {
  const std::string apply_details =
      "FILE is protobuf JSON (snake_case or camelCase names; unknown fields are errors);\n"
      "'-' reads stdin. Each object is one upsert; on the first error the command stops\n"
      "(earlier objects stay applied; 'config apply' is all-or-nothing).\n"
      "--expected-version N: the first upsert requires config version N, each next one the\n"
      "version the previous produced (ABORTED, exit 5, when someone else wrote in between).\n"
      "With --json: one line of JSON per applied object.";
  commands->push_back({{"trunks", "list"}, "", "list trunks", "", {}, 0, 0, TrunksList});
  commands->push_back({{"trunks", "get"},
                       "ID",
                       "show one trunk (passwords are never shown)",
                       "",
                       {},
                       1,
                       1,
                       TrunksGet});
  commands->push_back({{"trunks", "apply"},
                       "-f FILE [--expected-version N]",
                       "create or update trunks from a Trunk or {\"trunks\":[...]} document",
                       apply_details + "\nAn empty password keeps the stored one.",
                       {kFile, kExpectedVersion},
                       0,
                       0,
                       TrunksApply});
  commands->push_back({{"trunks", "delete"},
                       "ID [--expected-version N]",
                       "delete a trunk (FAILED_PRECONDITION, exit 5, while a route uses it)",
                       "",
                       {kExpectedVersion},
                       1,
                       1,
                       TrunksDelete});
  commands->push_back(
      {{"routes", "list"}, "", "list routes in priority order", "", {}, 0, 0, RoutesList});
  commands->push_back({{"routes", "apply"},
                       "-f FILE [--expected-version N]",
                       "create or update routes from a Route or {\"routes\":[...]} document",
                       apply_details,
                       {kFile, kExpectedVersion},
                       0,
                       0,
                       RoutesApply});
  commands->push_back({{"routes", "delete"},
                       "ID [--expected-version N]",
                       "delete a route",
                       "",
                       {kExpectedVersion},
                       1,
                       1,
                       RoutesDelete});
  commands->push_back({{"config", "export"},
                       "",
                       "print the whole config as JSON",
                       "Always JSON. Passwords are redacted by the server (has_password tells "
                       "whether one is stored);\napplying the export back keeps stored passwords.",
                       {},
                       0,
                       0,
                       ConfigExport});
  commands->push_back(
      {{"config", "apply"},
       "-f FILE [--dry-run] [--expected-version N]",
       "replace the whole config atomically and print what changes",
       "FILE is a Config in protobuf JSON ('-' reads stdin); its version field is ignored.\n"
       "--dry-run validates and lists the changes without applying them.\n"
       "--expected-version N fails with ABORTED (exit 5) unless version N is serving.\n"
       "A rejected config (INVALID_ARGUMENT, exit 1) lists every problem with its field path.",
       {kFile, kExpectedVersion, {"dry-run", false}},
       0,
       0,
       ConfigApply});
}

}  // namespace trunkroute::cli
