#ifndef TRUNKROUTE_HTTP_HTTP_SERVER_H_
#define TRUNKROUTE_HTTP_HTTP_SERVER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "auth/authorizer.h"
#include "http/routing_backend.h"
#include "metrics/trunkroute_metrics.h"
#include "tls/serving_certificate.h"

namespace trunkroute::http {

// Where and how the HTTP listener serves. Defaults are the documented ones.
struct HttpServerOptions {
  // Loopback unless configured otherwise (design.md §6).
  std::string host = "127.0.0.1";
  // 0: the kernel picks a free port; HttpServer::port() reports it.
  int port = 9464;
  // Who may call what (auth/authorizer.h; the same rule as the gRPC API): every request is
  // checked before it is routed, so an unauthenticated body is never read. nullptr: open. Not
  // owned; must outlive the server.
  auth::Authorizer* authorizer = nullptr;
  // HTTPS with this certificate (tls/serving_certificate.h: TLS 1.2 minimum, reloads picked up
  // by new connections, client certificates when it has a client CA); nullptr: plain HTTP.
  // Not owned; must outlive the server.
  const tls::ServingCertificate* tls = nullptr;
  // Request bodies above this are refused with 413 before they are read.
  size_t max_body_bytes = 64 * 1024;
  // Worker threads answering requests (each holds one connection at a time).
  int worker_threads = 4;
  // Per-connection read and write timeouts, seconds.
  int io_timeout_s = 5;
};

// The operations HTTP face: GET /metrics (Prometheus text 0.0.4), GET /healthz, and the Genesys
// data-action API: POST /v1/route (RouteCallRequest JSON → RouteCallResponse JSON),
// POST /v1/outcome (ReportCallOutcomeRequest → ReportCallOutcomeResponse), GET /v1/trunks/health
// (ListTrunkHealthResponse). JSON is protobuf's canonical JSON mapping (lowerCamelCase names on
// output, both spellings accepted on input, unknown fields rejected, default values written out
// so that data-action output contracts always find their fields).
//
// Errors are JSON: {"error":{"code":"NOT_FOUND","http_status":404,"message":"..."}}, with the HTTP
// status from HttpStatusFromCode() (http/http_status.h). Missing/wrong token: 401 with
// WWW-Authenticate: Bearer; a token without the scope the endpoint needs: 403 naming it; a source
// in failed-authentication backoff: 429 with Retry-After. Bad JSON: 400 naming the parse error.
// Too large: 413. Unknown path: 404. Wrong method: 405 with Allow. Every answer is counted in
// trunkroute_http_requests_total{path,code} (path "other" for unknown paths). Over TLS, plain
// HTTP sent to the port gets the connection closed at once (OpenSSL refuses it as "http
// request"): clients see an empty reply, never a hang.
//
// Threading: requests run on a pool of worker threads; the backend and the metrics registry are
// thread-safe. Start() returns once the listener accepts; Stop() (or the destructor) closes it and
// waits for the serving thread.
class HttpServer {
 public:
  // `backend` (may be null: /v1/ answers 503) and `metrics` (may be null: /metrics answers 404,
  // nothing is counted) must outlive the server. A port in use or an address that cannot be
  // bound → Unavailable naming the address; bad options → InvalidArgument naming the field.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(HttpServerOptions options,
                                                           RoutingBackend* backend,
                                                           metrics::TrunkrouteMetrics* metrics);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The bound port (the chosen one when options.port was 0).
  int port() const;
  // "host:port" as bound.
  std::string address() const;
  // Stops accepting, finishes, joins. Idempotent.
  void Stop();

 private:
  class Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Sets options->host and ->port from "host:port" or "[ipv6]:port" (the --http-listen flag).
// InvalidArgument naming the address and what is wrong with it.
absl::Status ParseListenAddress(std::string_view address, HttpServerOptions* options);

}  // namespace trunkroute::http

#endif  // TRUNKROUTE_HTTP_HTTP_SERVER_H_
