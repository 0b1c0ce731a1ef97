#ifndef TRUNKROUTE_SERVER_GRPC_AUTH_H_
#define TRUNKROUTE_SERVER_GRPC_AUTH_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "auth/authorizer.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/server_interceptor.h"
#include "grpcpp/support/status.h"

namespace trunkroute::server {

// What a config or admin change did, for its audit line.
struct ChangeNote {
  std::string target;         // "trunk:carrier-a", "route:nanp", "config", "log_level"
  uint64_t from_version = 0;  // config version the change was built on (0: not a config change)
  uint64_t to_version = 0;    // config version serving after it (same as from: nothing changed)
  std::string summary;        // e.g. "trunk 'b' added; route 'nanp' changed: trunk_ids"
  bool dry_run = false;
};

// The gRPC side of the one authorization rule (auth::Authorizer): an interceptor decides every
// call once, before its handler runs, from the call's full method name (looked up in
// auth/access_table.cc), its `authorization` metadata, its peer and the verified client
// certificate; each trunkroute.v1 handler's first statement returns that decision (Check).
//
// Why the decision is made in an interceptor but returned by the handler: gRPC 1.51 interceptors
// cannot end a call, and an AuthMetadataProcessor (which can) is not told the peer address, which
// the per-source backoff and the audit line need. So the interceptor decides (one place, the
// method name from gRPC itself, never a string typed in a handler) and the handler obeys.
// The one exception is the hot path (DecideInHandler below): RoutingService's handlers run the
// same decision themselves so that gRPC can serve RouteCall with no interceptor at all.
// Fail-closed: a call without a decision (no interceptor) is refused, and
// tests/server/grpc_scopes_test.cc calls every method of every trunkroute.v1 service with no
// token and with every scope but the one it needs, so a handler that forgot Check() fails it.
//
// Audit: after every call of a method that needs `write` or `admin` and was allowed, the
// interceptor writes one audit line with the status code and what the handler noted
// (NoteChange); denied calls get theirs from the authorizer.
class GrpcAuth {
 public:
  explicit GrpcAuth(auth::Authorizer* authorizer) : authorizer_(authorizer) {}
  GrpcAuth(const GrpcAuth&) = delete;
  GrpcAuth& operator=(const GrpcAuth&) = delete;

  // Install on the server before any other interceptor; `this` must outlive the server.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> MakeInterceptorFactory();

  // OK when this call may proceed; else UNAUTHENTICATED, PERMISSION_DENIED (naming the scope
  // needed) or RESOURCE_EXHAUSTED (backoff), with the authorizer's message.
  grpc::Status Check(const grpc::ServerContextBase* context) const;

  // The hot path's way round the interceptor: `method` (a full method name the server serves)
  // is decided by its handler with CheckInHandler, and the interceptor factory creates no
  // interceptor for its calls. A call with no interceptor at all skips gRPC's whole interception
  // machinery (a std::function and virtual hooks on every batch, the interceptor's allocation,
  // the registry below), a large part of an empty call's server CPU. Same rule, same decision,
  // same denial audit line; only for methods that are not audited (not write or admin):
  // InvalidArgument otherwise. Before the server is built.
  absl::Status DecideInHandler(std::string_view method);
  bool DecidedInHandler(std::string_view method) const;
  // Decides a call of a DecideInHandler method now (its first statement), from its metadata,
  // peer and client certificate; the same answers as Check.
  grpc::Status CheckInHandler(const grpc::ServerContextBase* context,
                              std::string_view method) const;

  // What the call changed, for its audit line (ignored for calls that are not audited).
  void NoteChange(const grpc::ServerContextBase* context, ChangeNote note) const;

  class Call;  // one intercepted call (internal)

 private:
  friend class AuthInterceptor;
  void Register(const grpc::ServerContextBase* context, Call* call);
  void Unregister(const grpc::ServerContextBase* context);
  Call* Find(const grpc::ServerContextBase* context) const;

  // Calls in flight by context, sharded so that concurrent RouteCalls rarely share a lock.
  struct Shard {
    mutable absl::Mutex mu;
    absl::flat_hash_map<const grpc::ServerContextBase*, Call*> calls ABSL_GUARDED_BY(mu);
  };
  static constexpr size_t kShards = 16;
  Shard& ShardFor(const grpc::ServerContextBase* context) const;

  auth::Authorizer* const authorizer_;
  mutable std::array<Shard, kShards> shards_;
  // Set before the server starts, read-only while it serves: no lock.
  std::vector<std::string> decided_in_handler_;
};

// The check every handler starts with; `auth` null (unit tests without auth): open.
inline grpc::Status Authorize(const GrpcAuth* auth, const grpc::ServerContextBase* context) {
  return auth == nullptr ? grpc::Status::OK : auth->Check(context);
}
inline void NoteChange(const GrpcAuth* auth, const grpc::ServerContextBase* context,
                       ChangeNote note) {
  if (auth != nullptr) auth->NoteChange(context, std::move(note));
}

}  // namespace trunkroute::server

#endif  // TRUNKROUTE_SERVER_GRPC_AUTH_H_
