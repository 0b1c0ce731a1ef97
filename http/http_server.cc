#include "http/http_server.h"

#include <httplib.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <string_view>
#include <thread>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "google/protobuf/util/json_util.h"
#include "http/http_status.h"

namespace trunkroute::http {
namespace {

constexpr char kJsonType[] = "application/json";
constexpr std::string_view kMetricsPath = "/metrics";
constexpr std::string_view kHealthzPath = "/healthz";
constexpr std::string_view kRoutePath = "/v1/route";
constexpr std::string_view kOutcomePath = "/v1/outcome";
constexpr std::string_view kTrunkHealthPath = "/v1/trunks/health";

// The path label of trunkroute_http_requests_total: served paths as they are, anything else
// folded into one value so that scanners cannot grow the series set.
std::string_view PathLabel(const std::string& path) {
  for (std::string_view known :
       {kMetricsPath, kHealthzPath, kRoutePath, kOutcomePath, kTrunkHealthPath}) {
    if (path == known) return known;
  }
  return "other";
}

// Debian's Abseil has its own string_view type: convert explicitly at the boundary.
std::string_view ToStd(absl::string_view s) { return std::string_view(s.data(), s.size()); }

void SendError(httplib::Response& res, absl::StatusCode code, int http_status,
               std::string_view message) {
  res.status = http_status;
  res.set_content(ErrorJson(code, http_status, message), kJsonType);
}

void SendStatus(httplib::Response& res, const absl::Status& status) {
  SendError(res, status.code(), HttpStatusFromCode(status.code()), ToStd(status.message()));
}

template <typename Message>
void SendMessage(httplib::Response& res, const Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  // Data-action output contracts name fields that must be present even when zero or false.
  options.always_print_primitive_fields = true;
  std::string json;
  auto status = google::protobuf::util::MessageToJsonString(message, &json, options);
  if (!status.ok()) {
    SendError(res, absl::StatusCode::kInternal, 500,
              absl::StrCat("cannot encode ", message.GetDescriptor()->full_name(), " as JSON"));
    return;
  }
  res.status = 200;
  res.set_content(json, kJsonType);
}

// Parses the body as the protobuf JSON mapping of `Message`; on failure answers 400 and returns
// false.
template <typename Message>
bool ParseBody(const httplib::Request& req, httplib::Response& res, Message* message) {
  const std::string& type = message->GetDescriptor()->full_name();
  if (absl::StripAsciiWhitespace(req.body).empty()) {
    SendError(res, absl::StatusCode::kInvalidArgument, 400,
              absl::StrCat("request body is empty: expected a JSON ", type));
    return false;
  }
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;  // a misspelt field is an error, not a silent default
  auto status = google::protobuf::util::JsonStringToMessage(req.body, message, options);
  if (!status.ok()) {
    SendError(res, absl::StatusCode::kInvalidArgument, 400,
              absl::StrCat("invalid JSON for ", type, ": ", std::string(status.message())));
    return false;
  }
  return true;
}

}  // namespace

absl::Status ParseListenAddress(std::string_view address, HttpServerOptions* options) {
  auto bad = [address](std::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("http listen address '", std::string(address),
                                                   "': ", std::string(why)));
  };
  std::string_view host;
  std::string_view port;
  if (!address.empty() && address.front() == '[') {
    size_t close = address.find(']');
    if (close == std::string_view::npos || close + 1 >= address.size() ||
        address[close + 1] != ':') {
      return bad("expected [ipv6]:port");
    }
    host = address.substr(1, close - 1);
    port = address.substr(close + 2);
  } else {
    size_t colon = address.rfind(':');
    if (colon == std::string_view::npos) return bad("expected host:port");
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return bad("write IPv6 hosts as [addr]:port");
  }
  if (host.empty()) return bad("host is empty (use 0.0.0.0 to listen on every address)");
  if (port.empty() || port.size() > 5) return bad("port must be a number 0-65535");
  int value = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return bad("port must be a number 0-65535");
    value = value * 10 + (c - '0');
  }
  if (value > 65535) return bad("port must be a number 0-65535");
  options->host = std::string(host);
  options->port = value;
  return absl::OkStatus();
}

