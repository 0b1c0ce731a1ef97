#include "config/config_store.h"

#include <sys/stat.h>

#include <filesystem>

#include "config/default_config.h"
#include "config/file_config_store.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "router/config_validator.h"
#include "tests/support/recording_file_ops.h"
#include "tests/support/temp_dir.h"

namespace trunkroute::config {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using trunkroute::testing::ReadFileBytes;
using trunkroute::testing::RecordingFileOps;
using trunkroute::testing::TempDir;
using trunkroute::testing::WriteFileBytes;

v1::Config SampleConfig(uint64_t version) {
  v1::Config config;
  config.set_version(version);
  v1::Trunk* a = config.add_trunks();
  a->set_id("carrier-a");
  a->set_host("sip.carrier-a.example.net");
  a->set_transport(v1::TRANSPORT_TLS);
  a->set_username("acme");
  a->set_password("s3cret");
  v1::Route* r = config.add_routes();
  r->set_id("nanp");
  r->set_priority(10);
  r->set_pattern("\\+1\\d{10}");
  r->add_trunk_ids("carrier-a");
  config.mutable_failover_policy()->set_setup_timeout_ms(800);
  return config;
}

bool Same(const v1::Config& a, const v1::Config& b) {
  return google::protobuf::util::MessageDifferencer::Equals(a, b);
}

class ConfigStoreTest : public ::testing::Test {
 protected:
  TempDir tmp_;
  std::string dir_ = tmp_.Sub("data");
};

TEST_F(ConfigStoreTest, LoadReturnsNothingWhenNoConfigStoredYet) {
  auto store = FileConfigStore::Open(dir_);
  ASSERT_TRUE(store.ok()) << store.status();
  auto loaded = (*store)->Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_FALSE(loaded->has_value());
}

TEST_F(ConfigStoreTest, SaveThenLoadRoundTripsEveryFieldIncludingSecrets) {
  auto store = FileConfigStore::Open(dir_);
  ASSERT_TRUE(store.ok());
  const v1::Config config = SampleConfig(7);
  ASSERT_TRUE((*store)->Save(config, ConfigStore::kNoRevision).ok());
  store->reset();  // a restart: a new store on the same directory

  auto reopened = FileConfigStore::Open(dir_);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  auto loaded = (*reopened)->Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_TRUE(loaded->has_value());
  EXPECT_TRUE(Same((*loaded)->config, config)) << (*loaded)->config.DebugString();
  EXPECT_EQ((*loaded)->config.version(), 7u);
  EXPECT_EQ((*loaded)->config.trunks(0).password(), "s3cret");
}

TEST_F(ConfigStoreTest, FileIsMode0600AndCreatedDirectory0700) {
  auto store = FileConfigStore::Open(dir_);
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->Save(SampleConfig(1), ConfigStore::kNoRevision).ok());
  struct stat st {};
  ASSERT_EQ(::stat((*store)->path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(dir_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_EQ((*store)->path(), dir_ + "/config.json");
}

TEST_F(ConfigStoreTest, CorruptFileIsDataLossNamingThePathAndIsNeverOverwritten) {
  auto store = FileConfigStore::Open(dir_);
  ASSERT_TRUE(store.ok());
  const std::string garbage = "{\"trunks\": [ {\"id\": \"a\", ";
  WriteFileBytes((*store)->path(), garbage);

  auto loaded = (*store)->Load();
  ASSERT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(loaded.status().message(), HasSubstr((*store)->path()));
  EXPECT_THAT(loaded.status().message(), HasSubstr("is corrupt"));
  EXPECT_EQ(ReadFileBytes((*store)->path()), garbage);
}

TEST_F(ConfigStoreTest, UnknownFieldIsDataLossNamingTheField) {
  auto store = FileConfigStore::Open(dir_);
  ASSERT_TRUE(store.ok());
  WriteFileBytes((*store)->path(), R"({"trunks": [{"id": "a", "hostname": "x"}]})");
  auto loaded = (*store)->Load();
  ASSERT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(loaded.status().message(), HasSubstr("hostname"));
}

TEST_F(ConfigStoreTest, EmptyFileIsDataLossNotAnEmptyConfig) {
  auto store = FileConfigStore::Open(dir_);
  ASSERT_TRUE(store.ok());
  WriteFileBytes((*store)->path(), "");
  auto loaded = (*store)->Load();
  ASSERT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(loaded.status().message(), HasSubstr("empty"));
}

// A crash after the temp file was (partly) written but before the rename: the old file is what
// a restart sees, whole, and the leftover is cleaned up.
TEST_F(ConfigStoreTest, CrashBetweenWriteAndRenameLeavesTheOldConfigWhole) {
  auto store = FileConfigStore::Open(dir_);
  ASSERT_TRUE(store.ok());
  const v1::Config old_config = SampleConfig(3);
  ASSERT_TRUE((*store)->Save(old_config, ConfigStore::kNoRevision).ok());
  const std::string old_bytes = ReadFileBytes((*store)->path());
  const std::string new_bytes = ConfigToJson(SampleConfig(4));
  WriteFileBytes(dir_ + "/config.json.tmp", new_bytes.substr(0, new_bytes.size() / 2));
  store->reset();

  auto restarted = FileConfigStore::Open(dir_);
  ASSERT_TRUE(restarted.ok()) << restarted.status();
  auto loaded = (*restarted)->Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_TRUE(loaded->has_value());
  EXPECT_TRUE(Same((*loaded)->config, old_config));
  EXPECT_EQ(ReadFileBytes((*restarted)->path()), old_bytes);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/config.json.tmp"));
}

TEST_F(ConfigStoreTest, StrayTempFileIsReplacedByTheNextSave) {
  auto store = FileConfigStore::Open(dir_);
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->Save(SampleConfig(1), ConfigStore::kNoRevision).ok());
  WriteFileBytes(dir_ + "/config.json.tmp", "half a config from a writer that died");
  ::chmod((dir_ + "/config.json.tmp").c_str(), 0644);

  auto before = (*store)->Load();
  ASSERT_TRUE(before.ok() && before->has_value());
  EXPECT_EQ((*before)->config.version(), 1u);

  ASSERT_TRUE((*store)->Save(SampleConfig(2), 1).ok());
  auto after = (*store)->Load();
  ASSERT_TRUE(after.ok() && after->has_value());
  EXPECT_TRUE(Same((*after)->config, SampleConfig(2)));
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/config.json.tmp"));
  struct stat st {};
  ASSERT_EQ(::stat((*store)->path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(ConfigStoreTest, FailedSaveLeavesThePreviousFileIntact) {
  auto store = FileConfigStore::Open(dir_);
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->Save(SampleConfig(1), ConfigStore::kNoRevision).ok());
  const std::string bytes = ReadFileBytes((*store)->path());
  // A directory where the temp file goes makes the write fail, even for root.
  std::filesystem::create_directory(dir_ + "/config.json.tmp");

  absl::Status st = (*store)->Save(SampleConfig(2), 1).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(st.message(), HasSubstr("config.json.tmp"));
  EXPECT_EQ(ReadFileBytes((*store)->path()), bytes);
}

// The crash-safety argument, step by step (design.md §6): the new bytes reach the disk (fsync of
// the temp file) before the name points at them (rename), and the renamed entry reaches the disk
// (fsync of the directory) before Save answers OK.
TEST_F(ConfigStoreTest, SaveWritesTheTempFileFsyncsItRenamesThenFsyncsTheDirectory) {
  RecordingFileOps ops;
  auto store = FileConfigStore::Open(dir_, FileConfigStore::kDefaultFileName, ops);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_THAT(ops.steps(), ElementsAre("unlink config.json.tmp")) << "a crash's leftover";
  ops.ClearSteps();

  ASSERT_TRUE((*store)->Save(SampleConfig(1), ConfigStore::kNoRevision).ok());
  const std::vector<std::string> crash_safe_order = {
      "create config.json.tmp", "write config.json.tmp", "fsync config.json.tmp",
      "close config.json.tmp",  "rename config.json.tmp config.json", "fsync-dir data"};
  EXPECT_EQ(ops.steps(), crash_safe_order);
  ops.ClearSteps();
  ASSERT_TRUE((*store)->Overwrite(SampleConfig(7)).ok());
  EXPECT_EQ(ops.steps(), crash_safe_order) << "the etcd cache's writes are as durable";

  auto loaded = (*store)->Load();
  ASSERT_TRUE(loaded.ok() && loaded->has_value());
  EXPECT_TRUE(Same((*loaded)->config, SampleConfig(7))) << "the steps really wrote the file";
}

// Until the directory is on the disk a crash may bring the old file back: the change is not
// acknowledged, and the store still holds the revision it had (a retry is built on it).
TEST_F(ConfigStoreTest, FailedDirectoryFsyncFailsSave) {
  RecordingFileOps ops;
  auto store = FileConfigStore::Open(dir_, FileConfigStore::kDefaultFileName, ops);
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)->Save(SampleConfig(1), ConfigStore::kNoRevision).ok());
  ops.Fail(RecordingFileOps::Step::kFsyncDir,
           absl::InternalError("fsync " + dir_ + ": Input/output error"));
  ops.ClearSteps();

  absl::StatusOr<uint64_t> saved = (*store)->Save(SampleConfig(2), 1);
  EXPECT_EQ(saved.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(saved.status().message(), HasSubstr("fsync " + dir_ + ": Input/output error"));
  EXPECT_EQ(ops.steps().back(), "fsync-dir data FAILED");
  EXPECT_EQ((*store)->Overwrite(SampleConfig(3)).code(), absl::StatusCode::kInternal);

  ops.Fail(RecordingFileOps::Step::kFsyncDir, absl::OkStatus());  // the disk recovers
  EXPECT_EQ((*store)->Save(SampleConfig(3), 2).status().code(), absl::StatusCode::kAborted)
      << "the failed Save must not have moved the store to version 2";
  absl::StatusOr<uint64_t> retried = (*store)->Save(SampleConfig(2), 1);
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_EQ(*retried, 2u);
}

// A failed fsync of the temp file: its bytes may not be on the disk, so the name must never point
// at them. No rename; the temp file is removed; the old file is untouched.
TEST_F(ConfigStoreTest, FailedFileFsyncNeverRenamesAndLeavesTheOldFile) {
  RecordingFileOps ops;
  auto store = FileConfigStore::Open(dir_, FileConfigStore::kDefaultFileName, ops);
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)->Save(SampleConfig(1), ConfigStore::kNoRevision).ok());
  const std::string bytes = ReadFileBytes((*store)->path());
  ops.Fail(RecordingFileOps::Step::kFsync, absl::InternalError("fsync: No space left on device"));
  ops.ClearSteps();

  absl::Status st = (*store)->Save(SampleConfig(2), 1).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(st.message(), HasSubstr("No space left on device"));
  EXPECT_THAT(ops.steps(), ElementsAre("create config.json.tmp", "write config.json.tmp",
                                       "fsync config.json.tmp FAILED", "close config.json.tmp",
                                       "unlink config.json.tmp"));
  EXPECT_EQ(ReadFileBytes((*store)->path()), bytes);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/config.json.tmp"));
}

TEST_F(ConfigStoreTest, FailedRenameFailsSaveWithoutTheDirectoryFsync) {
  RecordingFileOps ops;
  auto store = FileConfigStore::Open(dir_, FileConfigStore::kDefaultFileName, ops);
  ASSERT_TRUE(store.ok()) << store.status();
  ops.Fail(RecordingFileOps::Step::kRename, absl::InternalError("renaming: Read-only file system"));
  ops.ClearSteps();

  EXPECT_EQ((*store)->Save(SampleConfig(1), ConfigStore::kNoRevision).status().code(),
            absl::StatusCode::kInternal);
  EXPECT_THAT(ops.steps(),
              ElementsAre("create config.json.tmp", "write config.json.tmp",
                          "fsync config.json.tmp", "close config.json.tmp",
                          "rename config.json.tmp config.json FAILED", "unlink config.json.tmp"));
  auto loaded = (*store)->Load();
  ASSERT_TRUE(loaded.ok());
  EXPECT_FALSE(loaded->has_value());
}

TEST_F(ConfigStoreTest, OpenRejectsAPathThatIsAFile) {
  WriteFileBytes(dir_, "not a directory");
  auto store = FileConfigStore::Open(dir_);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(store.status().message(), HasSubstr(dir_));
  EXPECT_THAT(store.status().message(), HasSubstr("not a directory"));
}

TEST_F(ConfigStoreTest, OpenRejectsAMissingParentDirectory) {
  auto store = FileConfigStore::Open(tmp_.Sub("no/such/parent"));
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(store.status().message(), HasSubstr("No such file or directory"));
}

TEST_F(ConfigStoreTest, SecondStoreOnTheSameDirectoryIsRefused) {
  auto first = FileConfigStore::Open(dir_);
  ASSERT_TRUE(first.ok());
  auto second = FileConfigStore::Open(dir_);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(second.status().message(), HasSubstr("in use by another trunkrouted"));
  first->reset();
  EXPECT_TRUE(FileConfigStore::Open(dir_).ok());
}

TEST_F(ConfigStoreTest, SaveIsACompareAndSwapOnTheVersionItWasBuiltFrom) {
  auto store = FileConfigStore::Open(dir_);
  ASSERT_TRUE(store.ok());
  auto first = (*store)->Save(SampleConfig(1), ConfigStore::kNoRevision);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, 1u);
  const std::string bytes = ReadFileBytes((*store)->path());

