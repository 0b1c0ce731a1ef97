#ifndef TRUNKROUTE_COMMON_HEAP_TRIM_H_
#define TRUNKROUTE_COMMON_HEAP_TRIM_H_

// Gives the heap's free memory back to the operating system once trunkrouted is idle again.
//
// glibc keeps what a burst of calls allocated: freed chunks stay in malloc's bins (and in the
// arenas of every thread that allocated), so the resident set of an edge after a 3,000-call
// burst stays at its peak for as long as the process lives (docs/benchmarks.md, "Memory").
// malloc_trim(0) returns the free pages of every arena (madvise), but it walks and locks each
// arena: run during calls it would stall the SIP thread, so it runs only when no call has been
// in flight for a while, and again only when more memory became free since (Sofia frees a
// finished call's transactions up to 32 s after the call, RFC 3261 Timer D).

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"

namespace trunkroute {

struct HeapTrimOptions {
  Duration check_every = seconds(5);
  // No call in flight for this long before trimming (a lull between two calls is not idle).
  Duration quiet_for = seconds(10);
  // Free heap (malloc's free chunks, all arenas) worth the walk; and, after a trim, how much more
  // must have become free before the next one.
  size_t min_free_bytes = size_t{8} << 20;
};

// The decision, over injected time and measurements (no malloc calls): plain, for tests.
class HeapTrimPolicy {
 public:
  explicit HeapTrimPolicy(HeapTrimOptions options = {}) : options_(options) {}

  // One check: `busy` (calls in flight), `free_bytes` (free heap now). True when the heap should
  // be trimmed now; the caller then trims and reports Trimmed().
  bool ShouldTrim(MonoTime now, bool busy, size_t free_bytes);
  // After a trim: `free_bytes` as measured before it (free chunks stay free chunks; the pages
  // behind them went back to the OS).
  void Trimmed(size_t free_bytes);

  const HeapTrimOptions& options() const { return options_; }

 private:
  HeapTrimOptions options_;
  std::optional<MonoTime> last_busy_;  // never busy: idle since start, but nothing to return
  bool busy_since_trim_ = true;
  size_t free_at_trim_ = 0;
};

// What the trimmer measures and does, behind a seam so that tests run the thread without
// touching the real heap.
class HeapOps {
 public:
  virtual ~HeapOps() = default;
  virtual size_t FreeBytes() = 0;  // mallinfo2().fordblks + .fsmblks
  virtual void Trim() = 0;         // malloc_trim(0)
  virtual int64_t ResidentBytes() = 0;  // /proc/self/statm, for the log line
  static HeapOps* Real();
};

struct HeapTrimStats {
  uint64_t trims = 0;
  int64_t released_bytes = 0;  // resident set before − after, summed (≥ 0 per trim)
};

// Checks every `check_every` (real time, on its own thread once Start()ed) and trims when the
// policy says so. `busy` is read on that thread (e.g. the SIP edge's active_calls, an atomic).
class HeapTrimmer {
 public:
  HeapTrimmer(HeapTrimOptions options, std::function<bool()> busy, Clock* clock,
              HeapOps* ops = HeapOps::Real());
  ~HeapTrimmer();  // stops the thread
  void Start();
  HeapTrimmer(const HeapTrimmer&) = delete;
  HeapTrimmer& operator=(const HeapTrimmer&) = delete;

  // One check now, on the caller's thread (the thread's loop body; for tests).
  void CheckOnce();
  HeapTrimStats stats() const;

 private:
  void Run();

  const std::function<bool()> busy_;
  Clock* const clock_;
  HeapOps* const ops_;
  mutable absl::Mutex mu_;
  HeapTrimPolicy policy_ ABSL_GUARDED_BY(mu_);
  HeapTrimStats stats_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace trunkroute

#endif  // TRUNKROUTE_COMMON_HEAP_TRIM_H_
