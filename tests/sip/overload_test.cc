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

// A detector fed one sample every 10 ms from kT0 (the edge's sampling period).
class Feed {
 public:
  explicit Feed(OverloadOptions options = {}) : d(options) {}
  // `n` samples of the same queue fill (per mille of a 1,000-byte buffer) and lag; true if any
  // of them changed the state.
  bool Queue(uint64_t permille, int n = 1, Duration lag = Duration(0)) {
    bool changed = false;
    for (int i = 0; i < n; ++i) {
      changed = d.Observe({.now = now, .lag = lag, .rx_queued_bytes = permille,
                           .rx_buffer_bytes = 1000}) || changed;
      now += milliseconds(10);
    }
    return changed;
  }
  bool Lag(Duration lag, int n = 1) { return Queue(0, n, lag); }
  // Of the next `n` new calls, how many are admitted.
  int Admitted(int n) {
    int admitted = 0;
    for (int i = 0; i < n; ++i) admitted += d.AdmitNext() ? 1 : 0;
    return admitted;
  }

  OverloadDetector d;
  MonoTime now = kT0;
};

TEST(OverloadDetectorTest, ABurstWorkedOffWithinTheWindowIsNotOverload) {
  Feed f;
  // 80 % full for 50 ms, then drained: the window's minimum is 0.
  EXPECT_FALSE(f.Queue(800, 5));
  EXPECT_FALSE(f.Queue(0, 20));
  EXPECT_FALSE(f.d.overloaded());
  EXPECT_EQ(f.d.standing_fill(), 0.0);
  EXPECT_EQ(f.Admitted(10), 10);
}

TEST(OverloadDetectorTest, AQueueStandingAWholeWindowIsOverloadAndSomeCallsAreRefused) {
  Feed f;
  // 50 % for ten samples: the window (kT0 .. +100 ms) closes at the eleventh.
  EXPECT_FALSE(f.Queue(500, 10));
  EXPECT_TRUE(f.Queue(500));
  EXPECT_TRUE(f.d.overloaded());
  EXPECT_EQ(f.d.cause(), "queue");
  EXPECT_DOUBLE_EQ(f.d.standing_fill(), 0.5);
  EXPECT_DOUBLE_EQ(f.d.admit_fraction(), 0.7);
  // 7 of every 10 new calls are admitted, spread out (not the first 7).
  EXPECT_FALSE(f.d.AdmitNext());
  EXPECT_EQ(f.Admitted(9) + 0, 7);
}

TEST(OverloadDetectorTest, OneSampleBelowTheLevelInAWindowMeansNoStandingQueue) {
  Feed f;
  f.Queue(700, 5);
  f.Queue(490);  // the thread caught up for a moment
  f.Queue(700, 5);
  EXPECT_FALSE(f.d.overloaded());
  EXPECT_DOUBLE_EQ(f.d.standing_fill(), 0.49);
}

TEST(OverloadDetectorTest, AQueueAboutToOverflowIsOverloadAtOnce) {
  Feed f;
  EXPECT_FALSE(f.Queue(849));
  EXPECT_TRUE(f.Queue(850));
  EXPECT_TRUE(f.d.overloaded());
  EXPECT_EQ(f.d.cause(), "queue");
}

TEST(OverloadDetectorTest, TheAdmittedFractionIsCutPerWindowWhileTheQueueStandsDownToItsFloor) {
  Feed f;
  f.Queue(600, 11);
  ASSERT_TRUE(f.d.overloaded());
  ASSERT_DOUBLE_EQ(f.d.admit_fraction(), 0.7);
  f.Queue(600, 10);  // one more whole window
  EXPECT_DOUBLE_EQ(f.d.admit_fraction(), 0.49);
  f.Queue(600, 10);
  EXPECT_NEAR(f.d.admit_fraction(), 0.343, 1e-9);
  f.Queue(600, 200);
  EXPECT_DOUBLE_EQ(f.d.admit_fraction(), 0.05) << "the floor";
  EXPECT_EQ(f.Admitted(100), 5);
}

