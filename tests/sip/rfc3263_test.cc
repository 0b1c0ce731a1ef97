// RFC 3263 §4 selection and RFC 2782 SRV ordering, on records written inline.
#include "sip/rfc3263.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/simulated_clock.h"

namespace trunkroute::sip {
namespace {

using ::testing::ElementsAre;
using ::trunkroute::testing::FakeRandom;

TransportSupport AllTransports() {
  TransportSupport s;
  s.tls = true;
  return s;
}

TEST(Rfc3263Test, NaptrOrderThenPreferenceAndOnlySupportedSipServices) {
  std::vector<NaptrRecord> records = {
      {20, 10, "s", "SIP+D2U", "_sip._udp.carrier.test.", 60},
      {10, 50, "s", "SIP+D2T", "_sip._tcp.carrier.test.", 60},
      {10, 20, "s", "SIPS+D2T", "_sips._tcp.carrier.test.", 60},
      {5, 1, "s", "E2U+sip", "_e2u.carrier.test.", 60},        // not a SIP service
      {5, 2, "a", "SIP+D2U", "sbc.carrier.test.", 60},         // "a" flag: not for SRV
      {5, 3, "s", "SIP+D2S", "_sip._sctp.carrier.test.", 60},  // SCTP: not supported
  };
  EXPECT_THAT(SrvQueriesFromNaptr(records, AllTransports()),
              ElementsAre(SrvQuery{"_sips._tcp.carrier.test", v1::TRANSPORT_TLS},
                          SrvQuery{"_sip._tcp.carrier.test", v1::TRANSPORT_TCP},
                          SrvQuery{"_sip._udp.carrier.test", v1::TRANSPORT_UDP}));
}

TEST(Rfc3263Test, NaptrForATransportTheEdgeLacksIsDiscarded) {
  TransportSupport no_tls;  // no TLS listener
  std::vector<NaptrRecord> records = {
      {10, 10, "s", "SIPS+D2T", "_sips._tcp.carrier.test", 60},
      {20, 10, "S", "sip+d2u", "_sip._udp.carrier.test", 60},  // case-insensitive
  };
  EXPECT_THAT(SrvQueriesFromNaptr(records, no_tls),
              ElementsAre(SrvQuery{"_sip._udp.carrier.test", v1::TRANSPORT_UDP}));
}

TEST(Rfc3263Test, WithoutNaptrEverySupportedTransportTlsFirst) {
  EXPECT_THAT(DefaultSrvQueries("carrier.test.", AllTransports(), v1::TRANSPORT_UNSPECIFIED),
              ElementsAre(SrvQuery{"_sips._tcp.carrier.test", v1::TRANSPORT_TLS},
                          SrvQuery{"_sip._tcp.carrier.test", v1::TRANSPORT_TCP},
                          SrvQuery{"_sip._udp.carrier.test", v1::TRANSPORT_UDP}));
  TransportSupport udp_only;
  udp_only.tcp = false;
  EXPECT_THAT(DefaultSrvQueries("carrier.test", udp_only, v1::TRANSPORT_UNSPECIFIED),
              ElementsAre(SrvQuery{"_sip._udp.carrier.test", v1::TRANSPORT_UDP}));
  // A configured transport is the only one asked for.
  EXPECT_THAT(DefaultSrvQueries("carrier.test", AllTransports(), v1::TRANSPORT_TCP),
              ElementsAre(SrvQuery{"_sip._tcp.carrier.test", v1::TRANSPORT_TCP}));
}

TEST(Rfc3263Test, SrvByPriorityFirst) {
  std::vector<SrvRecord> records = {
      {20, 100, 5060, "b.test", 60}, {10, 0, 5060, "a.test", 60}, {30, 5, 5060, "c.test", 60}};
  FakeRandom random(0.99);
  EXPECT_THAT(OrderSrv(records, random), ElementsAre(1, 0, 2));
}

TEST(Rfc3263Test, EqualPriorityIsAWeightedDrawWithoutReplacement) {
  // Weights 60 and 40: running sums 60, 100; a draw is uniform in [0, 100].
  std::vector<SrvRecord> records = {{10, 60, 5060, "a.test", 60}, {10, 40, 5060, "b.test", 60}};
  FakeRandom low;  // draw 0 → the first record whose running sum is ≥ 0: a
  low.Push(0.0);
  EXPECT_THAT(OrderSrv(records, low), ElementsAre(0, 1));
  FakeRandom high;  // 0.7 × 101 = 70.7 → 70: a's sum 60 < 70 ≤ b's 100 → b first
  high.Push(0.7);
  EXPECT_THAT(OrderSrv(records, high), ElementsAre(1, 0));
  FakeRandom edge;  // 0.59 × 101 = 59.59 → 59 ≤ 60: a
  edge.Push(0.59);
  EXPECT_THAT(OrderSrv(records, edge), ElementsAre(0, 1));
}

TEST(Rfc3263Test, WeightedDrawFollowsTheWeightsOverManyCalls) {
  std::vector<SrvRecord> records = {{10, 75, 5060, "a.test", 60}, {10, 25, 5060, "b.test", 60}};
  // Evenly spread draws: a is first for draws that land at or below its running sum 75.
  int a_first = 0;
  for (int i = 0; i < 1000; ++i) {
    FakeRandom r;
    r.Push((i + 0.5) / 1000.0);
    if (OrderSrv(records, r).front() == 0) ++a_first;
  }
  EXPECT_NEAR(a_first, 750, 10);
}

TEST(Rfc3263Test, WeightZeroComesFirstInLineButRarelyWins) {
  std::vector<SrvRecord> records = {{10, 100, 5060, "heavy.test", 60},
                                    {10, 0, 5060, "zero.test", 60}};
  FakeRandom zero_draw;  // draw 0 hits the weight-0 record placed first
  zero_draw.Push(0.0);
  EXPECT_THAT(OrderSrv(records, zero_draw), ElementsAre(1, 0));
  FakeRandom other;
  other.Push(0.5);
  EXPECT_THAT(OrderSrv(records, other), ElementsAre(0, 1));
}

TEST(Rfc3263Test, DotTargetMeansNoService) {
  std::vector<SrvRecord> records = {{10, 0, 0, ".", 60}, {20, 0, 5060, "b.test", 60}};
  FakeRandom random;
  EXPECT_THAT(OrderSrv(records, random), ElementsAre(1));
}

TEST(Rfc3263Test, TtlIsClampedBetweenFloorAndCap) {
  EXPECT_EQ(ClampTtl(0, 5, 300), 5u);
  EXPECT_EQ(ClampTtl(60, 5, 300), 60u);
  EXPECT_EQ(ClampTtl(86400, 5, 300), 300u);
  EXPECT_EQ(ClampTtl(60, 30, 10), 30u);  // a cap below the floor: the floor wins
}

TEST(Rfc3263Test, DnsNamesCompareWithoutCaseAndTrailingDot) {
  EXPECT_TRUE(SameDnsName("Carrier.Test.", "carrier.test"));
  EXPECT_FALSE(SameDnsName("carrier.test", "carrier.tests"));
}

}  // namespace
}  // namespace trunkroute::sip
