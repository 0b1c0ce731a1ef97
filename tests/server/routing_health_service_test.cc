// RoutingService and HealthService over a real gRPC server on 127.0.0.1: RouteCall answers and
// errors, outcomes feeding health, the WatchTrunkHealth stream and admin states.
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/server_fixture.h"

namespace trunkroute {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::Ctx;
using testing::ServerHarness;
using testing::TempDir;

std::vector<std::string> CandidateIds(const v1::RouteCallResponse& r) {
  std::vector<std::string> ids;
  for (const auto& c : r.candidates()) ids.push_back(c.trunk_id());
  return ids;
}

class RoutingHealthTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.ok()); }

  v1::RouteCallResponse Route(const std::string& number) {
    v1::RouteCallRequest req;
    req.set_dialed_number(number);
    v1::RouteCallResponse r;
    grpc::Status st = server_.routing().RouteCall(Ctx().get(), req, &r);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return r;
  }

  v1::ReportCallOutcomeResponse Report(const std::string& trunk, uint32_t status) {
    v1::ReportCallOutcomeRequest req;
    req.set_trunk_id(trunk);
    req.set_sip_status(status);
    req.set_route_id("nanp");
    v1::ReportCallOutcomeResponse r;
    grpc::Status st = server_.routing().ReportCallOutcome(Ctx().get(), req, &r);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return r;
  }

  TempDir tmp_;
  ServerHarness server_{tmp_.Sub("data")};
};

TEST_F(RoutingHealthTest, RouteCallReturnsOrderedCandidatesWithUris) {
  v1::RouteCallResponse r = Route("+1 (555) 123-4567");
  EXPECT_EQ(r.route_id(), "nanp");
  EXPECT_EQ(r.normalized_number(), "+15551234567");
  ASSERT_THAT(CandidateIds(r), ElementsAre("primary", "backup"));
  EXPECT_EQ(r.candidates(0).sip_uri(), "sip:+15551234567@127.0.0.1:5081");
  EXPECT_EQ(r.candidates(0).setup_timeout_ms(), 1000u);
  EXPECT_EQ(r.candidates(0).health_state(), v1::HEALTH_STATE_UP);
  EXPECT_EQ(r.config_version(), 1u);
  EXPECT_EQ(r.failover_policy().setup_timeout_ms(), 1000u);
  EXPECT_FALSE(r.panic());
  EXPECT_THAT(r.DebugString(), Not(HasSubstr(testing::kPrimaryPassword)));
}

TEST_F(RoutingHealthTest, RouteCallWithoutRouteIsNotFoundNamingTheNumber) {
  v1::RouteCallRequest req;
  req.set_dialed_number("5551234");
  v1::RouteCallResponse r;
  grpc::Status st = server_.routing().RouteCall(Ctx().get(), req, &r);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(st.error_message(), HasSubstr("5551234"));
}

TEST_F(RoutingHealthTest, RouteCallRejectsBadNumbers) {
  v1::RouteCallRequest req;
  v1::RouteCallResponse r;
  grpc::Status st = server_.routing().RouteCall(Ctx().get(), req, &r);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(st.error_message(), "dialed_number: required");
  req.set_dialed_number("+1555abc");
  st = server_.routing().RouteCall(Ctx().get(), req, &r);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(st.error_message(), HasSubstr("+1555abc"));
}

TEST_F(RoutingHealthTest, ReportCallOutcomeClassifiesAndValidates) {
  EXPECT_EQ(Report("primary", 486).outcome_class(), "CALLEE_FINAL");
  EXPECT_EQ(Report("primary", 200).outcome_class(), "SUCCESS");
  v1::ReportCallOutcomeResponse r = Report("primary", 503);
  EXPECT_EQ(r.outcome_class(), "FAILOVER");
  EXPECT_EQ(r.health_state(), v1::HEALTH_STATE_UP);

  v1::ReportCallOutcomeRequest req;
  grpc::Status st = server_.routing().ReportCallOutcome(Ctx().get(), req, &r);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(st.error_message(), "trunk_id: required");
  req.set_trunk_id("ghost");
  st = server_.routing().ReportCallOutcome(Ctx().get(), req, &r);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(st.error_message(), "trunk 'ghost' not found");
  req.set_trunk_id("primary");
  req.set_sip_status(42);
  st = server_.routing().ReportCallOutcome(Ctx().get(), req, &r);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(st.error_message(), HasSubstr("sip_status: 42"));
}

TEST_F(RoutingHealthTest, ListTrunkHealthStartsUp) {
  v1::ListTrunkHealthResponse r;
  ASSERT_TRUE(server_.health().ListTrunkHealth(Ctx().get(), {}, &r).ok());
  ASSERT_EQ(r.trunks_size(), 2);
  EXPECT_EQ(r.trunks(0).trunk_id(), "backup");  // sorted by id
  EXPECT_EQ(r.trunks(1).trunk_id(), "primary");
  EXPECT_EQ(r.trunks(1).state(), v1::HEALTH_STATE_UP);
}