  // Built on nothing (create-if-absent) or on a version the store does not hold: refused,
  // nothing written.
  for (uint64_t stale : {ConfigStore::kNoRevision, uint64_t{7}}) {
    auto refused = (*store)->Save(SampleConfig(2), stale);
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kAborted) << stale;
    EXPECT_THAT(refused.status().message(), HasSubstr("is at version 1"));
    EXPECT_EQ(ReadFileBytes((*store)->path()), bytes);
  }
  auto second = (*store)->Save(SampleConfig(2), *first);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(*second, 2u);
}

TEST_F(ConfigStoreTest, RevisionOfALoadedConfigIsItsVersion) {
  {
    auto store = FileConfigStore::Open(dir_);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->Save(SampleConfig(5), ConfigStore::kNoRevision).ok());
  }
  auto store = FileConfigStore::Open(dir_);
  ASSERT_TRUE(store.ok());
  auto loaded = (*store)->Load();
  ASSERT_TRUE(loaded.ok() && loaded->has_value());
  EXPECT_EQ((*loaded)->revision, 5u);
  EXPECT_TRUE((*store)->Save(SampleConfig(6), 5).ok());
}

TEST_F(ConfigStoreTest, OtherFileNameLivesBesideTheDefaultUnderTheSameLock) {
  auto store = FileConfigStore::Open(dir_, "etcd-cache.json");
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->path(), dir_ + "/etcd-cache.json");
  EXPECT_EQ((*store)->Describe(), "file " + dir_ + "/etcd-cache.json");
  EXPECT_EQ(FileConfigStore::Open(dir_).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(FileConfigStore::Open(tmp_.Sub("other"), "a/b").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ConfigStoreTest, LoadOrSeedStoresTheSeedAsVersionOneWhenEmpty) {
  auto store = FileConfigStore::Open(dir_);
  ASSERT_TRUE(store.ok());
  int seeds = 0;
  auto seeded = LoadOrSeed(**store, 1234, [&]() -> absl::StatusOr<v1::Config> {
    ++seeds;
    return SampleConfig(42);  // a bootstrap file's own version is ignored
  });
  ASSERT_TRUE(seeded.ok()) << seeded.status();
  EXPECT_TRUE(seeded->seeded);
  EXPECT_EQ(seeds, 1);
  EXPECT_EQ(seeded->stored.config.version(), 1u);
  EXPECT_EQ(seeded->stored.config.applied_at_unix_ms(), 1234);
  EXPECT_EQ(seeded->stored.revision, 1u);
  auto loaded = (*store)->Load();
  ASSERT_TRUE(loaded.ok() && loaded->has_value());
  EXPECT_TRUE(Same((*loaded)->config, seeded->stored.config));

  // Stored now: the next start loads it and does not ask for a seed.
  auto again = LoadOrSeed(**store, 9999, [&]() -> absl::StatusOr<v1::Config> {
    ++seeds;
    return SampleConfig(1);
  });
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(again->seeded);
  EXPECT_EQ(seeds, 1);
  EXPECT_EQ(again->stored.config.applied_at_unix_ms(), 1234);
}

TEST_F(ConfigStoreTest, LoadOrSeedReturnsTheSeedsErrorAndStoresNothing) {
  auto store = FileConfigStore::Open(dir_);
  ASSERT_TRUE(store.ok());
  auto seeded = LoadOrSeed(**store, 1, []() -> absl::StatusOr<v1::Config> {
    return absl::FailedPreconditionError("--bootstrap-config x.json: No such file or directory");
  });
  EXPECT_EQ(seeded.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(seeded.status().message(), HasSubstr("x.json"));
  auto loaded = (*store)->Load();
  ASSERT_TRUE(loaded.ok());
  EXPECT_FALSE(loaded->has_value());
}

TEST(ParseConfigJsonTest, RejectsUnknownFieldsNamingTheSource) {
  auto parsed = ParseConfigJson(R"({"routes": [{"id": "r", "patern": "x"}]})", "bootstrap.json");
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(parsed.status().message(), HasSubstr("bootstrap.json"));
  EXPECT_THAT(parsed.status().message(), HasSubstr("patern"));
}

TEST(ParseConfigJsonTest, AcceptsSnakeCaseAndCamelCaseFieldNames) {
  auto parsed = ParseConfigJson(
      R"({"trunks": [{"id": "a", "host": "h", "allowCidrs": ["10.0.0.0/8"],
                      "max_concurrent_calls": 5}]})",
      "inline");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->trunks(0).allow_cidrs(0), "10.0.0.0/8");
  EXPECT_EQ(parsed->trunks(0).max_concurrent_calls(), 5u);
}

