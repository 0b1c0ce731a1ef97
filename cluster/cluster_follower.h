#ifndef TRUNKROUTE_CLUSTER_CLUSTER_FOLLOWER_H_
#define TRUNKROUTE_CLUSTER_CLUSTER_FOLLOWER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "cluster/cluster_observer.h"
#include "cluster/etcd_client.h"
#include "cluster/etcd_config_store.h"
#include "common/clock.h"
#include "config/config_manager.h"
#include "trunkroute/v1/cluster.pb.h"

namespace trunkroute::cluster {

// Follows everything under <prefix>/ in etcd on one thread:
// - the config key: each new revision is applied through ConfigManager::Follow (validated and
//   compiled as any write; a refused one is logged and counted, the old config keeps serving);
// - the instance records: the membership view (ListInstances falls back to it while etcd is
//   away) and, when a peer newly reports a trunk DOWN, `on_peer_ejection` (a probe hint).
//
// Never skips a change: it watches from the revision it read; after a broken stream it resumes
// from the last revision it saw; when etcd answers that this revision is compacted it reads the
// whole prefix again (and then watches from that read's revision). While etcd is unreachable it
// retries with a backoff from 100 ms to 2 s.
class ClusterFollower {
 public:
  struct Options {
    EtcdClient* client = nullptr;
    EtcdConfigStore* store = nullptr;
    config::ConfigManager* manager = nullptr;
    Clock* clock = nullptr;
    ClusterObserver* observer = nullptr;  // optional
    std::string self_id;
    // A peer's record newly shows `trunk_id` DOWN. On the follower's thread; must not block.
    std::function<void(const std::string& trunk_id, const std::string& peer)> on_peer_ejection;
    // The config now serves from etcd (after serving the cache). On the follower's thread.
    std::function<void()> on_etcd_config;
  };

  explicit ClusterFollower(Options options);
  ~ClusterFollower();  // Stop()
  ClusterFollower(const ClusterFollower&) = delete;
  ClusterFollower& operator=(const ClusterFollower&) = delete;

  // Starts the thread. `start_revision`: the etcd revision the serving config was read at (the
  // watch starts after it); 0: read the whole prefix first (the instance started from its cache).
  void Start(int64_t start_revision);
  // Ends the watch and joins. Idempotent.
  void Stop();

  // Whether the watch is established now.
  bool reachable() const { return reachable_.load(std::memory_order_acquire); }
  // The instance records as last seen, by instance id.
  std::vector<v1::InstanceInfo> Instances() const;
  // The etcd revision up to which every change has been seen.
  int64_t seen_revision() const { return seen_revision_.load(std::memory_order_acquire); }

 private:
  void Run(int64_t start_revision);
  // Reads the whole prefix and applies it; false when etcd could not be read.
  bool Resync(int64_t* revision);
  void HandleEvent(const mvccpb::Event& event);
  void ApplyConfig(const KeyValue& kv);
  void PutInstance(const KeyValue& kv);
  void DeleteInstance(const std::string& key);
  void SetReachable(bool reachable);
  // Sleeps for the backoff unless stopped; doubles it.
  void Backoff(std::chrono::milliseconds* delay);

  const Options options_;
  std::thread thread_;
  std::atomic<bool> reachable_{false};
  std::atomic<int64_t> seen_revision_{0};

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  EtcdClient::WatchStream* stream_ ABSL_GUARDED_BY(mu_) = nullptr;  // to cancel it
  std::map<std::string, v1::InstanceInfo> instances_ ABSL_GUARDED_BY(mu_);
  bool serving_etcd_config_ = false;  // follower thread only
};

}  // namespace trunkroute::cluster

#endif  // TRUNKROUTE_CLUSTER_CLUSTER_FOLLOWER_H_
