// The per-trunk SDP codec filter: what is kept, what is dropped, and that streams keep their
// place so the trunk's answer still matches the caller's offer.
#include "sip/sdp_filter.h"

#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace trunkroute::sip {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const std::vector<std::string> kDefaultCodecs = {"pcmu", "pcma", "telephone-event"};

constexpr char kOffer[] =
    "v=0\r\n"
    "o=dialer 1 1 IN IP4 127.0.0.1\r\n"
    "s=-\r\n"
    "c=IN IP4 127.0.0.1\r\n"
    "t=0 0\r\n"
    "m=audio 6000 RTP/AVP 18 0 8 101\r\n"
    "a=rtpmap:18 G729/8000\r\n"
    "a=fmtp:18 annexb=no\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=fmtp:101 0-16\r\n"
    "a=sendrecv\r\n";

TEST(SdpFilterTest, StripsG729UnlessEnabled) {
  SdpFilterResult r = FilterSdpCodecs(kOffer, kDefaultCodecs);
  EXPECT_TRUE(r.has_common_codec);
  EXPECT_EQ(r.removed_formats, 1);
  EXPECT_EQ(r.sdp,
            "v=0\r\n"
            "o=dialer 1 1 IN IP4 127.0.0.1\r\n"
            "s=-\r\n"
            "c=IN IP4 127.0.0.1\r\n"
            "t=0 0\r\n"
            "m=audio 6000 RTP/AVP 0 8 101\r\n"
            "a=rtpmap:0 PCMU/8000\r\n"
            "a=rtpmap:8 PCMA/8000\r\n"
            "a=rtpmap:101 telephone-event/8000\r\n"
            "a=fmtp:101 0-16\r\n"
            "a=sendrecv\r\n");
}

TEST(SdpFilterTest, KeepsG729WhenTheTrunkEnablesIt) {
  SdpFilterResult r = FilterSdpCodecs(kOffer, {"g729", "pcmu"});
  EXPECT_THAT(r.sdp, HasSubstr("m=audio 6000 RTP/AVP 18 0\r\n"));
  EXPECT_THAT(r.sdp, HasSubstr("a=fmtp:18 annexb=no\r\n"));
  EXPECT_THAT(r.sdp, Not(HasSubstr("telephone-event")));
}

TEST(SdpFilterTest, StaticPayloadTypesWithoutRtpmapAreKnownByNumber) {
  SdpFilterResult r =
      FilterSdpCodecs("v=0\nm=audio 4000 RTP/AVP 18 8\n", kDefaultCodecs);  // bare LF input too
  EXPECT_TRUE(r.has_common_codec);
  EXPECT_EQ(r.sdp, "v=0\r\nm=audio 4000 RTP/AVP 8\r\n");
}

TEST(SdpFilterTest, OnlyDtmfLeftIsNoCommonCodecAndTheStreamIsDeclinedInPlace) {
  SdpFilterResult r = FilterSdpCodecs(
      "v=0\r\nm=audio 4000 RTP/AVP 18 101\r\na=rtpmap:101 telephone-event/8000\r\n"
      "a=rtpmap:18 G729/8000\r\n",
      kDefaultCodecs);
  EXPECT_FALSE(r.has_common_codec);
  EXPECT_EQ(r.sdp, "v=0\r\nm=audio 0 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n");
}

// Found by tests/fuzz: an audio stream the caller already declined (port 0) carries no call, so
// a PCMU format in it is no common codec; and a payload type listed twice in a stream that gets
// declined keeps its rtpmap (it belonged to the kept format), so filtering twice is stable.
TEST(SdpFilterTest, AlreadyDeclinedAudioIsNoCommonCodec) {
  SdpFilterResult r = FilterSdpCodecs("v=0\r\nm=audio 0 RTP/AVP 0\r\n", kDefaultCodecs);
  EXPECT_FALSE(r.has_common_codec);
  EXPECT_EQ(r.sdp, "v=0\r\nm=audio 0 RTP/AVP 0\r\n");
}

TEST(SdpFilterTest, DuplicatePayloadTypeInADeclinedStreamKeepsItsRtpmap) {
  const std::vector<std::string> g729_pcmu = {"g729", "pcmu"};
  SdpFilterResult once =
      FilterSdpCodecs("m=audio 4000 RTP/AVP 0 0\r\na=rtpmap:0 FOO/8000\r\n", g729_pcmu);
  EXPECT_FALSE(once.has_common_codec);
  EXPECT_EQ(once.sdp, "m=audio 0 RTP/AVP 0\r\na=rtpmap:0 FOO/8000\r\n");
  SdpFilterResult twice = FilterSdpCodecs(once.sdp, g729_pcmu);
  EXPECT_FALSE(twice.has_common_codec);
  EXPECT_EQ(twice.sdp, once.sdp);
}

