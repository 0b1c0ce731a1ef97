#include "router/decision.h"

#include <map>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/router/router_test_util.h"

namespace trunkroute::router {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::ParseConfig;
using testing::StatusIs;

// A health view whose answers the test sets per trunk; unknown trunks are UP, as the real
// tracker reports them.
class FakeHealthView final : public HealthView {
 public:
  void Set(const std::string& id, v1::HealthState state, std::string reason = "",
           double ramp_share = 1.0, uint32_t attempt_timeout_ms = 0) {
    entries_[id] = Entry{state, std::move(reason), ramp_share, attempt_timeout_ms};
  }
  TrunkAvailability Availability(std::string_view trunk_id) const override {
    auto it = entries_.find(std::string(trunk_id));
    if (it == entries_.end()) return {};
    TrunkAvailability out;
    out.state = it->second.state;
    out.reason = it->second.reason;
    out.ramp_share = it->second.ramp_share;
    out.attempt_timeout_ms = it->second.attempt_timeout_ms;
    return out;
  }

 private:
  struct Entry {
    v1::HealthState state;
    std::string reason;
    double ramp_share;
    uint32_t attempt_timeout_ms;
  };
  std::map<std::string, Entry> entries_;
};

class DecideTest : public ::testing::Test {
 protected:
  void SetUp() override { Load(kConfig); }

  void Load(const std::string& text) {
    auto table = RoutingTable::Create(ParseConfig(text));
    ASSERT_TRUE(table.ok()) << table.status();
    table_ = *table;
  }

  absl::StatusOr<Decision> Run(std::string_view number, std::string_view ingress = "",
                               double entropy = 0.5, std::string_view caller = "") {
    return Decide(table_, health_, CallQuery{number, caller, ingress}, entropy);
  }

  static std::vector<std::string> CandidateIds(const Decision& decision) {
    std::vector<std::string> ids;
    for (const auto& c : decision.candidates) ids.push_back(c.trunk->id);
    return ids;
  }
  static std::vector<std::string> Skips(const Decision& decision) {
    std::vector<std::string> out;
    for (const auto& s : decision.skipped) out.push_back(s.trunk->id + ": " + s.reason);
    return out;
  }

  static constexpr char kConfig[] = R"pb(
    version: 42
    failover_policy { setup_timeout_ms: 1000 }
    trunks { id: "a" host: "a.example.com" }
    trunks { id: "b" host: "b.example.com" transport: TRANSPORT_UDP }
    trunks { id: "c" host: "2001:db8::c" transport: TRANSPORT_TCP }
    trunks { id: "gen" host: "gen.example.com" }
    routes { id: "nanp" priority: 10 pattern: "\\+1\\d{10}" trunk_ids: "a" trunk_ids: "b"
             trunk_ids: "c" }
    routes { id: "strict" priority: 20 pattern: "\\+44\\d{10}" trunk_ids: "a" trunk_ids: "b"
             failover_policy { panic_when_all_down: false adaptive_timeout: false } }
    routes { id: "loopy" priority: 30 pattern: "\\+33\\d{9}" trunk_ids: "gen" trunk_ids: "a" }
    routes { id: "national" priority: 40 pattern: "9\\d{10}" trunk_ids: "b"
             transform { strip_digits: 1 e164: true default_country_code: "1" } }
    routes { id: "shorts" priority: 50 pattern: "\\*\\d+#?" trunk_ids: "b"
             transform { e164: true default_country_code: "1" } }
  )pb";

  std::shared_ptr<const RoutingTable> table_;
  FakeHealthView health_;
};

TEST_F(DecideTest, AllUpOffersTheRouteTrunksInOrder) {
  auto decision = Run("+1 (212) 555-1234");
  ASSERT_TRUE(decision.ok()) << decision.status();
  EXPECT_EQ(decision->route->id, "nanp");
  EXPECT_EQ(decision->normalized_number, "+12125551234");
  EXPECT_THAT(CandidateIds(*decision), ElementsAre("a", "b", "c"));
  EXPECT_TRUE(decision->skipped.empty());
  EXPECT_FALSE(decision->panic);
  EXPECT_EQ(decision->table, table_);
}

