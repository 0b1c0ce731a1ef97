#ifndef TRUNKROUTE_SIP_SOFIA_TLS_H_
#define TRUNKROUTE_SIP_SOFIA_TLS_H_

// What Sofia-SIP 1.12.11 does not do for TLS, done per connection in OpenSSL: TLS 1.2 at least
// (both directions), the trunk's certificate checked against the host we dialled by OpenSSL
// (DNS names and IP addresses, RFC 6125 rules), and a failed handshake towards a trunk reported
// at once (with its OpenSSL reason, to the edge, which ends the attempts waiting on it instead of
// letting them wait for their transaction timer).
//
// How: Sofia's TLS layer (tport_tls.c) is reached through three functions the library exports
// and calls through its PLT/GOT, so a definition in our executable takes their place
// (interposition; the binaries export them, see sip/CMakeLists.txt): tls_init_master (a TLS
// context is made), tls_init_secondary (a connection's SSL object is made, before any byte is
// sent) and tls_connect (the connection's handshake steps). Each calls Sofia's own function and
// adds to it. Only stacks created inside a SofiaTlsPolicyScope are touched; any other Sofia stack
// in the process (the tests' peers) runs as Sofia made it. docs/sip-edge.md "TLS" says why this
// way and what it depends on.
//
// Threading: the hooks run on the thread of the Sofia stack that owns the connection; the
// policy's callbacks are called there (the edge's SIP thread).

#include <functional>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace trunkroute::sip {

// A TLS handshake towards a trunk that did not complete.
struct TlsHandshakeFailure {
  std::string peer;    // TlsPeerKey of the address connected to
  std::string host;    // the name (or IP literal) the certificate had to match
  std::string reason;  // OpenSSL's words, e.g. "certificate verify failed: certificate has expired"
};

struct SofiaTlsPolicy {
  // Towards trunks: the certificate must verify against cafile.pem and name `host` (the trunk's
  // host as configured: a DNS name, or an IP literal matched against IP SANs).
  bool verify_trunks = true;
  // A handshake towards a trunk failed (Sofia has just closed the connection; the requests queued
  // on it are not failed by the stack).
  std::function<void(const TlsHandshakeFailure&)> on_failure;
};

// The key both sides use for a peer: "192.0.2.1:5061", "[2001:db8::1]:5061".
std::string TlsPeerKey(std::string_view address, unsigned port);

// While it lives, TLS contexts the calling thread's Sofia stack creates (nua_create with TLS
// tags, stack threading off) follow `policy`, which must outlive the stack's connections.
class SofiaTlsPolicyScope {
 public:
  explicit SofiaTlsPolicyScope(const SofiaTlsPolicy* policy);
  ~SofiaTlsPolicyScope();
  SofiaTlsPolicyScope(const SofiaTlsPolicyScope&) = delete;
  SofiaTlsPolicyScope& operator=(const SofiaTlsPolicyScope&) = delete;
  // TLS contexts created under this scope (one per TLS listener); 0 means the hooks did not run.
  int contexts() const { return contexts_; }

 private:
  friend struct SofiaTlsHooks;
  const SofiaTlsPolicy* previous_;
  int contexts_ = 0;
};

// Forget `policy` (its stack is being destroyed): its contexts are no longer recognised.
void ForgetSofiaTlsPolicy(const SofiaTlsPolicy* policy);

// OK when the hooks are the functions Sofia calls in this process; FailedPrecondition naming
// the missing piece otherwise (a binary linked without exporting them).
absl::Status CheckSofiaTlsHooks();

}  // namespace trunkroute::sip

#endif  // TRUNKROUTE_SIP_SOFIA_TLS_H_
