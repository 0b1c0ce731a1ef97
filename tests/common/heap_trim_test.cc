#include "common/heap_trim.h"

#include <cstddef>
#include <vector>

#include "gtest/gtest.h"
#include "tests/support/simulated_clock.h"

namespace trunkroute {
namespace {

constexpr size_t kMiB = size_t{1} << 20;

HeapTrimOptions Options() {
  HeapTrimOptions o;
  o.quiet_for = seconds(10);
  o.min_free_bytes = 8 * kMiB;
  return o;
}

class HeapTrimPolicyTest : public ::testing::Test {
 protected:
  testing::SimulatedClock clock_;
  HeapTrimPolicy policy_{Options()};

  bool Check(bool busy, size_t free_mib) {
    return policy_.ShouldTrim(clock_.Now(), busy, free_mib * kMiB);
  }
};

TEST_F(HeapTrimPolicyTest, NeverWhileCallsAreInFlight) {
  for (int i = 0; i < 10; ++i) {
    EXPECT_FALSE(Check(/*busy=*/true, 500));
    clock_.AdvanceMs(5000);
  }
}

TEST_F(HeapTrimPolicyTest, NotBeforeAnyCall) {
  // Idle since start: nothing a burst left behind.
  clock_.AdvanceMs(60'000);
  EXPECT_FALSE(Check(false, 500));
}

TEST_F(HeapTrimPolicyTest, OnlyAfterTheQuietPeriod) {
  EXPECT_FALSE(Check(true, 100));
  clock_.AdvanceMs(9'999);
  EXPECT_FALSE(Check(false, 100));
  clock_.AdvanceMs(1);
  EXPECT_TRUE(Check(false, 100));
}

TEST_F(HeapTrimPolicyTest, ALullBetweenCallsRestartsTheQuietPeriod) {
  EXPECT_FALSE(Check(true, 100));
  clock_.AdvanceMs(8'000);
  EXPECT_FALSE(Check(false, 100));
  EXPECT_FALSE(Check(true, 100));  // another call
  clock_.AdvanceMs(8'000);
  EXPECT_FALSE(Check(false, 100));
  clock_.AdvanceMs(2'000);
  EXPECT_TRUE(Check(false, 100));
}

TEST_F(HeapTrimPolicyTest, NotForLittleFreeMemory) {
  EXPECT_FALSE(Check(true, 1));
  clock_.AdvanceMs(20'000);
  EXPECT_FALSE(Check(false, 7));
  EXPECT_TRUE(Check(false, 8));
}

TEST_F(HeapTrimPolicyTest, AgainOnlyWhenMoreBecameFreeOrAfterNewCalls) {
  EXPECT_FALSE(Check(true, 0));
  clock_.AdvanceMs(10'000);
  ASSERT_TRUE(Check(false, 100));
  policy_.Trimmed(100 * kMiB);
  clock_.AdvanceMs(5'000);
  EXPECT_FALSE(Check(false, 100));  // the same free chunks: nothing new to return
  EXPECT_FALSE(Check(false, 107));
  EXPECT_TRUE(Check(false, 108));  // transactions freed after Timer D
  policy_.Trimmed(108 * kMiB);
  EXPECT_FALSE(Check(false, 108));
  // New calls, then quiet again: trimmed again even with less free than before.
  EXPECT_FALSE(Check(true, 50));
  clock_.AdvanceMs(10'000);
  EXPECT_TRUE(Check(false, 50));
}

class FakeHeapOps final : public HeapOps {
 public:
  size_t free_bytes = 0;
  int64_t resident = 300 * static_cast<int64_t>(kMiB);
  int64_t resident_after_trim = 60 * static_cast<int64_t>(kMiB);
  int trims = 0;
  size_t FreeBytes() override { return free_bytes; }
  void Trim() override {
    ++trims;
    resident = resident_after_trim;
  }
  int64_t ResidentBytes() override { return resident; }
};

TEST(HeapTrimmerTest, TrimsOnceIdleAndCountsWhatWentBack) {
  testing::SimulatedClock clock;
  FakeHeapOps ops;
  bool busy = true;
  HeapTrimmer trimmer(Options(), [&] { return busy; }, &clock, &ops);
  ops.free_bytes = 200 * kMiB;
  trimmer.CheckOnce();
  EXPECT_EQ(ops.trims, 0);
  busy = false;
  clock.AdvanceMs(10'000);
  trimmer.CheckOnce();
  EXPECT_EQ(ops.trims, 1);
  EXPECT_EQ(trimmer.stats().trims, 1u);
  EXPECT_EQ(trimmer.stats().released_bytes, 240 * static_cast<int64_t>(kMiB));
  clock.AdvanceMs(5'000);
  trimmer.CheckOnce();
  EXPECT_EQ(ops.trims, 1);
}

TEST(HeapTrimmerTest, AResidentSetThatGrewIsNotCountedAsReleased) {
  testing::SimulatedClock clock;
  FakeHeapOps ops;
  bool busy = true;
  HeapTrimmer trimmer(Options(), [&] { return busy; }, &clock, &ops);
  trimmer.CheckOnce();
  busy = false;
  clock.AdvanceMs(10'000);
  ops.free_bytes = 20 * kMiB;
  ops.resident_after_trim = ops.resident + 1;
  trimmer.CheckOnce();
  EXPECT_EQ(trimmer.stats().trims, 1u);
  EXPECT_EQ(trimmer.stats().released_bytes, 0);
}

// The real heap: after freeing a large number of small blocks (as a burst of calls leaves
// them), a trim lowers the resident set. Measured, not timed.
TEST(HeapTrimmerTest, RealTrimReturnsFreedSmallBlocks) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "ASan's allocator is not glibc's: nothing for malloc_trim to return";
#endif
  HeapOps* ops = HeapOps::Real();
  std::vector<char*> blocks;
  constexpr int kBlocks = 200'000;  // × 512 B ≈ 100 MiB, below the mmap threshold
  blocks.reserve(kBlocks);
  for (int i = 0; i < kBlocks; ++i) {
    char* b = new char[512];
    for (int j = 0; j < 512; j += 64) b[j] = static_cast<char>(i);
    blocks.push_back(b);
  }
  // Keep every 64th block (fragmentation as calls leave it); free the rest.
  for (int i = 0; i < kBlocks; ++i) {
    if (i % 64 != 0) {
      delete[] blocks[i];
      blocks[i] = nullptr;
    }
  }
  const size_t free_bytes = ops->FreeBytes();
  EXPECT_GT(free_bytes, 50 * kMiB);
  const int64_t before = ops->ResidentBytes();
  ops->Trim();
  const int64_t after = ops->ResidentBytes();
  EXPECT_LT(after, before - static_cast<int64_t>(40 * kMiB)) << before << " -> " << after;
  for (char* b : blocks) delete[] b;
}

}  // namespace
}  // namespace trunkroute
