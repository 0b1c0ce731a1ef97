// Authorization of the gRPC API on a real server on loopback, with real clients: every method of
// every trunkroute.v1 service (from the .proto files) without a token, with a token holding every
// scope but the one it needs, and with exactly that scope; the refusal messages; backoff; the
// audit line of a change; fail-closed handlers. (grpc.health.v1 staying open is in
// server_lifecycle_test, beside the other standard-service checks.)
#include "server/grpc_auth.h"

#include <chrono>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "auth/access_table.h"
#include "gmock/gmock.h"
#include "grpcpp/generic/generic_stub.h"
#include "server/rpc_observer.h"
#include "gtest/gtest.h"
#include "tests/server/server_fixture.h"
#include "tests/support/proto_methods.h"
#include "tests/support/stderr_capture.h"

namespace trunkroute::server {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using trunkroute::testing::Ctx;
using trunkroute::testing::LongSecret;
using trunkroute::testing::ProtoMethod;
using trunkroute::testing::ServerHarness;
using trunkroute::testing::SimulatedClock;
using trunkroute::testing::TempDir;
using trunkroute::testing::TestGrpcAuth;
using trunkroute::testing::TwoTrunkConfig;

// Token name → scopes: one of each scope, and each "everything but X".
const std::vector<trunkroute::testing::TestToken>& Tokens() {
  static const auto* tokens = new std::vector<trunkroute::testing::TestToken>{
      {"only-read", "read", LongSecret("only-read")},
      {"only-route", "route", LongSecret("only-route")},
      {"only-write", "write", LongSecret("only-write")},
      {"only-admin", "admin", LongSecret("only-admin")},
      {"all-but-read", "route,write,admin", LongSecret("all-but-read")},
      {"all-but-route", "read,write,admin", LongSecret("all-but-route")},
      {"all-but-write", "read,route,admin", LongSecret("all-but-write")},
      {"all-but-admin", "read,route,write", LongSecret("all-but-admin")},
  };
  return *tokens;
}

std::string Bearer(const std::string& name) { return "Bearer " + LongSecret(name); }

// Calls `method` with an empty request through the generic API (no stub needed: the list of
// methods comes from the .proto files), with `authorization` metadata unless empty.
grpc::Status CallRaw(const std::shared_ptr<grpc::Channel>& channel, const ProtoMethod& method,
                     const std::string& authorization) {
  grpc::GenericStub stub(channel);
  // A stream with nothing to say (a watch over an empty config) ends at its deadline: short.
  auto ctx = Ctx(method.server_streaming ? 1 : 5);
  if (!authorization.empty()) ctx->AddMetadata("authorization", authorization);
  grpc::CompletionQueue cq;
  auto call = stub.PrepareCall(ctx.get(), method.full_name, &cq);
  void* tag = nullptr;
  bool ok = false;
  auto step = [&](intptr_t want) {
    return cq.Next(&tag, &ok) && tag == reinterpret_cast<void*>(want) && ok;
  };
  call->StartCall(reinterpret_cast<void*>(1));
  bool open = step(1);
  if (open) {
    grpc::Slice empty("", 0);
    grpc::ByteBuffer request(&empty, 1);
    call->WriteLast(request, grpc::WriteOptions(), reinterpret_cast<void*>(2));
    open = step(2);
  }
  if (open) {
    grpc::ByteBuffer response;
    call->Read(&response, reinterpret_cast<void*>(3));
    // A stream that answers is not refused: stop it rather than wait for its end.
    if (step(3) && method.server_streaming) ctx->TryCancel();
  }
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(4));
  while (cq.Next(&tag, &ok) && tag != reinterpret_cast<void*>(4)) {
  }
  return status;
}

class GrpcAuthTest : public ::testing::Test {
 protected:
  TempDir tmp_;
  SimulatedClock auth_clock_;
  TestGrpcAuth auth_{&auth_clock_, Tokens()};
  ServerHarness server_{tmp_.Sub("data"), TwoTrunkConfig(), nullptr, nullptr, auth_.grpc()};
};

