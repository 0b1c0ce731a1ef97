#include "sip/sofia_tls.h"

// See the header for what this does. Facts it stands on, checked against Debian 12's
// libsofia-sip-ua0 1.12.11+20110422.1+1e14eea~dfsg-6 (objdump of the library, and the tests of
// tests/sip/edge_tls_test.cc, which fail if any of them stops holding):
//  - tls_init_master() makes the one SSL_CTX of a TLS transport with TLS_method() and sets no
//    minimum version (TPTAG_TLS_VERSION is read and ignored), so TLS 1.0/1.1 are up to
//    OpenSSL's configuration (Debian's security level 2 refuses them; a distribution or an
//    OPENSSL_CONF at level 0 does not).
//  - tls_init_secondary(master, sock, accept) makes each connection's SSL with SSL_new() on the
//    master's context before the handshake; for an outgoing connection it runs before connect().
//    tls_t is private: its SSL_CTX* is at offset 24 and its SSL* at 32 (after a su_home_t). We
//    read them only after checking that they are what they must be (the secondary's context is
//    the master's, and the SSL's context and socket are that context and `sock`); anything else
//    refuses the connection rather than run it without our checks.
//  - tls_connect(magic, wait, tport) is the wakeup of a connection until its handshake is done
//    (SSL_connect/SSL_accept, then Sofia's own post-connection check). When the handshake fails
//    it closes the transport without failing the requests queued on it (they would wait for
//    their transaction timer, 32 s by default; reporting the error on the closed transport with
//    tport_error_report does not reach them either): the policy's on_failure tells the edge,
//    which ends the attempts waiting on that peer itself.
//  - tls_free() frees a master's context but never a connection's SSL object (a leak in Sofia,
//    30–60 KB per closed TLS connection): ours frees it after Sofia's, for every stack in the
//    process; our per-connection state is dropped there too.
//  - All four are exported and called through the PLT/GOT (readelf -r: JUMP_SLOT / GLOB_DAT),
//    so definitions exported by the executable take their place.

#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/log.h"

// Sofia's side, as the library exports it (tport_tls.h and tport_internal.h are not installed).
extern "C" {
struct tls_s;
struct tport_s;
tls_s* tls_init_master(void* issues);
tls_s* tls_init_secondary(tls_s* master, int sock, int accept);
int tls_connect(void* magic, struct pollfd* wait, tport_s* self);
void tls_free(tls_s* tls);
}

// Public Sofia API used here (declared in <sofia-sip/tport.h>; declared again to keep Sofia's
// magic-type macros out of this file). su_wait_t is struct pollfd on Linux (<sofia-sip/su_wait.h>).
extern "C" {
struct sofia_tp_name {  // tp_name_t, <sofia-sip/tport.h>
  char const* tpn_proto;
  char const* tpn_canon;
  char const* tpn_host;
  char const* tpn_port;
  char const* tpn_comp;
  char const* tpn_ident;
};
sofia_tp_name const* tport_name(tport_s const* self);
int tport_is_closed(tport_s const* self);
}

