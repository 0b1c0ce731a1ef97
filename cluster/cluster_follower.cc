#include "cluster/cluster_follower.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "google/protobuf/util/json_util.h"

namespace trunkroute::cluster {
namespace {

constexpr std::chrono::milliseconds kMinBackoff{100};
constexpr std::chrono::milliseconds kMaxBackoff{2000};

// An instance record; records of newer versions may carry fields this one does not know.
bool ParseInstance(const std::string& json, v1::InstanceInfo* out) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  return google::protobuf::util::JsonStringToMessage(json, out, options).ok();
}

bool IsDown(v1::HealthState s) {
  return s == v1::HEALTH_STATE_DOWN || s == v1::HEALTH_STATE_PROBING;
}

}  // namespace

ClusterFollower::ClusterFollower(Options options) : options_(std::move(options)) {}

ClusterFollower::~ClusterFollower() { Stop(); }

void ClusterFollower::Start(int64_t start_revision) {
  seen_revision_.store(start_revision, std::memory_order_release);
  serving_etcd_config_ = start_revision != 0;
  thread_ = std::thread([this, start_revision] { Run(start_revision); });
}

void ClusterFollower::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
    if (stream_ != nullptr) stream_->Cancel();
  }
  if (thread_.joinable()) thread_.join();
}

std::vector<v1::InstanceInfo> ClusterFollower::Instances() const {
  absl::MutexLock lock(&mu_);
  std::vector<v1::InstanceInfo> out;
  for (const auto& [id, info] : instances_) out.push_back(info);
  return out;
}

void ClusterFollower::SetReachable(bool reachable) {
  if (reachable_.exchange(reachable, std::memory_order_acq_rel) == reachable) return;
  if (reachable) {
    LogInfo("etcd reachable", {{"etcd", options_.client->Describe()}});
  } else {
    LogWarn(
        "etcd unreachable; serving the last config applied, config writes fail until it is back",
        {{"etcd", options_.client->Describe()},
         {"config_version", absl::StrCat(options_.manager->Current()->version())}});
  }
  if (options_.observer != nullptr) options_.observer->OnEtcdReachable(reachable);
}

void ClusterFollower::Backoff(std::chrono::milliseconds* delay) {
  absl::MutexLock lock(&mu_);
  auto stopped = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
  mu_.AwaitWithTimeout(absl::Condition(&stopped), absl::Milliseconds(delay->count()));
  *delay = std::min(*delay * 2, kMaxBackoff);
}

void ClusterFollower::Run(int64_t start_revision) {
  int64_t revision = start_revision;
  bool resync = start_revision == 0;
  std::chrono::milliseconds delay = kMinBackoff;
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) break;
    }
    if (resync) {
      if (!Resync(&revision)) {
        SetReachable(false);
        Backoff(&delay);
        continue;
      }
      resync = false;
    }
    auto opened = options_.client->Watch(options_.store->layout().watch_from,
                                         EtcdClient::PrefixEnd(options_.store->layout().watch_from),
                                         revision + 1);
    if (!opened.ok()) {
      SetReachable(false);
      Backoff(&delay);
      continue;
    }
    std::unique_ptr<EtcdClient::WatchStream> stream = *std::move(opened);
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) break;
      stream_ = stream.get();
    }
    etcdserverpb::WatchResponse response;
    while (stream->Read(&response)) {
      if (response.compact_revision() > 0) {
        // Our revision is gone from etcd's history: events may have been compacted away, so
        // read everything again rather than skip one.
        LogWarn("etcd history compacted past our revision; re-reading the whole config",
                {{"revision", absl::StrCat(revision)},
                 {"compact_revision", absl::StrCat(response.compact_revision())}});
        resync = true;
        break;
      }
      if (response.canceled()) {
        LogWarn("etcd watch canceled", {{"reason", response.cancel_reason()}});
        break;
      }
      if (response.created()) {
        SetReachable(true);
        delay = kMinBackoff;
      }
      for (const mvccpb::Event& event : response.events()) {
        HandleEvent(event);
        revision = std::max(revision, event.kv().mod_revision());
      }
      // A progress notification (no events) or the end of a batch: everything up to the
      // header's revision has been delivered.
      if (!response.fragment()) revision = std::max(revision, response.header().revision());
      seen_revision_.store(revision, std::memory_order_release);
    }
    {
      absl::MutexLock lock(&mu_);
      stream_ = nullptr;
      if (stopping_) break;
    }
    stream->Cancel();
    (void)stream->Finish();
    if (!resync) {
      SetReachable(false);
      Backoff(&delay);
    }
  }
  absl::MutexLock lock(&mu_);
  stream_ = nullptr;
}

