#include "router/routing_table.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "router/number.h"
#include "tests/router/router_test_util.h"

namespace trunkroute::router {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::ParseConfig;
using testing::StatusIs;

std::shared_ptr<const RoutingTable> MustCreate(const std::string& text) {
  auto table = RoutingTable::Create(ParseConfig(text));
  EXPECT_TRUE(table.ok()) << table.status();
  return table.ok() ? *table : nullptr;
}

// Routes listed out of priority order on purpose: the table must sort them.
constexpr char kDialPlan[] = R"pb(
  version: 7
  trunks { id: "a" host: "a.example.com" }
  trunks { id: "b" host: "b.example.com" }
  trunks { id: "gen" host: "gen.example.com" allow_cidrs: "198.51.100.0/24" }
  routes { id: "catch-all" priority: 1000 pattern: "\\+?\\d+" trunk_ids: "b" }
  routes { id: "nanp" priority: 20 pattern: "\\+1\\d{10}" trunk_ids: "a" trunk_ids: "b" }
  routes { id: "nyc" priority: 10 pattern: "\\+1212\\d{7}" trunk_ids: "b" }
  routes { id: "from-gen" priority: 5 pattern: "\\+1\\d{10}" trunk_ids: "b"
           ingress_trunk_id: "gen" }
  routes { id: "vip" priority: 1 pattern: "\\+1\\d{10}" trunk_ids: "a"
           caller_id_pattern: "\\+1800\\d{7}" }
)pb";

const std::string& MatchId(const RoutingTable& table, std::string_view number,
                           std::string_view caller = "", std::string_view ingress = "") {
  static const std::string kNone = "<none>";
  const CompiledRoute* route = table.Match(number, caller, ingress);
  return route == nullptr ? kNone : route->id;
}

TEST(RoutingTableTest, SortsRoutesByPriority) {
  auto table = MustCreate(kDialPlan);
  ASSERT_NE(table, nullptr);
  std::vector<std::string> ids;
  for (const CompiledRoute& route : table->routes()) ids.push_back(route.id);
  EXPECT_THAT(ids, ElementsAre("vip", "from-gen", "nyc", "nanp", "catch-all"));
  EXPECT_EQ(table->routes()[2].index, 2);
  EXPECT_EQ(table->FindRoute("nyc"), &table->routes()[2]);
  EXPECT_EQ(table->FindRoute("nope"), nullptr);
  EXPECT_EQ(table->version(), 7u);
}

TEST(RoutingTableTest, LowestPriorityNumberWins) {
  auto table = MustCreate(kDialPlan);
  EXPECT_EQ(MatchId(*table, "+12125551234"), "nyc");
  EXPECT_EQ(MatchId(*table, "+13125551234"), "nanp");
  EXPECT_EQ(MatchId(*table, "+4420794600"), "catch-all");
}

TEST(RoutingTableTest, PatternMustMatchTheWholeNumber) {
  auto table = MustCreate(R"pb(
    trunks { id: "a" host: "a.example.com" }
    routes { id: "nyc" priority: 1 pattern: "\\+1212555" trunk_ids: "a" }
  )pb");
  EXPECT_EQ(MatchId(*table, "+1212555"), "nyc");
  EXPECT_EQ(MatchId(*table, "+12125551234"), "<none>");
  EXPECT_EQ(MatchId(*table, "0+1212555"), "<none>");
}

TEST(RoutingTableTest, IngressRouteMatchesOnlyCallsFromItsTrunk) {
  auto table = MustCreate(kDialPlan);
  EXPECT_EQ(MatchId(*table, "+13125551234", "", "gen"), "from-gen");
  EXPECT_EQ(MatchId(*table, "+13125551234", "", "a"), "nanp");
  EXPECT_EQ(MatchId(*table, "+13125551234", "", ""), "nanp");
}

TEST(RoutingTableTest, CallerIdPatternRestrictsTheRoute) {
  auto table = MustCreate(kDialPlan);
  EXPECT_EQ(MatchId(*table, "+13125551234", "+18005550000"), "vip");
  EXPECT_EQ(MatchId(*table, "+13125551234", "+13125550000"), "nanp");
  EXPECT_EQ(MatchId(*table, "+13125551234", ""), "nanp");
}

