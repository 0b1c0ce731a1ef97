#include "daemon/flags.h"

#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "cluster/etcd_client.h"
#include "cluster/etcd_config_store.h"

namespace trunkroute {

// A log level as a flag type: "debug", "info", "warn" or "error".
bool AbslParseFlag(absl::string_view text, LogLevel* level, std::string* error) {
  if (ParseLogLevel(std::string_view(text.data(), text.size()), level)) return true;
  *error = absl::StrCat("'", text, "' is not debug, info, warn or error");
  return false;
}
std::string AbslUnparseFlag(LogLevel level) { return std::string(LogLevelName(level)); }

}  // namespace trunkroute

// Storage.
ABSL_FLAG(std::string, data_dir, "./data",
          "where the config is stored (config.json, mode 0600); created (0700) if missing");
ABSL_FLAG(std::string, bootstrap_config, "",
          "config to start from when the data dir holds none yet (default: the embedded "
          "deploy/trunkroute.example.json); ignored once a config is stored");
ABSL_FLAG(std::string, health_state_file, "",
          "where this instance keeps its trunk health across restarts (warm restart: ejected "
          "trunks stay ejected) (default: <data-dir>/health-state.json)");
ABSL_FLAG(bool, no_health_state, false,
          "neither save nor restore trunk health: every start begins with every trunk UP");
// API.
ABSL_FLAG(std::string, grpc_listen, "127.0.0.1:50051",
          "gRPC API, host:port or [v6]:port; port 0 picks a free port");
ABSL_FLAG(int64_t, grpc_threads, 0,
          "threads answering RouteCall and ReportCallOutcome, one completion queue each; 0: one "
          "per CPU core");
ABSL_FLAG(std::string, http_listen, "127.0.0.1:9464", "/metrics and the HTTP/JSON face");
ABSL_FLAG(std::string, api_token_file, "",
          "one bearer token with every scope, for the gRPC API and the HTTP /v1/ API (or set "
          "TRUNKROUTE_API_TOKEN); at least 32 characters, not a placeholder; never logged. "
          "grpc.health.v1, reflection, /metrics and /healthz stay open");
// API security (daemon/api_security.h).
ABSL_FLAG(std::string, api_tls_cert, "",
          "TLS for both API listeners (gRPC and HTTP): certificate chain, PEM, leaf first; "
          "re-read on SIGHUP and when the file changes");
ABSL_FLAG(std::string, api_tls_key, "",
          "private key of --api-tls-cert, PEM, unencrypted, mode 0600");
ABSL_FLAG(std::string, api_tls_client_ca, "",
          "with TLS: require client certificates (mutual TLS) signed by these CAs, PEM");
ABSL_FLAG(std::string, api_tokens_file, "",
          "scoped API tokens, mode 0600, one a line: NAME SCOPE[,SCOPE...] sha256:HEX (scopes "
          "read, route, write, admin; HEX = printf %s TOKEN | sha256sum); re-read on SIGHUP");
ABSL_FLAG(std::string, metrics_token, "",
          "file whose first line is the bearer token /metrics then needs (a read-scope API token "
          "works too); default: /metrics is open");
// Clustered mode.
ABSL_FLAG(std::string, etcd_endpoints, "",
          "etcd members, comma-separated URLs (http://127.0.0.1:2379, https:// for TLS); the "
          "config then lives in etcd and --data-dir keeps a local copy (default: none, the "
          "embedded file store)");
ABSL_FLAG(std::string, etcd_prefix, "/trunkroute/default",
          "etcd key prefix of this cluster's config and instance records");
ABSL_FLAG(std::string, instance_id, "",
          "this instance's name in the cluster (default: the host name)");
ABSL_FLAG(int64_t, etcd_lease_ttl, 10,
          "seconds an instance's record outlives it when it dies without leaving (2-60)");
ABSL_FLAG(std::string, etcd_ca_file, "", "CA bundle that signed the etcd members' certificates");
ABSL_FLAG(std::string, etcd_cert_file, "", "client certificate for etcd (with --etcd-key-file)");
ABSL_FLAG(std::string, etcd_key_file, "", "client key for etcd");
ABSL_FLAG(std::string, etcd_user, "",
          "etcd user (etcd auth); the password comes from TRUNKROUTE_ETCD_PASSWORD, never a flag");
