#include "router/config_validator.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "re2/re2.h"
#include "router/policy.h"
#include "router/routing_table.h"

namespace trunkroute::router {
namespace {

constexpr size_t kMaxIdLength = 64;
constexpr size_t kMaxNameLength = 128;
constexpr size_t kMaxHostLength = 253;
constexpr size_t kMaxCredentialLength = 256;
constexpr size_t kMaxDescriptionLength = 1024;
constexpr size_t kMaxPatternLength = 4096;
constexpr size_t kMaxCodecNameLength = 32;
constexpr int kMaxTrunksPerRoute = 16;
constexpr uint32_t kMaxEdgeCalls = 1000000;
constexpr uint32_t kMaxEdgeCps = 100000;
constexpr uint32_t kMaxRetryAfterS = 3600;
constexpr uint32_t kMaxStripDigits = 15;
constexpr size_t kMaxPrependLength = 16;

absl::string_view AbslView(std::string_view sv) { return absl::string_view(sv.data(), sv.size()); }

// User text quoted back in an error message, escaped and cut short.
std::string Quote(std::string_view text) {
  constexpr size_t kMaxQuoted = 80;
  std::string_view shown = text.substr(0, kMaxQuoted);
  return absl::StrCat("'", absl::CHexEscape(AbslView(shown)), text.size() > kMaxQuoted ? "...'" : "'");
}

// Every problem found, in the order found; reported together so an operator fixes a config in
// one round trip instead of one error at a time.
class Problems {
 public:
  void Add(std::string_view path, std::string_view reason) {
    lines_.push_back(absl::StrCat(AbslView(path), ": ", AbslView(reason)));
  }
  absl::Status ToStatus() const {
    if (lines_.empty()) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrJoin(lines_, "\n"));
  }

 private:
  std::vector<std::string> lines_;
};

bool IsIdChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
}

void CheckId(std::string_view path, std::string_view id, Problems* problems) {
  if (id.empty()) {
    problems->Add(path, "required");
    return;
  }
  bool ok = id.size() <= kMaxIdLength;
  for (char c : id) ok = ok && IsIdChar(c);
  if (!ok) {
    problems->Add(path, absl::StrCat(Quote(id), " is not a valid id: use 1–64 characters of "
                                                "[A-Za-z0-9_.-]"));
  }
}

bool IsDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

void CheckCountryCode(std::string_view path, std::string_view cc, Problems* problems) {
  if (cc.empty()) return;
  if (!IsDigits(cc) || cc.size() > 3 || cc.front() == '0') {
    problems->Add(path, absl::StrCat(Quote(cc), " is not a country code: 1–3 digits, no leading 0 "
                                                "(e.g. \"1\", \"44\")"));
  }
}

void CheckLength(std::string_view path, std::string_view value, size_t max, Problems* problems) {
  if (value.size() > max) {
    problems->Add(path, absl::StrCat(value.size(), " characters, at most ", max, " allowed"));
  }
}

bool HasControlChar(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return true;
  }
  return false;
}

// A hostname (letters, digits, '-', '.', '_') or an IP literal; IPv6 may come bracketed.
bool IsValidHost(std::string_view host) {
  if (host.empty() || host.size() > kMaxHostLength) return false;
  if (host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.find(':') != std::string_view::npos) {
    auto cidr = Cidr::Parse(host);
    return cidr.ok() && cidr->v6 && cidr->prefix_len == 128 && host.find('/') == host.npos;
  }
  if (host.front() == '.' || host.front() == '-') return false;
  for (char c : host) {
    if (!(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' ||
          c == '_')) {
      return false;
    }
  }
  return true;
}

void CheckHost(std::string_view path, std::string_view host, Problems* problems) {
  if (host.empty()) {
    problems->Add(path, "required: an FQDN or an IP address");
    return;
  }
  if (!IsValidHost(host)) {
    std::string hint;
    if (host.find(':') != host.npos && host.find('.') != host.npos && host.front() != '[') {
      hint = " (put the port in the port field)";
    }
    problems->Add(path, absl::StrCat(Quote(host), " is not a hostname or IP address", hint));
  }
}

