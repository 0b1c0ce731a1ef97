#ifndef TRUNKROUTE_CLUSTER_ETCD_CLIENT_H_
#define TRUNKROUTE_CLUSTER_ETCD_CLIENT_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "etcd/etcdserver/etcdserverpb/rpc.grpc.pb.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"

namespace trunkroute::cluster {

// How to reach etcd (the --etcd-* flags). The password comes from the environment
// (TRUNKROUTE_ETCD_PASSWORD), is sent only in etcd's Authenticate RPC and is never logged.
struct EtcdOptions {
  // "http://host:port" or "https://host:port", one per member; all with the same scheme.
  std::vector<std::string> endpoints;
  // https: the CA bundle that signed the members' certificates (empty: the system's roots), and
  // an optional client certificate and key (etcd's --client-cert-auth).
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  // etcd auth (--auth on the cluster): user name; empty: no auth.
  std::string user;
  std::string password;
  // Deadline of each unary request to one member.
  std::chrono::milliseconds request_timeout{2000};
};

// Splits and checks --etcd-endpoints ("http://127.0.0.1:2379,http://127.0.0.1:22379").
// InvalidArgument naming the flag and the bad entry.
absl::StatusOr<std::vector<std::string>> ParseEtcdEndpoints(const std::string& flag_value);

// One key as etcd holds it.
struct KeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t lease = 0;
};

// A compare-and-swap's answer.
struct CasResult {
  bool succeeded = false;
  // succeeded: the revision of the write. Not succeeded: the store's revision at the time.
  int64_t revision = 0;
  // Not succeeded: the key as it is now (nullopt when absent).
  std::optional<KeyValue> current;
};

// A thin etcd v3 client over the stubs generated from etcd's own protos: KV, Watch, Lease and
// Auth, which is all trunkroute needs.
//
// Members: one gRPC channel per endpoint. A request goes to the member that answered last; when
// that member is unreachable, or answers that it has no leader, the next member is tried, so a
// killed member or a leader election costs one retry, not an error. Unary requests carry
// `request_timeout`; nothing waits for a member to come up (wait_for_ready is off), so an
// unreachable cluster is an Unavailable error within that deadline.
//
// Auth: with a user, each member's token (etcd's simple tokens are per member) is fetched with
// Authenticate on first use and again when the member says it is no longer valid.
//
// Thread-safe.
class EtcdClient {
 public:
  // Checks the options and reads the TLS files; connects lazily. InvalidArgument /
  // FailedPrecondition naming the flag.
  static absl::StatusOr<std::unique_ptr<EtcdClient>> Create(const EtcdOptions& options);

  // The key, or nullopt when absent. `header_revision`: the store's revision of the answer.
  absl::StatusOr<std::optional<KeyValue>> Get(const std::string& key,
                                              int64_t* header_revision = nullptr);
  // Every key under `prefix`, in key order.
  absl::StatusOr<std::vector<KeyValue>> GetPrefix(const std::string& prefix,
                                                  int64_t* header_revision = nullptr);
  // Puts `value` at `key` iff the key's mod_revision is `expected_mod_revision` (0: iff the key
  // does not exist). `lease` 0: no lease.
  absl::StatusOr<CasResult> CompareAndPut(const std::string& key, const std::string& value,
                                          int64_t expected_mod_revision, int64_t lease = 0);
  // Unconditional put; returns the write's revision.
  absl::StatusOr<int64_t> Put(const std::string& key, const std::string& value, int64_t lease = 0);
  absl::Status Delete(const std::string& key);

  // A lease of `ttl_seconds`; returns its id.
  absl::StatusOr<int64_t> GrantLease(int64_t ttl_seconds);
  // Revokes the lease (its keys are deleted at once). Best effort at shutdown.
  absl::Status RevokeLease(int64_t lease);

  // Renews the lease once; returns its remaining TTL in seconds (≤ 0: it has expired, and its
  // keys are gone). One short stream per renewal, under the request deadline, so that a member
  // that stops answering costs one deadline, then the next member is asked.
  absl::StatusOr<int64_t> KeepAliveOnce(int64_t lease);

  // A watch on one member. Cancel() from another thread ends a blocking Read.
  class WatchStream {
   public:
    virtual ~WatchStream() = default;
    // Blocks for the next response; false when the stream ended (then Finish() says why).
    virtual bool Read(etcdserverpb::WatchResponse* response) = 0;
    virtual absl::Status Finish() = 0;
    virtual void Cancel() = 0;
  };
  // Watches [key, range_end) from `start_revision` (0: from now). range_end empty: the key only.
  absl::StatusOr<std::unique_ptr<WatchStream>> Watch(const std::string& key,
                                                     const std::string& range_end,
                                                     int64_t start_revision);

  // Compacts the store's history up to `revision` (tests and benchmarks).
  absl::Status Compact(int64_t revision);

  // "etcd http://127.0.0.1:2379,http://127.0.0.1:22379", for logs and errors.
  std::string Describe() const;

  // The range_end that makes [prefix, range_end) every key starting with `prefix`.
  static std::string PrefixEnd(const std::string& prefix);

 private:
  struct Member {
    std::string endpoint;
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<etcdserverpb::KV::Stub> kv;
    std::unique_ptr<etcdserverpb::Watch::Stub> watch;
    std::unique_ptr<etcdserverpb::Lease::Stub> lease;
    std::unique_ptr<etcdserverpb::Auth::Stub> auth;
  };

  explicit EtcdClient(EtcdOptions options);

  // Runs `call` on the preferred member and, when it fails in a way another member may not
  // (unreachable, no leader, leader changed), on the others in turn. `call` fills the context's
  // metadata through PrepareContext.
  template <typename Call>
  grpc::Status OnAnyMember(const char* what, Call call);
  // Deadline and auth token for one request to member `index`. Fails when the member cannot
  // authenticate us.
  grpc::Status PrepareContext(size_t index, grpc::ClientContext* context, bool deadline);
  void ForgetToken(size_t index);
  absl::Status ToStatus(const grpc::Status& status, const char* what) const;

  const EtcdOptions options_;
  std::vector<Member> members_;
  std::atomic<size_t> preferred_{0};
  std::atomic<bool> warned_auth_off_{false};
  absl::Mutex token_mu_;
  std::vector<std::string> tokens_ ABSL_GUARDED_BY(token_mu_);  // per member; empty: none yet
};

}  // namespace trunkroute::cluster

#endif  // TRUNKROUTE_CLUSTER_ETCD_CLIENT_H_
