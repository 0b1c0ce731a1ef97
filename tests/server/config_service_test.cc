// ConfigService over a real gRPC server on 127.0.0.1: every RPC, its error codes, and that no
// response ever carries a password.
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/server_fixture.h"

namespace trunkroute {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::UnorderedElementsAre;
using testing::Ctx;
using testing::kPrimaryPassword;
using testing::ServerHarness;
using testing::TempDir;

class ConfigServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.ok()); }

  // Every response a test receives is remembered and checked for secrets at the end.
  template <typename T>
  const T& Seen(const T& message) {
    responses_.push_back(message.DebugString());
    return message;
  }
  void TearDown() override {
    for (const std::string& text : responses_) {
      EXPECT_THAT(text, Not(HasSubstr(kPrimaryPassword)));
      EXPECT_THAT(text, Not(HasSubstr("new-pw-123")));
    }
  }

  uint64_t Version() {
    v1::ListTrunksResponse r;
    EXPECT_TRUE(server_.config().ListTrunks(Ctx().get(), {}, &r).ok());
    return r.version();
  }

  TempDir tmp_;
  ServerHarness server_{tmp_.Sub("data")};
  std::vector<std::string> responses_;
};

TEST_F(ConfigServiceTest, ListTrunksRedactsPasswords) {
  v1::ListTrunksResponse r;
  ASSERT_TRUE(server_.config().ListTrunks(Ctx().get(), {}, &r).ok());
  Seen(r);
  ASSERT_EQ(r.trunks_size(), 2);
  EXPECT_EQ(r.trunks(0).id(), "primary");
  EXPECT_TRUE(r.trunks(0).has_password());
  EXPECT_EQ(r.trunks(0).password(), "");
  EXPECT_EQ(r.trunks(0).username(), "acme");
  EXPECT_FALSE(r.trunks(1).has_password());
  EXPECT_EQ(r.version(), 1u);
}

TEST_F(ConfigServiceTest, GetTrunkReturnsTheTrunkOrNotFound) {
  v1::GetTrunkRequest req;
  req.set_id("primary");
  v1::Trunk t;
  ASSERT_TRUE(server_.config().GetTrunk(Ctx().get(), req, &t).ok());
  Seen(t);
  EXPECT_EQ(t.port(), 5081u);
  EXPECT_TRUE(t.has_password());

  req.set_id("ghost");
  grpc::Status st = server_.config().GetTrunk(Ctx().get(), req, &t);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(st.error_message(), "trunk 'ghost' not found");
}

TEST_F(ConfigServiceTest, UpsertTrunkCreatesThenUpdatesKeepingThePassword) {
  v1::UpsertTrunkRequest req;
  req.mutable_trunk()->set_id("third");
  req.mutable_trunk()->set_host("sip.third.example.net");
  req.mutable_trunk()->set_password("new-pw-123");
  v1::UpsertTrunkResponse r;
  ASSERT_TRUE(server_.config().UpsertTrunk(Ctx().get(), req, &r).ok());
  Seen(r);
  EXPECT_TRUE(r.created());
  EXPECT_EQ(r.version(), 2u);
  EXPECT_EQ(r.trunk().id(), "third");
  EXPECT_TRUE(r.trunk().has_password());

  // An update without a password keeps the stored one.
  v1::UpsertTrunkRequest update;
  update.mutable_trunk()->set_id("primary");
  update.mutable_trunk()->set_host("127.0.0.2");
  update.mutable_trunk()->set_port(5081);
  update.mutable_trunk()->set_transport(v1::TRANSPORT_UDP);
  update.set_expected_version(2);
  ASSERT_TRUE(server_.config().UpsertTrunk(Ctx().get(), update, &r).ok());
  Seen(r);
  EXPECT_FALSE(r.created());
  EXPECT_EQ(r.version(), 3u);
  EXPECT_TRUE(r.trunk().has_password());
  EXPECT_EQ(server_.manager().Current()->FindTrunk("primary")->password, kPrimaryPassword);
  EXPECT_EQ(server_.manager().Current()->FindTrunk("primary")->host, "127.0.0.2");
}

TEST_F(ConfigServiceTest, UpsertTrunkWithClearPasswordRemovesIt) {
  v1::UpsertTrunkRequest req;
  *req.mutable_trunk() = server_.manager().Current()->config().trunks(0);
  req.mutable_trunk()->clear_password();
  req.mutable_trunk()->set_clear_password(true);
  v1::UpsertTrunkResponse r;
  ASSERT_TRUE(server_.config().UpsertTrunk(Ctx().get(), req, &r).ok());
  EXPECT_FALSE(r.trunk().has_password());
  EXPECT_EQ(server_.manager().Current()->FindTrunk("primary")->password, "");
}

