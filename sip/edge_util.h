#ifndef TRUNKROUTE_SIP_EDGE_UTIL_H_
#define TRUNKROUTE_SIP_EDGE_UTIL_H_

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "router/routing_table.h"
#include "sip/sofia.h"

namespace trunkroute::sip {

// A host and port as they appear in a Via sent-by or a listen option.
struct HostPort {
  std::string host;
  uint32_t port = 0;
  bool operator==(const HostPort&) const = default;
};

// Parses "ip:port", "[v6]:port" or "host" (port = default_port). InvalidArgument naming `field`.
absl::StatusOr<HostPort> ParseHostPort(std::string_view text, uint32_t default_port,
                                       std::string_view field);

// The packet source of a received message ("192.0.2.1", "::1"); empty if unknown.
std::string SourceAddress(msg_t* msg);

// The UDP socket of this process bound to `hp` (Sofia's tport does not export its descriptor:
// found by scanning /proc/self/fd once at start-up), or -1.
int FindUdpSocket(const HostPort& hp);

// The socket address of `hp` (its host an IPv4 or IPv6 literal); nullopt for a host name.
struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};
std::optional<SocketAddress> SocketAddressOf(const HostPort& hp);

// Bytes waiting in a socket's receive queue and the queue's capacity (SO_MEMINFO: the kernel's
// own accounting, the same as /proc/net/udp's rx_queue; FIONREAD on UDP gives only the next
// datagram). False if the kernel cannot say.
bool ReadReceiveQueue(int fd, uint64_t* queued_bytes, uint64_t* capacity_bytes);

// RFC 3261 §16.3 loop check for a B2BUA: a Via naming one of our own addresses means the request
// left us and came back.
bool ViaNamesUs(const sip_via_t* via, const std::vector<HostPort>& own);

// The value of the first header called `name` (case-insensitive) among the headers Sofia's
// default parser does not know (P-Asserted-Identity, P-Preferred-Identity …); empty if none.
std::string UnknownHeader(const sip_t* sip, std::string_view name);

// The dialed number of a Request-URI: the user part of sip:/sips: (sip:+15551234567@edge), the
// number of tel: (tel:+15551234567); empty if none.
std::string DialedNumberOf(const url_t* request_uri);

// The user part of a SIP URI inside a name-addr ("\"A\" <sip:+1555@x>;foo" → "+1555"); empty if
// none.
std::string UserOfNameAddr(std::string_view name_addr);

// From and P-Asserted-Identity as presented to a trunk.
struct CallerIdentity {
  std::string from;  // a full From value without tag, e.g. "\"Alice\" <sip:+1555@x>"
  std::string pai;   // empty: no P-Asserted-Identity header
  std::string warning;
};

// The caller's own identity: From without its tag, and its P-Asserted-Identity if any.
CallerIdentity CallerIdentityOf(const sip_t* request);

// The identity for one trunk, per its caller-ID policy (design.md §2): PRESERVE keeps
// `preserved`; E164 presents sip:+E164@domain built from `caller_number` (keeping the display
// name); FIXED presents the configured number. Rewriting never produces a bare number. If the
// caller number cannot be made E.164 the identity is preserved and `warning` says why.
CallerIdentity IdentityForTrunk(const CallerIdentity& preserved, const router::CompiledTrunk& trunk,
                                std::string_view caller_number);

// A sip_from_t printed without its tag parameter (the B leg gets its own tag).
std::string FromWithoutTag(su_home_t* home, const sip_from_t* from);

// "realm" of the first Digest challenge in a 401/407, without quotes; empty if none.
std::string ChallengeRealm(const sip_t* response);

// Sofia's NUTAG_AUTH credential string: Digest:"realm":user:password.
std::string DigestCredentials(std::string_view realm, std::string_view user,
                              std::string_view password);

// "sip:host:port;transport=udp" for an OPTIONS probe or a listener URL.
std::string TargetUri(std::string_view host, uint32_t port, v1::Transport transport);

// Where a request to one resolved target of a trunk goes (nta's per-request default proxy, no
// Route header): "sip:<trunk host>:<target port>;transport=...;maddr=<target address>". nta sends
// to maddr without any DNS, and a TLS connection checks the certificate against the trunk's host
// name (the identity the config names, RFC 5922 §4.1), not the address.
std::string NextHopUri(std::string_view host, std::string_view address, uint32_t port,
                       v1::Transport transport);

}  // namespace trunkroute::sip

#endif  // TRUNKROUTE_SIP_EDGE_UTIL_H_
