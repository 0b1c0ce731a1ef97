// EtcdConfigStore and ConfigManager against a real etcd (Debian's etcd-server) started by the
// test on loopback ports: compare-and-swap writes, two writers racing, members dying.
#include "cluster/etcd_config_store.h"

#include <atomic>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "cluster/etcd_client.h"
#include "config/config_manager.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/etcd_cluster.h"
#include "tests/support/simulated_clock.h"

namespace trunkroute::cluster {
namespace {

using ::testing::HasSubstr;
using trunkroute::testing::EtcdCluster;
using trunkroute::testing::SimulatedClock;

v1::Config TwoTrunks() {
  v1::Config config;
  for (auto [id, port] : {std::pair{"a", 5081}, std::pair{"b", 5082}}) {
    v1::Trunk* t = config.add_trunks();
    t->set_id(id);
    t->set_host("127.0.0.1");
    t->set_port(port);
    t->set_transport(v1::TRANSPORT_UDP);
  }
  v1::Route* r = config.add_routes();
  r->set_id("r1");
  r->set_priority(10);
  r->set_pattern("\\+1\\d{10}");
  r->add_trunk_ids("a");
  r->add_trunk_ids("b");
  return config;
}

std::unique_ptr<EtcdClient> Client(const EtcdCluster& etcd) {
  EtcdOptions options;
  options.endpoints = etcd.EndpointList();
  auto client = EtcdClient::Create(options);
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? *std::move(client) : nullptr;
}

// One instance's view: its own client, store and manager on a shared etcd.
struct Instance {
  Instance(const EtcdCluster& etcd, const std::string& prefix, SimulatedClock* clock)
      : client(Client(etcd)), store(client.get(), EtcdLayout(prefix)) {
    auto seeded = config::LoadOrSeed(store, clock->WallUnixMs(), [] { return TwoTrunks(); });
    EXPECT_TRUE(seeded.ok()) << seeded.status();
    auto m = config::ConfigManager::Create(&store, clock, seeded->stored.config,
                                           seeded->stored.revision);
    EXPECT_TRUE(m.ok()) << m.status();
    manager = *std::move(m);
  }
  std::unique_ptr<EtcdClient> client;
  EtcdConfigStore store;
  std::unique_ptr<config::ConfigManager> manager;
};

absl::Status SetPriority(config::ConfigManager& m, int priority, uint64_t expected = 0) {
  return m
      .Update(expected,
              [&](v1::Config& c) {
                c.mutable_routes(0)->set_priority(priority);
                return absl::OkStatus();
              })
      .status();
}

class EtcdStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(etcd_.Start()) << "etcd did not start"; }
  EtcdCluster etcd_;
  SimulatedClock clock_;
};

TEST_F(EtcdStoreTest, EmptyPrefixIsSeededOnceAndTheSecondInstanceServesTheSeed) {
  Instance a(etcd_, "/trunkroute/t1", &clock_);
  // The second instance's seed differs: it loses the create-if-absent and serves A's config.
  auto client = Client(etcd_);
  EtcdConfigStore store(client.get(), EtcdLayout("/trunkroute/t1"));
  bool asked = false;
  auto b = config::LoadOrSeed(store, 1, [&]() -> absl::StatusOr<v1::Config> {
    asked = true;
    v1::Config other = TwoTrunks();
    other.mutable_routes(0)->set_priority(99);
    return other;
  });
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_FALSE(b->seeded);
  EXPECT_FALSE(asked);
  EXPECT_EQ(b->stored.config.routes(0).priority(), 10);
  EXPECT_EQ(b->stored.revision, a.manager->revision());
}

TEST_F(EtcdStoreTest, SeedingRaceBetweenTwoInstancesEndsOnOneConfig) {
  auto c1 = Client(etcd_);
  auto c2 = Client(etcd_);
  EtcdConfigStore s1(c1.get(), EtcdLayout("/race"));
  EtcdConfigStore s2(c2.get(), EtcdLayout("/race"));
  // Both found the prefix empty; both seed with create-if-absent.
  v1::Config x = TwoTrunks();
  x.mutable_routes(0)->set_priority(1);
  v1::Config y = TwoTrunks();
  y.mutable_routes(0)->set_priority(2);
  auto r1 = s1.Save(x, config::ConfigStore::kNoRevision);
  auto r2 = s2.Save(y, config::ConfigStore::kNoRevision);
  EXPECT_NE(r1.ok(), r2.ok());
  EXPECT_EQ((r1.ok() ? r2 : r1).status().code(), absl::StatusCode::kAborted);
  auto l1 = s1.Load();
  auto l2 = s2.Load();
  ASSERT_TRUE(l1.ok() && l2.ok() && l1->has_value() && l2->has_value());
  EXPECT_EQ((*l1)->config.routes(0).priority(), r1.ok() ? 1 : 2);
  EXPECT_EQ((*l1)->revision, (*l2)->revision);
}

