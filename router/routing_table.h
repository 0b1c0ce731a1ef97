#ifndef TRUNKROUTE_ROUTER_ROUTING_TABLE_H_
#define TRUNKROUTE_ROUTER_ROUTING_TABLE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "re2/re2.h"
#include "re2/set.h"
#include "router/policy.h"
#include "trunkroute/v1/config.pb.h"

namespace trunkroute::router {

// An IPv4 or IPv6 network (from allow_cidrs / allowed_sources).
struct Cidr {
  bool v6 = false;
  uint8_t addr[16] = {};
  int prefix_len = 0;
  // `ip` is a textual address ("192.0.2.1", "::1"); false if unparsable or not inside.
  bool Contains(std::string_view ip) const;
  static absl::StatusOr<Cidr> Parse(std::string_view text);
};

// A trunk with every default resolved, ready for the SIP edge and the decision.
struct CompiledTrunk {
  int index = -1;  // position in RoutingTable::trunks()
  std::string id;
  std::string name;
  std::string host;
  uint32_t port = 0;               // resolved: 5061 for TLS, 5060 otherwise
  v1::Transport transport = v1::TRANSPORT_TLS;  // resolved: never UNSPECIFIED
  // How the SIP edge finds the trunk's addresses (RFC 3263 §4): an IP literal is used as is; a
  // name is resolved through DNS — NAPTR when neither port nor transport is configured, SRV when
  // no port is configured (§4.2), then A/AAAA.
  bool host_is_ip = false;
  bool port_configured = false;       // Trunk.port was set
  bool transport_configured = false;  // Trunk.transport was set
  // Appended to "sip:<number>@" to build the Request-URI: "host:port;transport=tls" for an IP
  // literal or a configured port; a bare name ("carrier.example.com", with ";transport=tls" only
  // when configured) when the port comes from SRV, as RFC 3263 resolves it.
  std::string uri_suffix;
  std::string username;
  std::string password;  // secret: never log or return
  std::string auth_realm;
  std::vector<Cidr> allow_cidrs;
  v1::CallerIdPolicy caller_id;    // mode resolved (never UNSPECIFIED), domain defaulted to host
  std::vector<std::string> codecs; // lower-case rtpmap names; default pcmu, pcma, telephone-event
  uint32_t max_concurrent_calls = 0;
  v1::AdminState admin_state = v1::ADMIN_STATE_ENABLED;  // resolved: never UNSPECIFIED
  EffectiveHealthPolicy health;    // global health policy merged with the trunk's override
};

// A route with its patterns compiled and its policy resolved.
struct CompiledRoute {
  int index = -1;  // position in RoutingTable::routes() (priority order)
  std::string id;
  int32_t priority = 0;
  std::string pattern;
  std::vector<int> trunk_indexes;  // into RoutingTable::trunks(), primary first
  int ingress_trunk_index = -1;    // -1: any ingress
  std::unique_ptr<RE2> caller_id_re;  // null: any caller
  v1::NumberTransform transform;
  EffectiveFailoverPolicy policy;  // global merged with the route's override
};

// What a call looks like to the matcher.
struct CallQuery {
  std::string_view dialed_number;
  std::string_view caller_id;
  std::string_view ingress_trunk_id;
};

// The immutable, compiled form of one config version. Built once per applied config and shared
// by pointer (std::shared_ptr<const RoutingTable>); every method is const and thread-safe.
class RoutingTable {
 public:
  // Compiles a config that passed ValidateConfig. Returns InvalidArgument if it cannot compile
  // (it validates again rather than trust the caller).
  static absl::StatusOr<std::shared_ptr<const RoutingTable>> Create(const v1::Config& config);

  uint64_t version() const { return version_; }
  const v1::Config& config() const { return config_; }  // includes secrets: never return as is
  const std::vector<CompiledTrunk>& trunks() const { return trunks_; }
  const std::vector<CompiledRoute>& routes() const { return routes_; }  // priority order
  const EffectiveFailoverPolicy& default_failover_policy() const { return default_failover_; }
  const EffectiveHealthPolicy& default_health_policy() const { return default_health_; }
  const std::vector<Cidr>& edge_allowed_sources() const { return edge_allowed_sources_; }
  // edge.max_calls: calls the edge carries at once; 0 = no limit.
  uint32_t edge_max_calls() const { return edge_max_calls_; }
  // edge.max_cps, edge.max_cps_per_source: new calls per second; 0 = no cap.
  uint32_t edge_max_cps() const { return config_.edge().max_cps(); }
  uint32_t edge_max_cps_per_source() const { return config_.edge().max_cps_per_source(); }
  // edge.retry_after_s with its default (1) applied.
  uint32_t edge_retry_after_s() const {
    return config_.edge().retry_after_s() > 0 ? config_.edge().retry_after_s() : 1;
  }

  // nullptr when unknown.
  const CompiledTrunk* FindTrunk(std::string_view id) const;
  const CompiledRoute* FindRoute(std::string_view id) const;
  // The trunk whose allow_cidrs contain `source_ip` (first in config order), or nullptr.
  const CompiledTrunk* TrunkForSource(std::string_view source_ip) const;

  // The first route, in priority order, whose pattern matches `normalized_number` in full and
  // whose ingress and caller-ID conditions hold; nullptr if none. `normalized_caller` is the
  // caller number after NormalizeNumber (may be empty).
  const CompiledRoute* Match(std::string_view normalized_number, std::string_view normalized_caller,
                             std::string_view ingress_trunk_id) const;

  // For ExplainRoute: every route in priority order up to and including the match, with the
  // reason each did or did not match.
  struct Trial {
    const CompiledRoute* route;
    bool matched;
    std::string reason;
  };
  std::vector<Trial> Explain(std::string_view normalized_number, std::string_view normalized_caller,
                             std::string_view ingress_trunk_id) const;

 private:
  RoutingTable() = default;

  uint64_t version_ = 0;
  v1::Config config_;
  std::vector<CompiledTrunk> trunks_;
  std::vector<CompiledRoute> routes_;
  absl::flat_hash_map<std::string, int> trunk_by_id_;
  absl::flat_hash_map<std::string, int> route_by_id_;
  EffectiveFailoverPolicy default_failover_;
  EffectiveHealthPolicy default_health_;
  std::vector<Cidr> edge_allowed_sources_;
  uint32_t edge_max_calls_ = 0;
  // All dial patterns in one set (anchored, full match): one linear-time pass over the number
  // yields every matching route; the lowest index (= best priority) whose other conditions hold
  // wins.
  std::unique_ptr<RE2::Set> pattern_set_;
};

}  // namespace trunkroute::router

#endif  // TRUNKROUTE_ROUTER_ROUTING_TABLE_H_