TEST(RoutingTableTest, NoMatchReturnsNull) {
  auto table = MustCreate(R"pb(
    trunks { id: "a" host: "a.example.com" }
    routes { id: "nanp" priority: 1 pattern: "\\+1\\d{10}" trunk_ids: "a" }
  )pb");
  EXPECT_EQ(table->Match("+442079460000", "", ""), nullptr);
}

TEST(RoutingTableTest, EmptyTableMatchesNothing) {
  auto table = MustCreate("");
  EXPECT_EQ(table->Match("+15551234567", "", ""), nullptr);
  EXPECT_TRUE(table->Explain("+15551234567", "", "").empty());
}

TEST(RoutingTableTest, MatchesNormalisedSipUriInput) {
  auto table = MustCreate(kDialPlan);
  auto number = NormalizeNumber("sip:+1 (212) 555-1234@host;user=phone");
  ASSERT_TRUE(number.ok());
  EXPECT_EQ(MatchId(*table, *number), "nyc");
}

TEST(RoutingTableTest, ExplainListsTrialsUpToTheMatch) {
  auto table = MustCreate(kDialPlan);
  const auto trials = table->Explain("+12125551234", "+13125550000", "a");
  ASSERT_EQ(trials.size(), 3u);
  EXPECT_EQ(trials[0].route->id, "vip");
  EXPECT_FALSE(trials[0].matched);
  EXPECT_THAT(trials[0].reason, HasSubstr("caller +13125550000 does not match caller_id_pattern"));
  EXPECT_EQ(trials[1].route->id, "from-gen");
  EXPECT_THAT(trials[1].reason, HasSubstr("the route takes only calls from trunk 'gen' (this call "
                                          "came from 'a')"));
  EXPECT_EQ(trials[2].route->id, "nyc");
  EXPECT_TRUE(trials[2].matched);
  EXPECT_THAT(trials[2].reason, HasSubstr("matches +12125551234"));
}

TEST(RoutingTableTest, ExplainWithoutMatchListsEveryRoute) {
  auto table = MustCreate(kDialPlan);
  const auto trials = table->Explain("*72#", "", "");
  ASSERT_EQ(trials.size(), 5u);
  for (const auto& trial : trials) EXPECT_FALSE(trial.matched);
  EXPECT_THAT(trials[4].reason, HasSubstr("does not match *72#"));
}

TEST(RoutingTableTest, ResolvesTrunkDefaults) {
  auto table = MustCreate(R"pb(
    trunks { id: "tls" host: "carrier.example.com" codecs: "PCMU" codecs: "G729" }
    trunks { id: "udp" host: "192.0.2.1" transport: TRANSPORT_UDP }
    trunks { id: "tcp" host: "2001:db8::1" transport: TRANSPORT_TCP port: 5070
             caller_id { mode: CALLER_ID_MODE_E164 domain: "cid.example.com" }
             admin_state: ADMIN_STATE_DRAINING }
  )pb");
  ASSERT_NE(table, nullptr);
  const CompiledTrunk& tls = *table->FindTrunk("tls");
  EXPECT_EQ(tls.transport, v1::TRANSPORT_TLS);
  EXPECT_EQ(tls.port, 5061u);
  // A name without a port: the port (and here the transport) come from DNS (RFC 3263).
  EXPECT_EQ(tls.uri_suffix, "carrier.example.com");
  EXPECT_FALSE(tls.host_is_ip);
  EXPECT_FALSE(tls.port_configured);
  EXPECT_FALSE(tls.transport_configured);
  EXPECT_EQ(tls.caller_id.mode(), v1::CALLER_ID_MODE_PRESERVE);
  EXPECT_EQ(tls.caller_id.domain(), "carrier.example.com");
  EXPECT_THAT(tls.codecs, ElementsAre("pcmu", "g729"));
  EXPECT_EQ(tls.admin_state, v1::ADMIN_STATE_ENABLED);
  EXPECT_EQ(tls.index, 0);

  const CompiledTrunk& udp = *table->FindTrunk("udp");
  EXPECT_EQ(udp.port, 5060u);
  EXPECT_EQ(udp.uri_suffix, "192.0.2.1:5060");
  EXPECT_TRUE(udp.host_is_ip);
  EXPECT_TRUE(udp.transport_configured);
  EXPECT_THAT(udp.codecs, ElementsAre("pcmu", "pcma", "telephone-event"));

  const CompiledTrunk& tcp = *table->FindTrunk("tcp");
  EXPECT_EQ(tcp.uri_suffix, "[2001:db8::1]:5070;transport=tcp");
  EXPECT_TRUE(tcp.host_is_ip);
  EXPECT_TRUE(tcp.port_configured);
  EXPECT_EQ(tcp.host, "2001:db8::1");
  EXPECT_EQ(tcp.caller_id.mode(), v1::CALLER_ID_MODE_E164);
  EXPECT_EQ(tcp.caller_id.domain(), "cid.example.com");
  EXPECT_EQ(tcp.admin_state, v1::ADMIN_STATE_DRAINING);
  EXPECT_EQ(table->FindTrunk("nope"), nullptr);
}

