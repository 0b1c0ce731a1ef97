#include "metrics/trunkroute_metrics.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "router/decision_observer.h"
#include "tests/metrics/exposition_matchers.h"

namespace trunkroute::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::SeriesValue;

class TrunkrouteMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto created = TrunkrouteMetrics::Create("1.2.3");
    ASSERT_TRUE(created.ok()) << created.status();
    m_ = std::move(*created);
  }
  std::string Scrape() const { return m_->registry().Serialize(); }

  std::unique_ptr<TrunkrouteMetrics> m_;
};

// The names below are a contract with the dashboard, the alert rules and the SIP edge.
TEST_F(TrunkrouteMetricsTest, DeclaresEveryProductMetricWithItsType) {
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"trunkroute_route_decisions_total", "counter"},
      {"trunkroute_route_decision_duration_seconds", "histogram"},
      {"trunkroute_call_attempts_total", "counter"},
      {"trunkroute_failovers_total", "counter"},
      {"trunkroute_trunk_health_state", "gauge"},
      {"trunkroute_trunk_health_transitions_total", "counter"},
      {"trunkroute_trunk_ejections_total", "counter"},
      {"trunkroute_panic_decisions_total", "counter"},
      {"trunkroute_probes_total", "counter"},
      {"trunkroute_probe_rtt_seconds", "histogram"},
      {"trunkroute_post_dial_delay_seconds", "histogram"},
      {"trunkroute_active_calls", "gauge"},
      {"trunkroute_config_version", "gauge"},
      {"trunkroute_config_last_apply_timestamp_seconds", "gauge"},
      {"trunkroute_grpc_requests_total", "counter"},
      {"trunkroute_http_requests_total", "counter"},
      {"trunkroute_auth_failures_total", "counter"},
      {"trunkroute_edge_rejections_total", "counter"},
      {"trunkroute_config_source", "gauge"},
      {"trunkroute_etcd_up", "gauge"},
      {"trunkroute_config_propagation_seconds", "histogram"},
      {"trunkroute_config_cas_conflicts_total", "counter"},
      {"trunkroute_config_rejected_total", "counter"},
      {"trunkroute_cluster_instances", "gauge"},
      {"trunkroute_cluster_probe_hints_total", "counter"},
      {"trunkroute_build_info", "gauge"},
  };
  std::string text = Scrape();
  for (const auto& [name, type] : expected) {
    EXPECT_THAT(text, HasSubstr("# HELP " + name + " ")) << name;
    EXPECT_THAT(text, HasSubstr("# TYPE " + name + " " + type + "\n")) << name;
  }
  size_t families = 0;
  for (size_t pos = 0; (pos = text.find("# TYPE ", pos)) != std::string::npos; ++pos) ++families;
  EXPECT_EQ(families, expected.size());
}

TEST_F(TrunkrouteMetricsTest, ConfigSourceIsFileUntilTheClusterSaysOtherwise) {
  std::string text = Scrape();
  EXPECT_EQ(SeriesValue(text, "trunkroute_config_source{source=\"file\"}"), "1");
  EXPECT_EQ(SeriesValue(text, "trunkroute_config_source{source=\"etcd\"}"), "0");
  EXPECT_EQ(SeriesValue(text, "trunkroute_etcd_up"), "0");
  EXPECT_EQ(SeriesValue(text, "trunkroute_config_cas_conflicts_total"), "0");
  m_->SetConfigSource("cache");
  text = Scrape();
  EXPECT_EQ(SeriesValue(text, "trunkroute_config_source{source=\"file\"}"), "0");
  EXPECT_EQ(SeriesValue(text, "trunkroute_config_source{source=\"cache\"}"), "1");
}

TEST_F(TrunkrouteMetricsTest, BuildInfoCarriesTheVersion) {
  EXPECT_EQ(SeriesValue(Scrape(), "trunkroute_build_info{version=\"1.2.3\"}"), "1");
}

