#include "daemon/daemon.h"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "cluster/cluster_node.h"
#include "common/heap_trim.h"
#include "common/log.h"
#include "common/random.h"
#include "config/config_store.h"
#include "config/default_config.h"
#include "config/file_config_store.h"
#include "daemon/api_security.h"
#include "daemon/metrics_bridge.h"
#include "health/state_file.h"
#include "http/http_server.h"
#include "http/routing_core_backend.h"
#include "metrics/health_metrics_observer.h"
#include "metrics/trunkroute_metrics.h"
#include "server/admin_service.h"
#include "server/cluster_service.h"
#include "server/grpc_server.h"
#include "sip/edge.h"
#include "sip/probe_forwarder.h"

namespace trunkroute::daemon {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path, const char* what) {
  std::ifstream in(path);
  if (!in) {
    return absl::FailedPreconditionError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
  }
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The config an empty store is seeded with: --bootstrap-config, else the embedded default.
absl::StatusOr<v1::Config> SeedConfig(const DaemonOptions& options) {
  if (options.bootstrap_config.empty()) {
    return config::ParseConfigJson(std::string(config::DefaultConfigJson()), "embedded default");
  }
  auto text = ReadFile(options.bootstrap_config, "--bootstrap-config");
  if (!text.ok()) return text.status();
  return config::ParseConfigJson(*text, options.bootstrap_config);
}

// Tells the cluster node that this instance's record changed when a trunk's state does.
class RecordChangedObserver final : public health::HealthObserver {
 public:
  explicit RecordChangedObserver(cluster::ClusterNode* node) : node_(node) {}
  void OnStateChange(const health::HealthEvent&) override { node_->RecordChanged(); }

 private:
  cluster::ClusterNode* const node_;
};

}  // namespace

// The parts, declared in construction order: members are destroyed in the reverse order, after
// Stop() has stopped the ones with threads in the order that keeps calls clean.
class Parts {
 public:
  Parts(const DaemonOptions& options, Clock* clock)
      : options(options), clock(clock), started_at_unix_ms(clock->WallUnixMs()) {}

  absl::Status Start();
  void Stop();

  const DaemonOptions options;
  Clock* const clock;
  const int64_t started_at_unix_ms;
  std::unique_ptr<metrics::TrunkrouteMetrics> metrics;
  std::unique_ptr<MetricsBridge> metrics_bridge;
  // The config file (file store), or etcd's local copy (etcd mode); it holds the data dir lock.
  std::unique_ptr<config::FileConfigStore> store;
  std::unique_ptr<cluster::ClusterNode> cluster;  // etcd mode only
  std::string config_source;
  std::unique_ptr<config::ConfigManager> manager;
  DefaultRandomSource random;
  // Breaks the tracker ↔ edge cycle: forwarder → tracker → edge → forwarder points at the edge.
  sip::ProbeForwarder probe_forwarder;
  std::unique_ptr<health::HealthTracker> tracker;
  std::shared_ptr<metrics::HealthMetricsObserver> health_observer;
  std::unique_ptr<sip::SipEdge> edge;
  std::unique_ptr<HeapTrimmer> heap_trimmer;  // with the edge: reads its calls in flight
  std::unique_ptr<health::HealthTimerThread> timer;
  std::unique_ptr<health::HealthStateWriterThread> health_writer;
  std::unique_ptr<ApiSecurity> api_security;
  std::unique_ptr<server::AdminServiceImpl> admin_service;
  std::unique_ptr<server::ClusterStatusSource> local_cluster_status;  // file mode
  std::unique_ptr<server::ClusterServiceImpl> cluster_service;
  std::unique_ptr<server::GrpcServer> grpc_server;
  std::unique_ptr<http::RoutingCoreBackend> http_backend;
  std::unique_ptr<http::HttpServer> http_server;
  std::shared_ptr<health::HealthObserver> record_observer;  // etcd mode
  bool stopped = false;

