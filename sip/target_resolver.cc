#include "sip/target_resolver.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace trunkroute::sip {
namespace {

absl::string_view Av(std::string_view s) { return absl::string_view(s.data(), s.size()); }

uint32_t DefaultPort(v1::Transport t) { return t == v1::TRANSPORT_TLS ? 5061 : 5060; }

// One name whose addresses are looked up: an SRV record's target, or the trunk's own host.
struct AddressSlot {
  std::string name;
  uint32_t port = 0;
  v1::Transport transport = v1::TRANSPORT_UDP;
  uint16_t priority = 0;
  uint16_t weight = 0;
  std::vector<std::string> v4;
  std::vector<std::string> v6;
  int pending = 0;
};

}  // namespace

std::string TargetKey(std::string_view address, uint32_t port) {
  return address.find(':') != std::string_view::npos ? absl::StrCat("[", Av(address), "]:", port)
                                                     : absl::StrCat(Av(address), ":", port);
}

std::vector<const ResolvedTarget*> OrderForCall(const TrunkTargets& t, RandomSource& random) {
  std::vector<const ResolvedTarget*> out;
  if (t.targets.empty()) return out;
  // One SrvRecord per group (priority and weight are the group's), in group order.
  std::vector<SrvRecord> groups;
  std::vector<int> group_ids;
  for (const ResolvedTarget& r : t.targets) {
    if (!group_ids.empty() && group_ids.back() == r.group) continue;
    group_ids.push_back(r.group);
    groups.push_back({r.priority, r.weight, static_cast<uint16_t>(r.port), r.address, 0});
  }
  for (size_t g : OrderSrv(groups, random)) {
    for (const ResolvedTarget& r : t.targets) {
      if (r.group == group_ids[g]) out.push_back(&r);
    }
  }
  return out;
}

// One trunk's resolution. Answers of an older run (a config change, a newer refresh) are ignored.
struct TargetResolver::Job : std::enable_shared_from_this<Job> {
  TargetResolver* owner = nullptr;
  // What to resolve.
  std::string trunk_id;
  std::string host;
  uint32_t port = 0;
  v1::Transport transport = v1::TRANSPORT_TLS;
  bool port_configured = false;
  bool transport_configured = false;
  bool host_is_ip = false;

  std::shared_ptr<const TrunkTargets> current;
  MonoTime next_refresh = MonoTime::max();  // max() while a run is in flight

  // The run in flight.
  uint64_t run = 0;
  uint32_t min_ttl = std::numeric_limits<uint32_t>::max();
  std::vector<SrvQuery> srv_queries;
  size_t srv_index = 0;
  v1::Transport fallback_transport = v1::TRANSPORT_TLS;  // A/AAAA without SRV
  std::vector<AddressSlot> slots;
  int pending = 0;
  std::string failure;  // the first failure of this run

  bool SameAddress(const router::CompiledTrunk& t) const {
    return t.host == host && t.port == port && t.transport == transport &&
           t.port_configured == port_configured && t.transport_configured == transport_configured;
  }

  void Query(DnsType type, const std::string& name, std::function<void(Job&, const DnsAnswer&)> f) {
    ++pending;
    std::weak_ptr<Job> weak = weak_from_this();
    const uint64_t this_run = run;
    owner->dns_->Query(type, name, [weak, this_run, f = std::move(f)](const DnsAnswer& a) {
      std::shared_ptr<Job> job = weak.lock();
      if (job == nullptr || job->run != this_run) return;
      --job->pending;
      f(*job, a);
    });
  }

  void NoteTtl(const DnsAnswer& a) { min_ttl = std::min(min_ttl, a.ttl); }

  void Fail(std::string why) {
    if (failure.empty()) failure = std::move(why);
  }

  void Begin() {
    ++run;
    min_ttl = std::numeric_limits<uint32_t>::max();
    srv_queries.clear();
    srv_index = 0;
    slots.clear();
    pending = 0;
    failure.clear();
    next_refresh = MonoTime::max();
    fallback_transport = transport;
    if (port_configured) {
      ResolveAddresses({{host, port, transport}});
    } else if (transport_configured) {
      srv_queries = DefaultSrvQueries(host, owner->options_.support, transport);
      NextSrv();
    } else {
      Query(DnsType::kNaptr, host, [](Job& j, const DnsAnswer& a) { j.OnNaptr(a); });
    }
  }

