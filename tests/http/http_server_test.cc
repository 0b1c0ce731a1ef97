#include "http/http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/log.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/metrics/exposition_matchers.h"
#include "tests/support/simulated_clock.h"
#include "tests/support/test_tokens.h"

namespace trunkroute::http {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using metrics::testing::SeriesValue;

// A routing backend with behaviour: "+1..." numbers route over carrier-a then carrier-b, "+999"
// has every trunk down on a fail-fast route, anything else has no route. Outcomes for unknown
// trunks are NOT_FOUND; 5xx outcomes are FAILOVER and take the trunk DOWN.
class FakeBackend final : public RoutingBackend {
 public:
  absl::StatusOr<v1::RouteCallResponse> RouteCall(const v1::RouteCallRequest& request) override {
    absl::MutexLock lock(&mu_);
    route_requests_.push_back(request);
    const std::string& number = request.dialed_number();
    if (number.empty()) return absl::InvalidArgumentError("dialed_number: required");
    if (number.rfind("+999", 0) == 0) {
      return absl::UnavailableError("route 'fail-fast': every trunk is down");
    }
    if (number.rfind("+1", 0) != 0) {
      return absl::NotFoundError(absl::StrCat("no route for ", number));
    }
    v1::RouteCallResponse response;
    response.set_route_id("us");
    response.set_normalized_number(number);
    for (const char* trunk : {"carrier-a", "carrier-b"}) {
      v1::Candidate* c = response.add_candidates();
      c->set_trunk_id(trunk);
      c->set_sip_uri(absl::StrCat("sip:", number, "@", trunk, ".example.net:5061;transport=tls"));
      c->set_setup_timeout_ms(1000);
      c->set_health_state(health_[trunk]);
    }
    response.set_config_version(7);
    return response;
  }

  absl::StatusOr<v1::ReportCallOutcomeResponse> ReportCallOutcome(
      const v1::ReportCallOutcomeRequest& request) override {
    absl::MutexLock lock(&mu_);
    outcome_requests_.push_back(request);
    auto it = health_.find(request.trunk_id());
    if (it == health_.end()) {
      return absl::NotFoundError(absl::StrCat("trunk '", request.trunk_id(), "' not found"));
    }
    v1::ReportCallOutcomeResponse response;
    if (request.sip_status() >= 500 || request.timed_out()) {
      it->second = v1::HEALTH_STATE_DOWN;
      response.set_outcome_class("FAILOVER");
    } else {
      response.set_outcome_class("SUCCESS");
    }
    response.set_health_state(it->second);
    return response;
  }

  std::vector<v1::TrunkHealth> ListTrunkHealth() override {
    absl::MutexLock lock(&mu_);
    std::vector<v1::TrunkHealth> out;
    for (const auto& [id, state] : health_) {
      v1::TrunkHealth h;
      h.set_trunk_id(id);
      h.set_state(state);
      out.push_back(h);
    }
    return out;
  }

  std::vector<v1::RouteCallRequest> route_requests() {
    absl::MutexLock lock(&mu_);
    return route_requests_;
  }
  std::vector<v1::ReportCallOutcomeRequest> outcome_requests() {
    absl::MutexLock lock(&mu_);
    return outcome_requests_;
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, v1::HealthState> health_ ABSL_GUARDED_BY(mu_) = {
      {"carrier-a", v1::HEALTH_STATE_UP}, {"carrier-b", v1::HEALTH_STATE_UP}};
  std::vector<v1::RouteCallRequest> route_requests_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::ReportCallOutcomeRequest> outcome_requests_ ABSL_GUARDED_BY(mu_);
};

// A `route` token (what a data action holds) and a `read` token.
const std::string kToken = trunkroute::testing::LongSecret("genesys");
const std::string kReadToken = trunkroute::testing::LongSecret("reader");

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto m = metrics::TrunkrouteMetrics::Create("9.9.9");
    ASSERT_TRUE(m.ok()) << m.status();
    metrics_ = std::move(*m);
  }

