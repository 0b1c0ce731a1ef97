// trunkrouted: the trunkroute daemon (gRPC API, routing core, health; the SIP edge and the
// HTTP/metrics face plug in at the marked wiring points).
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/random.h"
#include "config/config_manager.h"
#include "config/config_store.h"
#include "config/default_config.h"
#include "health/tracker.h"
#include "server/admin_service.h"
#include "server/grpc_server.h"

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
  --sip-listen ADDR         SIP edge (default 127.0.0.1:5060)
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
  std::string log_level = "info";
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
      {"--data-dir", &flags->data_dir},       {"--grpc-listen", &flags->grpc_listen},
      {"--http-listen", &flags->http_listen}, {"--sip-listen", &flags->sip_listen},
      {"--bootstrap-config", &flags->bootstrap_config}, {"--log-level", &flags->log_level},
  };
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      flags->help = true;
      continue;
    }
    if (arg == "--log-json") {
      flags->log_json = true;
      continue;
    }
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
        return absl::InvalidArgumentError(
            absl::StrCat(std::string(name), ": missing value"));
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
    auto parsed = config::ParseConfigJson(std::string(config::DefaultConfigJson()), "embedded default");
    if (!parsed.ok()) return parsed.status();
    initial.config = *std::move(parsed);
    return initial;
  }
  std::ifstream in(flags.bootstrap_config);
  if (!in) {
    return absl::FailedPreconditionError(absl::StrCat(
        "--bootstrap-config ", flags.bootstrap_config, ": ", std::strerror(errno)));
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
  auto manager = config::ConfigManager::Create(store->get(), clock, initial->config,
                                               initial->persist);
  if (!manager.ok()) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("config from ", initial->source, " is invalid:\n", manager.status().message())));
  }

  DefaultRandomSource random;
  // WIRING POINT (SIP edge): the edge's OPTIONS ProbeSender goes here instead of nullptr, and the
  // edge itself starts on flags.sip_listen once the tracker and the config manager exist.
  health::HealthTracker tracker(clock, &random, /*prober=*/nullptr);
  tracker.ApplyTable(*(*manager)->Current());
  health::HealthTimerThread timer(&tracker);
  (*manager)->AddListener([&tracker, &timer](const std::shared_ptr<const router::RoutingTable>& t) {
    tracker.ApplyTable(*t);
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

  server::GrpcServer::Options grpc_options;
  grpc_options.listen_address = flags.grpc_listen;
  grpc_options.extra_services.push_back(&admin_service);
  auto grpc_server = server::GrpcServer::Start(grpc_options, manager->get(), &tracker);
  if (!grpc_server.ok()) return Fail(grpc_server.status());

  // WIRING POINT (HTTP/metrics): start the /metrics + HTTP/JSON listener on flags.http_listen
  // here, with (*grpc_server)->routing_core() for POST /v1/route and /v1/outcome.

  const std::string version = absl::StrCat((*manager)->Current()->version());
  LogInfo("trunkrouted serving", {{"grpc", (*grpc_server)->address()},
                                  {"http", flags.http_listen},
                                  {"sip", flags.sip_listen},
                                  {"data_dir", flags.data_dir},
                                  {"config_version", version},
                                  {"config_source", initial->source}});

  int signal = 0;
  while (sigwait(&stop_signals, &signal) != 0) {
  }
  LogInfo("shutting down", {{"signal", signal == SIGTERM ? "SIGTERM" : "SIGINT"}});
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
