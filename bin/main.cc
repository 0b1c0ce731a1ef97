// trunkrouted: the trunkroute daemon: gRPC API, routing core, health tracker, the Sofia-SIP edge
// and the HTTP face (/metrics and the JSON API for Genesys data actions), in one process.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/random.h"
#include "config/config_manager.h"
#include "config/config_store.h"
#include "config/default_config.h"
#include "daemon/metrics_bridge.h"
#include "health/tracker.h"
#include "http/http_server.h"
#include "http/routing_core_backend.h"
#include "metrics/health_metrics_observer.h"
#include "metrics/trunkroute_metrics.h"
#include "server/admin_service.h"
#include "server/grpc_server.h"
#include "sip/edge.h"
#include "sip/probe_forwarder.h"

namespace {

using namespace trunkroute;  // NOLINT: a main file, not a header

constexpr char kUsage[] = R"(Usage: trunkrouted [flags]

Failover-aware outbound SIP routing engine.

Flags:
  --data-dir DIR            where the config is stored (config.json, mode 0600); created if
                            missing (default ./data)
  --grpc-listen ADDR        gRPC API, host:port or [v6]:port; port 0 picks a free port
                            (default 127.0.0.1:50051)
  --http-listen ADDR        /metrics and the HTTP/JSON face (default 127.0.0.1:9464)
  --sip-listen ADDR         SIP edge, UDP and TCP, ip:port (default 127.0.0.1:5060)
  --sip-tls-listen ADDR     SIP over TLS listener, e.g. 127.0.0.1:5061 (default: none; needed
                            for TLS trunks too)
  --sip-tls-cert-dir DIR    agent.pem (key + certificate chain) and cafile.pem (trusted CAs)
  --sip-tls-no-verify       do not verify TLS peers (lab only; verification is on by default)
  --sip-advertised-address HOST
                            address for Via/Contact behind NAT (default: config
                            edge.advertised_address, else the bound address)
  --no-sip                  run without the SIP edge (routing API only; no OPTIONS probes)
  --api-token-file FILE     bearer token required by the gRPC API and the HTTP /v1/ API
                            (or set TRUNKROUTE_API_TOKEN); never logged. grpc.health.v1,
                            reflection, /metrics and /healthz stay open
  --bootstrap-config FILE   config to start from when the data dir holds none yet (default: the
                            embedded deploy/trunkroute.example.json); ignored once a config is
                            stored
  --log-level LEVEL         debug, info, warn or error (default info)
  --log-json                JSON-lines logs instead of key=value
  --help                    this text

SIGTERM or SIGINT shuts down gracefully (exit 0).
)";

struct Flags {
  std::string data_dir = "./data";
  std::string grpc_listen = "127.0.0.1:50051";
  std::string http_listen = "127.0.0.1:9464";
  std::string sip_listen = "127.0.0.1:5060";
  std::string bootstrap_config;
  std::string sip_tls_listen;
  std::string sip_tls_cert_dir;
  std::string sip_advertised_address;
  std::string api_token_file;
  std::string log_level = "info";
  bool sip_tls_no_verify = false;
  bool no_sip = false;
  bool log_json = false;
  bool help = false;
};

// Accepts "--flag value" and "--flag=value". Errors name the flag.
absl::Status ParseFlags(int argc, char** argv, Flags* flags) {
  struct ValueFlag {
    std::string_view name;
    std::string* target;
  };
  const ValueFlag value_flags[] = {
      {"--data-dir", &flags->data_dir},
      {"--grpc-listen", &flags->grpc_listen},
      {"--http-listen", &flags->http_listen},
      {"--sip-listen", &flags->sip_listen},
      {"--bootstrap-config", &flags->bootstrap_config},
      {"--log-level", &flags->log_level},
      {"--sip-tls-listen", &flags->sip_tls_listen},
      {"--sip-tls-cert-dir", &flags->sip_tls_cert_dir},
      {"--sip-advertised-address", &flags->sip_advertised_address},
      {"--api-token-file", &flags->api_token_file},
  };
  struct BoolFlag {
    std::string_view name;
    bool* target;
  };
  const BoolFlag bool_flags[] = {{"--log-json", &flags->log_json},
                                 {"--no-sip", &flags->no_sip},
                                 {"--sip-tls-no-verify", &flags->sip_tls_no_verify}};
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      flags->help = true;
      continue;
    }
    bool is_bool = false;
    for (const BoolFlag& f : bool_flags) {
      if (f.name == arg) {
        *f.target = true;
        is_bool = true;
      }
    }
    if (is_bool) continue;
    std::string_view name = arg;
    std::optional<std::string_view> value;
    if (size_t eq = arg.find('='); eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    }
    const ValueFlag* match = nullptr;
    for (const ValueFlag& f : value_flags) {
      if (f.name == name) match = &f;
    }
    if (match == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag '", std::string(arg), "'"));
    }
    if (!value) {
      if (i + 1 >= argc) {
        return absl::InvalidArgumentError(absl::StrCat(std::string(name), ": missing value"));
      }
      value = argv[++i];
    }
    if (value->empty()) {
      return absl::InvalidArgumentError(absl::StrCat(std::string(name), ": empty value"));
    }
    *match->target = std::string(*value);
  }
  return absl::OkStatus();
}

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "trunkrouted: %s\n", std::string(status.message()).c_str());
  return 1;
}

