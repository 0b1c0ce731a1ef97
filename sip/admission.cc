#include "sip/admission.h"

#include "absl/strings/str_cat.h"

namespace trunkroute::sip {
namespace {

bool EdgeAllows(const router::RoutingTable& table, std::string_view source) {
  for (const router::Cidr& c : table.edge_allowed_sources()) {
    if (c.Contains(source)) return true;
  }
  return false;
}

// Reason header text must not carry quotes or backslashes (quoted-string).
std::string QuotedText(std::string_view text) {
  std::string clean;
  clean.reserve(text.size());
  for (char c : text) {
    if (c != '"' && c != '\\') clean.push_back(c);
  }
  return clean;
}

}  // namespace

Admission AdmitInvite(const InviteFacts& invite, const router::RoutingTable& table,
                      const EdgeState& edge) {
  Admission out;
  if (edge.stopping) {
    out.rejection = EdgeRejection{.status = 503,
                                  .reason_header = "SIP;cause=503;text=\"edge shutting down\"",
                                  .log_reason = "shutting down",
                                  .metric_reason = kRejectShuttingDown};
    return out;
  }
  out.ingress = table.TrunkForSource(invite.source);
  if (out.ingress == nullptr && !EdgeAllows(table, invite.source)) {
    out.rejection = EdgeRejection{.status = 403,
                                  .log_reason = "source not allowed",
                                  .metric_reason = kRejectSourceNotAllowed,
                                  .warn_with_source = true};
    return out;
  }
  if (table.edge_max_calls() > 0 && edge.calls_in_progress >= table.edge_max_calls()) {
    out.rejection = EdgeRejection{.status = 503,
                                  .reason_header = "SIP;cause=503;text=\"edge at max_calls\"",
                                  .log_reason = "edge at max_calls",
                                  .metric_reason = kRejectMaxCalls};
    return out;
  }
  if (invite.max_forwards == 0) {
    out.rejection = EdgeRejection{
        .status = 483, .log_reason = "Max-Forwards 0", .metric_reason = kRejectMaxForwards};
    return out;
  }
  if (invite.via_names_us) {
    out.rejection = EdgeRejection{
        .status = 482, .log_reason = "our own Via in the request", .metric_reason = kRejectLoop};
    return out;
  }
  if (edge.overloaded) {
    out.rejection = EdgeRejection{.status = 503,
                                  .reason_header = "SIP;cause=503;text=\"edge overloaded\"",
                                  .log_reason = "edge overloaded",
                                  .metric_reason = kRejectOverload,
                                  .retry_after_s = table.edge_retry_after_s()};
    return out;
  }
  if (edge.rate_limiter != nullptr &&
      (table.edge_max_cps() > 0 || table.edge_max_cps_per_source() > 0)) {
    const CallRateLimiter::Verdict v = edge.rate_limiter->Admit(
        invite.source, table.edge_max_cps(), table.edge_max_cps_per_source(), edge.now);
    if (v != CallRateLimiter::Verdict::kAdmit) {
      const bool per_source = v == CallRateLimiter::Verdict::kPerSource;
      out.rejection = EdgeRejection{
          .status = 503,
          .reason_header = per_source ? "SIP;cause=503;text=\"source at max_cps_per_source\""
                                      : "SIP;cause=503;text=\"edge at max_cps\"",
          .log_reason = per_source ? "source at max_cps_per_source" : "edge at max_cps",
          .metric_reason = kRejectRateLimit,
          .retry_after_s = table.edge_retry_after_s()};
      return out;
    }
  }
  return out;
}

EdgeRejection RejectionForDecision(const absl::Status& status) {
  const std::string text = QuotedText(std::string(status.message()));
  if (absl::IsUnavailable(status)) {
    return {.status = 503,
            .reason_header = absl::StrCat("SIP;cause=503;text=\"", text, "\""),
            .log_reason = "no trunk available",
            .metric_reason = kRejectUnavailable};
  }
  if (absl::IsInvalidArgument(status)) {
    // router::Decide's "dialed_number: ..." (the Request-URI's user part is not a phone number,
    // or the matched route's transform cannot use it): the caller's request is at fault.
    return {.status = 400,
            .phrase = kBadRequestUriNumber,
            .reason_header = absl::StrCat("SIP;cause=400;text=\"", text, "\""),
            .log_reason = "bad Request-URI number",
            .metric_reason = kRejectBadRequest};
  }
  return {.status = 404,
          .reason_header = absl::StrCat("SIP;cause=404;text=\"", text, "\""),
          .log_reason = "no route",
          .metric_reason = kRejectNoRoute};
}

}  // namespace trunkroute::sip
