#ifndef TRUNKROUTE_SIP_SDP_POLICY_H_
#define TRUNKROUTE_SIP_SDP_POLICY_H_

// The one decision "filter this SDP for this trunk in this direction" (issue 11 item 3). Every
// SDP body that crosses the edge on a call goes through FilterSdpForTrunk: the first INVITE's
// offer (PlanCall), re-INVITE and UPDATE offers from either side, the trunk's offer in its 2xx
// when the INVITE had none, the answers in 18x/2xx and in ACK. Pure (no Sofia).

#include <string>
#include <string_view>
#include <vector>

namespace trunkroute::sip {

// Which way the body travels on the call: towards the trunk (leg B) or from it (to the caller).
// The trunk's codec list applies both ways: leg B carries only what the trunk allows, and the
// caller is never offered (or answered with) a codec its trunk may not carry.
enum class SdpDirection { kToTrunk, kFromTrunk };

// An offer can be refused (488); an answer cannot (it comes in a 18x/2xx or an ACK): its streams
// without an allowed codec are declined in place (port 0), per RFC 3264 §6.
enum class SdpRole { kOffer, kAnswer };

std::string_view SdpDirectionName(SdpDirection d);  // "to_trunk" | "from_trunk"
std::string_view SdpRoleName(SdpRole r);            // "offer" | "answer"

struct SdpDecision {
  enum class Kind {
    kAsIs,           // no body, or a body that is not application/sdp: send it as received
    kFiltered,       // send `body` instead of the received one
    kNotAcceptable,  // an offer with no allowed audio codec left: answer 488, relay nothing
  };
  Kind kind = Kind::kAsIs;
  std::string body;  // kFiltered: the filtered SDP (CRLF line ends)
  int removed_formats = 0;
};

// `codecs`: the trunk's allowed codecs (lower-case encoding names, router::CompiledTrunk::codecs).
// `content_type`: the body's type without parameters (empty: none given, which SIP reads as
// SDP when the body looks like SDP, RFC 3261 §20.15 leaves it to the receiver; we filter it).
SdpDecision FilterSdpForTrunk(const std::vector<std::string>& codecs, std::string_view content_type,
                              std::string_view body, SdpDirection direction, SdpRole role);

}  // namespace trunkroute::sip

#endif  // TRUNKROUTE_SIP_SDP_POLICY_H_
