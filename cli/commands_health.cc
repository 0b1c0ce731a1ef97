// health list|watch, trunk drain|enable|force-down|force-up.
#include <string>
#include <vector>

#include "cli/command.h"
#include "cli/display.h"
#include "cli/json.h"
#include "cli/signals.h"
#include "cli/table.h"

namespace trunkroute::cli {
namespace {

int HealthList(CommandEnv& env) {
  v1::ListTrunkHealthResponse resp;
  grpc::Status s = env.conn.health().ListTrunkHealth(env.conn.NewContext().get(), {}, &resp);
  if (!s.ok()) return env.Fail(s);
  if (env.globals.json) {
    env.out << ToJson(resp);
    return kExitOk;
  }
  Table table({"TRUNK", "STATE", "SINCE", "REASON", "FAILS", "PROBE_RTT", "EJECTIONS", "TIMEOUT_MS",
               "DETAIL"});
  for (const v1::TrunkHealth& h : resp.trunks()) {
    std::string detail = h.detail();
    if (!h.dns_error().empty()) detail += (detail.empty() ? "" : "; ") + ("dns: " + h.dns_error());
    table.AddRow({h.trunk_id(), ShortEnum(h.state()), FormatUnixMs(h.since_unix_ms()),
                  ShortEnum(h.reason()), std::to_string(h.consecutive_failures()),
                  FormatRttUs(h.last_probe_rtt_us()), std::to_string(h.ejection_count()),
                  std::to_string(h.attempt_timeout_ms()), detail});
    // The addresses of a host name (RFC 3263), each with its own health, under their trunk.
    for (const v1::TargetHealth& t : h.targets()) {
      table.AddRow({"  " + t.target(), ShortEnum(t.state()), FormatUnixMs(t.since_unix_ms()),
                    ShortEnum(t.reason()), std::to_string(t.consecutive_failures()),
                    FormatRttUs(t.last_probe_rtt_us()), std::to_string(t.ejection_count()), "-",
                    t.detail()});
    }
  }
  table.Print(env.out);
  return kExitOk;
}

// One logfmt-style line per event, like the server's own log lines, so it greps the same way.
std::string EventLine(const v1::TrunkHealthEvent& event) {
  const v1::TrunkHealth& h = event.health();
  std::string line = FormatUnixMs(h.since_unix_ms());
  if (line.empty()) line = "-";
  line += " trunk=" + h.trunk_id() + " state=" + ShortEnum(h.state());
  if (event.snapshot()) {
    line += " snapshot=yes";
  } else {
    line += " prev=" + ShortEnum(event.previous_state());
  }
  line += " reason=" + ShortEnum(h.reason());
  if (!h.detail().empty()) line += " detail=\"" + h.detail() + "\"";
  return line + "\n";
}

// Runs until Ctrl-C/SIGTERM, --count events or --timeout seconds: each of those is a clean exit 0.
// A stream the server ends (shutting down, killed, unreachable) says so and exits 3.
int HealthWatch(CommandEnv& env) {
  uint64_t limit = 0;
  if (auto text = env.args.Get("count")) {
    if (auto err = ParseUint64("count", *text, &limit)) return env.Usage(*err);
    if (limit == 0) return env.Usage("--count: must be at least 1");
  }
  std::unique_ptr<grpc::ClientContext> context = env.conn.NewContext(/*with_deadline=*/false);
  grpc::ClientContext* raw = context.get();
  ScopedCancelOnSignal cancel_on_signal([raw] { raw->TryCancel(); });
  auto reader = env.conn.health().WatchTrunkHealth(raw, {});
  v1::TrunkHealthEvent event;
  uint64_t seen = 0;
  bool limit_reached = false;
  while (reader->Read(&event)) {
    env.out << (env.globals.json ? ToJson(event, /*one_line=*/true) : EventLine(event));
    env.out.flush();  // a watcher piped into another program must see each event at once
    ++seen;
    if (limit != 0 && seen >= limit) {
      limit_reached = true;
      raw->TryCancel();
      break;
    }
  }
  grpc::Status s = reader->Finish();
  if (limit_reached || Interrupted()) return kExitOk;
  // --timeout ends the watch the user asked for: clean, as long as the server was there (a
  // server that never answered also ends in DEADLINE_EXCEEDED, and that is exit 3).
  if (s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED && env.globals.timeout_given &&
      (seen > 0 || env.conn.Connected())) {
    return kExitOk;
  }
  // Anything else means the server went away: a watch has no end of its own, and a script
  // (or an operator's terminal) must not take a dead server for a quiet one. Say why, exit 3.
  // (A server that never answered at all is "no answer from ...", below.)
  if (s.ok() || (s.error_code() == grpc::StatusCode::UNAVAILABLE && seen > 0)) {
    env.err << "error: health watch ended after " << seen << " event" << (seen == 1 ? "" : "s")
            << ": " << env.globals.server << " "
            << (s.ok() ? std::string("closed the stream")
                       : "went away (UNAVAILABLE: " + s.error_message() + ")")
            << '\n';
    return kExitUnreachable;
  }
  return env.Fail(s);
}

int SetAdminState(CommandEnv& env, v1::AdminState state) {
  v1::SetTrunkAdminStateRequest req;
  req.set_trunk_id(env.args.positional[0]);
  req.set_state(state);
  v1::SetTrunkAdminStateResponse resp;
  grpc::Status s = env.conn.health().SetTrunkAdminState(env.conn.NewContext().get(), req, &resp);
  if (!s.ok()) return env.Fail(s);
  if (env.globals.json) {
    env.out << ToJson(resp);
  } else {
    env.out << "trunk '" << req.trunk_id() << "' admin state " << AdminStateName(state)
            << " (health: " << ShortEnum(resp.health().state()) << ", config version "
            << resp.config_version() << ")\n";
  }
  return kExitOk;
}

}  // namespace

void AddHealthCommands(std::vector<Command>* commands) {
  commands->push_back({{"health", "list"},
                       "",
                       "show every trunk's health as this server sees it",
                       "",
                       {},
                       0,
                       0,
                       HealthList});
  commands->push_back(
      {{"health", "watch"},
       "[--count N] [--timeout S]",
       "stream health events, one line each (a snapshot first, then every change)",
       "Runs until Ctrl-C or SIGTERM (exit 0), or until N events were printed (--count), or\n"
       "for S seconds (--timeout; without it the watch has no deadline). When the server goes\n"
       "away (shuts down, restarts, is killed) the watch says so on stderr and exits 3. With\n"
       "--json each event is one line of JSON.",
       {{"count"}},
       0,
       0,
       HealthWatch});
  struct StateCommand {
    const char* word;
    v1::AdminState state;
    const char* summary;
  };
  for (const StateCommand& sc : {
           StateCommand{"drain", v1::ADMIN_STATE_DRAINING,
                        "take no new calls on a trunk (calls in progress continue)"},
           StateCommand{"enable", v1::ADMIN_STATE_ENABLED,
                        "return a trunk to normal use (health decides)"},
           StateCommand{"force-down", v1::ADMIN_STATE_FORCED_DOWN,
                        "take no calls at all on a trunk, not even in panic mode"},
           StateCommand{"force-up", v1::ADMIN_STATE_FORCED_UP,
                        "treat a trunk as UP whatever health measures"},
       }) {
    const v1::AdminState state = sc.state;
    commands->push_back({{"trunk", sc.word},
                         "ID",
                         sc.summary,
                         "The admin state is persisted in the trunk's config.",
                         {},
                         1,
                         1,
                         [state](CommandEnv& env) { return SetAdminState(env, state); }});
  }
}

}  // namespace trunkroute::cli