  // Starts a server on 127.0.0.1, port chosen by the kernel.
  void StartServer(HttpServerOptions options = {}) {
    options.host = "127.0.0.1";
    options.port = 0;
    auto server = HttpServer::Start(std::move(options), &backend_, metrics_.get());
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    client_->set_connection_timeout(5, 0);
    client_->set_read_timeout(5, 0);
  }

  httplib::Result Post(const std::string& path, const std::string& body,
                       const httplib::Headers& headers = {}) {
    return client_->Post(path.c_str(), headers, body, "application/json");
  }
  httplib::Result Get(const std::string& path, const httplib::Headers& headers = {}) {
    return client_->Get(path.c_str(), headers);
  }
  // The authorizer trunkrouted gives the HTTP face, with kToken (route) and kReadToken (read),
  // and optionally a metrics token.
  void UseTokens(HttpServerOptions* options, const std::string& metrics_token = "") {
    auth::Authorizer::Options o;
    o.tokens = trunkroute::testing::MakeTokenSet(
        {{"genesys-prod", "route", kToken}, {"reader", "read", kReadToken}});
    if (!metrics_token.empty()) {
      auto set =
          auth::TokenSet::FromSecret(metrics_token, "metrics", auth::ScopeSet(), "--metrics-token");
      ASSERT_TRUE(set.ok()) << set.status();
      o.metrics_tokens = std::make_shared<const auth::TokenSet>(*set);
    }
    authorizer_ = std::make_unique<auth::Authorizer>(&clock_, std::move(o));
    options->authorizer = authorizer_.get();
  }
  std::string Scrape() const { return metrics_->registry().Serialize(); }
  // Requests are counted just after their response is written, so the client may see the answer
  // a moment before the count: poll (bounded) instead of reading once.
  std::string CountEventually(const std::string& series, const std::string& expected) const {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    std::string value;
    while ((value = SeriesValue(Scrape(), series)) != expected &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return value;
  }

  FakeBackend backend_;
  trunkroute::testing::SimulatedClock clock_;
  std::unique_ptr<auth::Authorizer> authorizer_;
  std::unique_ptr<metrics::TrunkrouteMetrics> metrics_;
  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<httplib::Client> client_;
};

template <typename Message>
Message ParseJson(const std::string& json) {
  Message m;
  auto status = google::protobuf::util::JsonStringToMessage(json, &m);
  EXPECT_TRUE(status.ok()) << status.ToString() << " in " << json;
  return m;
}

TEST_F(HttpServerTest, PortZeroReportsTheBoundPort) {
  StartServer();
  EXPECT_GT(server_->port(), 0);
  EXPECT_EQ(server_->address(), absl::StrCat("127.0.0.1:", server_->port()));
}

TEST_F(HttpServerTest, MetricsAreServedAsPrometheusText004) {
  StartServer();
  auto res = Get("/metrics");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_THAT(res->body, HasSubstr("# TYPE trunkroute_build_info gauge\n"));
  EXPECT_EQ(SeriesValue(res->body, "trunkroute_build_info{version=\"9.9.9\"}"), "1");
}

TEST_F(HttpServerTest, HealthzAnswersOk) {
  StartServer();
  auto res = Get("/healthz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "ok\n");
}

TEST_F(HttpServerTest, RouteAnswersTheRouteCallResponseAsJson) {
  StartServer();
  auto res = Post("/v1/route", R"({"dialedNumber":"+15551234567","callId":"c-1"})");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
  auto response = ParseJson<v1::RouteCallResponse>(res->body);
  EXPECT_EQ(response.route_id(), "us");
  ASSERT_EQ(response.candidates_size(), 2);
  EXPECT_EQ(response.candidates(0).trunk_id(), "carrier-a");
  EXPECT_EQ(response.candidates(1).sip_uri(),
            "sip:+15551234567@carrier-b.example.net:5061;transport=tls");
  EXPECT_EQ(response.config_version(), 7u);
  // Canonical protobuf JSON: lowerCamelCase, enums by name, uint64 as a string, and defaults
  // written out so data-action output contracts always find their fields.
  EXPECT_THAT(res->body, HasSubstr("\"routeId\":\"us\""));
  EXPECT_THAT(res->body, HasSubstr("\"healthState\":\"HEALTH_STATE_UP\""));
  EXPECT_THAT(res->body, HasSubstr("\"configVersion\":\"7\""));
  EXPECT_THAT(res->body, HasSubstr("\"panic\":false"));
  EXPECT_THAT(res->body, HasSubstr("\"skipped\":[]"));

  std::vector<v1::RouteCallRequest> seen = backend_.route_requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].dialed_number(), "+15551234567");
  EXPECT_EQ(seen[0].call_id(), "c-1");
}