// The end-to-end health contract over gRPC: three 503s eject the primary, watchers see it, and
// the next RouteCall offers the backup first.
TEST_F(RoutingHealthTest, ThreeFailuresOnPrimaryAreStreamedAndPutBackupFirst) {
  auto ctx = Ctx(20);
  auto reader = server_.health().WatchTrunkHealth(ctx.get(), {});
  std::vector<std::string> snapshot_ids;
  v1::TrunkHealthEvent event;
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(reader->Read(&event));
    EXPECT_TRUE(event.snapshot());
    EXPECT_EQ(event.health().state(), v1::HEALTH_STATE_UP);
    snapshot_ids.push_back(event.health().trunk_id());
  }
  EXPECT_THAT(snapshot_ids, ElementsAre("backup", "primary"));

  for (int i = 0; i < 3; ++i) Report("primary", 503);

  ASSERT_TRUE(reader->Read(&event));
  EXPECT_FALSE(event.snapshot());
  EXPECT_EQ(event.health().trunk_id(), "primary");
  EXPECT_EQ(event.health().state(), v1::HEALTH_STATE_DOWN);
  EXPECT_EQ(event.previous_state(), v1::HEALTH_STATE_UP);
  EXPECT_EQ(event.health().reason(), v1::HEALTH_REASON_CONSECUTIVE_FAILURES);

  v1::RouteCallResponse r = Route("+15551234567");
  EXPECT_THAT(CandidateIds(r), ElementsAre("backup"));
  ASSERT_EQ(r.skipped_size(), 1);
  EXPECT_EQ(r.skipped(0).trunk_id(), "primary");
  EXPECT_EQ(r.skipped(0).health_state(), v1::HEALTH_STATE_DOWN);

  ctx->TryCancel();
  while (reader->Read(&event)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

TEST_F(RoutingHealthTest, WatchEndsUnavailableWhenTheServerShutsDown) {
  auto ctx = Ctx(20);
  auto reader = server_.health().WatchTrunkHealth(ctx.get(), {});
  v1::TrunkHealthEvent event;
  ASSERT_TRUE(reader->Read(&event));
  ASSERT_TRUE(reader->Read(&event));
  std::thread stopper([&] { server_.Stop(); });
  while (reader->Read(&event)) {
  }
  grpc::Status end = reader->Finish();
  EXPECT_EQ(end.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(end.error_message(), "server shutting down");
  stopper.join();
}

TEST_F(RoutingHealthTest, DrainRemovesATrunkFromNewDecisionsAndIsPersisted) {
  v1::SetTrunkAdminStateRequest req;
  req.set_trunk_id("primary");
  req.set_state(v1::ADMIN_STATE_DRAINING);
  v1::SetTrunkAdminStateResponse r;
  ASSERT_TRUE(server_.health().SetTrunkAdminState(Ctx().get(), req, &r).ok());
  EXPECT_EQ(r.health().trunk_id(), "primary");
  EXPECT_EQ(r.health().state(), v1::HEALTH_STATE_DRAINING);
  EXPECT_EQ(r.config_version(), 2u);

  v1::RouteCallResponse route = Route("+15551234567");
  EXPECT_THAT(CandidateIds(route), ElementsAre("backup"));
  ASSERT_EQ(route.skipped_size(), 1);
  EXPECT_EQ(route.skipped(0).health_state(), v1::HEALTH_STATE_DRAINING);

  auto stored = server_.store().Load();
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ((*stored)->config.trunks(0).admin_state(), v1::ADMIN_STATE_DRAINING);

  req.set_state(v1::ADMIN_STATE_ENABLED);
  ASSERT_TRUE(server_.health().SetTrunkAdminState(Ctx().get(), req, &r).ok());
  EXPECT_EQ(r.health().state(), v1::HEALTH_STATE_UP);
  EXPECT_THAT(CandidateIds(Route("+15551234567")), ElementsAre("primary", "backup"));
}

TEST_F(RoutingHealthTest, SetTrunkAdminStateErrors) {
  v1::SetTrunkAdminStateRequest req;
  v1::SetTrunkAdminStateResponse r;
  req.set_trunk_id("ghost");
  req.set_state(v1::ADMIN_STATE_FORCED_DOWN);
  grpc::Status st = server_.health().SetTrunkAdminState(Ctx().get(), req, &r);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(st.error_message(), "trunk 'ghost' not found");
  req.set_trunk_id("primary");
  req.set_state(v1::ADMIN_STATE_UNSPECIFIED);
  st = server_.health().SetTrunkAdminState(Ctx().get(), req, &r);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(st.error_message(), HasSubstr("state:"));
}

}  // namespace
}  // namespace trunkroute
