#ifndef TRUNKROUTE_TESTS_SUPPORT_STDERR_CAPTURE_H_
#define TRUNKROUTE_TESTS_SUPPORT_STDERR_CAPTURE_H_

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "tests/support/temp_dir.h"

namespace trunkroute::testing {

// Sends the process's stderr (where log lines go) to a file for the scope's duration; Text()
// reads what was written so far. Lines from other threads of the process land there too.
class StderrCapture {
 public:
  StderrCapture() : path_(dir_.Sub("stderr")) {
    std::fflush(stderr);
    saved_ = ::dup(STDERR_FILENO);
    const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ::dup2(fd, STDERR_FILENO);
    ::close(fd);
  }
  ~StderrCapture() { Restore(); }
  void Restore() {
    if (saved_ < 0) return;
    std::fflush(stderr);
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
    saved_ = -1;
  }
  std::string Text() const { return ReadFileBytes(path_); }

 private:
  TempDir dir_;
  std::string path_;
  int saved_ = -1;
};

}  // namespace trunkroute::testing

#endif  // TRUNKROUTE_TESTS_SUPPORT_STDERR_CAPTURE_H_
