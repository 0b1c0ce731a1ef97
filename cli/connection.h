#ifndef TRUNKROUTE_CLI_CONNECTION_H_
#define TRUNKROUTE_CLI_CONNECTION_H_

#include <memory>
#include <ostream>
#include <string>

#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "trunkroute/v1/admin.grpc.pb.h"
#include "trunkroute/v1/cluster.grpc.pb.h"
#include "trunkroute/v1/config_service.grpc.pb.h"
#include "trunkroute/v1/health.grpc.pb.h"
#include "trunkroute/v1/routing.grpc.pb.h"

namespace trunkroute::cli {

// Exit codes: part of the CLI's contract with scripts (listed in `trunkroutectl --help`).
enum ExitCode : int {
  kExitOk = 0,
  kExitRpcError = 1,     // the server answered with an error
  kExitUsage = 2,        // bad command line or input file
  kExitUnreachable = 3,  // no answer: server unreachable or deadline exceeded
  kExitNotFound = 4,
  kExitConflict = 5,  // ABORTED / FAILED_PRECONDITION / ALREADY_EXISTS: fix state, retry
};

struct GlobalOptions {
  std::string server = "127.0.0.1:50051";
  bool json = false;
  double timeout_s = 5;
  bool timeout_given = false;  // health watch runs unbounded unless --timeout is given
  // Bearer token from --token-file, TRUNKROUTE_TOKEN or TRUNKROUTE_TOKEN_FILE; sent as
  // metadata, never printed.
  std::string token;
  // TLS (a server started with --api-tls-cert): on with --tls or a CA file. The files of
  // --tls-ca / --tls-cert / --tls-key (or TRUNKROUTE_TLS_CA, _CERT, _KEY), and their PEM as
  // main read it.
  bool tls = false;
  std::string tls_ca_file;
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_ca_pem;    // trusted CAs; empty: the system's
  std::string tls_cert_pem;  // client certificate chain, for servers that require one (mTLS)
  std::string tls_key_pem;
  // Name to check the server's certificate against, when --server is an address the
  // certificate does not name (--tls-server-name / TRUNKROUTE_TLS_SERVER_NAME).
  std::string tls_server_name;
};

// "NOT_FOUND" for grpc::StatusCode::NOT_FOUND, and so on.
std::string StatusCodeName(grpc::StatusCode code);

// One channel to the server plus a stub per service; every call gets its context from here so
// the deadline and the token are applied the same way everywhere.
class Connection {
 public:
  explicit Connection(const GlobalOptions& options);

  // A fresh context for one RPC: deadline of --timeout seconds (unless `with_deadline` is false
  // and --timeout was not given) and the authorization metadata when a token is set.
  std::unique_ptr<grpc::ClientContext> NewContext(bool with_deadline = true) const;

  // Prints "error: <CODE>: <message>" on `err` and returns the exit code for `status`.
  // UNAVAILABLE counts as unreachable only when the channel never got connected; an
  // UNAVAILABLE answered by a connected server (e.g. a fail-fast route) is a server error.
  int Fail(const grpc::Status& status, std::ostream& err) const;

  // Whether the channel has a live connection to the server now.
  bool Connected() const;

  v1::ConfigService::Stub& config() { return *config_; }
  v1::RoutingService::Stub& routing() { return *routing_; }
  v1::HealthService::Stub& health() { return *health_; }
  v1::AdminService::Stub& admin() { return *admin_; }
  v1::ClusterService::Stub& cluster() { return *cluster_; }
  // The standard grpc.health.v1 service: open, no token needed.
  grpc::health::v1::Health::Stub& serving() { return *serving_; }

 private:
  const GlobalOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::ConfigService::Stub> config_;
  std::unique_ptr<v1::RoutingService::Stub> routing_;
  std::unique_ptr<v1::HealthService::Stub> health_;
  std::unique_ptr<v1::AdminService::Stub> admin_;
  std::unique_ptr<v1::ClusterService::Stub> cluster_;
  std::unique_ptr<grpc::health::v1::Health::Stub> serving_;
};

}  // namespace trunkroute::cli

#endif  // TRUNKROUTE_CLI_CONNECTION_H_