TEST(RoutingTableTest, MergesGlobalPoliciesIntoRoutesAndTrunks) {
  auto table = MustCreate(R"pb(
    failover_policy { setup_timeout_ms: 2000 max_attempts: 3 }
    health_policy { failure_threshold: 5 hold_down_base_ms: 1000 }
    trunks { id: "a" host: "a.example.com" health { failure_threshold: 7 } }
    routes { id: "r" priority: 1 pattern: "\\d+" trunk_ids: "a"
             failover_policy { max_attempts: 2 failover_codes: 503 panic_when_all_down: false } }
  )pb");
  ASSERT_NE(table, nullptr);
  EXPECT_EQ(table->default_failover_policy().setup_timeout_ms, 2000u);
  EXPECT_EQ(table->default_failover_policy().max_attempts, 3u);
  EXPECT_EQ(table->default_health_policy().failure_threshold, 5u);
  const CompiledRoute& route = *table->FindRoute("r");
  EXPECT_EQ(route.policy.setup_timeout_ms, 2000u);
  EXPECT_EQ(route.policy.max_attempts, 2u);
  EXPECT_TRUE(route.policy.IsFailoverCode(503));
  EXPECT_FALSE(route.policy.IsFailoverCode(408));
  EXPECT_FALSE(route.policy.panic_when_all_down);
  const CompiledTrunk& trunk = *table->FindTrunk("a");
  EXPECT_EQ(trunk.health.failure_threshold, 7u);
  EXPECT_EQ(trunk.health.hold_down_base_ms, 1000u);
  EXPECT_EQ(trunk.health.hold_down_max_ms, kDefaultHoldDownMaxMs);
}

