// The one authorization rule: open API, every scope against every access kind, the refusal
// messages, the metrics token, methods missing from the table, and the backoff as both faces see
// it (refused without evaluation, counted, never delaying a valid token outside a backoff).
#include "auth/authorizer.h"

#include <map>
#include <tuple>

#include "auth/bearer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/simulated_clock.h"
#include "tests/support/test_tokens.h"

namespace trunkroute::auth {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using trunkroute::testing::LongSecret;
using trunkroute::testing::MakeTokenSet;
using trunkroute::testing::SimulatedClock;
using Outcome = AuthDecision::Outcome;

class CountingObserver : public AuthObserver {
 public:
  void OnDenied(std::string_view api, DenyReason reason, std::optional<Scope> needed) override {
    ++counts[{std::string(api), std::string(DenyReasonLabel(reason)),
              needed ? std::string(ScopeName(*needed)) : std::string()}];
  }
  int Count(const std::string& api, const std::string& reason, const std::string& scope) {
    return counts[{api, reason, scope}];
  }
  std::map<std::tuple<std::string, std::string, std::string>, int> counts;
};

class AuthorizerTest : public ::testing::Test {
 protected:
  AuthorizerTest() {
    Authorizer::Options o;
    o.tokens = MakeTokenSet({{"reader", "read", LongSecret("reader")},
                             {"router", "route", LongSecret("router")},
                             {"writer", "write", LongSecret("writer")},
                             {"admin", "admin", LongSecret("admin")},
                             {"ops", "read,write,admin", LongSecret("ops")}});
    o.observer = &observer_;
    authorizer_ = std::make_unique<Authorizer>(&clock_, std::move(o));
  }

  AuthDecision Grpc(std::string_view method, std::optional<std::string> authorization,
                    std::string_view peer = "ipv4:10.0.0.9:40000") {
    authorization_ = std::move(authorization);
    return authorizer_->Check(AuthRequest{
        .api = "grpc",
        .method = method,
        .access = FindGrpcMethodAccess(method),
        .authorization =
            authorization_ ? std::optional<std::string_view>(*authorization_) : std::nullopt,
        .peer = peer,
        .client_subject = "",
    });
  }
  static std::string Bearer(const std::string& seed) { return "Bearer " + LongSecret(seed); }

