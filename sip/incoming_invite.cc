#include "sip/incoming_invite.h"

#include <optional>
#include <string>
#include <utility>

#include "absl/strings/match.h"

namespace trunkroute::sip {

InviteFacts InviteFactsOf(sip_t const* sip, std::string source, const std::vector<HostPort>& own) {
  return {.source = std::move(source),
          .max_forwards = sip->sip_max_forwards != nullptr
                              ? static_cast<unsigned>(sip->sip_max_forwards->mf_count)
                              : 70u,
          .via_names_us = ViaNamesUs(sip->sip_via, own)};
}

std::optional<EdgeRejection> BadHeaderRejection(sip_t const* sip) {
  // Static phrases: nua_respond keeps the pointer (EdgeRejection::phrase).
  struct ReadHeader {
    msg_hclass_t const* header_class;
    char const* phrase;
    std::string_view reason;
  };
  static const ReadHeader kRead[] = {
      {sip_max_forwards_class, "Bad Max-Forwards Header",
       "SIP;cause=400;text=\"bad Max-Forwards header\""},
      {sip_privacy_class, "Bad Privacy Header", "SIP;cause=400;text=\"bad Privacy header\""},
  };
  // Headers that did not parse are kept in sip_error: as an error header carrying the name
  // (er_name = its class's hc_name), or as a header of its own class (a second value of a
  // single-value header, say). Read the name as nta's own "Bad %s Header" does: the error list
  // is not all msg_error_t (the SIP fuzz target found that: regression seed
  // corpus/sip/regression-error-list-not-all-error-headers).
  for (const sip_header_t* h = reinterpret_cast<const sip_header_t*>(sip->sip_error); h != nullptr;
       h = h->sh_next) {
    char const* name =
        h->sh_class == sip_error_class ? h->sh_error->er_name : h->sh_class->hc_name;
    if (name == nullptr) continue;
    for (const ReadHeader& r : kRead) {
      if (!absl::EqualsIgnoreCase(name, r.header_class->hc_name)) continue;
      return EdgeRejection{.status = 400,
                           .phrase = r.phrase,
                           .reason_header = std::string(r.reason),
                           .log_reason = "bad header",
                           .metric_reason = kRejectBadRequest};
    }
  }
  return std::nullopt;
}

CallerRequest CallerRequestOf(su_home_t* home, sip_t const* sip, const InviteFacts& invite) {
  CallerRequest request;
  request.call_id = sip->sip_call_id && sip->sip_call_id->i_id ? sip->sip_call_id->i_id : "";
  request.identity = CallerIdentityOf(sip);
  // The caller's number: P-Asserted-Identity's user, else From's (router::Decide normalises it).
  request.caller_number = UserOfNameAddr(request.identity.pai);
  if (request.caller_number.empty() && sip->sip_from && sip->sip_from->a_url->url_user) {
    request.caller_number = sip->sip_from->a_url->url_user;
  }
  if (sip->sip_privacy != nullptr) {
    char* p = sip_header_as_string(home, reinterpret_cast<sip_header_t const*>(sip->sip_privacy));
    if (p != nullptr) request.privacy = p;
    su_free(home, p);
  }
  request.max_forwards = invite.max_forwards > 0 ? invite.max_forwards - 1 : 0;
  if (sip->sip_to != nullptr) {
    // Without its tag (an initial INVITE has none): early dialogs of our own add theirs.
    sip_to_t to = *sip->sip_to;
    to.a_params = nullptr;
    to.a_tag = nullptr;
    if (char* t = sip_header_as_string(home, reinterpret_cast<sip_header_t const*>(&to))) {
      request.to = t;
      su_free(home, t);
    }
  }
  request.session_timer = SessionTimerOf(sip);
  request.supports_100rel =
      sip_has_feature(sip->sip_supported, "100rel") || sip_has_feature(sip->sip_require, "100rel");
  if (sip->sip_payload != nullptr && sip->sip_payload->pl_len > 0) {
    request.content_type = sip->sip_content_type && sip->sip_content_type->c_type
                               ? sip->sip_content_type->c_type
                               : "application/sdp";
    request.body.assign(sip->sip_payload->pl_data, sip->sip_payload->pl_len);
  }
  return request;
}

IncomingInvite HandleIncomingInvite(su_home_t* home, sip_t const* sip,
                                    const IncomingInviteContext& context) {
  IncomingInvite out;
  out.facts = InviteFactsOf(sip, context.source, *context.own_addresses);

  // 1. Admission: stopping, source, capacity, Max-Forwards, loop (sip/admission.h).
  const Admission admission = AdmitInvite(out.facts, *context.table, context.edge);
  if (admission.rejection) {
    out.rejection = admission.rejection;
    return out;
  }
  // 2. The headers the edge reads must have parsed (nta lets some through: BadHeaderRejection).
  if (std::optional<EdgeRejection> bad = BadHeaderRejection(sip)) {
    out.rejection = std::move(bad);
    return out;
  }
  out.admitted = true;

  // 3. Route decision, in-process, on this one snapshot.
  out.request = CallerRequestOf(home, sip, out.facts);
  out.dialed = DialedNumberOf(sip->sip_request != nullptr ? sip->sip_request->rq_url : nullptr);
  // Timed only for the metrics hook: no clock reads on the per-call path without one.
  const MonoTime decide_start =
      context.decide_clock != nullptr ? context.decide_clock->Now() : MonoTime();
  out.decision = router::Decide(
      context.table, *context.health,
      {out.dialed, out.request.caller_number,
       admission.ingress != nullptr ? admission.ingress->id : ""},
      context.entropy);
  if (context.decide_clock != nullptr) out.decide_time = context.decide_clock->Now() - decide_start;
  if (!out.decision->ok()) {
    out.rejection = RejectionForDecision(out.decision->status());
    return out;
  }
  router::Decision& decision = **out.decision;
  if (!decision.normalized_caller.empty()) out.request.caller_number = decision.normalized_caller;

  // 4. Candidates: codec filter, concurrency and, for host names, the targets this call tries
  // (sip/call_plan.h).
  out.plan = PlanCall(decision, {out.request.content_type, out.request.body}, context.trunk_load,
                      context.targets_of);
  if (out.plan.rejection) out.rejection = out.plan.rejection;
  return out;
}

}  // namespace trunkroute::sip
