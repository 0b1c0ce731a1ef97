// TargetResolver: RFC 3263 resolution order, TTL refresh and serving the last good answer,
// under simulated time with a fake DNS client.
#include "sip/target_resolver.h"

#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "tests/sip/fake_dns_client.h"
#include "tests/support/simulated_clock.h"

namespace trunkroute::sip {
namespace {

using ::testing::ElementsAre;
using testing::FakeDnsClient;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::trunkroute::testing::FakeRandom;
using ::trunkroute::testing::SimulatedClock;

std::shared_ptr<const router::RoutingTable> Table(const std::string& trunks) {
  v1::Config config;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(trunks, &config));
  auto table = router::RoutingTable::Create(config);
  EXPECT_TRUE(table.ok()) << table.status();
  return *table;
}

std::vector<std::string> Keys(const TrunkTargets& t) {
  std::vector<std::string> out;
  for (const ResolvedTarget& r : t.targets) out.push_back(r.key);
  return out;
}

class TargetResolverTest : public ::testing::Test {
 protected:
  TargetResolverTest() {
    options_.support.tls = true;
    options_.ttl_floor_s = 5;
    options_.ttl_cap_s = 300;
  }
  void Make() {
    resolver_ = std::make_unique<TargetResolver>(
        &dns_, &clock_, options_,
        [this](const std::shared_ptr<const TrunkTargets>& t) { published_.push_back(t); });
  }
  void Sync(const std::string& trunks) {
    if (resolver_ == nullptr) Make();
    resolver_->Sync(*Table(trunks));
  }
  // Moves time to the resolver's next deadline (which must be `expected_s` away) and ticks.
  void AdvanceToRefresh(int64_t expected_s) {
    const MonoTime deadline = resolver_->NextDeadline();
    ASSERT_NE(deadline, MonoTime::max());
    EXPECT_EQ(std::chrono::duration_cast<std::chrono::seconds>(deadline - clock_.Now()).count(),
              expected_s);
    clock_.Advance(deadline - clock_.Now());
    resolver_->Tick();
  }
  // A copy: Find() may hand out a fresh object (a trunk not answered yet).
  TrunkTargets Current(const std::string& id) { return *resolver_->Find(id); }

  // A carrier as its DNS would describe it: NAPTR → UDP SRV → two hosts.
  void CarrierZone(uint32_t ttl = 60) {
    dns_.Naptr("carrier.test", {{10, 10, "s", "SIP+D2U", "_sip._udp.carrier.test", ttl}}, ttl);
    dns_.Srv("_sip._udp.carrier.test",
             {{20, 10, 5071, "sbc2.carrier.test", ttl}, {10, 10, 5070, "sbc1.carrier.test", ttl}},
             ttl);
    dns_.A("sbc1.carrier.test", {"192.0.2.1"}, ttl);
    dns_.A("sbc2.carrier.test", {"192.0.2.2"}, ttl);
  }