void CheckBound(std::string_view path, uint64_t value, uint64_t min, uint64_t max,
                Problems* problems) {
  if (value < min || value > max) {
    problems->Add(path, absl::StrCat(value, " is out of bounds ", min, "–", max));
  }
}

void CheckCodes(std::string_view path, const google::protobuf::RepeatedField<uint32_t>& codes,
                Problems* problems) {
  for (int i = 0; i < codes.size(); ++i) {
    if (codes[i] < kMinFailureCode || codes[i] > kMaxFailureCode) {
      problems->Add(absl::StrCat(AbslView(path), "[", i, "]"),
                    absl::StrCat(codes[i], " is not a final failure response: use ",
                                 kMinFailureCode, "–", kMaxFailureCode));
    }
  }
}

void CheckFailoverPolicy(const std::string& path, const v1::FailoverPolicy& p,
                         Problems* problems) {
  if (p.has_setup_timeout_ms()) {
    CheckBound(path + ".setup_timeout_ms", p.setup_timeout_ms(), kMinSetupTimeoutMs,
               kMaxSetupTimeoutMs, problems);
  }
  CheckCodes(path + ".failover_codes", p.failover_codes(), problems);
  if (p.has_max_attempts()) {
    CheckBound(path + ".max_attempts", p.max_attempts(), 1, kMaxMaxAttempts, problems);
  }
  if (p.has_retries_per_trunk()) {
    CheckBound(path + ".retries_per_trunk", p.retries_per_trunk(), 0, kMaxRetriesPerTrunk,
               problems);
  }
  if (p.has_call_setup_budget_ms()) {
    CheckBound(path + ".call_setup_budget_ms", p.call_setup_budget_ms(), kMinCallSetupBudgetMs,
               kMaxCallSetupBudgetMs, problems);
  }
}

