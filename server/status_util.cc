#include "server/status_util.h"

#include <string>

namespace trunkroute::server {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  const int code = static_cast<int>(status.code());
  // Codes outside the canonical range cannot come from absl today; UNKNOWN keeps the wire sane
  // if one ever does.
  const auto grpc_code = code > 0 && code <= static_cast<int>(grpc::StatusCode::UNAUTHENTICATED)
                             ? static_cast<grpc::StatusCode>(code)
                             : grpc::StatusCode::UNKNOWN;
  return grpc::Status(grpc_code, std::string(status.message().data(), status.message().size()));
}

}  // namespace trunkroute::server
