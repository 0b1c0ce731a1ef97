// From a routing decision to the call's candidates (sip/call_plan.h): the codec filter per
// trunk, max_concurrent_calls, and the edge's answer when no candidate is left.
#include "sip/call_plan.h"

#include <map>
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"

namespace trunkroute::sip {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Skip = CallCandidate::Skip;

// G.729, PCMU, PCMA and DTMF, as dialers offer them.
constexpr char kOffer[] =
    "v=0\r\no=alice 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
    "m=audio 4000 RTP/AVP 18 0 8 101\r\na=rtpmap:18 G729/8000\r\na=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n";

class CallPlanTest : public ::testing::Test {
 protected:
  // primary: defaults (PCMU, PCMA, DTMF) with credentials and at most 2 calls; wideband: only
  // G.722; g729: G.729 allowed.
  void SetUp() override {
    v1::Config config;
    ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
        R"pb(
          trunks {
            id: "primary"
            host: "192.0.2.10"
            username: "acme"
            password: "pw"
            max_concurrent_calls: 2
          }
          trunks { id: "wideband" host: "192.0.2.11" codecs: "g722" }
          trunks { id: "g729" host: "192.0.2.12" codecs: "g729" codecs: "pcmu" }
          routes {
            id: "all"
            priority: 1
            pattern: "\\+\\d+"
            trunk_ids: "primary"
            trunk_ids: "wideband"
            trunk_ids: "g729"
          }
        )pb",
        &config));
    auto table = router::RoutingTable::Create(config);
    ASSERT_TRUE(table.ok()) << table.status();
    auto decision = router::Decide(*table, health_, {"+15551234567", "", ""}, 0.5);
    ASSERT_TRUE(decision.ok()) << decision.status();
    decision_ = *std::move(decision);
    decision_.candidates[0].attempt_timeout_ms = 321;
  }

  CallPlan Plan(CallerOffer offer) {
    return PlanCall(decision_, offer, [this](const std::string& id) { return load_[id]; });
  }

  router::AllUpHealthView health_;
  router::Decision decision_;
  std::map<std::string, int> load_;
};

TEST_F(CallPlanTest, EachCandidateGetsTheOfferFilteredForItsTrunk) {
  const CallPlan plan = Plan({"application/sdp", kOffer});
  EXPECT_FALSE(plan.rejection.has_value());
  ASSERT_EQ(plan.candidates.size(), 3u);
  ASSERT_EQ(plan.offers.size(), 3u);
  EXPECT_EQ(plan.candidates[0].trunk_id, "primary");
  EXPECT_EQ(plan.candidates[0].skip, Skip::kNone);
  EXPECT_EQ(plan.candidates[0].attempt_timeout_ms, 321u) << "the decision's adaptive timeout";
  EXPECT_TRUE(plan.candidates[0].has_credentials);
  EXPECT_THAT(plan.offers[0], HasSubstr("m=audio 4000 RTP/AVP 0 8 101"));
  EXPECT_THAT(plan.offers[0], Not(HasSubstr("G729")));
  EXPECT_EQ(plan.candidates[1].skip, Skip::kNoCommonCodec) << "G.722 only: nothing in common";
  EXPECT_EQ(plan.offers[1], "");
  EXPECT_FALSE(plan.candidates[1].has_credentials);
  EXPECT_EQ(plan.candidates[2].skip, Skip::kNone);
  EXPECT_THAT(plan.offers[2], HasSubstr("m=audio 4000 RTP/AVP 18 0"));
}

TEST_F(CallPlanTest, TrunkAtMaxConcurrentCallsIsSkipped) {
  load_["primary"] = 1;
  EXPECT_EQ(Plan({"application/sdp", kOffer}).candidates[0].skip, Skip::kNone);
  load_["primary"] = 2;
  const CallPlan plan = Plan({"application/sdp", kOffer});
  EXPECT_EQ(plan.candidates[0].skip, Skip::kAtCapacity);
  EXPECT_EQ(plan.offers[0], "");
  EXPECT_FALSE(plan.rejection.has_value()) << "g729 can still take it";
}

TEST_F(CallPlanTest, NoBodyOrNonSdpBodyGoesAsReceivedToEveryTrunk) {
  for (const CallerOffer& offer :
       {CallerOffer{"", ""}, CallerOffer{"application/isup", "\x01\x02"}}) {
    const CallPlan plan = Plan(offer);
    EXPECT_FALSE(plan.rejection.has_value());
    for (size_t i = 0; i < plan.candidates.size(); ++i) {
      EXPECT_EQ(plan.candidates[i].skip, Skip::kNone) << i;
      EXPECT_EQ(plan.offers[i], "") << i;
    }
  }
}

