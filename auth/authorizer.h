#ifndef TRUNKROUTE_AUTH_AUTHORIZER_H_
#define TRUNKROUTE_AUTH_AUTHORIZER_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "auth/access_table.h"
#include "auth/audit.h"
#include "auth/failure_backoff.h"
#include "auth/scope.h"
#include "auth/token_set.h"
#include "common/clock.h"

namespace trunkroute::auth {

// Why a request was refused: the `reason` label of trunkroute_api_requests_denied_total.
enum class DenyReason {
  kMissingToken,  // no Authorization header / metadata           → UNAUTHENTICATED / 401
  kWrongScheme,   // not "Bearer <token>"                           → UNAUTHENTICATED / 401
  kUnknownToken,  // a token that matches none                      → UNAUTHENTICATED / 401
  kMissingScope,  // a valid token without the scope the call needs → PERMISSION_DENIED / 403
  kNotInTable,    // a gRPC method absent from the access table     → PERMISSION_DENIED
  kBackoff,       // the source failed too often; not evaluated     → RESOURCE_EXHAUSTED / 429
};
inline constexpr DenyReason kAllDenyReasons[] = {
    DenyReason::kMissingToken, DenyReason::kWrongScheme, DenyReason::kUnknownToken,
    DenyReason::kMissingScope, DenyReason::kNotInTable,  DenyReason::kBackoff};
// "missing_token", "wrong_scheme", "unknown_token", "missing_scope", "not_in_table", "backoff".
std::string_view DenyReasonLabel(DenyReason reason);

// Told about every refusal (metrics). Called on request threads; must be quick and thread-safe.
class AuthObserver {
 public:
  virtual ~AuthObserver() = default;
  // `api` is "grpc" or "http"; `needed` the scope the request needed (nullopt: none applies,
  // e.g. a method missing from the table or /metrics).
  virtual void OnDenied(std::string_view api, DenyReason reason, std::optional<Scope> needed) = 0;
};

// One request as both faces present it.
struct AuthRequest {
  std::string_view api;     // "grpc" | "http"
  std::string_view method;  // gRPC full method name, or "POST /v1/route"
  // What it needs, from the access table; nullopt when the method is not in the table.
  std::optional<Access> access;
  // The Authorization header / `authorization` metadata value; nullopt when absent.
  std::optional<std::string_view> authorization;
  std::string_view peer;            // as the server reports it (logs, backoff key)
  std::string_view client_subject;  // verified client certificate subject (mTLS), or ""
};

struct AuthDecision {
  enum class Outcome { kAllowed, kUnauthenticated, kPermissionDenied, kThrottled };
  Outcome outcome = Outcome::kAllowed;
  std::optional<DenyReason> reason;  // set unless allowed
  // The token's name (allowed or scope-denied), "anonymous" when the API has no tokens, "" for
  // open endpoints and unauthenticated requests.
  std::string principal;
  // The client-facing explanation, e.g. "token 'genesys-prod' lacks scope 'write', needed by
  // /trunkroute.v1.ConfigService/UpsertTrunk". Never contains a token.
  std::string message;
  std::optional<Scope> needed;
  Duration retry_after{};  // kThrottled: how long until the source may try again

  bool allowed() const { return outcome == Outcome::kAllowed; }
};

// THE authorization rule for both APIs (gRPC through server/grpc_auth.h, HTTP in
// http/http_server.cc): who may call what (the access table and the tokens' scopes), failed
// authentications slowed per source (FailureBackoff) and written as ONE audit line each.
//
// With no API tokens configured the API is open (every method allowed, principal "anonymous"):
// the listeners bind loopback unless configured otherwise (design.md §6). Thread-safe; tokens can
// be replaced at any time (SIGHUP reload) without disturbing requests in flight.
class Authorizer {
 public:
  struct Options {
    // API tokens (--api-tokens-file and/or --api-token-file); null or empty: the API is open.
    std::shared_ptr<const TokenSet> tokens;
    // --metrics-token; null: /metrics is open.
    std::shared_ptr<const TokenSet> metrics_tokens;
    FailureBackoff::Options backoff;
    AuthObserver* observer = nullptr;  // not owned; may be null
  };

  Authorizer(Clock* clock, Options options);

  AuthDecision Check(const AuthRequest& request);

  // Replaces the API tokens (reload). Requests already checked keep their decision.
  void SetTokens(std::shared_ptr<const TokenSet> tokens);

  // Whether API tokens are configured (otherwise everything but the table check is open).
  bool enabled() const;
  size_t token_count() const;

 private:
  AuthDecision Deny(const AuthRequest& request, AuthDecision::Outcome outcome, DenyReason reason,
                    std::optional<Scope> needed, std::string principal, std::string message);
  std::shared_ptr<const TokenSet> tokens() const;

  const std::shared_ptr<const TokenSet> metrics_tokens_;
  AuthObserver* const observer_;
  FailureBackoff backoff_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const TokenSet> tokens_ ABSL_GUARDED_BY(mu_);
};

}  // namespace trunkroute::auth

#endif  // TRUNKROUTE_AUTH_AUTHORIZER_H_