TEST_F(TrunkrouteMetricsTest, DecisionCountersUseRouteAndResult) {
  m_->route_decisions->WithLabels({"us", router::kResultRouted})->Inc();
  m_->route_decisions->WithLabels({"", router::kResultNoRoute})->Inc();
  m_->panic_decisions->WithLabels({"us"})->Inc();
  m_->decision_duration->WithLabels({})->Observe(0.00002);
  // Bounds are written like Go's strconv 'g' (as client_golang does): 1e-05, not 0.00001.
  std::string text = Scrape();
  EXPECT_EQ(SeriesValue(text, "trunkroute_route_decisions_total{route=\"us\",result=\"routed\"}"),
            "1");
  EXPECT_EQ(SeriesValue(text, "trunkroute_route_decisions_total{route=\"\",result=\"no_route\"}"),
            "1");
  EXPECT_EQ(SeriesValue(text, "trunkroute_panic_decisions_total{route=\"us\"}"), "1");
  EXPECT_EQ(SeriesValue(text, "trunkroute_route_decision_duration_seconds_bucket{le=\"1e-05\"}"),
            "0");
  EXPECT_EQ(SeriesValue(text, "trunkroute_route_decision_duration_seconds_bucket{le=\"2.5e-05\"}"),
            "1");
}

TEST_F(TrunkrouteMetricsTest, SetTrunkStateMarksExactlyOneStateOfSix) {
  m_->SetTrunkState("carrier-a", v1::HEALTH_STATE_UP);
  m_->SetTrunkState("carrier-a", v1::HEALTH_STATE_DOWN);
  std::string text = Scrape();
  EXPECT_EQ(SeriesValue(text, "trunkroute_trunk_health_state{trunk=\"carrier-a\",state=\"DOWN\"}"),
            "1");
  for (const char* other : {"UP", "PROBING", "DRAINING", "FORCED_DOWN", "FORCED_UP"}) {
    EXPECT_EQ(SeriesValue(text, std::string("trunkroute_trunk_health_state{trunk=\"carrier-a\","
                                            "state=\"") +
                                    other + "\"}"),
              "0")
        << other;
  }
}

TEST_F(TrunkrouteMetricsTest, ForgetTrunkHidesEverySeriesNamingIt) {
  m_->SetTrunkState("a", v1::HEALTH_STATE_UP);
  m_->SetTrunkState("b", v1::HEALTH_STATE_UP);
  m_->active_calls->WithLabels({"a"})->Inc();
  m_->failovers->WithLabels({"us", "a", "b", "503"})->Inc();
  m_->failovers->WithLabels({"us", "b", "a", "timeout"})->Inc();
  m_->failovers->WithLabels({"us", "b", "c", "timeout"})->Inc();
  m_->post_dial_delay->WithLabels({"a"})->Observe(0.8);
  m_->ForgetTrunk("a");
  std::string text = Scrape();
  EXPECT_THAT(text, Not(HasSubstr("\"a\"")));
  EXPECT_EQ(SeriesValue(text, "trunkroute_trunk_health_state{trunk=\"b\",state=\"UP\"}"), "1");
  EXPECT_EQ(
      SeriesValue(
          text, "trunkroute_failovers_total{route=\"us\",from=\"b\",to=\"c\",reason=\"timeout\"}"),
      "1");
}

TEST_F(TrunkrouteMetricsTest, ForgetTrunkNamedLikeAStateLeavesTransitionsOfOthersAlone) {
  m_->health_transitions->WithLabels({"other", "UP", "DOWN"})->Inc();
  m_->ForgetTrunk("DOWN");
  EXPECT_EQ(SeriesValue(Scrape(),
                        "trunkroute_trunk_health_transitions_total{trunk=\"other\","
                        "from=\"UP\",to=\"DOWN\"}"),
            "1");
}

TEST_F(TrunkrouteMetricsTest, ConfigAppliedSetsVersionAndUnixSeconds) {
  m_->SetConfigApplied(42, 1'800'000'000'250);
  std::string text = Scrape();
  EXPECT_EQ(SeriesValue(text, "trunkroute_config_version"), "42");
  EXPECT_EQ(SeriesValue(text, "trunkroute_config_last_apply_timestamp_seconds"), "1800000000.25");
}

TEST(HealthLabelTest, EnumNamesWithoutPrefix) {
  EXPECT_EQ(HealthStateLabel(v1::HEALTH_STATE_FORCED_DOWN), "FORCED_DOWN");
  EXPECT_EQ(HealthStateLabel(v1::HEALTH_STATE_UNSPECIFIED), "UNSPECIFIED");
  EXPECT_EQ(HealthStateLabel(static_cast<v1::HealthState>(99)), "UNSPECIFIED");
  EXPECT_EQ(HealthReasonLabel(v1::HEALTH_REASON_RETRY_AFTER), "RETRY_AFTER");
  EXPECT_EQ(HealthReasonLabel(v1::HEALTH_REASON_UNSPECIFIED), "UNSPECIFIED");
}

}  // namespace
}  // namespace trunkroute::metrics
