#include "router/routing_table.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "router/config_validator.h"

namespace trunkroute::router {
namespace {

absl::string_view AbslView(std::string_view sv) { return absl::string_view(sv.data(), sv.size()); }

std::string Quote(std::string_view text) {
  constexpr size_t kMaxQuoted = 80;
  std::string_view shown = text.substr(0, kMaxQuoted);
  return absl::StrCat("'", absl::CHexEscape(AbslView(shown)), text.size() > kMaxQuoted ? "...'" : "'");
}

// A parsed address: IPv4 in the first 4 bytes, or IPv6 in all 16.
struct IpAddr {
  bool v6 = false;
  uint8_t bytes[16] = {};
};

// inet_pton wants a NUL-terminated string; a stack buffer keeps the per-INVITE source check free
// of allocations. Accepts "[v6]" and drops a zone ("%eth0"). An IPv4-mapped IPv6 address is
// reported as IPv4 so that an IPv4 allow-list still matches a dual-stack socket's peer address.
bool ParseIp(std::string_view text, IpAddr* out) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
  }
  const size_t zone = text.find('%');
  if (zone != std::string_view::npos) text = text.substr(0, zone);
  char buf[INET6_ADDRSTRLEN + 1];
  if (text.empty() || text.size() >= sizeof(buf)) return false;
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  if (text.find(':') == std::string_view::npos) {
    out->v6 = false;
    return inet_pton(AF_INET, buf, out->bytes) == 1;
  }
  uint8_t v6[16];
  if (inet_pton(AF_INET6, buf, v6) != 1) return false;
  static constexpr uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(v6, kMappedPrefix, sizeof(kMappedPrefix)) == 0) {
    out->v6 = false;
    std::memcpy(out->bytes, v6 + 12, 4);
  } else {
    out->v6 = true;
    std::memcpy(out->bytes, v6, 16);
  }
  return true;
}

bool CidrContains(const Cidr& cidr, const IpAddr& ip) {
  if (cidr.v6 != ip.v6) return false;
  const int full_bytes = cidr.prefix_len / 8;
  if (std::memcmp(cidr.addr, ip.bytes, static_cast<size_t>(full_bytes)) != 0) return false;
  const int rest_bits = cidr.prefix_len % 8;
  if (rest_bits == 0) return true;
  const uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest_bits));
  return (cidr.addr[full_bytes] & mask) == (ip.bytes[full_bytes] & mask);
}

const char* TransportParam(v1::Transport transport) {
  switch (transport) {
    case v1::TRANSPORT_TCP:
      return ";transport=tcp";
    case v1::TRANSPORT_TLS:
      return ";transport=tls";
    default:
      // UDP is the SIP default transport: RFC 3261 URIs leave it implicit.
      return "";
  }
}

RE2::Options PatternOptions() {
  RE2::Options options;
  options.set_log_errors(false);
  return options;
}

// The DFA behind RE2::Set caches states within this budget and flushes when full; a search fails
// only when one number's states cannot fit, so the budget grows with the table to keep that out
// of reach (states are bounded by the program size, and numbers have at most 32 characters).
int64_t SetMemoryBudget(size_t patterns) {
  constexpr int64_t kBase = int64_t{64} << 20;
  constexpr int64_t kPerPattern = int64_t{16} << 10;
  return std::max<int64_t>(kBase, static_cast<int64_t>(patterns) * kPerPattern);
}