namespace trunkroute::sip {
namespace {

constexpr size_t kContextOffset = 24;  // tls_t::ctx
constexpr size_t kSslOffset = 32;      // tls_t::con

using InitMasterFn = tls_s* (*)(void*);
using InitSecondaryFn = tls_s* (*)(tls_s*, int, int);
using ConnectFn = int (*)(void*, struct pollfd*, tport_s*);
using FreeFn = void (*)(tls_s*);

struct RealFunctions {
  InitMasterFn init_master = nullptr;
  InitSecondaryFn init_secondary = nullptr;
  ConnectFn connect = nullptr;
  FreeFn free = nullptr;
};

const RealFunctions& Real() {
  static const RealFunctions* const kReal = [] {
    auto* r = new RealFunctions;
    r->init_master = reinterpret_cast<InitMasterFn>(dlsym(RTLD_NEXT, "tls_init_master"));
    r->init_secondary =
        reinterpret_cast<InitSecondaryFn>(dlsym(RTLD_NEXT, "tls_init_secondary"));
    r->connect = reinterpret_cast<ConnectFn>(dlsym(RTLD_NEXT, "tls_connect"));
    r->free = reinterpret_cast<FreeFn>(dlsym(RTLD_NEXT, "tls_free"));
    return r;
  }();
  return *kReal;
}

template <typename T>
T Field(const tls_s* tls, size_t offset) {
  T value;
  std::memcpy(&value, reinterpret_cast<const char*>(tls) + offset, sizeof(value));
  return value;
}

// One connection of a stack under a policy.
struct Connection {
  const SofiaTlsPolicy* policy = nullptr;
  SSL* ssl = nullptr;
  int fd = -1;
  bool accepted = false;
  bool prepared = false;           // outgoing: host name and verification set
  bool handshake_started = false;  // OpenSSL began the handshake
  long verify_result = X509_V_OK;  // when the handshake completed
  std::string peer;
  std::string host;
  std::string failure;  // the first fatal alert and what OpenSSL said with it
  std::string failure_reason;
  std::string failure_alert;
};

struct Registry {
  absl::Mutex mu;
  absl::flat_hash_map<const tls_s*, const SofiaTlsPolicy*> masters ABSL_GUARDED_BY(mu);
  absl::flat_hash_map<const tls_s*, std::shared_ptr<Connection>> connections ABSL_GUARDED_BY(mu);
  absl::flat_hash_map<int, std::shared_ptr<Connection>> by_fd ABSL_GUARDED_BY(mu);
  // Every connection's SSL, of our stacks or not: tls_free frees it (Sofia never does).
  absl::flat_hash_map<const tls_s*, SSL*> ssl_of ABSL_GUARDED_BY(mu);
};

Registry& Reg() {
  static Registry* const kRegistry = new Registry;
  return *kRegistry;
}

int ExDataIndex() {
  static const int kIndex = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return kIndex;
}

thread_local const SofiaTlsPolicy* t_policy = nullptr;
thread_local SofiaTlsPolicyScope* t_scope = nullptr;

std::string Unbracket(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return std::string(host);
}

bool IsIpLiteral(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

std::string PeerKeyOf(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "";
  char host[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
    return TlsPeerKey(host, ntohs(sin->sin_port));
  }
  if (ss.ss_family == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
    return TlsPeerKey(host, ntohs(sin6->sin6_port));
  }
  return "";
}

// OpenSSL's reason for the error on top of this thread's queue, with the certificate check's
// verdict when that failed.
std::string OpenSslReason(const SSL* ssl) {
  std::string reason;
  if (const unsigned long e = ERR_peek_last_error(); e != 0) {
    const char* r = ERR_reason_error_string(e);
    reason = r != nullptr ? r : absl::StrCat("OpenSSL error ", e);
  }
  const long verify = SSL_get_verify_result(ssl);
  if (verify != X509_V_OK) {
    absl::StrAppend(&reason, reason.empty() ? "" : ": ", X509_verify_cert_error_string(verify));
  }
  return reason;
}

void InfoCallback(const SSL* ssl, int where, int ret) {
  auto* c = static_cast<Connection*>(SSL_get_ex_data(ssl, ExDataIndex()));
  if (c == nullptr) return;
  if ((where & SSL_CB_HANDSHAKE_START) != 0 || (where & SSL_CB_LOOP) != 0) {
    c->handshake_started = true;
  }
  if ((where & SSL_CB_HANDSHAKE_DONE) != 0) c->verify_result = SSL_get_verify_result(ssl);
  if ((where & SSL_CB_ALERT) != 0 && (ret >> 8) == SSL3_AL_FATAL && c->failure.empty()) {
    const bool received = (where & SSL_CB_READ) != 0;
    std::string reason = OpenSslReason(ssl);
    const char* alert = SSL_alert_desc_string_long(ret);
    c->failure_reason = std::move(reason);
    c->failure_alert =
        absl::StrCat("(alert \"", alert, received ? "\" from the peer)" : "\" sent)");
    c->failure = absl::StrCat(c->failure_reason, " ", c->failure_alert);
  }
}

// Outgoing, before the first handshake step: what the certificate must name, and SNI.
void PrepareOutgoing(Connection& c, tport_s* self) {
  c.prepared = true;
  c.peer = PeerKeyOf(c.fd);
  const sofia_tp_name* name = tport_name(self);
  if (name != nullptr) {
    c.host = Unbracket(name->tpn_canon != nullptr ? name->tpn_canon
                       : name->tpn_host != nullptr ? name->tpn_host
                                                   : "");
  }
  const bool ip = IsIpLiteral(c.host);
  if (!ip && !c.host.empty()) SSL_set_tlsext_host_name(c.ssl, c.host.c_str());
  if (!c.policy->verify_trunks) {
    SSL_set_verify(c.ssl, SSL_VERIFY_NONE, nullptr);
    return;
  }
  // Sofia's verify callback stays (it keeps the error for outgoing connections under
  // TPTLS_VERIFY_OUT); SSL_VERIFY_PEER makes the handshake fail on it, with an alert.
  SSL_set_verify(c.ssl, SSL_VERIFY_PEER, nullptr);
  X509_VERIFY_PARAM* param = SSL_get0_param(c.ssl);
  int ok = 0;
  if (c.host.empty()) {
    ok = 0;
  } else if (ip) {
    ok = X509_VERIFY_PARAM_set1_ip_asc(param, c.host.c_str());
  } else {
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    ok = X509_VERIFY_PARAM_set1_host(param, c.host.c_str(), 0);
  }
  if (ok != 1) {
    // No name to check against: nothing can match, so the handshake must not succeed.
    X509_VERIFY_PARAM_set1_host(param, "invalid.", 0);
    LogWarn("sip tls: no host to check the trunk's certificate against",
            {{"peer", c.peer}, {"host", c.host}});
  }
}

void Refuse(tls_s* tls, const char* why) {
  LogError("sip tls: refusing the connection: Sofia-SIP's TLS objects are not laid out as "
           "trunkroute expects (built against 1.12.11); TLS 1.2 and certificate names could not "
           "be enforced",
           {{"detail", why}});
  tls_free(tls);
  errno = EIO;
}

}  // namespace

struct SofiaTlsHooks {
  static void ContextCreated() {
    if (t_scope != nullptr) ++t_scope->contexts_;
  }
};

std::string TlsPeerKey(std::string_view address, unsigned port) {
  const bool v6 = address.find(':') != std::string_view::npos;
  return v6 ? absl::StrCat("[", std::string(address), "]:", port)
            : absl::StrCat(std::string(address), ":", port);
}

SofiaTlsPolicyScope::SofiaTlsPolicyScope(const SofiaTlsPolicy* policy) : previous_(t_policy) {
  t_policy = policy;
  t_scope = this;
}

SofiaTlsPolicyScope::~SofiaTlsPolicyScope() {
  t_policy = previous_;
  t_scope = nullptr;
}

void ForgetSofiaTlsPolicy(const SofiaTlsPolicy* policy) {
  Registry& reg = Reg();
  absl::MutexLock lock(&reg.mu);
  for (auto it = reg.masters.begin(); it != reg.masters.end();) {
    auto here = it++;
    if (here->second == policy) reg.masters.erase(here);
  }
  for (auto it = reg.connections.begin(); it != reg.connections.end();) {
    auto here = it++;
    if (here->second->policy == policy) reg.connections.erase(here);
  }
  for (auto it = reg.by_fd.begin(); it != reg.by_fd.end();) {
    auto here = it++;
    if (here->second->policy == policy) reg.by_fd.erase(here);
  }
}

absl::Status CheckSofiaTlsHooks() {
  const RealFunctions& real = Real();
  if (real.init_master == nullptr || real.init_secondary == nullptr || real.connect == nullptr ||
      real.free == nullptr) {
    return absl::FailedPreconditionError(
        "sip tls: Sofia-SIP's tls_init_master/tls_init_secondary/tls_connect/tls_free not found "
        "(libsofia-sip-ua 1.12.11 expected)");
  }
  const std::pair<const char*, void*> hooks[] = {
      {"tls_init_master", reinterpret_cast<void*>(&tls_init_master)},
      {"tls_init_secondary", reinterpret_cast<void*>(&tls_init_secondary)},
      {"tls_connect", reinterpret_cast<void*>(&tls_connect)},
      {"tls_free", reinterpret_cast<void*>(&tls_free)}};
  for (const auto& [name, ours] : hooks) {
    if (dlsym(RTLD_DEFAULT, name) != ours) {
      return absl::FailedPreconditionError(absl::StrCat(
          "sip tls: this binary does not export its ", name,
          " (link with trunkroute_sip's interface link options): TLS 1.2 minimum and trunk "
          "certificate names would not be enforced"));
    }
  }
  return absl::OkStatus();
}

}  // namespace trunkroute::sip

using trunkroute::sip::Connection;
using trunkroute::sip::Field;
using trunkroute::sip::Real;
using trunkroute::sip::Reg;

extern "C" {

tls_s* tls_init_master(void* issues) {
  tls_s* master = Real().init_master(issues);
  if (master != nullptr && trunkroute::sip::t_policy != nullptr) {
    {
      auto& reg = Reg();
      absl::MutexLock lock(&reg.mu);
      reg.masters[master] = trunkroute::sip::t_policy;
    }
    trunkroute::sip::SofiaTlsHooks::ContextCreated();
  }
  return master;
}

tls_s* tls_init_secondary(tls_s* master, int sock, int accept) {
  tls_s* tls = Real().init_secondary(master, sock, accept);
  if (tls == nullptr) return tls;
  auto& reg = Reg();
  if (SSL* ssl = Field<SSL*>(tls, trunkroute::sip::kSslOffset);
      ssl != nullptr && SSL_get_fd(ssl) == sock) {
    absl::MutexLock lock(&reg.mu);
    reg.ssl_of[tls] = ssl;
  }
  if (master == nullptr) return tls;
  const trunkroute::sip::SofiaTlsPolicy* policy = nullptr;
  {
    absl::MutexLock lock(&reg.mu);
    auto it = reg.masters.find(master);
    if (it == reg.masters.end()) return tls;  // not a stack of ours
    policy = it->second;
  }
  auto* ctx = Field<SSL_CTX*>(master, trunkroute::sip::kContextOffset);
  if (ctx == nullptr || Field<SSL_CTX*>(tls, trunkroute::sip::kContextOffset) != ctx) {
    trunkroute::sip::Refuse(tls, "context");
    return nullptr;
  }
  SSL* ssl = Field<SSL*>(tls, trunkroute::sip::kSslOffset);
  if (ssl == nullptr || SSL_get_SSL_CTX(ssl) != ctx || SSL_get_fd(ssl) != sock) {
    trunkroute::sip::Refuse(tls, "connection");
    return nullptr;
  }
  if (SSL_set_min_proto_version(ssl, TLS1_2_VERSION) != 1) {
    trunkroute::sip::Refuse(tls, "SSL_set_min_proto_version");
    return nullptr;
  }
  auto c = std::make_shared<Connection>();
  c->policy = policy;
  c->ssl = ssl;
  c->fd = sock;
  c->accepted = accept != 0;
  SSL_set_ex_data(ssl, trunkroute::sip::ExDataIndex(), c.get());
  SSL_set_info_callback(ssl, &trunkroute::sip::InfoCallback);
  absl::MutexLock lock(&reg.mu);
  reg.by_fd[sock] = c;
  reg.connections[tls] = std::move(c);
  return tls;
}

int tls_connect(void* magic, struct pollfd* wait, tport_s* self) {
  std::shared_ptr<Connection> c;
  {
    auto& reg = Reg();
    absl::MutexLock lock(&reg.mu);
    auto it = reg.by_fd.find(wait->fd);
    if (it != reg.by_fd.end()) c = it->second;
  }
  if (c == nullptr || c->accepted) return Real().connect(magic, wait, self);
  if (!c->prepared) trunkroute::sip::PrepareOutgoing(*c, self);
  const bool was_closed = tport_is_closed(self) != 0;
  const int ret = Real().connect(magic, wait, self);
  if (was_closed || tport_is_closed(self) == 0 || !c->handshake_started) return ret;
  // The handshake failed (or Sofia's own check refused what it got): say why, then fail what is
  // queued on the connection now.
  trunkroute::sip::TlsHandshakeFailure failure;
  failure.peer = c->peer;
  failure.host = c->host;
  failure.reason = c->failure;
  if (c->failure_reason.empty()) {
    // A received alert is put on OpenSSL's error queue after the alert callback: read it now,
    // the oldest entry (Sofia's SSL_shutdown on the failed connection adds its own after it).
    std::string reason;
    if (const unsigned long e = ERR_peek_error(); e != 0) {
      const char* r = ERR_reason_error_string(e);
      if (r != nullptr) reason = r;
    }
    failure.reason = reason.empty() ? c->failure_alert
                     : c->failure_alert.empty() ? reason
                                                : absl::StrCat(reason, " ", c->failure_alert);
  }
  if (failure.reason.empty()) {
    failure.reason = c->verify_result != X509_V_OK
                         ? X509_verify_cert_error_string(c->verify_result)
                         : "refused after the handshake";
  }
  ERR_clear_error();
  if (c->policy->on_failure) c->policy->on_failure(failure);
  return ret;
}

void tls_free(tls_s* tls) {
  SSL* ssl = nullptr;
  if (tls != nullptr) {
    auto& reg = Reg();
    std::shared_ptr<Connection> c;
    {
      absl::MutexLock lock(&reg.mu);
      reg.masters.erase(tls);
      if (auto it = reg.connections.find(tls); it != reg.connections.end()) {
        c = std::move(it->second);
        reg.connections.erase(it);
        if (auto f = reg.by_fd.find(c->fd); f != reg.by_fd.end() && f->second == c) {
          reg.by_fd.erase(f);
        }
      }
      if (auto it = reg.ssl_of.find(tls); it != reg.ssl_of.end()) {
        ssl = it->second;
        reg.ssl_of.erase(it);
      }
    }
    // Sofia shuts the SSL down in tls_free: no callback of ours after this.
    if (c != nullptr) SSL_set_ex_data(c->ssl, trunkroute::sip::ExDataIndex(), nullptr);
  }
  // Sofia's tls_free shuts a connection's SSL down but never frees it (30–60 KB with its
  // buffers, every TLS connection that ever closed). What it does free are two references the
  // SSL owns: the socket BIO (SSL_set_bio gave it to the SSL) and the context (a secondary
  // copies the master's type in tls_init_secondary, so its tls_free does SSL_CTX_free: the
  // reference SSL_new took). One more of each keeps them for SSL_free, which drops both.
  if (ssl != nullptr) {
    if (BIO* bio = SSL_get_rbio(ssl); bio != nullptr) BIO_up_ref(bio);
    if (SSL_CTX* ctx = SSL_get_SSL_CTX(ssl); ctx != nullptr) SSL_CTX_up_ref(ctx);
  }
  Real().free(tls);
  if (ssl != nullptr) SSL_free(ssl);
}

}  // extern "C"
