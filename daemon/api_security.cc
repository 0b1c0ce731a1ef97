#include "daemon/api_security.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/secret_file.h"
#include "server/grpc_tls_credentials.h"

namespace trunkroute::daemon {
namespace {

constexpr std::string_view kApis[] = {"grpc", "http"};

// The first line of a secret file, trailing blanks and CR removed.
absl::StatusOr<std::string> FirstLine(const std::string& path, std::string_view flag) {
  auto text = ReadSecretFile(path, flag);
  if (!text.ok()) return text.status();
  std::string line = text->substr(0, text->find('\n'));
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) {
    line.pop_back();
  }
  return line;
}

absl::StatusOr<std::shared_ptr<const auth::TokenSet>> LoadMetricsToken(const std::string& path) {
  if (path.empty()) return std::shared_ptr<const auth::TokenSet>();
  const std::string source = absl::StrCat("--metrics-token ", path);
  auto secret = FirstLine(path, "--metrics-token");
  if (!secret.ok()) return secret.status();
  auto set = auth::TokenSet::FromSecret(*secret, "metrics", auth::ScopeSet(), source);
  if (!set.ok()) return set.status();
  return std::make_shared<const auth::TokenSet>(*std::move(set));
}

}  // namespace

// Refusals and reloads → metrics. Every series the dashboard or an alert may read exists at 0.
class ApiSecurity::Observer final : public auth::AuthObserver, public tls::ReloadObserver {
 public:
  explicit Observer(metrics::TrunkrouteMetrics* metrics) : metrics_(metrics) {
    if (metrics_ == nullptr) return;
    for (std::string_view api : kApis) {
      for (auth::DenyReason reason : auth::kAllDenyReasons) {
        if (reason == auth::DenyReason::kMissingScope) {
          for (auth::Scope scope : auth::kAllScopeValues) {
            metrics_->api_requests_denied->WithLabels(
                {api, auth::DenyReasonLabel(reason), auth::ScopeName(scope)});
          }
        } else {
          metrics_->api_requests_denied->WithLabels({api, auth::DenyReasonLabel(reason), ""});
        }
      }
    }
    for (std::string_view credential : {"tls", "tokens"}) {
      for (std::string_view result : {"ok", "error"}) {
        metrics_->api_credential_reloads->WithLabels({credential, result});
      }
    }
  }

  void OnDenied(std::string_view api, auth::DenyReason reason,
                std::optional<auth::Scope> needed) override {
    if (metrics_ == nullptr) return;
    // The scope label says which scope was missing; for the other reasons the scope needed says
    // nothing about the request's fault, so it stays "" (a bounded set of series).
    const std::string_view scope = reason == auth::DenyReason::kMissingScope && needed
                                       ? auth::ScopeName(*needed)
                                       : std::string_view();
    metrics_->api_requests_denied->WithLabels({api, auth::DenyReasonLabel(reason), scope})->Inc();
  }

  void OnCertificateReload(bool ok, const tls::Material& current) override {
    CountReload("tls", ok);
    SetExpiry(current);
  }

  void SetExpiry(const tls::Material& current) {
    if (metrics_ == nullptr) return;
    metrics_->api_tls_certificate_expiry->WithLabels({})->Set(
        static_cast<double>(current.not_after_unix()));
  }

  void CountReload(std::string_view credential, bool ok) {
    if (metrics_ == nullptr) return;
    metrics_->api_credential_reloads->WithLabels({credential, ok ? "ok" : "error"})->Inc();
  }

 private:
  metrics::TrunkrouteMetrics* const metrics_;
};