TEST_F(DecideTest, SkipsUnavailableTrunksWithReasons) {
  health_.Set("a", v1::HEALTH_STATE_DOWN, "3 consecutive failures, last 503");
  health_.Set("b", v1::HEALTH_STATE_PROBING);
  auto decision = Run("+12125551234");
  ASSERT_TRUE(decision.ok()) << decision.status();
  EXPECT_THAT(CandidateIds(*decision), ElementsAre("c"));
  EXPECT_THAT(Skips(*decision), ElementsAre("a: DOWN: 3 consecutive failures, last 503",
                                            "b: PROBING: waiting for recovery"));
  EXPECT_EQ(decision->skipped[0].health_state, v1::HEALTH_STATE_DOWN);
  EXPECT_FALSE(decision->panic);
}

TEST_F(DecideTest, ProbingTrunkWithoutProbesIsTriedLastByRealCalls) {
  Load(R"pb(
    trunks { id: "a" host: "a.example.com" health { probes_enabled: false } }
    trunks { id: "b" host: "b.example.com" }
    trunks { id: "c" host: "c.example.com" }
    routes { id: "r" priority: 1 pattern: "\\+1\\d{10}" trunk_ids: "a" trunk_ids: "b"
             trunk_ids: "c" }
  )pb");
  health_.Set("a", v1::HEALTH_STATE_PROBING);
  health_.Set("b", v1::HEALTH_STATE_PROBING);
  auto decision = Run("+12125551234");
  ASSERT_TRUE(decision.ok()) << decision.status();
  EXPECT_THAT(CandidateIds(*decision), ElementsAre("c", "a"));
  EXPECT_THAT(Skips(*decision), ElementsAre("b: PROBING: waiting for recovery"));
  EXPECT_FALSE(decision->panic);
}

TEST_F(DecideTest, SkipsAdminDrainingAndForcedDown) {
  health_.Set("a", v1::HEALTH_STATE_DRAINING);
  health_.Set("b", v1::HEALTH_STATE_FORCED_DOWN);
  auto decision = Run("+12125551234");
  ASSERT_TRUE(decision.ok());
  EXPECT_THAT(CandidateIds(*decision), ElementsAre("c"));
  EXPECT_THAT(Skips(*decision), ElementsAre("a: DRAINING (admin)", "b: FORCED_DOWN (admin)"));
}

TEST_F(DecideTest, ForcedUpIsUsedWhateverTheMeasurements) {
  health_.Set("a", v1::HEALTH_STATE_FORCED_UP, "", /*ramp_share=*/0.1);
  health_.Set("b", v1::HEALTH_STATE_DOWN);
  auto decision = Run("+12125551234", "", /*entropy=*/0.9);
  ASSERT_TRUE(decision.ok());
  EXPECT_THAT(CandidateIds(*decision), ElementsAre("a", "c"));
  EXPECT_EQ(decision->candidates[0].health_state, v1::HEALTH_STATE_FORCED_UP);
}

TEST_F(DecideTest, NeverOffersTheIngressTrunk) {
  auto decision = Run("+33123456789", "gen");
  ASSERT_TRUE(decision.ok());
  EXPECT_EQ(decision->route->id, "loopy");
  EXPECT_THAT(CandidateIds(*decision), ElementsAre("a"));
  EXPECT_THAT(Skips(*decision), ElementsAre("gen: ingress trunk (loop)"));
}

TEST_F(DecideTest, PanicOffersDownAndProbingInOrderButNotForcedDown) {
  health_.Set("a", v1::HEALTH_STATE_PROBING);
  health_.Set("b", v1::HEALTH_STATE_FORCED_DOWN);
  health_.Set("c", v1::HEALTH_STATE_DOWN, "transport refused");
  auto decision = Run("+12125551234");
  ASSERT_TRUE(decision.ok()) << decision.status();
  EXPECT_TRUE(decision->panic);
  EXPECT_THAT(CandidateIds(*decision), ElementsAre("a", "c"));
  EXPECT_EQ(decision->candidates[0].health_state, v1::HEALTH_STATE_PROBING);
  EXPECT_EQ(decision->candidates[1].health_state, v1::HEALTH_STATE_DOWN);
  EXPECT_THAT(Skips(*decision), ElementsAre("b: FORCED_DOWN (admin)"));
}