class HttpServer::Impl {
 public:
  Impl(HttpServerOptions options, RoutingBackend* backend, metrics::TrunkrouteMetrics* metrics)
      : options_(std::move(options)), backend_(backend), metrics_(metrics) {}
  ~Impl() { Stop(); }

  absl::Status Start();
  void Stop();
  int port() const { return port_; }
  std::string address() const {
    bool v6 = options_.host.find(':') != std::string::npos;
    return v6 ? absl::StrCat("[", options_.host, "]:", port_)
              : absl::StrCat(options_.host, ":", port_);
  }

 private:
  void InstallHandlers();
  // True when the request may proceed; otherwise answers 401, 403 or 429.
  bool Authorize(const httplib::Request& req, httplib::Response& res) const;
  void Count(const httplib::Request& req, const httplib::Response& res) const;
  void HandleRoute(const httplib::Request& req, httplib::Response& res);
  void HandleOutcome(const httplib::Request& req, httplib::Response& res);
  void HandleTrunkHealth(httplib::Response& res);
  void HandleMetrics(httplib::Response& res);
  void MethodNotAllowed(const std::string& pattern, std::string_view allow);

  const HttpServerOptions options_;
  RoutingBackend* const backend_;
  metrics::TrunkrouteMetrics* const metrics_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

absl::Status HttpServer::Impl::Start() {
  if (options_.host.empty()) return absl::InvalidArgumentError("http host: required");
  if (options_.port < 0 || options_.port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("http port: ", options_.port, " is out of range 0-65535"));
  }
  if (options_.worker_threads < 1 || options_.worker_threads > 256) {
    return absl::InvalidArgumentError(absl::StrCat(
        "http worker_threads: ", options_.worker_threads, " is out of range 1-256"));
  }
  if (options_.max_body_bytes == 0) {
    return absl::InvalidArgumentError("http max_body_bytes: must be positive");
  }
  if (options_.io_timeout_s < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("http io_timeout_s: ", options_.io_timeout_s, " must be at least 1"));
  }
  if (options_.tls != nullptr) {
    const tls::ServingCertificate* cert = options_.tls;
    absl::Status configured = absl::OkStatus();
    server_ = std::make_unique<httplib::SSLServer>([cert, &configured](SSL_CTX& ctx) {
      configured = tls::ConfigureServerContext(&ctx, cert);
      return configured.ok();
    });
    if (!server_->is_valid()) {
      return absl::InternalError(
          absl::StrCat("http listener: cannot set up TLS: ",
                       configured.ok() ? "no SSL context" : configured.message()));
    }
  } else {
    server_ = std::make_unique<httplib::Server>();
  }
  size_t threads = static_cast<size_t>(options_.worker_threads);
  server_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server_->set_payload_max_length(options_.max_body_bytes);
  server_->set_read_timeout(options_.io_timeout_s, 0);
  server_->set_write_timeout(options_.io_timeout_s, 0);
  // httplib's default also sets SO_REUSEPORT, which lets a second process bind the same port and
  // silently take half the scrapes and data-action calls. SO_REUSEADDR alone still allows a quick
  // restart over connections in TIME_WAIT.
  server_->set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  InstallHandlers();

  errno = 0;
  int bound = -1;
  if (options_.port == 0) {
    bound = server_->bind_to_any_port(options_.host);
  } else if (server_->bind_to_port(options_.host, options_.port)) {
    bound = options_.port;
  }
  if (bound < 0) {
    int err = errno;
    std::string where = options_.host.find(':') != std::string::npos
                            ? absl::StrCat("[", options_.host, "]:", options_.port)
                            : absl::StrCat(options_.host, ":", options_.port);
    return absl::UnavailableError(absl::StrCat(
        "http listener ", where, ": cannot listen (",
        err != 0 ? std::strerror(err) : "address not usable", ")"));
  }
  port_ = bound;
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  // stop() before the accept loop has started would be lost; wait for it (bounded).
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!server_->is_running()) {
    if (std::chrono::steady_clock::now() > deadline) {
      Stop();
      return absl::InternalError(absl::StrCat("http listener ", address(), ": did not start"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  LogInfo("http listener started",
          {{"address", address()}, {"tls", options_.tls == nullptr ? "off" : "on"}});
  return absl::OkStatus();
}

void HttpServer::Impl::Stop() {
  if (server_ == nullptr || !thread_.joinable()) return;
  server_->stop();
  thread_.join();
  LogInfo("http listener stopped", {{"address", address()}});
}

bool HttpServer::Impl::Authorize(const httplib::Request& req, httplib::Response& res) const {
  if (options_.authorizer == nullptr) return true;
  const std::string header = req.get_header_value("Authorization");
  // The method and a bounded path for logs: what a scanner sends never grows the audit vocabulary.
  const std::string method = req.method + " " + std::string(PathLabel(req.path));
  const std::string subject = tls::PeerSubject(req.ssl);
  const auth::AuthDecision d = options_.authorizer->Check(auth::AuthRequest{
      .api = "http",
      .method = method,
      .access = auth::HttpAccess(req.method, req.path),
      .authorization =
          req.has_header("Authorization") ? std::optional<std::string_view>(header) : std::nullopt,
      .peer = req.remote_addr,
      .client_subject = subject,
  });
  switch (d.outcome) {
    case auth::AuthDecision::Outcome::kAllowed:
      return true;
    case auth::AuthDecision::Outcome::kUnauthenticated:
      res.set_header("WWW-Authenticate",
                     d.reason == auth::DenyReason::kUnknownToken
                         ? "Bearer realm=\"trunkroute\", error=\"invalid_token\""
                         : "Bearer realm=\"trunkroute\"");
      SendError(res, absl::StatusCode::kUnauthenticated, 401, d.message);
      break;
    case auth::AuthDecision::Outcome::kPermissionDenied:
      SendError(res, absl::StatusCode::kPermissionDenied, 403, d.message);
      break;
    case auth::AuthDecision::Outcome::kThrottled: {
      const int64_t ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(d.retry_after).count();
      res.set_header("Retry-After", absl::StrCat((ms + 999) / 1000));
      SendError(res, absl::StatusCode::kResourceExhausted, 429, d.message);
      break;
    }
  }
  return false;
}

void HttpServer::Impl::Count(const httplib::Request& req, const httplib::Response& res) const {
  if (metrics_ == nullptr) return;
  char code[12];
  std::snprintf(code, sizeof code, "%d", res.status);
  metrics_->http_requests->WithLabels({PathLabel(req.path), code})->Inc();
}

void HttpServer::Impl::MethodNotAllowed(const std::string& pattern, std::string_view allow) {
  std::string allow_value(allow);
  auto handler = [allow_value](const httplib::Request& req, httplib::Response& res) {
    res.set_header("Allow", allow_value);
    SendError(res, absl::StatusCode::kUnimplemented, 405,
              absl::StrCat(req.method, " is not allowed on ", req.path, "; use ", allow_value));
  };
  if (allow_value.find("GET") == std::string::npos) server_->Get(pattern, handler);
  if (allow_value.find("POST") == std::string::npos) server_->Post(pattern, handler);
  server_->Put(pattern, handler);
  server_->Patch(pattern, handler);
  server_->Delete(pattern, handler);
}

void HttpServer::Impl::InstallHandlers() {
  // Authorization before routing, so an unauthenticated body is never read or parsed.
  server_->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    return Authorize(req, res) ? httplib::Server::HandlerResponse::Unhandled
                               : httplib::Server::HandlerResponse::Handled;
  });
  server_->Get(std::string(kMetricsPath),
               [this](const httplib::Request&, httplib::Response& res) { HandleMetrics(res); });
  server_->Get(std::string(kHealthzPath), [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain; charset=utf-8");
  });
  server_->Post(std::string(kRoutePath), [this](const httplib::Request& req,
                                                httplib::Response& res) { HandleRoute(req, res); });
  server_->Post(
      std::string(kOutcomePath),
      [this](const httplib::Request& req, httplib::Response& res) { HandleOutcome(req, res); });
  server_->Get(std::string(kTrunkHealthPath),
               [this](const httplib::Request&, httplib::Response& res) { HandleTrunkHealth(res); });
  MethodNotAllowed(std::string(kMetricsPath), "GET, HEAD");
  MethodNotAllowed(std::string(kHealthzPath), "GET, HEAD");
  MethodNotAllowed(std::string(kRoutePath), "POST");
  MethodNotAllowed(std::string(kOutcomePath), "POST");
  MethodNotAllowed(std::string(kTrunkHealthPath), "GET, HEAD");

  // httplib calls this for every answer ≥ 400, ours included: fill in only the ones it produced
  // itself (no route, body too large, malformed request), which have no body yet.
  server_->set_error_handler(httplib::Server::HandlerWithResponse(
      [this](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    switch (res.status) {
      case 404:
        SendError(res, absl::StatusCode::kNotFound, 404, absl::StrCat("no such path: ", req.path));
        break;
      case 413:
        SendError(res, absl::StatusCode::kResourceExhausted, 413,
                  absl::StrCat("request body exceeds ", options_.max_body_bytes, " bytes"));
        break;
      default:
        SendError(res,
                  res.status >= 500 ? absl::StatusCode::kInternal
                                    : absl::StatusCode::kInvalidArgument,
                  res.status, "malformed HTTP request");
    }
    return httplib::Server::HandlerResponse::Handled;
  }));
  server_->set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
        SendError(res, absl::StatusCode::kInternal, 500, "internal error");
      });
  server_->set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    Count(req, res);
    if (LogEnabled(LogLevel::kDebug)) {
      std::string status = absl::StrCat(res.status);
      LogDebug("http request", {{"method", req.method},
                                {"path", PathLabel(req.path)},
                                {"status", status},
                                {"remote", req.remote_addr}});
    }
  });
}

