// OPTIONS probes: schedule, timeouts enforced by Tick, stale results, recovery through probes.
#include <string>

#include "common/log.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "health/tracker.h"
#include "tests/health/health_test_util.h"

namespace trunkroute::health {
namespace {

using testing::Final;
using ::testing::HasSubstr;
using testing::kOneTrunk;

class ProbeTest : public testing::HealthTrackerTest {
 protected:
  void SetUp() override { Start(kOneTrunk); }
  // Probes sent to "a" so far.
  size_t Probes() const { return prober_.Count("a"); }
  // Ejects "a" by two unanswered probes (from a fresh start).
  void EjectByProbeTimeouts() {
    Run(500);   // the first probe (sent at start) times out
    Run(1500);  // the confirmation probe, one PROBING interval later, times out too
    ASSERT_EQ(State("a"), v1::HEALTH_STATE_DOWN);
  }
};

TEST_F(ProbeTest, NewTrunkIsProbedAtOnceWithItsAddressAndTimeout) {
  ASSERT_EQ(Probes(), 1u);
  ProbeTarget p = prober_.Last("a");
  EXPECT_EQ(p.host, "a.example.com");
  EXPECT_EQ(p.port, 5061u);
  EXPECT_EQ(p.transport, v1::TRANSPORT_TLS);
  EXPECT_EQ(p.timeout_ms, 500u);
  EXPECT_NE(p.probe_id, 0u);
}

TEST_F(ProbeTest, UpTrunkIsProbedEveryFiveSeconds) {
  AnswerProbe("a", 200);
  Run(4999);
  EXPECT_EQ(Probes(), 1u);
  Run(1);
  EXPECT_EQ(Probes(), 2u);
  AnswerProbe("a", 200);
  Run(5000);
  EXPECT_EQ(Probes(), 3u);
  EXPECT_EQ(State("a"), v1::HEALTH_STATE_UP);
}

// Another instance ejected the trunk: probe it now instead of at the next interval. A hint
// never changes the state by itself.
TEST_F(ProbeTest, ProbeSoonProbesAnUpTrunkAtOnceAndOnlyThen) {
  EXPECT_FALSE(tracker_->ProbeSoon("a"));  // the start-up probe is still outstanding
  AnswerProbe("a", 200);
  Run(1000);
  ASSERT_EQ(Probes(), 1u);
  EXPECT_TRUE(tracker_->ProbeSoon("a"));
  EXPECT_EQ(Probes(), 2u);
  EXPECT_EQ(State("a"), v1::HEALTH_STATE_UP);
  AnswerProbe("a", 200);
  // The regular schedule continues from the hinted probe.
  Run(4999);
  EXPECT_EQ(Probes(), 2u);
  Run(1);
  EXPECT_EQ(Probes(), 3u);
  EXPECT_FALSE(tracker_->ProbeSoon("no-such-trunk"));
}

TEST_F(ProbeTest, ProbeSoonLeavesADownTrunkToItsHoldDown) {
  EjectByProbeTimeouts();
  const size_t before = Probes();
  EXPECT_FALSE(tracker_->ProbeSoon("a"));
  EXPECT_EQ(Probes(), before);
  EXPECT_EQ(State("a"), v1::HEALTH_STATE_DOWN);
}

TEST_F(ProbeTest, AnsweredProbeRecordsItsRoundTrip) {
  AnswerProbe("a", 200, /*rtt_us=*/12'345);
  EXPECT_EQ(Health("a").last_probe_rtt_us(), 12'345u);
}

TEST_F(ProbeTest, UnansweredProbeTimesOutInTick) {
  Run(499);
  EXPECT_EQ(Health("a").consecutive_failures(), 0u);
  Run(1);
  EXPECT_EQ(Health("a").consecutive_failures(), 1u);
  EXPECT_EQ(State("a"), v1::HEALTH_STATE_UP);  // one failed probe is not enough
}

TEST_F(ProbeTest, TwoFailedProbesEject) {
  EjectByProbeTimeouts();
  v1::TrunkHealth h = Health("a");
  EXPECT_EQ(h.reason(), v1::HEALTH_REASON_PROBE_FAILURES);
  EXPECT_EQ(h.detail(), "2 failed probes, last: timeout");
  EXPECT_EQ(h.consecutive_failures(), 2u);
  EXPECT_EQ(Probes(), 2u);
}

// An operator reads which address failed from the log line itself, without looking the trunk up.
TEST_F(ProbeTest, StateChangeLogLinesNameTheProbedPeerAndTransport) {
  const LogLevel level = GetLogLevel();
  const bool json = GetLogJson();
  SetLogLevel(LogLevel::kInfo);
  SetLogJson(false);
  ::testing::internal::CaptureStderr();
  Run(500);
  Run(1500);
  Run(5000);  // hold-down over: PROBING
  const std::string log = ::testing::internal::GetCapturedStderr();
  SetLogLevel(level);
  SetLogJson(json);
  EXPECT_THAT(log, HasSubstr("warn \"trunk health state change\" trunk=a from=up to=down "
                             "reason=probe_failures peer=a.example.com:5061 transport=tls "
                             "detail=\"2 failed probes, last: timeout\"\n"));
  EXPECT_THAT(log, HasSubstr("info \"trunk health state change\" trunk=a from=down to=probing "
                             "reason=hold_down_expired peer=a.example.com:5061 transport=tls "));
}

TEST_F(ProbeTest, IdleSilentTrunkIsDownWithinTwoProbeIntervals) {
  AnswerProbe("a", 200);  // alive at t=0, silent from just after
  const MonoTime outage = clock_.Now();
  while (State("a") == v1::HEALTH_STATE_UP) Run(10);
  EXPECT_LE(MillisBetween(outage, clock_.Now()), 2 * 5000);
  EXPECT_EQ(MillisBetween(outage, clock_.Now()), 5000 + 500 + 1000 + 500);
}

TEST_F(ProbeTest, ProbeFailureCodesCountAsDeadEverythingElseAsAlive) {
  AnswerProbe("a", 503);
  EXPECT_EQ(Health("a").consecutive_failures(), 1u);
  Run(1000);
  AnswerProbe("a", 404);  // any answer other than 408/503 proves the trunk alive
  EXPECT_EQ(Health("a").consecutive_failures(), 0u);
  Run(5000);
  AnswerProbe("a", 408);
  Run(1000);
  AnswerProbe("a", 503);
  EXPECT_EQ(State("a"), v1::HEALTH_STATE_DOWN);
  EXPECT_EQ(Health("a").detail(), "2 failed probes, last: 503");
}

TEST_F(ProbeTest, ProbeFailureCodesArePerTrunk) {
  Apply(R"pb(
    trunks {
      id: "a"
      host: "a.example.com"
      health { probe_failure_codes: 404 }
    }
  )pb");
  AnswerProbe("a", 404);
  EXPECT_EQ(Health("a").consecutive_failures(), 1u);
  Run(1000);
  AnswerProbe("a", 503);  // no longer in the list: alive
  EXPECT_EQ(Health("a").consecutive_failures(), 0u);
}

TEST_F(ProbeTest, ProbeTransportErrorEjectsAtOnce) {
  ProbeResult r;
  r.trunk_id = "a";
  r.probe_id = prober_.Last("a").probe_id;
  r.transport_error = true;
  tracker_->ReportProbe(r);
  EXPECT_EQ(State("a"), v1::HEALTH_STATE_DOWN);
  EXPECT_EQ(Health("a").reason(), v1::HEALTH_REASON_TRANSPORT_ERROR);
  EXPECT_EQ(Health("a").detail(), "probe: transport error");
}

TEST_F(ProbeTest, ProbeWhoseTlsHandshakeFailedEjectsAtOnceAsTlsFailed) {
  ProbeResult r;
  r.trunk_id = "a";
  r.probe_id = prober_.Last("a").probe_id;
  r.transport_error = true;
  r.tls_failure = "certificate verify failed: certificate has expired";
  tracker_->ReportProbe(r);
  EXPECT_EQ(State("a"), v1::HEALTH_STATE_DOWN);
  EXPECT_EQ(Health("a").reason(), v1::HEALTH_REASON_TLS_FAILED);
  EXPECT_EQ(Health("a").detail(),
            "probe: TLS handshake failed: certificate verify failed: certificate has expired");
}

TEST_F(ProbeTest, StaleProbeIdsAreIgnored) {
  const uint64_t first = prober_.Last("a").probe_id;
  ProbeResult wrong;
  wrong.trunk_id = "a";
  wrong.probe_id = first + 1000;
  wrong.sip_status = 503;
  tracker_->ReportProbe(wrong);
  EXPECT_EQ(Health("a").consecutive_failures(), 0u);

  Run(500);  // the real probe times out
  ASSERT_EQ(Health("a").consecutive_failures(), 1u);
  ProbeResult late;
  late.trunk_id = "a";
  late.probe_id = first;
  late.sip_status = 200;
  tracker_->ReportProbe(late);  // too late: already counted as a timeout
  EXPECT_EQ(Health("a").consecutive_failures(), 1u);
  EXPECT_EQ(Health("a").consecutive_successes(), 0u);

  ProbeResult unknown_trunk = late;
  unknown_trunk.trunk_id = "nope";
  tracker_->ReportProbe(unknown_trunk);  // no crash, no effect
}

TEST_F(ProbeTest, DownTrunkIsNotProbedThenProbingTrunkIsProbedEverySecond) {
  EjectByProbeTimeouts();
  const size_t before = Probes();
  Run(4999);
  EXPECT_EQ(Probes(), before);
  Run(1);  // hold-down over: PROBING, probed at once
  EXPECT_EQ(State("a"), v1::HEALTH_STATE_PROBING);
  EXPECT_EQ(Probes(), before + 1);
  AnswerProbe("a", 200);
  Run(999);
  EXPECT_EQ(Probes(), before + 1);
  Run(1);
  EXPECT_EQ(Probes(), before + 2);
}

TEST_F(ProbeTest, TwoAnsweredProbesRecoverAndStartTheRamp) {
  EjectByProbeTimeouts();
  Run(5000);
  AnswerProbe("a", 200);
  EXPECT_EQ(State("a"), v1::HEALTH_STATE_PROBING);
  Run(1000);
  AnswerProbe("a", 200);
  v1::TrunkHealth h = Health("a");
  EXPECT_EQ(h.state(), v1::HEALTH_STATE_UP);
  EXPECT_EQ(h.reason(), v1::HEALTH_REASON_RECOVERED);
  EXPECT_DOUBLE_EQ(h.ramp_share(), 0.1);
  // Back to the UP pace.
  const size_t before = Probes();
  Run(4999);
  EXPECT_EQ(Probes(), before);
  Run(1);
  EXPECT_EQ(Probes(), before + 1);
}

TEST_F(ProbeTest, FailedProbeWhileProbingEjectsWithDoubledHoldDown) {
  EjectByProbeTimeouts();
  Run(5000);
  AnswerProbe("a", 200);
  Run(1000);
  AnswerProbe("a", 503);
  EXPECT_EQ(State("a"), v1::HEALTH_STATE_DOWN);
  EXPECT_EQ(Health("a").detail(), "probe failed while probing, last: 503");
  EXPECT_EQ(HoldDownLeftMs("a"), 10'000);
}

// A trunk whose OPTIONS are answered but whose calls fail flaps between UP and DOWN; each round
// must wait out a longer hold-down, never reset by the successful probes in between.
TEST_F(ProbeTest, FlappingTrunkDoesNotOscillateFasterThanTheHoldDownAllows) {
  AnswerProbe("a", 200);
  std::vector<int64_t> down_periods;
  MonoTime down_since{};
  bool was_down = false;
  const MonoTime start = clock_.Now();
  while (clock_.Now() - start < std::chrono::minutes(20)) {
    if (prober_.Last("a").probe_id != 0) AnswerProbe("a", 200);      // ignored if not outstanding
    if (State("a") == v1::HEALTH_STATE_UP) Report(Final("a", 503));  // a call every 200 ms
    const bool down = State("a") != v1::HEALTH_STATE_UP;
    if (down && !was_down) down_since = clock_.Now();
    if (!down && was_down) down_periods.push_back(MillisBetween(down_since, clock_.Now()));
    was_down = down;
    Run(200);
  }
  ASSERT_GE(down_periods.size(), 5u);
  // Each period out of service (hold-down + the probes to recover) is at least the doubled
  // hold-down, up to the 300 s cap.
  int64_t expected_hold = 5000;
  for (size_t i = 0; i < down_periods.size(); ++i) {
    EXPECT_GE(down_periods[i], expected_hold) << "period " << i;
    expected_hold = std::min<int64_t>(expected_hold * 2, 300'000);
  }
  // 20 minutes allow 5+10+20+40+80+160+300+300+300 s of hold-down at most: ≤ 10 ejections.
  EXPECT_LE(Health("a").ejection_count(), 10u);
}

TEST_F(ProbeTest, NoProbesWhenDisabled) {
  Apply(R"pb(
    trunks {
      id: "a"
      host: "a.example.com"
      health { probes_enabled: false }
    }
  )pb");
  const size_t before = Probes();
  Run(60'000);
  EXPECT_EQ(Probes(), before);
  EXPECT_EQ(State("a"), v1::HEALTH_STATE_UP);
}

TEST_F(ProbeTest, TrackerWithoutProberSchedulesNothing) {
  HealthTracker silent(&clock_, &random_, nullptr);
  silent.ApplyTable(*table_);
  EXPECT_EQ(silent.NextDeadline(), MonoTime::max());
}

TEST_F(ProbeTest, NextDeadlineIsTheProbeTimeoutThenTheNextProbe) {
  EXPECT_EQ(tracker_->NextDeadline(), clock_.Now() + milliseconds(500));
  AnswerProbe("a", 200);
  EXPECT_EQ(tracker_->NextDeadline(), clock_.Now() + milliseconds(5000));
}

}  // namespace
}  // namespace trunkroute::health