TEST_F(EtcdStoreTest, WriteOnAIsReadOnB) {
  Instance a(etcd_, "/trunkroute/t2", &clock_);
  Instance b(etcd_, "/trunkroute/t2", &clock_);
  ASSERT_TRUE(SetPriority(*a.manager, 20).ok());
  auto loaded = b.store.Load();
  ASSERT_TRUE(loaded.ok() && loaded->has_value()) << loaded.status();
  EXPECT_EQ((*loaded)->config.routes(0).priority(), 20);
  EXPECT_EQ((*loaded)->config.version(), 2u);
  EXPECT_EQ((*loaded)->revision, a.manager->revision());
  // B follows A's write; afterwards B writes on top of it.
  ASSERT_TRUE(b.manager->Follow(**loaded).ok());
  EXPECT_EQ(b.manager->Current()->version(), 2u);
  ASSERT_TRUE(SetPriority(*b.manager, 30, /*expected=*/2).ok());
  EXPECT_EQ(b.manager->Current()->version(), 3u);
}

TEST_F(EtcdStoreTest, StaleWriterIsAbortedAndExpectedVersionKeepsItsMeaning) {
  Instance a(etcd_, "/trunkroute/t3", &clock_);
  Instance b(etcd_, "/trunkroute/t3", &clock_);
  ASSERT_TRUE(SetPriority(*a.manager, 20).ok());
  // B has not seen A's write: its write is built on revision 1 and must not replace A's.
  absl::Status st = SetPriority(*b.manager, 40);
  EXPECT_EQ(st.code(), absl::StatusCode::kAborted);
  EXPECT_THAT(st.message(), HasSubstr("changed on another instance"));
  EXPECT_EQ(b.manager->Current()->version(), 1u);
  EXPECT_EQ(b.store.cas_conflicts(), 1u);
  auto stored = a.store.Load();
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ((*stored)->config.routes(0).priority(), 20);
  // A client that read version 2 from A and sends expected_version 2 to B (which still serves
  // 1) is refused by B's own check; after B follows, the same request goes through.
  EXPECT_EQ(SetPriority(*b.manager, 40, 2).code(), absl::StatusCode::kAborted);
  ASSERT_TRUE(b.manager->Follow(**stored).ok());
  EXPECT_TRUE(SetPriority(*b.manager, 40, 2).ok());
}

// Two instances hammering the same config: every acknowledged write is in the final config,
// versions are consecutive, and exactly one writer wins each revision.
TEST_F(EtcdStoreTest, ConcurrentWritersNeverLoseAnAcknowledgedUpdate) {
  Instance a(etcd_, "/trunkroute/t4", &clock_);
  Instance b(etcd_, "/trunkroute/t4", &clock_);
  absl::Mutex mu;
  std::set<std::string> acknowledged;
  std::atomic<int> aborted{0};
  auto writer = [&](Instance* self, const std::string& name) {
    for (int i = 0; i < 25; ++i) {
      const std::string id = absl::StrCat(name, "-", i);
      for (int attempt = 0; attempt < 50; ++attempt) {
        auto result = self->manager->Update(0, [&](v1::Config& c) {
          v1::Trunk* t = c.add_trunks();
          t->set_id(id);
          t->set_host("127.0.0.1");
          t->set_port(6000);
          t->set_transport(v1::TRANSPORT_UDP);
          return absl::OkStatus();
        });
        if (result.ok()) {
          absl::MutexLock lock(&mu);
          acknowledged.insert(id);
          break;
        }
        ASSERT_EQ(result.status().code(), absl::StatusCode::kAborted) << result.status();
        ++aborted;
        // Catch up like the watch would, then retry.
        auto now = self->store.Load();
        ASSERT_TRUE(now.ok() && now->has_value());
        ASSERT_TRUE(self->manager->Follow(**now).ok());
      }
    }
  };
  std::thread ta(writer, &a, "a");
  std::thread tb(writer, &b, "b");
  ta.join();
  tb.join();
  EXPECT_EQ(acknowledged.size(), 50u);
  EXPECT_GT(aborted.load(), 0) << "the writers never raced; the test proves nothing";
  auto final_config = a.store.Load();
  ASSERT_TRUE(final_config.ok() && final_config->has_value());
  std::set<std::string> present;
  for (const v1::Trunk& t : (*final_config)->config.trunks()) present.insert(t.id());
  for (const std::string& id : acknowledged) EXPECT_TRUE(present.contains(id)) << id << " lost";
  EXPECT_EQ((*final_config)->config.version(), 51u);
}