// SIP edge.
ABSL_FLAG(std::string, sip_listen, "127.0.0.1:5060", "SIP edge, UDP and TCP, ip:port");
ABSL_FLAG(std::string, sip_tls_listen, "",
          "SIP over TLS listener, e.g. 127.0.0.1:5061 (default: none; needed for TLS trunks too)");
ABSL_FLAG(std::string, sip_tls_cert_dir, "",
          "agent.pem (key + certificate chain) and cafile.pem (trusted CAs)");
ABSL_FLAG(bool, sip_tls_verify_trunks, true,
          "TLS to trunks: the carrier must present a certificate from cafile.pem that names the "
          "host we dialled (DNS name, or IP address for an IP trunk); =false for labs only");
ABSL_FLAG(bool, sip_tls_verify_clients, false,
          "TLS listener: callers (dialers, Genesys) must present a client certificate from "
          "cafile.pem (mutual TLS)");
ABSL_FLAG(bool, sip_tls_no_verify, false,
          "deprecated: both --sip-tls-verify-trunks=false and --sip-tls-verify-clients=false");
ABSL_FLAG(std::string, sip_dns_server, "",
          "DNS server (ip:port) for trunk host names, resolved as RFC 3263 says (NAPTR, SRV, "
          "A/AAAA) (default: the system resolver)");
ABSL_FLAG(std::string, sip_advertised_address, "",
          "address for Via/Contact behind NAT (default: config edge.advertised_address, else the "
          "bound address)");
ABSL_FLAG(bool, sip_sofia_timer_d, false,
          "keep Sofia's own 32 s Timer D (finished client INVITEs) instead of the edge's 5 s, "
          "which it writes into Sofia-SIP 1.12.11's private agent struct (docs/sip-edge.md)");
ABSL_FLAG(int, sip_workers, 1,
          "SIP workers: Sofia stacks on threads of their own, 1 to 64; above 1 each receives new "
          "calls on --sip-listen (UDP, SO_REUSEPORT, steered by Request-URI) and has its own port "
          "from --sip-worker-port-base (not with --sip-tls-listen; docs/sip-edge.md \"Workers\")");
ABSL_FLAG(int, sip_worker_port_base, 0,
          "first worker's own SIP port (UDP and TCP; worker k has base+k); 0: the --sip-listen "
          "port + 100");
ABSL_FLAG(bool, no_sip, false, "run without the SIP edge (routing API only; no OPTIONS probes)");
// Logging.
ABSL_FLAG(trunkroute::LogLevel, log_level, trunkroute::LogLevel::kInfo,
          "debug, info, warn or error");
ABSL_FLAG(bool, log_json, false, "JSON-lines logs instead of key=value");

