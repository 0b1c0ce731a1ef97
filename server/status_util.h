#ifndef TRUNKROUTE_SERVER_STATUS_UTIL_H_
#define TRUNKROUTE_SERVER_STATUS_UTIL_H_

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace trunkroute::server {

// absl and gRPC share the canonical code numbering, so the code maps one to one and the message
// is carried unchanged (it already names the field or the id at fault).
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace trunkroute::server

#endif  // TRUNKROUTE_SERVER_STATUS_UTIL_H_
