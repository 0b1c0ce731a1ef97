#ifndef TRUNKROUTE_SIP_SESSION_TIMER_H_
#define TRUNKROUTE_SIP_SESSION_TIMER_H_

// Session timers (RFC 4028) relayed end to end (docs/sip-edge.md "Session timers"): the edge
// keeps no timer of its own; it carries Session-Expires, Min-SE and the "timer" option tag from
// each leg to the other, so that the refresher's re-INVITE or UPDATE refreshes both legs.

#include <cstdint>
#include <string>

#include "sip/sofia.h"

namespace trunkroute::sip {

struct SessionTimer {
  uint32_t expires = 0;    // Session-Expires delta-seconds; 0: no Session-Expires
  std::string refresher;   // its refresher parameter: "uac", "uas" or ""
  uint32_t min_se = 0;     // Min-SE; 0: none
  bool supported = false;  // "timer" in Supported
  bool required = false;   // "timer" in Require

  // Header values as nua tags take them ("" when absent).
  std::string SessionExpiresValue() const;
  std::string MinSeValue() const;
};

SessionTimer SessionTimerOf(sip_t const* sip);

// The trunk's answer as the caller may see it: the interval never longer than the caller asked
// for (RFC 4028 §9: an answer does not raise the request's Session-Expires; it can be longer at
// the trunk only after a 422, and a refresh at the caller's shorter interval refreshes both legs).
SessionTimer ForCaller(const SessionTimer& trunk_answer, const SessionTimer& caller_request);

// The header values of a SessionTimer, kept alive for the nua call that takes them as tags
// (SESSION_TIMER_TAGS in edge_call.cc).
struct SessionTimerHeaders {
  explicit SessionTimerHeaders(const SessionTimer& t)
      : session_expires(t.SessionExpiresValue()),
        min_se(t.MinSeValue()),
        supported(t.supported),
        required(t.required) {}
  std::string session_expires;
  std::string min_se;
  bool supported;
  bool required;
};

}  // namespace trunkroute::sip

#endif  // TRUNKROUTE_SIP_SESSION_TIMER_H_
