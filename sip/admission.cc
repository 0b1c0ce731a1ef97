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
  return {.status = 404,
          .reason_header = absl::StrCat("SIP;cause=404;text=\"", text, "\""),
          .log_reason = "no route",
          .metric_reason = kRejectNoRoute};
}

}  // namespace trunkroute::sip