TEST_F(DecideTest, PanicNeverOffersTheIngressTrunk) {
  health_.Set("gen", v1::HEALTH_STATE_DOWN);
  health_.Set("a", v1::HEALTH_STATE_DOWN);
  auto decision = Run("+33123456789", "gen");
  ASSERT_TRUE(decision.ok());
  EXPECT_TRUE(decision->panic);
  EXPECT_THAT(CandidateIds(*decision), ElementsAre("a"));
  EXPECT_THAT(Skips(*decision), ElementsAre("gen: ingress trunk (loop)"));
}

TEST_F(DecideTest, FailFastRouteIsUnavailableWhenAllDown) {
  health_.Set("a", v1::HEALTH_STATE_DOWN, "3 consecutive failures");
  health_.Set("b", v1::HEALTH_STATE_PROBING);
  EXPECT_THAT(Run("+442079460000"),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("route 'strict': every trunk is unavailable and the route fails "
                                 "fast (panic_when_all_down=false): a: DOWN: 3 consecutive "
                                 "failures; b: PROBING: waiting for recovery")));
}

TEST_F(DecideTest, NothingToOfferIsUnavailableEvenWithPanic) {
  health_.Set("a", v1::HEALTH_STATE_FORCED_DOWN);
  health_.Set("b", v1::HEALTH_STATE_DRAINING);
  health_.Set("c", v1::HEALTH_STATE_FORCED_DOWN);
  EXPECT_THAT(Run("+12125551234"),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("route 'nanp': no trunk can take the call (a: FORCED_DOWN "
                                 "(admin); b: DRAINING (admin); c: FORCED_DOWN (admin))")));
}

TEST_F(DecideTest, RampingTrunkKeepsItsPlaceWhenEntropyIsBelowShare) {
  health_.Set("a", v1::HEALTH_STATE_UP, "", /*ramp_share=*/0.35);
  auto decision = Run("+12125551234", "", /*entropy=*/0.34);
  ASSERT_TRUE(decision.ok());
  EXPECT_THAT(CandidateIds(*decision), ElementsAre("a", "b", "c"));
}

TEST_F(DecideTest, RampingTrunkMovesBehindUpTrunksWhenEntropyIsAboveShare) {
  health_.Set("a", v1::HEALTH_STATE_UP, "", /*ramp_share=*/0.35);
  auto decision = Run("+12125551234", "", /*entropy=*/0.35);
  ASSERT_TRUE(decision.ok());
  EXPECT_THAT(CandidateIds(*decision), ElementsAre("b", "c", "a"));
  EXPECT_TRUE(decision->skipped.empty());
}

TEST_F(DecideTest, RampingTrunksThatLoseTheDrawKeepTheirRelativeOrder) {
  health_.Set("a", v1::HEALTH_STATE_UP, "", 0.2);
  health_.Set("b", v1::HEALTH_STATE_UP, "", 0.5);
  auto decision = Run("+12125551234", "", /*entropy=*/0.9);
  ASSERT_TRUE(decision.ok());
  EXPECT_THAT(CandidateIds(*decision), ElementsAre("c", "a", "b"));
}

TEST_F(DecideTest, AdaptiveTimeoutIsClampedToSetupTimeout) {
  health_.Set("a", v1::HEALTH_STATE_UP, "", 1.0, /*attempt_timeout_ms=*/150);
  health_.Set("b", v1::HEALTH_STATE_UP, "", 1.0, /*attempt_timeout_ms=*/5000);
  auto decision = Run("+12125551234");
  ASSERT_TRUE(decision.ok());
  EXPECT_EQ(decision->candidates[0].attempt_timeout_ms, 150u);
  EXPECT_EQ(decision->candidates[1].attempt_timeout_ms, 1000u);
  // Nothing learned yet: the route's setup timeout.
  EXPECT_EQ(decision->candidates[2].attempt_timeout_ms, 1000u);
}

