// The observer wired to a real HealthTracker (simulated clock, no prober), as trunkrouted wires
// it: metrics follow the tracker's own events.

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "health/outcome.h"
#include "health/tracker.h"
#include "metrics/health_metrics_observer.h"
#include "router/routing_table.h"
#include "tests/metrics/exposition_matchers.h"
#include "tests/support/simulated_clock.h"

namespace trunkroute::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::SeriesValue;

std::shared_ptr<const router::RoutingTable> Table(const std::string& text) {
  v1::Config config;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &config)) << text;
  auto table = router::RoutingTable::Create(config);
  EXPECT_TRUE(table.ok()) << table.status();
  return table.ok() ? *table : nullptr;
}

constexpr char kTwoTrunks[] = R"pb(
  trunks { id: "a" host: "a.example.com" }
  trunks { id: "b" host: "b.example.com" }
)pb";
constexpr char kOnlyA[] = R"pb(
  trunks { id: "a" host: "a.example.com" }
)pb";

class HealthMetricsWithTrackerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto m = TrunkrouteMetrics::Create("test");
    ASSERT_TRUE(m.ok()) << m.status();
    metrics_ = std::move(*m);
    tracker_ = std::make_unique<health::HealthTracker>(&clock_, &random_, nullptr);
    observer_ = std::make_shared<HealthMetricsObserver>(metrics_.get());
    // The production wiring: register with a snapshot, sync, then apply tables.
    std::vector<v1::TrunkHealth> snapshot;
    tracker_->AddObserver(observer_, &snapshot);
    observer_->SyncTrunks(snapshot);
    Apply(kTwoTrunks);
  }
  void Apply(const char* text) {
    table_ = Table(text);
    ASSERT_NE(table_, nullptr);
    tracker_->ApplyTable(*table_);
    observer_->SyncTrunks(tracker_->List());
  }
  void Report(const std::string& trunk, int status) {
    health::AttemptOutcome o;
    o.trunk_id = trunk;
    o.sip_status = status;
    tracker_->ReportOutcome(o, table_->default_failover_policy());
  }
  std::string Scrape() const { return metrics_->registry().Serialize(); }

  trunkroute::testing::SimulatedClock clock_;
  trunkroute::testing::FakeRandom random_;
  std::unique_ptr<TrunkrouteMetrics> metrics_;
  std::unique_ptr<health::HealthTracker> tracker_;
  std::shared_ptr<HealthMetricsObserver> observer_;
  std::shared_ptr<const router::RoutingTable> table_;
};

TEST_F(HealthMetricsWithTrackerTest, NewTrunksAreExportedUp) {
  std::string text = Scrape();
  EXPECT_EQ(SeriesValue(text, R"(trunkroute_trunk_health_state{trunk="a",state="up"})"), "1");
  EXPECT_EQ(SeriesValue(text, R"(trunkroute_trunk_health_state{trunk="b",state="up"})"), "1");
  EXPECT_THAT(text, Not(HasSubstr("trunkroute_trunk_health_transitions_total{")));
}

TEST_F(HealthMetricsWithTrackerTest, ThreeFailuresShowAsEjectionWithReason) {
  Report("a", 503);
  Report("a", 503);
  Report("a", 500);
  std::string text = Scrape();
  EXPECT_EQ(SeriesValue(text, R"(trunkroute_trunk_health_state{trunk="a",state="down"})"), "1");
  EXPECT_EQ(SeriesValue(text, R"(trunkroute_trunk_health_state{trunk="a",state="up"})"), "0");
  EXPECT_EQ(
      SeriesValue(text,
                  R"(trunkroute_trunk_health_transitions_total{trunk="a",from="up",to="down"})"),
      "1");
  EXPECT_EQ(
      SeriesValue(text,
                  R"(trunkroute_trunk_ejections_total{trunk="a",reason="consecutive_failures"})"),
      "1");
  EXPECT_EQ(SeriesValue(text, R"(trunkroute_call_attempts_total{trunk="a",outcome="failover"})"),
            "3");
  EXPECT_EQ(SeriesValue(text, R"(trunkroute_trunk_health_state{trunk="b",state="up"})"), "1");
}

TEST_F(HealthMetricsWithTrackerTest, HoldDownExpiryShowsAsProbing) {
  for (int i = 0; i < 3; ++i) Report("a", 503);
  clock_.AdvanceMs(5000);  // default hold-down, no jitter with FakeRandom(0)
  tracker_->Tick();
  std::string text = Scrape();
  EXPECT_EQ(SeriesValue(text, R"(trunkroute_trunk_health_state{trunk="a",state="probing"})"), "1");
  EXPECT_EQ(
      SeriesValue(
          text, R"(trunkroute_trunk_health_transitions_total{trunk="a",from="down",to="probing"})"),
      "1");
}

TEST_F(HealthMetricsWithTrackerTest, DeletedTrunkDisappearsFromTheScrape) {
  Report("b", 200);
  Apply(kOnlyA);
  std::string text = Scrape();
  EXPECT_THAT(text, Not(HasSubstr("trunk=\"b\"")));
  EXPECT_EQ(SeriesValue(text, R"(trunkroute_trunk_health_state{trunk="a",state="up"})"), "1");
  // Back in the config: back in the scrape, counters kept.
  Apply(kTwoTrunks);
  EXPECT_EQ(SeriesValue(Scrape(), R"(trunkroute_call_attempts_total{trunk="b",outcome="success"})"),
            "1");
}

// The API's outcome_class names, in lower case like every label value of ours.
TEST(OutcomeLabelTest, IsHealthOutcomeClassNameInLowerCase) {
  for (health::OutcomeClass c :
       {health::OutcomeClass::kSuccess, health::OutcomeClass::kFailover,
        health::OutcomeClass::kCalleeFinal, health::OutcomeClass::kAuthFailed,
        health::OutcomeClass::kRingNoAnswer}) {
    EXPECT_EQ(HealthMetricsObserver::OutcomeLabel(c),
              absl::AsciiStrToLower(std::string(health::OutcomeClassName(c))));
  }
}

}  // namespace
}  // namespace trunkroute::metrics
