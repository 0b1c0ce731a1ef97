#ifndef TRUNKROUTE_CONFIG_FILE_CONFIG_STORE_H_
#define TRUNKROUTE_CONFIG_FILE_CONFIG_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "config/config_store.h"
#include "config/file_ops.h"
#include "trunkroute/v1/config.pb.h"

namespace trunkroute::config {

// The durable embedded store: one file, <data_dir>/<name> (protobuf JSON mapping, version
// included), mode 0600. Writes are crash-safe: temp file in the same directory, fsync, rename
// over the old file, fsync the directory; a crash at any point leaves the old or the new file
// whole. A corrupt file is reported and never overwritten by Load.
//
// The revision is the config version. One process owns the directory (an exclusive lock), so the
// compare-and-swap of Save only checks `base_revision` against what this store last loaded or
// wrote.
class FileConfigStore final : public ConfigStore {
 public:
  static constexpr char kDefaultFileName[] = "config.json";

  // Creates the directory (0700) if missing. FailedPrecondition (naming the path and errno text)
  // when it is not a writable directory, or when another process holds its lock (an exclusive
  // flock on <data_dir>/.trunkroute.lock, released when the store is destroyed). `file_name`
  // other than the default: the etcd mode's local cache. `ops` does every step of a write (tests
  // pass a recording or failing one); it must outlive the store.
  static absl::StatusOr<std::unique_ptr<FileConfigStore>> Open(
      const std::string& data_dir, const std::string& file_name = kDefaultFileName,
      FileOps& ops = RealFileOps());
  ~FileConfigStore() override;
  FileConfigStore(const FileConfigStore&) = delete;
  FileConfigStore& operator=(const FileConfigStore&) = delete;

  absl::StatusOr<std::optional<StoredConfig>> Load() override;
  absl::StatusOr<uint64_t> Save(const v1::Config& config, uint64_t base_revision) override;
  std::string Describe() const override;

  // Writes `config` whatever the last revision was (a cache that mirrors another store).
  absl::Status Overwrite(const v1::Config& config);

  const std::string& path() const { return path_; }

 private:
  FileConfigStore(std::string dir, std::string path, int lock_fd, FileOps& ops)
      : dir_(std::move(dir)), path_(std::move(path)), lock_fd_(lock_fd), ops_(ops) {}
  // Temp file, fsync, rename over path_, fsync the directory: OK only once all four are done.
  absl::Status WriteFile(const v1::Config& config) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string dir_;
  const std::string path_;
  const int lock_fd_ = -1;
  FileOps& ops_;
  absl::Mutex mu_;
  // The revision this store last loaded or wrote; kNoRevision before either.
  uint64_t revision_ ABSL_GUARDED_BY(mu_) = kNoRevision;
};

}  // namespace trunkroute::config

#endif  // TRUNKROUTE_CONFIG_FILE_CONFIG_STORE_H_
