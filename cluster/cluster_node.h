#ifndef TRUNKROUTE_CLUSTER_CLUSTER_NODE_H_
#define TRUNKROUTE_CLUSTER_CLUSTER_NODE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "cluster/cluster_follower.h"
#include "cluster/cluster_observer.h"
#include "cluster/etcd_client.h"
#include "cluster/etcd_config_store.h"
#include "cluster/membership.h"
#include "common/clock.h"
#include "config/config_manager.h"
#include "config/file_config_store.h"
#include "server/cluster_service.h"
#include "trunkroute/v1/admin.pb.h"

namespace trunkroute::cluster {

// The clustered mode's settings (the --etcd-* and --instance-id flags).
struct ClusterOptions {
  EtcdOptions etcd;
  std::string prefix = "/trunkroute/default";
  std::string instance_id;
  int64_t lease_ttl_seconds = 10;
};

// One instance of a trunkroute cluster (design.md §7): the config lives in etcd, this instance
// serves a copy of it, follows every change, keeps a durable local cache of the last config it
// applied, and registers itself under a lease. etcd is never on the call path: calls and
// RouteCall read the serving routing table only; while etcd is away the instance keeps serving,
// config writes fail Unavailable, and it catches up by itself when etcd is back.
//
// Order: Create → LoadInitial (the config to build the ConfigManager with) → Start (follow,
// register, cache every new config) → Stop.
class ClusterNode final : public server::ClusterStatusSource {
 public:
  // `cache` (in --data-dir, mode 0600) and `observer` (optional) must outlive the node.
  static absl::StatusOr<std::unique_ptr<ClusterNode>> Create(ClusterOptions options,
                                                             config::FileConfigStore* cache,
                                                             Clock* clock,
                                                             ClusterObserver* observer);
  ~ClusterNode() override;  // Stop()

  struct Initial {
    config::StoredConfig stored;
    std::string source;   // "etcd" or "cache"
    bool seeded = false;  // this instance seeded the empty prefix
    // Why the cache serves (etcd unreachable, or its config refused); empty when from etcd.
    std::string cache_reason;
  };
  // etcd's config (an empty prefix is seeded, create-if-absent, with the local cache when there
  // is one, else `seed()`); or, when etcd cannot be read or its config is refused, the cache.
  // FailedPrecondition naming both when neither can be had (first start with etcd down),
  // InvalidArgument when the seed itself is invalid.
  absl::StatusOr<Initial> LoadInitial(const std::function<absl::StatusOr<v1::Config>()>& seed);

  // The store ConfigManager writes through.
  config::ConfigStore* store() { return &store_; }

  // Starts following etcd (from the revision LoadInitial read, or from scratch when the cache
  // serves), keeps the cache in step with every config that serves, and registers this
  // instance. `snapshot` builds its record; `on_peer_ejection` is the probe hint.
  void Start(config::ConfigManager* manager, std::function<v1::InstanceInfo()> snapshot,
             std::function<void(const std::string& trunk_id)> on_peer_ejection);
  // Leaves the cluster (revokes the lease: the record disappears at once) and stops following.
  void Stop();

  // The instance record should be written again (a trunk's state changed). Any thread.
  void RecordChanged();

  // server::ClusterStatusSource: etcd's records, or the follower's last view while etcd is away.
  absl::StatusOr<v1::ListInstancesResponse> ListInstances() override;
  // The config source and cluster fields of GetServerInfo.
  void FillServerInfo(v1::GetServerInfoResponse* info) const;

  // "etcd" or "cache".
  std::string config_source() const;
  bool etcd_reachable() const;
  const std::string& instance_id() const { return options_.instance_id; }

 private:
  ClusterNode(ClusterOptions options, std::unique_ptr<EtcdClient> client,
              config::FileConfigStore* cache, Clock* clock, ClusterObserver* observer);
  void SetSource(const char* source);

  const ClusterOptions options_;
  const std::unique_ptr<EtcdClient> client_;
  EtcdConfigStore store_;
  config::FileConfigStore* const cache_;
  Clock* const clock_;
  ClusterObserver* const observer_;
  config::ConfigManager* manager_ = nullptr;
  int64_t watch_from_ = 0;
  std::atomic<const char*> source_{"etcd"};
  std::unique_ptr<ClusterFollower> follower_;
  std::unique_ptr<Membership> membership_;
};

}  // namespace trunkroute::cluster

#endif  // TRUNKROUTE_CLUSTER_CLUSTER_NODE_H_
