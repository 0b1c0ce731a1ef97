#include "auth/access_table.h"

#include <array>

namespace trunkroute::auth {
namespace {

constexpr Access kRead = Access::Needs(Scope::kRead);
constexpr Access kRoute = Access::Needs(Scope::kRoute);
constexpr Access kWrite = Access::Needs(Scope::kWrite);
constexpr Access kAdmin = Access::Needs(Scope::kAdmin);

// Sorted by service, then in the order of the .proto files.
constexpr std::array kGrpcMethods = {
    // Dialers and data actions: decisions and outcome reports.
    MethodAccess{"/trunkroute.v1.RoutingService/RouteCall", kRoute},
    MethodAccess{"/trunkroute.v1.RoutingService/ReportCallOutcome", kRoute},
    // Config: reads are `read`, every change is `write`.
    MethodAccess{"/trunkroute.v1.ConfigService/UpsertTrunk", kWrite},
    MethodAccess{"/trunkroute.v1.ConfigService/DeleteTrunk", kWrite},
    MethodAccess{"/trunkroute.v1.ConfigService/GetTrunk", kRead},
    MethodAccess{"/trunkroute.v1.ConfigService/ListTrunks", kRead},
    MethodAccess{"/trunkroute.v1.ConfigService/UpsertRoute", kWrite},
    MethodAccess{"/trunkroute.v1.ConfigService/DeleteRoute", kWrite},
    MethodAccess{"/trunkroute.v1.ConfigService/ListRoutes", kRead},
    MethodAccess{"/trunkroute.v1.ConfigService/GetConfig", kRead},
    MethodAccess{"/trunkroute.v1.ConfigService/ApplyConfig", kWrite},
    MethodAccess{"/trunkroute.v1.ConfigService/GetFailoverPolicy", kRead},
    MethodAccess{"/trunkroute.v1.ConfigService/UpdateFailoverPolicy", kWrite},
    MethodAccess{"/trunkroute.v1.ConfigService/ExplainRoute", kRead},
    // Health: watching is `read`; forcing a trunk's admin state is `admin`.
    MethodAccess{"/trunkroute.v1.HealthService/ListTrunkHealth", kRead},
    MethodAccess{"/trunkroute.v1.HealthService/WatchTrunkHealth", kRead},
    MethodAccess{"/trunkroute.v1.HealthService/SetTrunkAdminState", kAdmin},
    // The process.
    MethodAccess{"/trunkroute.v1.AdminService/SetLogLevel", kAdmin},
    MethodAccess{"/trunkroute.v1.AdminService/GetServerInfo", kRead},
    // The cluster: who serves which config revision, and how each sees the trunks.
    MethodAccess{"/trunkroute.v1.ClusterService/ListInstances", kRead},
    // Standard services: orchestrators probe health without credentials; reflection lists
    // service and message names only (no config, no state).
    MethodAccess{"/grpc.health.v1.Health/Check", Access::Open()},
    MethodAccess{"/grpc.health.v1.Health/Watch", Access::Open()},
    MethodAccess{"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", Access::Open()},
};

}  // namespace

std::span<const MethodAccess> GrpcMethodTable() { return kGrpcMethods; }

std::optional<Access> FindGrpcMethodAccess(std::string_view method) {
  for (const MethodAccess& row : kGrpcMethods) {
    if (row.method == method) return row.access;
  }
  return std::nullopt;
}

std::string_view HttpEquivalentMethod(std::string_view method, std::string_view path) {
  const bool get = method == "GET" || method == "HEAD";
  if (method == "POST" && path == "/v1/route") return "/trunkroute.v1.RoutingService/RouteCall";
  if (method == "POST" && path == "/v1/outcome") {
    return "/trunkroute.v1.RoutingService/ReportCallOutcome";
  }
  if (get && path == "/v1/trunks/health") return "/trunkroute.v1.HealthService/ListTrunkHealth";
  return "";
}

Access HttpAccess(std::string_view method, std::string_view path) {
  // By path alone: a wrong method on them is a 405, never a 401.
  if (path == "/healthz") return Access::Open();
  if (path == "/metrics") return Access{Access::Kind::kMetrics, Scope::kRead};
  if (std::string_view grpc = HttpEquivalentMethod(method, path); !grpc.empty()) {
    if (std::optional<Access> access = FindGrpcMethodAccess(grpc)) return *access;
  }
  return Access{Access::Kind::kAnyToken, Scope::kRead};
}

}  // namespace trunkroute::auth