 private:
  absl::Status StartMetrics();
  absl::Status StartConfig();
  absl::Status StartFileConfig(const std::string& seed_source);
  absl::Status StartClusterConfig(const std::string& seed_source);
  absl::Status StartHealthAndEdge();
  // --health-state-file, its default, or "" with --no-health-state.
  std::string HealthStatePath() const;
  absl::Status StartApiSecurity();
  absl::Status StartApis();
  void StartCluster();
  void OnTable(const std::shared_ptr<const router::RoutingTable>& table);

 public:
  // This instance as ClusterService and the etcd record show it.
  v1::InstanceInfo InstanceRecord() const;
};

namespace {

// ClusterService without etcd: this instance alone.
class LocalClusterStatus final : public server::ClusterStatusSource {
 public:
  explicit LocalClusterStatus(const Parts* parts) : parts_(parts) {}
  absl::StatusOr<v1::ListInstancesResponse> ListInstances() override;

 private:
  const Parts* const parts_;
};

}  // namespace

absl::StatusOr<v1::ListInstancesResponse> LocalClusterStatus::ListInstances() {
  v1::InstanceInfo self = parts_->InstanceRecord();
  const std::string id = self.instance_id();
  return server::SummarizeCluster({std::move(self)}, id, 0, 0, /*clustered=*/false,
                                  /*etcd_reachable=*/false);
}

absl::Status Parts::StartMetrics() {
  auto created = metrics::TrunkrouteMetrics::Create(options.version);
  if (!created.ok()) return created.status();
  metrics = *std::move(created);
  metrics_bridge = std::make_unique<MetricsBridge>(metrics.get());
  return absl::OkStatus();
}

absl::Status Parts::StartConfig() {
  const std::string seed_source = options.bootstrap_config.empty()
                                      ? "embedded default (deploy/trunkroute.example.json)"
                                      : options.bootstrap_config;
  absl::Status st = options.etcd_endpoints.empty() ? StartFileConfig(seed_source)
                                                   : StartClusterConfig(seed_source);
  if (!st.ok()) return st;
  return absl::OkStatus();
}

absl::Status Parts::StartFileConfig(const std::string& seed_source) {
  auto opened = config::FileConfigStore::Open(options.data_dir);
  if (!opened.ok()) return opened.status();
  store = *std::move(opened);
  bool seed_read = false;
  auto loaded = config::LoadOrSeed(*store, clock->WallUnixMs(), [&] {
    seed_read = true;
    return SeedConfig(options);
  });
  if (!loaded.ok()) {
    if (seed_read && absl::IsInvalidArgument(loaded.status())) {
      return absl::InvalidArgumentError(
          absl::StrCat("config from ", seed_source, " is invalid:\n", loaded.status().message()));
    }
    return loaded.status();
  }
  config_source = loaded->seeded ? seed_source : store->Describe();
  auto created = config::ConfigManager::Create(store.get(), clock, loaded->stored.config,
                                               loaded->stored.revision);
  if (!created.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("config from ", config_source, " is invalid:\n", created.status().message()));
  }
  manager = *std::move(created);
  return absl::OkStatus();
}

absl::Status Parts::StartClusterConfig(const std::string& seed_source) {
  // The data directory keeps the last config applied, so that a start while etcd is away
  // serves it; its lock keeps a second instance off the same directory.
  auto opened = config::FileConfigStore::Open(options.data_dir, "etcd-cache.json");
  if (!opened.ok()) return opened.status();
  store = *std::move(opened);
  cluster::ClusterOptions cluster_options;
  cluster_options.etcd.endpoints = options.etcd_endpoints;
  cluster_options.etcd.ca_file = options.etcd_ca_file;
  cluster_options.etcd.cert_file = options.etcd_cert_file;
  cluster_options.etcd.key_file = options.etcd_key_file;
  cluster_options.etcd.user = options.etcd_user;
  cluster_options.etcd.password = options.etcd_password;
  cluster_options.prefix = options.etcd_prefix;
  cluster_options.instance_id = options.instance_id;
  cluster_options.lease_ttl_seconds = options.etcd_lease_ttl_seconds;
  auto node = cluster::ClusterNode::Create(std::move(cluster_options), store.get(), clock,
                                           metrics_bridge.get());
  if (!node.ok()) return node.status();
  cluster = *std::move(node);
  bool seed_read = false;
  auto initial = cluster->LoadInitial([&] {
    seed_read = true;
    return SeedConfig(options);
  });
  if (!initial.ok()) {
    if (seed_read && absl::IsInvalidArgument(initial.status())) {
      return absl::InvalidArgumentError(
          absl::StrCat("config from ", seed_source, " is invalid:\n", initial.status().message()));
    }
    return initial.status();
  }
  config_source = initial->source == "cache"
                      ? absl::StrCat("local copy ", store->path(), " (", initial->cache_reason, ")")
                      : absl::StrCat(cluster->store()->Describe(),
                                     initial->seeded ? absl::StrCat(", seeded from ", seed_source)
                                                     : std::string());
  auto created = config::ConfigManager::Create(cluster->store(), clock, initial->stored.config,
                                               initial->stored.revision);
  if (!created.ok()) return created.status();  // LoadInitial only returns configs that serve
  manager = *std::move(created);
  return absl::OkStatus();
}