// The API's bearer token: --api-token-file, else TRUNKROUTE_API_TOKEN, else none.
absl::StatusOr<std::string> LoadApiToken(const Flags& flags) {
  std::string token;
  if (!flags.api_token_file.empty()) {
    std::ifstream in(flags.api_token_file);
    if (!in) {
      return absl::FailedPreconditionError(
          absl::StrCat("--api-token-file ", flags.api_token_file, ": ", std::strerror(errno)));
    }
    std::getline(in, token);
  } else if (const char* env = std::getenv("TRUNKROUTE_API_TOKEN"); env != nullptr) {
    token = env;
  }
  while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) token.pop_back();
  return token;
}

// The config to serve: the stored one, else --bootstrap-config, else the embedded default.
struct InitialConfig {
  v1::Config config;
  bool persist = false;  // not stored yet
  std::string source;
};

absl::StatusOr<InitialConfig> LoadInitialConfig(const config::ConfigStore& store,
                                                const Flags& flags) {
  auto stored = store.Load();
  if (!stored.ok()) return stored.status();
  if (stored->has_value()) return InitialConfig{**stored, false, store.path()};
  InitialConfig initial;
  initial.persist = true;
  if (flags.bootstrap_config.empty()) {
    initial.source = "embedded default (deploy/trunkroute.example.json)";
    auto parsed =
        config::ParseConfigJson(std::string(config::DefaultConfigJson()), "embedded default");
    if (!parsed.ok()) return parsed.status();
    initial.config = *std::move(parsed);
    return initial;
  }
  std::ifstream in(flags.bootstrap_config);
  if (!in) {
    return absl::FailedPreconditionError(
        absl::StrCat("--bootstrap-config ", flags.bootstrap_config, ": ", std::strerror(errno)));
  }
  std::stringstream text;
  text << in.rdbuf();
  auto parsed = config::ParseConfigJson(text.str(), flags.bootstrap_config);
  if (!parsed.ok()) return parsed.status();
  initial.config = *std::move(parsed);
  initial.config.set_version(0);  // a fresh store starts at version 1 whatever the file says
  initial.source = flags.bootstrap_config;
  return initial;
}