TEST_F(GrpcAuthTest, EveryMethodNeedsATokenWithItsScope) {
  ASSERT_TRUE(server_.ok());
  const std::vector<ProtoMethod> methods = trunkroute::testing::TrunkrouteMethods();
  ASSERT_GE(methods.size(), 19u);
  // Refusals first: none of them may change anything.
  for (const ProtoMethod& m : methods) {
    std::optional<auth::Access> access = auth::FindGrpcMethodAccess(m.full_name);
    ASSERT_TRUE(access.has_value()) << m.full_name;
    const std::string scope(auth::ScopeName(access->scope));
    grpc::Status none = CallRaw(server_.channel(), m, "");
    EXPECT_EQ(none.error_code(), grpc::StatusCode::UNAUTHENTICATED) << m.full_name;
    grpc::Status wrong = CallRaw(server_.channel(), m, "Bearer not-a-token-of-ours-at-all-0123456");
    EXPECT_EQ(wrong.error_code(), grpc::StatusCode::UNAUTHENTICATED) << m.full_name;
    auth_clock_.AdvanceMs(3'600'000);  // keeps this suite's own failures from starting a backoff
    grpc::Status lacking = CallRaw(server_.channel(), m, Bearer("all-but-" + scope));
    EXPECT_EQ(lacking.error_code(), grpc::StatusCode::PERMISSION_DENIED) << m.full_name;
    EXPECT_THAT(lacking.error_message(),
                AllOf(HasSubstr("lacks scope '" + scope + "'"), HasSubstr(m.full_name)))
        << m.full_name;
    for (const char* other : {"read", "route", "write", "admin"}) {
      if (other == scope) continue;
      EXPECT_EQ(CallRaw(server_.channel(), m, Bearer(std::string("only-") + other)).error_code(),
                grpc::StatusCode::PERMISSION_DENIED)
          << m.full_name << " with only " << other;
    }
  }
  EXPECT_EQ(server_.manager().Current()->version(), 1u) << "a refused call changed the config";
  // Then the scope each needs is enough (the calls may fail for their empty request, never for
  // authorization).
  for (const ProtoMethod& m : methods) {
    const std::string scope(auth::ScopeName(auth::FindGrpcMethodAccess(m.full_name)->scope));
    grpc::Status st = CallRaw(server_.channel(), m, Bearer("only-" + scope));
    EXPECT_NE(st.error_code(), grpc::StatusCode::UNAUTHENTICATED) << m.full_name;
    EXPECT_NE(st.error_code(), grpc::StatusCode::PERMISSION_DENIED)
        << m.full_name << ": " << st.error_message();
  }
}

TEST_F(GrpcAuthTest, RouteCallRefusalsSayWhatIsWrongAndNeverEchoTheToken) {
  ASSERT_TRUE(server_.ok());
  v1::RouteCallRequest req;
  req.set_dialed_number("+15551234567");
  const std::string token = LongSecret("only-route");
  struct Case {
    std::string authorization;
    grpc::StatusCode code;
    std::string message;
  };
  for (const Case& c :
       {Case{"", grpc::StatusCode::UNAUTHENTICATED, "missing bearer token"},
        Case{"Bearer wrong", grpc::StatusCode::UNAUTHENTICATED, "invalid bearer token"},
        Case{"Basic " + token, grpc::StatusCode::UNAUTHENTICATED, "Bearer scheme"},
        Case{"Bearer " + token + "x", grpc::StatusCode::UNAUTHENTICATED, "invalid bearer token"},
        Case{Bearer("only-read"), grpc::StatusCode::PERMISSION_DENIED,
             "token 'only-read' lacks scope 'route'"}}) {
    auto ctx = Ctx();
    if (!c.authorization.empty()) ctx->AddMetadata("authorization", c.authorization);
    v1::RouteCallResponse resp;
    grpc::Status st = server_.routing().RouteCall(ctx.get(), req, &resp);
    EXPECT_EQ(st.error_code(), c.code) << c.authorization;
    EXPECT_THAT(st.error_message(), AllOf(HasSubstr(c.message), Not(HasSubstr(token))));
  }
  for (const std::string scheme : {"Bearer ", "bearer "}) {
    auto ctx = Ctx();
    ctx->AddMetadata("authorization", scheme + token);
    v1::RouteCallResponse resp;
    grpc::Status st = server_.routing().RouteCall(ctx.get(), req, &resp);
    ASSERT_TRUE(st.ok()) << st.error_message();
    EXPECT_EQ(resp.candidates(0).trunk_id(), "primary");
  }
}