CompiledTrunk CompileTrunk(int index, const v1::Trunk& t, const EffectiveHealthPolicy& health) {
  CompiledTrunk out;
  out.index = index;
  out.id = t.id();
  out.name = t.name();
  std::string_view host = t.host();
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  out.host = std::string(host);
  out.transport =
      t.transport() == v1::TRANSPORT_UNSPECIFIED ? v1::TRANSPORT_TLS : t.transport();
  out.port = t.port() != 0 ? t.port() : (out.transport == v1::TRANSPORT_TLS ? 5061 : 5060);
  out.port_configured = t.port() != 0;
  out.transport_configured = t.transport() != v1::TRANSPORT_UNSPECIFIED;
  const bool v6_literal = out.host.find(':') != std::string::npos;
  out.host_is_ip = v6_literal || Cidr::Parse(out.host).ok();
  if (out.host_is_ip || out.port_configured) {
    out.uri_suffix = absl::StrCat(v6_literal ? "[" : "", out.host, v6_literal ? "]" : "", ":",
                                  out.port, TransportParam(out.transport));
  } else {
    out.uri_suffix = absl::StrCat(
        out.host, out.transport_configured ? TransportParam(out.transport) : "");
  }
  out.username = t.username();
  out.password = t.password();
  out.auth_realm = t.auth_realm();
  for (const std::string& text : t.allow_cidrs()) {
    auto cidr = Cidr::Parse(text);
    if (cidr.ok()) out.allow_cidrs.push_back(*cidr);
  }
  out.caller_id = t.caller_id();
  if (out.caller_id.mode() == v1::CALLER_ID_MODE_UNSPECIFIED) {
    out.caller_id.set_mode(v1::CALLER_ID_MODE_PRESERVE);
  }
  if (out.caller_id.domain().empty()) out.caller_id.set_domain(out.host);
  if (t.codecs_size() == 0) {
    out.codecs = {"pcmu", "pcma", "telephone-event"};
  } else {
    for (const std::string& codec : t.codecs()) out.codecs.push_back(absl::AsciiStrToLower(codec));
  }
  out.max_concurrent_calls = t.max_concurrent_calls();
  out.admin_state =
      t.admin_state() == v1::ADMIN_STATE_UNSPECIFIED ? v1::ADMIN_STATE_ENABLED : t.admin_state();
  out.health = MergeHealthPolicy(health, t.health());
  return out;
}

}  // namespace

absl::StatusOr<Cidr> Cidr::Parse(std::string_view text) {
  auto error = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat(Quote(text), " is not a CIDR (", AbslView(why),
                     "; expected address/prefix such as 192.0.2.0/24 or 2001:db8::/32)"));
  };
  std::string_view addr = text;
  std::string_view prefix;
  const size_t slash = text.find('/');
  if (slash != std::string_view::npos) {
    addr = text.substr(0, slash);
    prefix = text.substr(slash + 1);
  }
  IpAddr ip;
  // Plain inet_pton here: a CIDR names its family as written, so "::ffff:10.0.0.0/104" stays v6.
  {
    char buf[INET6_ADDRSTRLEN + 1];
    if (addr.empty() || addr.size() >= sizeof(buf)) return error("bad address");
    std::memcpy(buf, addr.data(), addr.size());
    buf[addr.size()] = '\0';
    ip.v6 = addr.find(':') != std::string_view::npos;
    if (inet_pton(ip.v6 ? AF_INET6 : AF_INET, buf, ip.bytes) != 1) return error("bad address");
  }
  const int max_len = ip.v6 ? 128 : 32;
  int len = max_len;  // a bare address is a single host
  if (slash != std::string_view::npos) {
    if (prefix.empty() || prefix.size() > 3 ||
        !std::all_of(prefix.begin(), prefix.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return error("bad prefix length");
    }
    len = std::stoi(std::string(prefix));
    if (len > max_len) {
      return error(absl::StrCat("prefix length ", len, " is out of range 0–", max_len, " for ",
                                ip.v6 ? "IPv6" : "IPv4"));
    }
  }
  Cidr out;
  out.v6 = ip.v6;
  out.prefix_len = len;
  // Host bits are cleared ("192.0.2.7/24" is the /24), as most network tools accept them.
  for (int bit = 0; bit < max_len; ++bit) {
    if (bit < len && (ip.bytes[bit / 8] & (0x80 >> (bit % 8)))) {
      out.addr[bit / 8] = static_cast<uint8_t>(out.addr[bit / 8] | (0x80 >> (bit % 8)));
    }
  }
  return out;
}

bool Cidr::Contains(std::string_view ip) const {
  IpAddr parsed;
  return ParseIp(ip, &parsed) && CidrContains(*this, parsed);
}