TEST_F(DecideTest, AdaptiveTimeoutIgnoredWhenThePolicyDisablesIt) {
  health_.Set("a", v1::HEALTH_STATE_UP, "", 1.0, /*attempt_timeout_ms=*/150);
  auto decision = Run("+442079460000");
  ASSERT_TRUE(decision.ok());
  EXPECT_EQ(decision->route->id, "strict");
  EXPECT_EQ(decision->candidates[0].attempt_timeout_ms, 1000u);
}

TEST_F(DecideTest, AppliesTheRouteTransform) {
  auto decision = Run("9 212 555 1234");
  ASSERT_TRUE(decision.ok()) << decision.status();
  EXPECT_EQ(decision->route->id, "national");
  EXPECT_EQ(decision->normalized_number, "+12125551234");
  // A name without a port: SRV gives the port (RFC 3263), so the Request-URI names none.
  EXPECT_EQ(decision->RequestUri(*decision->candidates[0].trunk), "sip:+12125551234@b.example.com");
}

TEST_F(DecideTest, TransformFailureIsInvalidArgumentNamingRouteAndNumber) {
  EXPECT_THAT(Run("*72#"), StatusIs(absl::StatusCode::kInvalidArgument,
                                    HasSubstr("dialed_number: route 'shorts' transform: number "
                                              "'*72#': cannot make it E.164")));
}

TEST_F(DecideTest, GarbageNumberIsInvalidArgumentNamingIt) {
  EXPECT_THAT(Run("hello"), StatusIs(absl::StatusCode::kInvalidArgument,
                                     HasSubstr("dialed_number: number 'hello': not a phone "
                                               "number")));
}

TEST_F(DecideTest, NoRouteIsNotFoundNamingTheNumber) {
  EXPECT_THAT(Run("+4915112345678"), StatusIs(absl::StatusCode::kNotFound,
                                              HasSubstr("no route matches +4915112345678")));
}

// Routes match E.164; a dialer that drops the '+' gets told what would have matched.
TEST_F(DecideTest, NoRouteForANumberWithoutThePlusHintsItsE164Form) {
  EXPECT_THAT(Run("12125551234"),
              StatusIs(absl::StatusCode::kNotFound,
                       "no route matches 12125551234; routes match E.164 numbers: did you mean "
                       "+12125551234 (route 'nanp')?"));
  // Ten digits: NANP national. ("+2125551234" matches no route of this config.)
  EXPECT_THAT(Run("212-555-1234"),
              StatusIs(absl::StatusCode::kNotFound,
                       "no route matches 2125551234; routes match E.164 numbers: did you mean "
                       "+12125551234 (route 'nanp')?"));
  // An international prefix.
  EXPECT_THAT(Run("00442079460000"),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("did you mean +442079460000 (route 'strict')?")));
  EXPECT_THAT(Run("011442079460000"),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("did you mean +442079460000 (route 'strict')?")));
}

TEST_F(DecideTest, NoHintWhenNoE164FormMatchesEither) {
  EXPECT_THAT(Run("12345"), StatusIs(absl::StatusCode::kNotFound, "no route matches 12345"));
  // Already E.164: nothing to guess.
  EXPECT_THAT(Run("+4915112345678"),
              StatusIs(absl::StatusCode::kNotFound, "no route matches +4915112345678"));
}

// In route priority order, as routing would rank them: the catch-all's reading comes last.
TEST_F(DecideTest, EveryMatchingReadingIsNamedBestRouteFirst) {
  Load(R"pb(
    trunks { id: "a" host: "a.example.com" }
    routes { id: "nanp" priority: 10 pattern: "\\+1\\d{10}" trunk_ids: "a" }
    routes { id: "intl" priority: 20 pattern: "\\+\\d{8,15}" trunk_ids: "a" }
  )pb");
  EXPECT_THAT(Run("4930123456"),
              StatusIs(absl::StatusCode::kNotFound,
                       "no route matches 4930123456; routes match E.164 numbers: did you mean "
                       "+14930123456 (route 'nanp') or +4930123456 (route 'intl')?"));
}

