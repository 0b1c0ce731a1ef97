#ifndef TRUNKROUTE_SIP_TARGET_RESOLVER_H_
#define TRUNKROUTE_SIP_TARGET_RESOLVER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "common/clock.h"
#include "common/random.h"
#include "router/routing_table.h"
#include "sip/dns_client.h"
#include "sip/rfc3263.h"

namespace trunkroute::sip {

// One address a trunk's requests can be sent to.
struct ResolvedTarget {
  std::string address;  // IP literal without brackets
  uint32_t port = 0;
  v1::Transport transport = v1::TRANSPORT_UDP;
  // The SRV record it came from: its priority and weight (0, 0 without SRV) and its position in
  // the answer. The addresses of one record are tried one after the other, in answer order.
  uint16_t priority = 0;
  uint16_t weight = 0;
  int group = 0;
  // "192.0.2.1:5060", "[2001:db8::1]:5061": the target's name in health, logs and metrics.
  std::string key;
  bool operator==(const ResolvedTarget&) const = default;
};

// "192.0.2.1:5060" / "[2001:db8::1]:5061".
std::string TargetKey(std::string_view address, uint32_t port);

// What is known of one trunk's addresses. Immutable once published.
struct TrunkTargets {
  std::string trunk_id;
  // The configured address this was resolved for (port and transport with defaults applied).
  std::string host;
  uint32_t port = 0;
  v1::Transport transport = v1::TRANSPORT_TLS;
  bool from_dns = false;  // false: an IP literal, used as is (no DNS)
  bool resolved = false;  // an answer has arrived (false only before the first one)
  // At most kMaxTargetsPerTrunk, grouped by SRV record in priority order.
  std::vector<ResolvedTarget> targets;
  // Why `targets` is empty ("NXDOMAIN", "timeout"), or, when `stale`, why the last refresh failed.
  std::string error;
  // The last refresh failed (no answer, SERVFAIL, ...): `targets` is the last good answer, kept.
  bool stale = false;
};

// The order in which one call tries a trunk's targets: SRV groups by priority, equal priorities
// in a weighted random order (RFC 2782, one draw from `random` per choice), each group's
// addresses in answer order.
std::vector<const ResolvedTarget*> OrderForCall(const TrunkTargets& targets, RandomSource& random);

struct ResolverOptions {
  TransportSupport support;
  // DNS TTLs are clamped to [ttl_floor_s, ttl_cap_s]; a failed refresh is retried after
  // ttl_floor_s (the last good answer is kept meanwhile).
  uint32_t ttl_floor_s = 5;
  uint32_t ttl_cap_s = 300;
};

// Resolves every trunk of the config as RFC 3263 §4 says, and keeps the answers fresh:
//  - an IP literal is used as is (no DNS);
//  - a name with a configured port: A/AAAA only (§4.2), that port;
//  - a name with a configured transport but no port: SRV of that transport, else A/AAAA with
//    the transport's default port;
//  - a name with neither: NAPTR (§4.1) → the SRV names it gives, in order, for transports the
//    edge supports; without usable NAPTR: SRV _sips._tcp, _sip._tcp, _sip._udp (supported ones,
//    first with records wins); without SRV: A/AAAA on the configured default (TLS, 5061).
// Answers are re-resolved at their smallest TTL (clamped). A refresh that gets no usable answer
// keeps the last good targets (marked stale) and retries after the floor; an authoritative
// "no such name/records" empties them (RFC 8767 serves stale data only when refresh fails).
//
// Single-threaded (the SIP thread); time from `clock`, driven by Tick() at NextDeadline().
class TargetResolver {
 public:
  // Called on every change of a trunk's TrunkTargets (new answer, failure, stale flag).
  using Listener = std::function<void(const std::shared_ptr<const TrunkTargets>&)>;

  TargetResolver(DnsClient* dns, Clock* clock, ResolverOptions options, Listener listener);
  ~TargetResolver();
  TargetResolver(const TargetResolver&) = delete;
  TargetResolver& operator=(const TargetResolver&) = delete;

  // New trunks are resolved at once, trunks whose address changed are resolved anew (their old
  // answer is dropped), deleted trunks are forgotten.
  void Sync(const router::RoutingTable& table);
  // Starts the refreshes that are due.
  void Tick();
  // When Tick() next has something to do; MonoTime::max() when nothing is scheduled.
  MonoTime NextDeadline() const;

  // The trunk's current targets; null for an unknown trunk.
  std::shared_ptr<const TrunkTargets> Find(std::string_view trunk_id) const;

 private:
  struct Job;
  void Start(Job& job);
  void Publish(Job& job, std::shared_ptr<const TrunkTargets> next);

  DnsClient* const dns_;
  Clock* const clock_;
  const ResolverOptions options_;
  const Listener listener_;
  absl::flat_hash_map<std::string, std::shared_ptr<Job>> jobs_;
};

}  // namespace trunkroute::sip

#endif  // TRUNKROUTE_SIP_TARGET_RESOLVER_H_
