#ifndef TRUNKROUTE_TESTS_CLI_CLI_PROCESS_H_
#define TRUNKROUTE_TESTS_CLI_CLI_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace trunkroute::testing {

struct CliResult {
  int exit_code = -1;  // -1 when killed by a signal or the time limit
  std::string out;
  std::string err;
  bool timed_out = false;
};

// The real trunkroutectl binary as a child process (posix_spawn: safe next to gRPC's threads),
// stdout and stderr captured. The environment is the test's own minus TRUNKROUTE_TOKEN,
// TRUNKROUTE_TOKEN_FILE and TRUNKROUTE_SERVER, plus `env`. Every wait is bounded; the child is
// killed at the limit.
class CliProcess {
 public:
  CliProcess(const std::vector<std::string>& args, const std::map<std::string, std::string>& env);
  ~CliProcess();
  CliProcess(const CliProcess&) = delete;
  CliProcess& operator=(const CliProcess&) = delete;

  bool started() const { return pid_ > 0; }
  // Reads output until stdout contains `count` newlines or `limit` passes. True when it did.
  bool WaitForLines(size_t count, std::chrono::milliseconds limit);
  void Signal(int sig);
  // Reads until both pipes close, then reaps the child (killing it at `limit`).
  CliResult Finish(std::chrono::milliseconds limit);

 private:
  // One poll round over the open pipes; false when both are closed.
  bool Pump(std::chrono::milliseconds wait);

  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  CliResult result_;
};

// Runs trunkroutectl with `args` to completion (at most 20 s).
CliResult RunCli(const std::vector<std::string>& args,
                 const std::map<std::string, std::string>& env = {});

}  // namespace trunkroute::testing

#endif  // TRUNKROUTE_TESTS_CLI_CLI_PROCESS_H_