TEST_F(DecideTest, UnreadableCallerIdDoesNotFailTheCall) {
  auto decision = Run("+12125551234", "", 0.5, "anonymous");
  ASSERT_TRUE(decision.ok());
  EXPECT_EQ(decision->normalized_caller, "");
  auto with_caller = Run("+12125551234", "", 0.5, "sip:+1 555 000 1111@pbx");
  ASSERT_TRUE(with_caller.ok());
  EXPECT_EQ(with_caller->normalized_caller, "+15550001111");
}

TEST_F(DecideTest, RequestUriEscapesHash) {
  Load(R"pb(
    trunks { id: "b" host: "b.example.com" transport: TRANSPORT_TLS }
    routes { id: "feature" priority: 1 pattern: "\\*\\d+#" trunk_ids: "b" }
  )pb");
  auto decision = Run("*72#");
  ASSERT_TRUE(decision.ok());
  EXPECT_EQ(decision->RequestUri(*decision->candidates[0].trunk),
            "sip:*72%23@b.example.com;transport=tls");
}

TEST_F(DecideTest, ToProtoFillsTheResponse) {
  health_.Set("a", v1::HEALTH_STATE_DOWN, "3 consecutive failures");
  health_.Set("c", v1::HEALTH_STATE_UP, "", 1.0, 300);
  auto decision = Run("+12125551234");
  ASSERT_TRUE(decision.ok());
  v1::RouteCallResponse response;
  response.set_route_id("stale");
  decision->ToProto(&response);
  EXPECT_EQ(response.route_id(), "nanp");
  EXPECT_EQ(response.normalized_number(), "+12125551234");
  ASSERT_EQ(response.candidates_size(), 2);
  const v1::Candidate& b = response.candidates(0);
  EXPECT_EQ(b.trunk_id(), "b");
  EXPECT_EQ(b.sip_uri(), "sip:+12125551234@b.example.com");
  EXPECT_EQ(b.setup_timeout_ms(), 1000u);
  EXPECT_EQ(b.health_state(), v1::HEALTH_STATE_UP);
  EXPECT_EQ(b.host(), "b.example.com");
  EXPECT_EQ(b.port(), 5060u);
  EXPECT_EQ(b.transport(), v1::TRANSPORT_UDP);
  const v1::Candidate& c = response.candidates(1);
  EXPECT_EQ(c.sip_uri(), "sip:+12125551234@[2001:db8::c]:5060;transport=tcp");
  EXPECT_EQ(c.setup_timeout_ms(), 300u);
  EXPECT_EQ(c.host(), "2001:db8::c");
  EXPECT_EQ(c.transport(), v1::TRANSPORT_TCP);
  ASSERT_EQ(response.skipped_size(), 1);
  EXPECT_EQ(response.skipped(0).trunk_id(), "a");
  EXPECT_EQ(response.skipped(0).health_state(), v1::HEALTH_STATE_DOWN);
  EXPECT_EQ(response.skipped(0).reason(), "DOWN: 3 consecutive failures");
  EXPECT_FALSE(response.panic());
  EXPECT_EQ(response.config_version(), 42u);
  EXPECT_TRUE(response.failover_policy().has_setup_timeout_ms());
  EXPECT_EQ(response.failover_policy().setup_timeout_ms(), 1000u);
  EXPECT_THAT(response.failover_policy().failover_codes(), ElementsAre(408, 500, 502, 503, 504));
  EXPECT_TRUE(response.failover_policy().panic_when_all_down());
}

TEST_F(DecideTest, ToProtoFlagsPanic) {
  health_.Set("a", v1::HEALTH_STATE_DOWN);
  health_.Set("b", v1::HEALTH_STATE_DOWN);
  health_.Set("c", v1::HEALTH_STATE_DOWN);
  auto decision = Run("+12125551234");
  ASSERT_TRUE(decision.ok());
  v1::RouteCallResponse response;
  decision->ToProto(&response);
  EXPECT_TRUE(response.panic());
  EXPECT_EQ(response.candidates_size(), 3);
  EXPECT_EQ(response.skipped_size(), 0);
}

}  // namespace
}  // namespace trunkroute::router