TEST_F(ConfigServiceTest, UpsertTrunkInvalidListsEveryProblemAndChangesNothing) {
  const std::string bytes = testing::ReadFileBytes(server_.store().path());
  v1::UpsertTrunkRequest req;
  req.mutable_trunk()->set_id("bad");
  req.mutable_trunk()->set_port(99999);
  req.mutable_trunk()->add_allow_cidrs("10.0.0.0/99");
  v1::UpsertTrunkResponse r;
  grpc::Status st = server_.config().UpsertTrunk(Ctx().get(), req, &r);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(st.error_message(), HasSubstr("trunks[2].host"));
  EXPECT_THAT(st.error_message(), HasSubstr("trunks[2].port"));
  EXPECT_THAT(st.error_message(), HasSubstr("trunks[2].allow_cidrs[0]"));
  EXPECT_EQ(Version(), 1u);
  EXPECT_EQ(testing::ReadFileBytes(server_.store().path()), bytes);
}

TEST_F(ConfigServiceTest, UpsertWithoutIdIsInvalidArgument) {
  v1::UpsertTrunkResponse r;
  grpc::Status st = server_.config().UpsertTrunk(Ctx().get(), {}, &r);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(st.error_message(), "trunk.id: required");
  v1::UpsertRouteResponse rr;
  st = server_.config().UpsertRoute(Ctx().get(), {}, &rr);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(st.error_message(), "route.id: required");
}

TEST_F(ConfigServiceTest, StaleExpectedVersionIsAborted) {
  v1::UpsertTrunkRequest req;
  req.mutable_trunk()->set_id("third");
  req.mutable_trunk()->set_host("sip.third.example.net");
  req.set_expected_version(7);
  v1::UpsertTrunkResponse r;
  grpc::Status st = server_.config().UpsertTrunk(Ctx().get(), req, &r);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(st.error_message(), "expected version 7, current is 1");
}

TEST_F(ConfigServiceTest, DeleteTrunkInUseIsFailedPreconditionNamingTheRoutes) {
  v1::DeleteTrunkRequest req;
  req.set_id("backup");
  v1::DeleteTrunkResponse r;
  grpc::Status st = server_.config().DeleteTrunk(Ctx().get(), req, &r);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(st.error_message(),
            "trunk 'backup' is used by routes 'nanp', 'intl'; remove it from them first");
  EXPECT_EQ(Version(), 1u);
}

TEST_F(ConfigServiceTest, DeleteUnusedTrunkAndUnknownTrunk) {
  v1::DeleteRouteRequest dr;
  dr.set_id("nanp");
  v1::DeleteRouteResponse drr;
  ASSERT_TRUE(server_.config().DeleteRoute(Ctx().get(), dr, &drr).ok());
  EXPECT_EQ(drr.version(), 2u);

  v1::DeleteTrunkRequest req;
  req.set_id("primary");
  v1::DeleteTrunkResponse r;
  ASSERT_TRUE(server_.config().DeleteTrunk(Ctx().get(), req, &r).ok());
  EXPECT_EQ(r.version(), 3u);
  EXPECT_EQ(server_.manager().Current()->FindTrunk("primary"), nullptr);

  grpc::Status st = server_.config().DeleteTrunk(Ctx().get(), req, &r);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(st.error_message(), "trunk 'primary' not found");
  st = server_.config().DeleteRoute(Ctx().get(), dr, &drr);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(st.error_message(), "route 'nanp' not found");
}

TEST_F(ConfigServiceTest, UpsertRouteAndListRoutesInPriorityOrder) {
  v1::UpsertRouteRequest req;
  req.mutable_route()->set_id("uk");
  req.mutable_route()->set_priority(5);
  req.mutable_route()->set_pattern("\\+44\\d{10}");
  req.mutable_route()->add_trunk_ids("backup");
  v1::UpsertRouteResponse r;
  ASSERT_TRUE(server_.config().UpsertRoute(Ctx().get(), req, &r).ok());
  EXPECT_TRUE(r.created());
  EXPECT_EQ(r.route().pattern(), "\\+44\\d{10}");
  EXPECT_EQ(r.version(), 2u);

  v1::ListRoutesResponse list;
  ASSERT_TRUE(server_.config().ListRoutes(Ctx().get(), {}, &list).ok());
  std::vector<std::string> ids;
  for (const auto& route : list.routes()) ids.push_back(route.id());
  EXPECT_THAT(ids, ElementsAre("uk", "nanp", "intl"));
  EXPECT_EQ(list.version(), 2u);
}