  void OnNaptr(const DnsAnswer& a) {
    if (a.status == DnsAnswer::Status::kFailed) {
      Fail(absl::StrCat("NAPTR ", host, ": ", a.error));
      Finish();
      return;
    }
    if (a.status == DnsAnswer::Status::kOk) {
      NoteTtl(a);
      srv_queries = SrvQueriesFromNaptr(a.naptr, owner->options_.support);
    }
    if (srv_queries.empty()) {
      srv_queries = DefaultSrvQueries(host, owner->options_.support, v1::TRANSPORT_UNSPECIFIED);
    } else {
      fallback_transport = srv_queries.front().transport;
    }
    NextSrv();
  }

  void NextSrv() {
    if (srv_index >= srv_queries.size()) {
      // No SRV at all: the host's own addresses, on the default port of the transport.
      ResolveAddresses({{host, DefaultPort(fallback_transport), fallback_transport}});
      return;
    }
    const SrvQuery& q = srv_queries[srv_index];
    Query(DnsType::kSrv, q.name, [](Job& j, const DnsAnswer& a) { j.OnSrv(a); });
  }

  void OnSrv(const DnsAnswer& a) {
    const SrvQuery& q = srv_queries[srv_index];
    if (a.status == DnsAnswer::Status::kFailed) {
      Fail(absl::StrCat("SRV ", q.name, ": ", a.error));
      Finish();
      return;
    }
    if (a.status == DnsAnswer::Status::kNoRecords || a.srv.empty()) {
      ++srv_index;
      NextSrv();
      return;
    }
    NoteTtl(a);
    // Stored by priority (answer order within one): each call draws its own weighted order.
    std::vector<SrvRecord> records = a.srv;
    records.erase(
        std::remove_if(records.begin(), records.end(),
                       [](const SrvRecord& r) { return r.target.empty() || r.target == "."; }),
        records.end());
    std::stable_sort(records.begin(), records.end(), [](const SrvRecord& x, const SrvRecord& y) {
      return x.priority < y.priority;
    });
    std::vector<AddressSlot> wanted;
    for (const SrvRecord& r : records) {
      if (wanted.size() >= kMaxTargetsPerTrunk) break;
      AddressSlot s;
      s.name = r.target;
      s.port = r.port;
      s.transport = q.transport;
      s.priority = r.priority;
      s.weight = r.weight;
      wanted.push_back(std::move(s));
    }
    if (wanted.empty()) {  // only "." targets: the service is declared absent (RFC 2782)
      ++srv_index;
      NextSrv();
      return;
    }
    ResolveAddresses(std::move(wanted));
  }

  void ResolveAddresses(std::vector<AddressSlot> wanted) {
    slots = std::move(wanted);
    const TransportSupport& support = owner->options_.support;
    // Count every query before sending any, so that the last answer (whenever it comes) is
    // recognised as the last one.
    for (AddressSlot& s : slots) s.pending = (support.ipv4 ? 1 : 0) + (support.ipv6 ? 1 : 0);
    for (size_t i = 0; i < slots.size(); ++i) {
      if (support.ipv4) {
        Query(DnsType::kA, slots[i].name,
              [i](Job& j, const DnsAnswer& a) { j.OnAddress(i, a, /*v6=*/false); });
      }
      if (support.ipv6) {
        Query(DnsType::kAaaa, slots[i].name,
              [i](Job& j, const DnsAnswer& a) { j.OnAddress(i, a, /*v6=*/true); });
      }
    }
    if (pending == 0) Finish();
  }

  void OnAddress(size_t i, const DnsAnswer& a, bool v6) {
    AddressSlot& s = slots[i];
    --s.pending;
    if (a.status == DnsAnswer::Status::kFailed) {
      Fail(absl::StrCat(v6 ? "AAAA " : "A ", s.name, ": ", a.error));
    } else if (a.status == DnsAnswer::Status::kOk) {
      NoteTtl(a);
      (v6 ? s.v6 : s.v4) = a.addresses;
    }
    if (pending == 0) Finish();
  }