TEST_F(GrpcAuthTest, AReportWithoutTheRouteScopeChangesNoHealth) {
  ASSERT_TRUE(server_.ok());
  v1::ReportCallOutcomeRequest req;
  req.set_trunk_id("primary");
  req.set_sip_status(503);
  req.set_retry_after_s(60);  // would eject at once if it were accepted
  for (const std::string& auth : {std::string(), Bearer("only-read")}) {
    auto ctx = Ctx();
    if (!auth.empty()) ctx->AddMetadata("authorization", auth);
    v1::ReportCallOutcomeResponse resp;
    EXPECT_FALSE(server_.routing().ReportCallOutcome(ctx.get(), req, &resp).ok());
  }
  auto ctx = Ctx();
  ctx->AddMetadata("authorization", Bearer("only-read"));
  v1::ListTrunkHealthResponse health;
  ASSERT_TRUE(server_.health().ListTrunkHealth(ctx.get(), {}, &health).ok());
  for (const v1::TrunkHealth& h : health.trunks()) {
    EXPECT_EQ(h.state(), v1::HEALTH_STATE_UP) << h.trunk_id();
  }
}

TEST_F(GrpcAuthTest, RepeatedWrongTokensGetResourceExhaustedUntilTheBackoffEnds) {
  ASSERT_TRUE(server_.ok());
  v1::RouteCallRequest req;
  req.set_dialed_number("+15551234567");
  auto call = [&](const std::string& authorization) {
    auto ctx = Ctx();
    ctx->AddMetadata("authorization", authorization);
    v1::RouteCallResponse resp;
    return server_.routing().RouteCall(ctx.get(), req, &resp);
  };
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(call("Bearer guess-" + std::to_string(i)).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  // Refused at once, without the token being looked at: the right one too.
  grpc::Status st = call(Bearer("only-route"));
  EXPECT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(st.error_message(), HasSubstr("too many failed authentications from 127.0.0.1"));
  auth_clock_.AdvanceMs(1000);
  EXPECT_TRUE(call(Bearer("only-route")).ok());
}

TEST_F(GrpcAuthTest, AChangeIsAuditedInOneLineWithWhoWhereWhatAndTheVersions) {
  ASSERT_TRUE(server_.ok());
  v1::UpsertTrunkRequest req;
  *req.mutable_trunk() = TwoTrunkConfig().trunks(1);
  req.mutable_trunk()->set_port(5090);
  req.mutable_trunk()->set_password("pw-that-must-not-be-logged");
  trunkroute::testing::StderrCapture capture;
  auto ctx = Ctx();
  ctx->AddMetadata("authorization", Bearer("only-write"));
  v1::UpsertTrunkResponse resp;
  ASSERT_TRUE(server_.config().UpsertTrunk(ctx.get(), req, &resp).ok());
  // A refused write is audited as well, by the authorizer.
  auto denied = Ctx();
  denied->AddMetadata("authorization", Bearer("only-read"));
  EXPECT_FALSE(server_.config().UpsertTrunk(denied.get(), req, &resp).ok());
  capture.Restore();
  const std::string log = capture.Text();
  std::vector<std::string> audit;
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    if (line.find(" audit ") != absl::string_view::npos) audit.emplace_back(line);
  }
  ASSERT_EQ(audit.size(), 2u) << log;
  EXPECT_THAT(audit[0],
              AllOf(HasSubstr("event=config_change"), HasSubstr("api=grpc"),
                    HasSubstr("method=/trunkroute.v1.ConfigService/UpsertTrunk"),
                    HasSubstr("principal=only-write"), HasSubstr("peer=ipv4:127.0.0.1:"),
                    HasSubstr("code=OK"), HasSubstr("target=trunk:backup"),
                    HasSubstr("from_version=1"), HasSubstr("to_version=2"), HasSubstr("changes=")));
  EXPECT_THAT(audit[1], AllOf(HasSubstr("event=auth_failed"), HasSubstr("principal=only-read"),
                              HasSubstr("reason=missing_scope"), HasSubstr("needed_scope=write")));
  EXPECT_THAT(log, AllOf(Not(HasSubstr("pw-that-must-not-be-logged")),
                         Not(HasSubstr(LongSecret("only-write"))),
                         Not(HasSubstr(LongSecret("only-read")))));
}

TEST(GrpcAuthFailClosedTest, ACallTheInterceptorNeverSawIsRefused) {
  SimulatedClock clock;
  TestGrpcAuth auth(&clock, Tokens());
  grpc::ServerContext context;  // no interceptor decided for it
  grpc::Status st = auth.grpc()->Check(&context);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

TEST(GrpcAuthFailClosedTest, AnAuditedMethodCannotBeDecidedInItsHandler) {
  SimulatedClock clock;
  TestGrpcAuth auth(&clock, Tokens());
  // write and admin calls get their audit line from the interceptor: they must keep it.
  const absl::Status st = auth.grpc()->DecideInHandler("/trunkroute.v1.ConfigService/UpsertTrunk");
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), HasSubstr("audited"));
  EXPECT_FALSE(auth.grpc()->DecidedInHandler("/trunkroute.v1.ConfigService/UpsertTrunk"));
  EXPECT_TRUE(auth.grpc()->DecideInHandler("/trunkroute.v1.RoutingService/RouteCall").ok());
  EXPECT_TRUE(auth.grpc()->DecidedInHandler("/trunkroute.v1.RoutingService/RouteCall"));
}