TEST(RoutingTableTest, CreateRejectsInvalidConfigWithValidationErrors) {
  auto table = RoutingTable::Create(ParseConfig(R"pb(
    trunks { id: "a" host: "a.example.com" }
    routes { id: "r" priority: 1 pattern: "(" trunk_ids: "a" }
  )pb"));
  EXPECT_THAT(table, StatusIs(absl::StatusCode::kInvalidArgument,
                              HasSubstr("routes[0].pattern: invalid RE2 pattern")));
}

TEST(RoutingTableTest, TrunkForSourceFindsFirstTrunkInConfigOrder) {
  auto table = MustCreate(R"pb(
    trunks { id: "a" host: "a.example.com" allow_cidrs: "10.0.0.0/8" }
    trunks { id: "b" host: "b.example.com" allow_cidrs: "10.1.0.0/16" allow_cidrs: "2001:db8::/32" }
  )pb");
  EXPECT_EQ(table->TrunkForSource("10.1.2.3")->id, "a");
  EXPECT_EQ(table->TrunkForSource("2001:db8:1::5")->id, "b");
  EXPECT_EQ(table->TrunkForSource("[2001:db8::1]")->id, "b");
  EXPECT_EQ(table->TrunkForSource("::ffff:10.9.9.9")->id, "a");
  EXPECT_EQ(table->TrunkForSource("192.0.2.1"), nullptr);
  EXPECT_EQ(table->TrunkForSource("garbage"), nullptr);
}

TEST(RoutingTableTest, EdgeAllowedSourcesDefaultToLoopback) {
  auto table = MustCreate("");
  ASSERT_EQ(table->edge_allowed_sources().size(), 2u);
  EXPECT_TRUE(table->edge_allowed_sources()[0].Contains("127.0.0.1"));
  EXPECT_TRUE(table->edge_allowed_sources()[1].Contains("::1"));
  auto custom = MustCreate(R"pb(edge { allowed_sources: "203.0.113.0/24" })pb");
  ASSERT_EQ(custom->edge_allowed_sources().size(), 1u);
  EXPECT_FALSE(custom->edge_allowed_sources()[0].Contains("127.0.0.1"));
}

TEST(CidrTest, ContainsIpv4) {
  auto cidr = Cidr::Parse("192.0.2.0/24");
  ASSERT_TRUE(cidr.ok());
  EXPECT_TRUE(cidr->Contains("192.0.2.0"));
  EXPECT_TRUE(cidr->Contains("192.0.2.255"));
  EXPECT_FALSE(cidr->Contains("192.0.3.0"));
  EXPECT_FALSE(cidr->Contains("2001:db8::1"));
  EXPECT_FALSE(cidr->Contains("not an ip"));
}

TEST(CidrTest, ContainsWithNonByteAlignedPrefix) {
  auto cidr = Cidr::Parse("10.0.0.0/13");
  ASSERT_TRUE(cidr.ok());
  EXPECT_TRUE(cidr->Contains("10.7.255.255"));
  EXPECT_FALSE(cidr->Contains("10.8.0.0"));
}

TEST(CidrTest, ContainsIpv6) {
  auto cidr = Cidr::Parse("2001:db8:abcd::/48");
  ASSERT_TRUE(cidr.ok());
  EXPECT_TRUE(cidr->v6);
  EXPECT_TRUE(cidr->Contains("2001:db8:abcd:1::1"));
  EXPECT_FALSE(cidr->Contains("2001:db8:abce::1"));
  EXPECT_FALSE(cidr->Contains("192.0.2.1"));
}

TEST(CidrTest, BareAddressIsAHostRoute) {
  auto v4 = Cidr::Parse("192.0.2.7");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->prefix_len, 32);
  EXPECT_TRUE(v4->Contains("192.0.2.7"));
  EXPECT_FALSE(v4->Contains("192.0.2.8"));
  auto v6 = Cidr::Parse("::1");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->prefix_len, 128);
}

TEST(CidrTest, ZeroPrefixContainsEverythingOfItsFamily) {
  auto any = Cidr::Parse("0.0.0.0/0");
  ASSERT_TRUE(any.ok());
  EXPECT_TRUE(any->Contains("203.0.113.9"));
  EXPECT_FALSE(any->Contains("::1"));
}

TEST(CidrTest, HostBitsAreCleared) {
  auto cidr = Cidr::Parse("192.0.2.77/24");
  ASSERT_TRUE(cidr.ok());
  EXPECT_TRUE(cidr->Contains("192.0.2.1"));
}

TEST(CidrTest, RejectsMalformedText) {
  EXPECT_THAT(Cidr::Parse("192.0.2.0/33"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("prefix length 33 is out of range 0–32 for IPv4")));
  EXPECT_THAT(Cidr::Parse("2001:db8::/129"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("0–128 for IPv6")));
  EXPECT_THAT(Cidr::Parse("192.0.2/24"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("bad address")));
  EXPECT_THAT(Cidr::Parse("10.0.0.0/-1"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("bad prefix length")));
  EXPECT_THAT(Cidr::Parse(""), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("bad address")));
}

}  // namespace
}  // namespace trunkroute::router