  void Finish() {
    if (pending > 0) return;  // a failure mid-run: wait for the queries still out
    TargetResolver& r = *owner;
    const MonoTime now = r.clock_->Now();
    auto next = std::make_shared<TrunkTargets>();
    next->trunk_id = trunk_id;
    next->host = host;
    next->port = port;
    next->transport = transport;
    next->from_dns = true;
    next->resolved = true;
    if (!failure.empty()) {
      if (current != nullptr && !current->targets.empty()) {
        next->targets = current->targets;  // serve the last good answer
        next->stale = true;
      }
      next->error = failure;
      next_refresh = now + std::chrono::seconds(r.options_.ttl_floor_s);
      LogWarn(next->stale ? "DNS refresh failed; keeping the last good targets"
                          : "DNS resolution failed; the trunk has no target",
              {{"trunk", trunk_id}, {"host", host}, {"error", failure}});
    } else {
      int group = 0;
      for (const AddressSlot& s : slots) {
        for (const std::vector<std::string>* family : {&s.v4, &s.v6}) {
          for (const std::string& address : *family) {
            if (next->targets.size() >= kMaxTargetsPerTrunk) break;
            ResolvedTarget t{address,
                             s.port,
                             s.transport,
                             s.priority,
                             s.weight,
                             group,
                             TargetKey(address, s.port)};
            if (std::none_of(next->targets.begin(), next->targets.end(),
                             [&](const ResolvedTarget& o) { return o.key == t.key; })) {
              next->targets.push_back(std::move(t));
            }
          }
        }
        ++group;
      }
      if (next->targets.empty()) {
        next->error = absl::StrCat("no SRV or A/AAAA records for ", host);
        LogWarn("DNS has no address for the trunk", {{"trunk", trunk_id}, {"host", host}});
      }
      // A name with no address is asked again soon (the floor), whatever the TTLs on the way.
      const uint32_t ttl = min_ttl == std::numeric_limits<uint32_t>::max() || next->targets.empty()
                               ? r.options_.ttl_floor_s
                               : min_ttl;
      next_refresh =
          now + std::chrono::seconds(ClampTtl(ttl, r.options_.ttl_floor_s, r.options_.ttl_cap_s));
    }
    r.Publish(*this, std::move(next));
  }
};

TargetResolver::TargetResolver(DnsClient* dns, Clock* clock, ResolverOptions options,
                               Listener listener)
    : dns_(dns), clock_(clock), options_(options), listener_(std::move(listener)) {}

TargetResolver::~TargetResolver() = default;

void TargetResolver::Sync(const router::RoutingTable& table) {
  absl::flat_hash_map<std::string, std::shared_ptr<Job>> next;
  std::vector<Job*> to_start;
  for (const router::CompiledTrunk& t : table.trunks()) {
    if (next.contains(t.id)) continue;
    auto it = jobs_.find(t.id);
    if (it != jobs_.end() && it->second->SameAddress(t)) {
      next.emplace(t.id, std::move(it->second));
      continue;
    }
    auto job = std::make_shared<Job>();
    job->owner = this;
    job->trunk_id = t.id;
    job->host = t.host;
    job->port = t.port;
    job->transport = t.transport;
    job->port_configured = t.port_configured;
    job->transport_configured = t.transport_configured;
    job->host_is_ip = t.host_is_ip;
    to_start.push_back(job.get());
    next.emplace(t.id, std::move(job));
  }
  jobs_ = std::move(next);  // dropped jobs: their answers find no job and are ignored
  for (Job* job : to_start) Start(*job);
}

void TargetResolver::Start(Job& job) {
  if (!job.host_is_ip) {
    job.Begin();
    return;
  }
  auto t = std::make_shared<TrunkTargets>();
  t->trunk_id = job.trunk_id;
  t->host = job.host;
  t->port = job.port;
  t->transport = job.transport;
  t->resolved = true;
  t->targets.push_back({job.host, job.port, job.transport, 0, 0, 0, TargetKey(job.host, job.port)});
  job.next_refresh = MonoTime::max();  // nothing to refresh
  Publish(job, std::move(t));
}

void TargetResolver::Publish(Job& job, std::shared_ptr<const TrunkTargets> next) {
  job.current = std::move(next);
  if (listener_) listener_(job.current);
}

void TargetResolver::Tick() {
  const MonoTime now = clock_->Now();
  std::vector<std::shared_ptr<Job>> due;
  for (auto& [id, job] : jobs_) {
    if (job->next_refresh <= now) due.push_back(job);
  }
  for (const std::shared_ptr<Job>& job : due) job->Begin();
}

MonoTime TargetResolver::NextDeadline() const {
  MonoTime next = MonoTime::max();
  for (const auto& [id, job] : jobs_) next = std::min(next, job->next_refresh);
  return next;
}

std::shared_ptr<const TrunkTargets> TargetResolver::Find(std::string_view trunk_id) const {
  auto it = jobs_.find(absl::string_view(trunk_id.data(), trunk_id.size()));
  if (it == jobs_.end() || it->second->current == nullptr) {
    if (it == jobs_.end()) return nullptr;
    // Not answered yet: an empty, unresolved set for the configured address.
    auto pending = std::make_shared<TrunkTargets>();
    pending->trunk_id = it->second->trunk_id;
    pending->host = it->second->host;
    pending->port = it->second->port;
    pending->transport = it->second->transport;
    pending->from_dns = true;
    return pending;
  }
  return it->second->current;
}

}  // namespace trunkroute::sip
