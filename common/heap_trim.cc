#include "common/heap_trim.h"

#include <malloc.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/log.h"

namespace trunkroute {

bool HeapTrimPolicy::ShouldTrim(MonoTime now, bool busy, size_t free_bytes) {
  if (busy) {
    last_busy_ = now;
    busy_since_trim_ = true;
    return false;
  }
  if (!last_busy_.has_value() || now - *last_busy_ < options_.quiet_for) return false;
  if (free_bytes < options_.min_free_bytes) return false;
  // Trimmed already in this idle spell: again only for memory freed since (Sofia's finished
  // transactions, up to 32 s after their calls).
  if (!busy_since_trim_ && free_bytes < free_at_trim_ + options_.min_free_bytes) return false;
  return true;
}

void HeapTrimPolicy::Trimmed(size_t free_bytes) {
  busy_since_trim_ = false;
  free_at_trim_ = free_bytes;
}

namespace {

class RealHeapOps final : public HeapOps {
 public:
  size_t FreeBytes() override {
    const struct mallinfo2 m = mallinfo2();
    return m.fordblks + m.fsmblks;
  }
  void Trim() override { malloc_trim(0); }
  int64_t ResidentBytes() override {
    std::FILE* f = std::fopen("/proc/self/statm", "r");
    if (f == nullptr) return 0;
    long size = 0;
    long resident = 0;
    const int n = std::fscanf(f, "%ld %ld", &size, &resident);
    std::fclose(f);
    return n == 2 ? static_cast<int64_t>(resident) * sysconf(_SC_PAGESIZE) : 0;
  }
};

std::string Mib(int64_t bytes) { return absl::StrCat(bytes / (1024 * 1024)); }

}  // namespace

HeapOps* HeapOps::Real() {
  static RealHeapOps ops;
  return &ops;
}

HeapTrimmer::HeapTrimmer(HeapTrimOptions options, std::function<bool()> busy, Clock* clock,
                         HeapOps* ops)
    : busy_(std::move(busy)), clock_(clock), ops_(ops), policy_(options) {}

HeapTrimmer::~HeapTrimmer() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void HeapTrimmer::Start() {
  thread_ = std::thread([this] { Run(); });
}

void HeapTrimmer::Run() {
  absl::Duration every;
  {
    absl::MutexLock lock(&mu_);
    every = absl::FromChrono(policy_.options().check_every);
  }
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (mu_.AwaitWithTimeout(absl::Condition(&stop_), every)) return;
    }
    CheckOnce();
  }
}

void HeapTrimmer::CheckOnce() {
  const bool busy = busy_();
  const size_t free_bytes = ops_->FreeBytes();
  {
    absl::MutexLock lock(&mu_);
    if (!policy_.ShouldTrim(clock_->Now(), busy, free_bytes)) return;
  }
  // Outside the lock: the trim walks every arena and may take milliseconds.
  const int64_t before = ops_->ResidentBytes();
  ops_->Trim();
  const int64_t after = ops_->ResidentBytes();
  const int64_t released = before > after ? before - after : 0;
  {
    absl::MutexLock lock(&mu_);
    policy_.Trimmed(free_bytes);
    ++stats_.trims;
    stats_.released_bytes += released;
  }
  LogInfo("idle: free heap returned to the system",
          {{"free_mib", Mib(static_cast<int64_t>(free_bytes))},
           {"rss_before_mib", Mib(before)},
           {"rss_after_mib", Mib(after)}});
}

HeapTrimStats HeapTrimmer::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

}  // namespace trunkroute