std::string Parts::HealthStatePath() const {
  if (!options.health_state) return std::string();
  if (!options.health_state_file.empty()) return options.health_state_file;
  return absl::StrCat(options.data_dir, "/", health::kHealthStateFileName);
}

absl::Status Parts::StartHealthAndEdge() {
  tracker = std::make_unique<health::HealthTracker>(
      clock, &random, options.sip_enabled ? &probe_forwarder : nullptr);
  const std::string health_state_path = HealthStatePath();
  if (!health_state_path.empty()) {
    // Used by the first ApplyTable below: no decision sees the trunks before they are restored.
    if (auto saved = health::LoadHealthState(health_state_path)) {
      tracker->SetRestoreState(*std::move(saved));
    }
  }
  health_observer = std::make_shared<metrics::HealthMetricsObserver>(metrics.get());
  {
    std::vector<v1::TrunkHealth> snapshot;
    tracker->AddObserver(health_observer, &snapshot);
    health_observer->SyncTrunks(snapshot);
  }
  if (options.sip_enabled) {
    sip::EdgeOptions edge_options;
    edge_options.listen = options.sip_listen;
    edge_options.tls_listen = options.sip_tls_listen;
    edge_options.tls_cert_dir = options.sip_tls_cert_dir;
    edge_options.tls_verify_trunks = options.sip_tls_verify_trunks;
    edge_options.tls_verify_clients = options.sip_tls_verify_clients;
    edge_options.advertised_address = options.sip_advertised_address;
    edge_options.dns_server = options.sip_dns_server;
    edge_options.short_timer_d = options.sip_short_timer_d;
    edge_options.workers = options.sip_workers;
    edge_options.worker_port_base = options.sip_worker_port_base;
    edge_options.observer = metrics_bridge.get();
    auto started = sip::SipEdge::Start(edge_options, manager.get(), tracker.get(), clock);
    if (!started.ok()) return started.status();
    edge = *std::move(started);
    probe_forwarder.SetTarget(edge.get());
    // Idle again after load: the heap's free memory goes back to the system (common/heap_trim.h).
    heap_trimmer = std::make_unique<HeapTrimmer>(
        HeapTrimOptions{},
        [e = edge.get()] { return e->counters().active_calls.load(std::memory_order_relaxed) > 0; },
        clock);
    heap_trimmer->Start();
  }
  OnTable(manager->Current());
  // The timer thread is the only caller of Tick, hence of probes: it starts once the edge can
  // carry them.
  timer = std::make_unique<health::HealthTimerThread>(tracker.get());
  if (!health_state_path.empty()) {
    health::HealthStateWriterOptions writer_options;
    writer_options.path = health_state_path;
    metrics::TrunkrouteMetrics* m = metrics.get();
    writer_options.on_write_failure = [m] {
      m->health_state_write_failures->WithLabels({})->Inc();
    };
    health_writer =
        std::make_unique<health::HealthStateWriterThread>(tracker.get(), std::move(writer_options));
  }
  manager->AddListener([this](const std::shared_ptr<const router::RoutingTable>& table) {
    OnTable(table);
    timer->Wake();
  });
  return absl::OkStatus();
}

