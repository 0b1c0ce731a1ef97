#include "sip/session_timer.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace trunkroute::sip {

std::string SessionTimer::SessionExpiresValue() const {
  if (expires == 0) return "";
  return refresher.empty() ? std::to_string(expires)
                           : absl::StrCat(expires, ";refresher=", refresher);
}

std::string SessionTimer::MinSeValue() const {
  return min_se == 0 ? std::string() : std::to_string(min_se);
}

SessionTimer SessionTimerOf(sip_t const* sip) {
  SessionTimer t;
  if (sip == nullptr) return t;
  if (sip->sip_session_expires != nullptr) {
    t.expires = static_cast<uint32_t>(sip->sip_session_expires->x_delta);
    if (char const* r = sip->sip_session_expires->x_refresher) {
      if (su_casematch(r, "uac")) t.refresher = "uac";
      if (su_casematch(r, "uas")) t.refresher = "uas";
    }
  }
  if (sip->sip_min_se != nullptr) t.min_se = static_cast<uint32_t>(sip->sip_min_se->min_delta);
  t.supported = sip_has_feature(sip->sip_supported, "timer") != 0;
  // An untyped "Supported: timer" (as the edge itself sends it) counts too.
  for (sip_unknown_t const* u = sip->sip_unknown; u != nullptr && !t.supported; u = u->un_next) {
    if (u->un_name != nullptr && su_casematch(u->un_name, "Supported") && u->un_value != nullptr &&
        std::string(u->un_value).find("timer") != std::string::npos) {
      t.supported = true;
    }
  }
  t.required = sip_has_feature(sip->sip_require, "timer") != 0;
  return t;
}

SessionTimer ForCaller(const SessionTimer& trunk_answer, const SessionTimer& caller_request) {
  SessionTimer t = trunk_answer;
  if (t.expires != 0 && caller_request.expires != 0) {
    t.expires = std::min(t.expires, caller_request.expires);
  }
  return t;
}

}  // namespace trunkroute::sip