// Field bounds of one HealthPolicy message; `effective` is the policy it resolves to (global
// defaults merged with it), used for the max ≥ base rule so that an override of one side is
// checked against the inherited other side.
void CheckHealthPolicy(const std::string& path, const v1::HealthPolicy& p,
                       const EffectiveHealthPolicy& effective, Problems* problems) {
  if (p.has_failure_threshold()) {
    CheckBound(path + ".failure_threshold", p.failure_threshold(), kMinThreshold, kMaxThreshold,
               problems);
  }
  if (p.has_probe_failure_threshold()) {
    CheckBound(path + ".probe_failure_threshold", p.probe_failure_threshold(), kMinThreshold,
               kMaxThreshold, problems);
  }
  if (p.has_recovery_threshold()) {
    CheckBound(path + ".recovery_threshold", p.recovery_threshold(), kMinThreshold,
               kMaxThreshold, problems);
  }
  bool base_ok = true;
  bool max_ok = true;
  if (p.has_hold_down_base_ms()) {
    base_ok = p.hold_down_base_ms() >= kMinHoldDownBaseMs &&
              p.hold_down_base_ms() <= kMaxHoldDownBaseMs;
    CheckBound(path + ".hold_down_base_ms", p.hold_down_base_ms(), kMinHoldDownBaseMs,
               kMaxHoldDownBaseMs, problems);
  }
  if (p.has_hold_down_max_ms()) {
    max_ok = p.hold_down_max_ms() >= kMinHoldDownMaxMs && p.hold_down_max_ms() <= kMaxHoldDownMaxMs;
    CheckBound(path + ".hold_down_max_ms", p.hold_down_max_ms(), kMinHoldDownMaxMs,
               kMaxHoldDownMaxMs, problems);
  }
  if (base_ok && max_ok && (p.has_hold_down_base_ms() || p.has_hold_down_max_ms()) &&
      effective.hold_down_max_ms < effective.hold_down_base_ms) {
    const bool max_set = p.has_hold_down_max_ms();
    problems->Add(
        path + (max_set ? ".hold_down_max_ms" : ".hold_down_base_ms"),
        absl::StrCat("hold_down_max_ms ", effective.hold_down_max_ms,
                     max_set ? "" : " (inherited)", " is less than hold_down_base_ms ",
                     effective.hold_down_base_ms, p.has_hold_down_base_ms() ? "" : " (inherited)",
                     "; the doubling hold-down needs max ≥ base"));
  }
  if (p.has_retry_after_max_ms()) {
    CheckBound(path + ".retry_after_max_ms", p.retry_after_max_ms(), 0, kMaxRetryAfterMaxMs,
               problems);
  }
  if (p.has_probe_interval_up_ms()) {
    CheckBound(path + ".probe_interval_up_ms", p.probe_interval_up_ms(), kMinProbeIntervalUpMs,
               kMaxProbeIntervalMs, problems);
  }
  if (p.has_probe_interval_down_ms()) {
    CheckBound(path + ".probe_interval_down_ms", p.probe_interval_down_ms(),
               kMinProbeIntervalDownMs, kMaxProbeIntervalMs, problems);
  }
  if (p.has_probe_timeout_ms()) {
    CheckBound(path + ".probe_timeout_ms", p.probe_timeout_ms(), kMinProbeTimeoutMs,
               kMaxProbeTimeoutMs, problems);
  }
  if (p.has_ramp_up_ms()) {
    CheckBound(path + ".ramp_up_ms", p.ramp_up_ms(), 0, kMaxRampUpMs, problems);
  }
  if (p.has_hold_down_jitter_pct()) {
    CheckBound(path + ".hold_down_jitter_pct", p.hold_down_jitter_pct(), 0, kMaxHoldDownJitterPct,
               problems);
  }
  CheckCodes(path + ".probe_failure_codes", p.probe_failure_codes(), problems);
}

void CheckCidrs(const std::string& path, const google::protobuf::RepeatedPtrField<std::string>& cidrs,
                Problems* problems) {
  for (int i = 0; i < cidrs.size(); ++i) {
    auto cidr = Cidr::Parse(cidrs[i]);
    if (!cidr.ok()) {
      problems->Add(absl::StrCat(path, "[", i, "]"), std::string(cidr.status().message()));
    }
  }
}

bool IsE164(std::string_view number) {
  // '+' and 7–15 digits: config.proto allows 8–16 characters in all.
  return number.size() >= 8 && number.size() <= 16 && number.front() == '+' &&
         IsDigits(number.substr(1));
}

void CheckCallerId(const std::string& path, const v1::CallerIdPolicy& c, Problems* problems) {
  if (!v1::CallerIdMode_IsValid(c.mode())) {
    problems->Add(path + ".mode", absl::StrCat(c.mode(), " is not a caller-ID mode"));
  }
  if (!c.domain().empty() && !IsValidHost(c.domain())) {
    problems->Add(path + ".domain", absl::StrCat(Quote(c.domain()), " is not a hostname"));
  }
  if (c.mode() == v1::CALLER_ID_MODE_FIXED && !IsE164(c.fixed_number())) {
    problems->Add(path + ".fixed_number",
                  c.fixed_number().empty()
                      ? std::string("required with CALLER_ID_MODE_FIXED: an E.164 number such as "
                                    "+15551234567")
                      : absl::StrCat(Quote(c.fixed_number()),
                                     " is not E.164: '+' followed by 7–15 digits"));
  } else if (c.mode() != v1::CALLER_ID_MODE_FIXED && !c.fixed_number().empty() &&
             !IsE164(c.fixed_number())) {
    problems->Add(path + ".fixed_number", absl::StrCat(Quote(c.fixed_number()),
                                                       " is not E.164: '+' followed by 7–15 digits"));
  }
  CheckCountryCode(path + ".default_country_code", c.default_country_code(), problems);
}

