#include "health/state_file.h"

#include <errno.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/log.h"
#include "google/protobuf/util/json_util.h"

namespace trunkroute::health {
namespace {

constexpr uint32_t kFormat = 1;

std::string DirOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

std::optional<state::HealthStateFile> LoadHealthState(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    if (err == ENOENT) {
      LogInfo("no saved health state: every trunk starts fresh", {{"path", path}});
    } else {
      LogWarn("saved health state unreadable, ignored: every trunk starts fresh",
              {{"path", path}, {"error", std::strerror(err)}});
    }
    return std::nullopt;
  }
  std::stringstream text;
  text << in.rdbuf();
  state::HealthStateFile file;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;  // a newer build's extra fields
  const auto st = google::protobuf::util::JsonStringToMessage(text.str(), &file, options);
  if (!st.ok() || file.format() != kFormat) {
    // The parser's first line only: the rest quotes the file.
    std::string why =
        !st.ok() ? std::string(st.message().data(), st.message().size())
                 : absl::StrCat("format ", file.format(), ", this build reads ", kFormat);
    why = why.substr(0, why.find('\n'));
    LogWarn("saved health state is corrupt, ignored: every trunk starts fresh",
            {{"path", path}, {"error", why.empty() ? "not a health state" : why}});
    return std::nullopt;
  }
  return file;
}

std::string HealthStateToJson(const state::HealthStateFile& file) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  std::string out;
  // Only fails for Any fields pointing at unknown types; there are none.
  (void)google::protobuf::util::MessageToJsonString(file, &out, options);
  return out;
}

// ---- HealthStatePersister ----------------------------------------------------------------

HealthStatePersister::HealthStatePersister(const HealthTracker* tracker, const Clock* clock,
                                           HealthStateWriterOptions options)
    : tracker_(tracker),
      clock_(clock),
      options_(std::move(options)),
      dir_(DirOf(options_.path)) {}

bool HealthStatePersister::Pending() const {
  return !written_ || tracker_->StateVersion() != written_version_;
}

MonoTime HealthStatePersister::Poll() {
  if (!Pending()) return MonoTime::max();
  const MonoTime now = clock_->Now();
  if (now < next_allowed_) return next_allowed_;
  Write(now).IgnoreError();  // logged and counted there
  return Pending() ? next_allowed_ : MonoTime::max();
}

absl::Status HealthStatePersister::Flush() {
  if (!Pending()) return absl::OkStatus();
  return Write(clock_->Now());
}

absl::Status HealthStatePersister::Write(MonoTime now) {
  uint64_t version = 0;
  const state::HealthStateFile file = tracker_->Export(&version);
  absl::Status st =
      config::WriteFileDurably(*options_.ops, dir_, options_.path, HealthStateToJson(file));
  if (!st.ok()) {
    ++failures_;
    if (options_.on_write_failure) options_.on_write_failure();
    if (!failing_) {
      LogWarn("cannot save health state (retrying; health keeps working, a restart now would "
              "start the trunks fresh)",
              {{"path", options_.path}, {"error", std::string(st.message())}});
    }
    failing_ = true;
    next_allowed_ = now + options_.retry_interval;
    return st;
  }
  if (failing_) LogInfo("health state saved again", {{"path", options_.path}});
  failing_ = false;
  written_ = true;
  written_version_ = version;
  next_allowed_ = now + options_.min_interval;
  ++writes_;
  return absl::OkStatus();
}

// ---- HealthStateWriterThread --------------------------------------------------------------

class HealthStateWriterThread::Impl {
 public:
  Impl(const HealthTracker* tracker, HealthStateWriterOptions options)
      : interval_(options.min_interval),
        persister_(tracker, RealClock::Get(), std::move(options)),
        thread_([this] { Run(); }) {}
  ~Impl() { Stop(); }

  void Stop() {
    {
      absl::MutexLock l(&mu_);
      if (stopped_) return;
      stopped_ = true;
    }
    thread_.join();
    // The last state: whatever changed since the last write (shutdown).
    persister_.Flush().IgnoreError();
  }

 private:
  void Run() {
    for (;;) {
      // Between polls the state may change any number of times: each poll writes it once.
      const MonoTime due = persister_.Poll();
      const MonoTime now = RealClock::Get()->Now();
      const Duration wait =
          std::clamp<Duration>(due - std::min(due, now), milliseconds(1), interval_);
      absl::MutexLock l(&mu_);
      if (mu_.AwaitWithTimeout(absl::Condition(&stopped_), absl::FromChrono(wait))) return;
    }
  }

  const Duration interval_;
  HealthStatePersister persister_;  // only the thread uses it, then Stop() once it has joined
  absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: starts once everything else is ready
};

HealthStateWriterThread::HealthStateWriterThread(const HealthTracker* tracker,
                                                 HealthStateWriterOptions options)
    : impl_(std::make_unique<Impl>(tracker, std::move(options))) {}
HealthStateWriterThread::~HealthStateWriterThread() = default;
void HealthStateWriterThread::Stop() { impl_->Stop(); }

}  // namespace trunkroute::health
