#include "metrics/trunkroute_metrics.h"

#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "router/decision_observer.h"
#include "sip/edge_rejections.h"
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
      {"trunkroute_target_failovers_total", "counter"},
      {"trunkroute_trunk_target_health_state", "gauge"},
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
      {"trunkroute_tls_failures_total", "counter"},
      {"trunkroute_edge_rejections_total", "counter"},
      {"trunkroute_edge_overloaded", "gauge"},
      {"trunkroute_edge_admitted_ratio", "gauge"},
      {"trunkroute_edge_loop_lag_seconds", "gauge"},
      {"trunkroute_edge_udp_queue_ratio", "gauge"},
      {"trunkroute_config_source", "gauge"},
      {"trunkroute_etcd_up", "gauge"},
      {"trunkroute_config_propagation_seconds", "histogram"},
      {"trunkroute_config_cas_conflicts_total", "counter"},
      {"trunkroute_config_rejected_total", "counter"},
      {"trunkroute_cluster_instances", "gauge"},
      {"trunkroute_cluster_probe_hints_total", "counter"},
      {"trunkroute_api_requests_denied_total", "counter"},
      {"trunkroute_api_credential_reloads_total", "counter"},
      {"trunkroute_api_tls_certificate_expiry_timestamp_seconds", "gauge"},
      {"trunkroute_health_state_write_failures_total", "counter"},
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
  EXPECT_EQ(SeriesValue(text, "trunkroute_trunk_health_state{trunk=\"carrier-a\",state=\"down\"}"),
            "1");
  for (const char* other : {"up", "probing", "draining", "forced_down", "forced_up"}) {
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
  EXPECT_EQ(SeriesValue(text, "trunkroute_trunk_health_state{trunk=\"b\",state=\"up\"}"), "1");
  EXPECT_EQ(
      SeriesValue(
          text, "trunkroute_failovers_total{route=\"us\",from=\"b\",to=\"c\",reason=\"timeout\"}"),
      "1");
}

TEST_F(TrunkrouteMetricsTest, ForgetTrunkNamedLikeAStateLeavesTransitionsOfOthersAlone) {
  m_->health_transitions->WithLabels({"other", "up", "down"})->Inc();
  m_->ForgetTrunk("down");
  EXPECT_EQ(SeriesValue(Scrape(),
                        "trunkroute_trunk_health_transitions_total{trunk=\"other\","
                        "from=\"up\",to=\"down\"}"),
            "1");
}

// Panels and increase() need the series before the first event.
TEST_F(TrunkrouteMetricsTest, EveryEdgeRejectionExistsAtZeroFromTheStart) {
  const std::string text = Scrape();
  size_t pairs = 0;
  for (const sip::RejectionSeries& r : sip::kEdgeRejectionSeries) {
    EXPECT_EQ(
        SeriesValue(text, "trunkroute_edge_rejections_total{code=\"" + std::string(r.code_label) +
                              "\",reason=\"" + std::string(r.reason) + "\"}"),
        "0")
        << r.code_label << " " << r.reason;
    EXPECT_EQ(r.code_label, std::to_string(r.status));
    ++pairs;
  }
  EXPECT_EQ(pairs, 12u);
  EXPECT_EQ(SeriesValue(text,
                        "trunkroute_edge_rejections_total{code=\"403\","
                        "reason=\"source_not_allowed\"}"),
            "0");
  // Load shedding (sip/overload.h, edge.max_cps): there before the first overload.
  EXPECT_EQ(SeriesValue(text, "trunkroute_edge_rejections_total{code=\"503\",reason=\"overload\"}"),
            "0");
  EXPECT_EQ(
      SeriesValue(text, "trunkroute_edge_rejections_total{code=\"503\",reason=\"rate_limit\"}"),
      "0");
}