TEST(DefaultConfigTest, EmbeddedDefaultIsTwoLoopbackDemoTrunksAndValidates) {
  auto parsed = ParseConfigJson(std::string(DefaultConfigJson()), "embedded default");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_TRUE(router::ValidateConfig(*parsed).ok()) << router::ValidateConfig(*parsed);
  ASSERT_EQ(parsed->trunks_size(), 2);
  for (const v1::Trunk& trunk : parsed->trunks()) {
    EXPECT_EQ(trunk.host(), "127.0.0.1") << trunk.id();
    EXPECT_EQ(trunk.transport(), v1::TRANSPORT_UDP) << trunk.id();
    EXPECT_TRUE(trunk.password().empty()) << trunk.id();
  }
  EXPECT_EQ(parsed->trunks(0).id(), "demo-primary");
  EXPECT_EQ(parsed->trunks(1).id(), "demo-backup");
  EXPECT_GE(parsed->routes_size(), 2);
}

TEST(DefaultConfigTest, CarrierTlsExampleValidates) {
  const std::string path = std::string(TRUNKROUTE_SOURCE_DIR) + "/deploy/examples/carrier-tls.json";
  auto parsed = ParseConfigJson(ReadFileBytes(path), path);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_TRUE(router::ValidateConfig(*parsed).ok()) << router::ValidateConfig(*parsed);
}

}  // namespace
}  // namespace trunkroute::config
