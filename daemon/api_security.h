#ifndef TRUNKROUTE_DAEMON_API_SECURITY_H_
#define TRUNKROUTE_DAEMON_API_SECURITY_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "auth/authorizer.h"
#include "common/clock.h"
#include "grpcpp/security/server_credentials.h"
#include "metrics/trunkroute_metrics.h"
#include "server/grpc_auth.h"
#include "tls/serving_certificate.h"

namespace trunkroute::daemon {

// What the API listeners are secured with (the "API security" flags, daemon/flags.cc).
struct ApiSecurityOptions {
  // TLS for both API listeners: one certificate chain and key (PEM). Both or neither.
  std::string tls_cert_file;
  std::string tls_key_file;
  // With TLS: client certificates required, verified against these CAs (PEM).
  std::string tls_client_ca_file;
  // Scoped tokens, "NAME SCOPE[,SCOPE...] sha256:HEX" a line (auth/token_set.h).
  std::string tokens_file;
  // The single token of every scope: the first line of this file, else `token`.
  std::string token_file;
  std::string token;  // TRUNKROUTE_API_TOKEN
  // /metrics needs this token (first line of the file), or a `read` API token, when set.
  std::string metrics_token_file;
  // How often the TLS files are checked for changes.
  Duration tls_watch_interval = std::chrono::seconds(1);
};

// The security of trunkrouted's API listeners, built once at start-up: the token sets and the
// authorizer both faces share, the gRPC authorization interceptor, and the TLS certificate (with
// its file watcher) that the gRPC credentials and the HTTPS listener present. Reload() is what
// SIGHUP does. Metrics: trunkroute_api_requests_denied_total, _api_credential_reloads_total and
// _api_tls_certificate_expiry_timestamp_seconds.
class ApiSecurity {
 public:
  // Start-up errors name the flag and the file: unreadable or group/world-readable secret files,
  // a malformed tokens file (every bad line), a placeholder token, a key that does not match its
  // certificate, an expired certificate, a client CA without TLS...
  static absl::StatusOr<std::unique_ptr<ApiSecurity>> Create(const ApiSecurityOptions& options,
                                                             Clock* clock,
                                                             metrics::TrunkrouteMetrics* metrics);
  ~ApiSecurity();
  ApiSecurity(const ApiSecurity&) = delete;
  ApiSecurity& operator=(const ApiSecurity&) = delete;

  auth::Authorizer* authorizer() { return authorizer_.get(); }
  server::GrpcAuth* grpc_auth() { return grpc_auth_.get(); }
  // Null without TLS.
  const tls::ServingCertificate* certificate() const { return certificate_.get(); }
  // Null without TLS (plaintext).
  std::shared_ptr<grpc::ServerCredentials> grpc_credentials() const { return grpc_credentials_; }

  // Re-reads the TLS files and the token files. Whatever fails keeps what serves (logged and
  // counted); the first error is returned.
  absl::Status Reload();

  // For the start-up line: tls=on|off, mtls, tokens count.
  std::string tls_mode() const;
  size_t token_count() const { return authorizer_->token_count(); }

 private:
  class Observer;
  ApiSecurity() = default;

  ApiSecurityOptions options_;
  std::unique_ptr<Observer> observer_;
  std::unique_ptr<auth::Authorizer> authorizer_;
  std::unique_ptr<server::GrpcAuth> grpc_auth_;
  std::unique_ptr<tls::ServingCertificate> certificate_;
  std::shared_ptr<grpc::ServerCredentials> grpc_credentials_;
};

// The API tokens the options name (the tokens file and the single token, merged), or null when
// none is configured (the API is open). Exposed for tests.
absl::StatusOr<std::shared_ptr<const auth::TokenSet>> LoadApiTokens(
    const ApiSecurityOptions& options);

}  // namespace trunkroute::daemon

#endif  // TRUNKROUTE_DAEMON_API_SECURITY_H_
