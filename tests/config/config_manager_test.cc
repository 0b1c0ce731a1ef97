#include "config/config_manager.h"

#include <filesystem>
#include <optional>

#include "config/file_config_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/simulated_clock.h"
#include "tests/support/temp_dir.h"

namespace trunkroute::config {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::UnorderedElementsAre;
using trunkroute::testing::ReadFileBytes;
using trunkroute::testing::SimulatedClock;
using trunkroute::testing::TempDir;

v1::Config BaseConfig() {
  v1::Config config;
  for (auto [id, port] : {std::pair{"a", 5081}, std::pair{"b", 5082}}) {
    v1::Trunk* t = config.add_trunks();
    t->set_id(id);
    t->set_host("127.0.0.1");
    t->set_port(port);
    t->set_transport(v1::TRANSPORT_UDP);
  }
  config.mutable_trunks(0)->set_username("user-a");
  config.mutable_trunks(0)->set_password("pw-a");
  v1::Route* r = config.add_routes();
  r->set_id("r1");
  r->set_priority(10);
  r->set_pattern("\\+1\\d{10}");
  r->add_trunk_ids("a");
  r->add_trunk_ids("b");
  return config;
}

class ConfigManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = FileConfigStore::Open(tmp_.Sub("data"));
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    auto seeded = LoadOrSeed(*store_, clock_.WallUnixMs(), [] { return BaseConfig(); });
    ASSERT_TRUE(seeded.ok()) << seeded.status();
    auto manager = ConfigManager::Create(store_.get(), &clock_, seeded->stored.config,
                                         seeded->stored.revision);
    ASSERT_TRUE(manager.ok()) << manager.status();
    manager_ = *std::move(manager);
  }

  uint64_t version() const { return manager_->Current()->version(); }
  std::string FileBytes() const { return ReadFileBytes(store_->path()); }

  TempDir tmp_;
  SimulatedClock clock_;
  std::unique_ptr<FileConfigStore> store_;
  std::unique_ptr<ConfigManager> manager_;
};

TEST_F(ConfigManagerTest, InitialConfigIsVersionOneAndPersisted) {
  EXPECT_EQ(version(), 1u);
  EXPECT_EQ(manager_->Current()->config().applied_at_unix_ms(), clock_.WallUnixMs());
  auto loaded = store_->Load();
  ASSERT_TRUE(loaded.ok() && loaded->has_value());
  EXPECT_EQ((*loaded)->config.version(), 1u);
  EXPECT_EQ((*loaded)->config.trunks_size(), 2);
}

TEST_F(ConfigManagerTest, InvalidInitialConfigIsRejected) {
  v1::Config bad = BaseConfig();
  bad.mutable_routes(0)->add_trunk_ids("nope");
  auto manager = ConfigManager::Create(nullptr, &clock_, bad);
  EXPECT_EQ(manager.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(manager.status().message(), HasSubstr("routes[0].trunk_ids"));
}

TEST_F(ConfigManagerTest, UpdateBumpsVersionPersistsAndSwaps) {
  clock_.AdvanceMs(1500);
  auto result = manager_->Update(1, [](v1::Config& c) {
    c.mutable_routes(0)->set_priority(20);
    return absl::OkStatus();
  });
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->applied);
  EXPECT_EQ(version(), 2u);
  EXPECT_EQ(manager_->Current(), result->table);
  EXPECT_EQ(result->table->config().applied_at_unix_ms(), clock_.WallUnixMs());
  EXPECT_THAT(result->changes, ElementsAre("route 'r1' changed: priority"));
  auto loaded = store_->Load();
  ASSERT_TRUE(loaded.ok() && loaded->has_value());
  EXPECT_EQ((*loaded)->config.version(), 2u);
  EXPECT_EQ((*loaded)->config.routes(0).priority(), 20);
}