TEST_F(HttpServerTest, RouteAcceptsOriginalProtoFieldNames) {
  StartServer();
  auto res = Post("/v1/route", R"({"dialed_number":"+15550000000","ingress_trunk_id":"genesys"})");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  ASSERT_EQ(backend_.route_requests().size(), 1u);
  EXPECT_EQ(backend_.route_requests()[0].ingress_trunk_id(), "genesys");
}

TEST_F(HttpServerTest, NoRouteIs404WithTheErrorJson) {
  StartServer();
  auto res = Post("/v1/route", R"({"dialedNumber":"+442071234567"})");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
  EXPECT_EQ(res->body,
            R"({"error":{"code":"NOT_FOUND","http_status":404,"message":"no route for +442071234567"}})");
}

TEST_F(HttpServerTest, BackendInvalidArgumentIs400AndUnavailableIs503) {
  StartServer();
  auto bad = Post("/v1/route", R"({"callerId":"+15550001111"})");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_EQ(bad->body,
            R"({"error":{"code":"INVALID_ARGUMENT","http_status":400,"message":"dialed_number: required"}})");
  auto down = Post("/v1/route", R"({"dialedNumber":"+9995551234"})");
  ASSERT_TRUE(down);
  EXPECT_EQ(down->status, 503);
  EXPECT_EQ(down->body,
            R"({"error":{"code":"UNAVAILABLE","http_status":503,"message":"route 'fail-fast': every trunk is down"}})");
}

TEST_F(HttpServerTest, MalformedJsonIs400NamingTheParseError) {
  StartServer();
  auto res = Post("/v1/route", R"({"dialedNumber": "+1555)");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  EXPECT_THAT(res->body, HasSubstr(R"("code":"INVALID_ARGUMENT","http_status":400,)"));
  EXPECT_THAT(res->body,
              HasSubstr(R"("message":"invalid JSON for trunkroute.v1.RouteCallRequest: )"));
  EXPECT_TRUE(backend_.route_requests().empty());
}

TEST_F(HttpServerTest, UnknownFieldIs400NamingTheField) {
  StartServer();
  auto res = Post("/v1/route", R"({"dialledNumber":"+15551234567"})");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  EXPECT_THAT(res->body, HasSubstr("dialledNumber"));
  EXPECT_TRUE(backend_.route_requests().empty());
}

TEST_F(HttpServerTest, WrongFieldTypeIs400) {
  StartServer();
  auto res = Post("/v1/outcome", R"({"trunkId":"carrier-a","sipStatus":"five hundred"})");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  EXPECT_THAT(res->body, HasSubstr("invalid JSON for trunkroute.v1.ReportCallOutcomeRequest: "));
}

TEST_F(HttpServerTest, EmptyBodyIs400) {
  StartServer();
  auto res = Post("/v1/route", "");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  EXPECT_EQ(res->body,
            R"({"error":{"code":"INVALID_ARGUMENT","http_status":400,"message":"request body is empty: expected a JSON trunkroute.v1.RouteCallRequest"}})");
}

TEST_F(HttpServerTest, OutcomeIsReportedAndClassified) {
  StartServer();
  auto res =
      Post("/v1/outcome", R"({"trunkId":"carrier-a","sipStatus":503,"callId":"c-2","routeId":"us"})");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  auto response = ParseJson<v1::ReportCallOutcomeResponse>(res->body);
  EXPECT_EQ(response.outcome_class(), "FAILOVER");
  EXPECT_EQ(response.health_state(), v1::HEALTH_STATE_DOWN);
  EXPECT_EQ(res->body, R"({"outcomeClass":"FAILOVER","healthState":"HEALTH_STATE_DOWN"})");
  std::vector<v1::ReportCallOutcomeRequest> seen = backend_.outcome_requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].trunk_id(), "carrier-a");
  EXPECT_EQ(seen[0].sip_status(), 503u);
  EXPECT_EQ(seen[0].route_id(), "us");
}

