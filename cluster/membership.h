#ifndef TRUNKROUTE_CLUSTER_MEMBERSHIP_H_
#define TRUNKROUTE_CLUSTER_MEMBERSHIP_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "cluster/etcd_client.h"
#include "cluster/etcd_config_store.h"
#include "trunkroute/v1/cluster.pb.h"

namespace trunkroute::cluster {

// Keeps this instance's record, <prefix>/instances/<id>, alive under an etcd lease: granted at
// start, renewed every ttl/3, the record re-written (debounced) whenever Changed() is called,
// and both re-created when the lease was lost (etcd was away longer than the TTL). Stop()
// revokes the lease, so a stopped instance leaves at once; a killed one leaves when the lease
// expires (ttl seconds).
class Membership {
 public:
  struct Options {
    EtcdClient* client = nullptr;
    EtcdLayout layout{"/trunkroute/default"};
    std::string instance_id;
    int64_t ttl_seconds = 10;
    // How long Changed() waits for more changes before writing (a burst of health events is
    // one write).
    std::chrono::milliseconds debounce{100};
    // This instance's record as it is now. Called on the membership thread, without its lock.
    std::function<v1::InstanceInfo()> snapshot;
  };

  explicit Membership(Options options);
  ~Membership();  // Stop()
  Membership(const Membership&) = delete;
  Membership& operator=(const Membership&) = delete;

  void Start();
  // Revokes the lease (best effort, one request deadline) and joins. Idempotent.
  void Stop();
  // The record changed (config applied, a trunk's state changed): write it soon. Any thread;
  // never blocks on etcd.
  void Changed();

  const std::string& key() const { return key_; }

 private:
  void Run();
  bool WriteRecord(int64_t lease);

  const Options options_;
  const std::string key_;
  std::thread thread_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool changed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace trunkroute::cluster

#endif  // TRUNKROUTE_CLUSTER_MEMBERSHIP_H_
