#include "server/auth.h"

#include <cctype>

namespace trunkroute::server {

grpc::Status BearerTokenAuth::Check(const grpc::ServerContextBase& context) const {
  if (token_.empty()) return grpc::Status::OK;
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "missing bearer token: send metadata 'authorization: Bearer <token>' "
                        "(trunkroutectl: set TRUNKROUTE_TOKEN)");
  }
  const std::string_view value(it->second.data(), it->second.size());
  constexpr std::string_view kScheme = "bearer ";
  bool scheme_ok = value.size() > kScheme.size();
  for (size_t i = 0; scheme_ok && i < kScheme.size(); ++i) {
    scheme_ok = std::tolower(static_cast<unsigned char>(value[i])) == kScheme[i];
  }
  if (!scheme_ok) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "the authorization metadata must use the Bearer scheme");
  }
  if (!TokenEquals(value.substr(kScheme.size()), token_)) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "invalid bearer token");
  }
  return grpc::Status::OK;
}

}  // namespace trunkroute::server
