#include "http/http_status.h"

#include <cstdio>

#include "absl/strings/str_cat.h"

namespace trunkroute::http {

int HttpStatusFromCode(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk: return 200;
    case absl::StatusCode::kInvalidArgument: return 400;
    case absl::StatusCode::kOutOfRange: return 400;
    case absl::StatusCode::kUnauthenticated: return 401;
    case absl::StatusCode::kPermissionDenied: return 403;
    case absl::StatusCode::kNotFound: return 404;
    case absl::StatusCode::kAlreadyExists: return 409;
    case absl::StatusCode::kAborted: return 409;
    case absl::StatusCode::kFailedPrecondition: return 409;
    case absl::StatusCode::kResourceExhausted: return 429;
    case absl::StatusCode::kCancelled: return 499;
    case absl::StatusCode::kUnimplemented: return 501;
    case absl::StatusCode::kUnavailable: return 503;
    case absl::StatusCode::kDeadlineExceeded: return 504;
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kDataLoss:
    default: return 500;
  }
}

std::string ErrorJson(absl::StatusCode code, int http_status, std::string_view message) {
  std::string out = "{\"error\":{\"code\":";
  std::string name = absl::StatusCodeToString(code);
  AppendJsonString(&out, name);
  absl::StrAppend(&out, ",\"http_status\":", http_status, ",\"message\":");
  AppendJsonString(&out, message);
  out.append("}}");
  return out;
}

}  // namespace trunkroute::http
