// Warm restart (docs/health.md): the health a tracker exports comes back in the next run's
// tracker. A restart is simulated the way it really happens: the monotonic clock does not carry
// over (the new tracker's monotonic time is unrelated), only the wall clock moved on.
#include <limits>
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/health/health_test_util.h"

namespace trunkroute::health::testing {
namespace {

using ::testing::HasSubstr;

class RestoreTest : public HealthTrackerTest {
 protected:
  void SetUp() override { Start(kPrimaryBackup); }

  // Stops this tracker (keeping what it exported), lets `stopped_ms` of wall time pass, and
  // starts a new one on `config` from the export. The new tracker's monotonic clock is
  // unrelated to the old one's: it moved far more than the wall clock did.
  void Restart(int64_t stopped_ms, const std::string& config = kPrimaryBackup) {
    state::HealthStateFile saved = tracker_->Export();
    RestartFrom(std::move(saved), stopped_ms, config);
  }
  void RestartFrom(state::HealthStateFile saved, int64_t stopped_ms,
                   const std::string& config = kPrimaryBackup) {
    tracker_.reset();
    clock_.AdvanceMs(stopped_ms + 3'600'000);  // monotonic: a reboot's worth of nonsense
    clock_.StepWallMs(-3'600'000);              // wall: exactly stopped_ms later
    tracker_ = std::make_unique<HealthTracker>(&clock_, &random_, &prober_);
    tracker_->SetRestoreState(std::move(saved));
    Apply(config);
  }
  void Eject(const std::string& trunk) {
    ReportN(Final(trunk, 503), 3);
    ASSERT_EQ(State(trunk), v1::HEALTH_STATE_DOWN);
  }
  // Ejected (5 s), then back UP through two answered probes.
  void EjectAndRecover(const std::string& trunk) {
    Eject(trunk);
    Run(HoldDownLeftMs(trunk));
    AnswerProbe(trunk, 200);
    Run(1000);
    AnswerProbe(trunk, 200);
    ASSERT_EQ(State(trunk), v1::HEALTH_STATE_UP);
  }
};

TEST_F(RestoreTest, UnexpiredHoldDownStaysDownForTheTimeItHadLeft) {
  Eject("a");
  ASSERT_EQ(HoldDownLeftMs("a"), 5000);
  Run(1500);
  Restart(1000);

  const v1::TrunkHealth a = Health("a");
  EXPECT_EQ(a.state(), v1::HEALTH_STATE_DOWN);
  EXPECT_EQ(a.reason(), v1::HEALTH_REASON_CONSECUTIVE_FAILURES);
  EXPECT_EQ(a.detail(), "3 consecutive failures, last: 503");
  EXPECT_EQ(a.ejection_count(), 1u);
  EXPECT_EQ(HoldDownLeftMs("a"), 2500);
  EXPECT_EQ(tracker_->Availability("a").state, v1::HEALTH_STATE_DOWN);  // what decisions read
  EXPECT_EQ(State("b"), v1::HEALTH_STATE_UP);
  EXPECT_EQ(Health("b").reason(), v1::HEALTH_REASON_CONFIGURED);
  const size_t probes_before = prober_.Count("a");

  Run(2499);
  EXPECT_EQ(State("a"), v1::HEALTH_STATE_DOWN);
  EXPECT_EQ(prober_.Count("a"), probes_before) << "a DOWN trunk is not probed";
  Run(1);
  EXPECT_EQ(State("a"), v1::HEALTH_STATE_PROBING);
  EXPECT_EQ(prober_.Count("a"), probes_before + 1);
}

TEST_F(RestoreTest, HoldDownThatRanOutMeanwhileIsProbingAndProbedAtOnce) {
  Eject("a");
  const size_t probes_before = prober_.Count("a");
  Restart(6000);

  const v1::TrunkHealth a = Health("a");
  EXPECT_EQ(a.state(), v1::HEALTH_STATE_PROBING);
  EXPECT_EQ(a.reason(), v1::HEALTH_REASON_HOLD_DOWN_EXPIRED);
  EXPECT_EQ(a.down_until_unix_ms(), 0);
  EXPECT_EQ(tracker_->Availability("a").state, v1::HEALTH_STATE_PROBING);
  // ApplyTable probes at once: no time passed.
  EXPECT_EQ(prober_.Count("a"), probes_before + 1);
  AnswerProbe("a", 200);
  AnswerProbe("a", 200);  // the second one is not outstanding yet: ignored
  EXPECT_EQ(State("a"), v1::HEALTH_STATE_PROBING);
  Run(1000);
  AnswerProbe("a", 200);
  EXPECT_EQ(State("a"), v1::HEALTH_STATE_UP);
  EXPECT_EQ(Health("a").reason(), v1::HEALTH_REASON_RECOVERED);
}

TEST_F(RestoreTest, HoldDownKeepsDoublingAcrossRestarts) {
  Eject("a");  // 5 s
  Restart(6000);
  ASSERT_EQ(State("a"), v1::HEALTH_STATE_PROBING);
  AnswerProbe("a", 503);  // a probe failure code: ejected again
  ASSERT_EQ(State("a"), v1::HEALTH_STATE_DOWN);
  EXPECT_EQ(HoldDownLeftMs("a"), 10000);
  EXPECT_EQ(Health("a").ejection_count(), 2u);

  Restart(3000);
  EXPECT_EQ(HoldDownLeftMs("a"), 7000);
  Run(7000);
  ASSERT_EQ(State("a"), v1::HEALTH_STATE_PROBING);
  Report(Final("a", 503));
  ASSERT_EQ(State("a"), v1::HEALTH_STATE_DOWN);
  EXPECT_EQ(HoldDownLeftMs("a"), 20000);
  EXPECT_EQ(Health("a").ejection_count(), 3u);
}

TEST_F(RestoreTest, UpTrunkKeepsItsEjectionHistory) {
  EjectAndRecover("a");
  Run(1000);
  Restart(1000);  // UP 2 s: less than its last hold-down (5 s)

  EXPECT_EQ(State("a"), v1::HEALTH_STATE_UP);
  EXPECT_EQ(Health("a").reason(), v1::HEALTH_REASON_RECOVERED);
  EXPECT_EQ(Health("a").ejection_count(), 1u);
  Eject("a");
  EXPECT_EQ(HoldDownLeftMs("a"), 10000) << "the doubling went on";
  EXPECT_EQ(Health("a").ejection_count(), 2u);
}

TEST_F(RestoreTest, UpLongerThanTheLastHoldDownStartsOverAtTheBase) {
  EjectAndRecover("a");
  Run(6000);
  Restart(1000);
  Eject("a");
  EXPECT_EQ(HoldDownLeftMs("a"), 5000);
}

TEST_F(RestoreTest, SavedStateOfAnUnknownTrunkOrAnotherAddressIsIgnored) {
  Eject("a");
  Eject("b");
  Restart(1000, R"pb(
    health_policy { hold_down_jitter_pct: 0 ramp_up_ms: 0 }
    trunks { id: "b" host: "192.0.2.99" transport: TRANSPORT_UDP }
    trunks { id: "c" host: "192.0.2.3" transport: TRANSPORT_UDP }
  )pb");
  EXPECT_FALSE(tracker_->Get("a", nullptr));
  EXPECT_EQ(State("b"), v1::HEALTH_STATE_UP) << "a new address is a new peer";
  EXPECT_EQ(Health("b").reason(), v1::HEALTH_REASON_CONFIGURED);
  EXPECT_EQ(Health("b").ejection_count(), 0u);
  EXPECT_EQ(State("c"), v1::HEALTH_STATE_UP);

  // The records are used once: a later table adding "a" starts it fresh.
  Apply(kPrimaryBackup);
  EXPECT_EQ(State("a"), v1::HEALTH_STATE_UP);
  EXPECT_EQ(Health("a").reason(), v1::HEALTH_REASON_CONFIGURED);
}

TEST_F(RestoreTest, AdminStateComesFromTheConfigAndMeasuredStateFromTheFile) {
  Eject("a");
  Restart(1000, R"pb(
    health_policy { hold_down_jitter_pct: 0 ramp_up_ms: 0 }
    trunks { id: "a" host: "192.0.2.1" transport: TRANSPORT_UDP admin_state: ADMIN_STATE_DRAINING }
    trunks { id: "b" host: "192.0.2.2" transport: TRANSPORT_UDP }
  )pb");
  const v1::TrunkHealth a = Health("a");
  EXPECT_EQ(a.state(), v1::HEALTH_STATE_DRAINING);
  EXPECT_THAT(a.detail(), HasSubstr("measured down: 3 consecutive failures"));
  const state::HealthStateFile saved = tracker_->Export();
  ASSERT_EQ(saved.trunks_size(), 2);
  EXPECT_EQ(saved.trunks(0).state(), v1::HEALTH_STATE_DOWN) << "the file keeps measured state";
}

TEST_F(RestoreTest, GarbageValuesAreClampedOrIgnored) {
  const int64_t wall = clock_.WallUnixMs();
  state::HealthStateFile saved;
  auto add = [&](const std::string& id, const std::string& host, v1::HealthState s) {
    state::TrunkRecord* t = saved.add_trunks();
    t->set_trunk_id(id);
    t->set_host(host);
    t->set_transport(v1::TRANSPORT_UDP);
    t->set_port(5060);
    state::TargetRecord* r = t->add_targets();
    r->set_key(host + ":5060");
    r->set_state(s);
    r->set_reason(v1::HEALTH_REASON_CONSECUTIVE_FAILURES);
    return r;
  };
  state::TargetRecord* a = add("a", "192.0.2.1", v1::HEALTH_STATE_DOWN);
  a->set_down_until_unix_ms(wall + int64_t{10} * 24 * 3600 * 1000);  // ten days
  a->set_since_unix_ms(wall + 3'600'000);                             // from the future
  a->set_consecutive_ejections(std::numeric_limits<uint32_t>::max());
  a->set_last_hold_down_ms(std::numeric_limits<uint32_t>::max());
  state::TargetRecord* b = add("b", "192.0.2.2", v1::HEALTH_STATE_FORCED_DOWN);  // not measured
  b->set_down_until_unix_ms(std::numeric_limits<int64_t>::min());
  RestartFrom(saved, 0);

  EXPECT_EQ(State("b"), v1::HEALTH_STATE_UP);
  EXPECT_EQ(Health("b").reason(), v1::HEALTH_REASON_CONFIGURED);
  // The longest hold this policy gives: 300 s (no jitter here).
  EXPECT_EQ(State("a"), v1::HEALTH_STATE_DOWN);
  EXPECT_EQ(HoldDownLeftMs("a"), 300'000);
  EXPECT_LE(Health("a").since_unix_ms(), clock_.WallUnixMs());
  Run(300'000);
  ASSERT_EQ(State("a"), v1::HEALTH_STATE_PROBING);
  Report(Final("a", 503));
  EXPECT_EQ(HoldDownLeftMs("a"), 300'000) << "the exponent is capped, never overflows";
}

TEST_F(RestoreTest, StateVersionMovesWithEveryChangeTheFileWouldShow) {
  uint64_t v0 = 0;
  tracker_->Export(&v0);
  EXPECT_EQ(v0, tracker_->StateVersion());
  Run(100);
  Report(Final("a", 200));
  EXPECT_EQ(tracker_->StateVersion(), v0) << "nothing saved changed";
  Report(Final("a", 503));
  Report(Final("a", 503));
  EXPECT_EQ(tracker_->StateVersion(), v0);
  Report(Final("a", 503));
  const uint64_t v1 = tracker_->StateVersion();
  EXPECT_GT(v1, v0);
  Report(RetryAfter("a", 60));  // extends the hold-down: no transition, but a new deadline
  EXPECT_GT(tracker_->StateVersion(), v1);
}

TEST_F(RestoreTest, TargetsOfAHostNameComeBackWithTheFirstDnsAnswer) {
  prober_.resolves_names = true;
  Apply(kCarrier);
  tracker_->SetTargets(CarrierTargets({Spec("192.0.2.1", 5060), Spec("192.0.2.2", 5060)}));
  AttemptOutcome fail = Final("c", 503);
  fail.target = "192.0.2.1:5060";
  ReportN(fail, 3);
  ASSERT_EQ(State("c"), v1::HEALTH_STATE_UP);  // the other target still serves
  Restart(1000, kCarrier);

  // An export before DNS answered keeps the saved targets.
  ASSERT_EQ(tracker_->Export().trunks(0).targets_size(), 2);
  tracker_->SetTargets(CarrierTargets({Spec("192.0.2.1", 5060), Spec("192.0.2.3", 5060)}));
  const v1::TrunkHealth c = Health("c");
  ASSERT_EQ(c.targets_size(), 2);
  EXPECT_EQ(c.targets(0).state(), v1::HEALTH_STATE_DOWN);
  EXPECT_EQ(c.targets(0).down_until_unix_ms() - clock_.WallUnixMs(), 4000);
  EXPECT_EQ(c.targets(0).ejection_count(), 1u);
  EXPECT_EQ(c.targets(1).state(), v1::HEALTH_STATE_UP);
  EXPECT_EQ(c.targets(1).reason(), v1::HEALTH_REASON_CONFIGURED);
  EXPECT_EQ(State("c"), v1::HEALTH_STATE_UP);
  EXPECT_EQ(tracker_->Export().trunks(0).targets_size(), 2) << "192.0.2.2 is forgotten";
}

TEST_F(RestoreTest, AllTargetsDownComeBackDownWithoutCountingAnotherEjection) {
  prober_.resolves_names = true;
  Apply(kCarrier);
  tracker_->SetTargets(CarrierTargets({Spec("192.0.2.1", 5060)}));
  ReportN(Final("c", 503), 3);
  ASSERT_EQ(State("c"), v1::HEALTH_STATE_DOWN);
  ASSERT_EQ(Health("c").ejection_count(), 1u);
  Restart(1000, kCarrier);
  tracker_->SetTargets(CarrierTargets({Spec("192.0.2.1", 5060)}));
  EXPECT_EQ(State("c"), v1::HEALTH_STATE_DOWN);
  EXPECT_EQ(Health("c").ejection_count(), 1u);
}

}  // namespace
}  // namespace trunkroute::health::testing
