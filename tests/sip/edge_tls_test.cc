// TLS on both sides of the edge, with a Sofia-SIP peer (Debian's SIPp has no TLS) and openssl
// s_server / s_client: trunks over TLS with certificate and host-name verification (DNS names
// and IP SANs), a failed handshake reported to health as TLS_FAILED and failed over at once, the
// TLS listener for dialers (client certificates only with verify_clients), and no protocol below
// TLS 1.2 in either direction.
//
// The whole binary (and the openssl processes it starts) runs under tests/tls/testdata/
// openssl-permissive.cnf (security level 0, TLS 1.0 allowed): under Debian's own configuration
// OpenSSL refuses TLS 1.1 anyway, so only there does "TLS 1.1 is refused" test the edge's own
// minimum (sip/sofia_tls.h). main() re-executes the binary with OPENSSL_CONF set, before
// anything initialises OpenSSL.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/sip/edge_test_fixture.h"
#include "tests/sip/sofia_peer.h"
#include "tests/support/openssl_conf.h"

namespace trunkroute::sip::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class EdgeTlsTest : public EdgeE2eTest {
 protected:
  int tls_port() const { return base_ + 5; }
  int peer_port() const { return base_ + 6; }

  // Certificates: the edge's and a trusted peer's from one CA, a rogue peer's from another.
  void MakeCertificates() {
    edge_certs_ = MakeCertificate(dir_, "edge");
    peer_certs_ = MakeCertificate(dir_, "peer");
    rogue_certs_ = MakeCertificate(MakeTempDir("trunkroute-rogue-ca"), "rogue");
    ASSERT_FALSE(edge_certs_.empty() || peer_certs_.empty() || rogue_certs_.empty())
        << "openssl could not make test certificates";
  }

  std::string TlsTrunkConfig(const ConfigVars& vars = {}) const {
    // The primary is reached over TLS on the peer's port; the backup stays UDP (SIPp).
    return absl::StrReplaceAll(
        Config(vars),
        {{absl::StrCat("\"port\": ", primary_port(), ", \"transport\": \"TRANSPORT_UDP\""),
          absl::StrCat("\"port\": ", peer_port(), ", \"transport\": \"TRANSPORT_TLS\"")}});
  }

  // The same, with a setup timeout longer than the dialer waits (20 s; the budget 30 s): a call
  // that fails over before its dialer gives up did not wait for the timer.
  std::string SlowTlsTrunkConfig(const ConfigVars& vars = {}) const {
    return absl::StrReplaceAll(
        TlsTrunkConfig(vars),
        {{"\"setup_timeout_ms\": 500", R"("setup_timeout_ms": 20000, "call_setup_budget_ms": 30000)"}});
  }

  void StartTlsEdge(const std::string& config, bool verify_clients = false) {
    EdgeOptions options;
    options.tls_listen = absl::StrCat("127.0.0.1:", tls_port());
    options.tls_cert_dir = edge_certs_;
    options.tls_verify_clients = verify_clients;
    StartEdge(config, options);
  }

  // One call from the dialer while the primary's TLS handshake fails: the backup takes it at
  // once, and the primary is DOWN as TLS_FAILED with OpenSSL's reason in the detail.
  void ExpectTlsFailedAndFailover(Sipp* backup, const std::string& reason) {
    Sipp* dialer = RunDialer("uac_call.xml");
    EXPECT_THAT(dialer->Log(), HasSubstr("ANSWERED;"))
        << "the call waited for its setup timer instead of failing over at once";
    EXPECT_EQ(Count(backup->Log(), "INV"), 1);
    v1::TrunkHealth h;
    EXPECT_TRUE(Eventually([&] {
      return harness_->health().Get("primary", &h) && h.reason() == v1::HEALTH_REASON_TLS_FAILED;
    })) << h.DebugString();
    EXPECT_EQ(h.state(), v1::HEALTH_STATE_DOWN);
    EXPECT_THAT(h.detail(), HasSubstr("TLS handshake failed: "));
    EXPECT_THAT(h.detail(), HasSubstr(reason));
    ExpectNoLeftovers();
  }

  // A certificate directory with the trusted CA and no certificate of its own: a TLS client that
  // presents no client certificate.
  std::string NoClientCertificate() const {
    const std::string out = dir_ + "/no-cert";
    mkdir(out.c_str(), 0700);
    std::ifstream in(peer_certs_ + "/cafile.pem", std::ios::binary);
    std::ofstream(out + "/cafile.pem", std::ios::binary) << in.rdbuf();
    return out;
  }

