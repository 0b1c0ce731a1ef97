#ifndef TRUNKROUTE_HTTP_HTTP_STATUS_H_
#define TRUNKROUTE_HTTP_HTTP_STATUS_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "common/json_string.h"

namespace trunkroute::http {

// HTTP status for a gRPC/absl status code, so HTTP clients can act on the class of error:
//   OK 200, INVALID_ARGUMENT 400, OUT_OF_RANGE 400, UNAUTHENTICATED 401, PERMISSION_DENIED 403,
//   NOT_FOUND 404, ALREADY_EXISTS 409, ABORTED 409, FAILED_PRECONDITION 409, RESOURCE_EXHAUSTED
//   429, CANCELLED 499 (client closed request), UNKNOWN/INTERNAL/DATA_LOSS 500, UNIMPLEMENTED 501,
//   UNAVAILABLE 503, DEADLINE_EXCEEDED 504.
// FAILED_PRECONDITION is 409, not 412: 412 is tied to conditional request headers (If-Match),
// which this API does not use; "the system is not in the state this needs, fix it first" is a
// conflict with the current state. The JSON body's "code" tells it apart from ABORTED.
int HttpStatusFromCode(absl::StatusCode code);

// {"error":{"code":"NOT_FOUND","http_status":404,"message":"..."}}
std::string ErrorJson(absl::StatusCode code, int http_status, std::string_view message);
inline std::string ErrorJson(const absl::Status& status) {
  return ErrorJson(status.code(), HttpStatusFromCode(status.code()),
                   std::string_view(status.message().data(), status.message().size()));
}

// A JSON string literal (quotes included) with RFC 8259 escaping: common/json_string.h.
using ::trunkroute::AppendJsonString;

}  // namespace trunkroute::http

#endif  // TRUNKROUTE_HTTP_HTTP_STATUS_H_