absl::StatusOr<std::shared_ptr<const auth::TokenSet>> LoadApiTokens(
    const ApiSecurityOptions& options) {
  std::optional<auth::TokenSet> tokens;
  if (!options.tokens_file.empty()) {
    auto loaded = auth::TokenSet::LoadFile(options.tokens_file);
    if (!loaded.ok()) return loaded.status();
    tokens = *std::move(loaded);
  }
  std::string secret = options.token;
  std::string source = "TRUNKROUTE_API_TOKEN";
  if (!options.token_file.empty()) {
    auto line = FirstLine(options.token_file, "--api-token-file");
    if (!line.ok()) return line.status();
    secret = *std::move(line);
    source = absl::StrCat("--api-token-file ", options.token_file);
    if (secret.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": the first line is empty"));
    }
  }
  if (!secret.empty()) {
    // The single token does everything, as it always did.
    auto single = auth::TokenSet::FromSecret(secret, "api-token", auth::ScopeSet::All(), source);
    if (!single.ok()) return single.status();
    if (!tokens) {
      tokens = *std::move(single);
    } else if (absl::Status st = tokens->Merge(*single); !st.ok()) {
      return st;
    }
  }
  if (!tokens) return std::shared_ptr<const auth::TokenSet>();
  return std::make_shared<const auth::TokenSet>(*std::move(tokens));
}

absl::StatusOr<std::unique_ptr<ApiSecurity>> ApiSecurity::Create(
    const ApiSecurityOptions& options, Clock* clock, metrics::TrunkrouteMetrics* metrics) {
  std::unique_ptr<ApiSecurity> s(new ApiSecurity());
  s->options_ = options;
  s->observer_ = std::make_unique<Observer>(metrics);

  if (options.tls_cert_file.empty() && options.tls_key_file.empty() &&
      !options.tls_client_ca_file.empty()) {
    return absl::InvalidArgumentError(
        "--api-tls-client-ca needs --api-tls-cert and --api-tls-key (client certificates are "
        "asked for during the TLS handshake)");
  }
  if (!options.tls_cert_file.empty() || !options.tls_key_file.empty()) {
    tls::ServingCertificate::Options tls_options;
    tls_options.cert_file = options.tls_cert_file;
    tls_options.key_file = options.tls_key_file;
    tls_options.client_ca_file = options.tls_client_ca_file;
    tls_options.clock = clock;
    tls_options.observer = s->observer_.get();
    auto cert = tls::ServingCertificate::Load(std::move(tls_options));
    if (!cert.ok()) return cert.status();
    s->certificate_ = *std::move(cert);
    s->observer_->SetExpiry(*s->certificate_->Current());
    s->grpc_credentials_ = server::ReloadingTlsServerCredentials(s->certificate_.get());
  }

  auto tokens = LoadApiTokens(options);
  if (!tokens.ok()) return tokens.status();
  auto metrics_tokens = LoadMetricsToken(options.metrics_token_file);
  if (!metrics_tokens.ok()) return metrics_tokens.status();
  auth::Authorizer::Options auth_options;
  auth_options.tokens = *std::move(tokens);
  auth_options.metrics_tokens = *std::move(metrics_tokens);
  auth_options.observer = s->observer_.get();
  s->authorizer_ = std::make_unique<auth::Authorizer>(clock, std::move(auth_options));
  s->grpc_auth_ = std::make_unique<server::GrpcAuth>(s->authorizer_.get());
  if (s->certificate_ != nullptr) s->certificate_->StartWatching(options.tls_watch_interval);
  return s;
}

ApiSecurity::~ApiSecurity() {
  if (certificate_ != nullptr) certificate_->StopWatching();
}

absl::Status ApiSecurity::Reload() {
  absl::Status first = absl::OkStatus();
  if (certificate_ != nullptr) first = certificate_->Reload();  // logs and counts itself
  if (!options_.tokens_file.empty() || !options_.token_file.empty()) {
    auto tokens = LoadApiTokens(options_);
    if (tokens.ok() && *tokens == nullptr) {
      tokens = absl::InvalidArgumentError("no token left");
    }
    if (!tokens.ok()) {
      LogError("api tokens: reload failed; the previous tokens stay in force",
               {{"error", std::string(tokens.status().message())}});
      observer_->CountReload("tokens", false);
      if (first.ok()) first = tokens.status();
    } else {
      const size_t count = (*tokens)->size();
      authorizer_->SetTokens(*std::move(tokens));
      observer_->CountReload("tokens", true);
      LogInfo("api tokens: reloaded", {{"tokens", absl::StrCat(count)}});
    }
  }
  return first;
}

std::string ApiSecurity::tls_mode() const {
  if (certificate_ == nullptr) return "off";
  return certificate_->client_certificates_required() ? "mtls" : "on";
}

}  // namespace trunkroute::daemon
