#ifndef TRUNKROUTE_SIP_SDP_FILTER_H_
#define TRUNKROUTE_SIP_SDP_FILTER_H_

#include <string>
#include <string_view>
#include <vector>

namespace trunkroute::sip {

struct SdpFilterResult {
  std::string sdp;                // the filtered offer, CRLF line ends
  bool has_common_codec = false;  // an audio stream kept a real codec (not only DTMF/CN)
  int removed_formats = 0;        // payload types dropped, over all streams
};

// Applies a trunk's codec list to an SDP offer (design.md §2: default PCMU, PCMA,
// telephone-event; G.729 only when listed). `allowed` holds lower-case rtpmap encoding names.
// - RTP streams keep the payload types whose encoding name (a=rtpmap, else the RFC 3551 static
//   table) is allowed; a=rtpmap/a=fmtp/a=rtcp-fb lines of dropped types go too.
// - Non-RTP streams (e.g. "image udptl t38") keep formats whose name is allowed.
// - A stream left with nothing is rejected in place (port 0, first format kept), never removed,
//   so that the trunk's answer still lines up m-line for m-line with the caller's offer.
// Everything else is passed through byte for byte. Never fails: text without m= lines simply
// has no common codec.
SdpFilterResult FilterSdpCodecs(std::string_view sdp, const std::vector<std::string>& allowed);

}  // namespace trunkroute::sip

#endif  // TRUNKROUTE_SIP_SDP_FILTER_H_
