// Config changes (ApplyTable), admin states, List/Get and observers.
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "health/tracker.h"
#include "tests/health/health_test_util.h"

namespace trunkroute::health {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using testing::Final;
using testing::kOneTrunk;
using testing::kTwoTrunks;
using testing::RecordingObserver;

class ConfigTest : public testing::HealthTrackerTest {
 protected:
  void SetUp() override { Start(kTwoTrunks, /*with_prober=*/false); }
};

TEST_F(ConfigTest, UnchangedTrunkKeepsItsStateAcrossConfigUpdates) {
  ReportN(Final("a", 503), 3);
  const int64_t down_until = Health("a").down_until_unix_ms();
  Run(1000);
  Apply(R"pb(
    trunks { id: "a" host: "a.example.com" name: "renamed" }
    trunks { id: "b" host: "b.example.com" }
    trunks { id: "c" host: "c.example.com" }
  )pb");
  v1::TrunkHealth h = Health("a");
  EXPECT_EQ(h.state(), v1::HEALTH_STATE_DOWN);
  EXPECT_EQ(h.down_until_unix_ms(), down_until);
  EXPECT_EQ(h.ejection_count(), 1u);
  EXPECT_EQ(h.reason(), v1::HEALTH_REASON_CONSECUTIVE_FAILURES);
}

TEST_F(ConfigTest, DeletedTrunkLosesItsState) {
  ReportN(Final("b", 503), 3);
  ASSERT_EQ(State("b"), v1::HEALTH_STATE_DOWN);
  Apply(kOneTrunk);
  EXPECT_FALSE(tracker_->Get("b", nullptr));
  EXPECT_EQ(State("b"), v1::HEALTH_STATE_UP);  // unknown again
  ASSERT_EQ(tracker_->List().size(), 1u);
  // Outcomes for it are classified and otherwise ignored.
  EXPECT_EQ(Report(Final("b", 503)), OutcomeClass::kFailover);
  // Re-added later, it starts fresh.
  Apply(kTwoTrunks);
  EXPECT_EQ(Health("b").state(), v1::HEALTH_STATE_UP);
  EXPECT_EQ(Health("b").ejection_count(), 0u);
}

TEST_F(ConfigTest, NewTrunkStartsUpAndIsProbedAtOnce) {
  Start(kOneTrunk);  // with a prober
  ASSERT_EQ(prober_.Count("b"), 0u);
  Apply(kTwoTrunks);
  EXPECT_EQ(Health("b").state(), v1::HEALTH_STATE_UP);
  EXPECT_EQ(Health("b").reason(), v1::HEALTH_REASON_CONFIGURED);
  EXPECT_EQ(prober_.Count("b"), 1u);
  EXPECT_EQ(prober_.Count("a"), 1u);  // "a" keeps its own schedule
}

TEST_F(ConfigTest, NewAddressIsANewPeer) {
  ReportN(Final("a", 503), 3);
  Apply(R"pb(
    trunks { id: "a" host: "a2.example.com" }
    trunks { id: "b" host: "b.example.com" }
  )pb");
  v1::TrunkHealth h = Health("a");
  EXPECT_EQ(h.state(), v1::HEALTH_STATE_UP);
  EXPECT_EQ(h.reason(), v1::HEALTH_REASON_CONFIGURED);
  EXPECT_EQ(h.detail(), "address changed");
  EXPECT_EQ(h.ejection_count(), 0u);
}

TEST_F(ConfigTest, NewCredentialsEndAnAuthFailedEjection) {
  ReportN(testing::AuthRejected("a", 401, true), 3);
  ASSERT_EQ(Health("a").reason(), v1::HEALTH_REASON_AUTH_FAILED);
  Apply(R"pb(
    trunks { id: "a" host: "a.example.com" username: "u" password: "fixed" }
    trunks { id: "b" host: "b.example.com" }
  )pb");
  EXPECT_EQ(State("a"), v1::HEALTH_STATE_UP);
  EXPECT_EQ(Health("a").detail(), "credentials changed");
}

TEST_F(ConfigTest, PolicyChangesApplyLive) {
  Report(Final("a", 503));
  Apply(R"pb(
    trunks { id: "a" host: "a.example.com" health { failure_threshold: 2 } }
    trunks { id: "b" host: "b.example.com" }
  )pb");
  Report(Final("a", 503));  // the count carried over; the new threshold is 2
  EXPECT_EQ(State("a"), v1::HEALTH_STATE_DOWN);
}

TEST_F(ConfigTest, GlobalHealthPolicyIsTheDefault) {
  Apply(R"pb(
    health_policy { failure_threshold: 1 hold_down_base_ms: 2000 }
    trunks { id: "a" host: "a.example.com" }
    trunks { id: "b" host: "b.example.com" health { failure_threshold: 5 } }
  )pb");
  Report(Final("a", 503));
  EXPECT_EQ(State("a"), v1::HEALTH_STATE_DOWN);
  EXPECT_EQ(HoldDownLeftMs("a"), 2000);
  ReportN(Final("b", 503), 4);
  EXPECT_EQ(State("b"), v1::HEALTH_STATE_UP);
}

TEST_F(ConfigTest, AdminStatesOverrideWhileHealthIsStillMeasured) {
  Apply(R"pb(
    trunks { id: "a" host: "a.example.com" admin_state: ADMIN_STATE_DRAINING }
    trunks { id: "b" host: "b.example.com" admin_state: ADMIN_STATE_FORCED_DOWN }
  )pb");
  EXPECT_EQ(State("a"), v1::HEALTH_STATE_DRAINING);
  EXPECT_EQ(State("b"), v1::HEALTH_STATE_FORCED_DOWN);
  v1::TrunkHealth h = Health("a");
  EXPECT_EQ(h.reason(), v1::HEALTH_REASON_ADMIN);
  EXPECT_EQ(h.admin_state(), v1::ADMIN_STATE_DRAINING);
  EXPECT_EQ(h.detail(), "admin: draining; measured up: new trunk");
  EXPECT_EQ(tracker_->Availability("a").reason, "admin: draining; measured up: new trunk");

  ReportN(Final("a", 503), 3);  // measured health goes on underneath
  EXPECT_EQ(State("a"), v1::HEALTH_STATE_DRAINING);
  EXPECT_EQ(Health("a").ejection_count(), 1u);
  EXPECT_EQ(Health("a").detail(),
            "admin: draining; measured down: 3 consecutive failures, last: 503");

  Apply(kTwoTrunks);  // enabled again: the measured state shows
  EXPECT_EQ(State("a"), v1::HEALTH_STATE_DOWN);
  EXPECT_EQ(Health("a").reason(), v1::HEALTH_REASON_CONSECUTIVE_FAILURES);
  EXPECT_EQ(State("b"), v1::HEALTH_STATE_UP);
}

TEST_F(ConfigTest, ForcedUpIsUsedWhateverTheMeasurementsSay) {
  ReportN(Final("a", 503), 3);
  Apply(R"pb(
    trunks { id: "a" host: "a.example.com" admin_state: ADMIN_STATE_FORCED_UP }
    trunks { id: "b" host: "b.example.com" }
  )pb");
  router::TrunkAvailability a = tracker_->Availability("a");
  EXPECT_EQ(a.state, v1::HEALTH_STATE_FORCED_UP);
  EXPECT_EQ(a.ramp_share, 1.0);
  EXPECT_NE(Health("a").down_until_unix_ms(), 0);  // measured: still DOWN underneath
}

TEST_F(ConfigTest, ListIsSortedAndComplete) {
  Apply(R"pb(
    trunks { id: "z" host: "z.example.com" }
    trunks { id: "a" host: "a.example.com" }
    trunks { id: "m" host: "m.example.com" }
  )pb");
  Report(Final("m", 200, 20));
  ReportN(Final("z", 503), 3);
  std::vector<v1::TrunkHealth> list = tracker_->List();
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0].trunk_id(), "a");
  EXPECT_EQ(list[1].trunk_id(), "m");
  EXPECT_EQ(list[2].trunk_id(), "z");
  EXPECT_EQ(list[1].attempt_timeout_ms(), 150u);
  EXPECT_EQ(list[1].consecutive_successes(), 1u);
  EXPECT_EQ(list[2].state(), v1::HEALTH_STATE_DOWN);
  EXPECT_EQ(list[2].down_until_unix_ms(), clock_.WallUnixMs() + 5000);
  EXPECT_EQ(list[2].admin_state(), v1::ADMIN_STATE_ENABLED);
}