namespace trunkroute::daemon {
namespace {

// One documented flag: its Abseil handle and the word --help shows for its value.
struct FlagDoc {
  const absl::CommandLineFlag& flag;
  const char* value_name;  // nullptr for booleans
  const char* section;     // starts a new section in --help when set
};

// trunkrouted's flags in the order --help lists them. Only these are accepted.
const std::vector<FlagDoc>& Flags() {
  static const auto* const kFlags = new std::vector<FlagDoc>{
      {absl::GetFlagReflectionHandle(FLAGS_data_dir), "DIR", "Storage"},
      {absl::GetFlagReflectionHandle(FLAGS_bootstrap_config), "FILE", nullptr},
      {absl::GetFlagReflectionHandle(FLAGS_health_state_file), "FILE", nullptr},
      {absl::GetFlagReflectionHandle(FLAGS_no_health_state), nullptr, nullptr},
      {absl::GetFlagReflectionHandle(FLAGS_grpc_listen), "ADDR", "APIs"},
      {absl::GetFlagReflectionHandle(FLAGS_grpc_threads), "N", nullptr},
      {absl::GetFlagReflectionHandle(FLAGS_http_listen), "ADDR", nullptr},
      {absl::GetFlagReflectionHandle(FLAGS_api_token_file), "FILE", nullptr},
      {absl::GetFlagReflectionHandle(FLAGS_api_tls_cert), "FILE", "API security"},
      {absl::GetFlagReflectionHandle(FLAGS_api_tls_key), "FILE", nullptr},
      {absl::GetFlagReflectionHandle(FLAGS_api_tls_client_ca), "FILE", nullptr},
      {absl::GetFlagReflectionHandle(FLAGS_api_tokens_file), "FILE", nullptr},
      {absl::GetFlagReflectionHandle(FLAGS_metrics_token), "FILE", nullptr},
      {absl::GetFlagReflectionHandle(FLAGS_etcd_endpoints), "URLS", "Cluster (etcd)"},
      {absl::GetFlagReflectionHandle(FLAGS_etcd_prefix), "PREFIX", nullptr},
      {absl::GetFlagReflectionHandle(FLAGS_instance_id), "ID", nullptr},
      {absl::GetFlagReflectionHandle(FLAGS_etcd_lease_ttl), "SECONDS", nullptr},
      {absl::GetFlagReflectionHandle(FLAGS_etcd_ca_file), "FILE", nullptr},
      {absl::GetFlagReflectionHandle(FLAGS_etcd_cert_file), "FILE", nullptr},
      {absl::GetFlagReflectionHandle(FLAGS_etcd_key_file), "FILE", nullptr},
      {absl::GetFlagReflectionHandle(FLAGS_etcd_user), "USER", nullptr},
      {absl::GetFlagReflectionHandle(FLAGS_sip_listen), "ADDR", "SIP edge"},
      {absl::GetFlagReflectionHandle(FLAGS_sip_tls_listen), "ADDR", nullptr},
      {absl::GetFlagReflectionHandle(FLAGS_sip_tls_cert_dir), "DIR", nullptr},
      {absl::GetFlagReflectionHandle(FLAGS_sip_tls_verify_trunks), nullptr, nullptr},
      {absl::GetFlagReflectionHandle(FLAGS_sip_tls_verify_clients), nullptr, nullptr},
      {absl::GetFlagReflectionHandle(FLAGS_sip_tls_no_verify), nullptr, nullptr},
      {absl::GetFlagReflectionHandle(FLAGS_sip_advertised_address), "HOST", nullptr},
      {absl::GetFlagReflectionHandle(FLAGS_sip_dns_server), "ADDR", nullptr},
      {absl::GetFlagReflectionHandle(FLAGS_sip_sofia_timer_d), nullptr, nullptr},
      {absl::GetFlagReflectionHandle(FLAGS_sip_workers), "N", nullptr},
      {absl::GetFlagReflectionHandle(FLAGS_sip_worker_port_base), "PORT", nullptr},
      {absl::GetFlagReflectionHandle(FLAGS_no_sip), nullptr, nullptr},
      {absl::GetFlagReflectionHandle(FLAGS_log_level), "LEVEL", "Logging"},
      {absl::GetFlagReflectionHandle(FLAGS_log_json), nullptr, nullptr},
  };
  return *kFlags;
}

// "data_dir" → "--data-dir".
std::string CommandLineName(const absl::CommandLineFlag& flag) {
  return absl::StrCat("--", absl::StrReplaceAll(flag.Name(), {{"_", "-"}}));
}

const FlagDoc* FindFlag(std::string_view command_line_name) {
  for (const FlagDoc& doc : Flags()) {
    if (CommandLineName(doc.flag) == command_line_name) return &doc;
  }
  return nullptr;
}

// Words of `text` on lines of at most `width` characters, each indented by `indent`.
std::string Wrap(std::string_view text, size_t indent, size_t width) {
  std::string out;
  size_t column = indent;
  for (absl::string_view word :
       absl::StrSplit(absl::string_view(text.data(), text.size()), ' ', absl::SkipEmpty())) {
    if (column > indent && column + 1 + word.size() > width) {
      absl::StrAppend(&out, "\n", std::string(indent, ' '));
      column = indent;
    } else if (column > indent) {
      out += ' ';
      ++column;
    }
    absl::StrAppend(&out, word);
    column += word.size();
  }
  return out;
}

}  // namespace

std::string Usage() {
  constexpr size_t kIndent = 28;
  constexpr size_t kWidth = 100;
  std::string out =
      "Usage: trunkrouted [flags]\n\n"
      "Failover-aware outbound SIP routing engine: gRPC API, routing core, health tracker, the\n"
      "Sofia-SIP edge and the HTTP face (/metrics, the JSON API for Genesys data actions).\n";
  for (const FlagDoc& doc : Flags()) {
    if (doc.section != nullptr) absl::StrAppend(&out, "\n", doc.section, ":\n");
    std::string head = absl::StrCat("  ", CommandLineName(doc.flag));
    if (doc.value_name != nullptr) absl::StrAppend(&head, " ", doc.value_name);
    std::string help = doc.flag.Help();
    const std::string def = doc.flag.DefaultValue();
    if (doc.value_name != nullptr && !def.empty() && help.find("(default") == std::string::npos) {
      // One word for Wrap: a default is never split over two lines.
      absl::StrAppend(&help, " (default\x01", def, ")");
    }
    if (head.size() + 2 > kIndent) {
      absl::StrAppend(&out, head, "\n", std::string(kIndent, ' '));
    } else {
      absl::StrAppend(&out, head, std::string(kIndent - head.size(), ' '));
    }
    absl::StrAppend(&out, absl::StrReplaceAll(Wrap(help, kIndent, kWidth), {{"\x01", " "}}), "\n");
  }
  absl::StrAppend(&out,
                  "\nOther:\n"
                  "  --help                    this text\n"
                  "  --version                 the version, then exit\n"
                  "\nSIGTERM or SIGINT shuts down gracefully (exit 0). SIGHUP re-reads the API's\n"
                  "TLS certificate and key and its token files.\n");
  return out;
}

absl::StatusOr<CommandLine> ParseCommandLine(int argc, char** argv) {
  CommandLine result;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      result.help = true;
      continue;
    }
    if (arg == "--version") {
      result.version = true;
      continue;
    }
    std::string_view name = arg;
    std::optional<std::string_view> value;
    if (size_t eq = arg.find('='); eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    }
    const FlagDoc* doc = name.substr(0, 2) == "--" ? FindFlag(name) : nullptr;
    if (doc == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag '", std::string(arg), "'"));
    }
    const std::string flag_name(name);
    if (doc->value_name == nullptr) {
      // A boolean: present means true; --flag=true|false also works.
      if (!value) value = "true";
    } else if (!value) {
      if (i + 1 >= argc)
        return absl::InvalidArgumentError(absl::StrCat(flag_name, ": missing value"));
      value = argv[++i];
    }
    if (value->empty()) return absl::InvalidArgumentError(absl::StrCat(flag_name, ": empty value"));
    std::string error;
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(doc->flag.Name());
    if (!flag->ParseFrom(absl::string_view(value->data(), value->size()), &error)) {
      // Abseil says "Illegal value 'x' specified for flag 'log_level'; <the type's reason>":
      // keep the reason, in terms of the flag as the operator typed it.
      const size_t reason = error.find("; ");
      return absl::InvalidArgumentError(
          absl::StrCat(flag_name, ": ",
                       reason != std::string::npos
                           ? error.substr(reason + 2)
                           : absl::StrCat("'", std::string(*value), "' is not a valid value")));
    }
  }

  DaemonOptions& o = result.options;
  o.data_dir = absl::GetFlag(FLAGS_data_dir);
  o.bootstrap_config = absl::GetFlag(FLAGS_bootstrap_config);
  o.health_state_file = absl::GetFlag(FLAGS_health_state_file);
  o.health_state = !absl::GetFlag(FLAGS_no_health_state);
  if (!o.health_state && !o.health_state_file.empty()) {
    return absl::InvalidArgumentError("--no-health-state and --health-state-file: choose one");
  }
  o.grpc_listen = absl::GetFlag(FLAGS_grpc_listen);
  const int64_t grpc_threads = absl::GetFlag(FLAGS_grpc_threads);
  if (grpc_threads < 0 || grpc_threads > 256) {
    return absl::InvalidArgumentError(
        absl::StrCat("--grpc-threads: ", grpc_threads, " is outside 0-256 (0: one per core)"));
  }
  o.grpc_threads = static_cast<int>(grpc_threads);
  o.http_listen = absl::GetFlag(FLAGS_http_listen);
  o.api_token_file = absl::GetFlag(FLAGS_api_token_file);
  if (const char* token = std::getenv("TRUNKROUTE_API_TOKEN"); token != nullptr)
    o.api_token = token;
  o.api_tls_cert = absl::GetFlag(FLAGS_api_tls_cert);
  o.api_tls_key = absl::GetFlag(FLAGS_api_tls_key);
  o.api_tls_client_ca = absl::GetFlag(FLAGS_api_tls_client_ca);
  o.api_tokens_file = absl::GetFlag(FLAGS_api_tokens_file);
  o.metrics_token_file = absl::GetFlag(FLAGS_metrics_token);
  if (const std::string endpoints = absl::GetFlag(FLAGS_etcd_endpoints); !endpoints.empty()) {
    auto parsed = cluster::ParseEtcdEndpoints(endpoints);
    if (!parsed.ok()) return parsed.status();
    o.etcd_endpoints = *std::move(parsed);
  }
  o.etcd_prefix = absl::GetFlag(FLAGS_etcd_prefix);
  if (absl::Status st = cluster::ValidateEtcdPrefix(o.etcd_prefix); !st.ok()) return st;
  o.instance_id = absl::GetFlag(FLAGS_instance_id);
  if (o.instance_id.empty()) {
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) == 0) o.instance_id = host;
  }
  o.etcd_lease_ttl_seconds = absl::GetFlag(FLAGS_etcd_lease_ttl);
  if (o.etcd_lease_ttl_seconds < 2 || o.etcd_lease_ttl_seconds > 60) {
    return absl::InvalidArgumentError(
        absl::StrCat("--etcd-lease-ttl: ", o.etcd_lease_ttl_seconds, " is outside 2-60 seconds"));
  }
  o.etcd_ca_file = absl::GetFlag(FLAGS_etcd_ca_file);
  o.etcd_cert_file = absl::GetFlag(FLAGS_etcd_cert_file);
  o.etcd_key_file = absl::GetFlag(FLAGS_etcd_key_file);
  o.etcd_user = absl::GetFlag(FLAGS_etcd_user);
  if (const char* pw = std::getenv("TRUNKROUTE_ETCD_PASSWORD"); pw != nullptr) o.etcd_password = pw;
  const bool etcd_flags_without_endpoints =
      o.etcd_endpoints.empty() && (!o.etcd_ca_file.empty() || !o.etcd_cert_file.empty() ||
                                   !o.etcd_key_file.empty() || !o.etcd_user.empty());
  if (etcd_flags_without_endpoints) {
    return absl::InvalidArgumentError(
        "--etcd-ca-file, --etcd-cert-file, --etcd-key-file and --etcd-user need --etcd-endpoints");
  }
  o.sip_enabled = !absl::GetFlag(FLAGS_no_sip);
  o.sip_listen = absl::GetFlag(FLAGS_sip_listen);
  o.sip_tls_listen = absl::GetFlag(FLAGS_sip_tls_listen);
  o.sip_tls_cert_dir = absl::GetFlag(FLAGS_sip_tls_cert_dir);
  o.sip_tls_verify_trunks = absl::GetFlag(FLAGS_sip_tls_verify_trunks);
  o.sip_tls_verify_clients = absl::GetFlag(FLAGS_sip_tls_verify_clients);
  if (absl::GetFlag(FLAGS_sip_tls_no_verify)) {
    o.sip_tls_verify_trunks = false;
    o.sip_tls_verify_clients = false;
    result.warnings.push_back(
        "--sip-tls-no-verify is deprecated: it now means --sip-tls-verify-trunks=false "
        "--sip-tls-verify-clients=false (trunk certificates are not checked); use those flags");
  }
  o.sip_advertised_address = absl::GetFlag(FLAGS_sip_advertised_address);
  o.sip_dns_server = absl::GetFlag(FLAGS_sip_dns_server);
  o.sip_short_timer_d = !absl::GetFlag(FLAGS_sip_sofia_timer_d);
  o.sip_workers = absl::GetFlag(FLAGS_sip_workers);
  if (o.sip_workers < 1 || o.sip_workers > 64) {
    return absl::InvalidArgumentError(
        absl::StrCat("--sip-workers: ", o.sip_workers, " is outside 1-64"));
  }
  const int port_base = absl::GetFlag(FLAGS_sip_worker_port_base);
  if (port_base < 0 || port_base > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--sip-worker-port-base: ", port_base, " is not a port (0-65535)"));
  }
  o.sip_worker_port_base = static_cast<uint32_t>(port_base);
  result.log_level = absl::GetFlag(FLAGS_log_level);
  result.log_json = absl::GetFlag(FLAGS_log_json);
  return result;
}

}  // namespace trunkroute::daemon
