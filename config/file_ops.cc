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

absl::Status WriteFileDurably(FileOps& ops, const std::string& dir, const std::string& path,
                              std::string_view data) {
  // The temp file is in the same directory: rename is atomic only within one file system. A
  // crash between write and rename leaves it behind; the next write truncates and reuses it.
  const std::string tmp = absl::StrCat(path, kDurableTempSuffix);
  absl::StatusOr<int> fd = ops.CreateTruncated(tmp);
  if (!fd.ok()) return fd.status();
  // The order is the crash-safety argument: the new bytes are on the disk (fsync) before the
  // name points at them (rename), and the name is on the disk (directory fsync) before the
  // caller hears OK. A crash before the rename leaves the old file; after it, the new one, whole.
  absl::Status st = ops.WriteAll(*fd, data, tmp);
  if (st.ok()) st = ops.Fsync(*fd, tmp);
  if (absl::Status closed = ops.Close(*fd, tmp); st.ok()) st = closed;
  if (st.ok()) st = ops.Rename(tmp, path);
  if (!st.ok()) {
    ops.Unlink(tmp);
    return st;
  }
  // The rename is durable only once the directory entry is: until then a crash may bring back
  // the old file.
  return ops.FsyncDir(dir);
}

}  // namespace trunkroute::config