TEST_F(ConfigTest, ObserversReceiveEventsInOrder) {
  auto observer = std::make_shared<RecordingObserver>();
  tracker_->AddObserver(observer);
  Report(Final("a", 503));
  Report(Final("a", 486));
  ReportN(Final("a", 503), 3);
  Run(5000);
  ReportN(Final("a", 200), 2);
  EXPECT_THAT(observer->Lines(),
              ElementsAre("outcome a 503 FAILOVER", "outcome a 486 CALLEE_FINAL",
                          "outcome a 503 FAILOVER", "outcome a 503 FAILOVER",
                          "outcome a 503 FAILOVER",
                          "state a HEALTH_STATE_UP->HEALTH_STATE_DOWN "
                          "HEALTH_REASON_CONSECUTIVE_FAILURES",
                          "state a HEALTH_STATE_DOWN->HEALTH_STATE_PROBING "
                          "HEALTH_REASON_HOLD_DOWN_EXPIRED",
                          "outcome a 200 SUCCESS",
                          "outcome a 200 SUCCESS",
                          "state a HEALTH_STATE_PROBING->HEALTH_STATE_UP "
                          "HEALTH_REASON_RECOVERED"));
  std::vector<HealthEvent> events = observer->Events();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].health.detail(), "3 consecutive failures, last: 503");
  EXPECT_EQ(events[0].health.ejection_count(), 1u);
  EXPECT_EQ(events[0].health.since_unix_ms(), clock_.WallUnixMs() - 5000);
}