absl::StatusOr<std::shared_ptr<const RoutingTable>> RoutingTable::Create(
    const v1::Config& config) {
  if (absl::Status valid = ValidateConfig(config); !valid.ok()) return valid;

  std::shared_ptr<RoutingTable> table(new RoutingTable());
  table->version_ = config.version();
  table->config_ = config;
  table->default_failover_ = MergeFailoverPolicy(DefaultFailoverPolicy(), config.failover_policy());
  table->default_health_ = MergeHealthPolicy(DefaultHealthPolicy(), config.health_policy());

  table->trunks_.reserve(static_cast<size_t>(config.trunks_size()));
  for (int i = 0; i < config.trunks_size(); ++i) {
    table->trunks_.push_back(CompileTrunk(i, config.trunks(i), table->default_health_));
    table->trunk_by_id_.emplace(config.trunks(i).id(), i);
  }

  for (const std::string& text : config.edge().allowed_sources()) {
    auto cidr = Cidr::Parse(text);
    if (cidr.ok()) table->edge_allowed_sources_.push_back(*cidr);
  }
  table->edge_max_calls_ = config.edge().max_calls();
  if (table->edge_allowed_sources_.empty()) {
    // design.md §4: with no list, only loopback may send calls.
    table->edge_allowed_sources_.push_back(*Cidr::Parse("127.0.0.0/8"));
    table->edge_allowed_sources_.push_back(*Cidr::Parse("::1/128"));
  }

  std::vector<int> order(static_cast<size_t>(config.routes_size()));
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int a, int b) {
    return config.routes(a).priority() < config.routes(b).priority();
  });

  RE2::Options options = PatternOptions();
  options.set_max_mem(SetMemoryBudget(order.size()));
  table->pattern_set_ = std::make_unique<RE2::Set>(options, RE2::ANCHOR_BOTH);
  table->routes_.reserve(order.size());
  for (int config_index : order) {
    const v1::Route& r = config.routes(config_index);
    CompiledRoute route;
    route.index = static_cast<int>(table->routes_.size());
    route.id = r.id();
    route.priority = r.priority();
    route.pattern = r.pattern();
    for (const std::string& tid : r.trunk_ids()) {
      route.trunk_indexes.push_back(table->trunk_by_id_.at(tid));
    }
    if (!r.ingress_trunk_id().empty()) {
      route.ingress_trunk_index = table->trunk_by_id_.at(r.ingress_trunk_id());
    }
    if (!r.caller_id_pattern().empty()) {
      route.caller_id_re = std::make_unique<RE2>(r.caller_id_pattern(), PatternOptions());
      if (!route.caller_id_re->ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("routes[", config_index, "].caller_id_pattern: invalid RE2 pattern: ",
                         route.caller_id_re->error()));
      }
    }
    route.transform = r.transform();
    route.policy = MergeFailoverPolicy(table->default_failover_, r.failover_policy());
    std::string error;
    const int set_index = table->pattern_set_->Add(r.pattern(), &error);
    if (set_index != route.index) {
      return absl::InvalidArgumentError(absl::StrCat("routes[", config_index,
                                                     "].pattern: invalid RE2 pattern: ", error));
    }
    table->route_by_id_.emplace(route.id, route.index);
    table->routes_.push_back(std::move(route));
  }
  if (!table->pattern_set_->Compile()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "routes: the ", order.size(),
        " dial patterns together exceed the pattern memory budget; simplify or merge patterns"));
  }
  return std::shared_ptr<const RoutingTable>(std::move(table));
}

const CompiledTrunk* RoutingTable::FindTrunk(std::string_view id) const {
  auto it = trunk_by_id_.find(AbslView(id));
  return it == trunk_by_id_.end() ? nullptr : &trunks_[static_cast<size_t>(it->second)];
}

const CompiledRoute* RoutingTable::FindRoute(std::string_view id) const {
  auto it = route_by_id_.find(AbslView(id));
  return it == route_by_id_.end() ? nullptr : &routes_[static_cast<size_t>(it->second)];
}

const CompiledTrunk* RoutingTable::TrunkForSource(std::string_view source_ip) const {
  IpAddr ip;
  if (!ParseIp(source_ip, &ip)) return nullptr;
  for (const CompiledTrunk& trunk : trunks_) {
    for (const Cidr& cidr : trunk.allow_cidrs) {
      if (CidrContains(cidr, ip)) return &trunk;
    }
  }
  return nullptr;
}