void Parts::OnTable(const std::shared_ptr<const router::RoutingTable>& table) {
  tracker->ApplyTable(*table);
  // The tracker announces no event for a deleted trunk; re-sync so its series disappear.
  health_observer->SyncTrunks(tracker->List());
  metrics->SetConfigApplied(table->config());
}

// Tokens, TLS and the authorizer both API faces share (daemon/api_security.h).
absl::Status Parts::StartApiSecurity() {
  ApiSecurityOptions security;
  security.tls_cert_file = options.api_tls_cert;
  security.tls_key_file = options.api_tls_key;
  security.tls_client_ca_file = options.api_tls_client_ca;
  security.tokens_file = options.api_tokens_file;
  security.token_file = options.api_token_file;
  security.token = options.api_token;
  security.metrics_token_file = options.metrics_token_file;
  auto created = ApiSecurity::Create(security, clock, metrics.get());
  if (!created.ok()) return created.status();
  api_security = *std::move(created);
  return absl::OkStatus();
}

absl::Status Parts::StartApis() {
  if (absl::Status st = StartApiSecurity(); !st.ok()) return st;

  server::AdminServiceImpl::Info admin_info;
  admin_info.version = options.version;
  admin_info.started_at_unix_ms = clock->WallUnixMs();
  admin_info.grpc_listen = options.grpc_listen;
  admin_info.http_listen = options.http_listen;
  admin_info.sip_listen = options.sip_enabled ? options.sip_listen : std::string();
  config::ConfigManager* config_manager = manager.get();
  admin_info.config_version = [config_manager] { return config_manager->Current()->version(); };
  if (cluster) {
    cluster::ClusterNode* node = cluster.get();
    admin_info.config_status = [node](v1::GetServerInfoResponse* info) {
      node->FillServerInfo(info);
    };
  }
  admin_service = std::make_unique<server::AdminServiceImpl>(std::move(admin_info));
  admin_service->SetAuth(api_security->grpc_auth());

  server::ClusterStatusSource* cluster_status = cluster.get();
  if (cluster_status == nullptr) {
    local_cluster_status = std::make_unique<LocalClusterStatus>(this);
    cluster_status = local_cluster_status.get();
  }
  cluster_service = std::make_unique<server::ClusterServiceImpl>(cluster_status);
  cluster_service->SetAuth(api_security->grpc_auth());

  server::GrpcServer::Options grpc_options;
  grpc_options.listen_address = options.grpc_listen;
  grpc_options.routing_threads = options.grpc_threads;
  grpc_options.extra_services.push_back(admin_service.get());
  grpc_options.extra_services.push_back(cluster_service.get());
  grpc_options.decision_observer = metrics_bridge.get();
  grpc_options.rpc_observer = metrics_bridge.get();
  grpc_options.auth = api_security->grpc_auth();
  grpc_options.credentials = api_security->grpc_credentials();
  auto grpc = server::GrpcServer::Start(grpc_options, manager.get(), tracker.get());
  if (!grpc.ok()) return grpc.status();
  grpc_server = *std::move(grpc);

  http::HttpServerOptions http_options;
  if (absl::Status st = http::ParseListenAddress(options.http_listen, &http_options); !st.ok()) {
    return st;
  }
  http_options.authorizer = api_security->authorizer();
  http_options.tls = api_security->certificate();
  http_backend = std::make_unique<http::RoutingCoreBackend>(grpc_server->routing_core());
  auto http = http::HttpServer::Start(http_options, http_backend.get(), metrics.get());
  if (!http.ok()) return http.status();
  http_server = *std::move(http);
  return absl::OkStatus();
}

void Parts::StartCluster() {
  if (!cluster) return;
  // A trunk's state change is part of this instance's record (others see where it differs).
  record_observer = std::make_shared<RecordChangedObserver>(cluster.get());
  tracker->AddObserver(record_observer);
  cluster->Start(
      manager.get(), [this] { return InstanceRecord(); },
      [this](const std::string& trunk_id) {
        if (tracker->ProbeSoon(trunk_id)) timer->Wake();
      });
}

