// The access table against the API as the .proto files define it: every method of every
// trunkroute.v1 service has a row (so adding an RPC without deciding its scope fails here), and
// every row names a real method (a typo would leave the real method closed and this row dead).
#include "auth/access_table.h"

#include <set>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/proto_methods.h"

namespace trunkroute::auth {
namespace {

using trunkroute::testing::ProtoMethod;

TEST(AccessTableTest, EveryTrunkrouteMethodHasARow) {
  const std::vector<ProtoMethod> methods = trunkroute::testing::TrunkrouteMethods();
  ASSERT_GE(methods.size(), 20u);  // the API as of this test; more is fine
  for (const ProtoMethod& m : methods) {
    std::optional<Access> access = FindGrpcMethodAccess(m.full_name);
    ASSERT_TRUE(access.has_value())
        << m.full_name << " is not in auth/access_table.cc: decide its scope there";
    EXPECT_EQ(access->kind, Access::Kind::kScope)
        << m.full_name << ": trunkroute.v1 methods always need a token when tokens are on";
  }
}

TEST(AccessTableTest, EveryRowNamesARealMethod) {
  std::set<std::string> real;
  for (const ProtoMethod& m : trunkroute::testing::TrunkrouteMethods()) real.insert(m.full_name);
  for (const ProtoMethod& m : trunkroute::testing::StandardServiceMethods()) {
    real.insert(m.full_name);
  }
  for (const MethodAccess& row : GrpcMethodTable()) {
    EXPECT_TRUE(real.count(std::string(row.method)))
        << row.method << " is in the access table but no .proto declares it";
  }
}

TEST(AccessTableTest, OnlyTheStandardServicesAreOpen) {
  for (const MethodAccess& row : GrpcMethodTable()) {
    const bool standard = row.method.rfind("/grpc.health.v1.", 0) == 0 ||
                          row.method.rfind("/grpc.reflection.", 0) == 0;
    EXPECT_EQ(row.access.kind == Access::Kind::kOpen, standard) << row.method;
  }
  for (const ProtoMethod& m : trunkroute::testing::StandardServiceMethods()) {
    if (m.full_name.rfind("/grpc.reflection.v1alpha.", 0) != 0 &&
        m.full_name.rfind("/grpc.health.v1.", 0) != 0) {
      continue;
    }
    EXPECT_EQ(FindGrpcMethodAccess(m.full_name), Access::Open()) << m.full_name;
  }
}

// The scopes as issue 10 and docs/api.md define them, spelled out once more: a change to the
// table that moves a method to another scope has to change this list too.
TEST(AccessTableTest, ScopesAreTheDocumentedOnes) {
  const std::vector<std::pair<std::string, Scope>> expected = {
      {"/trunkroute.v1.RoutingService/RouteCall", Scope::kRoute},
      {"/trunkroute.v1.RoutingService/ReportCallOutcome", Scope::kRoute},
      {"/trunkroute.v1.ConfigService/GetTrunk", Scope::kRead},
      {"/trunkroute.v1.ConfigService/ListTrunks", Scope::kRead},
      {"/trunkroute.v1.ConfigService/ListRoutes", Scope::kRead},
      {"/trunkroute.v1.ConfigService/GetConfig", Scope::kRead},
      {"/trunkroute.v1.ConfigService/GetFailoverPolicy", Scope::kRead},
      {"/trunkroute.v1.ConfigService/ExplainRoute", Scope::kRead},
      {"/trunkroute.v1.ConfigService/UpsertTrunk", Scope::kWrite},
      {"/trunkroute.v1.ConfigService/DeleteTrunk", Scope::kWrite},
      {"/trunkroute.v1.ConfigService/UpsertRoute", Scope::kWrite},
      {"/trunkroute.v1.ConfigService/DeleteRoute", Scope::kWrite},
      {"/trunkroute.v1.ConfigService/ApplyConfig", Scope::kWrite},
      {"/trunkroute.v1.ConfigService/UpdateFailoverPolicy", Scope::kWrite},
      {"/trunkroute.v1.HealthService/ListTrunkHealth", Scope::kRead},
      {"/trunkroute.v1.HealthService/WatchTrunkHealth", Scope::kRead},
      {"/trunkroute.v1.HealthService/SetTrunkAdminState", Scope::kAdmin},
      {"/trunkroute.v1.AdminService/SetLogLevel", Scope::kAdmin},
      {"/trunkroute.v1.AdminService/GetServerInfo", Scope::kRead},
      {"/trunkroute.v1.ClusterService/ListInstances", Scope::kRead},
  };
  for (const auto& [method, scope] : expected) {
    EXPECT_EQ(FindGrpcMethodAccess(method), Access::Needs(scope)) << method;
  }
  EXPECT_EQ(FindGrpcMethodAccess("/trunkroute.v1.ConfigService/NoSuchMethod"), std::nullopt);
}

TEST(AccessTableTest, HttpEndpointsNeedWhatTheirGrpcMethodNeeds) {
  EXPECT_EQ(HttpAccess("POST", "/v1/route"), Access::Needs(Scope::kRoute));
  EXPECT_EQ(HttpAccess("POST", "/v1/outcome"), Access::Needs(Scope::kRoute));
  EXPECT_EQ(HttpAccess("GET", "/v1/trunks/health"), Access::Needs(Scope::kRead));
  EXPECT_EQ(HttpAccess("HEAD", "/v1/trunks/health"), Access::Needs(Scope::kRead));
  for (const auto& [method, path] : std::vector<std::pair<std::string, std::string>>{
           {"POST", "/v1/route"}, {"POST", "/v1/outcome"}, {"GET", "/v1/trunks/health"}}) {
    EXPECT_EQ(HttpAccess(method, path), FindGrpcMethodAccess(HttpEquivalentMethod(method, path)))
        << method << " " << path;
  }
  EXPECT_EQ(HttpAccess("GET", "/healthz"), Access::Open());
  EXPECT_EQ(HttpAccess("POST", "/healthz"), Access::Open());  // answered 405, never 401
  EXPECT_EQ(HttpAccess("GET", "/metrics").kind, Access::Kind::kMetrics);
  EXPECT_EQ(HttpAccess("GET", "/v1/route").kind, Access::Kind::kAnyToken);
  EXPECT_EQ(HttpAccess("GET", "/admin").kind, Access::Kind::kAnyToken);
}

}  // namespace
}  // namespace trunkroute::auth
