#include "tests/cli/cli_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

extern char** environ;

namespace trunkroute::testing {
namespace {

using Clock = std::chrono::steady_clock;

void CloseFd(int* fd) {
  if (*fd >= 0) ::close(*fd);
  *fd = -1;
}

}  // namespace

CliProcess::CliProcess(const std::vector<std::string>& args,
                       const std::map<std::string, std::string>& env) {
  std::vector<std::string> argv_s = {TRUNKROUTECTL_PATH};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<std::string> env_s;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry = *e;
    if (entry.rfind("TRUNKROUTE_TOKEN=", 0) == 0 || entry.rfind("TRUNKROUTE_SERVER=", 0) == 0 ||
        entry.rfind("TRUNKROUTE_TOKEN_FILE=", 0) == 0) {
      continue;
    }
    env_s.push_back(entry);
  }
  for (const auto& [key, value] : env) env_s.push_back(key + "=" + value);
  std::vector<char*> argv, envp;
  for (std::string& s : argv_s) argv.push_back(s.data());
  argv.push_back(nullptr);
  for (std::string& s : env_s) envp.push_back(s.data());
  envp.push_back(nullptr);

  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return;
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    return;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], STDERR_FILENO);
  // The child starts with default signal dispositions and an empty mask, whatever gRPC or
  // gtest did to this process.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all_default;
  sigemptyset(&none);
  sigemptyset(&all_default);
  sigaddset(&all_default, SIGINT);
  sigaddset(&all_default, SIGTERM);
  sigaddset(&all_default, SIGPIPE);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all_default);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  if (posix_spawn(&pid, argv[0], &actions, &attr, argv.data(), envp.data()) == 0) pid_ = pid;
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  out_fd_ = out_pipe[0];
  err_fd_ = err_pipe[0];
  if (pid_ <= 0) {
    CloseFd(&out_fd_);
    CloseFd(&err_fd_);
  }
}

CliProcess::~CliProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  CloseFd(&out_fd_);
  CloseFd(&err_fd_);
}

bool CliProcess::Pump(std::chrono::milliseconds wait) {
  pollfd fds[2];
  int n = 0;
  std::string* sinks[2];
  int* owners[2];
  for (auto [fd, sink] : {std::pair{&out_fd_, &result_.out}, std::pair{&err_fd_, &result_.err}}) {
    if (*fd < 0) continue;
    fds[n] = {*fd, POLLIN, 0};
    sinks[n] = sink;
    owners[n] = fd;
    ++n;
  }
  if (n == 0) return false;
  if (::poll(fds, n, static_cast<int>(wait.count())) <= 0) return true;
  for (int i = 0; i < n; ++i) {
    if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
    char buf[4096];
    ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
    if (got > 0) {
      sinks[i]->append(buf, static_cast<size_t>(got));
    } else {
      CloseFd(owners[i]);
    }
  }
  return out_fd_ >= 0 || err_fd_ >= 0;
}

bool CliProcess::WaitForLines(size_t count, std::chrono::milliseconds limit) {
  const auto deadline = Clock::now() + limit;
  auto lines = [&] {
    size_t n = 0;
    for (char c : result_.out) n += c == '\n';
    return n;
  };
  while (lines() < count && Clock::now() < deadline) {
    if (!Pump(std::chrono::milliseconds(50))) break;
  }
  return lines() >= count;
}

void CliProcess::Signal(int sig) {
  if (pid_ > 0) ::kill(pid_, sig);
}

CliResult CliProcess::Finish(std::chrono::milliseconds limit) {
  const auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline && Pump(std::chrono::milliseconds(50))) {
  }
  if (out_fd_ >= 0 || err_fd_ >= 0) {
    result_.timed_out = true;
    ::kill(pid_, SIGKILL);
  }
  if (pid_ > 0) {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    result_.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  CloseFd(&out_fd_);
  CloseFd(&err_fd_);
  return result_;
}

CliResult RunCli(const std::vector<std::string>& args,
                 const std::map<std::string, std::string>& env) {
  CliProcess process(args, env);
  if (!process.started()) return {};
  return process.Finish(std::chrono::seconds(20));
}

}  // namespace trunkroute::testing
