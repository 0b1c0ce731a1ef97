#ifndef TRUNKROUTE_TESTS_SUPPORT_TLS_CLIENT_H_
#define TRUNKROUTE_TESTS_SUPPORT_TLS_CLIENT_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "tests/support/temp_dir.h"
#include "tls/serving_certificate.h"

namespace trunkroute::testing {

// A fresh TLS connection to 127.0.0.1:`port`, verified against `ca_file` (and presenting a client
// certificate when `cert`/`key` are given): the serial of the certificate the server presented
// on it, or why the handshake failed. Works on both API ports (gRPC's TLS completes the
// handshake before it looks at ALPN).
inline absl::StatusOr<std::string> TlsPeerSerial(int port, const std::string& ca_file,
                                                 const std::string& cert = "",
                                                 const std::string& key = "") {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr);
  if (!cert.empty()) {
    SSL_CTX_use_certificate_chain_file(ctx, cert.c_str());
    SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM);
  }
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval timeout{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    SSL_CTX_free(ctx);
    return absl::UnavailableError("connect failed");
  }
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  SSL_set_tlsext_host_name(ssl, "localhost");
  SSL_set1_host(ssl, "localhost");
  absl::StatusOr<std::string> out = absl::UnavailableError("handshake failed");
  if (SSL_connect(ssl) == 1) {
    X509* peer = SSL_get0_peer_certificate(ssl);
    out = peer != nullptr ? tls::SerialText(peer) : std::string();
  } else {
    char buf[256];
    ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
    out = absl::UnavailableError(std::string("handshake failed: ") + buf);
  }
  ERR_clear_error();
  SSL_free(ssl);
  ::close(fd);
  SSL_CTX_free(ctx);
  return out;
}

// gRPC channel credentials with `ca_file` as the trusted roots and, for mTLS, a client
// certificate.
inline std::shared_ptr<grpc::ChannelCredentials> TlsCredentials(const std::string& ca_file,
                                                                const std::string& cert = "",
                                                                const std::string& key = "") {
  grpc::SslCredentialsOptions o;
  o.pem_root_certs = ReadFileBytes(ca_file);
  if (!cert.empty()) {
    o.pem_cert_chain = ReadFileBytes(cert);
    o.pem_private_key = ReadFileBytes(key);
  }
  return grpc::SslCredentials(o);
}

// The serial of the certificate the server presented on the connection `ctx`'s call used.
inline std::string ServerSerialOf(const grpc::ClientContext& ctx) {
  std::shared_ptr<const grpc::AuthContext> auth = ctx.auth_context();
  if (auth == nullptr) return "";
  for (const grpc::string_ref& pem : auth->FindPropertyValues("x509_pem_cert")) {
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    if (cert == nullptr) return "";
    std::string serial = tls::SerialText(cert);
    X509_free(cert);
    return serial;
  }
  return "";
}

}  // namespace trunkroute::testing

#endif  // TRUNKROUTE_TESTS_SUPPORT_TLS_CLIENT_H_