  std::string edge_certs_, peer_certs_, rogue_certs_;
};

TEST_F(EdgeTlsTest, TlsTrunkWithTrustedCertificateForItsIpAddressTakesTheCall) {
  UseSlot(50);
  // The peer's certificate names 127.0.0.1 as an IP SAN only (no DNS name "127.0.0.1"): the
  // trunk's host is an IP, so the IP SAN is what must match.
  MakeCertificates();
  auto trunk = SofiaPeer::Start({absl::StrCat("sips:127.0.0.1:", peer_port()), peer_certs_});
  ASSERT_NE(trunk, nullptr);
  StartTlsEdge(TlsTrunkConfig());
  Sipp* dialer = RunDialer("uac_call.xml");
  EXPECT_THAT(dialer->Log(), HasSubstr("ANSWERED;"));
  EXPECT_THAT(dialer->Log(), HasSubstr("BYE;OK"));
  EXPECT_EQ(trunk->invites_received(), 1);
  EXPECT_TRUE(Eventually([&] { return trunk->byes_received() == 1; }));
  ExpectNoLeftovers();
}

TEST_F(EdgeTlsTest, TlsTrunkWithUntrustedCertificateIsTlsFailedAndTheCallFailsOverAtOnce) {
  UseSlot(51);
  MakeCertificates();
  auto trunk = SofiaPeer::Start({absl::StrCat("sips:127.0.0.1:", peer_port()), rogue_certs_,
                                 /*verify=*/false});
  ASSERT_NE(trunk, nullptr);
  Sipp* backup = StartTrunk("backup", backup_port(), "uas_answer.xml");
  StartTlsEdge(SlowTlsTrunkConfig());
  ExpectTlsFailedAndFailover(backup, "certificate verify failed");
  EXPECT_EQ(trunk->invites_received(), 0) << "nothing may be sent over an unverified connection";
}

TEST_F(EdgeTlsTest, TlsTrunkWhoseCertificateNamesAnotherHostIsNotUsed) {
  UseSlot(55);
  MakeCertificates();
  // Signed by the trusted CA, but issued to a different host than the one we dial.
  const std::string other = MakeCertificate(dir_, "other", "sbc.other.example");
  ASSERT_FALSE(other.empty());
  auto trunk = SofiaPeer::Start({absl::StrCat("sips:127.0.0.1:", peer_port()), other,
                                 /*verify=*/false});
  ASSERT_NE(trunk, nullptr);
  Sipp* backup = StartTrunk("backup", backup_port(), "uas_answer.xml");
  StartTlsEdge(SlowTlsTrunkConfig());
  // The trunk's host is 127.0.0.1: the certificate has no IP SAN for it.
  ExpectTlsFailedAndFailover(backup, "IP address mismatch");
  EXPECT_EQ(trunk->invites_received(), 0) << "the host name check must refuse the connection";
}

TEST_F(EdgeTlsTest, TlsTrunkWithExpiredCertificateIsTlsFailedByCallsAndByProbes) {
  UseSlot(85);
  MakeCertificates();
  const std::string expired = MakeCertificate(dir_, "expired", "IP:127.0.0.1", /*days=*/-1);
  ASSERT_FALSE(expired.empty());
  auto trunk = SofiaPeer::Start({absl::StrCat("sips:127.0.0.1:", peer_port()), expired,
                                 /*verify=*/false});
  ASSERT_NE(trunk, nullptr);
  Sipp* backup = StartTrunk("backup", backup_port(), "uas_answer.xml");
  // Probes for the primary only, once its hold-down (5 s) is over (no periodic probe while UP).
  ConfigVars vars;
  vars.primary_extra =
      R"(, "health": {"probes_enabled": true, "probe_interval_up_ms": 60000,
                     "probe_interval_down_ms": 200, "probe_timeout_ms": 5000})";
  StartTlsEdge(SlowTlsTrunkConfig(vars));
  ExpectTlsFailedAndFailover(backup, "certificate has expired");
  EXPECT_EQ(trunk->invites_received(), 0);
  // After the hold-down, the probe meets the same certificate: still TLS_FAILED (not a probe
  // timeout), at once rather than after its 5 s timeout.
  v1::TrunkHealth h;
  EXPECT_TRUE(Eventually(
      [&] {
        return harness_->health().Get("primary", &h) &&
               h.detail().find("probe: TLS handshake failed: ") != std::string::npos;
      },
      std::chrono::seconds(10)))
      << h.DebugString();
  EXPECT_EQ(h.reason(), v1::HEALTH_REASON_TLS_FAILED);
  EXPECT_THAT(h.detail(), HasSubstr("certificate has expired"));
}