namespace {

// Route indexes whose dial pattern matches `number` in full, ascending (= priority order).
// One pass of the combined DFA; the vector is per thread so that the hot path does not allocate
// once warm.
const std::vector<int>& PatternHits(const RE2::Set& set, const std::vector<CompiledRoute>& routes,
                                    std::string_view number) {
  thread_local std::vector<int> hits;
  hits.clear();
  if (routes.empty()) return hits;
  RE2::Set::ErrorInfo info{};
  if (!set.Match(number, &hits, &info) && info.kind != RE2::Set::kNoError) {
    // Only if the DFA cannot fit one search in its budget; answer exactly, if slowly, rather
    // than pretend nothing matched.
    LogError("routing: dial-pattern set match failed; falling back to per-route matching",
             {{"routes", std::to_string(routes.size())}});
    hits.clear();
    for (const CompiledRoute& route : routes) {
      RE2 re(route.pattern, PatternOptions());
      if (RE2::FullMatch(number, re)) hits.push_back(route.index);
    }
    return hits;
  }
  std::sort(hits.begin(), hits.end());
  return hits;
}

}  // namespace

const CompiledRoute* RoutingTable::Match(std::string_view normalized_number,
                                         std::string_view normalized_caller,
                                         std::string_view ingress_trunk_id) const {
  for (int index : PatternHits(*pattern_set_, routes_, normalized_number)) {
    const CompiledRoute& route = routes_[static_cast<size_t>(index)];
    if (route.ingress_trunk_index >= 0 &&
        trunks_[static_cast<size_t>(route.ingress_trunk_index)].id != ingress_trunk_id) {
      continue;
    }
    if (route.caller_id_re != nullptr && !RE2::FullMatch(normalized_caller, *route.caller_id_re)) {
      continue;
    }
    return &route;
  }
  return nullptr;
}

std::vector<RoutingTable::Trial> RoutingTable::Explain(std::string_view normalized_number,
                                                       std::string_view normalized_caller,
                                                       std::string_view ingress_trunk_id) const {
  const std::vector<int>& hit_list = PatternHits(*pattern_set_, routes_, normalized_number);
  std::vector<bool> hit(routes_.size(), false);
  for (int index : hit_list) hit[static_cast<size_t>(index)] = true;

  std::vector<Trial> trials;
  for (const CompiledRoute& route : routes_) {
    Trial trial{&route, false, ""};
    if (!hit[static_cast<size_t>(route.index)]) {
      trial.reason = absl::StrCat("pattern ", Quote(route.pattern), " does not match ",
                                  AbslView(normalized_number));
      trials.push_back(std::move(trial));
      continue;
    }
    if (route.ingress_trunk_index >= 0) {
      const std::string& want = trunks_[static_cast<size_t>(route.ingress_trunk_index)].id;
      if (want != ingress_trunk_id) {
        trial.reason = absl::StrCat(
            "pattern matches, but the route takes only calls from trunk ", Quote(want),
            ingress_trunk_id.empty() ? std::string(" (this call has no ingress trunk)")
                                     : absl::StrCat(" (this call came from ",
                                                    Quote(ingress_trunk_id), ")"));
        trials.push_back(std::move(trial));
        continue;
      }
    }
    if (route.caller_id_re != nullptr && !RE2::FullMatch(normalized_caller, *route.caller_id_re)) {
      trial.reason = absl::StrCat(
          "pattern matches, but ",
          normalized_caller.empty() ? std::string("the call has no (valid) caller ID")
                                    : absl::StrCat("caller ", AbslView(normalized_caller)),
          " does not match caller_id_pattern ", Quote(route.caller_id_re->pattern()));
      trials.push_back(std::move(trial));
      continue;
    }
    trial.matched = true;
    trial.reason = absl::StrCat("pattern ", Quote(route.pattern), " matches ",
                                AbslView(normalized_number));
    if (route.ingress_trunk_index >= 0) {
      absl::StrAppend(&trial.reason, "; ingress trunk ", AbslView(ingress_trunk_id));
    }
    if (route.caller_id_re != nullptr) {
      absl::StrAppend(&trial.reason, "; caller ", AbslView(normalized_caller), " matches ",
                      Quote(route.caller_id_re->pattern()));
    }
    trials.push_back(std::move(trial));
    break;
  }
  return trials;
}

}  // namespace trunkroute::router