void HttpServer::Impl::HandleMetrics(httplib::Response& res) {
  if (metrics_ == nullptr) {
    SendError(res, absl::StatusCode::kNotFound, 404, "metrics are not enabled");
    return;
  }
  std::string body;
  body.reserve(64 * 1024);
  metrics_->registry().SerializeTo(&body);
  res.set_content(body, std::string(metrics::Registry::kContentType));
}

void HttpServer::Impl::HandleRoute(const httplib::Request& req, httplib::Response& res) {
  v1::RouteCallRequest request;
  if (!ParseBody(req, res, &request)) return;
  if (backend_ == nullptr) {
    SendStatus(res, absl::UnavailableError("routing is not available on this listener"));
    return;
  }
  absl::StatusOr<v1::RouteCallResponse> response = backend_->RouteCall(request);
  if (!response.ok()) {
    SendStatus(res, response.status());
    return;
  }
  SendMessage(res, *response);
}

void HttpServer::Impl::HandleOutcome(const httplib::Request& req, httplib::Response& res) {
  v1::ReportCallOutcomeRequest request;
  if (!ParseBody(req, res, &request)) return;
  if (backend_ == nullptr) {
    SendStatus(res, absl::UnavailableError("routing is not available on this listener"));
    return;
  }
  absl::StatusOr<v1::ReportCallOutcomeResponse> response = backend_->ReportCallOutcome(request);
  if (!response.ok()) {
    SendStatus(res, response.status());
    return;
  }
  SendMessage(res, *response);
}

void HttpServer::Impl::HandleTrunkHealth(httplib::Response& res) {
  if (backend_ == nullptr) {
    SendStatus(res, absl::UnavailableError("routing is not available on this listener"));
    return;
  }
  v1::ListTrunkHealthResponse response;
  for (v1::TrunkHealth& h : backend_->ListTrunkHealth()) *response.add_trunks() = std::move(h);
  SendMessage(res, response);
}

// ---- HttpServer ----

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpServer::~HttpServer() = default;

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    HttpServerOptions options, RoutingBackend* backend, metrics::TrunkrouteMetrics* metrics) {
  auto impl = std::make_unique<Impl>(std::move(options), backend, metrics);
  if (absl::Status s = impl->Start(); !s.ok()) return s;
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

int HttpServer::port() const { return impl_->port(); }
std::string HttpServer::address() const { return impl_->address(); }
void HttpServer::Stop() { impl_->Stop(); }

}  // namespace trunkroute::http
