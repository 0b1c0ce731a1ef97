#include "config/config_manager.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/log.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/message_differencer.h"

namespace trunkroute::config {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::util::MessageDifferencer;

// Names of the top-level fields that differ between two messages of one type. Values are never
// part of the summary (the password field must show up as "password", not its content).
std::vector<std::string> ChangedFields(const Message& a, const Message& b) {
  std::vector<std::string> out;
  const auto* desc = a.GetDescriptor();
  for (int i = 0; i < desc->field_count(); ++i) {
    const FieldDescriptor* field = desc->field(i);
    MessageDifferencer diff;
    std::vector<const FieldDescriptor*> only = {field};
    diff.set_scope(MessageDifferencer::FULL);
    if (!diff.CompareWithFields(a, b, only, only)) out.push_back(field->name());
  }
  return out;
}

template <typename T>
void DiffById(const char* kind, const google::protobuf::RepeatedPtrField<T>& before,
              const google::protobuf::RepeatedPtrField<T>& after,
              std::vector<std::string>* changes) {
  absl::flat_hash_map<std::string, const T*> old_by_id;
  for (const T& item : before) old_by_id[item.id()] = &item;
  absl::flat_hash_map<std::string, const T*> new_by_id;
  for (const T& item : after) new_by_id[item.id()] = &item;
  for (const T& item : after) {
    auto it = old_by_id.find(item.id());
    if (it == old_by_id.end()) {
      changes->push_back(absl::StrCat(kind, " '", item.id(), "' added"));
      continue;
    }
    std::vector<std::string> fields = ChangedFields(*it->second, item);
    if (!fields.empty()) {
      changes->push_back(
          absl::StrCat(kind, " '", item.id(), "' changed: ", absl::StrJoin(fields, ", ")));
    }
  }
  for (const T& item : before) {
    if (!new_by_id.contains(item.id())) {
      changes->push_back(absl::StrCat(kind, " '", item.id(), "' removed"));
    }
  }
}

// Human summary of a config change: what ApplyConfig returns and what the change log line says.
std::vector<std::string> Summarize(const v1::Config& before, const v1::Config& after) {
  std::vector<std::string> changes;
  DiffById("trunk", before.trunks(), after.trunks(), &changes);
  DiffById("route", before.routes(), after.routes(), &changes);
  auto section = [&](const char* name, const Message& a, const Message& b) {
    std::vector<std::string> fields = ChangedFields(a, b);
    if (!fields.empty()) {
      changes.push_back(absl::StrCat(name, " changed: ", absl::StrJoin(fields, ", ")));
    }
  };
  section("failover_policy", before.failover_policy(), after.failover_policy());
  section("health_policy", before.health_policy(), after.health_policy());
  section("edge", before.edge(), after.edge());
  return changes;
}

// Equality of what the operator controls (version and apply time are the server's).
bool SameContent(const v1::Config& a, const v1::Config& b) {
  v1::Config x = a;
  v1::Config y = b;
  x.clear_version();
  y.clear_version();
  x.clear_applied_at_unix_ms();
  y.clear_applied_at_unix_ms();
  return MessageDifferencer::Equals(x, y);
}

}  // namespace

absl::StatusOr<std::unique_ptr<ConfigManager>> ConfigManager::Create(ConfigStore* store,
                                                                     Clock* clock,
                                                                     v1::Config initial,
                                                                     uint64_t revision) {
  if (initial.version() == 0) initial.set_version(1);
  if (initial.applied_at_unix_ms() == 0) initial.set_applied_at_unix_ms(clock->WallUnixMs());
  // Input-only flags never belong in the serving config.
  for (v1::Trunk& trunk : *initial.mutable_trunks()) {
    trunk.clear_has_password();
    trunk.clear_clear_password();
  }
  auto table = router::RoutingTable::Create(initial);
  if (!table.ok()) return table.status();
  auto manager = std::unique_ptr<ConfigManager>(new ConfigManager(store, clock, revision));
  {
    absl::MutexLock lock(&manager->write_mu_);
    manager->version_floor_ = (*table)->version();
  }
  manager->current_.store(*std::move(table), std::memory_order_release);
  return manager;
}

