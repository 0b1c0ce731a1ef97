// Bearer-token auth on the gRPC API: a real server on loopback with a token, clients with none,
// the wrong one, the wrong scheme and the right one. (grpc.health.v1 staying open is in
// server_lifecycle_test, beside the other standard-service checks.)
#include "server/auth.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/server_fixture.h"

namespace trunkroute::server {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using trunkroute::testing::Ctx;
using trunkroute::testing::ServerHarness;
using trunkroute::testing::TempDir;
using trunkroute::testing::TwoTrunkConfig;

constexpr char kToken[] = "tok-7c1e-do-not-echo";

std::unique_ptr<grpc::ClientContext> CtxWith(const std::string& authorization) {
  auto ctx = Ctx();
  if (!authorization.empty()) ctx->AddMetadata("authorization", authorization);
  return ctx;
}

class GrpcAuthTest : public ::testing::Test {
 protected:
  TempDir tmp_;
  BearerTokenAuth auth_{kToken};
  ServerHarness server_{tmp_.Sub("data"), TwoTrunkConfig(), nullptr, nullptr, &auth_};
};

TEST_F(GrpcAuthTest, RouteCallNeedsTheToken) {
  ASSERT_TRUE(server_.ok());
  v1::RouteCallRequest req;
  req.set_dialed_number("+15551234567");
  struct Case {
    std::string authorization;
    std::string message;
  };
  for (const Case& c :
       {Case{"", "missing bearer token"}, Case{"Bearer wrong", "invalid bearer token"},
        Case{std::string("Basic ") + kToken, "Bearer scheme"},
        Case{std::string("Bearer ") + kToken + "x", "invalid bearer token"}}) {
    v1::RouteCallResponse resp;
    grpc::Status st = server_.routing().RouteCall(CtxWith(c.authorization).get(), req, &resp);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED) << c.authorization;
    EXPECT_THAT(st.error_message(), AllOf(HasSubstr(c.message), Not(HasSubstr(kToken))));
  }
  for (const std::string scheme : {"Bearer ", "bearer "}) {
    v1::RouteCallResponse resp;
    grpc::Status st = server_.routing().RouteCall(CtxWith(scheme + kToken).get(), req, &resp);
    ASSERT_TRUE(st.ok()) << st.error_message();
    EXPECT_EQ(resp.candidates(0).trunk_id(), "primary");
  }
}

TEST_F(GrpcAuthTest, ReportCallOutcomeWithoutTheTokenChangesNoHealth) {
  ASSERT_TRUE(server_.ok());
  v1::ReportCallOutcomeRequest req;
  req.set_trunk_id("primary");
  req.set_sip_status(503);
  req.set_retry_after_s(60);  // would eject at once if it were accepted
  v1::ReportCallOutcomeResponse resp;
  EXPECT_EQ(server_.routing().ReportCallOutcome(CtxWith("").get(), req, &resp).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  v1::ListTrunkHealthRequest list;
  v1::ListTrunkHealthResponse health;
  ASSERT_TRUE(server_.health()
                  .ListTrunkHealth(CtxWith(std::string("Bearer ") + kToken).get(), list, &health)
                  .ok());
  for (const v1::TrunkHealth& h : health.trunks()) {
    EXPECT_EQ(h.state(), v1::HEALTH_STATE_UP) << h.trunk_id();
  }
}

TEST_F(GrpcAuthTest, ConfigWritesWithoutTheTokenChangeNothing) {
  ASSERT_TRUE(server_.ok());
  v1::DeleteRouteRequest del;
  del.set_id("intl");
  v1::DeleteRouteResponse resp;
  EXPECT_EQ(server_.config().DeleteRoute(CtxWith("Bearer nope").get(), del, &resp).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(server_.manager().Current()->version(), 1u);
  v1::GetConfigRequest get;
  v1::Config config;
  EXPECT_EQ(server_.config().GetConfig(CtxWith("").get(), get, &config).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  ASSERT_TRUE(server_.config()
                  .GetConfig(CtxWith(std::string("Bearer ") + kToken).get(), get, &config)
                  .ok());
  EXPECT_EQ(config.routes_size(), 2);
}

TEST_F(GrpcAuthTest, HealthWatchStreamNeedsTheToken) {
  ASSERT_TRUE(server_.ok());
  v1::WatchTrunkHealthRequest req;
  auto ctx = CtxWith("");
  auto reader = server_.health().WatchTrunkHealth(ctx.get(), req);
  v1::TrunkHealthEvent event;
  EXPECT_FALSE(reader->Read(&event));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST(GrpcAuthOpenTest, NoTokenConfiguredMeansOpen) {
  TempDir tmp;
  BearerTokenAuth open("");
  ServerHarness server(tmp.Sub("data"), TwoTrunkConfig(), nullptr, nullptr, &open);
  ASSERT_TRUE(server.ok());
  v1::RouteCallRequest req;
  req.set_dialed_number("+15551234567");
  v1::RouteCallResponse resp;
  EXPECT_TRUE(server.routing().RouteCall(CtxWith("").get(), req, &resp).ok());
}

}  // namespace
}  // namespace trunkroute::server