  SimulatedClock clock_;
  FakeDnsClient dns_;
  ResolverOptions options_;
  std::unique_ptr<TargetResolver> resolver_;
  std::vector<std::shared_ptr<const TrunkTargets>> published_;
};

constexpr char kCarrier[] = R"pb(trunks { id: "c" host: "carrier.test" })pb";

TEST_F(TargetResolverTest, NaptrThenSrvThenAddressesInPriorityOrder) {
  CarrierZone();
  Sync(kCarrier);
  EXPECT_THAT(dns_.TakeLog(), ElementsAre("NAPTR carrier.test"));
  EXPECT_FALSE(Current("c").resolved);
  dns_.Deliver();
  EXPECT_THAT(dns_.TakeLog(), ElementsAre("SRV _sip._udp.carrier.test", "A sbc1.carrier.test",
                                          "A sbc2.carrier.test"));
  const TrunkTargets t = Current("c");
  EXPECT_TRUE(t.resolved);
  EXPECT_TRUE(t.from_dns);
  EXPECT_FALSE(t.stale);
  EXPECT_THAT(Keys(t), ElementsAre("192.0.2.1:5070", "192.0.2.2:5071"));
  EXPECT_EQ(t.targets[0].transport, v1::TRANSPORT_UDP) << "the transport comes from NAPTR";
  EXPECT_EQ(t.targets[0].priority, 10);
  ASSERT_EQ(published_.size(), 1u);
}

TEST_F(TargetResolverTest, WithoutNaptrTheSrvNamesAreTriedTlsFirstUntilOneAnswers) {
  dns_.Srv("_sip._tcp.carrier.test", {{10, 10, 5080, "sbc1.carrier.test", 60}}, 60);
  dns_.A("sbc1.carrier.test", {"192.0.2.1"}, 60);
  Sync(kCarrier);
  dns_.Deliver();
  EXPECT_THAT(dns_.TakeLog(), ElementsAre("NAPTR carrier.test", "SRV _sips._tcp.carrier.test",
                                          "SRV _sip._tcp.carrier.test", "A sbc1.carrier.test"));
  EXPECT_THAT(Keys(Current("c")), ElementsAre("192.0.2.1:5080"));
  EXPECT_EQ(Current("c").targets[0].transport, v1::TRANSPORT_TCP);
}

TEST_F(TargetResolverTest, NaptrForAnUnsupportedTransportIsSkipped) {
  options_.support.tls = false;
  dns_.Naptr("carrier.test",
             {{10, 10, "s", "SIPS+D2T", "_sips._tcp.carrier.test", 60},
              {20, 10, "s", "SIP+D2U", "_sip._udp.carrier.test", 60}},
             60);
  dns_.Srv("_sip._udp.carrier.test", {{10, 10, 5070, "sbc1.carrier.test", 60}}, 60);
  dns_.A("sbc1.carrier.test", {"192.0.2.1"}, 60);
  Sync(kCarrier);
  dns_.Deliver();
  EXPECT_THAT(dns_.TakeLog(), ElementsAre("NAPTR carrier.test", "SRV _sip._udp.carrier.test",
                                          "A sbc1.carrier.test"));
}

TEST_F(TargetResolverTest, NoSrvFallsBackToTheHostsAddressOnTheDefaultPort) {
  dns_.A("carrier.test", {"192.0.2.9"}, 60);
  Sync(kCarrier);
  dns_.Deliver();
  // Unset transport: TLS (design.md §2), on 5061.
  EXPECT_THAT(Keys(Current("c")), ElementsAre("192.0.2.9:5061"));
  EXPECT_EQ(Current("c").targets[0].transport, v1::TRANSPORT_TLS);
}

TEST_F(TargetResolverTest, AConfiguredTransportSkipsNaptr) {
  dns_.Srv("_sip._udp.carrier.test", {{10, 10, 5070, "sbc1.carrier.test", 60}}, 60);
  dns_.A("sbc1.carrier.test", {"192.0.2.1"}, 60);
  Sync(R"pb(trunks { id: "c" host: "carrier.test" transport: TRANSPORT_UDP })pb");
  dns_.Deliver();
  EXPECT_THAT(dns_.TakeLog(), ElementsAre("SRV _sip._udp.carrier.test", "A sbc1.carrier.test"));
}

TEST_F(TargetResolverTest, AConfiguredPortSkipsSrv) {
  CarrierZone();
  dns_.A("carrier.test", {"192.0.2.7", "192.0.2.8"}, 60);
  Sync(R"pb(trunks { id: "c" host: "carrier.test" port: 5099 transport: TRANSPORT_TCP })pb");
  dns_.Deliver();
  EXPECT_THAT(dns_.TakeLog(), ElementsAre("A carrier.test"));  // RFC 3263 §4.2
  EXPECT_THAT(Keys(Current("c")), ElementsAre("192.0.2.7:5099", "192.0.2.8:5099"));
}

TEST_F(TargetResolverTest, AnIpLiteralSkipsDns) {
  Sync(R"pb(trunks { id: "ip" host: "192.0.2.5" port: 5070 transport: TRANSPORT_UDP })pb");
  EXPECT_THAT(dns_.TakeLog(), IsEmpty());
  const TrunkTargets t = Current("ip");
  EXPECT_TRUE(t.resolved);
  EXPECT_FALSE(t.from_dns);
  EXPECT_THAT(Keys(t), ElementsAre("192.0.2.5:5070"));
  EXPECT_EQ(resolver_->NextDeadline(), MonoTime::max());
}

TEST_F(TargetResolverTest, ReResolvesAtTheSmallestTtlOfTheChain) {
  CarrierZone(/*ttl=*/120);
  dns_.A("sbc1.carrier.test", {"192.0.2.1"}, 30);  // the shortest TTL in the chain
  Sync(kCarrier);
  dns_.Deliver();
  dns_.TakeLog();
  // The carrier moves sbc1 while we wait.
  dns_.A("sbc1.carrier.test", {"192.0.2.11"}, 30);
  AdvanceToRefresh(30);
  EXPECT_THAT(dns_.TakeLog(), ElementsAre("NAPTR carrier.test"));
  EXPECT_THAT(Keys(Current("c")), ElementsAre("192.0.2.1:5070", "192.0.2.2:5071"))
      << "the old answer serves until the new one is complete";
  dns_.Deliver();
  EXPECT_THAT(Keys(Current("c")), ElementsAre("192.0.2.11:5070", "192.0.2.2:5071"));
  EXPECT_EQ(published_.size(), 2u);
}

TEST_F(TargetResolverTest, TtlIsClampedToTheFloorAndTheCap) {
  CarrierZone(/*ttl=*/0);
  Sync(kCarrier);
  dns_.Deliver();
  AdvanceToRefresh(5);  // TTL 0: the floor
  CarrierZone(/*ttl=*/86400);
  dns_.Deliver();
  AdvanceToRefresh(300);  // a day: the cap
}

TEST_F(TargetResolverTest, DnsServerDownKeepsTheLastGoodAnswerAndRetriesAtTheFloor) {
  CarrierZone(/*ttl=*/60);
  Sync(kCarrier);
  dns_.Deliver();
  dns_.down = true;
  AdvanceToRefresh(60);
  dns_.Deliver();
  const TrunkTargets t = Current("c");
  EXPECT_THAT(Keys(t), ElementsAre("192.0.2.1:5070", "192.0.2.2:5071"));
  EXPECT_TRUE(t.stale);
  EXPECT_THAT(t.error, HasSubstr("timeout"));
  AdvanceToRefresh(5);  // retried after the floor
  dns_.Deliver();
  EXPECT_TRUE(Current("c").stale);
  dns_.down = false;
  AdvanceToRefresh(5);
  dns_.Deliver();
  EXPECT_FALSE(Current("c").stale);
  EXPECT_THAT(Current("c").error, IsEmpty());
  EXPECT_THAT(Keys(Current("c")), ElementsAre("192.0.2.1:5070", "192.0.2.2:5071"));
}

TEST_F(TargetResolverTest, FailureMidChainKeepsTheWholeLastGoodAnswer) {
  CarrierZone(/*ttl=*/60);
  Sync(kCarrier);
  dns_.Deliver();
  // NAPTR and SRV still answer, but one host's A lookup fails: no partial answer replaces the
  // good one.
  dns_.failing = {"sbc2.carrier.test"};
  AdvanceToRefresh(60);
  dns_.Deliver();
  EXPECT_TRUE(Current("c").stale);
  EXPECT_THAT(Current("c").error, HasSubstr("A sbc2.carrier.test: SERVFAIL"));
  EXPECT_THAT(Keys(Current("c")), ElementsAre("192.0.2.1:5070", "192.0.2.2:5071"));
  // NXDOMAIN for one host, though, is an answer: that host is gone.
  dns_.failing.clear();
  dns_.Remove(DnsType::kA, "sbc2.carrier.test");
  AdvanceToRefresh(5);
  dns_.Deliver();
  EXPECT_FALSE(Current("c").stale);
  EXPECT_THAT(Keys(Current("c")), ElementsAre("192.0.2.1:5070"));
}

TEST_F(TargetResolverTest, AnAuthoritativeNoSuchNameEmptiesTheTargets) {
  CarrierZone(/*ttl=*/60);
  Sync(kCarrier);
  dns_.Deliver();
  dns_.Clear();  // the carrier's zone is gone: NXDOMAIN everywhere
  AdvanceToRefresh(60);
  dns_.Deliver();
  EXPECT_THAT(Keys(Current("c")), IsEmpty());
  EXPECT_FALSE(Current("c").stale);
  EXPECT_THAT(Current("c").error, HasSubstr("no SRV or A/AAAA records for carrier.test"));
  AdvanceToRefresh(5);
  // The same when NAPTR still answers (with a long TTL) but nothing behind it does.
  dns_.Naptr("carrier.test", {{10, 10, "s", "SIP+D2U", "_sip._udp.carrier.test", 3600}}, 3600);
  dns_.Deliver();
  EXPECT_THAT(Keys(Current("c")), IsEmpty());
  AdvanceToRefresh(5);
}

TEST_F(TargetResolverTest, FirstResolutionFailingLeavesNoTargetAndSaysWhy) {
  dns_.down = true;
  Sync(kCarrier);
  dns_.Deliver();
  EXPECT_TRUE(Current("c").resolved);
  EXPECT_THAT(Keys(Current("c")), IsEmpty());
  EXPECT_THAT(Current("c").error, HasSubstr("NAPTR carrier.test: timeout"));
}

TEST_F(TargetResolverTest, AnAddressChangeDropsAnswersForTheOldOne) {
  CarrierZone();
  dns_.A("other.test", {"198.51.100.1"}, 60);
  Sync(kCarrier);
  // Before the old host's answer arrives, the config points the trunk elsewhere.
  Sync(R"pb(trunks { id: "c" host: "other.test" port: 5060 transport: TRANSPORT_UDP })pb");
  dns_.Deliver();
  EXPECT_THAT(Keys(Current("c")), ElementsAre("198.51.100.1:5060"));
  for (const auto& p : published_) EXPECT_EQ(p->host, "other.test");
  // An unchanged trunk is not resolved again by the next Sync.
  dns_.TakeLog();
  Sync(R"pb(trunks { id: "c" host: "other.test" port: 5060 transport: TRANSPORT_UDP })pb");
  EXPECT_THAT(dns_.TakeLog(), IsEmpty());
  Sync(R"pb(trunks { id: "d" host: "192.0.2.1" })pb");
  EXPECT_EQ(resolver_->Find("c"), nullptr);
}

TEST_F(TargetResolverTest, AtMostEightTargetsPerTrunk) {
  std::vector<SrvRecord> records;
  for (int i = 0; i < 12; ++i) {
    const std::string host = absl::StrCat("sbc", i, ".carrier.test");
    records.push_back({static_cast<uint16_t>(i), 10, 5060, host, 60});
    dns_.A(host, {absl::StrCat("192.0.2.", i + 1)}, 60);
  }
  dns_.Srv("_sip._udp.carrier.test", records, 60);
  Sync(R"pb(trunks { id: "c" host: "carrier.test" transport: TRANSPORT_UDP })pb");
  dns_.Deliver();
  EXPECT_EQ(Current("c").targets.size(), kMaxTargetsPerTrunk);
  EXPECT_EQ(Current("c").targets.back().key, "192.0.2.8:5060");
}

TEST_F(TargetResolverTest, EachCallDrawsTheWeightedOrderOfEqualPriorities) {
  dns_.Srv("_sip._udp.carrier.test",
           {{10, 60, 5070, "sbc1.carrier.test", 60},
            {10, 40, 5071, "sbc2.carrier.test", 60},
            {20, 0, 5072, "backup.carrier.test", 60}},
           60);
  dns_.A("sbc1.carrier.test", {"192.0.2.1", "192.0.2.11"}, 60);
  dns_.A("sbc2.carrier.test", {"192.0.2.2"}, 60);
  dns_.A("backup.carrier.test", {"192.0.2.3"}, 60);
  Sync(R"pb(trunks { id: "c" host: "carrier.test" transport: TRANSPORT_UDP })pb");
  dns_.Deliver();
  auto keys = [](const std::vector<const ResolvedTarget*>& order) {
    std::vector<std::string> out;
    for (const ResolvedTarget* t : order) out.push_back(t->key);
    return out;
  };
  FakeRandom low;
  low.Push(0.1);  // 10 ≤ 60: sbc1 (both of its addresses), then sbc2
  EXPECT_THAT(keys(OrderForCall(Current("c"), low)),
              ElementsAre("192.0.2.1:5070", "192.0.2.11:5070", "192.0.2.2:5071", "192.0.2.3:5072"));
  FakeRandom high;
  high.Push(0.9);  // 90 > 60: sbc2 first
  EXPECT_THAT(keys(OrderForCall(Current("c"), high)),
              ElementsAre("192.0.2.2:5071", "192.0.2.1:5070", "192.0.2.11:5070", "192.0.2.3:5072"));
}

}  // namespace
}  // namespace trunkroute::sip
