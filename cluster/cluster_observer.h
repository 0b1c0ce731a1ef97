#ifndef TRUNKROUTE_CLUSTER_CLUSTER_OBSERVER_H_
#define TRUNKROUTE_CLUSTER_CLUSTER_OBSERVER_H_

#include <string_view>

#include "common/clock.h"

namespace trunkroute::cluster {

// Hooks for the clustered mode's metrics (trunkroute_config_source, _etcd_up,
// _config_propagation_seconds, _config_cas_conflicts_total, _config_rejected_total,
// _cluster_instances, _cluster_probe_hints_total). Called on the cluster threads and on config
// writers' threads; implementations must be quick and thread-safe.
class ClusterObserver {
 public:
  virtual ~ClusterObserver() = default;
  // The serving config's source changed: "etcd" or "cache".
  virtual void OnConfigSource(std::string_view /*source*/) {}
  // Whether this instance can reach etcd now (its watch is established or not).
  virtual void OnEtcdReachable(bool /*reachable*/) {}
  // A config written by another instance now serves here; `propagation` is from the writer's
  // apply time to ours (wall clocks: meaningful within one site's NTP accuracy).
  virtual void OnConfigFollowed(Duration /*propagation*/) {}
  // A config in etcd was refused (did not parse or validate); the previous one keeps serving.
  virtual void OnConfigRejected() {}
  // A write of ours lost its compare-and-swap to another writer (answered ABORTED).
  virtual void OnCasConflict() {}
  // Live instances registered under the prefix, this one included.
  virtual void OnInstancesSeen(int /*count*/) {}
  // Another instance ejected a trunk; this one probes it now (a hint, not an ejection).
  virtual void OnProbeHint(std::string_view /*trunk_id*/) {}
};

}  // namespace trunkroute::cluster

#endif  // TRUNKROUTE_CLUSTER_CLUSTER_OBSERVER_H_
