#ifndef TRUNKROUTE_CONFIG_FILE_OPS_H_
#define TRUNKROUTE_CONFIG_FILE_OPS_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace trunkroute::config {

// The file-system calls with which FileConfigStore writes its file, one virtual call per step, so
// that a test can record their order and fail any of them (tests/support/recording_file_ops.h).
// The daemon uses RealFileOps() (POSIX). Errors are InternalError naming the step, the path and
// the errno text ("fsync /data/config.json.tmp: Input/output error").
class FileOps {
 public:
  virtual ~FileOps() = default;

  // Opens `path` for writing: created with mode 0600, or truncated (and its mode set to 0600: a
  // stray file from an older run may have another). Returns the file descriptor.
  virtual absl::StatusOr<int> CreateTruncated(const std::string& path) = 0;
  // Writes all of `data` to `fd` (partial writes and EINTR are retried). `path` names it in errors.
  virtual absl::Status WriteAll(int fd, std::string_view data, const std::string& path) = 0;
  // fsync(2) of an open file: its data is on the disk once this returns OK.
  virtual absl::Status Fsync(int fd, const std::string& path) = 0;
  virtual absl::Status Close(int fd, const std::string& path) = 0;
  // rename(2): atomic replacement of `to` within one file system.
  virtual absl::Status Rename(const std::string& from, const std::string& to) = 0;
  // fsync(2) of the directory itself: a rename in it is durable only once this returns OK.
  virtual absl::Status FsyncDir(const std::string& dir) = 0;
  // Best-effort unlink(2) (a missing file is not an error).
  virtual void Unlink(const std::string& path) = 0;
};

// The POSIX implementation; stateless, lives as long as the process.
FileOps& RealFileOps();

// Replaces `path` (in directory `dir`) with `data`, crash-safe: `path`.tmp written and fsynced,
// renamed over `path`, then `dir` fsynced. A crash at any point leaves the old file or the new
// one, whole. OK only once all of it is done; on an error before the rename the temp file is
// removed. Every step goes through `ops`.
inline constexpr char kDurableTempSuffix[] = ".tmp";  // WriteFileDurably's temp file: path + this
absl::Status WriteFileDurably(FileOps& ops, const std::string& dir, const std::string& path,
                              std::string_view data);

}  // namespace trunkroute::config

#endif  // TRUNKROUTE_CONFIG_FILE_OPS_H_
