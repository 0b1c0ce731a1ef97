#ifndef TRUNKROUTE_TESTS_SUPPORT_TRUNKROUTED_PROCESS_H_
#define TRUNKROUTE_TESTS_SUPPORT_TRUNKROUTED_PROCESS_H_

// The real trunkrouted binary as a child process: stdout and stderr into a file the test reads,
// stopped by PID (SIGKILL when the object goes away and it still runs). Every wait is bounded.

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "re2/re2.h"
#include "tests/support/temp_dir.h"

namespace trunkroute::testing {

class TrunkroutedProcess {
 public:
  // Starts `binary` with `args`; `env` entries ("NAME=value") are added to the environment.
  TrunkroutedProcess(const std::string& binary, const std::vector<std::string>& args,
                     const std::string& output_path, const std::vector<std::string>& env = {})
      : output_path_(output_path) {
    std::vector<std::string> argv_storage = {binary};
    argv_storage.insert(argv_storage.end(), args.begin(), args.end());
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      int out = ::open(output_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      int null = ::open("/dev/null", O_RDWR);
      ::dup2(null, 0);
      ::dup2(out, 1);
      ::dup2(out, 2);
      for (const std::string& e : env) ::putenv(const_cast<char*>(e.c_str()));
      std::vector<char*> argv;
      for (auto& a : argv_storage) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
  }
  ~TrunkroutedProcess() {
    if (pid_ > 0 && !exit_code_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  TrunkroutedProcess(const TrunkroutedProcess&) = delete;
  TrunkroutedProcess& operator=(const TrunkroutedProcess&) = delete;

  // Exit code once the process ended, polled until `timeout`; nullopt if still running.
  std::optional<int> WaitExit(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!exit_code_) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        break;
      }
      if (std::chrono::steady_clock::now() >= deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return exit_code_;
  }

  // The gRPC address from the "trunkrouted serving grpc=..." log line, polled until `timeout`;
  // nullopt when it exited or did not get there in time. The HTTP address of the same line is
  // http_address() afterwards.
  std::optional<std::string> WaitServing(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    static const RE2 serving(
        "trunkrouted serving\"? grpc=([0-9.]+:[0-9]+)(?: http=([0-9.]+:[0-9]+))?");
    while (std::chrono::steady_clock::now() < deadline) {
      std::string grpc;
      const std::string log = Output();
      if (RE2::PartialMatch(log, serving, &grpc, &http_address_)) return grpc;
      if (WaitExit(std::chrono::milliseconds(0))) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return std::nullopt;
  }

  const std::string& http_address() const { return http_address_; }

  // Polls the output until it contains `text` (bounded); whether it did.
  bool WaitForOutput(const std::string& text, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (Output().find(text) == std::string::npos) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
  }

  void Signal(int sig) { ::kill(pid_, sig); }
  // kill -9 and reap.
  void Kill() {
    if (exit_code_) return;
    ::kill(pid_, SIGKILL);
    WaitExit(std::chrono::seconds(5));
  }
  pid_t pid() const { return pid_; }
  std::string Output() const { return ReadFileBytes(output_path_); }

 private:
  std::string output_path_;
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::string http_address_;
};

}  // namespace trunkroute::testing

#endif  // TRUNKROUTE_TESTS_SUPPORT_TRUNKROUTED_PROCESS_H_
