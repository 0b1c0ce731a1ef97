#include "cluster/cluster_node.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/log.h"
#include "google/protobuf/util/json_util.h"
#include "router/routing_table.h"

namespace trunkroute::cluster {

absl::StatusOr<std::unique_ptr<ClusterNode>> ClusterNode::Create(ClusterOptions options,
                                                                 config::FileConfigStore* cache,
                                                                 Clock* clock,
                                                                 ClusterObserver* observer) {
  if (absl::Status st = ValidateEtcdPrefix(options.prefix); !st.ok()) return st;
  if (options.instance_id.empty() ||
      options.instance_id.find_first_of("/ \t\n") != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("--instance-id '", options.instance_id,
                                                   "': must be non-empty, without '/' or spaces"));
  }
  auto client = EtcdClient::Create(options.etcd);
  if (!client.ok()) return client.status();
  return std::unique_ptr<ClusterNode>(
      new ClusterNode(std::move(options), *std::move(client), cache, clock, observer));
}

ClusterNode::ClusterNode(ClusterOptions options, std::unique_ptr<EtcdClient> client,
                         config::FileConfigStore* cache, Clock* clock, ClusterObserver* observer)
    : options_(std::move(options)),
      client_(std::move(client)),
      store_(client_.get(), EtcdLayout(options_.prefix), observer),
      cache_(cache),
      clock_(clock),
      observer_(observer) {}

ClusterNode::~ClusterNode() { Stop(); }

void ClusterNode::SetSource(const char* source) {
  source_.store(source, std::memory_order_release);
  if (observer_ != nullptr) observer_->OnConfigSource(source);
}

absl::StatusOr<ClusterNode::Initial> ClusterNode::LoadInitial(
    const std::function<absl::StatusOr<v1::Config>()>& seed) {
  Initial initial;
  bool seed_read = false;
  auto loaded =
      config::LoadOrSeed(store_, clock_->WallUnixMs(), [&]() -> absl::StatusOr<v1::Config> {
        seed_read = true;
        // etcd was wiped (or restored empty) while this instance has served a config: that copy is
        // the cluster's latest config, not the bootstrap file.
        auto cached = cache_->Load();
        if (cached.ok() && cached->has_value()) {
          LogWarn("etcd holds no config; seeding it from the local copy",
                  {{"cache", cache_->path()}});
          return (*cached)->config;
        }
        return seed();
      });
  // The seed's own problem (unreadable or invalid bootstrap file): the operator must fix it.
  if (!loaded.ok() && seed_read && !absl::IsUnavailable(loaded.status())) return loaded.status();
  if (loaded.ok()) {
    // etcd's config must also be one that serves; a refused one falls back to the cache.
    if (auto table = router::RoutingTable::Create(loaded->stored.config); table.ok()) {
      initial.stored = loaded->stored;
      initial.seeded = loaded->seeded;
      initial.source = "etcd";
      watch_from_ = store_.last_header_revision();
      if (absl::Status st = cache_->Overwrite(initial.stored.config); !st.ok()) {
        LogWarn("local config cache not written", {{"error", std::string(st.message())}});
      }
      SetSource("etcd");
      return initial;
    } else {
      initial.cache_reason =
          absl::StrCat("the config in etcd is invalid: ", table.status().message());
      if (observer_ != nullptr) observer_->OnConfigRejected();
    }
  } else if (absl::IsUnavailable(loaded.status()) || absl::IsDataLoss(loaded.status())) {
    initial.cache_reason = std::string(loaded.status().message());
    if (absl::IsDataLoss(loaded.status()) && observer_ != nullptr) observer_->OnConfigRejected();
  } else {
    // Refused credentials or permissions are a setup error, not an outage: say so at once.
    return loaded.status();
  }
  auto cached = cache_->Load();
  if (!cached.ok()) return cached.status();
  if (!cached->has_value()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no config to serve: ", initial.cache_reason, "; and there is no local copy yet (",
        cache_->path(), " is written after the first successful start)"));
  }
  initial.stored = config::StoredConfig{(*cached)->config, config::ConfigStore::kNoRevision};
  initial.source = "cache";
  watch_from_ = 0;  // read everything once etcd answers
  LogWarn("serving the local copy of the cluster config",
          {{"cache", cache_->path()},
           {"config_version", absl::StrCat(initial.stored.config.version())},
           {"reason", initial.cache_reason}});
  SetSource("cache");
  return initial;
}

