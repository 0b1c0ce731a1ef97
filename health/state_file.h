#ifndef TRUNKROUTE_HEALTH_STATE_FILE_H_
#define TRUNKROUTE_HEALTH_STATE_FILE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "common/clock.h"
#include "config/file_ops.h"
#include "health/tracker.h"
#include "trunkroute/state/health_state.pb.h"

namespace trunkroute::health {

// Warm restart (docs/health.md): the tracker's Export kept in a file (protobuf JSON mapping),
// by default <data-dir>/health-state.json, read back at the next start.

inline constexpr char kHealthStateFileName[] = "health-state.json";

// The saved state at `path`, or nullopt, logged, when there is none to use: no file (a first
// start), an unreadable one, or one that is not a health state (corrupt, truncated, from a newer
// format). Never an error: the caller then starts every trunk fresh.
std::optional<state::HealthStateFile> LoadHealthState(const std::string& path);
std::string HealthStateToJson(const state::HealthStateFile& file);

struct HealthStateWriterOptions {
  std::string path;
  // Every step of a write (tests record or fail them); must outlive the writer.
  config::FileOps* ops = &config::RealFileOps();
  // At most one write per interval, however often the state changes.
  Duration min_interval = milliseconds(100);
  // After a failed write the next attempt waits this long (a full disk is not hammered).
  Duration retry_interval = seconds(1);
  // Called once per failed write (the daemon counts trunkroute_health_state_write_failures_total).
  std::function<void()> on_write_failure;
};

// Writes the tracker's Export to the file whenever its StateVersion moved, coalescing: at most
// one write per min_interval. The copy is taken under the tracker's lock, the file is written
// outside it, crash-safe (config::WriteFileDurably). A failed write is logged (once per run of
// failures) and counted, never fatal; the next Poll after retry_interval tries again. Time from
// `clock`; not thread-safe (one caller: HealthStateWriterThread, or a test).
class HealthStatePersister {
 public:
  HealthStatePersister(const HealthTracker* tracker, const Clock* clock,
                       HealthStateWriterOptions options);

  // Writes if the state changed since the last good write and the interval allows (the first
  // Poll always writes: the file then shows this run's view). Returns when a write is due next:
  // MonoTime::max() when nothing is pending.
  MonoTime Poll();
  // Writes now if anything changed since the last good write, whatever the interval (shutdown).
  absl::Status Flush();

  uint64_t writes() const { return writes_; }
  uint64_t failures() const { return failures_; }

 private:
  absl::Status Write(MonoTime now);
  bool Pending() const;

  const HealthTracker* const tracker_;
  const Clock* const clock_;
  const HealthStateWriterOptions options_;
  const std::string dir_;
  bool written_ = false;
  uint64_t written_version_ = 0;
  MonoTime next_allowed_{};
  bool failing_ = false;
  uint64_t writes_ = 0;
  uint64_t failures_ = 0;
};

// A persister on real time: a thread that polls the tracker's StateVersion (an atomic load) every
// min_interval and writes what changed. Neither the SIP thread nor the tracker's lock ever waits
// for the disk. Stop() (or the destructor) ends the thread and flushes the last state.
class HealthStateWriterThread {
 public:
  HealthStateWriterThread(const HealthTracker* tracker, HealthStateWriterOptions options);
  ~HealthStateWriterThread();
  void Stop();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace trunkroute::health

#endif  // TRUNKROUTE_HEALTH_STATE_FILE_H_
