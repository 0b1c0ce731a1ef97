#include "server/cluster_service.h"

#include <algorithm>
#include <map>
#include <utility>

#include "server/status_util.h"

namespace trunkroute::server {

v1::ListInstancesResponse SummarizeCluster(std::vector<v1::InstanceInfo> instances,
                                           const std::string& self_id, uint64_t newest_revision,
                                           uint64_t newest_version, bool clustered,
                                           bool etcd_reachable) {
  std::sort(instances.begin(), instances.end(),
            [](const v1::InstanceInfo& a, const v1::InstanceInfo& b) {
              return a.instance_id() < b.instance_id();
            });
  v1::ListInstancesResponse out;
  out.set_clustered(clustered);
  out.set_etcd_reachable(etcd_reachable);
  out.set_newest_config_revision(newest_revision);
  out.set_newest_config_version(newest_version);
  // trunk id → (instances seeing it down, instances seeing it up); std::map: sorted output.
  std::map<std::string, std::pair<std::vector<std::string>, std::vector<std::string>>> views;
  for (v1::InstanceInfo& info : instances) {
    info.set_self(info.instance_id() == self_id);
    info.set_config_drift(newest_revision != 0 && info.config_revision() < newest_revision);
    for (const v1::InstanceTrunkHealth& t : info.trunks()) {
      auto& [down, up] = views[t.trunk_id()];
      if (t.state() == v1::HEALTH_STATE_DOWN || t.state() == v1::HEALTH_STATE_PROBING) {
        down.push_back(info.instance_id());
      } else if (t.state() == v1::HEALTH_STATE_UP) {
        up.push_back(info.instance_id());
      }
    }
    *out.add_instances() = std::move(info);
  }
  for (auto& [trunk, view] : views) {
    if (view.first.empty() || view.second.empty()) continue;
    v1::TrunkDisagreement* d = out.add_disagreements();
    d->set_trunk_id(trunk);
    for (const std::string& id : view.first) d->add_down_on(id);
    for (const std::string& id : view.second) d->add_up_on(id);
  }
  return out;
}

grpc::Status ClusterServiceImpl::ListInstances(grpc::ServerContext* context,
                                               const v1::ListInstancesRequest* /*request*/,
                                               v1::ListInstancesResponse* response) {
  if (grpc::Status denied = Authorize(auth_, context); !denied.ok()) return denied;
  auto answer = source_->ListInstances();
  if (!answer.ok()) return ToGrpcStatus(answer.status());
  *response = *std::move(answer);
  return grpc::Status::OK;
}

}  // namespace trunkroute::server