  SimulatedClock clock_;
  CountingObserver observer_;
  std::unique_ptr<Authorizer> authorizer_;
  std::optional<std::string> authorization_;
};

TEST_F(AuthorizerTest, EachScopeOpensExactlyItsMethods) {
  struct Case {
    std::string method;
    std::string allowed_token;
  };
  const std::vector<Case> cases = {
      {"/trunkroute.v1.RoutingService/RouteCall", "router"},
      {"/trunkroute.v1.ConfigService/GetConfig", "reader"},
      {"/trunkroute.v1.ConfigService/ApplyConfig", "writer"},
      {"/trunkroute.v1.HealthService/SetTrunkAdminState", "admin"},
  };
  for (const Case& c : cases) {
    for (const char* token : {"reader", "router", "writer", "admin"}) {
      AuthDecision d = Grpc(c.method, Bearer(token));
      if (token == c.allowed_token) {
        EXPECT_TRUE(d.allowed()) << c.method << " with " << token << ": " << d.message;
        EXPECT_EQ(d.principal, token);
      } else {
        EXPECT_EQ(d.outcome, Outcome::kPermissionDenied) << c.method << " with " << token;
        EXPECT_EQ(d.reason, DenyReason::kMissingScope);
        EXPECT_THAT(d.message, AllOf(HasSubstr("token '" + std::string(token) + "' lacks scope"),
                                     HasSubstr(c.method), Not(HasSubstr(LongSecret(token)))));
      }
    }
  }
  AuthDecision d = Grpc("/trunkroute.v1.ConfigService/UpsertTrunk", Bearer("ops"));
  EXPECT_TRUE(d.allowed());
  d = Grpc("/trunkroute.v1.RoutingService/RouteCall", Bearer("ops"));
  EXPECT_THAT(d.message, HasSubstr("token 'ops' lacks scope 'route', needed by "
                                   "/trunkroute.v1.RoutingService/RouteCall (it has: "
                                   "read,write,admin)"));
  EXPECT_EQ(observer_.Count("grpc", "missing_scope", "route"), 4);  // reader, writer, admin, ops
}

TEST_F(AuthorizerTest, MissingWrongSchemeAndUnknownTokensAreUnauthenticated) {
  const std::string method = "/trunkroute.v1.ConfigService/GetConfig";
  AuthDecision d = Grpc(method, std::nullopt);
  EXPECT_EQ(d.outcome, Outcome::kUnauthenticated);
  EXPECT_THAT(d.message, HasSubstr("missing bearer token"));
  d = Grpc(method, "Basic " + LongSecret("reader"));
  EXPECT_EQ(d.reason, DenyReason::kWrongScheme);
  EXPECT_THAT(d.message, HasSubstr("Bearer scheme"));
  d = Grpc(method, "Bearer " + LongSecret("nobody"));
  EXPECT_EQ(d.reason, DenyReason::kUnknownToken);
  EXPECT_EQ(d.message, "invalid bearer token");
  EXPECT_EQ(d.principal, "");
  EXPECT_TRUE(Grpc(method, "bearer   " + LongSecret("reader") + " ").allowed());
  EXPECT_EQ(observer_.Count("grpc", "missing_token", "read"), 1);
  EXPECT_EQ(observer_.Count("grpc", "unknown_token", "read"), 1);
}

TEST_F(AuthorizerTest, AMethodMissingFromTheTableIsRefused) {
  AuthDecision d = Grpc("/trunkroute.v1.ClusterService/SomethingNew", Bearer("ops"));
  EXPECT_EQ(d.outcome, Outcome::kPermissionDenied);
  EXPECT_EQ(d.reason, DenyReason::kNotInTable);
  EXPECT_THAT(d.message, HasSubstr("not in trunkroute's access table"));
}

TEST_F(AuthorizerTest, StandardServicesNeedNothing) {
  EXPECT_TRUE(Grpc("/grpc.health.v1.Health/Check", std::nullopt).allowed());
  EXPECT_TRUE(Grpc("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", "Bearer junk")
                  .allowed());
}

TEST(AuthorizerOpenTest, WithoutTokensEveryTableMethodIsOpenAndNamedAnonymous) {
  SimulatedClock clock;
  Authorizer open(&clock, Authorizer::Options());
  EXPECT_FALSE(open.enabled());
  AuthDecision d = open.Check(AuthRequest{.api = "grpc",
                                          .method = "/trunkroute.v1.ConfigService/ApplyConfig",
                                          .access = Access::Needs(Scope::kWrite)});
  EXPECT_TRUE(d.allowed());
  EXPECT_EQ(d.principal, "anonymous");
  // /metrics without a metrics token is open too.
  EXPECT_TRUE(open.Check(AuthRequest{.api = "http",
                                     .method = "GET /metrics",
                                     .access = HttpAccess("GET", "/metrics")})
                  .allowed());
}

TEST(AuthorizerMetricsTest, TheMetricsTokenOrAReadTokenOpensMetricsAndNothingElse) {
  SimulatedClock clock;
  Authorizer::Options o;
  o.tokens = MakeTokenSet(
      {{"reader", "read", LongSecret("reader")}, {"router", "route", LongSecret("router")}});
  auto metrics =
      TokenSet::FromSecret(LongSecret("scrape"), "metrics", ScopeSet(), "--metrics-token");
  ASSERT_TRUE(metrics.ok());
  o.metrics_tokens = std::make_shared<const TokenSet>(*metrics);
  Authorizer a(&clock, std::move(o));
  auto check = [&](std::string_view path, std::optional<std::string> token) {
    std::string header = token ? "Bearer " + *token : "";
    return a.Check(
        AuthRequest{.api = "http",
                    .method = path,
                    .access = HttpAccess(path == "/v1/route" ? "POST" : "GET", path),
                    .authorization = token ? std::optional<std::string_view>(header) : std::nullopt,
                    .peer = "10.1.1.1"});
  };
  EXPECT_EQ(check("/metrics", std::nullopt).outcome, Outcome::kUnauthenticated);
  EXPECT_TRUE(check("/metrics", LongSecret("scrape")).allowed());
  EXPECT_EQ(check("/metrics", LongSecret("scrape")).principal, "metrics");
  EXPECT_TRUE(check("/metrics", LongSecret("reader")).allowed());
  EXPECT_EQ(check("/metrics", LongSecret("router")).outcome, Outcome::kUnauthenticated);
  EXPECT_EQ(check("/v1/route", LongSecret("scrape")).outcome, Outcome::kUnauthenticated)
      << "the metrics token opens /metrics only";
  EXPECT_TRUE(check("/healthz", std::nullopt).allowed());
}

TEST_F(AuthorizerTest, RepeatedWrongTokensFromOneAddressAreRefusedWithoutBeingEvaluated) {
  const std::string method = "/trunkroute.v1.RoutingService/RouteCall";
  const std::string attacker = "ipv4:203.0.113.5:1000";
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(Grpc(method, "Bearer guess-" + std::to_string(i), attacker).outcome,
              Outcome::kUnauthenticated);
  }
  // The sixth failure starts a one-second backoff...
  EXPECT_EQ(Grpc(method, "Bearer guess-5", attacker).outcome, Outcome::kUnauthenticated);
  // ...during which nothing from that address is evaluated, not even the right token.
  AuthDecision d = Grpc(method, Bearer("router"), "ipv4:203.0.113.5:2000");
  EXPECT_EQ(d.outcome, Outcome::kThrottled);
  EXPECT_EQ(d.reason, DenyReason::kBackoff);
  EXPECT_EQ(d.retry_after, std::chrono::seconds(1));
  EXPECT_THAT(d.message,
              HasSubstr("too many failed authentications from 203.0.113.5; retry in 1 s"));
  // Other addresses are served as usual.
  EXPECT_TRUE(Grpc(method, Bearer("router"), "ipv4:198.51.100.7:1").allowed());
  clock_.AdvanceMs(1000);
  EXPECT_TRUE(Grpc(method, Bearer("router"), attacker).allowed());
  // The next failure doubles it.
  EXPECT_EQ(Grpc(method, "Bearer guess-6", attacker).outcome, Outcome::kUnauthenticated);
  EXPECT_EQ(Grpc(method, Bearer("router"), attacker).retry_after, std::chrono::seconds(2));
  EXPECT_EQ(observer_.Count("grpc", "backoff", "route"), 2);
}

