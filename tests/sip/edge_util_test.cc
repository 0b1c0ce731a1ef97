// Helpers of the SIP edge that need no network: caller-ID per trunk policy, loop detection on
// Via, listen-address parsing, digest credential strings, probe URIs.
#include "sip/edge_util.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace trunkroute::sip {
namespace {

using ::testing::HasSubstr;

router::CompiledTrunk Trunk(v1::CallerIdMode mode) {
  router::CompiledTrunk t;
  t.id = "carrier";
  t.host = "sip.carrier.example";
  t.caller_id.set_mode(mode);
  return t;
}

const CallerIdentity kAlice = {
    .from = "\"Alice\" <sip:5550001111@pbx.example>",
    .pai = "<sip:5550001111@pbx.example>",
};

TEST(IdentityForTrunkTest, PreserveKeepsFromAndPai) {
  CallerIdentity id = IdentityForTrunk(kAlice, Trunk(v1::CALLER_ID_MODE_PRESERVE), "5550001111");
  EXPECT_EQ(id.from, kAlice.from);
  EXPECT_EQ(id.pai, kAlice.pai);
  EXPECT_EQ(id.warning, "");
}

TEST(IdentityForTrunkTest, E164RewritesToPlusNumberAtTheTrunkDomainKeepingTheDisplayName) {
  router::CompiledTrunk t = Trunk(v1::CALLER_ID_MODE_E164);
  t.caller_id.set_default_country_code("1");
  CallerIdentity id = IdentityForTrunk(kAlice, t, "5550001111");
  EXPECT_EQ(id.from, "\"Alice\" <sip:+15550001111@sip.carrier.example>");
  EXPECT_EQ(id.pai, "<sip:+15550001111@sip.carrier.example>");
}

TEST(IdentityForTrunkTest, E164UsesTheConfiguredDomain) {
  router::CompiledTrunk t = Trunk(v1::CALLER_ID_MODE_E164);
  t.caller_id.set_domain("calls.example.com");
  CallerIdentity id = IdentityForTrunk(kAlice, t, "+445550001111");
  EXPECT_EQ(id.pai, "<sip:+445550001111@calls.example.com>");
}

TEST(IdentityForTrunkTest, CallerThatCannotBeMadeE164IsPreservedWithAWarning) {
  CallerIdentity id = IdentityForTrunk(kAlice, Trunk(v1::CALLER_ID_MODE_E164), "anonymous");
  EXPECT_EQ(id.from, kAlice.from);
  EXPECT_THAT(id.warning, HasSubstr("caller-ID not rewritten for trunk carrier"));
}

TEST(IdentityForTrunkTest, FixedPresentsTheConfiguredNumber) {
  router::CompiledTrunk t = Trunk(v1::CALLER_ID_MODE_FIXED);
  t.caller_id.set_fixed_number("+18005550100");
  CallerIdentity id = IdentityForTrunk(kAlice, t, "5550001111");
  EXPECT_EQ(id.from, "\"Alice\" <sip:+18005550100@sip.carrier.example>");
  EXPECT_EQ(id.pai, "<sip:+18005550100@sip.carrier.example>");
}

TEST(DialedNumberOfTest, TakesTheUserOfSipAndTheNumberOfTel) {
  su_home_t home[1] = {};
  su_home_init(home);
  EXPECT_EQ(DialedNumberOf(url_make(home, "sip:+15551234567@edge.example;user=phone")),
            "+15551234567");
  EXPECT_EQ(DialedNumberOf(url_make(home, "tel:+15551234567")), "+15551234567");
  EXPECT_EQ(DialedNumberOf(url_make(home, "sip:edge.example")), "");
  EXPECT_EQ(DialedNumberOf(nullptr), "");
  su_home_deinit(home);
}

TEST(UserOfNameAddrTest, TakesTheUserPart) {
  EXPECT_EQ(UserOfNameAddr("\"A\" <sip:+1555@x.example>;tag=1"), "+1555");
  EXPECT_EQ(UserOfNameAddr("<sips:alice@x.example;transport=tls>"), "alice");
  EXPECT_EQ(UserOfNameAddr("<tel:+15551234567;phone-context=x>"), "+15551234567");
  EXPECT_EQ(UserOfNameAddr("<sip:x.example>"), "");
  EXPECT_EQ(UserOfNameAddr(""), "");
}

TEST(ParseHostPortTest, AcceptsIpv4Ipv6AndDefaults) {
  auto a = ParseHostPort("127.0.0.1:5080", 5060, "f");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a, (HostPort{"127.0.0.1", 5080}));
  auto b = ParseHostPort("[::1]:5061", 5060, "f");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*b, (HostPort{"::1", 5061}));
  auto c = ParseHostPort("sbc.example.com", 5060, "f");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*c, (HostPort{"sbc.example.com", 5060}));
}