absl::StatusOr<ConfigManager::UpdateResult> ConfigManager::Update(
    uint64_t expected_version, absl::FunctionRef<absl::Status(v1::Config&)> mutate, bool dry_run) {
  absl::MutexLock lock(&write_mu_);
  std::shared_ptr<const router::RoutingTable> current = Current();
  const uint64_t version = current->version();
  if (expected_version != 0 && expected_version != version) {
    return absl::AbortedError(
        absl::StrCat("expected version ", expected_version, ", current is ", version));
  }
  v1::Config next = current->config();
  if (absl::Status st = mutate(next); !st.ok()) return st;
  next.set_version(version);
  next.set_applied_at_unix_ms(current->config().applied_at_unix_ms());
  for (v1::Trunk& trunk : *next.mutable_trunks()) {
    trunk.clear_has_password();
    trunk.clear_clear_password();
  }

  UpdateResult result;
  if (SameContent(current->config(), next)) {
    result.table = current;
    return result;
  }
  const uint64_t next_version = std::max(version, version_floor_) + 1;
  next.set_version(next_version);
  next.set_applied_at_unix_ms(clock_->WallUnixMs());
  // Create validates the whole config and compiles every pattern: nothing below runs for a
  // config that would not serve.
  auto table = router::RoutingTable::Create(next);
  if (!table.ok()) return table.status();
  result.table = *std::move(table);
  result.changes = Summarize(current->config(), next);
  if (dry_run) return result;

  // Durable before visible: if the write fails, the old table keeps serving and the old file is
  // intact, so a restart sees exactly what clients were told.
  if (store_ != nullptr) {
    auto revision = store_->Save(next, revision_);
    if (!revision.ok()) {
      LogError(
          "config write failed; change not applied",
          {{"store", store_->Describe()}, {"error", std::string(revision.status().message())}});
      return revision.status();
    }
    revision_ = *revision;
  }
  result.applied = true;
  std::string version_text = absl::StrCat(next_version);
  std::string summary = absl::StrJoin(result.changes, "; ");
  LogInfo("config applied", {{"version", version_text}, {"changes", summary}});
  ServeLocked(result.table);
  return result;
}

void ConfigManager::ServeLocked(std::shared_ptr<const router::RoutingTable> table) {
  version_floor_ = std::max(version_floor_, table->version());
  current_.store(table, std::memory_order_release);
  for (const Listener& listener : listeners_) listener(table);
}

absl::StatusOr<bool> ConfigManager::Follow(const StoredConfig& stored) {
  absl::MutexLock lock(&write_mu_);
  if (stored.revision <= revision_) return false;
  revision_ = stored.revision;
  version_floor_ = std::max(version_floor_, stored.config.version());
  std::shared_ptr<const router::RoutingTable> current = Current();
  v1::Config next = stored.config;
  for (v1::Trunk& trunk : *next.mutable_trunks()) {
    trunk.clear_has_password();
    trunk.clear_clear_password();
  }
  if (next.version() == 0) next.set_version(version_floor_);
  auto table = router::RoutingTable::Create(next);
  if (!table.ok()) {
    LogError("stored config refused; the previous one keeps serving",
             {{"store", store_ != nullptr ? store_->Describe() : std::string("none")},
              {"revision", absl::StrCat(stored.revision)},
              {"version", absl::StrCat(stored.config.version())},
              {"error", std::string(table.status().message())}});
    return table.status();
  }
  const std::vector<std::string> changes = Summarize(current->config(), next);
  LogInfo("config applied",
          {{"version", absl::StrCat(next.version())},
           {"changes", absl::StrJoin(changes, "; ")},
           {"from", store_ != nullptr ? store_->Describe() : std::string("store")}});
  ServeLocked(*std::move(table));
  return true;
}

void ConfigManager::SkipRevision(uint64_t revision, uint64_t version_hint) {
  absl::MutexLock lock(&write_mu_);
  revision_ = std::max(revision_, revision);
  version_floor_ = std::max(version_floor_, version_hint);
}

uint64_t ConfigManager::revision() const {
  absl::MutexLock lock(&write_mu_);
  return revision_;
}

void ConfigManager::AddListener(Listener listener) {
  absl::MutexLock lock(&write_mu_);
  listeners_.push_back(std::move(listener));
}

v1::Trunk RedactTrunk(const v1::Trunk& trunk) {
  v1::Trunk out = trunk;
  out.set_has_password(!trunk.password().empty());
  out.clear_password();
  out.clear_clear_password();
  return out;
}

v1::Config RedactConfig(const v1::Config& config) {
  v1::Config out = config;
  for (v1::Trunk& trunk : *out.mutable_trunks()) trunk = RedactTrunk(trunk);
  return out;
}

void CarryOverSecrets(const v1::Config& prev, v1::Config* next) {
  absl::flat_hash_map<std::string, const v1::Trunk*> prev_by_id;
  for (const v1::Trunk& trunk : prev.trunks()) prev_by_id[trunk.id()] = &trunk;
  for (v1::Trunk& trunk : *next->mutable_trunks()) {
    // Field `clear_password` and the clearer of `password` share a name: the const overload is
    // the flag, the non-const one clears the password.
    if (std::as_const(trunk).clear_password()) {
      trunk.clear_password();
    } else if (trunk.password().empty()) {
      auto it = prev_by_id.find(trunk.id());
      if (it != prev_by_id.end()) trunk.set_password(it->second->password());
    }
    trunk.clear_clear_password();
    trunk.clear_has_password();
  }
}

}  // namespace trunkroute::config
