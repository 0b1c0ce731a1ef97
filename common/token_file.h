#ifndef TRUNKROUTE_COMMON_TOKEN_FILE_H_
#define TRUNKROUTE_COMMON_TOKEN_FILE_H_

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace trunkroute {

// A bearer token kept in a file (a Kubernetes Secret mount, a systemd credential): its first
// line, without the line end and trailing blanks. The error names the file and the reason, never
// the content. An empty token is an error: a file meant to hold a token that holds none is a
// deployment mistake, not "no token".
inline absl::StatusOr<std::string> ReadTokenFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::FailedPreconditionError(absl::StrCat(path, ": ", std::strerror(errno)));
  }
  std::string token;
  std::getline(in, token);
  while (!token.empty() && (token.back() == '\r' || token.back() == ' ' || token.back() == '\t')) {
    token.pop_back();
  }
  if (token.empty()) return absl::FailedPreconditionError(absl::StrCat(path, ": empty token"));
  return token;
}

}  // namespace trunkroute

#endif  // TRUNKROUTE_COMMON_TOKEN_FILE_H_
