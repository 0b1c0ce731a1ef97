#include "common/secret_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace trunkroute {
namespace {

std::string ModeText(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

}  // namespace

absl::Status CheckSecretFileMode(const std::string& path, const struct stat& st, uid_t euid) {
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(path, ": not a regular file"));
  }
  const mode_t perms = st.st_mode & 07777;
  const std::string mode = ModeText(perms);
  if (st.st_uid == euid) {
    if ((perms & 0077) != 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          path, ": mode ", mode, " lets ", (perms & 0007) != 0 ? "others" : "its group",
          " access it; a secret file must be readable by its owner only (chmod 600 ", path, ")"));
    }
    return absl::OkStatus();
  }
  if (st.st_uid == 0) {
    if ((perms & 0007) != 0 || (perms & 0030) != 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          path, ": mode ", mode, " lets ", (perms & 0007) != 0 ? "others" : "its group",
          " access it beyond reading; a root-owned secret file may be at most 0640 (chmod 640 ",
          path, ")"));
    }
    return absl::OkStatus();
  }
  return absl::FailedPreconditionError(
      absl::StrCat(path, ": owned by uid ", st.st_uid, ", neither the daemon's user (uid ", euid,
                   ") nor root; a secret file must be owned by one of them"));
}

absl::StatusOr<std::string> ReadSecretFile(const std::string& path, std::string_view what) {
  const std::string flag(what);
  // Opened first, then checked with fstat: the mode checked is the mode of the file read.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::FailedPreconditionError(absl::StrCat(flag, " ", path, ": ", std::strerror(errno)));
  }
  struct stat st {};
  absl::Status mode =
      ::fstat(fd, &st) == 0
          ? CheckSecretFileMode(path, st, ::geteuid())
          : absl::FailedPreconditionError(absl::StrCat(path, ": ", std::strerror(errno)));
  if (!mode.ok()) {
    ::close(fd);
    return absl::FailedPreconditionError(absl::StrCat(flag, " ", mode.message()));
  }
  std::string text;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return absl::FailedPreconditionError(absl::StrCat(flag, " ", path, ": ", std::strerror(err)));
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > (1 << 20)) {
      ::close(fd);
      return absl::FailedPreconditionError(
          absl::StrCat(flag, " ", path, ": larger than 1 MiB; not a token file"));
    }
  }
  ::close(fd);
  return text;
}

}  // namespace trunkroute