TEST(ParseHostPortTest, RejectsBadPortsNamingTheField) {
  auto a = ParseHostPort("127.0.0.1:0", 5060, "sip listen");
  EXPECT_EQ(a.status().message(), "sip listen: bad port in \"127.0.0.1:0\" (1-65535)");
  EXPECT_FALSE(ParseHostPort("127.0.0.1:70000", 5060, "f").ok());
  EXPECT_FALSE(ParseHostPort("127.0.0.1:", 5060, "f").ok());
  EXPECT_FALSE(ParseHostPort(":5060", 5060, "f").ok());
  EXPECT_FALSE(ParseHostPort("[::1", 5060, "f").ok());
  EXPECT_EQ(ParseHostPort("", 5060, "f").status().message(), "f: empty address");
}

class ViaTest : public ::testing::Test {
 protected:
  ViaTest() { su_home_init(home_); }
  ~ViaTest() override { su_home_deinit(home_); }
  sip_via_t* Via(const char* text) { return sip_via_make(home_, text); }
  su_home_t home_[1] = {};
  std::vector<HostPort> own_ = {{"127.0.0.1", 5060}, {"edge.example.com", 5060}};
};

TEST_F(ViaTest, OurOwnAddressAnywhereInTheViaStackIsALoop) {
  sip_via_t* v = Via("SIP/2.0/UDP 10.0.0.9:5070;branch=z9hG4bK1");
  v->v_next = Via("SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK2");
  EXPECT_TRUE(ViaNamesUs(v, own_));
  EXPECT_TRUE(ViaNamesUs(Via("SIP/2.0/TCP EDGE.example.com;branch=z9hG4bK3"), own_))
      << "default port 5060, host compared without case";
}

TEST_F(ViaTest, OtherAddressesAreNot) {
  EXPECT_FALSE(ViaNamesUs(Via("SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1"), own_));
  EXPECT_FALSE(ViaNamesUs(Via("SIP/2.0/TLS edge.example.com;branch=z9hG4bK1"), own_))
      << "TLS defaults to 5061";
  EXPECT_FALSE(ViaNamesUs(nullptr, own_));
}

TEST(DigestCredentialsTest, IsSofiasAuthString) {
  EXPECT_EQ(DigestCredentials("trunk.example", "acme", "s3cret"),
            "Digest:\"trunk.example\":acme:s3cret");
}

TEST(TargetUriTest, NamesTheTransport) {
  EXPECT_EQ(TargetUri("10.0.0.1", 5060, v1::TRANSPORT_UDP), "sip:10.0.0.1:5060;transport=udp");
  EXPECT_EQ(TargetUri("::1", 5061, v1::TRANSPORT_TLS), "sip:[::1]:5061;transport=tls");
  EXPECT_EQ(TargetUri("sbc.example", 5060, v1::TRANSPORT_TCP),
            "sip:sbc.example:5060;transport=tcp");
}

}  // namespace
}  // namespace trunkroute::sip
