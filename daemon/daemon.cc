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
#include "common/log.h"
#include "common/random.h"
#include "config/config_store.h"
#include "config/default_config.h"
#include "config/file_config_store.h"
#include "daemon/metrics_bridge.h"
#include "http/http_server.h"
#include "http/routing_core_backend.h"
#include "metrics/health_metrics_observer.h"
#include "metrics/trunkroute_metrics.h"
#include "server/admin_service.h"
#include "server/auth.h"
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

// The API's bearer token: the first line of --api-token-file, else TRUNKROUTE_API_TOKEN, else none.
absl::StatusOr<std::string> LoadApiToken(const DaemonOptions& options) {
  std::string token = options.api_token;
  if (!options.api_token_file.empty()) {
    auto text = ReadFile(options.api_token_file, "--api-token-file");
    if (!text.ok()) return text.status();
    token = text->substr(0, text->find('\n'));
  }
  while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) token.pop_back();
  return token;
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

}  // namespace

// The parts, declared in construction order: members are destroyed in the reverse order, after
// Stop() has stopped the ones with threads in the order that keeps calls clean.
class Parts {
 public:
  Parts(const DaemonOptions& options, Clock* clock) : options(options), clock(clock) {}

  absl::Status Start();
  void Stop();

  const DaemonOptions options;
  Clock* const clock;
  std::unique_ptr<config::FileConfigStore> store;
  std::string config_source;
  std::unique_ptr<config::ConfigManager> manager;
  std::unique_ptr<metrics::TrunkrouteMetrics> metrics;
  DefaultRandomSource random;
  // Breaks the tracker ↔ edge cycle: forwarder → tracker → edge → forwarder points at the edge.
  sip::ProbeForwarder probe_forwarder;
  std::unique_ptr<health::HealthTracker> tracker;
  std::shared_ptr<metrics::HealthMetricsObserver> health_observer;
  std::unique_ptr<MetricsBridge> metrics_bridge;
  std::unique_ptr<sip::SipEdge> edge;
  std::unique_ptr<health::HealthTimerThread> timer;
  std::unique_ptr<server::BearerTokenAuth> auth;
  std::unique_ptr<server::AdminServiceImpl> admin_service;
  std::unique_ptr<server::GrpcServer> grpc_server;
  std::unique_ptr<http::RoutingCoreBackend> http_backend;
  std::unique_ptr<http::HttpServer> http_server;
  bool stopped = false;

 private:
  absl::Status StartConfig();
  absl::Status StartHealthAndEdge();
  absl::Status StartApis();
  void OnTable(const std::shared_ptr<const router::RoutingTable>& table);
};

absl::Status Parts::StartConfig() {
  auto opened = config::FileConfigStore::Open(options.data_dir);
  if (!opened.ok()) return opened.status();
  store = *std::move(opened);
  const std::string seed_source = options.bootstrap_config.empty()
                                      ? "embedded default (deploy/trunkroute.example.json)"
                                      : options.bootstrap_config;
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

absl::Status Parts::StartHealthAndEdge() {
  auto created = metrics::TrunkrouteMetrics::Create(options.version);
  if (!created.ok()) return created.status();
  metrics = *std::move(created);
  tracker = std::make_unique<health::HealthTracker>(
      clock, &random, options.sip_enabled ? &probe_forwarder : nullptr);
  health_observer = std::make_shared<metrics::HealthMetricsObserver>(metrics.get());
  metrics_bridge = std::make_unique<MetricsBridge>(metrics.get());
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
    edge_options.tls_verify_peer = options.sip_tls_verify_peer;
    edge_options.advertised_address = options.sip_advertised_address;
    edge_options.observer = metrics_bridge.get();
    auto started = sip::SipEdge::Start(edge_options, manager.get(), tracker.get(), clock);
    if (!started.ok()) return started.status();
    edge = *std::move(started);
    probe_forwarder.SetTarget(edge.get());
  }
  OnTable(manager->Current());
  // The timer thread is the only caller of Tick, hence of probes: it starts once the edge can
  // carry them.
  timer = std::make_unique<health::HealthTimerThread>(tracker.get());
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
  metrics->SetConfigApplied(table->version(), clock->WallUnixMs());
}