TEST_F(HttpServerTest, OutcomeForUnknownTrunkIs404) {
  StartServer();
  auto res = Post("/v1/outcome", R"({"trunkId":"nope","sipStatus":200})");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  EXPECT_EQ(res->body,
            R"({"error":{"code":"NOT_FOUND","http_status":404,"message":"trunk 'nope' not found"}})");
}

TEST_F(HttpServerTest, TrunkHealthListsEveryTrunk) {
  StartServer();
  ASSERT_TRUE(Post("/v1/outcome", R"({"trunkId":"carrier-b","timedOut":true})"));
  auto res = Get("/v1/trunks/health");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  auto response = ParseJson<v1::ListTrunkHealthResponse>(res->body);
  ASSERT_EQ(response.trunks_size(), 2);
  EXPECT_EQ(response.trunks(0).trunk_id(), "carrier-a");
  EXPECT_EQ(response.trunks(0).state(), v1::HEALTH_STATE_UP);
  EXPECT_EQ(response.trunks(1).trunk_id(), "carrier-b");
  EXPECT_EQ(response.trunks(1).state(), v1::HEALTH_STATE_DOWN);
}

TEST_F(HttpServerTest, UnknownPathIs404Json) {
  StartServer();
  auto res = Get("/v2/nothing");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  EXPECT_EQ(res->body,
            R"({"error":{"code":"NOT_FOUND","http_status":404,"message":"no such path: /v2/nothing"}})");
}

TEST_F(HttpServerTest, WrongMethodIs405WithAllow) {
  StartServer();
  auto res = Get("/v1/route");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 405);
  EXPECT_EQ(res->get_header_value("Allow"), "POST");
  EXPECT_THAT(res->body, HasSubstr("\"message\":\"GET is not allowed on /v1/route; use POST\""));
  auto post_metrics = Post("/metrics", "{}");
  ASSERT_TRUE(post_metrics);
  EXPECT_EQ(post_metrics->status, 405);
  EXPECT_EQ(post_metrics->get_header_value("Allow"), "GET, HEAD");
}

TEST_F(HttpServerTest, OversizedBodyIs413BeforeTheBackendSeesIt) {
  HttpServerOptions options;
  options.max_body_bytes = 1024;
  StartServer(options);
  std::string body = R"({"dialedNumber":"+1555","callId":")" + std::string(2000, 'x') + "\"}";
  auto res = Post("/v1/route", body);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 413);
  EXPECT_EQ(res->body,
            R"({"error":{"code":"RESOURCE_EXHAUSTED","http_status":413,"message":"request body exceeds 1024 bytes"}})");
  EXPECT_TRUE(backend_.route_requests().empty());
}

TEST_F(HttpServerTest, RequestsAreCountedByPathAndCode) {
  StartServer();
  ASSERT_TRUE(Post("/v1/route", R"({"dialedNumber":"+15551234567"})"));
  ASSERT_TRUE(Post("/v1/route", R"({"dialedNumber":"+15551234567"})"));
  ASSERT_TRUE(Post("/v1/route", R"({"dialedNumber":"+33123"})"));
  ASSERT_TRUE(Get("/wp-admin/setup.php"));
  ASSERT_TRUE(Get("/metrics"));
  EXPECT_EQ(CountEventually(R"(trunkroute_http_requests_total{path="/v1/route",code="200"})", "2"),
            "2");
  EXPECT_EQ(CountEventually(R"(trunkroute_http_requests_total{path="/v1/route",code="404"})", "1"),
            "1");
  EXPECT_EQ(CountEventually(R"(trunkroute_http_requests_total{path="other",code="404"})", "1"),
            "1");
  EXPECT_EQ(CountEventually(R"(trunkroute_http_requests_total{path="/metrics",code="200"})", "1"),
            "1");
}