TEST(SdpFilterTest, DisallowedVideoIsDeclinedButAudioKeepsTheCall) {
  SdpFilterResult r = FilterSdpCodecs(
      "v=0\r\nm=audio 4000 RTP/AVP 0\r\nm=video 5000 RTP/AVP 96 97\r\na=rtpmap:96 H264/90000\r\n"
      "a=rtpmap:97 VP8/90000\r\na=rtcp-fb:97 nack\r\n",
      kDefaultCodecs);
  EXPECT_TRUE(r.has_common_codec);
  EXPECT_EQ(r.sdp,
            "v=0\r\nm=audio 4000 RTP/AVP 0\r\nm=video 0 RTP/AVP 96\r\n"
            "a=rtpmap:96 H264/90000\r\n");
}

TEST(SdpFilterTest, DynamicCodecNamesAreCaseInsensitive) {
  SdpFilterResult r = FilterSdpCodecs(
      "v=0\r\nm=audio 4000 RTP/SAVP 96 0\r\na=rtpmap:96 OPUS/48000/2\r\n", {"opus"});
  EXPECT_EQ(r.sdp, "v=0\r\nm=audio 4000 RTP/SAVP 96\r\na=rtpmap:96 OPUS/48000/2\r\n");
}

TEST(SdpFilterTest, NonRtpFormatsFollowTheirNames) {
  SdpFilterResult r = FilterSdpCodecs("v=0\r\nm=image 4000 udptl t38\r\n", kDefaultCodecs);
  EXPECT_FALSE(r.has_common_codec);
  EXPECT_EQ(r.sdp, "v=0\r\nm=image 0 udptl t38\r\n");
  EXPECT_EQ(FilterSdpCodecs("v=0\r\nm=image 4000 udptl t38\r\n", {"t38"}).sdp,
            "v=0\r\nm=image 4000 udptl t38\r\n");
}

TEST(SdpFilterTest, TextWithoutMediaHasNoCommonCodec) {
  EXPECT_FALSE(FilterSdpCodecs("", kDefaultCodecs).has_common_codec);
  EXPECT_FALSE(FilterSdpCodecs("garbage\r\nm=\r\nm=audio\r\n", kDefaultCodecs).has_common_codec);
}

// Offers arrive from outside: whatever the bytes, the filter must not crash and must keep every
// m= line in place (the trunk's answer has to line up with the caller's offer).
TEST(SdpFilterTest, MutatedOffersKeepEveryMediaLine) {
  std::mt19937 rng(20261128);  // fixed seed: the same cases every run
  const std::string base =
      kOffer + std::string("m=video 5000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n");
  const std::string alphabet = "m=a:0123456789 /\r\nRTPAVPrtpmapfmtp";
  for (int i = 0; i < 2000; ++i) {
    std::string sdp = base;
    const int edits = 1 + static_cast<int>(rng() % 8);
    for (int e = 0; e < edits; ++e) {
      const size_t pos = rng() % (sdp.size() + 1);
      switch (rng() % 3) {
        case 0:
          sdp.insert(pos, 1, alphabet[rng() % alphabet.size()]);
          break;
        case 1:
          if (pos < sdp.size()) sdp.erase(pos, 1);
          break;
        default:
          if (pos < sdp.size()) sdp[pos] = alphabet[rng() % alphabet.size()];
          break;
      }
    }
    SdpFilterResult r = FilterSdpCodecs(sdp, kDefaultCodecs);
    auto count_m = [](const std::string& text) {
      int n = 0;
      for (size_t p = 0; (p = text.find("m=", p)) != std::string::npos; p += 2) {
        if (p == 0 || text[p - 1] == '\n') ++n;
      }
      return n;
    };
    std::string normalized;  // input with CRLF, blank lines dropped, as the filter writes it
    for (size_t p = 0; p < sdp.size();) {
      size_t e = sdp.find('\n', p);
      std::string line = sdp.substr(p, e == std::string::npos ? std::string::npos : e - p);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (!line.empty()) normalized += line + "\r\n";
      p = e == std::string::npos ? sdp.size() : e + 1;
    }
    EXPECT_EQ(count_m(r.sdp), count_m(normalized)) << "case " << i << ":\n" << sdp;
  }
}

}  // namespace
}  // namespace trunkroute::sip