TEST_F(ConfigTest, ObserversSeeConfigAndAdminChanges) {
  auto observer = std::make_shared<RecordingObserver>();
  tracker_->AddObserver(observer);
  Apply(R"pb(
    trunks { id: "a" host: "a.example.com" admin_state: ADMIN_STATE_DRAINING }
    trunks { id: "c" host: "c.example.com" }
  )pb");
  EXPECT_THAT(observer->Lines(),
              ElementsAre("state a HEALTH_STATE_UP->HEALTH_STATE_DRAINING HEALTH_REASON_ADMIN",
                          "state c HEALTH_STATE_UNSPECIFIED->HEALTH_STATE_UP "
                          "HEALTH_REASON_CONFIGURED"));
}

TEST_F(ConfigTest, ObserverWithSnapshotGetsOnlyLaterEvents) {
  ReportN(Final("a", 503), 3);
  auto observer = std::make_shared<RecordingObserver>();
  std::vector<v1::TrunkHealth> snapshot;
  tracker_->AddObserver(observer, &snapshot);
  ASSERT_EQ(snapshot.size(), 2u);
  EXPECT_EQ(snapshot[0].state(), v1::HEALTH_STATE_DOWN);
  EXPECT_THAT(observer->Lines(), IsEmpty());
  Run(5000);
  EXPECT_THAT(observer->Lines(), ElementsAre("state a HEALTH_STATE_DOWN->HEALTH_STATE_PROBING "
                                             "HEALTH_REASON_HOLD_DOWN_EXPIRED"));
}

TEST_F(ConfigTest, RemovedObserverIsNotCalledAgain) {
  auto observer = std::make_shared<RecordingObserver>();
  const uint64_t id = tracker_->AddObserver(observer);
  Report(Final("a", 503));
  tracker_->RemoveObserver(id);
  ReportN(Final("a", 503), 2);
  EXPECT_THAT(observer->Lines(), ElementsAre("outcome a 503 FAILOVER"));
  tracker_->RemoveObserver(id);  // twice is harmless
}

// An observer that reports outcomes itself (as a metrics bridge might, badly) must not deadlock,
// and its events still arrive in order.
class ReentrantObserver final : public HealthObserver {
 public:
  explicit ReentrantObserver(HealthTracker* t) : tracker_(t) {}
  void OnStateChange(const HealthEvent& e) override {
    lines_.push_back(v1::HealthState_Name(e.health.state()));
    if (e.health.trunk_id() == "a" && e.health.state() == v1::HEALTH_STATE_DOWN) {
      for (int i = 0; i < 3; ++i) {
        tracker_->ReportOutcome(Final("b", 503), router::DefaultFailoverPolicy());
      }
      std::vector<v1::TrunkHealth> list = tracker_->List();  // reads are fine too
      lines_.push_back(absl::StrCat("list ", list.size()));
    }
  }
  std::vector<std::string> lines_;

 private:
  HealthTracker* tracker_;
};

TEST_F(ConfigTest, ObserverMayCallBackIntoTheTracker) {
  auto observer = std::make_shared<ReentrantObserver>(tracker_.get());
  tracker_->AddObserver(observer);
  ReportN(Final("a", 503), 3);
  EXPECT_EQ(State("b"), v1::HEALTH_STATE_DOWN);
  EXPECT_THAT(observer->lines_,
              ElementsAre("HEALTH_STATE_DOWN", "list 2", "HEALTH_STATE_DOWN"));
}

}  // namespace
}  // namespace trunkroute::health
