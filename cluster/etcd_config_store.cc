#include "cluster/etcd_config_store.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace trunkroute::cluster {

EtcdLayout::EtcdLayout(std::string p)
    : prefix(std::move(p)),
      config_key(prefix + "/config"),
      instances_dir(prefix + "/instances/"),
      watch_from(prefix + "/") {}

absl::Status ValidateEtcdPrefix(const std::string& prefix) {
  if (prefix.empty() || prefix[0] != '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("--etcd-prefix '", prefix, "': must start with '/' (e.g. /trunkroute/prod)"));
  }
  if (prefix.size() > 1 && prefix.back() == '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("--etcd-prefix '", prefix, "': must not end with '/'"));
  }
  for (absl::string_view segment : absl::StrSplit(absl::string_view(prefix).substr(1), '/')) {
    if (segment.empty() || segment == "." || segment == "..") {
      return absl::InvalidArgumentError(
          absl::StrCat("--etcd-prefix '", prefix, "': empty, '.' or '..' path segment"));
    }
  }
  return absl::OkStatus();
}

EtcdConfigStore::EtcdConfigStore(EtcdClient* client, EtcdLayout layout, ClusterObserver* observer)
    : client_(client), layout_(std::move(layout)), observer_(observer) {}

std::string EtcdConfigStore::Describe() const {
  return absl::StrCat(client_->Describe(), " key ", layout_.config_key);
}

absl::StatusOr<config::StoredConfig> EtcdConfigStore::Parse(const KeyValue& kv) const {
  v1::Config config;
  if (absl::Status st = config::ParseConfigInto(kv.value, &config); !st.ok()) {
    return absl::DataLossError(absl::StrCat("etcd key ", layout_.config_key, " at revision ",
                                            kv.mod_revision, " is not a config: ", st.message()));
  }
  return config::StoredConfig{std::move(config), static_cast<uint64_t>(kv.mod_revision)};
}

absl::StatusOr<std::optional<config::StoredConfig>> EtcdConfigStore::Load() {
  int64_t header = 0;
  auto kv = client_->Get(layout_.config_key, &header);
  if (!kv.ok()) return kv.status();
  header_revision_.store(header);
  if (!kv->has_value()) return std::optional<config::StoredConfig>();
  auto parsed = Parse(**kv);
  if (!parsed.ok()) return parsed.status();
  return std::optional<config::StoredConfig>(*std::move(parsed));
}

absl::StatusOr<uint64_t> EtcdConfigStore::Save(const v1::Config& config, uint64_t base_revision) {
  const std::string document = config::ConfigToJson(config);
  auto cas =
      client_->CompareAndPut(layout_.config_key, document, static_cast<int64_t>(base_revision));
  if (!cas.ok()) {
    // Did it land before the answer was lost? Only a read can tell.
    auto now = client_->Get(layout_.config_key);
    if (now.ok() && now->has_value() && (*now)->value == document) {
      return static_cast<uint64_t>((*now)->mod_revision);
    }
    // A member that could not even be connected to never saw the request.
    const bool never_sent = absl::StrContains(cas.status().message(), "failed to connect");
    if (now.ok() || never_sent) {
      return absl::UnavailableError(absl::StrCat("config not written: ", cas.status().message()));
    }
    return absl::UnavailableError(absl::StrCat(
        "config write to etcd failed and etcd cannot be read to tell whether it landed: ",
        cas.status().message(), " (ApplyConfig again with expected_version to be sure)"));
  }
  if (cas->succeeded) return static_cast<uint64_t>(cas->revision);
  if (cas->current && cas->current->value == document) {
    return static_cast<uint64_t>(cas->current->mod_revision);  // our own retried write
  }
  cas_conflicts_.fetch_add(1);
  if (observer_ != nullptr) observer_->OnCasConflict();
  uint64_t their_version = 0;
  if (cas->current) {
    if (auto theirs = Parse(*cas->current); theirs.ok()) their_version = theirs->config.version();
  }
  return absl::AbortedError(absl::StrCat(
      "the config changed on another instance while this change was made (etcd revision ",
      base_revision, " → ", cas->current ? cas->current->mod_revision : cas->revision,
      their_version != 0 ? absl::StrCat(", version ", their_version) : std::string(),
      "): nothing was written; re-read the config and apply the change again"));
}

}  // namespace trunkroute::cluster
