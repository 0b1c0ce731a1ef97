#include "config/config_store.h"

#include <sys/stat.h>

#include <filesystem>

#include "config/default_config.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "router/config_validator.h"
#include "tests/support/temp_dir.h"

namespace trunkroute::config {
namespace {

using ::testing::HasSubstr;
using trunkroute::testing::ReadFileBytes;
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
  auto store = ConfigStore::Open(dir_);
  ASSERT_TRUE(store.ok()) << store.status();
  auto loaded = (*store)->Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_FALSE(loaded->has_value());
}

TEST_F(ConfigStoreTest, SaveThenLoadRoundTripsEveryFieldIncludingSecrets) {
  auto store = ConfigStore::Open(dir_);
  ASSERT_TRUE(store.ok());
  const v1::Config config = SampleConfig(7);
  ASSERT_TRUE((*store)->Save(config).ok());
  store->reset();  // a restart: a new store on the same directory

  auto reopened = ConfigStore::Open(dir_);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  auto loaded = (*reopened)->Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_TRUE(loaded->has_value());
  EXPECT_TRUE(Same(**loaded, config)) << (*loaded)->DebugString();
  EXPECT_EQ((*loaded)->version(), 7u);
  EXPECT_EQ((*loaded)->trunks(0).password(), "s3cret");
}

TEST_F(ConfigStoreTest, FileIsMode0600AndCreatedDirectory0700) {
  auto store = ConfigStore::Open(dir_);
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->Save(SampleConfig(1)).ok());
  struct stat st {};
  ASSERT_EQ(::stat((*store)->path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(dir_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_EQ((*store)->path(), dir_ + "/config.json");
}

TEST_F(ConfigStoreTest, CorruptFileIsDataLossNamingThePathAndIsNeverOverwritten) {
  auto store = ConfigStore::Open(dir_);
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
  auto store = ConfigStore::Open(dir_);
  ASSERT_TRUE(store.ok());
  WriteFileBytes((*store)->path(), R"({"trunks": [{"id": "a", "hostname": "x"}]})");
  auto loaded = (*store)->Load();
  ASSERT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(loaded.status().message(), HasSubstr("hostname"));
}

TEST_F(ConfigStoreTest, EmptyFileIsDataLossNotAnEmptyConfig) {
  auto store = ConfigStore::Open(dir_);
  ASSERT_TRUE(store.ok());
  WriteFileBytes((*store)->path(), "");
  auto loaded = (*store)->Load();
  ASSERT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(loaded.status().message(), HasSubstr("empty"));
}

// A crash after the temp file was (partly) written but before the rename: the old file is what
// a restart sees, whole, and the leftover is cleaned up.
TEST_F(ConfigStoreTest, CrashBetweenWriteAndRenameLeavesTheOldConfigWhole) {
  auto store = ConfigStore::Open(dir_);
  ASSERT_TRUE(store.ok());
  const v1::Config old_config = SampleConfig(3);
  ASSERT_TRUE((*store)->Save(old_config).ok());
  const std::string old_bytes = ReadFileBytes((*store)->path());
  const std::string new_bytes = ConfigToJson(SampleConfig(4));
  WriteFileBytes(dir_ + "/config.json.tmp", new_bytes.substr(0, new_bytes.size() / 2));
  store->reset();

  auto restarted = ConfigStore::Open(dir_);
  ASSERT_TRUE(restarted.ok()) << restarted.status();
  auto loaded = (*restarted)->Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_TRUE(loaded->has_value());
  EXPECT_TRUE(Same(**loaded, old_config));
  EXPECT_EQ(ReadFileBytes((*restarted)->path()), old_bytes);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/config.json.tmp"));
}

TEST_F(ConfigStoreTest, StrayTempFileIsReplacedByTheNextSave) {
  auto store = ConfigStore::Open(dir_);
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->Save(SampleConfig(1)).ok());
  WriteFileBytes(dir_ + "/config.json.tmp", "half a config from a writer that died");
  ::chmod((dir_ + "/config.json.tmp").c_str(), 0644);

  auto before = (*store)->Load();
  ASSERT_TRUE(before.ok() && before->has_value());
  EXPECT_EQ((*before)->version(), 1u);

  ASSERT_TRUE((*store)->Save(SampleConfig(2)).ok());
  auto after = (*store)->Load();
  ASSERT_TRUE(after.ok() && after->has_value());
  EXPECT_TRUE(Same(**after, SampleConfig(2)));
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/config.json.tmp"));
  struct stat st {};
  ASSERT_EQ(::stat((*store)->path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(ConfigStoreTest, FailedSaveLeavesThePreviousFileIntact) {
  auto store = ConfigStore::Open(dir_);
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->Save(SampleConfig(1)).ok());
  const std::string bytes = ReadFileBytes((*store)->path());
  // A directory where the temp file goes makes the write fail, even for root.
  std::filesystem::create_directory(dir_ + "/config.json.tmp");

  absl::Status st = (*store)->Save(SampleConfig(2));
  EXPECT_EQ(st.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(st.message(), HasSubstr("config.json.tmp"));
  EXPECT_EQ(ReadFileBytes((*store)->path()), bytes);
}

TEST_F(ConfigStoreTest, OpenRejectsAPathThatIsAFile) {
  WriteFileBytes(dir_, "not a directory");
  auto store = ConfigStore::Open(dir_);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(store.status().message(), HasSubstr(dir_));
  EXPECT_THAT(store.status().message(), HasSubstr("not a directory"));
}

TEST_F(ConfigStoreTest, OpenRejectsAMissingParentDirectory) {
  auto store = ConfigStore::Open(tmp_.Sub("no/such/parent"));
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(store.status().message(), HasSubstr("No such file or directory"));
}

TEST_F(ConfigStoreTest, SecondStoreOnTheSameDirectoryIsRefused) {
  auto first = ConfigStore::Open(dir_);
  ASSERT_TRUE(first.ok());
  auto second = ConfigStore::Open(dir_);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(second.status().message(), HasSubstr("in use by another trunkrouted"));
  first->reset();
  EXPECT_TRUE(ConfigStore::Open(dir_).ok());
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
