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
}

}  // namespace trunkroute::cli
