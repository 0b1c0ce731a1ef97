#include "metrics/health_metrics_observer.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/metrics/exposition_matchers.h"

namespace trunkroute::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::SeriesValue;

v1::TrunkHealth Health(const std::string& trunk, v1::HealthState state, int64_t since_ms,
                       v1::HealthReason reason = v1::HEALTH_REASON_UNSPECIFIED) {
  v1::TrunkHealth h;
  h.set_trunk_id(trunk);
  h.set_state(state);
  h.set_since_unix_ms(since_ms);
  h.set_reason(reason);
  return h;
}

health::HealthEvent Event(const std::string& trunk, v1::HealthState from, v1::HealthState to,
                          int64_t since_ms,
                          v1::HealthReason reason = v1::HEALTH_REASON_UNSPECIFIED) {
  health::HealthEvent e;
  e.health = Health(trunk, to, since_ms, reason);
  e.previous_state = from;
  return e;
}

health::AttemptOutcome Outcome(const std::string& trunk, int status) {
  health::AttemptOutcome o;
  o.trunk_id = trunk;
  o.sip_status = status;
  return o;
}

health::ProbeResult Probe(const std::string& trunk, int status, Duration rtt) {
  health::ProbeResult p;
  p.trunk_id = trunk;
  p.sip_status = status;
  p.rtt = rtt;
  return p;
}

std::string State(const std::string& trunk, const std::string& state) {
  return "trunkroute_trunk_health_state{trunk=\"" + trunk + "\",state=\"" + state + "\"}";
}

class HealthMetricsObserverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto created = TrunkrouteMetrics::Create("test");
    ASSERT_TRUE(created.ok()) << created.status();
    metrics_ = std::move(*created);
    observer_ = std::make_unique<HealthMetricsObserver>(metrics_.get());
  }
  std::string Scrape() const { return metrics_->registry().Serialize(); }
  // As the tracker does for every new trunk.
  void Announce(const std::string& trunk) {
    observer_->OnStateChange(
        Event(trunk, v1::HEALTH_STATE_UNSPECIFIED, v1::HEALTH_STATE_UP, 1000,
              v1::HEALTH_REASON_CONFIGURED));
  }

  std::unique_ptr<TrunkrouteMetrics> metrics_;
  std::unique_ptr<HealthMetricsObserver> observer_;
};

TEST_F(HealthMetricsObserverTest, TargetStatesOfAnExportedTrunkAreGaugedAndForgottenWithDns) {
  Announce("carrier");
  health::TargetEvent e;
  e.trunk_id = "carrier";
  e.target = "192.0.2.1:5060";
  e.previous_state = v1::HEALTH_STATE_UP;
  e.state = v1::HEALTH_STATE_DOWN;
  observer_->OnTargetStateChange(e);
  const std::string series =
      R"(trunkroute_trunk_target_health_state{trunk="carrier",target="192.0.2.1:5060",state=)";
  std::string text = Scrape();
  EXPECT_EQ(SeriesValue(text, series + R"("down"})"), "1");
  EXPECT_EQ(SeriesValue(text, series + R"("up"})"), "0");
  EXPECT_EQ(SeriesValue(text, series + R"("probing"})"), "0");
  e.previous_state = v1::HEALTH_STATE_DOWN;
  e.state = v1::HEALTH_STATE_UNSPECIFIED;  // left DNS
  observer_->OnTargetStateChange(e);
  EXPECT_THAT(Scrape(), Not(HasSubstr("192.0.2.1:5060")));
  // A trunk the observer does not export gets no target series either.
  e.trunk_id = "unknown";
  e.state = v1::HEALTH_STATE_UP;
  observer_->OnTargetStateChange(e);
  EXPECT_THAT(Scrape(), Not(HasSubstr("unknown")));
}

TEST_F(HealthMetricsObserverTest, FirstAppearanceSetsStateWithoutCountingATransition) {
  observer_->OnStateChange(
      Event("a", v1::HEALTH_STATE_UNSPECIFIED, v1::HEALTH_STATE_UP, 1000,
            v1::HEALTH_REASON_CONFIGURED));
  std::string text = Scrape();
  EXPECT_EQ(SeriesValue(text, State("a", "up")), "1");
  EXPECT_EQ(SeriesValue(text, State("a", "down")), "0");
  EXPECT_THAT(text, Not(HasSubstr("trunkroute_trunk_health_transitions_total{")));
}

TEST_F(HealthMetricsObserverTest, EjectionCountsTransitionAndReasonAndFlipsTheStateGauge) {
  observer_->OnStateChange(Event("a", v1::HEALTH_STATE_UNSPECIFIED, v1::HEALTH_STATE_UP, 1000));
  observer_->OnStateChange(Event("a", v1::HEALTH_STATE_UP, v1::HEALTH_STATE_DOWN, 2000,
                                 v1::HEALTH_REASON_CONSECUTIVE_FAILURES));
  std::string text = Scrape();
  EXPECT_EQ(SeriesValue(text, State("a", "up")), "0");
  EXPECT_EQ(SeriesValue(text, State("a", "down")), "1");
  EXPECT_EQ(SeriesValue(text,
                        "trunkroute_trunk_health_transitions_total{trunk=\"a\",from=\"up\","
                        "to=\"down\"}"),
            "1");
  EXPECT_EQ(SeriesValue(text,
                        "trunkroute_trunk_ejections_total{trunk=\"a\","
                        "reason=\"consecutive_failures\"}"),
            "1");
}