TEST_F(HttpServerTest, WithATokenDataActionsNeedIt) {
  HttpServerOptions options;
  UseTokens(&options);
  StartServer(options);
  const std::string body = R"({"dialedNumber":"+15551234567"})";

  auto missing = Post("/v1/route", body);
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 401);
  EXPECT_EQ(missing->get_header_value("WWW-Authenticate"), "Bearer realm=\"trunkroute\"");
  EXPECT_EQ(missing->body,
            R"({"error":{"code":"UNAUTHENTICATED","http_status":401,"message":"missing bearer token: send 'Authorization: Bearer <token>'"}})");

  auto wrong = Post("/v1/route", body, {{"Authorization", "Bearer not-the-token"}});
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  EXPECT_EQ(wrong->get_header_value("WWW-Authenticate"),
            "Bearer realm=\"trunkroute\", error=\"invalid_token\"");
  EXPECT_THAT(wrong->body, HasSubstr("\"message\":\"invalid bearer token\""));

  auto prefix = Post("/v1/route", body, {{"Authorization", "Bearer " + kToken.substr(0, 10)}});
  ASSERT_TRUE(prefix);
  EXPECT_EQ(prefix->status, 401);

  auto basic = Get("/v1/trunks/health", {{"Authorization", "Basic dXNlcjpwYXNz"}});
  ASSERT_TRUE(basic);
  EXPECT_EQ(basic->status, 401);
  EXPECT_THAT(basic->body, HasSubstr("must use the Bearer scheme"));
  EXPECT_TRUE(backend_.route_requests().empty());

  auto good = Post("/v1/route", body, {{"Authorization", "Bearer " + kToken}});
  ASSERT_TRUE(good);
  EXPECT_EQ(good->status, 200);
  auto lower_scheme = Get("/v1/trunks/health", {{"Authorization", "bearer " + kReadToken}});
  ASSERT_TRUE(lower_scheme);
  EXPECT_EQ(lower_scheme->status, 200);
  EXPECT_EQ(CountEventually(R"(trunkroute_http_requests_total{path="/v1/route",code="401"})", "3"),
            "3");
}

TEST_F(HttpServerTest, ATokenWithoutTheScopeGets403NamingTheScope) {
  HttpServerOptions options;
  UseTokens(&options);
  StartServer(options);
  auto route = Post("/v1/route", R"({"dialedNumber":"+15551234567"})",
                    {{"Authorization", "Bearer " + kReadToken}});
  ASSERT_TRUE(route);
  EXPECT_EQ(route->status, 403);
  EXPECT_THAT(
      route->body,
      HasSubstr(
          R"("code":"PERMISSION_DENIED","http_status":403,"message":"token 'reader' lacks scope 'route', needed by POST /v1/route)"));
  auto outcome = Post("/v1/outcome", R"({"trunkId":"carrier-a","sipStatus":503})",
                      {{"Authorization", "Bearer " + kReadToken}});
  ASSERT_TRUE(outcome);
  EXPECT_EQ(outcome->status, 403);
  auto health = Get("/v1/trunks/health", {{"Authorization", "Bearer " + kToken}});
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 403);
  EXPECT_THAT(health->body, HasSubstr("lacks scope 'read'"));
  EXPECT_TRUE(backend_.route_requests().empty());
  EXPECT_TRUE(backend_.outcome_requests().empty());
}

