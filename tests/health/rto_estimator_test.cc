#include "health/rto_estimator.h"

#include "gtest/gtest.h"

namespace trunkroute::health {
namespace {

TEST(RtoEstimatorTest, NothingLearnedMeansZero) {
  RtoEstimator rto;
  EXPECT_EQ(rto.TimeoutMs(), 0u);
  rto.OnSilentTimeout();  // nothing to back off from
  EXPECT_EQ(rto.TimeoutMs(), 0u);
}

TEST(RtoEstimatorTest, FirstSampleFollowsRfc6298) {
  RtoEstimator rto;
  rto.AddSample(400);
  EXPECT_DOUBLE_EQ(rto.srtt_ms(), 400);
  EXPECT_DOUBLE_EQ(rto.rttvar_ms(), 200);
  EXPECT_EQ(rto.TimeoutMs(), 400u + 4 * 200);
}

TEST(RtoEstimatorTest, LaterSamplesSmoothWithAlphaEighthAndBetaQuarter) {
  RtoEstimator rto;
  rto.AddSample(400);
  rto.AddSample(200);
  // RTTVAR = 3/4·200 + 1/4·|400−200| = 200; SRTT = 7/8·400 + 1/8·200 = 375.
  EXPECT_DOUBLE_EQ(rto.rttvar_ms(), 200);
  EXPECT_DOUBLE_EQ(rto.srtt_ms(), 375);
  EXPECT_EQ(rto.TimeoutMs(), 375u + 800);
}

TEST(RtoEstimatorTest, FastTrunkGetsTheFloor) {
  RtoEstimator rto;
  for (int i = 0; i < 50; ++i) rto.AddSample(20);
  EXPECT_EQ(rto.TimeoutMs(), RtoEstimator::kFloorMs);
  EXPECT_EQ(rto.TimeoutMs(), 150u);
}

TEST(RtoEstimatorTest, VarianceRaisesTheTimeout) {
  RtoEstimator steady;
  RtoEstimator jittery;
  for (int i = 0; i < 50; ++i) {
    steady.AddSample(100);
    jittery.AddSample(i % 2 == 0 ? 20 : 180);
  }
  EXPECT_EQ(steady.TimeoutMs(), 150u);  // 100 + 4·~0 is under the floor
  // Mean 100, |deviation| 80 each time: RTTVAR settles near 80 → timeout well above the floor.
  EXPECT_GT(jittery.TimeoutMs(), 350u);
  EXPECT_LT(jittery.TimeoutMs(), 500u);
}

TEST(RtoEstimatorTest, SilentTimeoutsBackOffUntilTheCap) {
  RtoEstimator rto;
  for (int i = 0; i < 50; ++i) rto.AddSample(20);
  rto.OnSilentTimeout();
  EXPECT_EQ(rto.TimeoutMs(), 300u);
  rto.OnSilentTimeout();
  EXPECT_EQ(rto.TimeoutMs(), 600u);
  for (int i = 0; i < 20; ++i) rto.OnSilentTimeout();
  EXPECT_EQ(rto.TimeoutMs(), RtoEstimator::kMaxBackoffMs);
}

// Concurrent calls to a dead trunk time out together: only every per_doubling-th timeout in a
// row doubles, so the calls that start before the trunk is ejected keep the learned timeout.
TEST(RtoEstimatorTest, BackoffDoublesOncePerRunOfTimeouts) {
  RtoEstimator rto;
  for (int i = 0; i < 50; ++i) rto.AddSample(20);
  rto.OnSilentTimeout(3);
  rto.OnSilentTimeout(3);
  EXPECT_EQ(rto.TimeoutMs(), 150u);
  rto.OnSilentTimeout(3);
  EXPECT_EQ(rto.TimeoutMs(), 300u);
  rto.OnSilentTimeout(3);
  rto.OnSilentTimeout(3);
  EXPECT_EQ(rto.TimeoutMs(), 300u);
  rto.OnSilentTimeout(3);
  EXPECT_EQ(rto.TimeoutMs(), 600u);
  // A sample starts the count again.
  rto.AddSample(20);
  rto.OnSilentTimeout(3);
  rto.OnSilentTimeout(3);
  EXPECT_EQ(rto.backoff_shift(), 0);
  // per_doubling below 1 means every timeout.
  rto.OnSilentTimeout(0);
  EXPECT_EQ(rto.backoff_shift(), 1);
}

TEST(RtoEstimatorTest, NextSampleEndsTheBackoff) {
  RtoEstimator rto;
  for (int i = 0; i < 50; ++i) rto.AddSample(20);
  rto.OnSilentTimeout();
  rto.OnSilentTimeout();
  ASSERT_EQ(rto.TimeoutMs(), 600u);
  // A slow but alive trunk answers at 400 ms: the estimate now follows it.
  rto.AddSample(400);
  EXPECT_EQ(rto.backoff_shift(), 0);
  EXPECT_GT(rto.TimeoutMs(), 150u);
  EXPECT_LT(rto.TimeoutMs(), 600u);
}

// A steady slow trunk (always 900 ms): RTTVAR decays to ~0, but the timeout keeps a quarter of
// SRTT in hand, so an answer at 960 ms is not abandoned (with SRTT + 4·RTTVAR alone it was cut
// at ~905 ms after 30 calls; the chaos test of a 900 ms trunk found it).
TEST(RtoEstimatorTest, SteadySlowTrunkKeepsAMarginOfAQuarterOfItsMean) {
  RtoEstimator rto;
  for (int i = 0; i < 200; ++i) rto.AddSample(900);
  EXPECT_LT(rto.rttvar_ms(), 1.0);
  EXPECT_EQ(rto.TimeoutMs(), 1125u);  // 900 + 900/4
  // Jitter beyond a quarter of the mean is still RTTVAR's to cover.
  RtoEstimator jittery;
  for (int i = 0; i < 50; ++i) jittery.AddSample(i % 2 == 0 ? 400 : 1400);
  EXPECT_GT(jittery.TimeoutMs(), 900u + 4 * 400);
}

}  // namespace
}  // namespace trunkroute::health
