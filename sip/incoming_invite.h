#ifndef TRUNKROUTE_SIP_INCOMING_INVITE_H_
#define TRUNKROUTE_SIP_INCOMING_INVITE_H_

// Everything the edge decides about an incoming INVITE before it places the first trunk attempt,
// from the parsed request alone: header extraction, admission, the caller's number, the route
// decision (number normalisation) and the call plan (codec filter per trunk). No nua, no socket:
// the edge's nua_i_invite handler calls it with the live state, the SIP fuzz target
// (tests/fuzz/sip_message_fuzz.cc) with a fixed config, so both run the same code.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "common/clock.h"
#include "router/decision.h"
#include "router/health_view.h"
#include "router/routing_table.h"
#include "sip/admission.h"
#include "sip/call_plan.h"
#include "sip/edge_util.h"
#include "sip/session_timer.h"
#include "sip/sofia.h"

namespace trunkroute::sip {

// What the call keeps from the caller's INVITE (the message itself is gone after the event).
struct CallerRequest {
  std::string call_id;        // the caller's Call-ID, for logs and outcomes
  CallerIdentity identity;    // From (without tag) and P-Asserted-Identity
  std::string caller_number;  // for caller-ID rewriting
  std::string privacy;        // Privacy header value, passed on
  std::string content_type;   // of the offer; empty when the INVITE had no body
  std::string body;
  unsigned max_forwards = 70;    // for the B legs (already decremented)
  std::string to;                // the INVITE's To (no tag): early dialogs of our own reuse it
  bool supports_100rel = false;  // Supported or Require: 100rel (RFC 3262)
  SessionTimer session_timer;    // its Session-Expires, Min-SE, "timer" tags (RFC 4028)
};

// The admission facts of a parsed request; `source` is the packet's source address.
InviteFacts InviteFactsOf(sip_t const* sip, std::string source, const std::vector<HostPort>& own);

// A 400 naming the header ("Bad Max-Forwards Header") when one the edge reads did not parse.
// nta answers requests with a bad essential header itself ("400 Bad From Header"; its default
// NTATAG_BAD_REQ_MASK: request line, From, To, CSeq, Call-ID, Content-Length, Via, Content-Type,
// Supported, Require, Contact, Session-Expires, Min-SE …) but lets through the others: of those
// the edge reads Max-Forwards (a proxy header) and Privacy, which it would otherwise take as
// absent (Max-Forwards as 70, no privacy asked for).
std::optional<EdgeRejection> BadHeaderRejection(sip_t const* sip);

// What the call keeps of the request. `home` holds temporary strings (freed before returning).
CallerRequest CallerRequestOf(su_home_t* home, sip_t const* sip, const InviteFacts& invite);

// The edge's live state for one INVITE.
struct IncomingInviteContext {
  std::string source;  // packet source address (SourceAddress)
  const std::vector<HostPort>* own_addresses = nullptr;
  std::shared_ptr<const router::RoutingTable> table;
  const router::HealthView* health = nullptr;
  EdgeState edge;
  double entropy = 0;  // uniform in [0,1), for router::Decide
  absl::FunctionRef<int(const std::string&)> trunk_load;
  const TargetsOfTrunk* targets_of = nullptr;  // null: configured addresses as they are
  const Clock* decide_clock = nullptr;         // set: Decide() is timed (decide_time)
};

struct IncomingInvite {
  InviteFacts facts;
  // Set: answer the caller with it and place no call (admission, no route, no usable trunk).
  std::optional<EdgeRejection> rejection;
  bool admitted = false;  // passed admission (Decide ran)
  CallerRequest request;
  std::string dialed;  // the Request-URI's number as received
  // Set when Decide ran (for the decision observer); when OK and `rejection` is unset, the call.
  std::optional<absl::StatusOr<router::Decision>> decision;
  Duration decide_time{};
  CallPlan plan;  // candidates and filtered offers when the call goes ahead
};

// The steps, in the edge's order: 1. admission (sip/admission.h); 2. BadHeaderRejection; 3. the
// caller request and the route decision (a Request-URI without a number: 400 "Bad Request-URI
// Number"); 4. the call plan. The first step that refuses sets `rejection`.
IncomingInvite HandleIncomingInvite(su_home_t* home, sip_t const* sip,
                                    const IncomingInviteContext& context);

}  // namespace trunkroute::sip

#endif  // TRUNKROUTE_SIP_INCOMING_INVITE_H_
