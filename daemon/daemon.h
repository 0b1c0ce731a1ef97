#ifndef TRUNKROUTE_DAEMON_DAEMON_H_
#define TRUNKROUTE_DAEMON_DAEMON_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "config/config_manager.h"
#include "health/tracker.h"

namespace trunkroute::daemon {

// Everything trunkrouted is told at start-up: the command line (daemon/flags.h), plus the
// secrets that come from the environment. Defaults are the documented ones (README).
struct DaemonOptions {
  // Build version, e.g. "0.1.0" (trunkroute_build_info, GetServerInfo).
  std::string version;

  // Storage.
  std::string data_dir = "./data";
  // Config to seed an empty store with; empty: the embedded default.
  std::string bootstrap_config;
  // Warm restart (docs/health.md): where this instance keeps its health view across restarts;
  // empty: <data_dir>/health-state.json. `health_state` false: nothing saved or restored.
  std::string health_state_file;
  bool health_state = true;

  // API listeners.
  std::string grpc_listen = "127.0.0.1:50051";
  // Threads answering RouteCall/ReportCallOutcome (GrpcServer::Options::routing_threads); 0: one
  // per core.
  int grpc_threads = 0;
  std::string http_listen = "127.0.0.1:9464";
  // The bearer token for the gRPC API and the HTTP /v1/ API: read from this file at start-up…
  std::string api_token_file;
  // …or, without a file, this value (TRUNKROUTE_API_TOKEN). Empty both: the API is open.
  std::string api_token;

  // Clustered mode (docs/cluster.md): with endpoints, the config lives in etcd under the prefix
  // and --data-dir keeps a local copy; without, the embedded file store.
  std::vector<std::string> etcd_endpoints;  // checked by cluster::ParseEtcdEndpoints
  std::string etcd_prefix = "/trunkroute/default";
  std::string instance_id;  // default: the host name
  std::string etcd_ca_file;
  std::string etcd_cert_file;
  std::string etcd_key_file;
  std::string etcd_user;
  std::string etcd_password;  // TRUNKROUTE_ETCD_PASSWORD; never logged
  int64_t etcd_lease_ttl_seconds = 10;

  // API security (daemon/api_security.h): TLS on both API listeners, scoped tokens.
  std::string api_tls_cert;
  std::string api_tls_key;
  std::string api_tls_client_ca;
  std::string api_tokens_file;
  std::string metrics_token_file;

  // SIP edge.
  bool sip_enabled = true;
  std::string sip_listen = "127.0.0.1:5060";
  std::string sip_tls_listen;
  std::string sip_tls_cert_dir;
  // TLS to trunks: the trunk's certificate must verify and name the host dialled.
  bool sip_tls_verify_trunks = true;
  // TLS listener: callers must present a client certificate (mutual TLS).
  bool sip_tls_verify_clients = false;
  std::string sip_advertised_address;
  // DNS server for trunk host names ("ip:port"); empty: the system resolver.
  std::string sip_dns_server;
  // Timer D 5 s instead of Sofia's 32 s (EdgeOptions::short_timer_d).
  bool sip_short_timer_d = true;
  // SIP workers (EdgeOptions::workers, worker_port_base).
  int sip_workers = 1;
  uint32_t sip_worker_port_base = 0;
};

class Parts;

// The composition root of trunkrouted: builds every part in dependency order, starts them, and
// stops them in the reverse order. The parts themselves do not know each other beyond the
// interfaces they are given here.
//
// Start order: metrics → config store (the file, or etcd with the local cache) → config → health
// tracker (given the saved health state) → SIP edge (whose prober the tracker uses) → the first
// table, which restores the saved state → health timer (the only caller of probes, so no probe
// precedes the edge) and the health state writer → gRPC → HTTP → cluster membership and watch
// (etcd mode).
// Stop order: the health state writer flushes the state as the shutdown found it, then the SIP
// edge (calls in setup end cleanly with 503, connected calls are BYEd,
// probes stop), then HTTP, then gRPC (in-flight RPCs get a grace period), then the cluster node
// (the instance record is removed), then the rest.
class Daemon {
 public:
  // Everything is serving when this returns OK. On error, whatever was started is stopped again
  // and the status says what failed (a busy port, an unusable data directory, a corrupt or
  // invalid config…) in words an operator can act on.
  static absl::StatusOr<std::unique_ptr<Daemon>> Start(const DaemonOptions& options, Clock* clock);
  ~Daemon();  // Stop()s if still running
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Graceful, ordered shutdown; idempotent. From the thread that owns the Daemon.
  void Stop();

  // SIGHUP: re-reads the API's TLS certificate and key and its token files. What fails to load
  // keeps serving as it was (logged, counted); the first error is returned. Connections and
  // requests in flight are not disturbed. Any thread.
  absl::Status Reload();

  // As bound (port 0 resolved), e.g. "127.0.0.1:43125".
  std::string grpc_address() const;
  std::string http_address() const;

  config::ConfigManager* config();
  health::HealthTracker* health();

 private:
  explicit Daemon(std::unique_ptr<Parts> parts);
  std::unique_ptr<Parts> parts_;
};

}  // namespace trunkroute::daemon

#endif  // TRUNKROUTE_DAEMON_DAEMON_H_