TEST_F(ConfigManagerTest, ExpectedVersionMismatchIsAbortedNamingBothVersions) {
  auto result = manager_->Update(5, [](v1::Config&) { return absl::OkStatus(); });
  EXPECT_EQ(result.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(result.status().message(), "expected version 5, current is 1");
}

TEST_F(ConfigManagerTest, RejectedChangeLeavesTableAndFileUnchanged) {
  const auto before = manager_->Current();
  const std::string bytes = FileBytes();
  auto result = manager_->Update(0, [](v1::Config& c) {
    c.mutable_routes(0)->set_pattern("(unclosed");
    c.mutable_trunks(1)->set_port(70000);
    return absl::OkStatus();
  });
  ASSERT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  // Every problem at once, each with its field path.
  EXPECT_THAT(result.status().message(), HasSubstr("routes[0].pattern"));
  EXPECT_THAT(result.status().message(), HasSubstr("trunks[1].port"));
  EXPECT_EQ(manager_->Current(), before);
  EXPECT_EQ(FileBytes(), bytes);
}

TEST_F(ConfigManagerTest, MutatorErrorIsReturnedAsIsAndChangesNothing) {
  const std::string bytes = FileBytes();
  auto result =
      manager_->Update(0, [](v1::Config&) { return absl::NotFoundError("trunk 'x' not found"); });
  EXPECT_EQ(result.status(), absl::NotFoundError("trunk 'x' not found"));
  EXPECT_EQ(version(), 1u);
  EXPECT_EQ(FileBytes(), bytes);
}

TEST_F(ConfigManagerTest, ChangeThatChangesNothingKeepsTheVersion) {
  const auto before = manager_->Current();
  auto result = manager_->Update(1, [](v1::Config&) { return absl::OkStatus(); });
  ASSERT_TRUE(result.ok());
  EXPECT_FALSE(result->applied);
  EXPECT_THAT(result->changes, IsEmpty());
  EXPECT_EQ(manager_->Current(), before);
}

TEST_F(ConfigManagerTest, DryRunValidatesAndReportsButChangesNothing) {
  const std::string bytes = FileBytes();
  bool listener_called = false;
  manager_->AddListener([&](const auto&) { listener_called = true; });
  auto result = manager_->Update(
      1,
      [](v1::Config& c) {
        v1::Trunk* t = c.add_trunks();
        t->set_id("c");
        t->set_host("sip.example.net");
        return absl::OkStatus();
      },
      /*dry_run=*/true);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_FALSE(result->applied);
  EXPECT_THAT(result->changes, ElementsAre("trunk 'c' added"));
  EXPECT_EQ(version(), 1u);
  EXPECT_EQ(FileBytes(), bytes);
  EXPECT_FALSE(listener_called);

  auto invalid = manager_->Update(
      0,
      [](v1::Config& c) {
        c.mutable_routes(0)->set_pattern("(");
        return absl::OkStatus();
      },
      true);
  EXPECT_EQ(invalid.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ConfigManagerTest, ChangeSummaryNamesWhatChanged) {
  auto result = manager_->Update(0, [](v1::Config& c) {
    c.mutable_trunks()->erase(c.mutable_trunks()->begin() + 1);  // b
    c.mutable_routes(0)->clear_trunk_ids();
    c.mutable_routes(0)->add_trunk_ids("a");
    c.mutable_routes(0)->add_trunk_ids("c");
    v1::Trunk* t = c.add_trunks();
    t->set_id("c");
    t->set_host("sip.example.net");
    c.mutable_failover_policy()->set_setup_timeout_ms(700);
    return absl::OkStatus();
  });
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(result->changes, UnorderedElementsAre("trunk 'c' added", "trunk 'b' removed",
                                                    "route 'r1' changed: trunk_ids",
                                                    "failover_policy changed: setup_timeout_ms"));
}

TEST_F(ConfigManagerTest, PasswordChangeIsSummarisedWithoutItsValue) {
  auto result = manager_->Update(0, [](v1::Config& c) {
    c.mutable_trunks(0)->set_password("new-secret-value");
    return absl::OkStatus();
  });
  ASSERT_TRUE(result.ok());
  EXPECT_THAT(result->changes, ElementsAre("trunk 'a' changed: password"));
}

TEST_F(ConfigManagerTest, ListenersSeeEveryNewTableInRegistrationOrder) {
  std::vector<std::string> calls;
  manager_->AddListener(
      [&](const auto& t) { calls.push_back("first v" + std::to_string(t->version())); });
  manager_->AddListener(
      [&](const auto& t) { calls.push_back("second v" + std::to_string(t->version())); });
  ASSERT_TRUE(manager_
                  ->Update(0,
                           [](v1::Config& c) {
                             c.mutable_routes(0)->set_description("x");
                             return absl::OkStatus();
                           })
                  .ok());
  EXPECT_THAT(calls, ElementsAre("first v2", "second v2"));
}

TEST_F(ConfigManagerTest, FailedWriteKeepsTheOldTableServing) {
  const auto before = manager_->Current();
  const std::string bytes = FileBytes();
  std::filesystem::create_directory(tmp_.Sub("data/config.json.tmp"));
  auto result = manager_->Update(0, [](v1::Config& c) {
    c.mutable_routes(0)->set_priority(30);
    return absl::OkStatus();
  });
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(manager_->Current(), before);
  EXPECT_EQ(FileBytes(), bytes);
}

TEST_F(ConfigManagerTest, ExistingVersionIsKeptOnRestart) {
  ASSERT_TRUE(manager_
                  ->Update(0,
                           [](v1::Config& c) {
                             c.mutable_routes(0)->set_priority(11);
                             return absl::OkStatus();
                           })
                  .ok());
  auto loaded = store_->Load();
  ASSERT_TRUE(loaded.ok() && loaded->has_value());
  store_.reset();  // a restart: the new process opens the directory again
  auto reopened = FileConfigStore::Open(tmp_.Sub("data"));
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  auto reloaded = (*reopened)->Load();
  ASSERT_TRUE(reloaded.ok() && reloaded->has_value());
  auto restarted =
      ConfigManager::Create(reopened->get(), &clock_, (*reloaded)->config, (*reloaded)->revision);
  ASSERT_TRUE(restarted.ok());
  EXPECT_EQ((*restarted)->Current()->version(), 2u);
  // Writes after the restart build on the stored revision.
  EXPECT_TRUE((*restarted)
                  ->Update(0,
                           [](v1::Config& c) {
                             c.mutable_routes(0)->set_priority(12);
                             return absl::OkStatus();
                           })
                  .ok());
  EXPECT_EQ((*restarted)->Current()->version(), 3u);
}

// A store that several writers share: tests make "another instance" write between two of ours,
// or make the store unreachable.
class SharedStore final : public ConfigStore {
 public:
  absl::StatusOr<std::optional<StoredConfig>> Load() override {
    if (!stored_) return std::optional<StoredConfig>();
    return stored_;
  }
  absl::StatusOr<uint64_t> Save(const v1::Config& config, uint64_t base_revision) override {
    if (!fail_with_.ok()) return fail_with_;
    const uint64_t current = stored_ ? stored_->revision : kNoRevision;
    if (base_revision != current) return absl::AbortedError("revision moved");
    stored_ = StoredConfig{config, current + 100};
    return stored_->revision;
  }
  std::string Describe() const override { return "shared test store"; }

  // Another instance's write.
  void WriteElsewhere(v1::Config config) {
    config.set_version(config.version() + 1);
    stored_ = StoredConfig{std::move(config), stored_->revision + 1};
  }
  std::optional<StoredConfig> stored_;
  absl::Status fail_with_;
};

TEST(ConfigManagerSharedStoreTest, WriteBuiltOnAnOlderRevisionIsAbortedAndChangesNothing) {
  SimulatedClock clock;
  SharedStore store;
  auto seeded = LoadOrSeed(store, clock.WallUnixMs(), [] { return BaseConfig(); });
  ASSERT_TRUE(seeded.ok()) << seeded.status();
  auto manager =
      ConfigManager::Create(&store, &clock, seeded->stored.config, seeded->stored.revision);
  ASSERT_TRUE(manager.ok()) << manager.status();
  // Our own write goes through on the revision we hold…
  ASSERT_TRUE((*manager)
                  ->Update(0,
                           [](v1::Config& c) {
                             c.mutable_routes(0)->set_priority(20);
                             return absl::OkStatus();
                           })
                  .ok());
  EXPECT_EQ(store.stored_->config.routes(0).priority(), 20);

  // …another instance writes next; our following write was built on the old revision.
  v1::Config theirs = store.stored_->config;
  theirs.mutable_routes(0)->set_priority(30);
  store.WriteElsewhere(theirs);
  const auto before = (*manager)->Current();
  auto result = (*manager)->Update(0, [](v1::Config& c) {
    c.mutable_routes(0)->set_priority(40);
    return absl::OkStatus();
  });
  EXPECT_EQ(result.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ((*manager)->Current(), before);
  EXPECT_EQ(store.stored_->config.routes(0).priority(), 30);  // not lost
}

TEST(ConfigManagerSharedStoreTest, UnreachableStoreFailsTheWriteAndKeepsServing) {
  SimulatedClock clock;
  SharedStore store;
  auto seeded = LoadOrSeed(store, clock.WallUnixMs(), [] { return BaseConfig(); });
  ASSERT_TRUE(seeded.ok());
  auto manager =
      ConfigManager::Create(&store, &clock, seeded->stored.config, seeded->stored.revision);
  ASSERT_TRUE(manager.ok());
  store.fail_with_ = absl::UnavailableError("etcd: connection refused");
  const auto before = (*manager)->Current();
  auto result = (*manager)->Update(0, [](v1::Config& c) {
    c.mutable_routes(0)->set_priority(20);
    return absl::OkStatus();
  });
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(result.status().message(), HasSubstr("etcd"));
  EXPECT_EQ((*manager)->Current(), before);
}

TEST(SecretsTest, RedactionClearsPasswordsAndSetsHasPassword) {
  v1::Config redacted = RedactConfig(BaseConfig());
  EXPECT_EQ(redacted.trunks(0).password(), "");
  EXPECT_TRUE(redacted.trunks(0).has_password());
  EXPECT_EQ(redacted.trunks(0).username(), "user-a");
  EXPECT_FALSE(redacted.trunks(1).has_password());
  EXPECT_THAT(redacted.DebugString(), Not(HasSubstr("pw-a")));
}

TEST(SecretsTest, EmptyPasswordKeepsTheStoredOne) {
  v1::Config next = RedactConfig(BaseConfig());
  CarryOverSecrets(BaseConfig(), &next);
  EXPECT_EQ(next.trunks(0).password(), "pw-a");
  EXPECT_FALSE(next.trunks(0).has_password());
}

TEST(SecretsTest, NewPasswordReplacesAndClearPasswordRemoves) {
  v1::Config next = BaseConfig();
  next.mutable_trunks(0)->set_password("pw-new");
  CarryOverSecrets(BaseConfig(), &next);
  EXPECT_EQ(next.trunks(0).password(), "pw-new");

  v1::Config cleared = BaseConfig();
  cleared.mutable_trunks(0)->clear_password();
  cleared.mutable_trunks(0)->set_clear_password(true);
  CarryOverSecrets(BaseConfig(), &cleared);
  EXPECT_EQ(cleared.trunks(0).password(), "");
  EXPECT_FALSE(std::as_const(cleared.trunks(0)).clear_password());
}

TEST(SecretsTest, NewTrunkWithoutPasswordGetsNone) {
  v1::Config next = BaseConfig();
  next.mutable_trunks(1)->set_id("renamed");
  CarryOverSecrets(BaseConfig(), &next);
  EXPECT_EQ(next.trunks(1).password(), "");
}

}  // namespace
}  // namespace trunkroute::config
