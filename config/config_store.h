#ifndef TRUNKROUTE_CONFIG_CONFIG_STORE_H_
#define TRUNKROUTE_CONFIG_CONFIG_STORE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "trunkroute/v1/config.pb.h"

namespace trunkroute::config {

// A config document as a store holds it, with the store's revision of it: an opaque token that
// only the store that returned it interprets (the file store: the config version; etcd: the
// key's mod_revision). Writes are compare-and-swap on it.
struct StoredConfig {
  v1::Config config;
  uint64_t revision = 0;
};

// Where the serving config is kept durably. ConfigManager writes through this interface and does
// not know which store it is: the embedded file store (FileConfigStore, the default) or a shared
// store that several instances write (etcd).
//
// Thread-safety: implementations are safe to call from any thread; ConfigManager serialises its
// own writes.
class ConfigStore {
 public:
  // Revision meaning "nothing stored yet": Save with it is create-if-absent.
  static constexpr uint64_t kNoRevision = 0;

  virtual ~ConfigStore() = default;

  // nullopt when no config has been stored yet. DataLoss naming the document when it cannot be
  // parsed (the caller must stop rather than start empty); Unavailable when the store cannot be
  // reached.
  virtual absl::StatusOr<std::optional<StoredConfig>> Load() = 0;

  // Durably replaces the stored config with `config` if the store still holds `base_revision`
  // (kNoRevision: only if nothing is stored yet). Returns the new revision once the write is
  // committed (fsynced, or acknowledged by a quorum). Aborted when the stored revision moved on
  // (another writer won: nothing was written); Unavailable when the store cannot be reached (the
  // write may or may not have happened: a later Load tells); Internal for local I/O failures. On
  // any error the previously stored config is intact.
  virtual absl::StatusOr<uint64_t> Save(const v1::Config& config, uint64_t base_revision) = 0;

  // For logs and errors, e.g. "file ./data/config.json" or "etcd /trunkroute/default/config".
  virtual std::string Describe() const = 0;
};

// What LoadOrSeed did.
struct SeededConfig {
  StoredConfig stored;
  bool seeded = false;  // this call stored `seed` (the store was empty)
};

// The config to serve at start-up: the stored one; or, when the store is empty, `seed()` stored
// with create-if-absent (version 1, applied now). When another writer seeds first (Aborted), its
// config is loaded and served instead, so instances starting together end up on one config.
// `seed` returns the bootstrap config or an error (e.g. an unreadable --bootstrap-config file);
// a seed that does not validate is InvalidArgument listing every problem, and is not stored.
absl::StatusOr<SeededConfig> LoadOrSeed(ConfigStore& store, int64_t now_unix_ms,
                                        const std::function<absl::StatusOr<v1::Config>()>& seed);

// Parses a config document into `config`: the parse error alone (InvalidArgument), for callers
// that add their own context.
absl::Status ParseConfigInto(const std::string& text, v1::Config* config);
// Parses a config document (protobuf JSON mapping; unknown fields rejected) — used for
// --bootstrap-config, by the stores and by the CLI. InvalidArgument naming `source` and the parse
// error.
absl::StatusOr<v1::Config> ParseConfigJson(const std::string& text, const std::string& source);
// Serialises (pretty JSON, enum names, defaults omitted). Includes passwords: only for stores.
std::string ConfigToJson(const v1::Config& config);

}  // namespace trunkroute::config

#endif  // TRUNKROUTE_CONFIG_CONFIG_STORE_H_
