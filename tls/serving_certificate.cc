#include "tls/serving_certificate.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/secret_file.h"

namespace trunkroute::tls {
namespace {

absl::StatusOr<std::string> ReadText(const std::string& path, const std::string& flag) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::FailedPreconditionError(absl::StrCat(flag, " ", path, ": ", std::strerror(errno)));
  }
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The reason OpenSSL queued last, or "" (and clears the queue).
std::string OpenSslReason() {
  unsigned long code = 0;
  unsigned long last = 0;
  while ((code = ERR_get_error()) != 0) last = code;
  if (last == 0) return "";
  char buf[256];
  ERR_error_string_n(last, buf, sizeof buf);
  return buf;
}

// Every PEM certificate in `pem`, in order. Stops quietly at the end of the input.
std::vector<X509*> ReadCertificates(const std::string& pem) {
  std::vector<X509*> out;
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) out.push_back(cert);
  ERR_clear_error();  // the last read fails with "no start line": the end, not an error
  BIO_free(bio);
  return out;
}

bool AsnTimeToUnix(const ASN1_TIME* t, int64_t* out) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return false;
  *out = static_cast<int64_t>(timegm(&tm));
  return true;
}

std::string UnixText(int64_t unix_s) {
  const std::time_t t = static_cast<std::time_t>(unix_s);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

int CertCallback(SSL* ssl, void* arg) {
  const auto* cert = static_cast<const ServingCertificate*>(arg);
  const std::shared_ptr<const Material> m = cert->Current();
  // Each call takes its own references: the SSL keeps what it uses even if a reload drops `m`.
  if (SSL_use_certificate(ssl, m->leaf()) != 1 || SSL_use_PrivateKey(ssl, m->key()) != 1 ||
      SSL_set1_chain(ssl, m->chain()) != 1) {
    return 0;
  }
  if (m->client_ca_store() != nullptr) {
    if (SSL_set1_verify_cert_store(ssl, m->client_ca_store()) != 1) return 0;
    SSL_set_client_CA_list(ssl, SSL_dup_CA_list(m->client_ca_names()));
  }
  return 1;
}

}  // namespace

std::string NameText(const X509_NAME* name) {
  if (name == nullptr) return "";
  BIO* bio = BIO_new(BIO_s_mem());
  X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(len));
  BIO_free(bio);
  return out;
}

std::string SerialText(const X509* cert) {
  BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr);
  if (bn == nullptr) return "";
  char* hex = BN_bn2hex(bn);
  std::string out = hex != nullptr ? hex : "";
  OPENSSL_free(hex);
  BN_free(bn);
  return out;
}

std::string PeerSubject(const SSL* ssl) {
  if (ssl == nullptr) return "";
  X509* peer = SSL_get0_peer_certificate(ssl);
  if (peer == nullptr || SSL_get_verify_result(ssl) != X509_V_OK) return "";
  return NameText(X509_get_subject_name(peer));
}

Material::~Material() {
  X509_free(leaf_);
  sk_X509_pop_free(chain_, X509_free);
  EVP_PKEY_free(key_);
  X509_STORE_free(ca_store_);
  sk_X509_NAME_pop_free(ca_names_, X509_NAME_free);
}

