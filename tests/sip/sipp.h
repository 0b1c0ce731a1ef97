#ifndef TRUNKROUTE_TESTS_SIP_SIPP_H_
#define TRUNKROUTE_TESTS_SIP_SIPP_H_

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace trunkroute::sip::testing {

// One SIPp process (sip-tester) driven by a test: started with -nostdin and stdin from
// /dev/null, its per-call log (-trace_logs) and message trace (-trace_msg) in `dir`, stopped by
// PID (SIGKILL) when the object goes away. Every run is bounded by the -timeout the caller gives.
class Sipp {
 public:
  // `name` names the files in `dir` (<name>.log, <name>.msg, <name>.out). `args` follow the
  // sipp binary (scenario, addresses, -m, -timeout …).
  static std::unique_ptr<Sipp> Start(const std::string& name, const std::string& dir,
                                     const std::vector<std::string>& args);
  ~Sipp();

  // Exit status once it ends by itself within `timeout`; -1000 if it had to be killed.
  int Wait(std::chrono::milliseconds timeout);
  bool Running();
  void Kill();
  // Sends `sig` (e.g. SIGSTOP/SIGCONT to make a trunk silent and back) while it runs.
  void Signal(int sig);

  std::string Log() const;       // the -trace_logs file (our <log> lines)
  std::string Messages() const;  // the -trace_msg file (every message sent and received)
  std::string Output() const;    // stdout/stderr

 private:
  Sipp(std::string name, std::string dir) : name_(std::move(name)), dir_(std::move(dir)) {}
  std::string name_;
  std::string dir_;
  pid_t pid_ = -1;
  int status_ = -1;
};

// Absolute path of a scenario under tests/sip/scenarios.
std::string Scenario(const std::string& file);

// True once something listens on 127.0.0.1:`port`/udp (polls /proc/net/udp until `timeout`).
bool WaitUdpBound(int port, std::chrono::milliseconds timeout);

// A fresh directory for one test's files.
std::string MakeTempDir(const std::string& prefix);

}  // namespace trunkroute::sip::testing

#endif  // TRUNKROUTE_TESTS_SIP_SIPP_H_