v1::InstanceInfo Parts::InstanceRecord() const {
  v1::InstanceInfo info;
  info.set_instance_id(cluster ? cluster->instance_id() : options.instance_id);
  info.set_version(options.version);
  if (grpc_server) info.set_grpc_address(grpc_server->address());
  if (http_server) info.set_http_address(http_server->address());
  if (options.sip_enabled) info.set_sip_address(options.sip_listen);
  info.set_config_version(manager->Current()->version());
  info.set_config_revision(manager->revision());
  info.set_config_source(cluster ? cluster->config_source() : "file");
  info.set_started_at_unix_ms(started_at_unix_ms);
  info.set_updated_at_unix_ms(clock->WallUnixMs());
  for (const v1::TrunkHealth& h : tracker->List()) {
    v1::InstanceTrunkHealth* t = info.add_trunks();
    t->set_trunk_id(h.trunk_id());
    t->set_state(h.state());
    t->set_reason(h.reason());
  }
  return info;
}

absl::Status Parts::Start() {
  if (absl::Status st = StartMetrics(); !st.ok()) return st;
  if (absl::Status st = StartConfig(); !st.ok()) return st;
  if (absl::Status st = StartHealthAndEdge(); !st.ok()) return st;
  if (absl::Status st = StartApis(); !st.ok()) return st;
  StartCluster();
  LogInfo(
      "trunkrouted serving",
      {{"grpc", grpc_server->address()},
       {"http", http_server->address()},
       {"sip", options.sip_enabled ? options.sip_listen : std::string("off")},
       {"sip_tls", options.sip_tls_listen.empty() ? std::string("off") : options.sip_tls_listen},
       {"api_token", api_security->authorizer()->enabled() ? "on" : "off"},
       {"api_tokens", absl::StrCat(api_security->token_count())},
       {"api_tls", api_security->tls_mode()},
       {"data_dir", options.data_dir},
       {"health_state", HealthStatePath().empty() ? std::string("off") : HealthStatePath()},
       {"config_version", absl::StrCat(manager->Current()->version())},
       {"config_source", config_source}});
  return absl::OkStatus();
}

void Parts::Stop() {
  if (stopped) return;
  stopped = true;
  // The health state as the shutdown found it, before the probes stop being answered (unanswered
  // probes would eject every trunk in the saved state).
  if (health_writer) health_writer->Stop();
  // The edge first: it ends calls in setup cleanly and stops probing; then the API faces.
  probe_forwarder.SetTarget(nullptr);
  heap_trimmer.reset();
  if (edge) edge->Stop();
  if (http_server) http_server->Stop();
  if (grpc_server) grpc_server->Shutdown(std::chrono::milliseconds(5000));
  grpc_server.reset();
  // Leaves the cluster (the record goes at once) once no RPC can write any more.
  if (cluster) cluster->Stop();
  timer.reset();
}

absl::StatusOr<std::unique_ptr<Daemon>> Daemon::Start(const DaemonOptions& options, Clock* clock) {
  auto parts = std::make_unique<Parts>(options, clock);
  if (absl::Status st = parts->Start(); !st.ok()) {
    parts->Stop();
    return st;
  }
  return std::unique_ptr<Daemon>(new Daemon(std::move(parts)));
}

Daemon::Daemon(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}

Daemon::~Daemon() { Stop(); }

void Daemon::Stop() { parts_->Stop(); }

absl::Status Daemon::Reload() {
  if (parts_->api_security == nullptr) return absl::OkStatus();
  return parts_->api_security->Reload();
}

std::string Daemon::grpc_address() const {
  return parts_->grpc_server ? parts_->grpc_server->address() : std::string();
}
std::string Daemon::http_address() const {
  return parts_->http_server ? parts_->http_server->address() : std::string();
}
config::ConfigManager* Daemon::config() { return parts_->manager.get(); }
health::HealthTracker* Daemon::health() { return parts_->tracker.get(); }

}  // namespace trunkroute::daemon
