#include "server/grpc_tls_credentials.h"

#include <grpc/grpc.h>
#include <grpc/grpc_security.h>

#include <atomic>
#include <cstdint>
#include <string>

#include "common/log.h"

namespace trunkroute::server {
namespace {

// What the fetcher needs; owned by the credentials object below.
struct FetcherState {
  const tls::ServingCertificate* cert;
  // The generation gRPC was last given. gRPC calls the fetcher under its own lock, one handshake
  // at a time per listener; atomic anyway, as nothing here depends on that.
  std::atomic<uint64_t> served{0};
};

// Called by gRPC at the start of every handshake (first at start-up, where it must answer NEW).
grpc_ssl_certificate_config_reload_status FetchConfig(void* user_data,
                                                      grpc_ssl_server_certificate_config** config) {
  auto* state = static_cast<FetcherState*>(user_data);
  const uint64_t generation = state->cert->generation();
  if (state->served.load() == generation) return GRPC_SSL_CERTIFICATE_CONFIG_RELOAD_UNCHANGED;
  const std::shared_ptr<const tls::Material> m = state->cert->Current();
  grpc_ssl_pem_key_cert_pair pair{m->key_pem().c_str(), m->cert_chain_pem().c_str()};
  // gRPC requires root certificates even when it asks for no client certificate; it never uses
  // them then, so the server's own chain stands in.
  const std::string& roots = m->client_ca_pem().empty() ? m->cert_chain_pem() : m->client_ca_pem();
  *config = grpc_ssl_server_certificate_config_create(roots.c_str(), &pair, 1);  // copies
  state->served.store(generation);
  LogDebug("grpc tls: new certificate handed to gRPC", {{"serial", m->serial()}});
  return GRPC_SSL_CERTIFICATE_CONFIG_RELOAD_NEW;
}

// grpc::ServerCredentials for a C-core credentials object. gRPC 1.51's C++ API wraps only the
// credentials it builds itself, and the reloading SSL credentials exist in the C API alone;
// binding the port is all a ServerCredentials has to do (grpc_server_add_http2_port).
class CoreServerCredentials final : public grpc::ServerCredentials {
 public:
  CoreServerCredentials(grpc_server_credentials* creds, std::unique_ptr<FetcherState> state)
      : creds_(creds), state_(std::move(state)) {}
  ~CoreServerCredentials() override { grpc_server_credentials_release(creds_); }

  void SetAuthMetadataProcessor(
      const std::shared_ptr<grpc::AuthMetadataProcessor>& /*processor*/) override {
    // Not used: authorization is server/grpc_auth.h's, the same for plaintext and TLS.
  }

 private:
  int AddPortToServer(const std::string& addr, grpc_server* server) override {
    return grpc_server_add_http2_port(server, addr.c_str(), creds_);
  }

  grpc_server_credentials* const creds_;
  // Outlives creds_'s last use: gRPC drops its references to the credentials when the server
  // is destroyed, before this object goes.
  const std::unique_ptr<FetcherState> state_;
};

}  // namespace

std::shared_ptr<grpc::ServerCredentials> ReloadingTlsServerCredentials(
    const tls::ServingCertificate* cert) {
  auto state = std::make_unique<FetcherState>();
  state->cert = cert;
  grpc_ssl_server_credentials_options* options =
      grpc_ssl_server_credentials_create_options_using_config_fetcher(
          cert->client_certificates_required()
              ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
              : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE,
          &FetchConfig, state.get());
  // Takes ownership of `options`.
  grpc_server_credentials* creds = grpc_ssl_server_credentials_create_with_options(options);
  return std::make_shared<CoreServerCredentials>(creds, std::move(state));
}

}  // namespace trunkroute::server