TEST_F(EdgeTlsTest, AnIpTrunkIsMatchedAgainstIpSansNotADnsNameSpellingTheAddress) {
  UseSlot(86);
  MakeCertificates();
  // The workaround Sofia's own check needed (the address as a DNS name): not an identity for an
  // IP address (RFC 6125 / RFC 5922: IP addresses match iPAddress SANs).
  const std::string dns_only = MakeCertificate(dir_, "dns-only", "127.0.0.1");
  ASSERT_FALSE(dns_only.empty());
  auto trunk = SofiaPeer::Start({absl::StrCat("sips:127.0.0.1:", peer_port()), dns_only,
                                 /*verify=*/false});
  ASSERT_NE(trunk, nullptr);
  Sipp* backup = StartTrunk("backup", backup_port(), "uas_answer.xml");
  StartTlsEdge(SlowTlsTrunkConfig());
  ExpectTlsFailedAndFailover(backup, "IP address mismatch");
  EXPECT_EQ(trunk->invites_received(), 0);
}

// openssl s_server on `port` speaking only `version` (e.g. "-tls1_1"), killed with the object.
class SServer {
 public:
  SServer(int port, const std::string& version, const std::string& certs,
          const std::string& log) {
    const std::string cmd = absl::StrCat(
        "sleep 60 | openssl s_server -accept 127.0.0.1:", port, " ", version,
        " -cipher 'DEFAULT:@SECLEVEL=0' -cert ", certs, "/agent.pem -key ", certs,
        "/agent.pem >", log, " 2>&1");
    pid_ = fork();
    if (pid_ == 0) {
      setpgid(0, 0);
      execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
  }
  ~SServer() {
    if (pid_ > 0) {
      kill(-pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

 private:
  pid_t pid_ = -1;
};

bool WaitTcpListening(int port) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < deadline) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(static_cast<uint16_t>(port));
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&sin), sizeof(sin)) == 0;
    close(fd);
    if (ok) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

TEST_F(EdgeTlsTest, TlsTrunkSpeakingOnlyTls11IsRefusedAndTheCallFailsOver) {
  UseSlot(87);
  MakeCertificates();
  SServer trunk(peer_port(), "-tls1_1", peer_certs_, dir_ + "/s_server.log");
  ASSERT_TRUE(WaitTcpListening(peer_port()));
  Sipp* backup = StartTrunk("backup", backup_port(), "uas_answer.xml");
  StartTlsEdge(SlowTlsTrunkConfig());
  ExpectTlsFailedAndFailover(backup, "protocol version");
}

TEST_F(EdgeTlsTest, DialerReachesTheTlsListenerWithItsClientCertificate) {
  UseSlot(52);
  MakeCertificates();
  StartTrunk("primary", primary_port(), "uas_answer.xml");
  StartTlsEdge(Config());
  auto dialer = SofiaPeer::Start({"sip:127.0.0.1:0", peer_certs_});
  ASSERT_NE(dialer, nullptr);
  EXPECT_EQ(dialer->Call(absl::StrCat("sip:+15551234567@127.0.0.1:", tls_port(), ";transport=tls"),
                         std::chrono::seconds(5)),
            200);
  ExpectNoLeftovers();
}

TEST_F(EdgeTlsTest, DialerWithoutClientCertificateIsAcceptedWhenClientsAreNotVerified) {
  UseSlot(88);
  MakeCertificates();
  StartTrunk("primary", primary_port(), "uas_answer.xml");
  StartTlsEdge(Config());
  auto dialer = SofiaPeer::Start({"sip:127.0.0.1:0", NoClientCertificate()});
  ASSERT_NE(dialer, nullptr);
  EXPECT_EQ(dialer->Call(absl::StrCat("sip:+15551234567@127.0.0.1:", tls_port(), ";transport=tls"),
                         std::chrono::seconds(5)),
            200);
  ExpectNoLeftovers();
}

TEST_F(EdgeTlsTest, DialerWithoutClientCertificateIsRefusedWhenClientsAreVerified) {
  UseSlot(89);
  MakeCertificates();
  Sipp* primary = StartTrunk("primary", primary_port(), "uas_answer.xml");
  StartTlsEdge(Config(), /*verify_clients=*/true);
  auto dialer = SofiaPeer::Start({"sip:127.0.0.1:0", NoClientCertificate()});
  ASSERT_NE(dialer, nullptr);
  EXPECT_NE(dialer->Call(absl::StrCat("sip:+15551234567@127.0.0.1:", tls_port(), ";transport=tls"),
                         std::chrono::seconds(5)),
            200);
  EXPECT_EQ(Count(primary->Log(), "INV"), 0);
  EXPECT_EQ(counters().invites_received.load(), 0u);
  // With its certificate, the same dialer gets through.
  auto with_cert = SofiaPeer::Start({"sip:127.0.0.1:0", peer_certs_});
  ASSERT_NE(with_cert, nullptr);
  EXPECT_EQ(
      with_cert->Call(absl::StrCat("sip:+15551234567@127.0.0.1:", tls_port(), ";transport=tls"),
                      std::chrono::seconds(5)),
      200);
}

TEST_F(EdgeTlsTest, DialerWithUntrustedCertificateIsRefused) {
  UseSlot(53);
  MakeCertificates();
  Sipp* primary = StartTrunk("primary", primary_port(), "uas_answer.xml");
  StartTlsEdge(Config(), /*verify_clients=*/true);
  auto dialer = SofiaPeer::Start({"sip:127.0.0.1:0", rogue_certs_, /*verify=*/false});
  ASSERT_NE(dialer, nullptr);
  const int status =
      dialer->Call(absl::StrCat("sip:+15551234567@127.0.0.1:", tls_port(), ";transport=tls"),
                   std::chrono::seconds(5));
  EXPECT_NE(status, 200);
  EXPECT_EQ(Count(primary->Log(), "INV"), 0);
  EXPECT_EQ(counters().invites_received.load(), 0u);
}

// openssl s_client against the listener; returns its output.
std::string SClient(int port, const std::string& version, const std::string& certs) {
  std::string cmd =
      absl::StrCat("timeout 5 openssl s_client -connect 127.0.0.1:", port, " ", version,
                   " -cipher 'DEFAULT:@SECLEVEL=0' -cert ", certs, "/agent.pem -key ", certs,
                   "/agent.pem -CAfile ", certs, "/cafile.pem </dev/null 2>&1");
  std::string out;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
    pclose(p);
  }
  return out;
}