TEST_F(HealthMetricsObserverTest, RecoveryIsATransitionButNotAnEjection) {
  observer_->OnStateChange(Event("a", v1::HEALTH_STATE_DOWN, v1::HEALTH_STATE_PROBING, 1000,
                                 v1::HEALTH_REASON_HOLD_DOWN_EXPIRED));
  observer_->OnStateChange(Event("a", v1::HEALTH_STATE_PROBING, v1::HEALTH_STATE_UP, 2000,
                                 v1::HEALTH_REASON_RECOVERED));
  std::string text = Scrape();
  EXPECT_EQ(SeriesValue(text, State("a", "up")), "1");
  EXPECT_EQ(SeriesValue(text,
                        "trunkroute_trunk_health_transitions_total{trunk=\"a\","
                        "from=\"probing\",to=\"up\"}"),
            "1");
  EXPECT_THAT(text, Not(HasSubstr("trunkroute_trunk_ejections_total{")));
}

TEST_F(HealthMetricsObserverTest, AStateChangeOlderThanTheLastOneDoesNotOverwriteTheGauge) {
  observer_->OnStateChange(Event("a", v1::HEALTH_STATE_UP, v1::HEALTH_STATE_DOWN, 2000));
  // Reported late by a slower thread: it happened before the change above.
  observer_->OnStateChange(Event("a", v1::HEALTH_STATE_PROBING, v1::HEALTH_STATE_UP, 1500));
  std::string text = Scrape();
  EXPECT_EQ(SeriesValue(text, State("a", "down")), "1");
  EXPECT_EQ(SeriesValue(text, State("a", "up")), "0");
  // Still a transition that happened.
  EXPECT_EQ(SeriesValue(text,
                        "trunkroute_trunk_health_transitions_total{trunk=\"a\","
                        "from=\"probing\",to=\"up\"}"),
            "1");
}

TEST_F(HealthMetricsObserverTest, OutcomesAreCountedByClassAndAuthFailuresSeparately) {
  Announce("a");
  observer_->OnOutcome(Outcome("a", 200), health::OutcomeClass::kSuccess);
  observer_->OnOutcome(Outcome("a", 503), health::OutcomeClass::kFailover);
  observer_->OnOutcome(Outcome("a", 503), health::OutcomeClass::kFailover);
  observer_->OnOutcome(Outcome("a", 486), health::OutcomeClass::kCalleeFinal);
  observer_->OnOutcome(Outcome("a", 401), health::OutcomeClass::kAuthFailed);
  observer_->OnOutcome(Outcome("a", 408), health::OutcomeClass::kRingNoAnswer);
  std::string text = Scrape();
  auto attempts = [&](const std::string& outcome) {
    return SeriesValue(
        text, "trunkroute_call_attempts_total{trunk=\"a\",outcome=\"" + outcome + "\"}");
  };
  EXPECT_EQ(attempts("success"), "1");
  EXPECT_EQ(attempts("failover"), "2");
  EXPECT_EQ(attempts("callee_final"), "1");
  EXPECT_EQ(attempts("auth_failed"), "1");
  EXPECT_EQ(attempts("ring_no_answer"), "1");
  EXPECT_EQ(SeriesValue(text, "trunkroute_auth_failures_total{trunk=\"a\"}"), "1");
  EXPECT_EQ(SeriesValue(text, "trunkroute_tls_failures_total{trunk=\"a\"}"), "0");
}

TEST_F(HealthMetricsObserverTest, TlsHandshakeFailuresAreCountedPerTrunk) {
  Announce("a");
  health::AttemptOutcome tls = Outcome("a", 0);
  tls.transport_error = true;
  tls.tls_failure = "certificate verify failed: certificate has expired";
  observer_->OnOutcome(tls, health::OutcomeClass::kFailover);
  health::AttemptOutcome refused = Outcome("a", 0);
  refused.transport_error = true;
  observer_->OnOutcome(refused, health::OutcomeClass::kFailover);
  const std::string text = Scrape();
  EXPECT_EQ(SeriesValue(text, "trunkroute_tls_failures_total{trunk=\"a\"}"), "1");
  EXPECT_EQ(SeriesValue(text, "trunkroute_call_attempts_total{trunk=\"a\",outcome=\"failover\"}"),
            "2");
}