TEST_F(ConfigServiceTest, UpsertRouteWithBadPatternAndTieListsBoth) {
  v1::UpsertRouteRequest req;
  req.mutable_route()->set_id("bad");
  req.mutable_route()->set_priority(10);  // same as nanp
  req.mutable_route()->set_pattern("\\+1(");
  req.mutable_route()->add_trunk_ids("nope");
  v1::UpsertRouteResponse r;
  grpc::Status st = server_.config().UpsertRoute(Ctx().get(), req, &r);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(st.error_message(), HasSubstr("routes[2].pattern"));
  EXPECT_THAT(st.error_message(), HasSubstr("routes[2].priority"));
  EXPECT_THAT(st.error_message(), HasSubstr("routes[2].trunk_ids[0]"));
}

TEST_F(ConfigServiceTest, GetConfigIsRedacted) {
  v1::Config c;
  ASSERT_TRUE(server_.config().GetConfig(Ctx().get(), {}, &c).ok());
  Seen(c);
  EXPECT_EQ(c.version(), 1u);
  EXPECT_EQ(c.trunks_size(), 2);
  EXPECT_TRUE(c.trunks(0).has_password());
  EXPECT_GT(c.applied_at_unix_ms(), 0);
}

TEST_F(ConfigServiceTest, ApplyConfigDryRunReportsChangesWithoutApplying) {
  v1::ApplyConfigRequest req;
  *req.mutable_config() = testing::TwoTrunkConfig();
  req.mutable_config()->mutable_trunks(0)->clear_password();  // as a client that read it
  req.mutable_config()->mutable_routes()->RemoveLast();       // drop intl
  req.mutable_config()->mutable_failover_policy()->set_setup_timeout_ms(600);
  req.set_dry_run(true);
  v1::ApplyConfigResponse r;
  ASSERT_TRUE(server_.config().ApplyConfig(Ctx().get(), req, &r).ok());
  EXPECT_FALSE(r.applied());
  EXPECT_EQ(r.version(), 1u);
  EXPECT_THAT(r.changes(), UnorderedElementsAre("route 'intl' removed",
                                                "failover_policy changed: setup_timeout_ms"));
  EXPECT_EQ(Version(), 1u);

  req.set_dry_run(false);
  req.set_expected_version(1);
  ASSERT_TRUE(server_.config().ApplyConfig(Ctx().get(), req, &r).ok());
  EXPECT_TRUE(r.applied());
  EXPECT_EQ(r.version(), 2u);
  // The password left empty was kept.
  EXPECT_EQ(server_.manager().Current()->FindTrunk("primary")->password, kPrimaryPassword);

  grpc::Status st = server_.config().ApplyConfig(Ctx().get(), req, &r);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(st.error_message(), "expected version 1, current is 2");
}

TEST_F(ConfigServiceTest, ApplyConfigInvalidListsEveryProblem) {
  v1::ApplyConfigRequest req;
  *req.mutable_config() = testing::TwoTrunkConfig();
  req.mutable_config()->mutable_routes(1)->set_priority(10);
  req.mutable_config()->mutable_routes(0)->set_ingress_trunk_id("primary");
  req.mutable_config()->mutable_failover_policy()->set_setup_timeout_ms(5);
  v1::ApplyConfigResponse r;
  grpc::Status st = server_.config().ApplyConfig(Ctx().get(), req, &r);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(st.error_message(), HasSubstr("routes[1].priority"));
  EXPECT_THAT(st.error_message(), HasSubstr("routes[0].trunk_ids[0]"));  // loop
  EXPECT_THAT(st.error_message(), HasSubstr("failover_policy.setup_timeout_ms"));
  EXPECT_EQ(Version(), 1u);
}

