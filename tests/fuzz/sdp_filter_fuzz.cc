// SDP offers come from callers (untrusted). Properties: FilterSdpCodecs never crashes, never
// removes or adds an m= line (the trunk's answer must line up with the caller's offer), and
// filtering its own output again changes nothing more.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sip/sdp_filter.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

size_t CountMediaLines(std::string_view sdp) {
  size_t n = 0;
  size_t pos = 0;
  while (pos < sdp.size()) {
    size_t end = sdp.find('\n', pos);
    if (end == std::string_view::npos) end = sdp.size();
    if (sdp.substr(pos, 2) == "m=") ++n;
    pos = end + 1;
  }
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // The first byte picks the trunk's codec list, the rest is the offer.
  static const std::vector<std::string> kLists[] = {
      {"pcmu", "pcma", "telephone-event"},
      {"g729", "pcmu"},
      {"opus", "t38"},
      {},
  };
  const std::vector<std::string>& allowed = kLists[data[0] % 4];
  const std::string_view offer(reinterpret_cast<const char*>(data + 1), size - 1);
  const trunkroute::sip::SdpFilterResult once = trunkroute::sip::FilterSdpCodecs(offer, allowed);
  FUZZ_CHECK(once.removed_formats >= 0);
  if (once.sdp.empty()) return 0;
  FUZZ_CHECK(CountMediaLines(once.sdp) == CountMediaLines(offer));
  const trunkroute::sip::SdpFilterResult twice =
      trunkroute::sip::FilterSdpCodecs(once.sdp, allowed);
  FUZZ_CHECK(CountMediaLines(twice.sdp) == CountMediaLines(once.sdp));
  FUZZ_CHECK(twice.has_common_codec == once.has_common_codec);
  return 0;
}
