#ifndef TRUNKROUTE_SIP_EDGE_REJECTIONS_H_
#define TRUNKROUTE_SIP_EDGE_REJECTIONS_H_

// The answers the SIP edge gives an INVITE itself, before or instead of any trunk attempt: the
// `reason` words of EdgeObserver::OnRejected and of trunkroute_edge_rejections_total{code,reason}.
// One list, so the edge, the metrics (which create every pair at 0 at start-up) and the docs
// (docs/metrics.md, docs/runbook.md) agree. Header-only: the metrics library reads it without
// linking the edge.

#include <string_view>

namespace trunkroute::sip {

inline constexpr std::string_view kRejectSourceNotAllowed = "source_not_allowed";  // 403
inline constexpr std::string_view kRejectMaxCalls = "max_calls";                   // 503
inline constexpr std::string_view kRejectMaxForwards = "max_forwards";             // 483
inline constexpr std::string_view kRejectLoop = "loop";                            // 482
inline constexpr std::string_view kRejectNoRoute = "no_route";                     // 404
// The Request-URI has no number the router can read (or the route's transform cannot use it):
// 400 with a reason phrase naming the field ("Bad Request-URI Number").
inline constexpr std::string_view kRejectBadRequest = "bad_request";  // 400
inline constexpr std::string_view kRejectUnavailable = "unavailable";              // 503
// No candidate could take the call: 488 when no trunk shares a codec, else 503 (all at
// max_concurrent_calls).
inline constexpr std::string_view kRejectNoCandidate = "no_candidate";
inline constexpr std::string_view kRejectShuttingDown = "shutting_down";  // 503
// Load shedding (503 + Retry-After): the SIP thread cannot keep up (its UDP receive queue or its
// loop lag, sip/overload.h), or a configured call-rate cap (edge.max_cps, max_cps_per_source).
inline constexpr std::string_view kRejectOverload = "overload";      // 503
inline constexpr std::string_view kRejectRateLimit = "rate_limit";  // 503

// One series of trunkroute_edge_rejections_total{code,reason}.
struct RejectionSeries {
  int status;
  std::string_view code_label;  // `status` as the metric's `code` label
  std::string_view reason;
};

// Every (status, reason) pair the edge answers with (EdgeRejection, sip/admission.h).
inline constexpr RejectionSeries kEdgeRejectionSeries[] = {
    {403, "403", kRejectSourceNotAllowed}, {503, "503", kRejectMaxCalls},
    {483, "483", kRejectMaxForwards},      {482, "482", kRejectLoop},
    {404, "404", kRejectNoRoute},          {400, "400", kRejectBadRequest},
    {503, "503", kRejectUnavailable},
    {488, "488", kRejectNoCandidate},      {503, "503", kRejectNoCandidate},
    {503, "503", kRejectShuttingDown},     {503, "503", kRejectOverload},
    {503, "503", kRejectRateLimit},
};

}  // namespace trunkroute::sip

#endif  // TRUNKROUTE_SIP_EDGE_REJECTIONS_H_
