#ifndef TRUNKROUTE_SERVER_AUTH_H_
#define TRUNKROUTE_SERVER_AUTH_H_

#include <string>
#include <string_view>

#include "common/token.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/status.h"

namespace trunkroute::server {

// Bearer-token check for the trunkroute.v1 services: when a token is configured, every call must
// carry the metadata `authorization: Bearer <token>` (what trunkroutectl sends from
// TRUNKROUTE_TOKEN). grpc.health.v1 and reflection stay open: orchestrators probe health without
// credentials, and neither exposes config.
//
// The token is compared in time independent of where it differs, and never logged or echoed.
class BearerTokenAuth {
 public:
  // Empty token: every call is allowed.
  explicit BearerTokenAuth(std::string token) : token_(std::move(token)) {}

  // OK (also when no token is configured), or UNAUTHENTICATED saying what was wrong (missing,
  // wrong scheme, wrong token).
  grpc::Status Check(const grpc::ServerContextBase& context) const;

  // Whether a token is configured (calls without one are refused).
  bool enabled() const { return !token_.empty(); }

 private:
  const std::string token_;
};

// Check through an optional authorizer (nullptr: open).
inline grpc::Status Authorize(const BearerTokenAuth* auth, const grpc::ServerContextBase* context) {
  return auth == nullptr ? grpc::Status::OK : auth->Check(*context);
}

}  // namespace trunkroute::server

#endif  // TRUNKROUTE_SERVER_AUTH_H_