absl::Status Parts::StartApis() {
  // One token guards the gRPC API (trunkroute.v1; not grpc.health.v1 or reflection) and the
  // HTTP /v1/ API alike.
  auto token = LoadApiToken(options);
  if (!token.ok()) return token.status();
  auth = std::make_unique<server::BearerTokenAuth>(*token);

  server::AdminServiceImpl::Info admin_info;
  admin_info.version = options.version;
  admin_info.started_at_unix_ms = clock->WallUnixMs();
  admin_info.grpc_listen = options.grpc_listen;
  admin_info.http_listen = options.http_listen;
  admin_info.sip_listen = options.sip_enabled ? options.sip_listen : std::string();
  config::ConfigManager* config_manager = manager.get();
  admin_info.config_version = [config_manager] { return config_manager->Current()->version(); };
  admin_service = std::make_unique<server::AdminServiceImpl>(std::move(admin_info));
  admin_service->SetAuth(auth.get());

  server::GrpcServer::Options grpc_options;
  grpc_options.listen_address = options.grpc_listen;
  grpc_options.extra_services.push_back(admin_service.get());
  grpc_options.decision_observer = metrics_bridge.get();
  grpc_options.rpc_observer = metrics_bridge.get();
  grpc_options.auth = auth.get();
  auto grpc = server::GrpcServer::Start(grpc_options, manager.get(), tracker.get());
  if (!grpc.ok()) return grpc.status();
  grpc_server = *std::move(grpc);

  http::HttpServerOptions http_options;
  if (absl::Status st = http::ParseListenAddress(options.http_listen, &http_options); !st.ok()) {
    return st;
  }
  http_options.bearer_token = *token;
  http_backend = std::make_unique<http::RoutingCoreBackend>(grpc_server->routing_core());
  auto http = http::HttpServer::Start(http_options, http_backend.get(), metrics.get());
  if (!http.ok()) return http.status();
  http_server = *std::move(http);
  return absl::OkStatus();
}

absl::Status Parts::Start() {
  if (absl::Status st = StartConfig(); !st.ok()) return st;
  if (absl::Status st = StartHealthAndEdge(); !st.ok()) return st;
  if (absl::Status st = StartApis(); !st.ok()) return st;
  LogInfo(
      "trunkrouted serving",
      {{"grpc", grpc_server->address()},
       {"http", http_server->address()},
       {"sip", options.sip_enabled ? options.sip_listen : std::string("off")},
       {"sip_tls", options.sip_tls_listen.empty() ? std::string("off") : options.sip_tls_listen},
       {"api_token", auth->enabled() ? "on" : "off"},
       {"data_dir", options.data_dir},
       {"config_version", absl::StrCat(manager->Current()->version())},
       {"config_source", config_source}});
  return absl::OkStatus();
}

void Parts::Stop() {
  if (stopped) return;
  stopped = true;
  // The edge first: it ends calls in setup cleanly and stops probing; then the API faces.
  probe_forwarder.SetTarget(nullptr);
  if (edge) edge->Stop();
  if (http_server) http_server->Stop();
  if (grpc_server) grpc_server->Shutdown(std::chrono::milliseconds(5000));
  grpc_server.reset();
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

std::string Daemon::grpc_address() const {
  return parts_->grpc_server ? parts_->grpc_server->address() : std::string();
}
std::string Daemon::http_address() const {
  return parts_->http_server ? parts_->http_server->address() : std::string();
}
config::ConfigManager* Daemon::config() { return parts_->manager.get(); }
health::HealthTracker* Daemon::health() { return parts_->tracker.get(); }

}  // namespace trunkroute::daemon
