#include "sip/sdp_policy.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "sip/sdp_filter.h"

namespace trunkroute::sip {

std::string_view SdpDirectionName(SdpDirection d) {
  return d == SdpDirection::kToTrunk ? "to_trunk" : "from_trunk";
}

std::string_view SdpRoleName(SdpRole r) { return r == SdpRole::kOffer ? "offer" : "answer"; }

SdpDecision FilterSdpForTrunk(const std::vector<std::string>& codecs, std::string_view content_type,
                              std::string_view body,
                              SdpDirection /*direction: the same list applies both ways*/,
                              SdpRole role) {
  SdpDecision d;
  if (body.empty()) return d;
  const absl::string_view type(content_type.data(), content_type.size());
  if (type.empty()) {
    // No Content-Type: SDP only if it looks like SDP (as Sofia itself reads such bodies).
    if (!absl::StartsWith(absl::string_view(body.data(), body.size()), "v=0")) return d;
  } else if (!absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(type), "application/sdp")) {
    return d;  // multipart and other bodies pass as received (see docs/sip-edge.md)
  }
  SdpFilterResult f = FilterSdpCodecs(body, codecs);
  if (role == SdpRole::kOffer && !f.has_common_codec) {
    d.kind = SdpDecision::Kind::kNotAcceptable;
    d.removed_formats = f.removed_formats;
    return d;
  }
  d.kind = SdpDecision::Kind::kFiltered;
  d.body = std::move(f.sdp);
  d.removed_formats = f.removed_formats;
  return d;
}

}  // namespace trunkroute::sip
