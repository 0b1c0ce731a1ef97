#ifndef TRUNKROUTE_TESTS_SUPPORT_TEST_PKI_H_
#define TRUNKROUTE_TESTS_SUPPORT_TEST_PKI_H_

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace trunkroute::testing {

// A certificate authority made by the test with OpenSSL (EC P-256, SHA-256), issuing server and
// client certificates into files: what an operator would get from their PKI, including the bad
// cases (expired, not yet valid, from another CA). Files are PEM; keys are written mode 0600.
class TestPki {
 public:
  struct Issued {
    std::string cert;    // path of the certificate PEM
    std::string key;     // path of the private key PEM (0600)
    std::string serial;  // upper-case hex, as `openssl x509 -serial` prints it
  };

  TestPki(std::string dir, std::string name) : dir_(std::move(dir)), name_(std::move(name)) {
    ca_key_ = NewKey();
    ca_ = Build(name_, ca_key_, nullptr, nullptr, 1, -3600, 30 * 86400, /*ca=*/true, "");
    ca_path_ = dir_ + "/" + name_ + "-ca.pem";
    WriteCert(ca_path_, ca_);
  }
  ~TestPki() {
    X509_free(ca_);
    EVP_PKEY_free(ca_key_);
  }
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  const std::string& ca() const { return ca_path_; }

  // A server certificate for localhost / 127.0.0.1 / ::1, valid from `not_before_s` to
  // `not_after_s` seconds from now (negative: in the past).
  Issued Server(const std::string& file, long serial, long not_before_s = -3600,
                long not_after_s = 86400) {
    return Issue(file, "localhost", serial, not_before_s, not_after_s, "serverAuth",
                 "DNS:localhost,IP:127.0.0.1,IP:::1");
  }
  // A client certificate with subject CN=`cn`, O=trunkroute-test.
  Issued Client(const std::string& file, const std::string& cn, long serial) {
    return Issue(file, cn, serial, -3600, 86400, "clientAuth", "");
  }

 private:
  static EVP_PKEY* NewKey() { return EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"); }

  Issued Issue(const std::string& file, const std::string& cn, long serial, long not_before_s,
               long not_after_s, const std::string& eku, const std::string& san) {
    EVP_PKEY* key = NewKey();
    X509* cert = Build(cn, key, ca_, ca_key_, serial, not_before_s, not_after_s, false, eku, san);
    Issued out;
    out.cert = dir_ + "/" + file + ".pem";
    out.key = dir_ + "/" + file + ".key";
    WriteCert(out.cert, cert);
    FILE* f = std::fopen(out.key.c_str(), "w");
    ::fchmod(fileno(f), 0600);
    PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(f);
    char hex[32];
    std::snprintf(hex, sizeof hex, "%lX", serial);
    out.serial = hex;
    if (out.serial.size() % 2 == 1) out.serial = "0" + out.serial;
    X509_free(cert);
    EVP_PKEY_free(key);
    return out;
  }

  X509* Build(const std::string& cn, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key, long serial,
              long not_before_s, long not_after_s, bool ca, const std::string& eku,
              const std::string& san = "") {
    X509* x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
    X509_gmtime_adj(X509_getm_notBefore(x), not_before_s);
    X509_gmtime_adj(X509_getm_notAfter(x), not_after_s);
    X509_set_pubkey(x, key);
    X509_NAME* subject = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(subject, "O", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("trunkroute-test"), -1, -1,
                               0);
    X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
    X509_set_issuer_name(x, issuer != nullptr ? X509_get_subject_name(issuer) : subject);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer != nullptr ? issuer : x, x, nullptr, nullptr, 0);
    std::vector<std::pair<int, std::string>> ext = {
        {NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE"},
        {NID_key_usage, ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature"},
        {NID_subject_key_identifier, "hash"}};
    if (!eku.empty()) ext.emplace_back(NID_ext_key_usage, eku);
    if (!san.empty()) ext.emplace_back(NID_subject_alt_name, san);
    for (const auto& [nid, value] : ext) {
      X509_EXTENSION* e = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
      EXPECT_NE(e, nullptr) << "extension " << nid << " " << value;
      if (e != nullptr) {
        X509_add_ext(x, e, -1);
        X509_EXTENSION_free(e);
      }
    }
    EXPECT_GT(X509_sign(x, issuer_key != nullptr ? issuer_key : key, EVP_sha256()), 0);
    return x;
  }

  static void WriteCert(const std::string& path, X509* cert) {
    FILE* f = std::fopen(path.c_str(), "w");
    PEM_write_X509(f, cert);
    std::fclose(f);
  }

  std::string dir_;
  std::string name_;
  std::string ca_path_;
  EVP_PKEY* ca_key_ = nullptr;
  X509* ca_ = nullptr;
};

}  // namespace trunkroute::testing

#endif  // TRUNKROUTE_TESTS_SUPPORT_TEST_PKI_H_
