#ifndef TRUNKROUTE_TESTS_SIP_SOFIA_PEER_H_
#define TRUNKROUTE_TESTS_SIP_SOFIA_PEER_H_

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

namespace trunkroute::sip::testing {

// A minimal Sofia-SIP user agent for the TLS tests (Debian's SIPp has no TLS): its own su_root
// thread and nua. As a trunk it answers every INVITE 180 then 200 (with SDP) and every BYE 200;
// as a dialer it places one call, waits for the final answer, ACKs and hangs up.
class SofiaPeer {
 public:
  struct Options {
    std::string url;       // bind URL, e.g. "sips:127.0.0.1:27401" or "sip:127.0.0.1:0"
    std::string cert_dir;  // agent.pem + cafile.pem; empty: no TLS
    bool verify = true;    // verify the other side's certificate (both directions)
  };
  // nullptr when the stack cannot start (bad certificate dir, port in use).
  static std::unique_ptr<SofiaPeer> Start(const Options& options);
  ~SofiaPeer();

  // Dialer: INVITE `target` (e.g. "sip:+15551234567@127.0.0.1:27400;transport=tls"), returns the
  // final status (0 if none within `timeout`); on 2xx the call is ACKed and BYEd before return.
  int Call(const std::string& target, std::chrono::milliseconds timeout);

  int invites_received() const { return invites_received_.load(); }
  int byes_received() const { return byes_received_.load(); }

  struct Impl;

 private:
  explicit SofiaPeer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::atomic<int> invites_received_{0};
  std::atomic<int> byes_received_{0};
};

// Writes a throw-away CA and, signed by it, a certificate for 127.0.0.1 (an IP SAN) and
// localhost into <dir>/<name>/agent.pem (key + certificate) and <dir>/<name>/cafile.pem (the
// CA), with the openssl command-line tool. Returns the directory, or "" on failure. Certificates
// for several names made with the same `dir` share one CA.
// `names` replaces the names the certificate is issued for: DNS names, or "IP:" + an address
// (e.g. "other.example", "IP:127.0.0.1"). `days` < 0 makes a certificate that has expired.
std::string MakeCertificate(const std::string& dir, const std::string& name,
                            const std::string& names = "IP:127.0.0.1,localhost", int days = 2);

}  // namespace trunkroute::sip::testing

#endif  // TRUNKROUTE_TESTS_SIP_SOFIA_PEER_H_
