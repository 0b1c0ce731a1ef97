#ifndef TRUNKROUTE_CONFIG_CONFIG_MANAGER_H_
#define TRUNKROUTE_CONFIG_CONFIG_MANAGER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "config/config_store.h"
#include "router/routing_table.h"

namespace trunkroute::config {

// Owns the serving config. Readers (RouteCall, the SIP thread) take Current(): one atomic load
// of an immutable RoutingTable, never a lock. Writers are serialised: copy the config, mutate,
// validate whole, compile, persist durably, then swap and notify listeners. Any failure before
// the swap changes nothing (the old table keeps serving and the file on disk is untouched).
class ConfigManager {
 public:
  // `store` may be null (tests without persistence). With a store, `initial` is what it holds at
  // `revision` (from ConfigStore::Load or LoadOrSeed): the manager never writes it again, and its
  // first Update is a compare-and-swap on that revision. `initial` is validated and compiled;
  // version 0 becomes 1.
  static absl::StatusOr<std::unique_ptr<ConfigManager>> Create(
      ConfigStore* store, Clock* clock, v1::Config initial,
      uint64_t revision = ConfigStore::kNoRevision);

  std::shared_ptr<const router::RoutingTable> Current() const {
    return current_.load(std::memory_order_acquire);
  }

  struct UpdateResult {
    std::shared_ptr<const router::RoutingTable> table;  // the new table (or, dry run, candidate)
    bool applied = false;
    std::vector<std::string> changes;  // human summary, e.g. "trunk 'b' added"
  };
  // Applies `mutate` to a copy of the current config. expected_version != 0 and different from
  // the current version → Aborted. mutate's own error is returned as is. Validation failures →
  // InvalidArgument listing every problem. A mutation that changes nothing still succeeds but
  // does not bump the version. The store's errors are returned as they are: Aborted when another
  // writer changed the stored config since this one was read (nothing written, nothing served),
  // Unavailable when the store cannot be reached. OK means the store committed the change and it
  // serves here.
  absl::StatusOr<UpdateResult> Update(uint64_t expected_version,
                                      absl::FunctionRef<absl::Status(v1::Config&)> mutate,
                                      bool dry_run = false);

  // A config another writer stored (a shared store's watch): validated and compiled like a write
  // of ours, then it serves and listeners are told. Only a revision newer than the one serving
  // is applied: false (nothing done) for the echo of our own write or anything older. A config
  // that does not validate is InvalidArgument listing every problem: the old table keeps
  // serving, but `stored.revision` still becomes the base of our next write, so that a write
  // through the API replaces a bad document instead of failing its compare-and-swap for ever.
  absl::StatusOr<bool> Follow(const StoredConfig& stored);
  // A document at `revision` that could not even be parsed: the same as a refused Follow.
  void SkipRevision(uint64_t revision, uint64_t version_hint = 0);

  // The store revision of the serving config (the base of the next write).
  uint64_t revision() const;

  // Called (on the writer's thread, after the swap, in registration order) with every new table.
  using Listener = std::function<void(const std::shared_ptr<const router::RoutingTable>&)>;
  void AddListener(Listener listener);

 private:
  ConfigManager(ConfigStore* store, Clock* clock, uint64_t revision)
      : store_(store), clock_(clock), revision_(revision) {}

  ConfigStore* const store_;
  Clock* const clock_;
  mutable absl::Mutex write_mu_;
  // Swaps in `table` and tells the listeners.
  void ServeLocked(std::shared_ptr<const router::RoutingTable> table)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);

  // The store's revision of the serving config: the base of the next compare-and-swap.
  uint64_t revision_ ABSL_GUARDED_BY(write_mu_);
  // The highest version seen in the store (a refused document may carry one above ours): the
  // next write's version is above it, so versions never go back.
  uint64_t version_floor_ ABSL_GUARDED_BY(write_mu_) = 0;
  std::vector<Listener> listeners_ ABSL_GUARDED_BY(write_mu_);
  std::atomic<std::shared_ptr<const router::RoutingTable>> current_;
};

// Copies a config for output with every secret removed (passwords cleared, has_password set).
v1::Config RedactConfig(const v1::Config& config);
v1::Trunk RedactTrunk(const v1::Trunk& trunk);
// Write-only passwords: for each trunk in `next` with an empty password and clear_password
// unset, keep the password the same trunk id has in `prev`; clear the input-only flags.
void CarryOverSecrets(const v1::Config& prev, v1::Config* next);

}  // namespace trunkroute::config

#endif  // TRUNKROUTE_CONFIG_CONFIG_MANAGER_H_
