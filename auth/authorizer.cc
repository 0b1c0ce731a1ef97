#include "auth/authorizer.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "auth/bearer.h"

namespace trunkroute::auth {
namespace {

constexpr std::string_view kAnonymous = "anonymous";

// Debian's Abseil has its own string_view: convert at the StrCat boundary.
absl::string_view A(std::string_view s) { return absl::string_view(s.data(), s.size()); }

std::string Seconds(Duration d) {
  // Rounded up: "retry in 0 s" would invite an immediate retry.
  const int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  return absl::StrCat((ms + 999) / 1000);
}

}  // namespace

std::string_view DenyReasonLabel(DenyReason reason) {
  switch (reason) {
    case DenyReason::kMissingToken:
      return "missing_token";
    case DenyReason::kWrongScheme:
      return "wrong_scheme";
    case DenyReason::kUnknownToken:
      return "unknown_token";
    case DenyReason::kMissingScope:
      return "missing_scope";
    case DenyReason::kNotInTable:
      return "not_in_table";
    case DenyReason::kBackoff:
      return "backoff";
  }
  return "unknown";
}

Authorizer::Authorizer(Clock* clock, Options options)
    : metrics_tokens_(std::move(options.metrics_tokens)),
      observer_(options.observer),
      backoff_(clock, options.backoff),
      tokens_(std::move(options.tokens)) {}

std::shared_ptr<const TokenSet> Authorizer::tokens() const {
  absl::ReaderMutexLock lock(&mu_);
  return tokens_;
}

void Authorizer::SetTokens(std::shared_ptr<const TokenSet> tokens) {
  absl::MutexLock lock(&mu_);
  tokens_ = std::move(tokens);
}

bool Authorizer::enabled() const {
  absl::ReaderMutexLock lock(&mu_);
  return tokens_ != nullptr && !tokens_->empty();
}

size_t Authorizer::token_count() const {
  absl::ReaderMutexLock lock(&mu_);
  return tokens_ == nullptr ? 0 : tokens_->size();
}

AuthDecision Authorizer::Deny(const AuthRequest& request, AuthDecision::Outcome outcome,
                              DenyReason reason, std::optional<Scope> needed, std::string principal,
                              std::string message) {
  AuthDecision d;
  d.outcome = outcome;
  d.reason = reason;
  d.needed = needed;
  d.principal = std::move(principal);
  d.message = std::move(message);
  if (observer_ != nullptr) observer_->OnDenied(request.api, reason, needed);
  if (reason != DenyReason::kBackoff) {
    // One line per failed authentication or authorization. Refusals during a backoff are not
    // evaluated and not logged one by one (the backoff's own line says it started): a client
    // hammering with a bad token cannot flood the log.
    WriteAudit(kAuditAuthFailed, request.api, request.method,
               Caller{d.principal, std::string(request.client_subject), std::string(request.peer)},
               {{"reason", DenyReasonLabel(reason)},
                {"needed_scope", needed ? ScopeName(*needed) : std::string_view()}});
  }
  return d;
}

AuthDecision Authorizer::Check(const AuthRequest& request) {
  const std::shared_ptr<const TokenSet> tokens = this->tokens();
  const bool enabled = tokens != nullptr && !tokens->empty();
  const bool grpc = request.api == "grpc";

  if (!request.access) {
    if (!enabled) return AuthDecision{.principal = std::string(kAnonymous)};
    return Deny(request, AuthDecision::Outcome::kPermissionDenied, DenyReason::kNotInTable,
                std::nullopt, "",
                absl::StrCat(A(request.method),
                             " is not in trunkroute's access table (auth/access_table.cc); "
                             "refused"));
  }
  const Access access = *request.access;
  if (access.kind == Access::Kind::kOpen) return AuthDecision{};
  const bool metrics = access.kind == Access::Kind::kMetrics;
  if (metrics && metrics_tokens_ == nullptr) return AuthDecision{};
  if (!metrics && !enabled) return AuthDecision{.principal = std::string(kAnonymous)};
  const std::optional<Scope> needed =
      access.kind == Access::Kind::kScope ? std::optional<Scope>(access.scope) : std::nullopt;

  const std::string source = SourceKey(request.peer);
  if (std::optional<Duration> left = backoff_.Blocked(source)) {
    AuthDecision d =
        Deny(request, AuthDecision::Outcome::kThrottled, DenyReason::kBackoff, needed, "",
             absl::StrCat("too many failed authentications from ", source, "; retry in ",
                          Seconds(*left), " s"));
    d.retry_after = *left;
    return d;
  }

  const BearerCredential bearer = ParseBearer(request.authorization);
  switch (bearer.result) {
    case BearerParse::kMissing:
      return Deny(request, AuthDecision::Outcome::kUnauthenticated, DenyReason::kMissingToken,
                  needed, "",
                  grpc ? "missing bearer token: send metadata 'authorization: Bearer <token>' "
                         "(trunkroutectl: set TRUNKROUTE_TOKEN)"
                       : "missing bearer token: send 'Authorization: Bearer <token>'");
    case BearerParse::kWrongScheme:
      return Deny(request, AuthDecision::Outcome::kUnauthenticated, DenyReason::kWrongScheme,
                  needed, "",
                  grpc ? "the authorization metadata must use the Bearer scheme"
                       : "the Authorization header must use the Bearer scheme");
    case BearerParse::kOk:
      break;
  }

  const TokenEntry* entry = enabled ? tokens->Find(bearer.token) : nullptr;
  if (metrics) {
    if (const TokenEntry* m = metrics_tokens_->Find(bearer.token)) {
      return AuthDecision{.principal = m->name};
    }
    // An API token that may read may also scrape.
    if (entry != nullptr && entry->scopes.Has(Scope::kRead)) {
      return AuthDecision{.principal = entry->name};
    }
    entry = nullptr;  // any other token is as good as none for /metrics
  }
  if (entry == nullptr) {
    const Duration backoff = backoff_.RecordFailure(source);
    AuthDecision d = Deny(request, AuthDecision::Outcome::kUnauthenticated,
                          DenyReason::kUnknownToken, needed, "", "invalid bearer token");
    if (backoff > Duration::zero()) {
      WriteAudit(kAuditAuthBackoff, request.api, request.method,
                 Caller{"", std::string(request.client_subject), std::string(request.peer)},
                 {{"source", source}, {"refused_for_s", Seconds(backoff)}});
    }
    return d;
  }
  if (needed && !entry->scopes.Has(*needed)) {
    return Deny(request, AuthDecision::Outcome::kPermissionDenied, DenyReason::kMissingScope,
                needed, entry->name,
                absl::StrCat("token '", entry->name, "' lacks scope '", A(ScopeName(*needed)),
                             "', needed by ", A(request.method), " (it has: ",
                             entry->scopes.empty() ? "none" : entry->scopes.ToString(), ")"));
  }
  return AuthDecision{.principal = entry->name};
}

}  // namespace trunkroute::auth
