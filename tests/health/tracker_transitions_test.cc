// The per-trunk state machine as decisions see it: ejection, hold-down, recovery (design.md §3).
// Calls only: the tracker has no ProbeSender here, so PROBING trunks recover through calls.
#include <algorithm>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "health/tracker.h"
#include "tests/health/health_test_util.h"

namespace trunkroute::health {
namespace {

using ::testing::HasSubstr;
using testing::AuthRejected;
using testing::Final;
using testing::kOneTrunk;
using testing::RetryAfter;
using testing::RingNoAnswer;
using testing::SilentTimeout;
using testing::TransportError;

class TransitionsTest : public testing::HealthTrackerTest {
 protected:
  void SetUp() override { Start(kOneTrunk, /*with_prober=*/false); }
  // Takes the trunk from DOWN through its hold-down to PROBING.
  void SitOutHoldDown() {
    Run(HoldDownLeftMs("a"));
    ASSERT_EQ(State("a"), v1::HEALTH_STATE_PROBING);
  }
};

TEST_F(TransitionsTest, NewTrunkStartsUpBecauseConfigured) {
  v1::TrunkHealth h = Health("a");
  EXPECT_EQ(h.state(), v1::HEALTH_STATE_UP);
  EXPECT_EQ(h.reason(), v1::HEALTH_REASON_CONFIGURED);
  EXPECT_EQ(h.detail(), "new trunk");
  EXPECT_EQ(h.since_unix_ms(), clock_.WallUnixMs());
  EXPECT_EQ(h.ramp_share(), 1.0);
  EXPECT_EQ(h.admin_state(), v1::ADMIN_STATE_ENABLED);
  EXPECT_EQ(State("a"), v1::HEALTH_STATE_UP);
  EXPECT_EQ(tracker_->Availability("a").reason, "new trunk");
}

TEST_F(TransitionsTest, UnknownTrunkIsReportedUp) {
  router::TrunkAvailability a = tracker_->Availability("never-configured");
  EXPECT_EQ(a.state, v1::HEALTH_STATE_UP);
  EXPECT_EQ(a.ramp_share, 1.0);
  EXPECT_EQ(a.attempt_timeout_ms, 0u);
  EXPECT_FALSE(tracker_->Get("never-configured", nullptr));
}

TEST_F(TransitionsTest, ThreeConsecutiveFailuresEject) {
  ReportN(Final("a", 503), 2);
  EXPECT_EQ(State("a"), v1::HEALTH_STATE_UP);
  EXPECT_EQ(Health("a").consecutive_failures(), 2u);
  Report(Final("a", 500));
  v1::TrunkHealth h = Health("a");
  EXPECT_EQ(h.state(), v1::HEALTH_STATE_DOWN);
  EXPECT_EQ(h.reason(), v1::HEALTH_REASON_CONSECUTIVE_FAILURES);
  EXPECT_EQ(h.detail(), "3 consecutive failures, last: 500");
  EXPECT_EQ(h.consecutive_failures(), 3u);
  EXPECT_EQ(h.ejection_count(), 1u);
  EXPECT_EQ(h.since_unix_ms(), clock_.WallUnixMs());
  EXPECT_EQ(HoldDownLeftMs("a"), 5000);  // FakeRandom(0): no jitter
  EXPECT_EQ(tracker_->Availability("a").reason, "3 consecutive failures, last: 500");
}

TEST_F(TransitionsTest, SuccessInBetweenResetsTheCount) {
  ReportN(Final("a", 503), 2);
  Report(Final("a", 200));
  ReportN(Final("a", 503), 2);
  EXPECT_EQ(State("a"), v1::HEALTH_STATE_UP);
  EXPECT_EQ(Health("a").consecutive_failures(), 2u);
}

TEST_F(TransitionsTest, CalleeFinalCodesNeverEjectAndResetFailures) {
  for (int code : {404, 480, 486, 487, 603}) {
    ReportN(Final("a", code), 20);
    EXPECT_EQ(State("a"), v1::HEALTH_STATE_UP) << code;
    ReportN(Final("a", 503), 2);
    Report(Final("a", code));  // the callee answered: the trunk works
    EXPECT_EQ(Health("a").consecutive_failures(), 0u) << code;
  }
  EXPECT_EQ(State("a"), v1::HEALTH_STATE_UP);
  EXPECT_EQ(Health("a").ejection_count(), 0u);
}

TEST_F(TransitionsTest, AuthFailuresAfterCredentialsEjectWithTheirOwnReason) {
  EXPECT_EQ(Report(AuthRejected("a", 401, true)), OutcomeClass::kAuthFailed);
  Report(AuthRejected("a", 407, true));
  EXPECT_EQ(State("a"), v1::HEALTH_STATE_UP);
  Report(AuthRejected("a", 401, true));
  v1::TrunkHealth h = Health("a");
  EXPECT_EQ(h.state(), v1::HEALTH_STATE_DOWN);
  EXPECT_EQ(h.reason(), v1::HEALTH_REASON_AUTH_FAILED);
  EXPECT_EQ(h.detail(), "3 consecutive failures, last: 401 after credentials");
}

TEST_F(TransitionsTest, ChallengeWithoutCredentialsIsNotAHealthEvent) {
  ReportN(AuthRejected("a", 401, false), 10);
  EXPECT_EQ(State("a"), v1::HEALTH_STATE_UP);
  EXPECT_EQ(Health("a").consecutive_failures(), 0u);
  // Nor does it prove the trunk alive: failures around it still add up.
  ReportN(Final("a", 503), 2);
  Report(AuthRejected("a", 407, false));
  Report(Final("a", 503));
  EXPECT_EQ(State("a"), v1::HEALTH_STATE_DOWN);
}

TEST_F(TransitionsTest, RingNoAnswerIsNotCounted) {
  for (int i = 0; i < 10; ++i) EXPECT_EQ(Report(RingNoAnswer("a")), OutcomeClass::kRingNoAnswer);
  EXPECT_EQ(State("a"), v1::HEALTH_STATE_UP);
  EXPECT_EQ(Health("a").consecutive_failures(), 0u);
  ReportN(SilentTimeout("a"), 2);
  Report(RingNoAnswer("a"));  // neither a failure nor a success
  EXPECT_EQ(Health("a").consecutive_failures(), 2u);
  Report(SilentTimeout("a"));
  EXPECT_EQ(State("a"), v1::HEALTH_STATE_DOWN);
  EXPECT_EQ(Health("a").detail(), "3 consecutive failures, last: timeout");
}

TEST_F(TransitionsTest, TransportErrorEjectsAtOnce) {
  Report(TransportError("a"));
  v1::TrunkHealth h = Health("a");
  EXPECT_EQ(h.state(), v1::HEALTH_STATE_DOWN);
  EXPECT_EQ(h.reason(), v1::HEALTH_REASON_TRANSPORT_ERROR);
  EXPECT_EQ(h.detail(), "transport error");
  EXPECT_EQ(HoldDownLeftMs("a"), 5000);
}

TEST_F(TransitionsTest, TlsHandshakeFailureEjectsAtOnceAsTlsFailedWithOpenSslsReason) {
  AttemptOutcome o = TransportError("a");
  o.tls_failure = "certificate verify failed: unable to get local issuer certificate";
  Report(o);
  v1::TrunkHealth h = Health("a");
  EXPECT_EQ(h.state(), v1::HEALTH_STATE_DOWN);
  EXPECT_EQ(h.reason(), v1::HEALTH_REASON_TLS_FAILED);
  EXPECT_EQ(h.detail(),
            "TLS handshake failed: certificate verify failed: unable to get local issuer "
            "certificate");
}

TEST_F(TransitionsTest, TransportErrorEjectsEvenWhenThePolicyDoesNotFailOverOnIt) {
  policy_.failover_on_transport_error = false;
  policy_.failover_on_timeout = false;
  Report(TransportError("a"));
  EXPECT_EQ(State("a"), v1::HEALTH_STATE_DOWN);
}

TEST_F(TransitionsTest, SilentTimeoutsCountEvenWhenThePolicyDoesNotFailOverOnThem) {
  policy_.failover_on_timeout = false;
  ReportN(SilentTimeout("a"), 3);
  EXPECT_EQ(State("a"), v1::HEALTH_STATE_DOWN);
}

TEST_F(TransitionsTest, RetryAfterEjectsAtOnceForExactlyThatLong) {
  Report(RetryAfter("a", 120));
  v1::TrunkHealth h = Health("a");
  EXPECT_EQ(h.state(), v1::HEALTH_STATE_DOWN);
  EXPECT_EQ(h.reason(), v1::HEALTH_REASON_RETRY_AFTER);
  EXPECT_EQ(h.detail(), "503 Retry-After: 120 s");
  EXPECT_EQ(HoldDownLeftMs("a"), 120'000);
  Run(119'999);
  EXPECT_EQ(State("a"), v1::HEALTH_STATE_DOWN);
  Run(1);
  EXPECT_EQ(State("a"), v1::HEALTH_STATE_PROBING);
  EXPECT_EQ(Health("a").reason(), v1::HEALTH_REASON_HOLD_DOWN_EXPIRED);
}

TEST_F(TransitionsTest, RetryAfterIsCappedAtFiveMinutes) {
  Report(RetryAfter("a", 86'400));
  EXPECT_EQ(HoldDownLeftMs("a"), 300'000);
  EXPECT_EQ(Health("a").detail(), "503 Retry-After: 86400 s, held 300 s");
}

TEST_F(TransitionsTest, RetryAfterIgnoredWhenItsCapIsZero) {
  Apply(R"pb(
    trunks { id: "a" host: "a.example.com" health { retry_after_max_ms: 0 } }
  )pb");
  Report(RetryAfter("a", 120));
  EXPECT_EQ(State("a"), v1::HEALTH_STATE_UP);  // an ordinary failure
  ReportN(RetryAfter("a", 120), 2);
  EXPECT_EQ(State("a"), v1::HEALTH_STATE_DOWN);
  EXPECT_EQ(Health("a").reason(), v1::HEALTH_REASON_CONSECUTIVE_FAILURES);
  EXPECT_EQ(HoldDownLeftMs("a"), 5000);
}

TEST_F(TransitionsTest, RetryAfterWhileDownExtendsTheHoldDown) {
  ReportN(Final("a", 503), 3);
  ASSERT_EQ(HoldDownLeftMs("a"), 5000);
  Report(RetryAfter("a", 60));  // a panic-mode call
  EXPECT_EQ(HoldDownLeftMs("a"), 60'000);
  Report(RetryAfter("a", 10));  // a shorter one never shortens it
  EXPECT_EQ(HoldDownLeftMs("a"), 60'000);
  EXPECT_EQ(Health("a").ejection_count(), 1u);
}

TEST_F(TransitionsTest, HoldDownOfFiveSecondsThenProbing) {
  ReportN(SilentTimeout("a"), 3);
  Run(4999);
  EXPECT_EQ(State("a"), v1::HEALTH_STATE_DOWN);
  Run(1);
  v1::TrunkHealth h = Health("a");
  EXPECT_EQ(h.state(), v1::HEALTH_STATE_PROBING);
  EXPECT_EQ(h.reason(), v1::HEALTH_REASON_HOLD_DOWN_EXPIRED);
  EXPECT_EQ(h.down_until_unix_ms(), 0);
  EXPECT_EQ(h.consecutive_failures(), 0u);
}

TEST_F(TransitionsTest, SuccessWhileDownDoesNotEndTheHoldDown) {
  ReportN(Final("a", 503), 3);
  ReportN(Final("a", 200), 5);  // panic-mode calls that went through
  EXPECT_EQ(State("a"), v1::HEALTH_STATE_DOWN);
  Run(5000);
  EXPECT_EQ(State("a"), v1::HEALTH_STATE_PROBING);  // successes before PROBING do not count
}

TEST_F(TransitionsTest, JitterAddsUpToItsPercentageFromTheRandomSource) {
  random_.Push(0.999);
  ReportN(Final("a", 503), 3);
  EXPECT_EQ(HoldDownLeftMs("a"), 5000 + 499);  // 10 % of 5 s × 0.999
  Run(5498);
  EXPECT_EQ(State("a"), v1::HEALTH_STATE_DOWN);
  Run(1);
  EXPECT_EQ(State("a"), v1::HEALTH_STATE_PROBING);
  random_.Push(0.5);
  Report(Final("a", 503));  // second ejection: 10 s + 10 % × 0.5
  EXPECT_EQ(HoldDownLeftMs("a"), 10'000 + 500);
}

TEST_F(TransitionsTest, TwoSuccessesWhileProbingRecover) {
  ReportN(Final("a", 503), 3);
  SitOutHoldDown();
  Report(Final("a", 200));
  EXPECT_EQ(State("a"), v1::HEALTH_STATE_PROBING);
  EXPECT_EQ(Health("a").consecutive_successes(), 1u);
  Report(Final("a", 486));  // a callee-final answer is a success too
  v1::TrunkHealth h = Health("a");
  EXPECT_EQ(h.state(), v1::HEALTH_STATE_UP);
  EXPECT_EQ(h.reason(), v1::HEALTH_REASON_RECOVERED);
  EXPECT_EQ(h.detail(), "2 consecutive successes");
}

TEST_F(TransitionsTest, RecoveryThresholdIsPerTrunk) {
  Apply(R"pb(
    trunks { id: "a" host: "a.example.com" health { recovery_threshold: 4 } }
  )pb");
  ReportN(Final("a", 503), 3);
  SitOutHoldDown();
  ReportN(Final("a", 200), 3);
  EXPECT_EQ(State("a"), v1::HEALTH_STATE_PROBING);
  Report(Final("a", 200));
  EXPECT_EQ(State("a"), v1::HEALTH_STATE_UP);
}

TEST_F(TransitionsTest, FailureWhileProbingEjectsAgainWithDoubledHoldDown) {
  ReportN(Final("a", 503), 3);
  SitOutHoldDown();
  Report(Final("a", 200));
  Report(Final("a", 502));
  v1::TrunkHealth h = Health("a");
  EXPECT_EQ(h.state(), v1::HEALTH_STATE_DOWN);
  EXPECT_EQ(h.reason(), v1::HEALTH_REASON_CONSECUTIVE_FAILURES);
  EXPECT_EQ(h.detail(), "call failed while probing, last: 502");
  EXPECT_EQ(h.ejection_count(), 2u);
  EXPECT_EQ(HoldDownLeftMs("a"), 10'000);
}

TEST_F(TransitionsTest, HoldDownDoublesPerConsecutiveEjectionUpToTheCap) {
  ReportN(Final("a", 503), 3);
  std::vector<int64_t> holds = {HoldDownLeftMs("a")};
  for (int i = 0; i < 8; ++i) {
    SitOutHoldDown();
    Report(SilentTimeout("a"));
    holds.push_back(HoldDownLeftMs("a"));
  }
  EXPECT_THAT(holds, ::testing::ElementsAre(5'000, 10'000, 20'000, 40'000, 80'000, 160'000,
                                            300'000, 300'000, 300'000));
  EXPECT_EQ(Health("a").ejection_count(), 9u);
}

TEST_F(TransitionsTest, JitterStaysWithinItsPercentageAtTheCap) {
  Apply(R"pb(
    trunks { id: "a" host: "a.example.com"
             health { hold_down_base_ms: 1000 hold_down_max_ms: 4000 hold_down_jitter_pct: 25 } }
  )pb");
  std::vector<int64_t> holds;
  ReportN(Final("a", 503), 3);
  holds.push_back(HoldDownLeftMs("a"));
  for (int i = 0; i < 4; ++i) {
    SitOutHoldDown();
    random_.Push(0.9999);
    Report(Final("a", 503));
    holds.push_back(HoldDownLeftMs("a"));
  }
  // base 1 s, 2 s, 4 s (cap), cap, cap; jitter < 25 % of each.
  EXPECT_THAT(holds, ::testing::ElementsAre(1000, 2000 + 499, 4000 + 999, 4000 + 999, 4000 + 999));
}

TEST_F(TransitionsTest, ConsecutiveEjectionsResetAfterStayingUpAsLongAsTheLastHoldDown) {
  ReportN(Final("a", 503), 3);  // 5 s
  SitOutHoldDown();
  Report(Final("a", 503));      // 10 s
  SitOutHoldDown();
  ReportN(Final("a", 200), 2);
  ASSERT_EQ(State("a"), v1::HEALTH_STATE_UP);
  Run(9'999);  // UP for less than the last hold-down: the next ejection still doubles
  ReportN(Final("a", 503), 3);
  EXPECT_EQ(HoldDownLeftMs("a"), 20'000);
  SitOutHoldDown();
  ReportN(Final("a", 200), 2);
  Run(20'000);  // UP for the whole last hold-down: forgiven
  ReportN(Final("a", 503), 3);
  EXPECT_EQ(HoldDownLeftMs("a"), 5'000);
}

// The contract of design.md §3: a silent trunk at ≥ 5 calls/s is DOWN within
// 1 s + setup_timeout of the outage. Each call waits the full setup_timeout (1 s) and is
// reported when its timer fires.
TEST_F(TransitionsTest, SilentTrunkAtFiveCallsPerSecondIsEjectedWithinContract) {
  const MonoTime outage = clock_.Now();
  std::vector<int64_t> call_starts;
  for (int64_t t = 0; t < 3000; t += 200) call_starts.push_back(t);
  int64_t ejected_at = -1;
  // Timeouts fire 1 s after each call started; walk them in time order.
  for (int64_t start : call_starts) {
    const int64_t fire = start + router::kDefaultSetupTimeoutMs;
    Run(fire - MillisBetween(outage, clock_.Now()));
    if (State("a") != v1::HEALTH_STATE_UP) break;  // later calls skip the trunk
    Report(SilentTimeout("a"));
    if (State("a") == v1::HEALTH_STATE_DOWN) {
      ejected_at = MillisBetween(outage, clock_.Now());
      break;
    }
  }
  ASSERT_GE(ejected_at, 0);
  EXPECT_LE(ejected_at, 1000 + router::kDefaultSetupTimeoutMs);
  EXPECT_EQ(ejected_at, 1400);  // the third call: started at 400 ms, timed out at 1400 ms
}

// Issue 3 target: at 50 calls/s, a trunk that used to answer 100 Trying in 20 ms costs each call
// ≤ 250 ms and new calls skip it within 0.5 s, thanks to the adaptive attempt timeout. The
// backoff waits for a whole failure_threshold run of timeouts, so the calls that start between
// the first timeout and the ejection keep the learned 150 ms.
TEST_F(TransitionsTest, SilentFastTrunkAtFiftyCallsPerSecondIsSkippedWithinHalfASecond) {
  for (int i = 0; i < 20; ++i) Report(Final("a", 200, /*first_response_ms=*/20));
  ASSERT_EQ(tracker_->Availability("a").attempt_timeout_ms, 150u);
  const MonoTime outage = clock_.Now();
  struct Call {
    int64_t fires_at;
  };
  std::vector<Call> calls;  // each call takes the timeout published when it starts
  std::vector<int64_t> waits;
  int64_t ejected_at = -1;
  for (int64_t now = 0; now <= 1000 && ejected_at < 0; now += 1) {
    Run(now - MillisBetween(outage, clock_.Now()));
    for (auto it = calls.begin(); it != calls.end();) {
      if (it->fires_at != now) {
        ++it;
        continue;
      }
      Report(SilentTimeout("a"));
      it = calls.erase(it);
      if (State("a") == v1::HEALTH_STATE_DOWN && ejected_at < 0) ejected_at = now;
    }
    if (now % 20 == 0 && State("a") == v1::HEALTH_STATE_UP) {
      // The decision clamps the adaptive value to setup_timeout_ms.
      const int64_t timeout = std::min<int64_t>(tracker_->Availability("a").attempt_timeout_ms,
                                                router::kDefaultSetupTimeoutMs);
      waits.push_back(timeout);
      calls.push_back({now + timeout});
    }
  }
  ASSERT_GE(ejected_at, 0);
  EXPECT_LE(ejected_at, 500);
  EXPECT_EQ(ejected_at, 190);  // third timeout: the call started at 40 ms
  int64_t total = 0;
  for (int64_t w : waits) total += w;
  EXPECT_LE(total / static_cast<int64_t>(waits.size()), 250);
  EXPECT_THAT(waits, ::testing::Each(150));
  EXPECT_EQ(waits.size(), 10u);  // calls at 0, 20, ..., 180 ms; none after the ejection
}

// The other side of the backoff: a trunk that got slower (400 ms to its first 1xx instead of
// 20 ms) but is alive must not be starved by its own learned 150 ms timeout. Each ejection cycle
// doubles the timeout until calls get through again and the estimate follows the new latency.
TEST_F(TransitionsTest, SlowButAliveTrunkIsServedAgainAfterBackoff) {
  for (int i = 0; i < 20; ++i) Report(Final("a", 200, /*first_response_ms=*/20));
  ASSERT_EQ(tracker_->Availability("a").attempt_timeout_ms, 150u);
  int ejections = 0;
  int answered = 0;
  for (int call = 0; call < 40 && answered < 5; ++call) {
    if (State("a") != v1::HEALTH_STATE_UP) {
      ++ejections;
      SitOutHoldDown();
      ReportN(Final("a", 200), 2);  // probes: alive
      ASSERT_EQ(State("a"), v1::HEALTH_STATE_UP);
    }
    const uint32_t timeout = std::min<uint32_t>(tracker_->Availability("a").attempt_timeout_ms,
                                                router::kDefaultSetupTimeoutMs);
    if (timeout >= 400) {
      Report(Final("a", 200, /*first_response_ms=*/400));
      ++answered;
    } else {
      Report(SilentTimeout("a"));
    }
  }
  EXPECT_EQ(answered, 5);
  EXPECT_EQ(ejections, 2);  // 150 ms → ejected, 300 ms → ejected, 600 ms → answered
  EXPECT_GE(tracker_->Availability("a").attempt_timeout_ms, 400u);
}

TEST_F(TransitionsTest, AttemptTimeoutIsLearnedAndBacksOffOnSilence) {
  EXPECT_EQ(tracker_->Availability("a").attempt_timeout_ms, 0u);
  EXPECT_EQ(Health("a").attempt_timeout_ms(), 0u);
  ReportN(Final("a", 200, 20), 30);
  EXPECT_EQ(tracker_->Availability("a").attempt_timeout_ms, 150u);
  // failure_threshold (3) silent timeouts in a row double it once.
  ReportN(SilentTimeout("a"), 2);
  EXPECT_EQ(tracker_->Availability("a").attempt_timeout_ms, 150u);
  Report(SilentTimeout("a"));
  EXPECT_EQ(tracker_->Availability("a").attempt_timeout_ms, 300u);
  EXPECT_EQ(Health("a").attempt_timeout_ms(), 300u);
  // A ring-no-answer or a transport error is no reason to wait longer.
  Report(RingNoAnswer("a"));
  Report(Final("a", 200, 20));
  Report(TransportError("a"));
  EXPECT_EQ(tracker_->Availability("a").attempt_timeout_ms, 150u);
}

TEST_F(TransitionsTest, AttemptTimeoutRisesWithVariance) {
  for (int i = 0; i < 40; ++i) Report(Final("a", 486, i % 2 == 0 ? 50 : 250));
  EXPECT_GT(tracker_->Availability("a").attempt_timeout_ms, 400u);
}

TEST_F(TransitionsTest, RampShareGrowsLinearlyAfterRecovery) {
  ReportN(Final("a", 503), 3);
  SitOutHoldDown();
  ReportN(Final("a", 200), 2);
  ASSERT_EQ(State("a"), v1::HEALTH_STATE_UP);
  EXPECT_DOUBLE_EQ(tracker_->Availability("a").ramp_share, 0.1);
  Run(5000);
  EXPECT_DOUBLE_EQ(tracker_->Availability("a").ramp_share, 0.55);
  EXPECT_DOUBLE_EQ(Health("a").ramp_share(), 0.55);
  Run(2500);
  EXPECT_DOUBLE_EQ(tracker_->Availability("a").ramp_share, 0.775);
  Run(2500);
  EXPECT_DOUBLE_EQ(tracker_->Availability("a").ramp_share, 1.0);
  EXPECT_EQ(tracker_->NextDeadline(), MonoTime::max());  // nothing left to do
}

TEST_F(TransitionsTest, NoRampWhenRampUpIsZero) {
  Apply(R"pb(
    trunks { id: "a" host: "a.example.com" health { ramp_up_ms: 0 } }
  )pb");
  ReportN(Final("a", 503), 3);
  SitOutHoldDown();
  ReportN(Final("a", 200), 2);
  EXPECT_EQ(State("a"), v1::HEALTH_STATE_UP);
  EXPECT_EQ(tracker_->Availability("a").ramp_share, 1.0);
}

TEST_F(TransitionsTest, NewTrunkIsNotRamped) {
  EXPECT_EQ(tracker_->Availability("a").ramp_share, 1.0);
}

TEST_F(TransitionsTest, NextDeadlineIsTheHoldDownEnd) {
  EXPECT_EQ(tracker_->NextDeadline(), MonoTime::max());  // UP, no prober: nothing scheduled
  ReportN(Final("a", 503), 3);
  EXPECT_EQ(tracker_->NextDeadline(), clock_.Now() + milliseconds(5000));
}

TEST_F(TransitionsTest, ReasonStaysValidAfterLaterChanges) {
  ReportN(Final("a", 503), 3);
  std::string_view reason = tracker_->Availability("a").reason;
  ASSERT_EQ(reason, "3 consecutive failures, last: 503");
  SitOutHoldDown();
  ReportN(Final("a", 200), 2);
  for (int i = 0; i < 5; ++i) Apply(kOneTrunk);
  // Still readable (ASan would flag a freed buffer) and unchanged.
  EXPECT_EQ(reason, "3 consecutive failures, last: 503");
  EXPECT_THAT(std::string(tracker_->Availability("a").reason), HasSubstr("consecutive successes"));
}

}  // namespace
}  // namespace trunkroute::health