TEST_F(EdgeTlsTest, ListenerSpeaksTls12AndUpOnly) {
  UseSlot(54);
  MakeCertificates();
  // The environment allows TLS 1.1 (see the file comment): a Sofia stack without the edge's
  // policy accepts it. So the refusal below is the edge's own.
  auto plain = SofiaPeer::Start({absl::StrCat("sips:127.0.0.1:", peer_port()), peer_certs_,
                                 /*verify=*/false});
  ASSERT_NE(plain, nullptr);
  const std::string control = SClient(peer_port(), "-tls1_1", peer_certs_);
  // ("New, TLSv1.0, Cipher is" names the cipher's version; the session's protocol is below.)
  EXPECT_THAT(control, HasSubstr("Protocol  : TLSv1.1")) << control;
  EXPECT_THAT(control, Not(HasSubstr("Cipher is (NONE)"))) << control;
  StartTlsEdge(Config());
  EXPECT_THAT(SClient(tls_port(), "-tls1_2", peer_certs_), HasSubstr("New, TLSv1.2, Cipher is"));
  EXPECT_THAT(SClient(tls_port(), "-tls1_3", peer_certs_), HasSubstr("New, TLSv1.3, Cipher is"));
  const std::string old = SClient(tls_port(), "-tls1_1", peer_certs_);
  EXPECT_THAT(old, HasSubstr("Cipher is (NONE)")) << "no TLS 1.1 session may be set up:\n" << old;
  EXPECT_THAT(old, HasSubstr("alert protocol version")) << "refused by the edge:\n" << old;
}

}  // namespace
}  // namespace trunkroute::sip::testing

int main(int argc, char** argv) {
  if (!trunkroute::testing::RunUnderOpenSslConf(TRUNKROUTE_PERMISSIVE_OPENSSL_CONF, argv)) return 1;
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
