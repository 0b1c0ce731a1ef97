#ifndef TRUNKROUTE_TESTS_SIP_DNS_SERVER_H_
#define TRUNKROUTE_TESTS_SIP_DNS_SERVER_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

namespace trunkroute::sip::testing {

// The records a test's DNS server answers, written as dnsmasq options. Names under ".test" that
// are not listed get an authoritative NXDOMAIN; nothing is forwarded anywhere.
struct DnsZone {
  DnsZone& Naptr(const std::string& name, int order, int preference, const std::string& flags,
                 const std::string& service, const std::string& replacement);
  DnsZone& Srv(const std::string& name, const std::string& target, int port, int priority,
               int weight);
  DnsZone& A(const std::string& name, const std::string& address);
  int ttl_s = 60;  // of every record
  std::vector<std::string> options;
};

// A real DNS server (Debian's dnsmasq) on 127.0.0.1:`port`, started by the test and stopped by
// PID (SIGKILL, also when the test process dies). It logs every query to its log file, in order.
class DnsServer {
 public:
  // Null (with the reason on stderr) if dnsmasq is missing or does not bind within 5 s.
  static std::unique_ptr<DnsServer> Start(int port, const DnsZone& zone, const std::string& dir);
  ~DnsServer();

  // Stops the server (its port then answers ICMP unreachable: a "DNS server down").
  void Stop();
  // Stops it and starts it again on the same port with `zone`; false if it did not come back.
  bool Restart(const DnsZone& zone);
  // The queries it received so far, one per line: "NAPTR carrier.test", "SRV _sip._udp...", "A x".
  std::vector<std::string> Queries() const;
  std::string address() const;  // "127.0.0.1:<port>"

 private:
  DnsServer(int port, std::string dir) : port_(port), dir_(std::move(dir)) {}
  bool Spawn(const DnsZone& zone);
  int port_;
  std::string dir_;
  pid_t pid_ = -1;
  int generation_ = 0;
};

}  // namespace trunkroute::sip::testing

#endif  // TRUNKROUTE_TESTS_SIP_DNS_SERVER_H_
