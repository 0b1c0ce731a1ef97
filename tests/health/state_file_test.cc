// Warm restart, the file half: the persister writes the tracker's Export crash-safe through the
// FileOps seam, coalescing changes, counting failures; LoadHealthState reads it back or, for
// anything it cannot use, nothing (the daemon then starts fresh). Simulated time, no sleeps.
#include "health/state_file.h"

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/health/health_test_util.h"
#include "tests/support/recording_file_ops.h"
#include "tests/support/temp_dir.h"

namespace trunkroute::health::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using trunkroute::testing::ReadFileBytes;
using trunkroute::testing::RecordingFileOps;
using trunkroute::testing::TempDir;

class StateFileTest : public HealthTrackerTest {
 protected:
  void SetUp() override {
    Start(kPrimaryBackup);
    path_ = dir_.Sub("health-state.json");
    HealthStateWriterOptions options;
    options.path = path_;
    options.ops = &ops_;
    options.on_write_failure = [this] { ++failure_callbacks_; };
    persister_ = std::make_unique<HealthStatePersister>(tracker_.get(), &clock_, options);
  }
  void Eject(const std::string& trunk) { ReportN(Final(trunk, 503), 3); }
  // The state of `trunk` as the file on the disk has it.
  v1::HealthState Saved(const std::string& trunk) {
    std::optional<state::HealthStateFile> file = LoadHealthState(path_);
    if (!file) return v1::HEALTH_STATE_UNSPECIFIED;
    for (const state::TrunkRecord& t : file->trunks()) {
      if (t.trunk_id() == trunk) return t.state();
    }
    return v1::HEALTH_STATE_UNSPECIFIED;
  }
  void WriteRaw(const std::string& text) {
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out << text;
  }

  TempDir dir_;
  std::string path_;
  RecordingFileOps ops_;
  int failure_callbacks_ = 0;
  std::unique_ptr<HealthStatePersister> persister_;
};

TEST_F(StateFileTest, FirstPollWritesCrashSafeInTheConfigStoresOrder) {
  EXPECT_EQ(persister_->Poll(), MonoTime::max());
  EXPECT_EQ(persister_->writes(), 1u);
  EXPECT_THAT(ops_.steps(),
              ElementsAre("create health-state.json.tmp", "write health-state.json.tmp",
                          "fsync health-state.json.tmp", "close health-state.json.tmp",
                          "rename health-state.json.tmp health-state.json",
                          absl::StrCat("fsync-dir ", dir_.path().substr(dir_.path().rfind('/') + 1))));
  EXPECT_EQ(Saved("a"), v1::HEALTH_STATE_UP);
  ops_.ClearSteps();
  clock_.AdvanceMs(1000);
  EXPECT_EQ(persister_->Poll(), MonoTime::max());
  EXPECT_TRUE(ops_.steps().empty()) << "nothing changed: nothing written";
}

TEST_F(StateFileTest, ChangesAreCoalescedIntoAtMostOneWritePerInterval) {
  persister_->Poll();
  ASSERT_EQ(persister_->writes(), 1u);
  const MonoTime first_write = clock_.Now();
  clock_.AdvanceMs(10);
  Eject("a");
  EXPECT_EQ(persister_->Poll(), first_write + milliseconds(100)) << "too soon after the last";
  clock_.AdvanceMs(40);
  Eject("b");
  persister_->Poll();
  EXPECT_EQ(persister_->writes(), 1u);
  EXPECT_EQ(Saved("a"), v1::HEALTH_STATE_UP);

  clock_.AdvanceMs(50);  // 100 ms after the first write: both changes in one write
  EXPECT_EQ(persister_->Poll(), MonoTime::max());
  EXPECT_EQ(persister_->writes(), 2u);
  EXPECT_EQ(Saved("a"), v1::HEALTH_STATE_DOWN);
  EXPECT_EQ(Saved("b"), v1::HEALTH_STATE_DOWN);
}

