#include "tests/sip/sipp.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

namespace trunkroute::sip::testing {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

std::unique_ptr<Sipp> Sipp::Start(const std::string& name, const std::string& dir,
                                  const std::vector<std::string>& args) {
  std::unique_ptr<Sipp> s(new Sipp(name, dir));
  std::vector<std::string> argv = {"sipp"};
  argv.insert(argv.end(), args.begin(), args.end());
  for (const char* a : {"-nostdin", "-trace_logs", "-trace_msg", "-trace_err"}) argv.push_back(a);
  argv.push_back("-log_file");
  argv.push_back(dir + "/" + name + ".log");
  argv.push_back("-message_file");
  argv.push_back(dir + "/" + name + ".msg");
  argv.push_back("-error_file");
  argv.push_back(dir + "/" + name + "_err.log");
  const std::string out = dir + "/" + name + ".out";
  pid_t pid = fork();
  if (pid == 0) {
    // A test that crashes must not leave SIPp behind holding its ports.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int in = open("/dev/null", O_RDONLY);
    int o = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(in, 0);
    dup2(o, 1);
    dup2(o, 2);
    if (chdir(dir.c_str()) != 0) _exit(126);
    std::vector<char*> cargv;
    for (std::string& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    execvp("sipp", cargv.data());
    _exit(127);
  }
  s->pid_ = pid;
  return s;
}

Sipp::~Sipp() { Kill(); }

bool Sipp::Running() {
  if (pid_ <= 0) return false;
  int st = 0;
  pid_t r = waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
    pid_ = -1;
    return false;
  }
  return true;
}

int Sipp::Wait(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (Running()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      Kill();
      return -1000;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return status_;
}

void Sipp::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int st = 0;
  waitpid(pid_, &st, 0);
  pid_ = -1;
}

void Sipp::Signal(int sig) {
  if (pid_ > 0) kill(pid_, sig);
}

std::string Sipp::Log() const { return ReadFile(dir_ + "/" + name_ + ".log"); }
std::string Sipp::Messages() const { return ReadFile(dir_ + "/" + name_ + ".msg"); }
std::string Sipp::Output() const { return ReadFile(dir_ + "/" + name_ + ".out"); }

std::string Scenario(const std::string& file) {
  return std::string(TRUNKROUTE_SIP_SCENARIO_DIR) + "/" + file;
}

bool WaitUdpBound(int port, std::chrono::milliseconds timeout) {
  char needle[32];
  std::snprintf(needle, sizeof(needle), ":%04X 00000000:0000 07", port);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (ReadFile("/proc/net/udp").find(needle) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

std::string MakeTempDir(const std::string& prefix) {
  std::string templ = "/tmp/" + prefix + "-XXXXXX";
  char* d = mkdtemp(templ.data());
  return d != nullptr ? std::string(d) : std::string("/tmp");
}

}  // namespace trunkroute::sip::testing