TEST_F(CallPlanTest, ContentTypeIsMatchedWithoutCase) {
  EXPECT_EQ(Plan({"Application/SDP", kOffer}).candidates[1].skip, Skip::kNoCommonCodec);
}

TEST_F(CallPlanTest, NoCommonCodecAnywhereIs488) {
  const std::string opus_only =
      "v=0\r\no=a 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
      "m=audio 4000 RTP/AVP 111\r\na=rtpmap:111 opus/48000/2\r\n";
  const CallPlan plan = Plan({"application/sdp", opus_only});
  ASSERT_TRUE(plan.rejection.has_value());
  EXPECT_EQ(plan.rejection->status, 488);
  EXPECT_EQ(plan.rejection->reason_header, "SIP;cause=488;text=\"no common codec with any trunk\"");
  EXPECT_EQ(plan.rejection->metric_reason, "no_candidate");
  EXPECT_EQ(plan.candidates.size(), 3u) << "each candidate still says why it was skipped";
}

TEST_F(CallPlanTest, NothingUsableForOtherReasonsIs503) {
  load_["primary"] = 2;
  const std::string pcmu_only =
      "v=0\r\no=a 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
      "m=audio 4000 RTP/AVP 0\r\n";
  decision_.candidates.erase(decision_.candidates.begin() + 2);  // only primary, wideband
  const CallPlan plan = Plan({"application/sdp", pcmu_only});
  ASSERT_TRUE(plan.rejection.has_value());
  EXPECT_EQ(plan.rejection->status, 503) << "one at capacity, one without the codec";
  EXPECT_EQ(plan.rejection->reason_header, "SIP;cause=503;text=\"no trunk available\"");
}

}  // namespace
}  // namespace trunkroute::sip

namespace trunkroute::sip {
namespace {

// Trunks named by DNS (RFC 3263): the plan carries each name's targets for this call; a name
// without any is skipped, an IP literal goes as configured.
TEST(CallPlanTargetsTest, HostNamesGetTheirTargetsAndANameWithoutAnyIsSkipped) {
  v1::Config config;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      R"pb(
        trunks { id: "named" host: "carrier.test" }
        trunks { id: "gone" host: "gone.test" }
        trunks { id: "ip" host: "192.0.2.10" }
        routes {
          id: "all"
          priority: 1
          pattern: "\\+\\d+"
          trunk_ids: "named"
          trunk_ids: "gone"
          trunk_ids: "ip"
        }
      )pb",
      &config));
  auto table = router::RoutingTable::Create(config);
  ASSERT_TRUE(table.ok()) << table.status();
  router::AllUpHealthView health;
  auto decision = router::Decide(*table, health, {"+15551234567", "", ""}, 0.5);
  ASSERT_TRUE(decision.ok()) << decision.status();
  std::vector<std::string> asked;
  auto targets_for_call = [&](const router::CompiledTrunk& t) {
    asked.push_back(t.id);
    std::vector<CallTarget> out;
    if (t.id == "named") out.push_back({"192.0.2.1:5060", "192.0.2.1", 5060, v1::TRANSPORT_UDP});
    return out;
  };
  const TargetsOfTrunk targets_of = targets_for_call;
  const CallPlan plan =
      PlanCall(*decision, {}, [](const std::string&) { return 0; }, &targets_of);
  ASSERT_EQ(plan.candidates.size(), 3u);
  EXPECT_EQ(plan.candidates[0].skip, CallCandidate::Skip::kNone);
  ASSERT_EQ(plan.candidates[0].targets.size(), 1u);
  EXPECT_EQ(plan.candidates[0].targets[0].key, "192.0.2.1:5060");
  EXPECT_EQ(plan.candidates[1].skip, CallCandidate::Skip::kUnresolved);
  EXPECT_EQ(plan.candidates[2].skip, CallCandidate::Skip::kNone);
  EXPECT_TRUE(plan.candidates[2].targets.empty());
  EXPECT_EQ(asked, (std::vector<std::string>{"named", "gone"})) << "an IP literal needs no DNS";
  EXPECT_FALSE(plan.rejection.has_value());
}

}  // namespace
}  // namespace trunkroute::sip