// RouteCall runs without interceptors (its handler decides and reports): every answered call is
// still reported exactly once with its code, like a call that went through the interceptor.
class RecordingRpcObserver : public RpcObserver {
 public:
  void OnRpcDone(std::string_view method, grpc::StatusCode code) override {
    absl::MutexLock lock(&mu_);
    seen_.push_back(std::string(method) + " " + std::string(StatusCodeName(code)));
  }
  std::vector<std::string> seen() {
    absl::MutexLock lock(&mu_);
    return seen_;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> seen_ ABSL_GUARDED_BY(mu_);
};

TEST(GrpcAuthRpcObserverTest, EveryAnsweredCallIsReportedOnceWithItsCode) {
  TempDir tmp;
  SimulatedClock clock;
  TestGrpcAuth auth(&clock, Tokens());
  RecordingRpcObserver observer;
  ServerHarness server(tmp.Sub("data"), TwoTrunkConfig(), nullptr, &observer, auth.grpc());
  ASSERT_TRUE(server.ok());
  auto with = [](const std::string& token) {
    auto ctx = Ctx();
    ctx->AddMetadata("authorization", Bearer(token));
    return ctx;
  };
  v1::RouteCallRequest req;
  req.set_dialed_number("+15551234567");
  v1::RouteCallResponse resp;
  ASSERT_TRUE(server.routing().RouteCall(with("only-route").get(), req, &resp).ok());
  EXPECT_EQ(resp.candidates_size(), 2);
  req.clear_dialed_number();  // refused by the handler itself
  EXPECT_EQ(server.routing().RouteCall(with("only-route").get(), req, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(server.routing().RouteCall(with("only-read").get(), req, &resp).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  v1::GetConfigRequest get;
  v1::Config config;
  ASSERT_TRUE(server.config().GetConfig(with("only-read").get(), get, &config).ok());
  const std::vector<std::string> want = {
      "/trunkroute.v1.RoutingService/RouteCall OK",
      "/trunkroute.v1.RoutingService/RouteCall INVALID_ARGUMENT",
      "/trunkroute.v1.RoutingService/RouteCall PERMISSION_DENIED",
      "/trunkroute.v1.ConfigService/GetConfig OK",
  };
  // The interceptor reports GetConfig just before its status goes out: the client may see the
  // answer first.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (observer.seen().size() < want.size() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(observer.seen(), want);
}

TEST(GrpcAuthOpenTest, NoTokensConfiguredMeansOpen) {
  TempDir tmp;
  SimulatedClock clock;
  TestGrpcAuth open(&clock, {});
  ServerHarness server(tmp.Sub("data"), TwoTrunkConfig(), nullptr, nullptr, open.grpc());
  ASSERT_TRUE(server.ok());
  v1::RouteCallRequest req;
  req.set_dialed_number("+15551234567");
  v1::RouteCallResponse resp;
  grpc::Status st = server.routing().RouteCall(Ctx().get(), req, &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  // The real answer, not an empty OK: the route and its trunks in order, from the served config.
  EXPECT_EQ(resp.route_id(), "nanp");
  ASSERT_EQ(resp.candidates_size(), 2);
  EXPECT_EQ(resp.candidates(0).trunk_id(), "primary");
  EXPECT_EQ(resp.candidates(1).trunk_id(), "backup");
  EXPECT_EQ(resp.config_version(), 1u);

  // A write (scope "write" when tokens exist) is open too, and really changes the config.
  v1::UpdateFailoverPolicyRequest update;
  update.mutable_failover_policy()->set_setup_timeout_ms(750);
  v1::UpdateFailoverPolicyResponse updated;
  st = server.config().UpdateFailoverPolicy(Ctx().get(), update, &updated);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(server.manager().Current()->version(), 2u);
  v1::RouteCallResponse after;
  ASSERT_TRUE(server.routing().RouteCall(Ctx().get(), req, &after).ok());
  EXPECT_EQ(after.failover_policy().setup_timeout_ms(), 750u);
  EXPECT_EQ(after.config_version(), 2u);
}

}  // namespace
}  // namespace trunkroute::server