// Probe RTT and post-dial delay to a peer on the same host or LAN are 0.2-2 ms: the lowest
// bucket must be below that, or every quantile is the lowest bound.
TEST_F(TrunkrouteMetricsTest, LatencyHistogramsResolveSubMillisecondAndMillisecondValues) {
  m_->probe_rtt->WithLabels({"a"})->Observe(0.0004);
  m_->probe_rtt->WithLabels({"a"})->Observe(0.0018);
  m_->post_dial_delay->WithLabels({"a"})->Observe(0.0009);
  const std::string text = Scrape();
  EXPECT_EQ(SeriesValue(text, "trunkroute_probe_rtt_seconds_bucket{trunk=\"a\",le=\"0.0005\"}"),
            "1");
  EXPECT_EQ(SeriesValue(text, "trunkroute_probe_rtt_seconds_bucket{trunk=\"a\",le=\"0.001\"}"),
            "1");
  EXPECT_EQ(SeriesValue(text, "trunkroute_probe_rtt_seconds_bucket{trunk=\"a\",le=\"0.0025\"}"),
            "2");
  EXPECT_EQ(SeriesValue(text, "trunkroute_probe_rtt_seconds_bucket{trunk=\"a\",le=\"2.5\"}"), "2");
  EXPECT_EQ(
      SeriesValue(text, "trunkroute_post_dial_delay_seconds_bucket{trunk=\"a\",le=\"0.0005\"}"),
      "0");
  EXPECT_EQ(
      SeriesValue(text, "trunkroute_post_dial_delay_seconds_bucket{trunk=\"a\",le=\"0.001\"}"),
      "1");
  EXPECT_EQ(SeriesValue(text, "trunkroute_post_dial_delay_seconds_bucket{trunk=\"a\",le=\"30\"}"),
            "1");
}

TEST_F(TrunkrouteMetricsTest, ConfigAppliedSetsVersionAndUnixSeconds) {
  m_->SetConfigApplied(42, 1'800'000'000'250);
  std::string text = Scrape();
  EXPECT_EQ(SeriesValue(text, "trunkroute_config_version"), "42");
  EXPECT_EQ(SeriesValue(text, "trunkroute_config_last_apply_timestamp_seconds"), "1800000000.25");
}

// The label words are the enum names without prefix, in lower case: what trunkroutectl prints
// (cli/display.cc ShortEnumName) and what the logs write.
// The daemon reports the serving config itself: the time it was applied (kept across restarts,
// not the time this process loaded it) and a panic counter at 0 for every route.
TEST_F(TrunkrouteMetricsTest, ConfigAppliedFromTheConfigUsesItsApplyTimeAndZeroesPanicCounters) {
  v1::Config config;
  config.set_version(7);
  config.set_applied_at_unix_ms(1'700'000'000'500);
  config.add_routes()->set_id("nanp");
  config.add_routes()->set_id("intl");
  m_->SetConfigApplied(config);
  std::string text = Scrape();
  EXPECT_EQ(SeriesValue(text, "trunkroute_config_version"), "7");
  EXPECT_EQ(SeriesValue(text, "trunkroute_config_last_apply_timestamp_seconds"), "1700000000.5");
  EXPECT_EQ(SeriesValue(text, "trunkroute_panic_decisions_total{route=\"nanp\"}"), "0");
  EXPECT_EQ(SeriesValue(text, "trunkroute_panic_decisions_total{route=\"intl\"}"), "0");
  // A later apply that adds a route adds its counter; the counts so far stay.
  m_->panic_decisions->WithLabels({"nanp"})->Inc();
  config.set_version(8);
  config.add_routes()->set_id("emea");
  m_->SetConfigApplied(config);
  text = Scrape();
  EXPECT_EQ(SeriesValue(text, "trunkroute_panic_decisions_total{route=\"nanp\"}"), "1");
  EXPECT_EQ(SeriesValue(text, "trunkroute_panic_decisions_total{route=\"emea\"}"), "0");
}

TEST(HealthLabelTest, LowerCaseEnumNamesWithoutPrefix) {
  const google::protobuf::EnumDescriptor* states = v1::HealthState_descriptor();
  for (int i = 0; i < states->value_count(); ++i) {
    const auto state = static_cast<v1::HealthState>(states->value(i)->number());
    EXPECT_EQ(HealthStateLabel(state),
              absl::AsciiStrToLower(states->value(i)->name().substr(strlen("HEALTH_STATE_"))));
  }
  const google::protobuf::EnumDescriptor* reasons = v1::HealthReason_descriptor();
  for (int i = 0; i < reasons->value_count(); ++i) {
    const auto reason = static_cast<v1::HealthReason>(reasons->value(i)->number());
    EXPECT_EQ(HealthReasonLabel(reason),
              absl::AsciiStrToLower(reasons->value(i)->name().substr(strlen("HEALTH_REASON_"))));
  }
  EXPECT_EQ(HealthStateLabel(v1::HEALTH_STATE_FORCED_DOWN), "forced_down");
  EXPECT_EQ(HealthReasonLabel(v1::HEALTH_REASON_TRANSPORT_ERROR), "transport_error");
  EXPECT_EQ(HealthStateLabel(static_cast<v1::HealthState>(99)), "unspecified");
}

}  // namespace
}  // namespace trunkroute::metrics