TEST(OverloadDetectorTest, BetweenTheLevelsTheFractionHoldsThenRisesBackToNormal) {
  Feed f;
  f.Queue(600, 21);
  ASSERT_DOUBLE_EQ(f.d.admit_fraction(), 0.49);
  // Standing at 40 %: below "on", above "off": neither cut nor raised.
  f.Queue(400, 50);
  EXPECT_DOUBLE_EQ(f.d.admit_fraction(), 0.49);
  EXPECT_TRUE(f.d.overloaded());
  // Drained: +0.05 per window, normal again at 1 (11 windows from 0.49).
  int windows = 0;
  while (f.d.overloaded() && windows < 100) {
    f.Queue(0, 10);
    ++windows;
  }
  EXPECT_FALSE(f.d.overloaded());
  EXPECT_EQ(windows, 11);
  EXPECT_EQ(f.d.cause(), "");
  EXPECT_EQ(f.d.admit_fraction(), 1.0);
  EXPECT_EQ(f.Admitted(10), 10);
}

TEST(OverloadDetectorTest, LagIsSmoothedSoOneLateTickIsNotOverload) {
  Feed f;
  // One tick 100 ms late among punctual ones: smoothed to 25 ms, below the 50 ms "on" level.
  EXPECT_FALSE(f.Lag(milliseconds(100)));
  EXPECT_FALSE(f.d.overloaded());
  EXPECT_EQ(f.d.smoothed_lag(), milliseconds(25));
  // A loop that stays late is overload within a few ticks, without waiting for a window.
  int ticks = 1;
  while (!f.d.overloaded() && ticks < 10) {
    f.Lag(milliseconds(100));
    ++ticks;
  }
  EXPECT_TRUE(f.d.overloaded());
  EXPECT_EQ(ticks, 3) << "EWMA 0.25: 25, 43.75, 57.8 ms";
  EXPECT_EQ(f.d.cause(), "lag");
  // Punctual again: the fraction rises only in windows whose smoothed lag is down to 20 ms.
  f.Lag(Duration(0), 5);
  EXPECT_LE(f.d.smoothed_lag(), milliseconds(20));
  EXPECT_TRUE(f.d.overloaded());
  f.Lag(Duration(0), 70);
  EXPECT_FALSE(f.d.overloaded());
}

TEST(OverloadDetectorTest, EarlyTicksAndAnUnknownQueueCountAsNothing) {
  Feed f;
  EXPECT_FALSE(f.Lag(-milliseconds(500)));
  EXPECT_EQ(f.d.smoothed_lag(), Duration(0));
  EXPECT_FALSE(f.d.Observe({.now = f.now, .rx_queued_bytes = 5000, .rx_buffer_bytes = 0}));
  EXPECT_EQ(f.d.queue_fill(), 0.0);
  EXPECT_FALSE(f.d.overloaded());
}

TEST(OverloadDetectorTest, BothSignalsMustBeLowForTheFractionToRise) {
  Feed f;
  f.Queue(0, 3, milliseconds(400));
  ASSERT_TRUE(f.d.overloaded());
  ASSERT_EQ(f.d.cause(), "lag");
  const double at_onset = f.d.admit_fraction();
  // The queue is empty but the loop is still late: cut, not raised.
  f.Queue(0, 10, milliseconds(400));
  EXPECT_TRUE(f.d.overloaded());
  EXPECT_LT(f.d.admit_fraction(), at_onset);
}

TEST(OverloadDetectorTest, AFractionOfZeroRefusesEveryCall) {
  Feed f({.admit_decrease = 0, .admit_min = 0});
  f.Queue(900);
  ASSERT_TRUE(f.d.overloaded());
  EXPECT_EQ(f.Admitted(50), 0);
}

}  // namespace
}  // namespace trunkroute::sip
