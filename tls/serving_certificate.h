#ifndef TRUNKROUTE_TLS_SERVING_CERTIFICATE_H_
#define TRUNKROUTE_TLS_SERVING_CERTIFICATE_H_

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"

namespace trunkroute::tls {

// One checked server identity: the certificate chain, its private key and, for mutual TLS, the
// CAs client certificates must chain to. Immutable; shared by the handshakes that use it.
class Material {
 public:
  ~Material();
  Material(const Material&) = delete;
  Material& operator=(const Material&) = delete;

  // PEM as read (gRPC takes PEM text).
  const std::string& cert_chain_pem() const { return cert_chain_pem_; }
  const std::string& key_pem() const { return key_pem_; }
  const std::string& client_ca_pem() const { return client_ca_pem_; }  // "" without mTLS

  X509* leaf() const { return leaf_; }
  STACK_OF(X509) * chain() const { return chain_; }  // intermediates after the leaf (may be empty)
  EVP_PKEY* key() const { return key_; }
  X509_STORE* client_ca_store() const { return ca_store_; }            // null without mTLS
  STACK_OF(X509_NAME) * client_ca_names() const { return ca_names_; }  // null without mTLS

  // For logs and tests: the leaf's serial (upper-case hex, as `openssl x509 -serial` prints it),
  // subject (RFC 2253) and end of validity (Unix seconds).
  const std::string& serial() const { return serial_; }
  const std::string& subject() const { return subject_; }
  int64_t not_after_unix() const { return not_after_unix_; }

 private:
  friend class ServingCertificate;
  Material() = default;

  std::string cert_chain_pem_;
  std::string key_pem_;
  std::string client_ca_pem_;
  X509* leaf_ = nullptr;
  STACK_OF(X509) * chain_ = nullptr;
  EVP_PKEY* key_ = nullptr;
  X509_STORE* ca_store_ = nullptr;
  STACK_OF(X509_NAME) * ca_names_ = nullptr;
  std::string serial_;
  std::string subject_;
  int64_t not_after_unix_ = 0;
};

// Told about every reload attempt (metrics). Called on the reloading thread.
class ReloadObserver {
 public:
  virtual ~ReloadObserver() = default;
  // `current` is what serves after the attempt: the new material when `ok`, the old one when not.
  virtual void OnCertificateReload(bool ok, const Material& current) = 0;
};

// The certificate both API listeners present (--api-tls-cert, --api-tls-key and, for mTLS,
// --api-tls-client-ca): loaded and checked at start-up, re-read on Reload() (SIGHUP) and when the
// files change on disk (StartWatching). Each new TLS handshake takes Current(); connections
// already open keep the certificate they were set up with, so a reload never drops a connection
// or fails a request in flight.
//
// Checks, at start-up and on every reload: each file is readable and holds PEM of the right kind;
// the private key file is an owner-only secret file (common/secret_file.h) and not encrypted; the
// key matches the certificate; the certificate is valid now (not expired, not in the future); the
// client CA file holds at least one certificate. Start-up fails on any of them with a message
// naming the flag and the file; a failed reload keeps the material that serves, logs why and
// tells the observer.
class ServingCertificate {
 public:
  struct Options {
    std::string cert_file;       // PEM: the leaf first, then intermediates
    std::string key_file;        // PEM private key, unencrypted
    std::string client_ca_file;  // PEM CA certificates; "" = no client certificates asked for
    // The flags the paths came from, for messages.
    std::string cert_flag = "--api-tls-cert";
    std::string key_flag = "--api-tls-key";
    std::string client_ca_flag = "--api-tls-client-ca";
    Clock* clock = nullptr;              // validity checks use its wall time; required
    ReloadObserver* observer = nullptr;  // not owned; may be null
  };

  static absl::StatusOr<std::unique_ptr<ServingCertificate>> Load(Options options);
  ~ServingCertificate();  // stops watching

  // Re-reads and re-checks the files; on success new handshakes use the new material. On failure
  // nothing changes and the status says why (also logged).
  absl::Status Reload();

  // Polls the files' stat() every `interval` on a thread of its own and reloads once a change
  // has stayed the same for one interval (so a cert and key written one after the other are
  // loaded together, not as a mismatched pair). Idempotent.
  void StartWatching(Duration interval);
  void StopWatching();

  std::shared_ptr<const Material> Current() const;
  // Bumped by every successful reload (gRPC asks for new credentials when it moved).
  uint64_t generation() const;
  bool client_certificates_required() const { return !options_.client_ca_file.empty(); }
  const Options& options() const { return options_; }

 private:
  explicit ServingCertificate(Options options) : options_(std::move(options)) {}
  absl::StatusOr<std::shared_ptr<const Material>> Read() const;
  std::string FilesStamp() const;
  void WatchLoop(Duration interval);

  const Options options_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const Material> current_ ABSL_GUARDED_BY(mu_);
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  // Serialises reloads (SIGHUP and the watcher may race).
  absl::Mutex reload_mu_;
  absl::Mutex watch_mu_;
  bool stop_watching_ ABSL_GUARDED_BY(watch_mu_) = false;
  std::thread watcher_;
};

// Sets up `ctx` for a server that presents `cert`'s current material on every handshake: TLS 1.2
// minimum (set here, in code, whatever the system's OpenSSL configuration allows), no
// renegotiation, no compression, a certificate callback that takes Current() per handshake, and
// with a client CA: client certificates required and verified against the current CA set.
// `cert` must outlive `ctx`.
absl::Status ConfigureServerContext(SSL_CTX* ctx, const ServingCertificate* cert);

// The subject (RFC 2253, e.g. "CN=alice,O=ops") of the verified peer certificate of `ssl`, or ""
// when there is none.
std::string PeerSubject(const SSL* ssl);

// RFC 2253 text of a name; upper-case hex serial of a certificate.
std::string NameText(const X509_NAME* name);
std::string SerialText(const X509* cert);

}  // namespace trunkroute::tls

#endif  // TRUNKROUTE_TLS_SERVING_CERTIFICATE_H_
