#include "config/file_config_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <optional>
#include <string_view>

#include "absl/strings/str_cat.h"

namespace trunkroute::config {
namespace {

// WriteFileDurably's temp file (<name>.tmp) left behind by a crash between write and rename: the
// next Save truncates and reuses it, and Open removes it, so it never accumulates or gets loaded.
constexpr char kLockName[] = ".trunkroute.lock";

std::string ErrnoText(int err) { return std::strerror(err); }

}  // namespace

FileConfigStore::~FileConfigStore() {
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

absl::StatusOr<std::unique_ptr<FileConfigStore>> FileConfigStore::Open(
    const std::string& data_dir, const std::string& file_name, FileOps& ops) {
  if (data_dir.empty()) return absl::InvalidArgumentError("data directory: empty path");
  if (file_name.empty() || file_name.find('/') != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("config file name '", file_name, "': must be a plain file name"));
  }
  struct stat st {};
  if (::stat(data_dir.c_str(), &st) != 0) {
    if (errno != ENOENT) {
      return absl::FailedPreconditionError(
          absl::StrCat("data directory ", data_dir, ": ", ErrnoText(errno)));
    }
    // Only the last component is created: a missing parent usually means a typo in the flag.
    if (::mkdir(data_dir.c_str(), 0700) != 0 && errno != EEXIST) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot create data directory ", data_dir, ": ", ErrnoText(errno)));
    }
    if (::stat(data_dir.c_str(), &st) != 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("data directory ", data_dir, ": ", ErrnoText(errno)));
    }
  }
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("data directory ", data_dir, ": not a directory"));
  }
  if (::access(data_dir.c_str(), R_OK | W_OK | X_OK) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "data directory ", data_dir, " is not readable and writable: ", ErrnoText(errno)));
  }
  // The lock file both proves we can create files here (access() says yes to root even on a
  // read-only mount) and keeps a second trunkrouted off the same data directory.
  std::string lock_path = absl::StrCat(data_dir, "/", kLockName);
  int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd < 0) {
    return absl::FailedPreconditionError(absl::StrCat("data directory ", data_dir,
                                                      " is not writable: creating ", lock_path,
                                                      ": ", ErrnoText(errno)));
  }
  if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    ::close(lock_fd);
    if (err == EWOULDBLOCK) {
      return absl::FailedPreconditionError(absl::StrCat("data directory ", data_dir,
                                                        " is in use by another trunkrouted (",
                                                        lock_path, " is locked)"));
    }
    return absl::FailedPreconditionError(absl::StrCat("locking ", lock_path, ": ", ErrnoText(err)));
  }
  auto store = std::unique_ptr<FileConfigStore>(
      new FileConfigStore(data_dir, absl::StrCat(data_dir, "/", file_name), lock_fd, ops));
  // Leftover from a crash between write and rename: the old file is still whole.
  ops.Unlink(absl::StrCat(store->path_, kDurableTempSuffix));
  return store;
}

absl::StatusOr<std::optional<StoredConfig>> FileConfigStore::Load() {
  int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<StoredConfig>();
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read config file ", path_, ": ", ErrnoText(errno)));
  }
  std::string text;
  char buf[64 * 1024];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return absl::FailedPreconditionError(
          absl::StrCat("cannot read config file ", path_, ": ", ErrnoText(err)));
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  // An empty file (what a crash leaves on file systems that kept the rename but lost the data)
  // is corrupt too: it must not read as "no config yet".
  v1::Config config;
  if (absl::Status st = ParseConfigInto(text, &config); !st.ok()) {
    return absl::DataLossError(absl::StrCat(
        "config file ", path_, " is corrupt: ", st.message(),
        " (the file is left untouched; restore it from a backup or remove it to start from the "
        "bootstrap config)"));
  }
  absl::MutexLock lock(&mu_);
  revision_ = config.version();
  return std::optional<StoredConfig>(StoredConfig{std::move(config), revision_});
}

absl::StatusOr<uint64_t> FileConfigStore::Save(const v1::Config& config, uint64_t base_revision) {
  absl::MutexLock lock(&mu_);
  // One process owns the file, so a mismatch is a caller's bug (a write built from a config this
  // store never held), refused like a lost race rather than written over.
  if (base_revision != revision_) {
    return absl::AbortedError(absl::StrCat("config ", path_, " is at version ", revision_,
                                           ", the change was built on version ", base_revision));
  }
  if (absl::Status st = WriteFile(config); !st.ok()) return st;
  revision_ = config.version();
  return revision_;
}

absl::Status FileConfigStore::Overwrite(const v1::Config& config) {
  absl::MutexLock lock(&mu_);
  if (absl::Status st = WriteFile(config); !st.ok()) return st;
  revision_ = config.version();
  return absl::OkStatus();
}

std::string FileConfigStore::Describe() const { return absl::StrCat("file ", path_); }

absl::Status FileConfigStore::WriteFile(const v1::Config& config) {
  // OK only once the change survives a crash: Save acknowledges nothing before that.
  return WriteFileDurably(ops_, dir_, path_, ConfigToJson(config));
}

}  // namespace trunkroute::config