bool IsCodecName(std::string_view name) {
  if (name.empty() || name.size() > kMaxCodecNameLength) return false;
  for (char c : name) {
    if (!(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ||
          c == '.')) {
      return false;
    }
  }
  return true;
}

void CheckTrunkFields(int i, const v1::Trunk& t, const EffectiveHealthPolicy& global_health,
                      Problems* problems) {
  const std::string path = absl::StrCat("trunks[", i, "]");
  CheckId(path + ".id", t.id(), problems);
  CheckLength(path + ".name", t.name(), kMaxNameLength, problems);
  CheckHost(path + ".host", t.host(), problems);
  if (t.port() > 65535) {
    problems->Add(path + ".port", absl::StrCat(t.port(), " is out of bounds 1–65535"));
  }
  if (!v1::Transport_IsValid(t.transport())) {
    problems->Add(path + ".transport", absl::StrCat(t.transport(), " is not a transport"));
  }
  CheckLength(path + ".username", t.username(), kMaxCredentialLength, problems);
  if (HasControlChar(t.username())) {
    problems->Add(path + ".username", "contains control characters");
  }
  // The password itself is never quoted back: it is a secret.
  CheckLength(path + ".password", t.password(), kMaxCredentialLength, problems);
  CheckLength(path + ".auth_realm", t.auth_realm(), kMaxCredentialLength, problems);
  CheckCidrs(path + ".allow_cidrs", t.allow_cidrs(), problems);
  CheckCallerId(path + ".caller_id", t.caller_id(), problems);
  absl::flat_hash_map<std::string, int> codecs;
  for (int c = 0; c < t.codecs_size(); ++c) {
    const std::string codec_path = absl::StrCat(path, ".codecs[", c, "]");
    if (!IsCodecName(t.codecs(c))) {
      problems->Add(codec_path, absl::StrCat(Quote(t.codecs(c)),
                                             " is not a codec name (rtpmap encoding name such as "
                                             "PCMU, G729, telephone-event)"));
      continue;
    }
    auto [it, inserted] = codecs.emplace(absl::AsciiStrToLower(t.codecs(c)), c);
    if (!inserted) {
      problems->Add(codec_path, absl::StrCat("duplicate codec ", Quote(t.codecs(c)), " (also codecs[",
                                             it->second, "])"));
    }
  }
  if (!v1::AdminState_IsValid(t.admin_state())) {
    problems->Add(path + ".admin_state", absl::StrCat(t.admin_state(), " is not an admin state"));
  }
  CheckHealthPolicy(path + ".health", t.health(), MergeHealthPolicy(global_health, t.health()),
                    problems);
}

void CheckTransform(const std::string& path, const v1::NumberTransform& t, Problems* problems) {
  if (t.strip_digits() > kMaxStripDigits) {
    problems->Add(path + ".strip_digits",
                  absl::StrCat(t.strip_digits(), " is out of bounds 0–", kMaxStripDigits));
  }
  const std::string& prepend = t.prepend();
  bool ok = prepend.size() <= kMaxPrependLength;
  for (size_t k = 0; k < prepend.size(); ++k) {
    const char c = prepend[k];
    ok = ok && ((c >= '0' && c <= '9') || c == '*' || c == '#' || (c == '+' && k == 0));
  }
  if (!ok) {
    problems->Add(path + ".prepend",
                  absl::StrCat(Quote(prepend), " is not a dial prefix: at most 16 characters of "
                                               "[0-9*#], optionally after one leading '+'"));
  }
  CheckCountryCode(path + ".default_country_code", t.default_country_code(), problems);
}

RE2::Options PatternOptions() {
  RE2::Options options;
  options.set_log_errors(false);
  return options;
}

