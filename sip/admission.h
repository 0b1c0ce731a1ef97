#ifndef TRUNKROUTE_SIP_ADMISSION_H_
#define TRUNKROUTE_SIP_ADMISSION_H_

// The edge's checks on an incoming INVITE before any routing (design.md §4), as pure functions
// over facts the Sofia glue reads from the request: no Sofia here, unit-tested on their own.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "common/clock.h"
#include "router/routing_table.h"
#include "sip/edge_rejections.h"
#include "sip/overload.h"

namespace trunkroute::sip {

// An INVITE the edge answers itself, before or instead of any trunk attempt.
struct EdgeRejection {
  int status = 0;
  // The status line's reason phrase; null: the standard one. A static string (nua_respond keeps
  // the pointer until the stack sends the response).
  char const* phrase = nullptr;
  std::string reason_header;  // RFC 3326 Reason value; empty: no Reason header
  // The "call rejected" log line's reason ("source not allowed", "Max-Forwards 0" …).
  std::string_view log_reason;
  // EdgeObserver::OnRejected's word, one of sip/edge_rejections.h (bounded label values).
  std::string_view metric_reason;
  // Worth a warning line naming the source too: a peer we do not know is calling us.
  bool warn_with_source = false;
  // Seconds for a Retry-After header (RFC 3261 §20.33); 0: none. Set on load shedding, so that
  // the caller takes its calls to another edge for that long.
  uint32_t retry_after_s = 0;
};

// What admission needs from the INVITE and the packet that carried it.
struct InviteFacts {
  std::string source;          // packet source address ("192.0.2.1", "::1"); empty if unknown
  unsigned max_forwards = 70;  // the Max-Forwards value; 70 when the header is absent
  bool via_names_us = false;   // a Via names one of the edge's own addresses (ViaNamesUs)
};

// The edge's own state admission depends on.
struct EdgeState {
  bool stopping = false;         // SipEdge::Stop() has begun
  size_t calls_in_progress = 0;  // calls the edge holds (any leg or attempt open)
  bool overloaded = false;       // OverloadDetector::overloaded(): the SIP thread is behind
  // The edge.max_cps / max_cps_per_source buckets (taken from when the call is admitted); null:
  // the caps are not checked.
  CallRateLimiter* rate_limiter = nullptr;
  MonoTime now{};  // for the buckets
};

struct Admission {
  // Set: answer the caller with it and forward nothing.
  std::optional<EdgeRejection> rejection;
  // Admitted from a source in this trunk's allow_cidrs (the call's ingress trunk, which routes
  // may match on and which is never offered back); null when admitted by edge.allowed_sources.
  const router::CompiledTrunk* ingress = nullptr;
};

// The checks, in order; the first that fails answers:
//  1. the edge is stopping → 503 "edge shutting down";
//  2. source: a trunk's allow_cidrs (naming the ingress trunk), else edge.allowed_sources
//     (default loopback) → 403;
//  3. capacity: edge.max_calls calls in progress → 503 "edge at max_calls" (at once, so the
//     caller's own failover moves on rather than queueing behind calls we cannot carry);
//  4. Max-Forwards 0 → 483 Too Many Hops (RFC 3261 §16.3);
//  5. our own Via in the request → 482 Loop Detected (never the folklore 485, which is
//     Ambiguous);
//  6. overload: the SIP thread is behind (sip/overload.h) → 503 "edge overloaded" with
//     Retry-After (edge.retry_after_s), at once: the caller moves to another edge;
//  7. call rate: edge.max_cps_per_source for this source, then edge.max_cps → 503 "source at
//     max_cps_per_source" / "edge at max_cps" with Retry-After. Only a call admitted here takes
//     a token (from both buckets): refused calls, overloaded ones included, do not use the rate.
Admission AdmitInvite(const InviteFacts& invite, const router::RoutingTable& table,
                      const EdgeState& edge);

// The reason phrase of a 400 for a Request-URI without a usable number.
inline constexpr char kBadRequestUriNumber[] = "Bad Request-URI Number";

// The answer to an INVITE that router::Decide could not route, with the router's message in the
// Reason header: 503 (unavailable) when every trunk is unavailable and the route fails fast,
// 400 "Bad Request-URI Number" (bad_request) when the dialed number is not a number (or the
// route's transform cannot use it), 404 (no_route) when no route matches.
EdgeRejection RejectionForDecision(const absl::Status& status);

}  // namespace trunkroute::sip

#endif  // TRUNKROUTE_SIP_ADMISSION_H_
