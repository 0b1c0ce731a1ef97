#ifndef TRUNKROUTE_AUTH_ACCESS_TABLE_H_
#define TRUNKROUTE_AUTH_ACCESS_TABLE_H_

#include <optional>
#include <span>
#include <string_view>

#include "auth/scope.h"

namespace trunkroute::auth {

// What a request needs before it is served.
struct Access {
  enum class Kind {
    kOpen,      // nothing: liveness, standard health checking, reflection
    kScope,     // a token with `scope`
    kAnyToken,  // any valid token (HTTP paths that exist for nobody: 404 only once authenticated)
    kMetrics,   // /metrics: open, or the metrics token (or a `read` token) when one is set
  };
  Kind kind = Kind::kScope;
  Scope scope = Scope::kAdmin;  // kScope only

  static constexpr Access Open() { return Access{Kind::kOpen, Scope::kAdmin}; }
  static constexpr Access Needs(Scope s) { return Access{Kind::kScope, s}; }
  bool operator==(const Access&) const = default;
};

// One row of the gRPC table: a full method name as gRPC sends it in :path.
struct MethodAccess {
  std::string_view method;  // "/trunkroute.v1.RoutingService/RouteCall"
  Access access;
};

// THE table: every gRPC method the server answers and what it needs. A method that is not here
// is refused (PERMISSION_DENIED) whenever tokens are configured, so a new RPC is closed until
// someone decides its scope here. tests/auth/access_table_test.cc checks that every method of
// every trunkroute.v1 service is listed and that every row names a real method.
std::span<const MethodAccess> GrpcMethodTable();

// The row for `method`, or nullopt.
std::optional<Access> FindGrpcMethodAccess(std::string_view method);

// The HTTP face. Each /v1/ endpoint is the JSON form of a gRPC method and needs what that
// method needs (looked up in the table above: one rule for both faces). HEAD is GET.
//   POST /v1/route        = RoutingService/RouteCall
//   POST /v1/outcome      = RoutingService/ReportCallOutcome
//   GET  /v1/trunks/health = HealthService/ListTrunkHealth
//   /healthz              open (any method: a wrong one is answered 405)
//   /metrics              kMetrics
//   anything else         kAnyToken (wrong methods on known paths too: 405 once authenticated)
Access HttpAccess(std::string_view method, std::string_view path);

// The gRPC method an HTTP endpoint stands for ("" when none), for logs and the audit line.
std::string_view HttpEquivalentMethod(std::string_view method, std::string_view path);

}  // namespace trunkroute::auth

#endif  // TRUNKROUTE_AUTH_ACCESS_TABLE_H_
