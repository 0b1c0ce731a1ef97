#include "server/auth.h"

#include <optional>
#include <string_view>

namespace trunkroute::server {

grpc::Status BearerTokenAuth::Check(const grpc::ServerContextBase& context) const {
  if (token_.empty()) return grpc::Status::OK;
  const auto& metadata = context.client_metadata();
  const auto it = metadata.find("authorization");
  switch (CheckBearer(it == metadata.end() ? std::nullopt
                                           : std::optional<std::string_view>(std::string_view(
                                                 it->second.data(), it->second.size())),
                      token_)) {
    case BearerCheck::kOk:
      return grpc::Status::OK;
    case BearerCheck::kMissing:
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          "missing bearer token: send metadata 'authorization: Bearer <token>' "
                          "(trunkroutectl: set TRUNKROUTE_TOKEN)");
    case BearerCheck::kWrongScheme:
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          "the authorization metadata must use the Bearer scheme");
    case BearerCheck::kWrongToken:
      break;
  }
  return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "invalid bearer token");
}

}  // namespace trunkroute::server