TEST_F(HttpServerTest, UnknownPathsNeedATokenTooSoNothingCanBeProbed) {
  HttpServerOptions options;
  UseTokens(&options);
  StartServer(options);
  auto res = Get("/v1/secret-admin");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
  auto known = Get("/v1/secret-admin", {{"Authorization", "Bearer " + kToken}});
  ASSERT_TRUE(known);
  EXPECT_EQ(known->status, 404);
}

TEST_F(HttpServerTest, MetricsAndHealthzAreOpenByDefaultEvenWithTokens) {
  HttpServerOptions options;
  UseTokens(&options);
  StartServer(options);
  auto metrics = Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  auto healthz = Get("/healthz");
  ASSERT_TRUE(healthz);
  EXPECT_EQ(healthz->status, 200);
}

TEST_F(HttpServerTest, AMetricsTokenGuardsMetricsButNeverHealthz) {
  HttpServerOptions options;
  const std::string scrape = trunkroute::testing::LongSecret("prometheus");
  UseTokens(&options, scrape);
  StartServer(options);
  auto denied = Get("/metrics");
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->status, 401);
  auto route_token = Get("/metrics", {{"Authorization", "Bearer " + kToken}});
  ASSERT_TRUE(route_token);
  EXPECT_EQ(route_token->status, 401);
  auto healthz = Get("/healthz");
  ASSERT_TRUE(healthz);
  EXPECT_EQ(healthz->status, 200);
  for (const std::string& token : {scrape, kReadToken}) {
    auto allowed = Get("/metrics", {{"Authorization", "Bearer " + token}});
    ASSERT_TRUE(allowed);
    EXPECT_EQ(allowed->status, 200);
  }
}

TEST_F(HttpServerTest, RepeatedWrongTokensGet429WithRetryAfter) {
  HttpServerOptions options;
  UseTokens(&options);
  StartServer(options);
  const std::string body = R"({"dialedNumber":"+15551234567"})";
  for (int i = 0; i < 6; ++i) {
    auto res = Post("/v1/route", body, {{"Authorization", "Bearer guess-" + std::to_string(i)}});
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 401);
  }
  auto refused = Post("/v1/route", body, {{"Authorization", "Bearer " + kToken}});
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 429);
  EXPECT_EQ(refused->get_header_value("Retry-After"), "1");
  EXPECT_THAT(refused->body, HasSubstr(R"("code":"RESOURCE_EXHAUSTED")"));
  clock_.AdvanceMs(1000);
  auto again = Post("/v1/route", body, {{"Authorization", "Bearer " + kToken}});
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200);
}

TEST_F(HttpServerTest, TheTokenIsNeverLogged) {
  LogLevel saved = GetLogLevel();
  SetLogLevel(LogLevel::kDebug);
  HttpServerOptions options;
  UseTokens(&options);
  ::testing::internal::CaptureStderr();
  StartServer(options);
  ASSERT_TRUE(Get("/v1/trunks/health", {{"Authorization", "Bearer " + kReadToken}}));
  ASSERT_TRUE(Get("/v1/trunks/health", {{"Authorization", "Bearer x" + kReadToken}}));
  server_->Stop();
  std::string logged = ::testing::internal::GetCapturedStderr();
  SetLogLevel(saved);
  // The failure itself is one audit line, with the path and the peer.
  EXPECT_THAT(logged, HasSubstr("audit event=auth_failed api=http method=\"GET /v1/trunks/health\" "
                                "peer=127.0.0.1 reason=unknown_token"));
  EXPECT_THAT(logged, HasSubstr("http request"));
  EXPECT_THAT(logged, Not(HasSubstr(kReadToken)));
}

TEST_F(HttpServerTest, BusyPortIsAClearError) {
  StartServer();
  HttpServerOptions options;
  options.port = server_->port();
  auto second = HttpServer::Start(options, &backend_, metrics_.get());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(second.status().message(),
            absl::StrCat("http listener 127.0.0.1:", server_->port(),
                         ": cannot listen (Address already in use)"));
}