absl::StatusOr<std::shared_ptr<const Material>> ServingCertificate::Read() const {
  const Options& o = options_;
  std::shared_ptr<Material> m(new Material());

  auto cert_text = ReadText(o.cert_file, o.cert_flag);
  if (!cert_text.ok()) return cert_text.status();
  std::vector<X509*> certs = ReadCertificates(*cert_text);
  if (certs.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(o.cert_flag, " ", o.cert_file, ": no PEM certificate in it"));
  }
  m->cert_chain_pem_ = *std::move(cert_text);
  m->leaf_ = certs[0];
  m->chain_ = sk_X509_new_null();
  for (size_t i = 1; i < certs.size(); ++i) sk_X509_push(m->chain_, certs[i]);

  auto key_text = ReadSecretFile(o.key_file, o.key_flag);
  if (!key_text.ok()) return key_text.status();
  if (key_text->find("ENCRYPTED") != std::string::npos) {
    return absl::FailedPreconditionError(absl::StrCat(
        o.key_flag, " ", o.key_file,
        ": the private key is encrypted; give an unencrypted key (openssl pkey -in KEY -out "
        "KEY.plain) in an owner-only file"));
  }
  {
    BIO* bio = BIO_new_mem_buf(key_text->data(), static_cast<int>(key_text->size()));
    m->key_ = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
  }
  if (m->key_ == nullptr) {
    const std::string reason = OpenSslReason();
    return absl::FailedPreconditionError(
        absl::StrCat(o.key_flag, " ", o.key_file, ": no PEM private key in it",
                     reason.empty() ? "" : " (", reason, reason.empty() ? "" : ")"));
  }
  m->key_pem_ = *std::move(key_text);
  if (X509_check_private_key(m->leaf_, m->key_) != 1) {
    ERR_clear_error();
    return absl::FailedPreconditionError(absl::StrCat(o.key_flag, " ", o.key_file,
                                                      " does not match the certificate in ",
                                                      o.cert_flag, " ", o.cert_file));
  }

  m->serial_ = SerialText(m->leaf_);
  m->subject_ = NameText(X509_get_subject_name(m->leaf_));
  int64_t not_before = 0;
  if (!AsnTimeToUnix(X509_get0_notAfter(m->leaf_), &m->not_after_unix_) ||
      !AsnTimeToUnix(X509_get0_notBefore(m->leaf_), &not_before)) {
    return absl::FailedPreconditionError(absl::StrCat(
        o.cert_flag, " ", o.cert_file, ": the certificate's validity dates cannot be read"));
  }
  const int64_t now = o.clock->WallUnixMs() / 1000;
  if (m->not_after_unix_ <= now) {
    return absl::FailedPreconditionError(
        absl::StrCat(o.cert_flag, " ", o.cert_file, ": the certificate (subject ", m->subject_,
                     ", serial ", m->serial_, ") expired at ", UnixText(m->not_after_unix_)));
  }
  if (not_before > now) {
    return absl::FailedPreconditionError(
        absl::StrCat(o.cert_flag, " ", o.cert_file, ": the certificate (subject ", m->subject_,
                     ", serial ", m->serial_, ") is not valid before ", UnixText(not_before)));
  }

  if (!o.client_ca_file.empty()) {
    auto ca_text = ReadText(o.client_ca_file, o.client_ca_flag);
    if (!ca_text.ok()) return ca_text.status();
    std::vector<X509*> cas = ReadCertificates(*ca_text);
    if (cas.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat(o.client_ca_flag, " ", o.client_ca_file, ": no PEM certificate in it"));
    }
    m->client_ca_pem_ = *std::move(ca_text);
    m->ca_store_ = X509_STORE_new();
    m->ca_names_ = sk_X509_NAME_new_null();
    for (X509* ca : cas) {
      X509_STORE_add_cert(m->ca_store_, ca);
      sk_X509_NAME_push(m->ca_names_, X509_NAME_dup(X509_get_subject_name(ca)));
      X509_free(ca);
    }
  }
  return std::shared_ptr<const Material>(std::move(m));
}

absl::StatusOr<std::unique_ptr<ServingCertificate>> ServingCertificate::Load(Options options) {
  if (options.cert_file.empty() != options.key_file.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(options.cert_flag, " and ", options.key_flag, " go together: give both"));
  }
  if (options.cert_file.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(options.cert_flag, ": required"));
  }
  if (options.clock == nullptr) return absl::InvalidArgumentError("tls: a clock is required");
  std::unique_ptr<ServingCertificate> cert(new ServingCertificate(std::move(options)));
  auto material = cert->Read();
  if (!material.ok()) return material.status();
  {
    absl::MutexLock lock(&cert->mu_);
    cert->current_ = *std::move(material);
    cert->generation_ = 1;
  }
  return cert;
}

ServingCertificate::~ServingCertificate() { StopWatching(); }

