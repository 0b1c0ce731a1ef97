// cluster status (ClusterService).
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "cli/command.h"
#include "cli/display.h"
#include "cli/json.h"
#include "cli/table.h"

namespace trunkroute::cli {
namespace {

int ClusterStatus(CommandEnv& env) {
  v1::ListInstancesResponse resp;
  grpc::Status s = env.conn.cluster().ListInstances(env.conn.NewContext().get(), {}, &resp);
  if (!s.ok()) return env.Fail(s);
  if (env.globals.json) {
    env.out << ToJson(resp);
    return kExitOk;
  }
  if (!resp.clustered()) {
    env.out << "not clustered: this instance runs on its own file store (start it with "
               "--etcd-endpoints to share one config)\n";
  } else if (!resp.etcd_reachable()) {
    env.out << "etcd unreachable from " << env.globals.server
            << ": showing that instance's last view\n";
  } else {
    env.out << "config in etcd: version " << resp.newest_config_version() << ", revision "
            << resp.newest_config_revision() << "\n";
  }
  Table table({"INSTANCE", "CONFIG", "REVISION", "SOURCE", "DOWN TRUNKS", "VERSION", "GRPC", "SIP",
               "UPDATED", "NOTE"});
  for (const v1::InstanceInfo& i : resp.instances()) {
    std::vector<std::string> down;
    for (const v1::InstanceTrunkHealth& t : i.trunks()) {
      if (t.state() != v1::HEALTH_STATE_UP) {
        down.push_back(t.trunk_id() + "=" + ShortEnum(t.state()));
      }
    }
    std::vector<std::string> notes;
    if (i.self()) notes.push_back("this instance");
    if (i.config_drift()) notes.push_back("DRIFT: serves an older config");
    if (i.config_source() == "cache") notes.push_back("serving its local copy");
    table.AddRow({i.instance_id(), std::to_string(i.config_version()),
                  std::to_string(i.config_revision()), i.config_source(), absl::StrJoin(down, ","),
                  i.version(), i.grpc_address(), i.sip_address(),
                  FormatUnixMs(i.updated_at_unix_ms()), absl::StrJoin(notes, "; ")});
  }
  table.Print(env.out);
  for (const v1::TrunkDisagreement& d : resp.disagreements()) {
    env.out << "trunk " << d.trunk_id() << " is down on " << absl::StrJoin(d.down_on(), ",")
            << " but up on " << absl::StrJoin(d.up_on(), ",")
            << " (a path from those instances, or the carrier's side towards them)\n";
  }
  return kExitOk;
}

}  // namespace

void AddClusterCommands(std::vector<Command>* commands) {
  commands->push_back(
      {{"cluster", "status"},
       "",
       "list the instances sharing this config (etcd mode): config drift, trunks they disagree on",
       "Each instance registers itself in etcd under a lease: one killed disappears within the\n"
       "lease TTL (about 10 s). DRIFT marks an instance serving an older config revision than\n"
       "etcd holds. A trunk that is down on some instances and up on others is listed below\n"
       "the table.",
       {},
       0,
       0,
       ClusterStatus});
}

}  // namespace trunkroute::cli
