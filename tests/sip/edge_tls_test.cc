// TLS on both sides of the edge, with a Sofia-SIP peer (Debian's SIPp has no TLS): trunks over
// TLS with certificate and host-name verification, the TLS listener for dialers (mutual TLS when
// verification is on), and no protocol below TLS 1.2.
#include <cstdio>
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/sip/edge_test_fixture.h"
#include "tests/sip/sofia_peer.h"

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

  std::string TlsTrunkConfig() const {
    // The primary is reached over TLS on the peer's port; the backup stays UDP (SIPp).
    return absl::StrReplaceAll(
        Config(),
        {{absl::StrCat("\"port\": ", primary_port(), ", \"transport\": \"TRANSPORT_UDP\""),
          absl::StrCat("\"port\": ", peer_port(), ", \"transport\": \"TRANSPORT_TLS\"")}});
  }

  void StartTlsEdge(const std::string& config) {
    EdgeOptions options;
    options.tls_listen = absl::StrCat("127.0.0.1:", tls_port());
    options.tls_cert_dir = edge_certs_;
    StartEdge(config, options);
  }

  std::string edge_certs_, peer_certs_, rogue_certs_;
};

TEST_F(EdgeTlsTest, TlsTrunkWithTrustedCertificateTakesTheCall) {
  UseSlot(50);
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

TEST_F(EdgeTlsTest, TlsTrunkWithUntrustedCertificateGetsNothingAndTheCallFailsOver) {
  UseSlot(51);
  MakeCertificates();
  auto trunk = SofiaPeer::Start({absl::StrCat("sips:127.0.0.1:", peer_port()), rogue_certs_,
                                 /*verify=*/false});
  ASSERT_NE(trunk, nullptr);
  Sipp* backup = StartTrunk("backup", backup_port(), "uas_answer.xml");
  StartTlsEdge(TlsTrunkConfig());
  Sipp* dialer = RunDialer("uac_call.xml");
  EXPECT_THAT(dialer->Log(), HasSubstr("ANSWERED;"));
  EXPECT_EQ(trunk->invites_received(), 0) << "nothing may be sent over an unverified connection";
  EXPECT_EQ(Count(backup->Log(), "INV"), 1);
  // Sofia-SIP 1.12 closes the connection that failed verification without failing the request
  // queued on it, so the attempt ends on our setup timer: a failure against the trunk all the
  // same.
  v1::TrunkHealth h;
  ASSERT_TRUE(harness_->health().Get("primary", &h));
  EXPECT_EQ(h.consecutive_failures(), 1u);
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
  StartTlsEdge(TlsTrunkConfig());
  Sipp* dialer = RunDialer("uac_call.xml");
  EXPECT_THAT(dialer->Log(), HasSubstr("ANSWERED;"));
  EXPECT_EQ(trunk->invites_received(), 0) << "the host name check must refuse the connection";
  EXPECT_EQ(Count(backup->Log(), "INV"), 1);
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

TEST_F(EdgeTlsTest, DialerWithUntrustedCertificateIsRefused) {
  UseSlot(53);
  MakeCertificates();
  Sipp* primary = StartTrunk("primary", primary_port(), "uas_answer.xml");
  StartTlsEdge(Config());
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
  StartTlsEdge(Config());
  EXPECT_THAT(SClient(tls_port(), "-tls1_2", peer_certs_), HasSubstr("New, TLSv1.2, Cipher is"));
  const std::string old = SClient(tls_port(), "-tls1_1", peer_certs_);
  EXPECT_THAT(old, HasSubstr("Cipher is (NONE)")) << "no TLS 1.1 session may be set up:\n" << old;
  EXPECT_THAT(old, Not(HasSubstr("New, TLSv1.1"))) << old;
}

}  // namespace
}  // namespace trunkroute::sip::testing