int Run(const Flags& flags) {
  // Signals are taken synchronously by this thread (sigwait below); every thread started from
  // here on inherits the mask, so no gRPC or health thread is ever interrupted by them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto store = config::ConfigStore::Open(flags.data_dir);
  if (!store.ok()) return Fail(store.status());
  auto initial = LoadInitialConfig(**store, flags);
  if (!initial.ok()) return Fail(initial.status());
  RealClock* clock = RealClock::Get();
  auto manager =
      config::ConfigManager::Create(store->get(), clock, initial->config, initial->persist);
  if (!manager.ok()) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(
        "config from ", initial->source, " is invalid:\n", manager.status().message())));
  }

  auto metrics = metrics::TrunkrouteMetrics::Create(TRUNKROUTE_VERSION);
  if (!metrics.ok()) return Fail(metrics.status());

  // Construction order breaks the tracker ↔ edge cycle: forwarder → tracker → edge → forwarder
  // points at the edge → tracker learns the trunks → timer thread (the only caller of Tick, hence
  // of probes) starts. No probe is sent before the edge can carry it.
  DefaultRandomSource random;
  sip::ProbeForwarder probe_forwarder;
  health::HealthTracker tracker(clock, &random, flags.no_sip ? nullptr : &probe_forwarder);
  auto health_observer = std::make_shared<metrics::HealthMetricsObserver>(metrics->get());
  daemon::MetricsBridge metrics_bridge(metrics->get());
  {
    std::vector<v1::TrunkHealth> snapshot;
    tracker.AddObserver(health_observer, &snapshot);
    health_observer->SyncTrunks(snapshot);
  }

  std::unique_ptr<sip::SipEdge> edge;
  if (!flags.no_sip) {
    sip::EdgeOptions edge_options;
    edge_options.listen = flags.sip_listen;
    edge_options.tls_listen = flags.sip_tls_listen;
    edge_options.tls_cert_dir = flags.sip_tls_cert_dir;
    edge_options.tls_verify_peer = !flags.sip_tls_no_verify;
    edge_options.advertised_address = flags.sip_advertised_address;
    edge_options.observer = &metrics_bridge;
    auto started = sip::SipEdge::Start(edge_options, manager->get(), &tracker, clock);
    if (!started.ok()) return Fail(started.status());
    edge = *std::move(started);
    probe_forwarder.SetTarget(edge.get());
  }

  auto apply_table = [&tracker, &health_observer, &metrics,
                      clock](const std::shared_ptr<const router::RoutingTable>& table) {
    tracker.ApplyTable(*table);
    // The tracker announces no event for a deleted trunk; re-sync so its series disappear.
    health_observer->SyncTrunks(tracker.List());
    (*metrics)->SetConfigApplied(table->version(), clock->WallUnixMs());
  };
  apply_table((*manager)->Current());
  health::HealthTimerThread timer(&tracker);
  (*manager)->AddListener(
      [&apply_table, &timer](const std::shared_ptr<const router::RoutingTable>& t) {
        apply_table(t);
        timer.Wake();
      });

  server::AdminServiceImpl::Info admin_info;
  admin_info.version = TRUNKROUTE_VERSION;
  admin_info.started_at_unix_ms = clock->WallUnixMs();
  admin_info.grpc_listen = flags.grpc_listen;
  admin_info.http_listen = flags.http_listen;
  admin_info.sip_listen = flags.sip_listen;
  config::ConfigManager* config_manager = manager->get();
  admin_info.config_version = [config_manager] { return config_manager->Current()->version(); };
  server::AdminServiceImpl admin_service(std::move(admin_info));

  // One token guards the gRPC API (trunkroute.v1; not grpc.health.v1 or reflection) and the
  // HTTP /v1/ API alike.
  auto token = LoadApiToken(flags);
  if (!token.ok()) return Fail(token.status());
  const server::BearerTokenAuth api_auth(*token);
  admin_service.SetAuth(&api_auth);

  server::GrpcServer::Options grpc_options;
  grpc_options.listen_address = flags.grpc_listen;
  grpc_options.extra_services.push_back(&admin_service);
  grpc_options.decision_observer = &metrics_bridge;
  grpc_options.rpc_observer = &metrics_bridge;
  grpc_options.auth = &api_auth;
  auto grpc_server = server::GrpcServer::Start(grpc_options, manager->get(), &tracker);
  if (!grpc_server.ok()) return Fail(grpc_server.status());

  http::HttpServerOptions http_options;
  if (absl::Status st = http::ParseListenAddress(flags.http_listen, &http_options); !st.ok()) {
    return Fail(st);
  }
  http_options.bearer_token = *token;
  http::RoutingCoreBackend http_backend((*grpc_server)->routing_core());
  auto http_server = http::HttpServer::Start(http_options, &http_backend, metrics->get());
  if (!http_server.ok()) return Fail(http_server.status());

  const std::string version = absl::StrCat((*manager)->Current()->version());
  LogInfo("trunkrouted serving",
          {{"grpc", (*grpc_server)->address()},
           {"http", (*http_server)->address()},
           {"sip", flags.no_sip ? std::string("off") : flags.sip_listen},
           {"sip_tls", flags.sip_tls_listen.empty() ? std::string("off") : flags.sip_tls_listen},
           {"api_token", http_options.bearer_token.empty() ? "off" : "on"},
           {"data_dir", flags.data_dir},
           {"config_version", version},
           {"config_source", initial->source}});

  int signal = 0;
  while (sigwait(&stop_signals, &signal) != 0) {
  }
  LogInfo("shutting down", {{"signal", signal == SIGTERM ? "SIGTERM" : "SIGINT"}});
  // The edge first: it ends calls in setup cleanly and stops probing; then the API faces.
  probe_forwarder.SetTarget(nullptr);
  if (edge) edge->Stop();
  (*http_server)->Stop();
  (*grpc_server)->Shutdown(std::chrono::milliseconds(5000));
  grpc_server->reset();
  LogInfo("stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Debian builds Abseil without NDEBUG, which turns on absl::Mutex deadlock detection for every
  // lock gRPC takes: about a tenth of the CPU of a RouteCall. Our lock order is fixed by design
  // (and checked under the sanitizer build), so the production binary does not pay for it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  Flags flags;
  if (absl::Status st = ParseFlags(argc, argv, &flags); !st.ok()) {
    std::fprintf(stderr, "trunkrouted: %s\nRun 'trunkrouted --help' for the flags.\n",
                 std::string(st.message()).c_str());
    return 2;
  }
  if (flags.help) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  LogLevel level;
  if (!ParseLogLevel(flags.log_level, &level)) {
    std::fprintf(stderr, "trunkrouted: --log-level: '%s' is not debug, info, warn or error\n",
                 flags.log_level.c_str());
    return 2;
  }
  SetLogLevel(level);
  SetLogJson(flags.log_json);
  return Run(flags);
}