void CheckPattern(const std::string& path, const std::string& pattern, bool required,
                  Problems* problems) {
  if (pattern.empty()) {
    if (required) problems->Add(path, "required: an RE2 pattern matched against the whole number");
    return;
  }
  if (pattern.size() > kMaxPatternLength) {
    problems->Add(path, absl::StrCat(pattern.size(), " characters, at most ", kMaxPatternLength,
                                     " allowed"));
    return;
  }
  RE2 re(pattern, PatternOptions());
  if (!re.ok()) problems->Add(path, absl::StrCat("invalid RE2 pattern: ", re.error()));
}

void CheckRouteFields(int i, const v1::Route& r, Problems* problems) {
  const std::string path = absl::StrCat("routes[", i, "]");
  CheckId(path + ".id", r.id(), problems);
  CheckPattern(path + ".pattern", r.pattern(), /*required=*/true, problems);
  CheckPattern(path + ".caller_id_pattern", r.caller_id_pattern(), /*required=*/false, problems);
  if (r.trunk_ids_size() == 0) {
    problems->Add(path + ".trunk_ids", "required: at least one trunk id");
  } else if (r.trunk_ids_size() > kMaxTrunksPerRoute) {
    problems->Add(path + ".trunk_ids", absl::StrCat(r.trunk_ids_size(),
                                                    " trunks; a route lists at most ",
                                                    kMaxTrunksPerRoute));
  }
  CheckTransform(path + ".transform", r.transform(), problems);
  CheckFailoverPolicy(path + ".failover_policy", r.failover_policy(), problems);
  CheckLength(path + ".description", r.description(), kMaxDescriptionLength, problems);
}

void CheckEdge(const v1::EdgeSettings& edge, Problems* problems) {
  CheckCidrs("edge.allowed_sources", edge.allowed_sources(), problems);
  if (edge.max_calls() > kMaxEdgeCalls) {
    problems->Add("edge.max_calls", absl::StrCat(edge.max_calls(), " is above the maximum ",
                                                 kMaxEdgeCalls, " (0 means no limit)"));
  }
  if (edge.max_cps() > kMaxEdgeCps) {
    problems->Add("edge.max_cps", absl::StrCat(edge.max_cps(), " is above the maximum ",
                                               kMaxEdgeCps, " calls per second (0 means no cap)"));
  }
  if (edge.max_cps_per_source() > kMaxEdgeCps) {
    problems->Add("edge.max_cps_per_source",
                  absl::StrCat(edge.max_cps_per_source(), " is above the maximum ", kMaxEdgeCps,
                               " calls per second (0 means no cap)"));
  }
  if (edge.max_cps() > 0 && edge.max_cps_per_source() > edge.max_cps()) {
    problems->Add("edge.max_cps_per_source",
                  absl::StrCat(edge.max_cps_per_source(), " is above edge.max_cps (",
                               edge.max_cps(), "): one source can never get more than all"));
  }
  if (edge.retry_after_s() > kMaxRetryAfterS) {
    problems->Add("edge.retry_after_s",
                  absl::StrCat(edge.retry_after_s(), " is above the maximum ", kMaxRetryAfterS,
                               " seconds (0 means the default, 1)"));
  }
  std::string_view addr = edge.advertised_address();
  if (addr.empty()) return;
  // host, host:port, [v6] or [v6]:port.
  std::string_view host = addr;
  std::string_view port;
  if (addr.front() == '[') {
    const size_t close = addr.find(']');
    host = addr.substr(0, close == addr.npos ? addr.size() : close + 1);
    if (close != addr.npos && close + 1 < addr.size()) {
      if (addr[close + 1] == ':') port = addr.substr(close + 2);
      else host = addr;
    }
  } else if (addr.find(':') == addr.rfind(':') && addr.find(':') != addr.npos) {
    host = addr.substr(0, addr.find(':'));
    port = addr.substr(addr.find(':') + 1);
  }
  bool ok = IsValidHost(host);
  if (ok && !port.empty()) {
    ok = IsDigits(port) && port.size() <= 5 && std::stoul(std::string(port)) >= 1 &&
         std::stoul(std::string(port)) <= 65535;
  }
  if (!ok) {
    problems->Add("edge.advertised_address",
                  absl::StrCat(Quote(addr), " is not host, host:port or [IPv6]:port"));
  }
}

