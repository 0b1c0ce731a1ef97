#ifndef TRUNKROUTE_TESTS_SUPPORT_RECORDING_FILE_OPS_H_
#define TRUNKROUTE_TESTS_SUPPORT_RECORDING_FILE_OPS_H_

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "config/file_ops.h"

namespace trunkroute::testing {

// A config::FileOps that does the real POSIX calls (the files really exist, so a store reading
// them back sees what a restart would) and records each step, in order, as "<step> <file name>"
// ("create config.json.tmp", "write config.json.tmp", "fsync config.json.tmp",
// "close config.json.tmp", "rename config.json.tmp config.json", "fsync-dir data",
// "unlink config.json.tmp"): base names only, so tests need not spell their temp directory.
// Fail(step, status) makes that step fail from then on without doing it ("fsync-dir data
// FAILED"). Thread-safe.
class RecordingFileOps final : public config::FileOps {
 public:
  enum class Step { kCreate, kWrite, kFsync, kClose, kRename, kFsyncDir };

  void Fail(Step step, absl::Status status) {
    absl::MutexLock lock(&mu_);
    failures_[step] = std::move(status);
  }
  std::vector<std::string> steps() const {
    absl::MutexLock lock(&mu_);
    return steps_;
  }
  void ClearSteps() {
    absl::MutexLock lock(&mu_);
    steps_.clear();
  }

  absl::StatusOr<int> CreateTruncated(const std::string& path) override {
    if (absl::Status st = Record(Step::kCreate, "create", BaseName(path)); !st.ok()) return st;
    return real_.CreateTruncated(path);
  }
  absl::Status WriteAll(int fd, std::string_view data, const std::string& path) override {
    if (absl::Status st = Record(Step::kWrite, "write", BaseName(path)); !st.ok()) return st;
    return real_.WriteAll(fd, data, path);
  }
  absl::Status Fsync(int fd, const std::string& path) override {
    if (absl::Status st = Record(Step::kFsync, "fsync", BaseName(path)); !st.ok()) return st;
    return real_.Fsync(fd, path);
  }
  absl::Status Close(int fd, const std::string& path) override {
    if (absl::Status st = Record(Step::kClose, "close", BaseName(path)); !st.ok()) {
      real_.Close(fd, path).IgnoreError();  // a failed close still releases the descriptor
      return st;
    }
    return real_.Close(fd, path);
  }
  absl::Status Rename(const std::string& from, const std::string& to) override {
    if (absl::Status st =
            Record(Step::kRename, "rename", absl::StrCat(BaseName(from), " ", BaseName(to)));
        !st.ok()) {
      return st;
    }
    return real_.Rename(from, to);
  }
  absl::Status FsyncDir(const std::string& dir) override {
    if (absl::Status st = Record(Step::kFsyncDir, "fsync-dir", BaseName(dir)); !st.ok()) {
      return st;
    }
    return real_.FsyncDir(dir);
  }
  void Unlink(const std::string& path) override {
    {
      absl::MutexLock lock(&mu_);
      steps_.push_back(absl::StrCat("unlink ", BaseName(path)));
    }
    real_.Unlink(path);
  }

 private:
  static std::string BaseName(const std::string& path) {
    size_t slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
  }
  // Records the step; its injected failure, if any.
  absl::Status Record(Step step, const char* name, const std::string& what) {
    absl::MutexLock lock(&mu_);
    auto it = failures_.find(step);
    const bool fail = it != failures_.end();
    steps_.push_back(absl::StrCat(name, " ", what, fail ? " FAILED" : ""));
    return fail ? it->second : absl::OkStatus();
  }

  config::FileOps& real_ = config::RealFileOps();
  mutable absl::Mutex mu_;
  std::vector<std::string> steps_ ABSL_GUARDED_BY(mu_);
  std::map<Step, absl::Status> failures_ ABSL_GUARDED_BY(mu_);
};

}  // namespace trunkroute::testing

#endif  // TRUNKROUTE_TESTS_SUPPORT_RECORDING_FILE_OPS_H_
