// Failed-authentication backoff under simulated time: free failures, doubling refusals up to the
// cap, forgetting after a quiet period, bounded memory, and the source key of a peer.
#include "auth/failure_backoff.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/simulated_clock.h"

namespace trunkroute::auth {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;
using trunkroute::testing::SimulatedClock;

class FailureBackoffTest : public ::testing::Test {
 protected:
  SimulatedClock clock_;
  FailureBackoff backoff_{&clock_};  // defaults: 5 free, 1 s doubling to 60 s, forget after 10 min
};

TEST_F(FailureBackoffTest, FiveFailuresAreFreeThenTheSourceIsRefusedForOneSecond) {
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(backoff_.Blocked("10.0.0.1"), std::nullopt);
    EXPECT_EQ(backoff_.RecordFailure("10.0.0.1"), Duration::zero()) << i;
  }
  EXPECT_EQ(backoff_.RecordFailure("10.0.0.1"), seconds(1));
  EXPECT_EQ(backoff_.Blocked("10.0.0.1"), seconds(1));
  EXPECT_EQ(backoff_.Blocked("10.0.0.2"), std::nullopt) << "other sources are not affected";
  clock_.AdvanceMs(999);
  EXPECT_EQ(backoff_.Blocked("10.0.0.1"), std::chrono::milliseconds(1));
  clock_.AdvanceMs(1);
  EXPECT_EQ(backoff_.Blocked("10.0.0.1"), std::nullopt);
}

TEST_F(FailureBackoffTest, EachFurtherFailureDoublesTheRefusalUpToTheCap) {
  for (int i = 0; i < 5; ++i) backoff_.RecordFailure("s");
  const std::vector<int> expected_s = {1, 2, 4, 8, 16, 32, 60, 60, 60};
  for (int want : expected_s) {
    EXPECT_EQ(backoff_.RecordFailure("s"), seconds(want));
    clock_.Advance(seconds(want));  // waits the refusal out, then fails again
    EXPECT_EQ(backoff_.Blocked("s"), std::nullopt);
  }
}

TEST_F(FailureBackoffTest, ASourceQuietForTenMinutesStartsOver) {
  for (int i = 0; i < 8; ++i) backoff_.RecordFailure("s");
  clock_.Advance(minutes(10));
  EXPECT_EQ(backoff_.Blocked("s"), std::nullopt);
  EXPECT_EQ(backoff_.RecordFailure("s"), Duration::zero()) << "counting restarts at one";
}

TEST(FailureBackoffBoundTest, MemoryIsBoundedByForgettingTheOldestSource) {
  SimulatedClock clock;
  FailureBackoff::Options o;
  o.free_failures = 0;
  o.max_sources = 3;
  FailureBackoff backoff(&clock, o);
  for (const char* s : {"a", "b", "c"}) backoff.RecordFailure(s);
  clock.AdvanceMs(1);
  backoff.RecordFailure("a");  // a is now the most recent
  backoff.RecordFailure("d");  // evicts b, the oldest
  EXPECT_EQ(backoff.size(), 3u);
  EXPECT_TRUE(backoff.Blocked("a").has_value());
  EXPECT_FALSE(backoff.Blocked("b").has_value());
  EXPECT_TRUE(backoff.Blocked("c").has_value());
  EXPECT_TRUE(backoff.Blocked("d").has_value());
  for (int i = 0; i < 10000; ++i) backoff.RecordFailure("x" + std::to_string(i));
  EXPECT_EQ(backoff.size(), 3u);
}

TEST(SourceKeyTest, AddressWithoutPortAndIpv6ByPrefix) {
  EXPECT_EQ(SourceKey("ipv4:10.0.0.7:53122"), "10.0.0.7");
  EXPECT_EQ(SourceKey("10.0.0.7"), "10.0.0.7");
  EXPECT_EQ(SourceKey("ipv6:[2001:db8:1:2:3:4:5:6]:443"), "2001:db8:1:2::/64");
  EXPECT_EQ(SourceKey("2001:db8:1:2:ffff::1"), "2001:db8:1:2::/64");
  EXPECT_EQ(SourceKey("ipv6:[::ffff:192.0.2.1]:80"), "192.0.2.1");
  EXPECT_EQ(SourceKey("::1"), "::/64");
  EXPECT_EQ(SourceKey("unix:/run/trunkroute.sock"), "unix");
  EXPECT_EQ(SourceKey(""), "unknown");
}

}  // namespace
}  // namespace trunkroute::auth
