#ifndef TRUNKROUTE_COMMON_SECRET_FILE_H_
#define TRUNKROUTE_COMMON_SECRET_FILE_H_

#include <sys/stat.h>
#include <sys/types.h>

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace trunkroute {

// Whether a secret file (token files, TLS private keys) may be used, given its stat() and the
// daemon's effective uid. The rule is PostgreSQL's for its server key: a regular file, either
// owned by the daemon's user with no group or other permission (0600, 0400), or owned by root
// with at most group read (0640, 0440: Kubernetes Secret volumes with fsGroup, files under a
// root-owned /etc shared with the daemon's group). Others never get any bit.
// FailedPrecondition naming `path`, its mode (and owner), and the chmod that fixes it.
absl::Status CheckSecretFileMode(const std::string& path, const struct stat& st, uid_t euid);

// Opens `path`, checks it with CheckSecretFileMode (on the opened file: the file checked is the
// file read) and reads it whole (at most 1 MiB). FailedPrecondition "WHAT PATH: reason", where
// `what` is the flag the path came from.
absl::StatusOr<std::string> ReadSecretFile(const std::string& path, std::string_view what);

}  // namespace trunkroute

#endif  // TRUNKROUTE_COMMON_SECRET_FILE_H_