// Second layer: references between objects (ids, trunk lists, loops, priority ties).
void CheckReferences(const v1::Config& config, Problems* problems) {
  absl::flat_hash_map<std::string, int> trunk_index;
  for (int i = 0; i < config.trunks_size(); ++i) {
    const std::string& id = config.trunks(i).id();
    if (id.empty()) continue;
    auto [it, inserted] = trunk_index.emplace(id, i);
    if (!inserted) {
      problems->Add(absl::StrCat("trunks[", i, "].id"),
                    absl::StrCat("duplicate id ", Quote(id), " (also trunks[", it->second, "])"));
    }
  }
  absl::flat_hash_map<std::string, int> route_index;
  absl::flat_hash_map<int32_t, int> priority_index;
  for (int i = 0; i < config.routes_size(); ++i) {
    const v1::Route& r = config.routes(i);
    const std::string path = absl::StrCat("routes[", i, "]");
    if (!r.id().empty()) {
      auto [it, inserted] = route_index.emplace(r.id(), i);
      if (!inserted) {
        problems->Add(path + ".id", absl::StrCat("duplicate id ", Quote(r.id()), " (also routes[",
                                                 it->second, "])"));
      }
    }
    auto [pit, pinserted] = priority_index.emplace(r.priority(), i);
    if (!pinserted) {
      problems->Add(path + ".priority",
                    absl::StrCat(r.priority(), " is also the priority of routes[", pit->second,
                                 "] (", Quote(config.routes(pit->second).id()),
                                 "); ties are not allowed"));
    }
    if (!r.ingress_trunk_id().empty() && !trunk_index.contains(r.ingress_trunk_id())) {
      problems->Add(path + ".ingress_trunk_id",
                    absl::StrCat("unknown trunk ", Quote(r.ingress_trunk_id())));
    }
    absl::flat_hash_map<std::string, int> listed;
    for (int k = 0; k < r.trunk_ids_size(); ++k) {
      const std::string& tid = r.trunk_ids(k);
      const std::string tpath = absl::StrCat(path, ".trunk_ids[", k, "]");
      if (!trunk_index.contains(tid)) {
        problems->Add(tpath, absl::StrCat("unknown trunk ", Quote(tid)));
      }
      auto [lit, linserted] = listed.emplace(tid, k);
      if (!linserted) {
        problems->Add(tpath, absl::StrCat(Quote(tid), " is listed twice (also trunk_ids[",
                                          lit->second, "])"));
      }
      if (!r.ingress_trunk_id().empty() && tid == r.ingress_trunk_id()) {
        problems->Add(tpath, absl::StrCat(Quote(tid),
                                          " is the route's ingress trunk; a call would loop back "
                                          "to where it came from"));
      }
    }
  }
}

}  // namespace

absl::Status ValidateConfig(const v1::Config& config) {
  Problems problems;
  // Layer 1: every field within its bounds.
  CheckFailoverPolicy("failover_policy", config.failover_policy(), &problems);
  const EffectiveHealthPolicy global_health =
      MergeHealthPolicy(DefaultHealthPolicy(), config.health_policy());
  CheckHealthPolicy("health_policy", config.health_policy(), global_health, &problems);
  for (int i = 0; i < config.trunks_size(); ++i) {
    CheckTrunkFields(i, config.trunks(i), global_health, &problems);
  }
  for (int i = 0; i < config.routes_size(); ++i) CheckRouteFields(i, config.routes(i), &problems);
  CheckEdge(config.edge(), &problems);
  // Layer 2: cross-references.
  CheckReferences(config, &problems);
  return problems.ToStatus();
}

}  // namespace trunkroute::router
