// HealthTimerThread on real time. Polls with a bounded deadline (no fixed sleeps).
#include <chrono>
#include <memory>
#include <thread>

#include "gtest/gtest.h"
#include "health/tracker.h"
#include "tests/health/health_test_util.h"

namespace trunkroute::health {
namespace {

using testing::FakeProbeSender;
using testing::MustTable;

template <typename Pred>
bool WaitFor(Pred pred, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return pred();
}

TEST(HealthTimerThreadTest, FiresProbeTimeoutsHoldDownsAndProbesOnRealTime) {
  DefaultRandomSource random;
  FakeProbeSender prober;
  HealthTracker tracker(RealClock::Get(), &random, &prober);
  auto table = MustTable(R"pb(
    trunks { id: "a" host: "a.example.com"
             health { probe_timeout_ms: 50 probe_interval_up_ms: 200 probe_interval_down_ms: 100
                      hold_down_base_ms: 100 hold_down_jitter_pct: 0 } }
  )pb");
  ASSERT_NE(table, nullptr);
  tracker.ApplyTable(*table);
  ASSERT_EQ(prober.Count("a"), 1u);
  {
    HealthTimerThread timer(&tracker);
    // Nobody answers: two probe timeouts eject the trunk, the hold-down ends, PROBING probes.
    EXPECT_TRUE(WaitFor([&] {
      v1::TrunkHealth h;
      return tracker.Get("a", &h) && h.ejection_count() >= 1 && prober.Count("a") >= 3;
    }));
    timer.Wake();
  }  // stops and joins
  v1::TrunkHealth h;
  ASSERT_TRUE(tracker.Get("a", &h));
  EXPECT_GE(h.ejection_count(), 1u);
  EXPECT_NE(h.state(), v1::HEALTH_STATE_UP) << h.detail();
}

// A hang here fails the test by its ctest timeout.
TEST(HealthTimerThreadTest, StartsAndStopsRepeatedlyWhileIdle) {
  DefaultRandomSource random;
  HealthTracker tracker(RealClock::Get(), &random, nullptr);
  for (int i = 0; i < 20; ++i) {
    HealthTimerThread timer(&tracker);
    timer.Wake();
  }
}

}  // namespace
}  // namespace trunkroute::health