void ClusterNode::Start(config::ConfigManager* manager, std::function<v1::InstanceInfo()> snapshot,
                        std::function<void(const std::string& trunk_id)> on_peer_ejection) {
  manager_ = manager;
  // Every config that serves (ours or another instance's) is the next start's fallback.
  manager->AddListener([this](const std::shared_ptr<const router::RoutingTable>& table) {
    if (absl::Status st = cache_->Overwrite(table->config()); !st.ok()) {
      LogWarn("local config cache not written", {{"error", std::string(st.message())}});
    }
    if (membership_) membership_->Changed();
  });
  ClusterFollower::Options follow;
  follow.client = client_.get();
  follow.store = &store_;
  follow.manager = manager;
  follow.clock = clock_;
  follow.observer = observer_;
  follow.self_id = options_.instance_id;
  follow.on_peer_ejection = [this, hint = std::move(on_peer_ejection)](const std::string& trunk,
                                                                       const std::string& peer) {
    LogInfo("peer ejected a trunk; probing it now", {{"trunk", trunk}, {"peer", peer}});
    if (observer_ != nullptr) observer_->OnProbeHint(trunk);
    if (hint) hint(trunk);
  };
  follow.on_etcd_config = [this] {
    LogInfo("serving the cluster config from etcd again",
            {{"config_version", absl::StrCat(manager_->Current()->version())}});
    SetSource("etcd");
    if (membership_) membership_->Changed();
  };
  Membership::Options member;
  member.client = client_.get();
  member.layout = store_.layout();
  member.instance_id = options_.instance_id;
  member.ttl_seconds = options_.lease_ttl_seconds;
  member.snapshot = std::move(snapshot);
  membership_ = std::make_unique<Membership>(std::move(member));
  follower_ = std::make_unique<ClusterFollower>(std::move(follow));
  follower_->Start(watch_from_);
  membership_->Start();
}

void ClusterNode::Stop() {
  if (membership_) membership_->Stop();
  if (follower_) follower_->Stop();
}

void ClusterNode::RecordChanged() {
  if (membership_) membership_->Changed();
}

std::string ClusterNode::config_source() const { return source_.load(std::memory_order_acquire); }

bool ClusterNode::etcd_reachable() const { return follower_ && follower_->reachable(); }

absl::StatusOr<v1::ListInstancesResponse> ClusterNode::ListInstances() {
  int64_t header = 0;
  auto records = client_->GetPrefix(store_.layout().instances_dir, &header);
  auto config_kv = records.ok() ? client_->Get(store_.layout().config_key)
                                : absl::StatusOr<std::optional<KeyValue>>(records.status());
  std::vector<v1::InstanceInfo> instances;
  uint64_t newest_revision = 0;
  uint64_t newest_version = 0;
  const bool reachable = records.ok() && config_kv.ok();
  if (reachable) {
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = true;
    for (const KeyValue& kv : *records) {
      v1::InstanceInfo info;
      if (google::protobuf::util::JsonStringToMessage(kv.value, &info, options).ok()) {
        instances.push_back(std::move(info));
      }
    }
    if (config_kv->has_value()) {
      newest_revision = static_cast<uint64_t>((*config_kv)->mod_revision);
      if (auto parsed = store_.Parse(**config_kv); parsed.ok()) {
        newest_version = parsed->config.version();
      }
    }
  } else if (follower_) {
    instances = follower_->Instances();
  }
  return server::SummarizeCluster(std::move(instances), options_.instance_id, newest_revision,
                                  newest_version, /*clustered=*/true, reachable);
}

void ClusterNode::FillServerInfo(v1::GetServerInfoResponse* info) const {
  info->set_config_source(config_source());
  info->set_clustered(true);
  info->set_instance_id(options_.instance_id);
  info->set_etcd_endpoints(absl::StrJoin(options_.etcd.endpoints, ","));
  info->set_etcd_prefix(options_.prefix);
  info->set_etcd_reachable(etcd_reachable());
  if (manager_ != nullptr) info->set_config_revision(manager_->revision());
}

}  // namespace trunkroute::cluster