std::shared_ptr<const Material> ServingCertificate::Current() const {
  absl::MutexLock lock(&mu_);
  return current_;
}

uint64_t ServingCertificate::generation() const {
  absl::MutexLock lock(&mu_);
  return generation_;
}

absl::Status ServingCertificate::Reload() {
  absl::MutexLock reload(&reload_mu_);
  auto material = Read();
  if (!material.ok()) {
    const std::shared_ptr<const Material> current = Current();
    LogError("api tls: reload failed; still serving the previous certificate",
             {{"error", std::string(material.status().message())},
              {"serial", current->serial()},
              {"subject", current->subject()}});
    if (options_.observer != nullptr) options_.observer->OnCertificateReload(false, *current);
    return material.status();
  }
  std::shared_ptr<const Material> next = *std::move(material);
  {
    absl::MutexLock lock(&mu_);
    current_ = next;
    ++generation_;
  }
  LogInfo("api tls: certificate loaded",
          {{"serial", next->serial()},
           {"subject", next->subject()},
           {"not_after", UnixText(next->not_after_unix())},
           {"client_ca", options_.client_ca_file.empty() ? "off" : options_.client_ca_file}});
  if (options_.observer != nullptr) options_.observer->OnCertificateReload(true, *next);
  return absl::OkStatus();
}

std::string ServingCertificate::FilesStamp() const {
  std::string stamp;
  for (const std::string* path :
       {&options_.cert_file, &options_.key_file, &options_.client_ca_file}) {
    if (path->empty()) continue;
    struct stat st {};
    if (::stat(path->c_str(), &st) != 0) {
      absl::StrAppend(&stamp, "missing:", errno, ";");
      continue;
    }
    absl::StrAppend(&stamp, st.st_dev, ":", st.st_ino, ":", st.st_size, ":", st.st_mtim.tv_sec, ".",
                    st.st_mtim.tv_nsec, ":", st.st_ctim.tv_sec, ".", st.st_ctim.tv_nsec, ";");
  }
  return stamp;
}

void ServingCertificate::StartWatching(Duration interval) {
  if (watcher_.joinable()) return;
  {
    absl::MutexLock lock(&watch_mu_);
    stop_watching_ = false;
  }
  watcher_ = std::thread([this, interval] { WatchLoop(interval); });
}

void ServingCertificate::StopWatching() {
  {
    absl::MutexLock lock(&watch_mu_);
    stop_watching_ = true;
  }
  if (watcher_.joinable()) watcher_.join();
}

void ServingCertificate::WatchLoop(Duration interval) {
  // The stamp the serving material was read from, and a change waiting to settle.
  std::string loaded = FilesStamp();
  std::string pending;
  const absl::Duration wait = absl::Nanoseconds(interval.count());
  for (;;) {
    {
      absl::MutexLock lock(&watch_mu_);
      auto stopped = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(watch_mu_) { return stop_watching_; };
      if (watch_mu_.AwaitWithTimeout(absl::Condition(&stopped), wait)) return;
    }
    const std::string now = FilesStamp();
    if (now == loaded) {
      pending.clear();
      continue;
    }
    if (now != pending) {
      pending = now;  // changed since the last look: wait one more interval
      continue;
    }
    // Unchanged for a whole interval: load it. A failure is logged and counted once; the same
    // broken files are not retried every interval, the next change is.
    (void)Reload();
    loaded = now;
    pending.clear();
  }
}

absl::Status ConfigureServerContext(SSL_CTX* ctx, const ServingCertificate* cert) {
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
    return absl::InternalError("tls: cannot set TLS 1.2 as the minimum version");
  }
  SSL_CTX_set_options(
      ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // Session resumption (tickets and the server cache) needs a context id once client
  // certificates are verified; harmless without.
  static constexpr unsigned char kSessionContext[] = "trunkroute-api";
  SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof kSessionContext - 1);
  SSL_CTX_set_cert_cb(ctx, CertCallback, const_cast<ServingCertificate*>(cert));
  if (cert->client_certificates_required()) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  return absl::OkStatus();
}

}  // namespace trunkroute::tls
