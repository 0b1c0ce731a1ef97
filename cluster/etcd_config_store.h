#ifndef TRUNKROUTE_CLUSTER_ETCD_CONFIG_STORE_H_
#define TRUNKROUTE_CLUSTER_ETCD_CONFIG_STORE_H_

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "cluster/cluster_observer.h"
#include "cluster/etcd_client.h"
#include "config/config_store.h"

namespace trunkroute::cluster {

// The etcd layout under --etcd-prefix (default /trunkroute/default):
//   <prefix>/config               the whole config, one document (protobuf JSON, as the file
//                                 store writes it, passwords included: protect etcd with auth
//                                 and TLS)
//   <prefix>/instances/<id>       one per live instance, under its lease (cluster/membership.h)
struct EtcdLayout {
  explicit EtcdLayout(std::string prefix);
  std::string prefix;         // without a trailing '/'
  std::string config_key;     // <prefix>/config
  std::string instances_dir;  // <prefix>/instances/
  std::string watch_from;     // <prefix>/ : everything trunkroute keeps here
};

// Checks --etcd-prefix: absolute, no trailing '/', no empty or dot segments.
absl::Status ValidateEtcdPrefix(const std::string& prefix);

// The config in etcd. The revision of a stored config is the key's mod_revision; Save is a
// transaction comparing it (create_revision 0 for "nothing stored yet"), so two instances that
// write from the same revision cannot both win: the loser gets Aborted and nothing is lost.
//
// Retried or ambiguous writes: when a write's answer is lost (a member died after committing
// it), the client tries another member and the compare fails on our own write. A failed compare
// whose current value is byte-for-byte the document we wrote is that case, and is success; so
// is an Unavailable answer after which a read finds our document.
class EtcdConfigStore final : public config::ConfigStore {
 public:
  // `client` (and `observer`, optional) must outlive the store.
  EtcdConfigStore(EtcdClient* client, EtcdLayout layout, ClusterObserver* observer = nullptr);

  absl::StatusOr<std::optional<config::StoredConfig>> Load() override;
  absl::StatusOr<uint64_t> Save(const v1::Config& config, uint64_t base_revision) override;
  std::string Describe() const override;

  // A value of the config key (from a read or a watch event) as a stored config. DataLoss naming
  // the key and revision when it is not a config document.
  absl::StatusOr<config::StoredConfig> Parse(const KeyValue& kv) const;

  // The etcd revision of the last Load's answer (watch from here + 1).
  int64_t last_header_revision() const { return header_revision_.load(); }
  // Compare-and-swap writes lost to another writer.
  uint64_t cas_conflicts() const { return cas_conflicts_.load(); }

  const EtcdLayout& layout() const { return layout_; }

 private:
  EtcdClient* const client_;
  const EtcdLayout layout_;
  ClusterObserver* const observer_;
  std::atomic<int64_t> header_revision_{0};
  std::atomic<uint64_t> cas_conflicts_{0};
};

}  // namespace trunkroute::cluster

#endif  // TRUNKROUTE_CLUSTER_ETCD_CONFIG_STORE_H_
