// The one SDP decision (sip/sdp_policy.h): what is filtered, what passes as received, and that
// an offer can be refused while an answer never is.
#include "sip/sdp_policy.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace trunkroute::sip {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const std::vector<std::string> kDefaultCodecs = {"pcmu", "pcma", "telephone-event"};

constexpr char kMixed[] =
    "v=0\r\no=a 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 6000 RTP/AVP 18 0\r\na=rtpmap:18 G729/8000\r\na=rtpmap:0 PCMU/8000\r\n";
constexpr char kG729Only[] =
    "v=0\r\no=a 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 6000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n";

TEST(SdpPolicyTest, OffersAndAnswersBothWaysLoseWhatTheTrunkDisallows) {
  for (SdpDirection d : {SdpDirection::kToTrunk, SdpDirection::kFromTrunk}) {
    for (SdpRole r : {SdpRole::kOffer, SdpRole::kAnswer}) {
      SdpDecision got = FilterSdpForTrunk(kDefaultCodecs, "application/sdp", kMixed, d, r);
      ASSERT_EQ(got.kind, SdpDecision::Kind::kFiltered)
          << SdpDirectionName(d) << " " << SdpRoleName(r);
      EXPECT_THAT(got.body, HasSubstr("m=audio 6000 RTP/AVP 0\r\n"));
      EXPECT_THAT(got.body, Not(HasSubstr("G729")));
      EXPECT_EQ(got.removed_formats, 1);
    }
  }
}

TEST(SdpPolicyTest, AnOfferWithNothingAllowedIsNotAcceptableAnAnswerIsDeclinedInPlace) {
  SdpDecision offer = FilterSdpForTrunk(kDefaultCodecs, "application/sdp", kG729Only,
                                        SdpDirection::kToTrunk, SdpRole::kOffer);
  EXPECT_EQ(offer.kind, SdpDecision::Kind::kNotAcceptable);
  EXPECT_EQ(offer.body, "");
  SdpDecision answer = FilterSdpForTrunk(kDefaultCodecs, "application/sdp", kG729Only,
                                         SdpDirection::kFromTrunk, SdpRole::kAnswer);
  ASSERT_EQ(answer.kind, SdpDecision::Kind::kFiltered);
  EXPECT_THAT(answer.body, HasSubstr("m=audio 0 RTP/AVP 18\r\n")) << "declined, not removed";
  // The same offer is fine for a trunk that allows G.729.
  EXPECT_EQ(FilterSdpForTrunk({"g729"}, "application/sdp", kG729Only, SdpDirection::kToTrunk,
                              SdpRole::kOffer)
                .kind,
            SdpDecision::Kind::kFiltered);
}

TEST(SdpPolicyTest, NoBodyAndOtherBodiesPassAsReceived) {
  EXPECT_EQ(FilterSdpForTrunk(kDefaultCodecs, "", "", SdpDirection::kToTrunk, SdpRole::kOffer).kind,
            SdpDecision::Kind::kAsIs);
  EXPECT_EQ(FilterSdpForTrunk(kDefaultCodecs, "application/dtmf-relay", "Signal=5\r\n",
                              SdpDirection::kToTrunk, SdpRole::kOffer)
                .kind,
            SdpDecision::Kind::kAsIs);
  // Content-Type compared without case; a missing one is SDP only if the body looks like SDP.
  EXPECT_EQ(FilterSdpForTrunk(kDefaultCodecs, "Application/SDP", kG729Only, SdpDirection::kToTrunk,
                              SdpRole::kOffer)
                .kind,
            SdpDecision::Kind::kNotAcceptable);
  EXPECT_EQ(
      FilterSdpForTrunk(kDefaultCodecs, "", kG729Only, SdpDirection::kFromTrunk, SdpRole::kOffer)
          .kind,
      SdpDecision::Kind::kNotAcceptable);
  EXPECT_EQ(
      FilterSdpForTrunk(kDefaultCodecs, "", "hello", SdpDirection::kFromTrunk, SdpRole::kOffer)
          .kind,
      SdpDecision::Kind::kAsIs);
}

}  // namespace
}  // namespace trunkroute::sip
