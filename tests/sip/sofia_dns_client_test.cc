// Sofia's resolver (through SofiaDnsClient and TargetResolver) against a real DNS server:
// dnsmasq started by the test on a loopback port, stopped by PID. Time is real here: TTLs of a
// second and bounded polling.
#include "sip/sofia_dns_client.h"

#include <chrono>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "sip/target_resolver.h"
#include "tests/sip/dns_server.h"
#include "tests/sip/sipp.h"

namespace trunkroute::sip::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class RealClock final : public Clock {
 public:
  MonoTime Now() const override { return std::chrono::steady_clock::now(); }
  int64_t WallUnixMs() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

class SofiaDnsClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { su_init(); }

  void SetUp() override {
    dir_ = MakeTempDir("trunkroute-dns");
    root_ = su_root_create(nullptr);
    ASSERT_NE(root_, nullptr);
  }
  void TearDown() override {
    resolver_.reset();
    client_.reset();
    server_.reset();
    if (root_ != nullptr) su_root_destroy(root_);
  }

  // Port slot kPortSlot of the SIP test port range is this suite's (checked unique by
  // tests/sip/check_port_slots.py): one port per test (ctest runs them in parallel).
  static constexpr int kPortSlot = 48;
  void StartServer(const DnsZone& zone, int index) {
    int range = 27000;
    if (const char* b = std::getenv("TRUNKROUTE_SIP_TEST_PORT_BASE")) range = std::atoi(b);
    port_ = range + kPortSlot * 10 + index;
    server_ = DnsServer::Start(port_, zone, dir_);
    ASSERT_NE(server_, nullptr) << "dnsmasq (Debian package dnsmasq-base) must be installed";
  }
  void MakeClient() {
    auto c = SofiaDnsClient::Create(root_, server_->address(), "dns_server");
    ASSERT_TRUE(c.ok()) << c.status();
    client_ = *std::move(c);
  }
  void MakeResolver(uint32_t floor_s) {
    ResolverOptions o;
    o.ttl_floor_s = floor_s;
    resolver_ = std::make_unique<TargetResolver>(
        client_.get(), &clock_, o,
        [this](const std::shared_ptr<const TrunkTargets>& t) { latest_ = t; });
    v1::Config config;
    ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
        R"pb(trunks { id: "c" host: "carrier.test" })pb", &config));
    auto table = router::RoutingTable::Create(config);
    ASSERT_TRUE(table.ok());
    resolver_->Sync(**table);
  }
  // Runs the loop (and the resolver's refreshes) until `done` or `timeout`.
  bool RunUntil(const std::function<bool()>& done,
                std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      su_root_step(root_, 10);
      if (resolver_ != nullptr && resolver_->NextDeadline() <= clock_.Now()) resolver_->Tick();
    }
    return true;
  }
  std::vector<std::string> Keys() const {
    std::vector<std::string> out;
    if (latest_ != nullptr) {
      for (const ResolvedTarget& t : latest_->targets) out.push_back(t.key);
    }
    return out;
  }
  static DnsZone Carrier(const std::string& sbc1 = "127.0.0.1") {
    DnsZone z;
    z.ttl_s = 1;
    z.Naptr("carrier.test", 10, 10, "s", "SIP+D2U", "_sip._udp.carrier.test")
        .Srv("_sip._udp.carrier.test", "sbc2.carrier.test", 5071, 20, 10)
        .Srv("_sip._udp.carrier.test", "sbc1.carrier.test", 5070, 10, 10)
        .A("sbc1.carrier.test", sbc1)
        .A("sbc2.carrier.test", "127.0.0.2");
    return z;
  }

  RealClock clock_;
  int port_ = 0;
  std::string dir_;
  su_root_t* root_ = nullptr;
  std::unique_ptr<DnsServer> server_;
  std::unique_ptr<SofiaDnsClient> client_;
  std::unique_ptr<TargetResolver> resolver_;
  std::shared_ptr<const TrunkTargets> latest_;
};

TEST_F(SofiaDnsClientTest, ResolvesNaptrThenSrvThenAddressesFromARealServer) {
  StartServer(Carrier(), 1);
  MakeClient();
  MakeResolver(/*floor_s=*/60);
  ASSERT_TRUE(RunUntil([&] { return latest_ != nullptr; }));
  EXPECT_THAT(Keys(), ElementsAre("127.0.0.1:5070", "127.0.0.2:5071"));
  EXPECT_EQ(latest_->targets[0].transport, v1::TRANSPORT_UDP);
  EXPECT_FALSE(latest_->stale);
  // The server saw the RFC 3263 order: NAPTR, then the SRV it named, then each target's A.
  EXPECT_THAT(server_->Queries(), ElementsAre("NAPTR carrier.test", "SRV _sip._udp.carrier.test",
                                              "A sbc1.carrier.test", "A sbc2.carrier.test"));
}

TEST_F(SofiaDnsClientTest, AnswersAreReResolvedAtTheirTtl) {
  StartServer(Carrier(), 2);
  MakeClient();
  MakeResolver(/*floor_s=*/1);
  ASSERT_TRUE(RunUntil([&] { return latest_ != nullptr; }));
  ASSERT_THAT(Keys(), ElementsAre("127.0.0.1:5070", "127.0.0.2:5071"));
  // The carrier moves sbc1; with a TTL of 1 s the new address is seen within a few seconds.
  ASSERT_TRUE(server_->Restart(Carrier("127.0.0.3")));
  EXPECT_TRUE(RunUntil([&] { return !Keys().empty() && Keys()[0] == "127.0.0.3:5070"; }))
      << "still " << (Keys().empty() ? "" : Keys()[0]);
}

TEST_F(SofiaDnsClientTest, ServerDownKeepsTheLastGoodAnswer) {
  StartServer(Carrier(), 3);
  MakeClient();
  MakeResolver(/*floor_s=*/1);
  ASSERT_TRUE(RunUntil([&] { return latest_ != nullptr; }));
  server_->Stop();
  ASSERT_TRUE(RunUntil([&] { return latest_->stale; }, std::chrono::seconds(8)))
      << "the refresh after the TTL must fail while the server is down";
  EXPECT_THAT(Keys(), ElementsAre("127.0.0.1:5070", "127.0.0.2:5071"));
  EXPECT_FALSE(latest_->error.empty());
  // Back up: the next retry (after the floor) clears the stale mark.
  ASSERT_TRUE(server_->Restart(Carrier()));
  EXPECT_TRUE(RunUntil([&] { return !latest_->stale; }, std::chrono::seconds(8)));
  EXPECT_THAT(Keys(), ElementsAre("127.0.0.1:5070", "127.0.0.2:5071"));
}

TEST_F(SofiaDnsClientTest, UnknownNameIsAnAuthoritativeNoRecords) {
  StartServer(Carrier(), 4);
  MakeClient();
  bool done = false;
  DnsAnswer answer;
  client_->Query(DnsType::kA, "nothere.carrier.test", [&](const DnsAnswer& a) {
    answer = a;
    done = true;
  });
  EXPECT_FALSE(done) << "never answered from inside Query";
  ASSERT_TRUE(RunUntil([&] { return done; }));
  EXPECT_EQ(answer.status, DnsAnswer::Status::kNoRecords);
  EXPECT_EQ(answer.error, "NXDOMAIN");
}

TEST_F(SofiaDnsClientTest, ABadServerOptionNamesTheField) {
  auto c = SofiaDnsClient::Create(root_, "dns.example:53", "dns_server");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(c.status().message(), HasSubstr("dns_server"));
}

}  // namespace
}  // namespace trunkroute::sip::testing
