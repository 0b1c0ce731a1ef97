#ifndef TRUNKROUTE_SERVER_GRPC_TLS_CREDENTIALS_H_
#define TRUNKROUTE_SERVER_GRPC_TLS_CREDENTIALS_H_

#include <memory>

#include "grpcpp/security/server_credentials.h"
#include "tls/serving_certificate.h"

namespace trunkroute::server {

// Server credentials for the gRPC listener that present `cert`'s current material and follow its
// reloads without a restart: gRPC's SSL server credentials with a certificate-config fetcher
// (the reloading mechanism of gRPC's C core, grpc_security.h), which gRPC consults at every new
// connection's handshake. The fetcher hands gRPC new PEM only when cert->generation() moved, so
// a handshake costs one integer comparison; connections already up keep their TLS session, so a
// reload drops nothing and fails no call in flight.
//
// With a client CA (mTLS), clients must present a certificate that chains to it
// (REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY); the verified subject reaches handlers as
// the auth context's "x509_subject" property.
//
// TLS versions: gRPC's TLS layer (tsi) negotiates TLS 1.2 and 1.3 only; 1.51 has no public
// setter for the minimum, and its own default is 1.2 (tests/server/api_tls_test.cc proves that
// TLS 1.1 is refused even under an OpenSSL configuration that would allow it).
//
// `cert` must outlive every server using the credentials, and the returned object must be kept
// as long as the server runs (gRPC's C core calls back into it; GrpcServer holds it).
std::shared_ptr<grpc::ServerCredentials> ReloadingTlsServerCredentials(
    const tls::ServingCertificate* cert);

}  // namespace trunkroute::server

#endif  // TRUNKROUTE_SERVER_GRPC_TLS_CREDENTIALS_H_