TEST_F(HealthMetricsObserverTest, ProbesAreCountedByResultAndAnsweredOnesTimed) {
  Announce("a");
  observer_->OnProbe(Probe("a", 200, std::chrono::milliseconds(20)), true);
  observer_->OnProbe(Probe("a", 503, std::chrono::milliseconds(7)), false);
  health::ProbeResult timeout = Probe("a", 0, Duration(0));
  timeout.timed_out = true;
  observer_->OnProbe(timeout, false);
  health::ProbeResult refused = Probe("a", 0, Duration(0));
  refused.transport_error = true;
  observer_->OnProbe(refused, false);
  std::string text = Scrape();
  auto probes = [&](const std::string& result) {
    return SeriesValue(text, "trunkroute_probes_total{trunk=\"a\",result=\"" + result + "\"}");
  };
  EXPECT_EQ(probes("alive"), "1");
  EXPECT_EQ(probes("failed_status"), "1");
  EXPECT_EQ(probes("timeout"), "1");
  EXPECT_EQ(probes("transport_error"), "1");
  // Two answered probes (200 after 20 ms, 503 after 7 ms); the unanswered ones have no RTT.
  EXPECT_EQ(SeriesValue(text, "trunkroute_probe_rtt_seconds_count{trunk=\"a\"}"), "2");
  EXPECT_EQ(SeriesValue(text, "trunkroute_probe_rtt_seconds_bucket{trunk=\"a\",le=\"0.01\"}"),
            "1");
  EXPECT_EQ(SeriesValue(text, "trunkroute_probe_rtt_seconds_bucket{trunk=\"a\",le=\"0.025\"}"),
            "2");
  EXPECT_EQ(SeriesValue(text, "trunkroute_probe_rtt_seconds_sum{trunk=\"a\"}"), "0.027");
}

TEST_F(HealthMetricsObserverTest, SyncTrunksSetsListedStatesAndRemovesDeletedTrunks) {
  observer_->SyncTrunks({Health("a", v1::HEALTH_STATE_UP, 1000),
                         Health("b", v1::HEALTH_STATE_DRAINING, 1000)});
  observer_->OnOutcome(Outcome("b", 503), health::OutcomeClass::kFailover);
  observer_->OnStateChange(Event("b", v1::HEALTH_STATE_UP, v1::HEALTH_STATE_DOWN, 1500));
  std::string text = Scrape();
  EXPECT_EQ(SeriesValue(text, State("a", "up")), "1");
  EXPECT_EQ(SeriesValue(text, State("b", "down")), "1");

  observer_->SyncTrunks({Health("a", v1::HEALTH_STATE_UP, 1000)});  // b deleted
  text = Scrape();
  EXPECT_EQ(SeriesValue(text, State("a", "up")), "1");
  EXPECT_THAT(text, Not(HasSubstr("trunk=\"b\"")));

  // An attempt that was in flight when b was deleted does not bring its series back.
  observer_->OnOutcome(Outcome("b", 200), health::OutcomeClass::kSuccess);
  observer_->OnProbe(Probe("b", 200, std::chrono::milliseconds(3)), true);
  EXPECT_THAT(Scrape(), Not(HasSubstr("trunk=\"b\"")));

  // b configured again: back, with its counters where they were.
  observer_->SyncTrunks({Health("a", v1::HEALTH_STATE_UP, 1000),
                         Health("b", v1::HEALTH_STATE_UP, 3000)});
  text = Scrape();
  EXPECT_EQ(SeriesValue(text, State("b", "up")), "1");
  EXPECT_EQ(SeriesValue(text, State("b", "down")), "0");
  EXPECT_EQ(SeriesValue(text, "trunkroute_call_attempts_total{trunk=\"b\",outcome=\"failover\"}"),
            "1");
}

TEST_F(HealthMetricsObserverTest, OutcomesAndProbesForTrunksNeverAnnouncedAreDropped) {
  observer_->OnOutcome(Outcome("typo-trunk", 503), health::OutcomeClass::kFailover);
  observer_->OnProbe(Probe("typo-trunk", 200, std::chrono::milliseconds(3)), true);
  EXPECT_THAT(Scrape(), Not(HasSubstr("typo-trunk")));
}

TEST_F(HealthMetricsObserverTest, StateChangeToUnspecifiedForgetsTheTrunk) {
  observer_->OnStateChange(Event("a", v1::HEALTH_STATE_UNSPECIFIED, v1::HEALTH_STATE_UP, 1000));
  observer_->OnStateChange(Event("a", v1::HEALTH_STATE_UP, v1::HEALTH_STATE_UNSPECIFIED, 2000));
  EXPECT_THAT(Scrape(), Not(HasSubstr("trunk=\"a\"")));
}

TEST_F(HealthMetricsObserverTest, OutcomeLabelsAreLowerCase) {
  EXPECT_EQ(HealthMetricsObserver::OutcomeLabel(health::OutcomeClass::kSuccess), "success");
  EXPECT_EQ(HealthMetricsObserver::OutcomeLabel(health::OutcomeClass::kFailover), "failover");
  EXPECT_EQ(HealthMetricsObserver::OutcomeLabel(health::OutcomeClass::kCalleeFinal),
            "callee_final");
  EXPECT_EQ(HealthMetricsObserver::OutcomeLabel(health::OutcomeClass::kAuthFailed), "auth_failed");
  EXPECT_EQ(HealthMetricsObserver::OutcomeLabel(health::OutcomeClass::kRingNoAnswer),
            "ring_no_answer");
}

}  // namespace
}  // namespace trunkroute::metrics
