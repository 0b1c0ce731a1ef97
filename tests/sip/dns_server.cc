#include "tests/sip/dns_server.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "tests/sip/sipp.h"

namespace trunkroute::sip::testing {

DnsZone& DnsZone::Naptr(const std::string& name, int order, int preference,
                        const std::string& flags, const std::string& service,
                        const std::string& replacement) {
  options.push_back(absl::StrCat("--naptr-record=", name, ",", order, ",", preference, ",", flags,
                                 ",", service, ",,", replacement));
  return *this;
}

DnsZone& DnsZone::Srv(const std::string& name, const std::string& target, int port, int priority,
                      int weight) {
  options.push_back(
      absl::StrCat("--srv-host=", name, ",", target, ",", port, ",", priority, ",", weight));
  return *this;
}

DnsZone& DnsZone::A(const std::string& name, const std::string& address) {
  options.push_back(absl::StrCat("--host-record=", name, ",", address));
  return *this;
}

std::unique_ptr<DnsServer> DnsServer::Start(int port, const DnsZone& zone, const std::string& dir) {
  std::unique_ptr<DnsServer> s(new DnsServer(port, dir));
  if (!s->Spawn(zone)) return nullptr;
  return s;
}

bool DnsServer::Spawn(const DnsZone& zone) {
  ++generation_;
  const std::string log = absl::StrCat(dir_, "/dnsmasq.log");
  const std::string out = absl::StrCat(dir_, "/dnsmasq-", generation_, ".out");
  std::vector<std::string> argv = {"dnsmasq",
                                   "--keep-in-foreground",
                                   "--no-resolv",
                                   "--no-hosts",
                                   "--no-poll",
                                   "--bind-interfaces",
                                   "--listen-address=127.0.0.1",
                                   absl::StrCat("--port=", port_),
                                   "--local=/test/",
                                   absl::StrCat("--local-ttl=", zone.ttl_s),
                                   absl::StrCat("--pid-file=", dir_, "/dnsmasq.pid"),
                                   "--user=root",
                                   "--log-queries",
                                   absl::StrCat("--log-facility=", log)};
  argv.insert(argv.end(), zone.options.begin(), zone.options.end());
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int in = open("/dev/null", O_RDONLY);
    int o = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(in, 0);
    dup2(o, 1);
    dup2(o, 2);
    std::vector<char*> cargv;
    for (std::string& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    // Debian installs it in /usr/sbin, which a non-root PATH may lack.
    execv("/usr/sbin/dnsmasq", cargv.data());
    execvp("dnsmasq", cargv.data());
    _exit(127);
  }
  if (pid < 0) return false;
  pid_ = pid;
  if (!WaitUdpBound(port_, std::chrono::seconds(5))) {
    std::ifstream in(out);
    std::stringstream text;
    text << in.rdbuf();
    std::fprintf(stderr, "dnsmasq did not bind 127.0.0.1:%d: %s\n", port_, text.str().c_str());
    Stop();
    return false;
  }
  return true;
}

DnsServer::~DnsServer() { Stop(); }

void DnsServer::Stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int st = 0;
  waitpid(pid_, &st, 0);
  pid_ = -1;
  // Wait until the port is free again (a restart binds it at once).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (WaitUdpBound(port_, std::chrono::milliseconds(0)) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

bool DnsServer::Restart(const DnsZone& zone) {
  Stop();
  return Spawn(zone);
}

std::vector<std::string> DnsServer::Queries() const {
  std::ifstream in(absl::StrCat(dir_, "/dnsmasq.log"));
  std::vector<std::string> out;
  std::string line;
  // "... dnsmasq[123]: query[SRV] _sip._udp.carrier.test from 127.0.0.1"
  while (std::getline(in, line)) {
    const size_t q = line.find("query[");
    if (q == std::string::npos) continue;
    const size_t close = line.find(']', q);
    const size_t from = line.find(" from ", close);
    if (close == std::string::npos || from == std::string::npos) continue;
    out.push_back(absl::StrCat(line.substr(q + 6, close - q - 6), " ",
                               line.substr(close + 2, from - close - 2)));
  }
  return out;
}

std::string DnsServer::address() const { return absl::StrCat("127.0.0.1:", port_); }

}  // namespace trunkroute::sip::testing
