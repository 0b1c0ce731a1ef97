// log-level, info (AdminService).
#include <string>
#include <vector>

#include "cli/command.h"
#include "cli/display.h"
#include "cli/json.h"
#include "cli/table.h"

namespace trunkroute::cli {
namespace {

int LogLevelCommand(CommandEnv& env) {
  v1::SetLogLevelRequest req;
  req.set_level(env.args.positional[0]);
  if (auto text = env.args.Get("json")) {
    bool json = false;
    if (auto err = ParseOnOff("json", *text, &json)) return env.Usage(*err);
    req.set_json(json);
  }
  v1::SetLogLevelResponse resp;
  grpc::Status s = env.conn.admin().SetLogLevel(env.conn.NewContext().get(), req, &resp);
  if (!s.ok()) return env.Fail(s);
  if (env.globals.json) {
    env.out << ToJson(resp);
  } else {
    env.out << "log level " << resp.level() << ", json lines " << (resp.json() ? "on" : "off")
            << '\n';
  }
  return kExitOk;
}

int Info(CommandEnv& env) {
  v1::GetServerInfoResponse resp;
  grpc::Status s = env.conn.admin().GetServerInfo(env.conn.NewContext().get(), {}, &resp);
  if (!s.ok()) return env.Fail(s);
  if (env.globals.json) {
    env.out << ToJson(resp);
    return kExitOk;
  }
  KeyValueList view;
  view.Add("server", env.globals.server);
  view.Add("version", resp.version());
  view.Add("started", FormatUnixMs(resp.started_at_unix_ms()));
  view.Add("config_version", std::to_string(resp.config_version()));
  view.Add("config_source", resp.config_source().empty() ? "file" : resp.config_source());
  if (resp.clustered()) {
    view.Add("instance_id", resp.instance_id());
    view.Add("etcd", resp.etcd_endpoints());
    view.Add("etcd_prefix", resp.etcd_prefix());
    view.Add("etcd_reachable",
             resp.etcd_reachable() ? "yes" : "NO (config writes fail; serving the last config)");
    view.Add("config_revision", std::to_string(resp.config_revision()));
  }
  view.Add("log_level", resp.log_level());
  view.Add("log_json", resp.log_json() ? "on" : "off");
  view.Add("grpc_listen", resp.grpc_listen());
  view.Add("http_listen", resp.http_listen());
  view.Add("sip_listen", resp.sip_listen());
  view.Print(env.out);
  return kExitOk;
}

// grpc.health.v1 Check: what a liveness or readiness check wants to know, without a token (the
// health service stays open when the API requires one). SERVING is exit 0; NOT_SERVING (the
// server is shutting down) or an unknown service is exit 1; no answer is exit 3.
int Ping(CommandEnv& env) {
  grpc::health::v1::HealthCheckRequest req;
  if (auto service = env.args.Get("service")) req.set_service(*service);
  grpc::health::v1::HealthCheckResponse resp;
  grpc::Status s = env.conn.serving().Check(env.conn.NewContext().get(), req, &resp);
  if (!s.ok()) return env.Fail(s);
  const std::string status =
      grpc::health::v1::HealthCheckResponse::ServingStatus_Name(resp.status());
  if (env.globals.json) {
    env.out << ToJson(resp);
  } else {
    env.out << env.globals.server << ' ' << status << '\n';
  }
  if (resp.status() == grpc::health::v1::HealthCheckResponse::SERVING) return kExitOk;
  if (!env.globals.json) env.err << "error: " << env.globals.server << " is " << status << '\n';
  return kExitRpcError;
}

}  // namespace

void AddAdminCommands(std::vector<Command>* commands) {
  commands->push_back(
      {{"log-level"},
       "LEVEL [--json on|off]",
       "change the server's log level at runtime",
       "LEVEL is debug, info, warn or error. --json on|off here switches the server's JSON-lines\n"
       "log output; for JSON output of this command put --json before the command.",
       {{"json"}},
       1,
       1,
       LogLevelCommand});
  commands->push_back({{"info"},
                       "",
                       "show server version, uptime, listeners and config version",
                       "",
                       {},
                       0,
                       0,
                       Info});
  commands->push_back(
      {{"ping"},
       "[--service NAME]",
       "check that the server is serving (grpc.health.v1; needs no token)",
       "Asks the standard grpc.health.v1 Health/Check, which stays open when the API\n"
       "requires a bearer token: use it for liveness checks (the container\n"
       "HEALTHCHECK does). Exit 0 when SERVING, 1 when NOT_SERVING (shutting down)\n"
       "or the service is unknown, 3 when nothing answers. --service asks about one\n"
       "service, e.g. trunkroute.v1.RoutingService (default: the whole server).",
       {{"service"}},
       0,
       0,
       Ping});
}

}  // namespace trunkroute::cli
