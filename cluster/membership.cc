#include "cluster/membership.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "google/protobuf/util/json_util.h"

namespace trunkroute::cluster {

Membership::Membership(Options options)
    : options_(std::move(options)), key_(options_.layout.instances_dir + options_.instance_id) {}

Membership::~Membership() { Stop(); }

void Membership::Start() {
  thread_ = std::thread([this] { Run(); });
}

void Membership::Changed() {
  absl::MutexLock lock(&mu_);
  changed_ = true;
}

void Membership::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

bool Membership::WriteRecord(int64_t lease) {
  std::string json;
  google::protobuf::util::JsonPrintOptions print;
  print.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(options_.snapshot(), &json, print);
  auto put = options_.client->Put(key_, json, lease);
  if (!put.ok()) {
    LogDebug("instance record not written", {{"error", std::string(put.status().message())}});
  }
  return put.ok();
}

void Membership::Run() {
  using Ms = std::chrono::milliseconds;
  const Ms renew_every = std::max(Ms(500), Ms(options_.ttl_seconds * 1000 / 3));
  const Ms retry_every{500};
  int64_t lease = 0;
  bool record_written = false;
  auto next_renewal = std::chrono::steady_clock::now();
  for (;;) {
    bool write = false;
    {
      absl::MutexLock lock(&mu_);
      // Wake for: stop, a change (then wait out the debounce), or the next renewal.
      auto wake = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || changed_; };
      const auto wait = std::max(
          Ms(0), std::chrono::duration_cast<Ms>(next_renewal - std::chrono::steady_clock::now()));
      mu_.AwaitWithTimeout(absl::Condition(&wake), absl::Milliseconds(wait.count()));
      if (changed_ && !stopping_) {
        mu_.AwaitWithTimeout(absl::Condition(&stopping_),
                             absl::Milliseconds(options_.debounce.count()));
      }
      if (stopping_) break;
      write = changed_;
      changed_ = false;
    }
    if (lease == 0) {
      auto granted = options_.client->GrantLease(options_.ttl_seconds);
      if (!granted.ok()) {
        next_renewal = std::chrono::steady_clock::now() + retry_every;
        absl::MutexLock lock(&mu_);
        changed_ = changed_ || write;
        continue;
      }
      lease = *granted;
      record_written = false;
      next_renewal = std::chrono::steady_clock::now() + renew_every;
    }
    if (write || !record_written) {
      if (WriteRecord(lease)) {
        if (!record_written) {
          LogInfo("registered in the cluster",
                  {{"key", key_}, {"ttl_s", absl::StrCat(options_.ttl_seconds)}});
        }
        record_written = true;
      } else {
        record_written = false;
        next_renewal = std::min(next_renewal, std::chrono::steady_clock::now() + retry_every);
      }
    }
    if (std::chrono::steady_clock::now() >= next_renewal) {
      auto ttl = options_.client->KeepAliveOnce(lease);
      if (ttl.ok() && *ttl <= 0) {
        // The lease expired while etcd was away: our record is gone. Start over.
        LogWarn("cluster lease expired; registering again", {{"key", key_}});
        lease = 0;
        next_renewal = std::chrono::steady_clock::now();
      } else {
        next_renewal = std::chrono::steady_clock::now() + (ttl.ok() ? renew_every : retry_every);
      }
    }
  }
  if (lease != 0) (void)options_.client->RevokeLease(lease);
}

}  // namespace trunkroute::cluster