TEST_F(ConfigServiceTest, FailoverPolicyGetUpdateAndRouteOverride) {
  v1::GetFailoverPolicyResponse g;
  ASSERT_TRUE(server_.config().GetFailoverPolicy(Ctx().get(), {}, &g).ok());
  EXPECT_EQ(g.failover_policy().setup_timeout_ms(), 1000u);
  EXPECT_THAT(g.failover_policy().failover_codes(), ElementsAre(408, 500, 502, 503, 504));
  EXPECT_EQ(g.failover_policy().max_attempts(), 5u);
  EXPECT_EQ(g.health_policy().failure_threshold(), 3u);

  v1::UpdateFailoverPolicyRequest u;
  u.mutable_failover_policy()->set_setup_timeout_ms(700);
  u.mutable_failover_policy()->add_failover_codes(503);
  u.mutable_health_policy()->set_failure_threshold(4);
  u.set_expected_version(1);
  v1::UpdateFailoverPolicyResponse ur;
  ASSERT_TRUE(server_.config().UpdateFailoverPolicy(Ctx().get(), u, &ur).ok());
  EXPECT_EQ(ur.version(), 2u);
  EXPECT_EQ(ur.failover_policy().setup_timeout_ms(), 700u);
  EXPECT_THAT(ur.failover_policy().failover_codes(), ElementsAre(503));
  EXPECT_EQ(ur.failover_policy().max_attempts(), 5u);  // unset: left as it was
  EXPECT_EQ(ur.health_policy().failure_threshold(), 4u);

  // A second partial update leaves the first one's fields alone.
  v1::UpdateFailoverPolicyRequest u2;
  u2.mutable_failover_policy()->set_max_attempts(2);
  ASSERT_TRUE(server_.config().UpdateFailoverPolicy(Ctx().get(), u2, &ur).ok());
  EXPECT_EQ(ur.failover_policy().setup_timeout_ms(), 700u);
  EXPECT_THAT(ur.failover_policy().failover_codes(), ElementsAre(503));
  EXPECT_EQ(ur.failover_policy().max_attempts(), 2u);

  // Route override merges over the global values.
  v1::UpsertRouteRequest route;
  *route.mutable_route() = server_.manager().Current()->config().routes(0);
  route.mutable_route()->mutable_failover_policy()->set_setup_timeout_ms(300);
  v1::UpsertRouteResponse rr;
  ASSERT_TRUE(server_.config().UpsertRoute(Ctx().get(), route, &rr).ok());
  v1::GetFailoverPolicyRequest gr;
  gr.set_route_id("nanp");
  ASSERT_TRUE(server_.config().GetFailoverPolicy(Ctx().get(), gr, &g).ok());
  EXPECT_EQ(g.failover_policy().setup_timeout_ms(), 300u);
  EXPECT_EQ(g.failover_policy().max_attempts(), 2u);

  gr.set_route_id("ghost");
  grpc::Status st = server_.config().GetFailoverPolicy(Ctx().get(), gr, &g);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(st.error_message(), "route 'ghost' not found");

  v1::UpdateFailoverPolicyRequest bad;
  bad.mutable_failover_policy()->set_setup_timeout_ms(50);
  st = server_.config().UpdateFailoverPolicy(Ctx().get(), bad, &ur);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(st.error_message(), HasSubstr("failover_policy.setup_timeout_ms"));
}

TEST_F(ConfigServiceTest, ExplainRouteShowsTrialsDecisionAndNotes) {
  v1::ExplainRouteRequest req;
  req.set_dialed_number("+44 20 7946 0000");
  v1::ExplainRouteResponse r;
  ASSERT_TRUE(server_.config().ExplainRoute(Ctx().get(), req, &r).ok());
  EXPECT_EQ(r.normalized_number(), "+442079460000");
  ASSERT_EQ(r.tried_size(), 2);
  EXPECT_EQ(r.tried(0).route_id(), "nanp");
  EXPECT_FALSE(r.tried(0).matched());
  EXPECT_EQ(r.tried(1).route_id(), "intl");
  EXPECT_TRUE(r.tried(1).matched());
  EXPECT_EQ(r.matched_route_id(), "intl");
  ASSERT_EQ(r.decision().candidates_size(), 1);
  EXPECT_EQ(r.decision().candidates(0).trunk_id(), "backup");
  EXPECT_EQ(r.decision().config_version(), 1u);
  EXPECT_THAT(r.notes(), ::testing::Contains(HasSubstr("candidate 1: trunk 'backup' (UP)")));

  req.set_dialed_number("12345");
  ASSERT_TRUE(server_.config().ExplainRoute(Ctx().get(), req, &r).ok());
  EXPECT_EQ(r.matched_route_id(), "");
  EXPECT_EQ(r.decision().candidates_size(), 0);
  EXPECT_THAT(r.notes(), ElementsAre("no route matches 12345 (2 routes tried)"));

  // The same hint RouteCall gives, from the same place (router::NoRouteMessage).
  req.set_dialed_number("4155550100");
  ASSERT_TRUE(server_.config().ExplainRoute(Ctx().get(), req, &r).ok());
  EXPECT_EQ(r.matched_route_id(), "");
  ASSERT_EQ(r.notes_size(), 1);
  EXPECT_THAT(r.notes(0), ::testing::StartsWith("no route matches 4155550100 (2 routes tried); "
                                                "routes match E.164 numbers: did you mean "));
  EXPECT_THAT(r.notes(0), HasSubstr("+14155550100 (route 'nanp')"));

  req.set_dialed_number("call me maybe");
  grpc::Status st = server_.config().ExplainRoute(Ctx().get(), req, &r);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(st.error_message(), HasSubstr("call me maybe"));
}

}  // namespace
}  // namespace trunkroute
