#ifndef TRUNKROUTE_CONFIG_CONFIG_STORE_H_
#define TRUNKROUTE_CONFIG_CONFIG_STORE_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "trunkroute/v1/config.pb.h"

namespace trunkroute::config {

// The durable embedded store: one file, <data_dir>/config.json (protobuf JSON mapping, version
// included), mode 0600. Writes are crash-safe: temp file in the same directory, fsync, rename
// over the old file, fsync the directory; a crash at any point leaves the old or the new file
// whole. A corrupt file is reported and never overwritten by Load.
class ConfigStore {
 public:
  // Creates the directory (0700) if missing. FailedPrecondition (naming the path and errno text)
  // when it is not a writable directory.
  // Also takes an exclusive lock on the directory (FailedPrecondition when another process
  // holds it), released when the store is destroyed.
  static absl::StatusOr<std::unique_ptr<ConfigStore>> Open(const std::string& data_dir);
  ~ConfigStore();
  ConfigStore(const ConfigStore&) = delete;
  ConfigStore& operator=(const ConfigStore&) = delete;

  // nullopt when no config has been stored yet. DataLoss naming the file and the parse error
  // when the file is corrupt (the caller must stop rather than start empty).
  absl::StatusOr<std::optional<v1::Config>> Load() const;

  // Durably replaces the stored config. On error the previous file is intact.
  absl::Status Save(const v1::Config& config);

  const std::string& path() const { return path_; }

 private:
  ConfigStore(std::string dir, std::string path, int lock_fd)
      : dir_(std::move(dir)), path_(std::move(path)), lock_fd_(lock_fd) {}
  std::string dir_;
  std::string path_;
  int lock_fd_ = -1;
};

// Parses a config document (protobuf JSON mapping; unknown fields rejected) — used for
// --bootstrap-config and by the CLI. InvalidArgument naming `source` and the parse error.
absl::StatusOr<v1::Config> ParseConfigJson(const std::string& text, const std::string& source);
// Serialises (pretty JSON, enum names, defaults omitted). Includes passwords: only for the store.
std::string ConfigToJson(const v1::Config& config);

}  // namespace trunkroute::config

#endif  // TRUNKROUTE_CONFIG_CONFIG_STORE_H_
