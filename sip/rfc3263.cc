#include "sip/rfc3263.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace trunkroute::sip {
namespace {

absl::string_view Av(std::string_view s) { return absl::string_view(s.data(), s.size()); }

std::string_view WithoutDot(std::string_view s) {
  if (!s.empty() && s.back() == '.') s.remove_suffix(1);
  return s;
}

// The transport of a NAPTR service field, or UNSPECIFIED for anything not SIP.
v1::Transport ServiceTransport(std::string_view service) {
  if (absl::EqualsIgnoreCase(Av(service), "SIP+D2U")) return v1::TRANSPORT_UDP;
  if (absl::EqualsIgnoreCase(Av(service), "SIP+D2T")) return v1::TRANSPORT_TCP;
  if (absl::EqualsIgnoreCase(Av(service), "SIPS+D2T")) return v1::TRANSPORT_TLS;
  return v1::TRANSPORT_UNSPECIFIED;
}

}  // namespace

bool TransportSupport::Has(v1::Transport t) const {
  switch (t) {
    case v1::TRANSPORT_UDP:
      return udp;
    case v1::TRANSPORT_TCP:
      return tcp;
    case v1::TRANSPORT_TLS:
      return tls;
    default:
      return false;
  }
}

std::string SrvName(std::string_view domain, v1::Transport transport) {
  const char* prefix = transport == v1::TRANSPORT_TLS   ? "_sips._tcp."
                       : transport == v1::TRANSPORT_TCP ? "_sip._tcp."
                                                        : "_sip._udp.";
  return absl::StrCat(prefix, Av(WithoutDot(domain)));
}

std::vector<SrvQuery> SrvQueriesFromNaptr(const std::vector<NaptrRecord>& records,
                                          const TransportSupport& support) {
  std::vector<const NaptrRecord*> usable;
  for (const NaptrRecord& r : records) {
    if (!absl::EqualsIgnoreCase(Av(r.flags), "s")) continue;
    const v1::Transport t = ServiceTransport(r.service);
    if (t == v1::TRANSPORT_UNSPECIFIED || !support.Has(t)) continue;
    if (WithoutDot(r.replacement).empty()) continue;
    usable.push_back(&r);
  }
  std::stable_sort(usable.begin(), usable.end(), [](const NaptrRecord* a, const NaptrRecord* b) {
    return a->order != b->order ? a->order < b->order : a->preference < b->preference;
  });
  std::vector<SrvQuery> out;
  for (const NaptrRecord* r : usable) {
    SrvQuery q{std::string(WithoutDot(r->replacement)), ServiceTransport(r->service)};
    if (std::none_of(out.begin(), out.end(),
                     [&](const SrvQuery& o) { return SameDnsName(o.name, q.name); })) {
      out.push_back(std::move(q));
    }
  }
  return out;
}

std::vector<SrvQuery> DefaultSrvQueries(std::string_view domain, const TransportSupport& support,
                                        v1::Transport pinned) {
  std::vector<SrvQuery> out;
  for (v1::Transport t : {v1::TRANSPORT_TLS, v1::TRANSPORT_TCP, v1::TRANSPORT_UDP}) {
    if (pinned != v1::TRANSPORT_UNSPECIFIED ? t != pinned : !support.Has(t)) continue;
    out.push_back({SrvName(domain, t), t});
  }
  return out;
}

std::vector<size_t> OrderSrv(const std::vector<SrvRecord>& records, RandomSource& random) {
  std::vector<size_t> by_priority;
  for (size_t i = 0; i < records.size(); ++i) {
    if (!WithoutDot(records[i].target).empty()) by_priority.push_back(i);
  }
  std::stable_sort(by_priority.begin(), by_priority.end(),
                   [&](size_t a, size_t b) { return records[a].priority < records[b].priority; });
  std::vector<size_t> out;
  out.reserve(by_priority.size());
  for (size_t begin = 0; begin < by_priority.size();) {
    size_t end = begin;
    while (end < by_priority.size() &&
           records[by_priority[end]].priority == records[by_priority[begin]].priority) {
      ++end;
    }
    // RFC 2782: weight-0 records first, then the others in any (here: answer) order.
    std::vector<size_t> group(by_priority.begin() + static_cast<std::ptrdiff_t>(begin),
                              by_priority.begin() + static_cast<std::ptrdiff_t>(end));
    std::stable_partition(group.begin(), group.end(),
                          [&](size_t i) { return records[i].weight == 0; });
    while (group.size() > 1) {
      uint64_t sum = 0;
      for (size_t i : group) sum += records[i].weight;
      // Uniform integer in [0, sum], inclusive.
      const auto draw =
          static_cast<uint64_t>(std::floor(random.NextUnit() * static_cast<double>(sum + 1)));
      uint64_t running = 0;
      size_t pick = group.size() - 1;
      for (size_t k = 0; k < group.size(); ++k) {
        running += records[group[k]].weight;
        if (running >= draw) {
          pick = k;
          break;
        }
      }
      out.push_back(group[pick]);
      group.erase(group.begin() + static_cast<std::ptrdiff_t>(pick));
    }
    out.push_back(group.front());
    begin = end;
  }
  return out;
}

uint32_t ClampTtl(uint32_t ttl_s, uint32_t floor_s, uint32_t cap_s) {
  return std::clamp(ttl_s, floor_s, std::max(floor_s, cap_s));
}

bool SameDnsName(std::string_view a, std::string_view b) {
  return absl::EqualsIgnoreCase(Av(WithoutDot(a)), Av(WithoutDot(b)));
}

}  // namespace trunkroute::sip