TEST_F(AuthorizerTest, MissingTokensDoNotStartABackoff) {
  // A client without a token guesses nothing; refusing it is enough (and a misconfigured health
  // checker must not lock out the data action behind the same NAT).
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(Grpc("/trunkroute.v1.RoutingService/RouteCall", std::nullopt).reason,
              DenyReason::kMissingToken);
  }
  EXPECT_TRUE(Grpc("/trunkroute.v1.RoutingService/RouteCall", Bearer("router")).allowed());
}

TEST_F(AuthorizerTest, SetTokensReplacesTheTokensAtOnce) {
  EXPECT_TRUE(Grpc("/trunkroute.v1.ConfigService/GetConfig", Bearer("reader")).allowed());
  authorizer_->SetTokens(MakeTokenSet({{"reader2", "read", LongSecret("reader2")}}));
  EXPECT_EQ(Grpc("/trunkroute.v1.ConfigService/GetConfig", Bearer("reader")).reason,
            DenyReason::kUnknownToken);
  EXPECT_TRUE(Grpc("/trunkroute.v1.ConfigService/GetConfig", Bearer("reader2")).allowed());
  EXPECT_EQ(authorizer_->token_count(), 1u);
}

TEST(ParseBearerTest, OneReadingForBothApis) {
  EXPECT_EQ(ParseBearer(std::nullopt).result, BearerParse::kMissing);
  EXPECT_EQ(ParseBearer("Basic abc").result, BearerParse::kWrongScheme);
  EXPECT_EQ(ParseBearer("Bear").result, BearerParse::kWrongScheme);
  EXPECT_EQ(ParseBearer("Bearerabc").result, BearerParse::kWrongScheme);
  BearerCredential empty = ParseBearer("Bearer ");
  EXPECT_EQ(empty.result, BearerParse::kOk);
  EXPECT_EQ(empty.token, "");
  EXPECT_EQ(ParseBearer("Bearer abc").token, "abc");
  EXPECT_EQ(ParseBearer("bEARER  abc ").token, "abc");
}

}  // namespace
}  // namespace trunkroute::auth