bool ClusterFollower::Resync(int64_t* revision) {
  int64_t header = 0;
  auto kvs = options_.client->GetPrefix(options_.store->layout().watch_from, &header);
  if (!kvs.ok()) return false;
  SetReachable(true);
  std::set<std::string> present;
  for (const KeyValue& kv : *kvs) {
    if (kv.key == options_.store->layout().config_key) {
      ApplyConfig(kv);
    } else if (absl::StartsWith(kv.key, options_.store->layout().instances_dir)) {
      PutInstance(kv);
      present.insert(kv.key.substr(options_.store->layout().instances_dir.size()));
    }
  }
  std::vector<std::string> gone;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, info] : instances_) {
      if (!present.contains(id)) gone.push_back(id);
    }
    for (const std::string& id : gone) instances_.erase(id);
    if (options_.observer != nullptr) {
      options_.observer->OnInstancesSeen(static_cast<int>(instances_.size()));
    }
  }
  *revision = header;
  seen_revision_.store(header, std::memory_order_release);
  return true;
}

void ClusterFollower::HandleEvent(const mvccpb::Event& event) {
  const std::string& key = event.kv().key();
  const bool put = event.type() == mvccpb::Event::PUT;
  if (key == options_.store->layout().config_key) {
    if (put) {
      ApplyConfig(KeyValue{key, event.kv().value(), event.kv().create_revision(),
                           event.kv().mod_revision(), event.kv().lease()});
    } else {
      LogError("the config was deleted from etcd; this instance keeps serving the last one",
               {{"key", key}, {"revision", absl::StrCat(event.kv().mod_revision())}});
    }
  } else if (absl::StartsWith(key, options_.store->layout().instances_dir)) {
    if (put) {
      PutInstance(KeyValue{key, event.kv().value(), 0, event.kv().mod_revision(), 0});
    } else {
      DeleteInstance(key);
    }
  }
}

void ClusterFollower::ApplyConfig(const KeyValue& kv) {
  auto stored = options_.store->Parse(kv);
  if (!stored.ok()) {
    LogError("config in etcd refused; the previous one keeps serving",
             {{"error", std::string(stored.status().message())}});
    options_.manager->SkipRevision(static_cast<uint64_t>(kv.mod_revision));
    if (options_.observer != nullptr) options_.observer->OnConfigRejected();
    return;
  }
  auto applied = options_.manager->Follow(*stored);
  if (!applied.ok()) {
    if (options_.observer != nullptr) options_.observer->OnConfigRejected();
    return;
  }
  if (*applied && options_.observer != nullptr && stored->config.applied_at_unix_ms() > 0) {
    const int64_t lag_ms =
        std::max<int64_t>(0, options_.clock->WallUnixMs() - stored->config.applied_at_unix_ms());
    options_.observer->OnConfigFollowed(std::chrono::milliseconds(lag_ms));
  }
  if (!serving_etcd_config_) {
    serving_etcd_config_ = true;
    if (options_.on_etcd_config) options_.on_etcd_config();
  }
}

void ClusterFollower::PutInstance(const KeyValue& kv) {
  const std::string id = kv.key.substr(options_.store->layout().instances_dir.size());
  v1::InstanceInfo info;
  if (!ParseInstance(kv.value, &info)) {
    LogWarn("unreadable instance record in etcd ignored", {{"key", kv.key}});
    return;
  }
  std::vector<std::string> newly_down;
  {
    absl::MutexLock lock(&mu_);
    auto it = instances_.find(id);
    for (const v1::InstanceTrunkHealth& t : info.trunks()) {
      if (!IsDown(t.state())) continue;
      bool was_down = false;
      if (it != instances_.end()) {
        for (const v1::InstanceTrunkHealth& before : it->second.trunks()) {
          if (before.trunk_id() == t.trunk_id()) was_down = IsDown(before.state());
        }
      }
      if (!was_down) newly_down.push_back(t.trunk_id());
    }
    const bool is_new = it == instances_.end();
    instances_[id] = std::move(info);
    if (is_new && options_.observer != nullptr) {
      options_.observer->OnInstancesSeen(static_cast<int>(instances_.size()));
    }
  }
  if (id == options_.self_id || !options_.on_peer_ejection) return;
  for (const std::string& trunk : newly_down) options_.on_peer_ejection(trunk, id);
}

void ClusterFollower::DeleteInstance(const std::string& key) {
  const std::string id = key.substr(options_.store->layout().instances_dir.size());
  absl::MutexLock lock(&mu_);
  if (instances_.erase(id) > 0) {
    LogInfo("instance left the cluster", {{"instance", id}});
    if (options_.observer != nullptr) {
      options_.observer->OnInstancesSeen(static_cast<int>(instances_.size()));
    }
  }
}

}  // namespace trunkroute::cluster