TEST_F(StateFileTest, FlushWritesTheLastChangeWithoutWaitingForTheInterval) {
  persister_->Poll();
  Eject("a");
  ASSERT_TRUE(persister_->Flush().ok());
  EXPECT_EQ(persister_->writes(), 2u);
  EXPECT_EQ(Saved("a"), v1::HEALTH_STATE_DOWN);
  ASSERT_TRUE(persister_->Flush().ok());
  EXPECT_EQ(persister_->writes(), 2u) << "nothing new to flush";
}

TEST_F(StateFileTest, WriteFailureIsCountedAndRetriedNeverFatal) {
  persister_->Poll();
  ASSERT_EQ(Saved("a"), v1::HEALTH_STATE_UP);
  ops_.Fail(RecordingFileOps::Step::kFsync, absl::InternalError("fsync: Input/output error"));
  Eject("a");
  clock_.AdvanceMs(100);
  const MonoTime retry = persister_->Poll();
  EXPECT_EQ(persister_->failures(), 1u);
  EXPECT_EQ(failure_callbacks_, 1);
  EXPECT_EQ(retry, clock_.Now() + seconds(1));
  EXPECT_EQ(Saved("a"), v1::HEALTH_STATE_UP) << "the old file stays whole";
  EXPECT_FALSE(std::ifstream(path_ + ".tmp").good()) << "the temp file is removed";
  EXPECT_EQ(State("a"), v1::HEALTH_STATE_DOWN) << "health goes on";

  clock_.AdvanceMs(500);
  persister_->Poll();
  EXPECT_EQ(persister_->failures(), 1u) << "retried after retry_interval, not at once";
  clock_.AdvanceMs(500);
  persister_->Poll();
  EXPECT_EQ(persister_->failures(), 2u);
  EXPECT_EQ(failure_callbacks_, 2);
  EXPECT_FALSE(persister_->Flush().ok());
  EXPECT_EQ(failure_callbacks_, 3);
}

TEST_F(StateFileTest, RoundTripThroughTheFileRestoresTheEjection) {
  Eject("a");
  ASSERT_TRUE(persister_->Flush().ok());
  std::optional<state::HealthStateFile> loaded = LoadHealthState(path_);
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(loaded->format(), 1u);
  EXPECT_THAT(ReadFileBytes(path_), HasSubstr("\"HEALTH_STATE_DOWN\""));

  persister_.reset();
  tracker_ = std::make_unique<HealthTracker>(&clock_, &random_, &prober_);
  tracker_->SetRestoreState(*std::move(loaded));
  Apply(kPrimaryBackup);
  EXPECT_EQ(State("a"), v1::HEALTH_STATE_DOWN);
  EXPECT_EQ(HoldDownLeftMs("a"), 5000);
  EXPECT_EQ(State("b"), v1::HEALTH_STATE_UP);
}

TEST_F(StateFileTest, MissingCorruptOrForeignFilesAreIgnored) {
  EXPECT_FALSE(LoadHealthState(path_).has_value()) << "no file yet";
  for (const std::string& text :
       {std::string(), std::string("{not json"), std::string("\x00\x01\x02", 3),
        std::string(R"({"format": 1, "trunks": [{"trunk_id": "a", "state": 7.5}]})"),
        std::string(R"({"format": 2, "trunks": []})"), std::string("[1, 2, 3]")}) {
    WriteRaw(text);
    EXPECT_FALSE(LoadHealthState(path_).has_value()) << text;
  }
  // A half-written file (what a crash without the temp-file dance would leave).
  Eject("a");
  ASSERT_TRUE(persister_->Flush().ok());
  const std::string whole = ReadFileBytes(path_);
  WriteRaw(whole.substr(0, whole.size() / 2));
  EXPECT_FALSE(LoadHealthState(path_).has_value());
  // Unknown fields (a newer build's) are fine.
  WriteRaw(R"({"format": 1, "written_by": "a newer build", "trunks": [{"trunk_id": "a"}]})");
  ASSERT_TRUE(LoadHealthState(path_).has_value());
  EXPECT_EQ(LoadHealthState(path_)->trunks(0).trunk_id(), "a");
}

}  // namespace
}  // namespace trunkroute::health::testing
