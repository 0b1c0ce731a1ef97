#include "config/file_ops.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"

namespace trunkroute::config {
namespace {

absl::Status ErrnoError(const char* step, const std::string& path, int err) {
  return absl::InternalError(absl::StrCat(step, " ", path, ": ", std::strerror(err)));
}

class PosixFileOps final : public FileOps {
 public:
  absl::StatusOr<int> CreateTruncated(const std::string& path) override {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return ErrnoError("creating", path, errno);
    // O_CREAT's mode applies only to new files.
    if (::fchmod(fd, 0600) != 0) {
      int err = errno;
      ::close(fd);
      return ErrnoError("chmod", path, err);
    }
    return fd;
  }

  absl::Status WriteAll(int fd, std::string_view data, const std::string& path) override {
    // One write(2) may be partial; loop until everything is on its way to the disk.
    while (!data.empty()) {
      ssize_t n = ::write(fd, data.data(), data.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoError("writing", path, errno);
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
    return absl::OkStatus();
  }

  absl::Status Fsync(int fd, const std::string& path) override {
    if (::fsync(fd) != 0) return ErrnoError("fsync", path, errno);
    return absl::OkStatus();
  }

  absl::Status Close(int fd, const std::string& path) override {
    if (::close(fd) != 0) return ErrnoError("closing", path, errno);
    return absl::OkStatus();
  }

  absl::Status Rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) {
      return ErrnoError("renaming", absl::StrCat(from, " to ", to), errno);
    }
    return absl::OkStatus();
  }

  absl::Status FsyncDir(const std::string& dir) override {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return ErrnoError("opening", dir, errno);
    int rc = ::fsync(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0) return ErrnoError("fsync", dir, err);
    return absl::OkStatus();
  }

  void Unlink(const std::string& path) override { ::unlink(path.c_str()); }
};

}  // namespace

FileOps& RealFileOps() {
  static PosixFileOps* ops = new PosixFileOps();  // never destroyed: usable during exit
  return *ops;
}

}  // namespace trunkroute::config
