#include "router/config_validator.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/router/router_test_util.h"

namespace trunkroute::router {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::ParseConfig;
using testing::StatusIs;

constexpr absl::StatusCode kInvalid = absl::StatusCode::kInvalidArgument;

// A small valid config: two carriers and an inbound Genesys site.
v1::Config ValidConfig() {
  return ParseConfig(R"pb(
    trunks { id: "carrier-a" host: "sip.carrier-a.example.com" }
    trunks { id: "carrier-b" host: "192.0.2.10" port: 5060 transport: TRANSPORT_UDP
             allow_cidrs: "192.0.2.0/24" }
    trunks { id: "gen" host: "2001:db8::10" transport: TRANSPORT_TCP
             allow_cidrs: "2001:db8::/32" }
    routes { id: "main" priority: 10 pattern: "\\+1[2-9]\\d{9}" trunk_ids: "carrier-a"
             trunk_ids: "carrier-b" }
    routes { id: "uk" priority: 20 pattern: "\\+44\\d{9,10}" trunk_ids: "carrier-b"
             ingress_trunk_id: "gen" }
  )pb");
}

TEST(ValidateConfigTest, AcceptsValidConfig) { EXPECT_TRUE(ValidateConfig(ValidConfig()).ok()); }

TEST(ValidateConfigTest, AcceptsEmptyConfig) { EXPECT_TRUE(ValidateConfig(v1::Config()).ok()); }

TEST(ValidateConfigTest, RejectsBadRe2Pattern) {
  v1::Config config = ValidConfig();
  config.mutable_routes(1)->set_pattern("(foo");
  EXPECT_THAT(ValidateConfig(config),
              StatusIs(kInvalid, HasSubstr("routes[1].pattern: invalid RE2 pattern: missing ): "
                                           "(foo")));
}

TEST(ValidateConfigTest, RejectsEmptyPattern) {
  v1::Config config = ValidConfig();
  config.mutable_routes(0)->clear_pattern();
  EXPECT_THAT(ValidateConfig(config), StatusIs(kInvalid, HasSubstr("routes[0].pattern: required")));
}

TEST(ValidateConfigTest, RejectsBadCallerIdPattern) {
  v1::Config config = ValidConfig();
  config.mutable_routes(0)->set_caller_id_pattern("[0-9");
  EXPECT_THAT(ValidateConfig(config),
              StatusIs(kInvalid, HasSubstr("routes[0].caller_id_pattern: invalid RE2 pattern")));
}

TEST(ValidateConfigTest, RejectsUnknownTrunkInRoute) {
  v1::Config config = ValidConfig();
  config.mutable_routes(0)->set_trunk_ids(1, "x");
  EXPECT_THAT(ValidateConfig(config),
              StatusIs(kInvalid, HasSubstr("routes[0].trunk_ids[1]: unknown trunk 'x'")));
}

TEST(ValidateConfigTest, RejectsUnknownIngressTrunk) {
  v1::Config config = ValidConfig();
  config.mutable_routes(1)->set_ingress_trunk_id("nowhere");
  EXPECT_THAT(ValidateConfig(config),
              StatusIs(kInvalid, HasSubstr("routes[1].ingress_trunk_id: unknown trunk 'nowhere'")));
}

TEST(ValidateConfigTest, RejectsDuplicateTrunkId) {
  v1::Config config = ValidConfig();
  config.mutable_trunks(2)->set_id("carrier-a");
  config.mutable_routes(1)->clear_ingress_trunk_id();
  EXPECT_THAT(ValidateConfig(config),
              StatusIs(kInvalid,
                       HasSubstr("trunks[2].id: duplicate id 'carrier-a' (also trunks[0])")));
}

TEST(ValidateConfigTest, RejectsDuplicateRouteId) {
  v1::Config config = ValidConfig();
  config.mutable_routes(1)->set_id("main");
  EXPECT_THAT(ValidateConfig(config),
              StatusIs(kInvalid, HasSubstr("routes[1].id: duplicate id 'main' (also routes[0])")));
}

TEST(ValidateConfigTest, RejectsPriorityTie) {
  v1::Config config = ValidConfig();
  config.mutable_routes(1)->set_priority(10);
  EXPECT_THAT(ValidateConfig(config),
              StatusIs(kInvalid, HasSubstr("routes[1].priority: 10 is also the priority of "
                                           "routes[0] ('main'); ties are not allowed")));
}

TEST(ValidateConfigTest, RejectsIngressTrunkInOwnTrunkList) {
  v1::Config config = ValidConfig();
  config.mutable_routes(1)->set_trunk_ids(0, "gen");
  EXPECT_THAT(ValidateConfig(config),
              StatusIs(kInvalid, HasSubstr("routes[1].trunk_ids[0]: 'gen' is the route's ingress "
                                           "trunk; a call would loop back to where it came "
                                           "from")));
}

TEST(ValidateConfigTest, RejectsTrunkListedTwice) {
  v1::Config config = ValidConfig();
  config.mutable_routes(0)->set_trunk_ids(1, "carrier-a");
  EXPECT_THAT(ValidateConfig(config),
              StatusIs(kInvalid, HasSubstr("routes[0].trunk_ids[1]: 'carrier-a' is listed twice "
                                           "(also trunk_ids[0])")));
}

TEST(ValidateConfigTest, RejectsRouteWithoutTrunksOrMoreThan16) {
  v1::Config config = ValidConfig();
  config.mutable_routes(0)->clear_trunk_ids();
  EXPECT_THAT(ValidateConfig(config),
              StatusIs(kInvalid, HasSubstr("routes[0].trunk_ids: required: at least one")));
  config = ValidConfig();
  for (int i = 0; i < 15; ++i) config.mutable_routes(0)->add_trunk_ids("carrier-a");
  EXPECT_THAT(ValidateConfig(config),
              StatusIs(kInvalid, HasSubstr("routes[0].trunk_ids: 17 trunks; a route lists at "
                                           "most 16")));
}

TEST(ValidateConfigTest, RejectsMalformedIds) {
  v1::Config config = ValidConfig();
  config.mutable_trunks(0)->set_id("carrier a");
  config.mutable_routes(0)->set_id(std::string(65, 'r'));
  config.mutable_routes(1)->clear_id();
  const absl::Status status = ValidateConfig(config);
  EXPECT_THAT(status, StatusIs(kInvalid, HasSubstr("trunks[0].id: 'carrier a' is not a valid id: "
                                                   "use 1–64 characters of [A-Za-z0-9_.-]")));
  EXPECT_THAT(status, StatusIs(kInvalid, HasSubstr("routes[0].id: 'rrrr")));
  EXPECT_THAT(status, StatusIs(kInvalid, HasSubstr("routes[1].id: required")));
}

TEST(ValidateConfigTest, RejectsMissingOrMalformedHost) {
  v1::Config config = ValidConfig();
  config.mutable_trunks(0)->clear_host();
  config.mutable_trunks(1)->set_host("sip.example.com:5060");
  const absl::Status status = ValidateConfig(config);
  EXPECT_THAT(status, StatusIs(kInvalid, HasSubstr("trunks[0].host: required")));
  EXPECT_THAT(status, StatusIs(kInvalid, HasSubstr("trunks[1].host: 'sip.example.com:5060' is not "
                                                   "a hostname or IP address (put the port in the "
                                                   "port field)")));
}

TEST(ValidateConfigTest, AcceptsBracketedIpv6Host) {
  v1::Config config = ValidConfig();
  config.mutable_trunks(0)->set_host("[2001:db8::1]");
  EXPECT_TRUE(ValidateConfig(config).ok());
}

TEST(ValidateConfigTest, RejectsPortAbove65535) {
  v1::Config config = ValidConfig();
  config.mutable_trunks(0)->set_port(70000);
  EXPECT_THAT(ValidateConfig(config),
              StatusIs(kInvalid, HasSubstr("trunks[0].port: 70000 is out of bounds 1–65535")));
}

TEST(ValidateConfigTest, RejectsBadCidrs) {
  v1::Config config = ValidConfig();
  config.mutable_trunks(1)->add_allow_cidrs("192.0.2.0/33");
  config.mutable_trunks(2)->add_allow_cidrs("not-an-ip/8");
  config.mutable_edge()->add_allowed_sources("10.0.0.0/8");
  config.mutable_edge()->add_allowed_sources("10.0.0.0/");
  const absl::Status status = ValidateConfig(config);
  EXPECT_THAT(status, StatusIs(kInvalid, HasSubstr("trunks[1].allow_cidrs[1]: '192.0.2.0/33' is "
                                                   "not a CIDR (prefix length 33 is out of range "
                                                   "0–32 for IPv4")));
  EXPECT_THAT(status, StatusIs(kInvalid, HasSubstr("trunks[2].allow_cidrs[1]: 'not-an-ip/8' is "
                                                   "not a CIDR (bad address")));
  EXPECT_THAT(status, StatusIs(kInvalid, HasSubstr("edge.allowed_sources[1]: '10.0.0.0/' is not "
                                                   "a CIDR (bad prefix length")));
  EXPECT_THAT(status, StatusIs(kInvalid, Not(HasSubstr("allowed_sources[0]"))));
}

TEST(ValidateConfigTest, RejectsBadAdvertisedAddress) {
  v1::Config config = ValidConfig();
  config.mutable_edge()->set_advertised_address("sbc.example.com:99999");
  EXPECT_THAT(ValidateConfig(config),
              StatusIs(kInvalid, HasSubstr("edge.advertised_address: 'sbc.example.com:99999'")));
  config.mutable_edge()->set_advertised_address("[2001:db8::1]:5060");
  EXPECT_TRUE(ValidateConfig(config).ok());
}

TEST(ValidateConfigTest, EdgeMaxCallsIsBounded) {
  v1::Config config = ValidConfig();
  config.mutable_edge()->set_max_calls(1000001);
  EXPECT_THAT(ValidateConfig(config),
              StatusIs(kInvalid, HasSubstr("edge.max_calls: 1000001 is above the maximum 1000000 "
                                           "(0 means no limit)")));
  config.mutable_edge()->set_max_calls(1000000);
  EXPECT_TRUE(ValidateConfig(config).ok());
  config.mutable_edge()->set_max_calls(0);
  EXPECT_TRUE(ValidateConfig(config).ok());
}

TEST(ValidateConfigTest, EdgeCallRateCapsAreBoundedAndNamed) {
  v1::Config config = ValidConfig();
  config.mutable_edge()->set_max_cps(100001);
  config.mutable_edge()->set_retry_after_s(3601);
  absl::Status status = ValidateConfig(config);
  EXPECT_THAT(status, StatusIs(kInvalid, HasSubstr("edge.max_cps: 100001 is above the maximum "
                                                   "100000 calls per second (0 means no cap)")));
  EXPECT_THAT(status, StatusIs(kInvalid, HasSubstr("edge.retry_after_s: 3601 is above the "
                                                   "maximum 3600 seconds")));
  config.mutable_edge()->set_max_cps(0);
  config.mutable_edge()->set_retry_after_s(0);
  config.mutable_edge()->set_max_cps_per_source(100001);
  EXPECT_THAT(ValidateConfig(config),
              StatusIs(kInvalid, HasSubstr("edge.max_cps_per_source: 100001 is above the maximum "
                                           "100000")));
  // One source cannot be allowed more than every source together.
  config.mutable_edge()->set_max_cps(50);
  config.mutable_edge()->set_max_cps_per_source(60);
  EXPECT_THAT(ValidateConfig(config),
              StatusIs(kInvalid, HasSubstr("edge.max_cps_per_source: 60 is above edge.max_cps "
                                           "(50)")));
  config.mutable_edge()->set_max_cps_per_source(50);
  config.mutable_edge()->set_retry_after_s(3600);
  EXPECT_TRUE(ValidateConfig(config).ok());
  config.mutable_edge()->set_max_cps(0);  // per-source cap alone
  EXPECT_TRUE(ValidateConfig(config).ok());
}

TEST(ValidateConfigTest, RejectsSetupTimeoutOutOfBounds) {
  v1::Config config = ValidConfig();
  config.mutable_failover_policy()->set_setup_timeout_ms(99);
  config.mutable_routes(0)->mutable_failover_policy()->set_setup_timeout_ms(32001);
  const absl::Status status = ValidateConfig(config);
  EXPECT_THAT(status, StatusIs(kInvalid, HasSubstr("failover_policy.setup_timeout_ms: 99 is out of "
                                                   "bounds 100–32000")));
  EXPECT_THAT(status, StatusIs(kInvalid, HasSubstr("routes[0].failover_policy.setup_timeout_ms: "
                                                   "32001 is out of bounds 100–32000")));
}

TEST(ValidateConfigTest, RejectsAttemptRetryAndBudgetBounds) {
  v1::Config config = ValidConfig();
  config.mutable_failover_policy()->set_max_attempts(0);
  config.mutable_failover_policy()->set_retries_per_trunk(4);
  config.mutable_routes(1)->mutable_failover_policy()->set_call_setup_budget_ms(120001);
  const absl::Status status = ValidateConfig(config);
  EXPECT_THAT(status, StatusIs(kInvalid, HasSubstr("failover_policy.max_attempts: 0 is out of "
                                                   "bounds 1–10")));
  EXPECT_THAT(status, StatusIs(kInvalid, HasSubstr("failover_policy.retries_per_trunk: 4 is out "
                                                   "of bounds 0–3")));
  EXPECT_THAT(status, StatusIs(kInvalid, HasSubstr("routes[1].failover_policy.call_setup_budget_ms:"
                                                   " 120001 is out of bounds 100–120000")));
}

TEST(ValidateConfigTest, RejectsFailoverCodesOutside300To699) {
  v1::Config config = ValidConfig();
  config.mutable_failover_policy()->add_failover_codes(503);
  config.mutable_failover_policy()->add_failover_codes(200);
  config.mutable_routes(0)->mutable_failover_policy()->add_failover_codes(700);
  const absl::Status status = ValidateConfig(config);
  EXPECT_THAT(status, StatusIs(kInvalid, HasSubstr("failover_policy.failover_codes[1]: 200 is not "
                                                   "a final failure response: use 300–699")));
  EXPECT_THAT(status, StatusIs(kInvalid, HasSubstr("routes[0].failover_policy.failover_codes[0]: "
                                                   "700")));
  EXPECT_THAT(status, StatusIs(kInvalid, Not(HasSubstr("failover_codes[0]: 503"))));
}

TEST(ValidateConfigTest, RejectsHoldDownMaxBelowBaseGlobally) {
  v1::Config config = ValidConfig();
  config.mutable_health_policy()->set_hold_down_base_ms(20000);
  config.mutable_health_policy()->set_hold_down_max_ms(10000);
  EXPECT_THAT(ValidateConfig(config),
              StatusIs(kInvalid, HasSubstr("health_policy.hold_down_max_ms: hold_down_max_ms "
                                           "10000 is less than hold_down_base_ms 20000")));
}

TEST(ValidateConfigTest, RejectsPerTrunkHoldDownBaseAboveInheritedMax) {
  v1::Config config = ValidConfig();
  config.mutable_health_policy()->set_hold_down_max_ms(60000);
  config.mutable_trunks(1)->mutable_health()->set_hold_down_base_ms(120000);
  EXPECT_THAT(ValidateConfig(config),
              StatusIs(kInvalid, HasSubstr("trunks[1].health.hold_down_base_ms: hold_down_max_ms "
                                           "60000 (inherited) is less than hold_down_base_ms "
                                           "120000")));
}

TEST(ValidateConfigTest, RejectsHealthPolicyBounds) {
  v1::Config config = ValidConfig();
  v1::HealthPolicy* global = config.mutable_health_policy();
  global->set_failure_threshold(0);
  global->set_probe_interval_up_ms(100);
  global->set_probe_timeout_ms(40000);
  global->set_hold_down_jitter_pct(101);
  global->add_probe_failure_codes(100);
  v1::HealthPolicy* trunk = config.mutable_trunks(0)->mutable_health();
  trunk->set_recovery_threshold(101);
  trunk->set_ramp_up_ms(600001);
  trunk->set_retry_after_max_ms(3600001);
  trunk->set_probe_interval_down_ms(99);
  const absl::Status status = ValidateConfig(config);
  for (const char* expected :
       {"health_policy.failure_threshold: 0 is out of bounds 1–100",
        "health_policy.probe_interval_up_ms: 100 is out of bounds 200–3600000",
        "health_policy.probe_timeout_ms: 40000 is out of bounds 50–32000",
        "health_policy.hold_down_jitter_pct: 101 is out of bounds 0–100",
        "health_policy.probe_failure_codes[0]: 100 is not a final failure response",
        "trunks[0].health.recovery_threshold: 101 is out of bounds 1–100",
        "trunks[0].health.ramp_up_ms: 600001 is out of bounds 0–600000",
        "trunks[0].health.retry_after_max_ms: 3600001 is out of bounds 0–3600000",
        "trunks[0].health.probe_interval_down_ms: 99 is out of bounds 100–3600000"}) {
    EXPECT_THAT(status, StatusIs(kInvalid, HasSubstr(expected)));
  }
}

TEST(ValidateConfigTest, RejectsFixedCallerIdWithoutE164Number) {
  v1::Config config = ValidConfig();
  config.mutable_trunks(0)->mutable_caller_id()->set_mode(v1::CALLER_ID_MODE_FIXED);
  config.mutable_trunks(1)->mutable_caller_id()->set_mode(v1::CALLER_ID_MODE_FIXED);
  config.mutable_trunks(1)->mutable_caller_id()->set_fixed_number("5551234567");
  const absl::Status status = ValidateConfig(config);
  EXPECT_THAT(status, StatusIs(kInvalid, HasSubstr("trunks[0].caller_id.fixed_number: required "
                                                   "with CALLER_ID_MODE_FIXED")));
  EXPECT_THAT(status, StatusIs(kInvalid, HasSubstr("trunks[1].caller_id.fixed_number: "
                                                   "'5551234567' is not E.164")));
}

TEST(ValidateConfigTest, AcceptsFixedCallerIdWithE164Number) {
  v1::Config config = ValidConfig();
  config.mutable_trunks(0)->mutable_caller_id()->set_mode(v1::CALLER_ID_MODE_FIXED);
  config.mutable_trunks(0)->mutable_caller_id()->set_fixed_number("+15551234567");
  EXPECT_TRUE(ValidateConfig(config).ok());
}

TEST(ValidateConfigTest, RejectsBadCallerIdCountryCodeAndDomain) {
  v1::Config config = ValidConfig();
  config.mutable_trunks(0)->mutable_caller_id()->set_default_country_code("0044");
  config.mutable_trunks(0)->mutable_caller_id()->set_domain("bad domain");
  const absl::Status status = ValidateConfig(config);
  EXPECT_THAT(status, StatusIs(kInvalid, HasSubstr("trunks[0].caller_id.default_country_code: "
                                                   "'0044' is not a country code")));
  EXPECT_THAT(status, StatusIs(kInvalid, HasSubstr("trunks[0].caller_id.domain: 'bad domain' is "
                                                   "not a hostname")));
}

TEST(ValidateConfigTest, RejectsBadAndDuplicateCodecNames) {
  v1::Config config = ValidConfig();
  config.mutable_trunks(0)->add_codecs("PCMU");
  config.mutable_trunks(0)->add_codecs("pcmu");
  config.mutable_trunks(0)->add_codecs("G.729 annex b");
  config.mutable_trunks(0)->add_codecs("");
  const absl::Status status = ValidateConfig(config);
  EXPECT_THAT(status, StatusIs(kInvalid, HasSubstr("trunks[0].codecs[1]: duplicate codec 'pcmu' "
                                                   "(also codecs[0])")));
  EXPECT_THAT(status, StatusIs(kInvalid, HasSubstr("trunks[0].codecs[2]: 'G.729 annex b' is not a "
                                                   "codec name")));
  EXPECT_THAT(status, StatusIs(kInvalid, HasSubstr("trunks[0].codecs[3]: '' is not a codec name")));
}

TEST(ValidateConfigTest, RejectsTransformOutOfBounds) {
  v1::Config config = ValidConfig();
  v1::NumberTransform* t = config.mutable_routes(0)->mutable_transform();
  t->set_strip_digits(16);
  t->set_prepend("9+1");
  t->set_default_country_code("1234");
  const absl::Status status = ValidateConfig(config);
  EXPECT_THAT(status, StatusIs(kInvalid, HasSubstr("routes[0].transform.strip_digits: 16 is out "
                                                   "of bounds 0–15")));
  EXPECT_THAT(status, StatusIs(kInvalid, HasSubstr("routes[0].transform.prepend: '9+1' is not a "
                                                   "dial prefix")));
  EXPECT_THAT(status, StatusIs(kInvalid, HasSubstr("routes[0].transform.default_country_code: "
                                                   "'1234' is not a country code")));
}

TEST(ValidateConfigTest, RejectsUnknownEnumValues) {
  v1::Config config = ValidConfig();
  config.mutable_trunks(0)->set_transport(static_cast<v1::Transport>(9));
  config.mutable_trunks(0)->set_admin_state(static_cast<v1::AdminState>(9));
  const absl::Status status = ValidateConfig(config);
  EXPECT_THAT(status, StatusIs(kInvalid, HasSubstr("trunks[0].transport: 9 is not a transport")));
  EXPECT_THAT(status,
              StatusIs(kInvalid, HasSubstr("trunks[0].admin_state: 9 is not an admin state")));
}

TEST(ValidateConfigTest, NeverQuotesThePassword) {
  v1::Config config = ValidConfig();
  config.mutable_trunks(0)->set_password(std::string(300, 's') + "hunter2");
  const absl::Status status = ValidateConfig(config);
  EXPECT_THAT(status, StatusIs(kInvalid, AllOf(HasSubstr("trunks[0].password: 307 characters"),
                                               Not(HasSubstr("hunter2")))));
}

TEST(ValidateConfigTest, ReportsEveryProblemAtOnceOneLineEach) {
  v1::Config config = ValidConfig();
  config.mutable_trunks(0)->set_port(0x10000);
  config.mutable_trunks(2)->set_id("carrier-b");
  config.mutable_routes(0)->set_pattern("(foo");
  config.mutable_routes(0)->add_trunk_ids("x");
  config.mutable_routes(1)->set_priority(10);
  config.mutable_failover_policy()->set_setup_timeout_ms(50);
  const absl::Status status = ValidateConfig(config);
  ASSERT_EQ(status.code(), kInvalid);
  const std::string message(status.message());
  EXPECT_EQ(message,
            "failover_policy.setup_timeout_ms: 50 is out of bounds 100–32000\n"
            "trunks[0].port: 65536 is out of bounds 1–65535\n"
            "routes[0].pattern: invalid RE2 pattern: missing ): (foo\n"
            "trunks[2].id: duplicate id 'carrier-b' (also trunks[1])\n"
            "routes[0].trunk_ids[2]: unknown trunk 'x'\n"
            "routes[1].priority: 10 is also the priority of routes[0] ('main'); ties are not "
            "allowed\n"
            "routes[1].ingress_trunk_id: unknown trunk 'gen'");
}

}  // namespace
}  // namespace trunkroute::router
