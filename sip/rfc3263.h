#ifndef TRUNKROUTE_SIP_RFC3263_H_
#define TRUNKROUTE_SIP_RFC3263_H_

// The selection rules of RFC 3263 §4 (locating a SIP server) and RFC 2782 (SRV ordering), as
// pure functions over DNS records: no network, no clock. sip/target_resolver.h runs the queries.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/random.h"
#include "trunkroute/v1/config.pb.h"

namespace trunkroute::sip {

// At most this many addresses are kept per trunk (first in SRV order): bounds the health state,
// the probes and the metric label values a carrier's DNS can create.
inline constexpr size_t kMaxTargetsPerTrunk = 8;

struct NaptrRecord {
  uint16_t order = 0;
  uint16_t preference = 0;
  std::string flags;        // "s" for a record that points at SRV
  std::string service;      // "SIP+D2U", "SIP+D2T", "SIPS+D2T"
  std::string replacement;  // the SRV name, e.g. "_sip._udp.carrier.example.com"
  uint32_t ttl = 0;
};

struct SrvRecord {
  uint16_t priority = 0;
  uint16_t weight = 0;
  uint16_t port = 0;
  std::string target;  // host name; "." means "no service here" (RFC 2782)
  uint32_t ttl = 0;
};

// The transports and address families the edge can actually use: NAPTR and SRV choices for
// anything else are discarded (RFC 3263 §4.1: a client discards records for transports it does
// not support).
struct TransportSupport {
  bool udp = true;
  bool tcp = true;
  bool tls = false;
  bool ipv4 = true;
  bool ipv6 = false;
  bool Has(v1::Transport t) const;
};

// One SRV name to query and the transport it stands for.
struct SrvQuery {
  std::string name;  // "_sips._tcp.carrier.example.com"
  v1::Transport transport = v1::TRANSPORT_UDP;
  bool operator==(const SrvQuery&) const = default;
};

// "_sip._udp.<domain>", "_sip._tcp.<domain>", "_sips._tcp.<domain>".
std::string SrvName(std::string_view domain, v1::Transport transport);

// RFC 3263 §4.1: the usable NAPTR records ("s" flag, service SIP+D2U / SIP+D2T / SIPS+D2T of a
// supported transport), by order then preference, as SRV names to query in that order.
// Duplicate names are dropped. Empty when none is usable.
std::vector<SrvQuery> SrvQueriesFromNaptr(const std::vector<NaptrRecord>& records,
                                          const TransportSupport& support);

// Without usable NAPTR records: one SRV name per supported transport, TLS first, then TCP, then
// UDP (design.md prefers TLS to carriers); only `pinned` when the trunk configures a transport.
std::vector<SrvQuery> DefaultSrvQueries(std::string_view domain, const TransportSupport& support,
                                        v1::Transport pinned);

// RFC 2782 order of SRV records: by priority (lowest first); within one priority, a weighted
// random draw without replacement (records of weight 0 are listed first and get a small chance,
// as the RFC's running-sum algorithm gives them). Records with target "." are dropped. Returns
// indexes into `records`. `random` gives one draw per record in a priority group of two or more.
std::vector<size_t> OrderSrv(const std::vector<SrvRecord>& records, RandomSource& random);

// TTL to re-resolve after: the smallest TTL of the records used, clamped to [floor_s, cap_s].
uint32_t ClampTtl(uint32_t ttl_s, uint32_t floor_s, uint32_t cap_s);

// A DNS name compared case-insensitively and without its trailing dot.
bool SameDnsName(std::string_view a, std::string_view b);

}  // namespace trunkroute::sip

#endif  // TRUNKROUTE_SIP_RFC3263_H_
