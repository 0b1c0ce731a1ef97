#ifndef TRUNKROUTE_TESTS_SUPPORT_ETCD_CLUSTER_H_
#define TRUNKROUTE_TESTS_SUPPORT_ETCD_CLUSTER_H_

// A real etcd (Debian's etcd-server) for tests: one or three members on free loopback ports,
// each with its own data directory under the test's temp dir, started as child processes and
// stopped by PID (SIGKILL for a crash, SIGSTOP for a black hole, SIGTERM otherwise). Every wait
// is bounded.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "etcd/etcdserver/etcdserverpb/rpc.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "tests/support/temp_dir.h"

namespace trunkroute::testing {

// A TCP port on 127.0.0.1 that was free a moment ago.
inline int FreeTcpPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// Runs `argv` to completion (bounded by `timeout_s` via coreutils timeout); its exit code.
inline int RunCommand(const std::vector<std::string>& argv, const std::string& output_path,
                      int timeout_s = 20) {
  pid_t pid = ::fork();
  if (pid == 0) {
    int out = ::open(output_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    ::dup2(out, 1);
    ::dup2(out, 2);
    std::vector<std::string> full = {"timeout", std::to_string(timeout_s)};
    full.insert(full.end(), argv.begin(), argv.end());
    std::vector<char*> args;
    for (auto& a : full) args.push_back(a.data());
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

class EtcdCluster {
 public:
  struct Member {
    std::string name;
    int client_port = 0;
    int peer_port = 0;
    std::string data_dir;
    pid_t pid = -1;
    bool stopped = false;  // SIGSTOPped
    bool tls = false;
    std::string client_url() const {
      return absl::StrCat(tls ? "https" : "http", "://127.0.0.1:", client_port);
    }
    std::string peer_url() const { return absl::StrCat("http://127.0.0.1:", peer_port); }
  };

  // `size` members (1 or 3), not started yet.
  explicit EtcdCluster(int size = 1) {
    for (int i = 0; i < size; ++i) {
      Member m;
      m.name = absl::StrCat("m", i);
      m.client_port = FreeTcpPort();
      m.peer_port = FreeTcpPort();
      m.data_dir = dir_.Sub(m.name);
      members_.push_back(m);
    }
  }
  ~EtcdCluster() {
    for (size_t i = 0; i < members_.size(); ++i) Kill(static_cast<int>(i));
  }
  EtcdCluster(const EtcdCluster&) = delete;
  EtcdCluster& operator=(const EtcdCluster&) = delete;

  // Serves clients over TLS with client-certificate auth: a CA, a server certificate for
  // 127.0.0.1 and a client certificate are made in the cluster's directory (ca.pem, client.pem,
  // client-key.pem). Call before Start(). False when openssl failed.
  bool EnableTls() {
    const std::string d = dir_.path();
    const std::string script = absl::StrCat(
        "set -e; cd ", d, "; ",
        "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=test-etcd-ca "
        "-keyout ca-key.pem -out ca.pem; ",
        "openssl req -newkey rsa:2048 -nodes -subj /CN=etcd -keyout server-key.pem "
        "-out server.csr; ",
        "printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' > ext; ",
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 2 "
        "-extfile ext -out server.pem; ",
        "openssl req -newkey rsa:2048 -nodes -subj /CN=trunkroute -keyout client-key.pem "
        "-out client.csr; ",
        "printf 'extendedKeyUsage=clientAuth\n' > cext; ",
        "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 2 "
        "-extfile cext -out client.pem");
    if (RunCommand({"sh", "-c", script}, dir_.Sub("openssl.log")) != 0) return false;
    for (Member& m : members_) m.tls = true;
    AddArgs({"--cert-file", dir_.Sub("server.pem"), "--key-file", dir_.Sub("server-key.pem"),
             "--trusted-ca-file", dir_.Sub("ca.pem"), "--client-cert-auth"});
    return true;
  }

  // Starts every member and waits (bounded) until the cluster answers. False on timeout.
  bool Start() {
    for (size_t i = 0; i < members_.size(); ++i) StartMember(static_cast<int>(i));
    return WaitHealthy(std::chrono::seconds(30));
  }

  // Starts member `i` again (after Kill) on its old data directory.
  void StartMember(int i) {
    Member& m = members_[i];
    std::vector<std::string> peers;
    for (const Member& p : members_) peers.push_back(absl::StrCat(p.name, "=", p.peer_url()));
    std::vector<std::string> argv = {
        "etcd", "--name", m.name, "--data-dir", m.data_dir, "--listen-client-urls", m.client_url(),
        "--advertise-client-urls", m.client_url(), "--listen-peer-urls", m.peer_url(),
        "--initial-advertise-peer-urls", m.peer_url(), "--initial-cluster",
        absl::StrJoin(peers, ","), "--initial-cluster-state", "new", "--initial-cluster-token",
        "trunkroute-test",
        // Elections in a fraction of a second, so that leader-loss tests stay short.
        "--heartbeat-interval", "50", "--election-timeout", "500", "--logger", "zap", "--log-level",
        "warn", "--log-outputs", m.data_dir + ".log"};
    for (const std::string& extra : extra_args_) argv.push_back(extra);
    m.pid = ::fork();
    if (m.pid == 0) {
      int null = ::open("/dev/null", O_RDWR);
      ::dup2(null, 0);
      int log = ::open((m.data_dir + ".out").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      ::dup2(log, 1);
      ::dup2(log, 2);
      // Dies with the test process, whatever happens to it.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      ::execvp(args[0], args.data());
      ::_exit(127);
    }
    m.stopped = false;
  }

  // kill -9 (a crash): the member is gone, its data directory stays.
  void Kill(int i) {
    Member& m = members_[i];
    if (m.pid <= 0) return;
    ::kill(m.pid, SIGCONT);
    ::kill(m.pid, SIGKILL);
    ::waitpid(m.pid, nullptr, 0);
    m.pid = -1;
  }
  void KillAll() {
    for (size_t i = 0; i < members_.size(); ++i) Kill(static_cast<int>(i));
  }
  // SIGSTOP / SIGCONT: a member that holds its connections open and answers nothing.
  void Pause(int i) {
    ::kill(members_[i].pid, SIGSTOP);
    members_[i].stopped = true;
  }
  void Resume(int i) {
    ::kill(members_[i].pid, SIGCONT);
    members_[i].stopped = false;
  }

  std::shared_ptr<grpc::Channel> Channel(int i) const {
    const std::string target = absl::StrCat("127.0.0.1:", members_[i].client_port);
    if (!members_[i].tls) return grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = ReadFileBytes(dir_.Sub("ca.pem"));
    ssl.pem_cert_chain = ReadFileBytes(dir_.Sub("client.pem"));
    ssl.pem_private_key = ReadFileBytes(dir_.Sub("client-key.pem"));
    return grpc::CreateChannel(target, grpc::SslCredentials(ssl));
  }

  // Index of the member that is leader now, or -1 (asked of every running member).
  int Leader() {
    for (size_t i = 0; i < members_.size(); ++i) {
      if (members_[i].pid <= 0 || members_[i].stopped) continue;
      auto stub = etcdserverpb::Maintenance::NewStub(Channel(static_cast<int>(i)));
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
      etcdserverpb::StatusRequest req;
      etcdserverpb::StatusResponse resp;
      if (!stub->Status(&ctx, req, &resp).ok()) continue;
      if (resp.leader() == 0) continue;
      if (resp.leader() == resp.header().member_id()) return static_cast<int>(i);
    }
    return -1;
  }

  // Polls until a leader is elected and a read through it succeeds, or `timeout`.
  bool WaitHealthy(std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int leader = Leader();
      if (leader >= 0) {
        auto stub = etcdserverpb::KV::NewStub(Channel(leader));
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
        etcdserverpb::RangeRequest req;
        req.set_key("health");
        etcdserverpb::RangeResponse resp;
        if (stub->Range(&ctx, req, &resp).ok()) return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  // "http://127.0.0.1:A,http://127.0.0.1:B,...": the --etcd-endpoints value.
  std::string Endpoints() const {
    std::vector<std::string> urls;
    for (const Member& m : members_) urls.push_back(m.client_url());
    return absl::StrJoin(urls, ",");
  }
  std::vector<std::string> EndpointList() const {
    std::vector<std::string> urls;
    for (const Member& m : members_) urls.push_back(m.client_url());
    return urls;
  }

  // Runs etcdctl (v3 API) against the cluster; its exit code. Output goes to the cluster's log.
  int Etcdctl(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"env", "ETCDCTL_API=3", "etcdctl", "--endpoints", Endpoints()};
    if (!members_.empty() && members_[0].tls) {
      for (const std::string& a :
           {"--cacert=" + dir_.Sub("ca.pem"), "--cert=" + dir_.Sub("client.pem"),
            "--key=" + dir_.Sub("client-key.pem")}) {
        argv.push_back(a);
      }
    }
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, dir_.Sub("etcdctl.log"));
  }
  std::string EtcdctlLog() const { return ReadFileBytes(dir_.Sub("etcdctl.log")); }

  // Extra etcd flags for members started from now on (e.g. TLS).
  void AddArgs(const std::vector<std::string>& args) {
    extra_args_.insert(extra_args_.end(), args.begin(), args.end());
  }
  std::vector<Member>& members() { return members_; }
  const TempDir& dir() const { return dir_; }

 private:
  TempDir dir_;
  std::vector<Member> members_;
  std::vector<std::string> extra_args_;
};

}  // namespace trunkroute::testing

#endif  // TRUNKROUTE_TESTS_SUPPORT_ETCD_CLUSTER_H_