TEST_F(HttpServerTest, InvalidOptionsNameTheField) {
  HttpServerOptions options;
  options.port = 70000;
  auto bad_port = HttpServer::Start(options, &backend_, metrics_.get());
  EXPECT_EQ(bad_port.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad_port.status().message(), "http port: 70000 is out of range 0-65535");
  options = HttpServerOptions{};
  options.port = 0;
  options.worker_threads = 0;
  EXPECT_EQ(HttpServer::Start(options, &backend_, metrics_.get()).status().message(),
            "http worker_threads: 0 is out of range 1-256");
}

TEST_F(HttpServerTest, WithoutABackendDataActionsAre503) {
  HttpServerOptions options;
  options.port = 0;
  auto server = HttpServer::Start(options, nullptr, metrics_.get());
  ASSERT_TRUE(server.ok()) << server.status();
  httplib::Client client("127.0.0.1", (*server)->port());
  auto res = client.Post("/v1/route", R"({"dialedNumber":"+15551234567"})", "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 503);
  EXPECT_THAT(res->body, HasSubstr("\"code\":\"UNAVAILABLE\""));
}

// errno of a plain TCP connect to 127.0.0.1:`port`; 0 when it connected.
int ConnectErrno(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int err = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0 ? 0 : errno;
  ::close(fd);
  return err;
}

TEST_F(HttpServerTest, StopIsIdempotentAndClosesTheListener) {
  StartServer();
  const int port = server_->port();
  auto up = Get("/healthz");
  ASSERT_TRUE(up) << "the listener must answer before Stop: " << httplib::to_string(up.error());
  EXPECT_EQ(up->status, 200);
  client_.reset();
  server_->Stop();
  server_->Stop();
  // Closed means nothing listens on the port: the connection is refused. Not a connection
  // accepted and never answered (a read timeout), nor one reset after accept (a read error), nor
  // a connect that hangs (a connect timeout): each of those is a different bug.
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(2, 0);
  client.set_read_timeout(2, 0);
  auto res = client.Get("/healthz");
  ASSERT_FALSE(res) << "answered after Stop with " << res->status;
  EXPECT_EQ(res.error(), httplib::Error::Connection) << httplib::to_string(res.error());
  EXPECT_EQ(ConnectErrno(port), ECONNREFUSED) << std::strerror(ConnectErrno(port));
}

TEST(ParseListenAddressTest, HostAndPort) {
  HttpServerOptions options;
  ASSERT_TRUE(ParseListenAddress("127.0.0.1:9464", &options).ok());
  EXPECT_EQ(options.host, "127.0.0.1");
  EXPECT_EQ(options.port, 9464);
  ASSERT_TRUE(ParseListenAddress("[::1]:0", &options).ok());
  EXPECT_EQ(options.host, "::1");
  EXPECT_EQ(options.port, 0);
  ASSERT_TRUE(ParseListenAddress("metrics.local:80", &options).ok());
  EXPECT_EQ(options.host, "metrics.local");
}

TEST(ParseListenAddressTest, BadAddressesNameTheProblem) {
  HttpServerOptions options;
  EXPECT_EQ(ParseListenAddress("127.0.0.1", &options).message(),
            "http listen address '127.0.0.1': expected host:port");
  EXPECT_EQ(ParseListenAddress(":9464", &options).message(),
            "http listen address ':9464': host is empty (use 0.0.0.0 to listen on every address)");
  EXPECT_EQ(ParseListenAddress("127.0.0.1:99999", &options).message(),
            "http listen address '127.0.0.1:99999': port must be a number 0-65535");
  EXPECT_EQ(ParseListenAddress("127.0.0.1:http", &options).message(),
            "http listen address '127.0.0.1:http': port must be a number 0-65535");
  EXPECT_EQ(ParseListenAddress("::1:9464", &options).message(),
            "http listen address '::1:9464': write IPv6 hosts as [addr]:port");
  EXPECT_EQ(ParseListenAddress("[::1]9464", &options).message(),
            "http listen address '[::1]9464': expected [ipv6]:port");
}

}  // namespace
}  // namespace trunkroute::http