TEST_F(EtcdStoreTest, UnreachableEtcdIsUnavailableNamingItAndQuick) {
  Instance a(etcd_, "/trunkroute/t5", &clock_);
  etcd_.KillAll();
  const auto start = std::chrono::steady_clock::now();
  absl::Status st = SetPriority(*a.manager, 20);
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable) << st;
  EXPECT_THAT(st.message(), HasSubstr("etcd http://127.0.0.1:"));
  EXPECT_EQ(a.manager->Current()->version(), 1u);
  // Bounded by the request deadline (2 s), not by gRPC's reconnect backoff.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST_F(EtcdStoreTest, DocumentThatIsNotAConfigIsDataLossNamingTheKey) {
  ASSERT_EQ(etcd_.Etcdctl({"put", "/trunkroute/t6/config", "{not json"}), 0) << etcd_.EtcdctlLog();
  auto client = Client(etcd_);
  EtcdConfigStore store(client.get(), EtcdLayout("/trunkroute/t6"));
  auto loaded = store.Load();
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(loaded.status().message(), HasSubstr("/trunkroute/t6/config"));
}

TEST(EtcdPrefixTest, PrefixMustBeAnAbsolutePath) {
  EXPECT_TRUE(ValidateEtcdPrefix("/trunkroute/default").ok());
  EXPECT_TRUE(ValidateEtcdPrefix("/x").ok());
  for (const char* bad : {"", "trunkroute", "/trunkroute/", "/a//b", "/a/../b"}) {
    absl::Status st = ValidateEtcdPrefix(bad);
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(st.message(), HasSubstr("--etcd-prefix")) << bad;
  }
}

TEST(EtcdEndpointsTest, EndpointsAreSchemeHostPortAllOfOneScheme) {
  auto ok = ParseEtcdEndpoints("http://127.0.0.1:2379, http://127.0.0.1:22379/");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_THAT(*ok, ::testing::ElementsAre("http://127.0.0.1:2379", "http://127.0.0.1:22379"));
  for (const char* bad : {"", "127.0.0.1:2379", "http://127.0.0.1", "http://:2379",
                          "http://h:99999", "http://a:1,https://b:2", "http://h:1/v3"}) {
    auto st = ParseEtcdEndpoints(bad);
    EXPECT_EQ(st.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(st.status().message(), HasSubstr("--etcd-endpoints")) << bad;
  }
}

class EtcdThreeMemberTest : public ::testing::Test {
 protected:
  EtcdThreeMemberTest() : etcd_(3) {}
  void SetUp() override { ASSERT_TRUE(etcd_.Start()) << "etcd did not start"; }
  EtcdCluster etcd_;
  SimulatedClock clock_;
};

TEST_F(EtcdThreeMemberTest, WritesResumeAfterTheLeaderIsKilled) {
  Instance a(etcd_, "/trunkroute/ha", &clock_);
  ASSERT_TRUE(SetPriority(*a.manager, 11).ok());
  const int leader = etcd_.Leader();
  ASSERT_GE(leader, 0);
  etcd_.Kill(leader);
  // Writes may fail (Unavailable) during the election, never with a lost or doubled update;
  // within a few seconds they go through again.
  int priority = 12;
  absl::Status st;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  do {
    st = SetPriority(*a.manager, priority);
    if (!st.ok()) {
      ASSERT_TRUE(absl::IsUnavailable(st) || absl::IsAborted(st)) << st;
      if (absl::IsAborted(st)) {
        auto now = a.store.Load();
        if (now.ok() && now->has_value()) (void)a.manager->Follow(**now);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  } while (!st.ok() && std::chrono::steady_clock::now() < deadline);
  ASSERT_TRUE(st.ok()) << st;
  auto stored = a.store.Load();
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ((*stored)->config.routes(0).priority(), 12);
  EXPECT_EQ((*stored)->config.version(), 3u);
}

}  // namespace
}  // namespace trunkroute::cluster
