// The edge's load-shedding state under simulated time (sip/overload.h): the token buckets behind
// edge.max_cps / max_cps_per_source, and the overload detector fed with the samples the SIP
// thread takes (loop lag, UDP receive queue).
#include "sip/overload.h"

#include <string>

#include "gtest/gtest.h"

namespace trunkroute::sip {
namespace {

constexpr MonoTime kT0 = MonoTime() + seconds(1000);

TEST(TokenBucketTest, StartsFullThenRefillsAtItsRate) {
  TokenBucket b(/*rate_per_s=*/10, /*depth=*/2, kT0);
  ASSERT_TRUE(b.Ready(kT0));
  b.Take();
  ASSERT_TRUE(b.Ready(kT0));
  b.Take();
  EXPECT_FALSE(b.Ready(kT0)) << "the depth is 2";
  EXPECT_FALSE(b.Ready(kT0 + milliseconds(99))) << "one token takes 100 ms at 10/s";
  EXPECT_TRUE(b.Ready(kT0 + milliseconds(100)));
  b.Take();
  // Idle for long: never more than the depth.
  EXPECT_FALSE(b.FullAt(kT0 + milliseconds(250)));
  EXPECT_TRUE(b.FullAt(kT0 + milliseconds(300)));
  EXPECT_TRUE(b.FullAt(kT0 + seconds(60)));
  int taken = 0;
  const MonoTime later = kT0 + seconds(60);
  while (b.Ready(later)) {
    b.Take();
    ++taken;
  }
  EXPECT_EQ(taken, 2);
}

TEST(TokenBucketTest, DepthIsATenthOfASecondOfCallsAndAtLeastTwo) {
  EXPECT_EQ(CallRateBucketDepth(5), 2.0);
  EXPECT_EQ(CallRateBucketDepth(20), 2.0);
  EXPECT_EQ(CallRateBucketDepth(2000), 200.0);
}

// Counts the calls admitted when `offered` calls per second arrive for `secs` seconds, evenly.
int AdmittedOver(CallRateLimiter* limiter, const std::string& source, uint32_t max_cps,
                 uint32_t per_source, int offered, int secs, MonoTime start) {
  int admitted = 0;
  const Duration gap = Duration(seconds(1)) / offered;
  for (int i = 0; i < offered * secs; ++i) {
    if (limiter->Admit(source, max_cps, per_source, start + gap * i) ==
        CallRateLimiter::Verdict::kAdmit) {
      ++admitted;
    }
  }
  return admitted;
}

TEST(CallRateLimiterTest, OverallCapHoldsAtThreeTimesTheRate) {
  CallRateLimiter limiter;
  // 30 calls/s offered for 10 s against a cap of 10/s: the bucket's two tokens plus 10/s over
  // the 9.97 s from the first call to the last.
  const int admitted = AdmittedOver(&limiter, "127.0.0.1", 10, 0, 30, 10, kT0);
  EXPECT_GE(admitted, 100);
  EXPECT_LE(admitted, 102);
}

TEST(CallRateLimiterTest, BelowTheCapEveryCallIsAdmitted) {
  CallRateLimiter limiter;
  EXPECT_EQ(AdmittedOver(&limiter, "127.0.0.1", 100, 0, 90, 5, kT0), 450);
}

TEST(CallRateLimiterTest, NoCapAdmitsEverything) {
  CallRateLimiter limiter;
  for (int i = 0; i < 1000; ++i) {
    ASSERT_EQ(limiter.Admit("127.0.0.1", 0, 0, kT0), CallRateLimiter::Verdict::kAdmit);
  }
  EXPECT_EQ(limiter.tracked_sources(), 0u);
}

TEST(CallRateLimiterTest, PerSourceCapLeavesOtherSourcesTheirShare) {
  CallRateLimiter limiter;
  // A burst from one source: its bucket (2 deep at 5/s) takes two calls, then says per-source.
  EXPECT_EQ(limiter.Admit("10.0.0.1", 100, 5, kT0), CallRateLimiter::Verdict::kAdmit);
  EXPECT_EQ(limiter.Admit("10.0.0.1", 100, 5, kT0), CallRateLimiter::Verdict::kAdmit);
  EXPECT_EQ(limiter.Admit("10.0.0.1", 100, 5, kT0), CallRateLimiter::Verdict::kPerSource);
  // Another source is not held back by the first.
  EXPECT_EQ(limiter.Admit("10.0.0.2", 100, 5, kT0), CallRateLimiter::Verdict::kAdmit);
  // 200 ms later the first source has its next token.
  EXPECT_EQ(limiter.Admit("10.0.0.1", 100, 5, kT0 + milliseconds(200)),
            CallRateLimiter::Verdict::kAdmit);
}

TEST(CallRateLimiterTest, ACallRefusedPerSourceTakesNoOverallToken) {
  CallRateLimiter limiter;
  // Overall 10/s and 1/s per source, both buckets 2 deep.
  ASSERT_EQ(limiter.Admit("10.0.0.1", 10, 1, kT0), CallRateLimiter::Verdict::kAdmit);
  ASSERT_EQ(limiter.Admit("10.0.0.1", 10, 1, kT0), CallRateLimiter::Verdict::kAdmit);
  // 100 ms on: one overall token back, the source's own bucket still empty.
  const MonoTime t1 = kT0 + milliseconds(100);
  ASSERT_EQ(limiter.Admit("10.0.0.1", 10, 1, t1), CallRateLimiter::Verdict::kPerSource);
  EXPECT_EQ(limiter.Admit("10.0.0.2", 10, 1, t1), CallRateLimiter::Verdict::kAdmit)
      << "the per-source refusal must not have taken the overall token";
  EXPECT_EQ(limiter.Admit("10.0.0.3", 10, 1, t1), CallRateLimiter::Verdict::kOverall);
}

TEST(CallRateLimiterTest, IdleSourcesAreForgotten) {
  CallRateLimiter limiter;
  for (int i = 0; i < 1024; ++i) {
    limiter.Admit("10.1." + std::to_string(i / 256) + "." + std::to_string(i % 256), 0, 5, kT0);
  }
  EXPECT_EQ(limiter.tracked_sources(), 1024u);
  // A second later every one of them is full again: the next new source prunes them.
  limiter.Admit("10.9.9.9", 0, 5, kT0 + seconds(1));
  EXPECT_EQ(limiter.tracked_sources(), 1u);
}

TEST(CallRateLimiterTest, AChangedCapStartsAfresh) {
  CallRateLimiter limiter;
  ASSERT_EQ(limiter.Admit("a", 1, 0, kT0), CallRateLimiter::Verdict::kAdmit);
  ASSERT_EQ(limiter.Admit("a", 1, 0, kT0), CallRateLimiter::Verdict::kAdmit);
  ASSERT_EQ(limiter.Admit("a", 1, 0, kT0), CallRateLimiter::Verdict::kOverall);
  EXPECT_EQ(limiter.Admit("a", 1000, 0, kT0), CallRateLimiter::Verdict::kAdmit);
}

OverloadDetector::Sample Queue(uint64_t queued, uint64_t buffer = 1000) {
  return {.lag = Duration(0), .rx_queued_bytes = queued, .rx_buffer_bytes = buffer};
}
OverloadDetector::Sample Lag(Duration lag) { return {.lag = lag}; }

TEST(OverloadDetectorTest, QueueAboveItsOnLevelIsOverloadAtOnce) {
  OverloadDetector d;
  EXPECT_FALSE(d.Observe(Queue(249)));
  EXPECT_FALSE(d.overloaded());
  EXPECT_TRUE(d.Observe(Queue(250)));
  EXPECT_TRUE(d.overloaded());
  EXPECT_EQ(d.cause(), "queue");
  EXPECT_DOUBLE_EQ(d.queue_fill(), 0.25);
}

TEST(OverloadDetectorTest, HysteresisHoldsUntilTheQueueHasDrained) {
  OverloadDetector d;
  d.Observe(Queue(400));
  ASSERT_TRUE(d.overloaded());
  // Below "on" but above "off": still shedding (no flapping around one threshold).
  EXPECT_FALSE(d.Observe(Queue(200)));
  EXPECT_FALSE(d.Observe(Queue(151)));
  EXPECT_TRUE(d.overloaded());
  EXPECT_TRUE(d.Observe(Queue(150)));
  EXPECT_FALSE(d.overloaded());
  EXPECT_EQ(d.cause(), "");
}

TEST(OverloadDetectorTest, LagIsSmoothedSoOneLateTickIsNotOverload) {
  OverloadDetector d;
  // One tick 100 ms late among punctual ones: smoothed to 25 ms, below the 50 ms "on" level.
  EXPECT_FALSE(d.Observe(Lag(milliseconds(100))));
  EXPECT_FALSE(d.overloaded());
  EXPECT_EQ(d.smoothed_lag(), milliseconds(25));
  // A loop that stays late is overload within a few ticks.
  int ticks = 1;
  while (!d.overloaded() && ticks < 10) {
    d.Observe(Lag(milliseconds(100)));
    ++ticks;
  }
  EXPECT_TRUE(d.overloaded());
  EXPECT_EQ(ticks, 3) << "EWMA 0.25: 25, 43.75, 57.8 ms";
  EXPECT_EQ(d.cause(), "lag");
  // Back to punctual: normal once the smoothed lag is down to 20 ms.
  int punctual = 0;
  while (d.overloaded() && punctual < 50) {
    d.Observe(Lag(Duration(0)));
    ++punctual;
  }
  EXPECT_FALSE(d.overloaded());
  EXPECT_EQ(punctual, 4) << "57.8 × 0.75^3 = 24.4, × 0.75^4 = 18.3 ms";
}

TEST(OverloadDetectorTest, EarlyTicksAndAnUnknownQueueCountAsNothing) {
  OverloadDetector d;
  EXPECT_FALSE(d.Observe(Lag(-milliseconds(500))));
  EXPECT_EQ(d.smoothed_lag(), Duration(0));
  EXPECT_FALSE(d.Observe(Queue(5000, /*buffer=*/0)));
  EXPECT_EQ(d.queue_fill(), 0.0);
  EXPECT_FALSE(d.overloaded());
}

TEST(OverloadDetectorTest, BothSignalsMustBeLowToLeave) {
  OverloadDetector d;
  d.Observe({.lag = milliseconds(400), .rx_queued_bytes = 0, .rx_buffer_bytes = 1000});
  ASSERT_TRUE(d.overloaded());
  ASSERT_EQ(d.cause(), "lag");
  // The queue is empty but the loop is still late: stay.
  for (int i = 0; i < 2; ++i) d.Observe(Queue(0));
  EXPECT_TRUE(d.overloaded());
}

}  // namespace
}  // namespace trunkroute::sip
