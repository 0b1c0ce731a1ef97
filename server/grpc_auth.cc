#include "server/grpc_auth.h"

#include <functional>
#include <optional>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "auth/audit.h"
#include "common/log.h"
#include "server/rpc_observer.h"

namespace trunkroute::server {

using grpc::experimental::InterceptionHookPoints;

// One call as the interceptor saw it: the decision and, for audited methods, what changed.
class GrpcAuth::Call {
 public:
  auth::AuthDecision decision;
  auth::Caller caller;
  std::string method;
  // The event of the audit line written when the call ends ("" = not audited).
  std::string_view audit_event;

  void SetNote(ChangeNote note) {
    absl::MutexLock lock(&mu_);
    note_ = std::move(note);
  }
  std::optional<ChangeNote> TakeNote() {
    absl::MutexLock lock(&mu_);
    return std::move(note_);
  }

 private:
  absl::Mutex mu_;
  std::optional<ChangeNote> note_ ABSL_GUARDED_BY(mu_);
};

namespace {

// THE decision for one gRPC call, by the interceptor and by CheckInHandler alike: the method's
// access table row, its `authorization` metadata, its peer and the verified client certificate.
auth::AuthDecision DecideCall(auth::Authorizer* authorizer, std::string_view method,
                              const std::multimap<grpc::string_ref, grpc::string_ref>& metadata,
                              const grpc::ServerContextBase* context, auth::Caller* caller,
                              std::optional<auth::Access>* access) {
  std::optional<std::string_view> authorization;
  if (auto it = metadata.find("authorization"); it != metadata.end()) {
    authorization = std::string_view(it->second.data(), it->second.size());
  }
  caller->peer = context->peer();
  if (std::shared_ptr<const grpc::AuthContext> ctx = context->auth_context();
      ctx != nullptr && ctx->IsPeerAuthenticated()) {
    for (const grpc::string_ref& subject : ctx->FindPropertyValues("x509_subject")) {
      caller->client_subject.assign(subject.data(), subject.size());
      break;
    }
  }
  *access = auth::FindGrpcMethodAccess(method);
  auth::AuthDecision decision = authorizer->Check(auth::AuthRequest{
      .api = "grpc",
      .method = method,
      .access = *access,
      .authorization = authorization,
      .peer = caller->peer,
      .client_subject = caller->client_subject,
  });
  caller->principal = decision.principal;
  return decision;
}

// The audit line an allowed call of this access gets when it ends; "" for calls not audited.
std::string_view AuditEventFor(const std::optional<auth::Access>& access) {
  if (!access || access->kind != auth::Access::Kind::kScope) return {};
  if (access->scope == auth::Scope::kWrite) return auth::kAuditConfigChange;
  if (access->scope == auth::Scope::kAdmin) return auth::kAuditAdminChange;
  return {};
}

grpc::Status StatusOf(const auth::AuthDecision& d) {
  switch (d.outcome) {
    case auth::AuthDecision::Outcome::kAllowed:
      return grpc::Status::OK;
    case auth::AuthDecision::Outcome::kUnauthenticated:
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, d.message);
    case auth::AuthDecision::Outcome::kPermissionDenied:
      return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, d.message);
    case auth::AuthDecision::Outcome::kThrottled:
      return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, d.message);
  }
  return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "refused");
}

}  // namespace

class AuthInterceptor final : public grpc::experimental::Interceptor {
 public:
  AuthInterceptor(GrpcAuth* owner, grpc::experimental::ServerRpcInfo* info)
      : owner_(owner), context_(info->server_context()) {
    call_.method = info->method() != nullptr ? info->method() : "";
  }
  ~AuthInterceptor() override {
    if (registered_) owner_->Unregister(context_);
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      Decide(*methods->GetRecvInitialMetadata());
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      Audit(methods->GetSendStatus());
    }
    methods->Proceed();
  }

 private:
  void Decide(const std::multimap<grpc::string_ref, grpc::string_ref>& metadata) {
    std::optional<auth::Access> access;
    call_.decision =
        DecideCall(owner_->authorizer_, call_.method, metadata, context_, &call_.caller, &access);
    if (call_.decision.allowed()) call_.audit_event = AuditEventFor(access);
    owner_->Register(context_, &call_);
    registered_ = true;
  }

  void Audit(const grpc::Status& status) {
    if (call_.audit_event.empty()) return;
    const std::optional<ChangeNote> note = call_.TakeNote();
    const std::string from =
        note && note->from_version != 0 ? absl::StrCat(note->from_version) : std::string();
    const std::string to =
        note && note->to_version != 0 ? absl::StrCat(note->to_version) : std::string();
    const std::string message = status.ok() ? std::string() : status.error_message();
    auth::WriteAudit(call_.audit_event, "grpc", call_.method, call_.caller,
                     {{"code", StatusCodeName(status.error_code())},
                      {"target", note ? std::string_view(note->target) : std::string_view()},
                      {"from_version", from},
                      {"to_version", to},
                      {"dry_run", note && note->dry_run ? "true" : ""},
                      {"changes", note ? std::string_view(note->summary) : std::string_view()},
                      // A rejected change says why (validation errors name fields, never a
                      // secret's value).
                      {"error", message}});
  }

  GrpcAuth* const owner_;
  const grpc::ServerContextBase* const context_;
  GrpcAuth::Call call_;
  bool registered_ = false;
};

namespace {

class AuthInterceptorFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit AuthInterceptorFactory(GrpcAuth* owner) : owner_(owner) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    // nullptr: no interceptor for this call (its handler decides, CheckInHandler).
    if (info->method() != nullptr && owner_->DecidedInHandler(info->method())) return nullptr;
    return new AuthInterceptor(owner_, info);  // gRPC owns and deletes it
  }

 private:
  GrpcAuth* const owner_;
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
GrpcAuth::MakeInterceptorFactory() {
  return std::make_unique<AuthInterceptorFactory>(this);
}

GrpcAuth::Shard& GrpcAuth::ShardFor(const grpc::ServerContextBase* context) const {
  return shards_[std::hash<const void*>()(context) % kShards];
}

void GrpcAuth::Register(const grpc::ServerContextBase* context, Call* call) {
  Shard& shard = ShardFor(context);
  absl::MutexLock lock(&shard.mu);
  shard.calls[context] = call;
}

void GrpcAuth::Unregister(const grpc::ServerContextBase* context) {
  Shard& shard = ShardFor(context);
  absl::MutexLock lock(&shard.mu);
  shard.calls.erase(context);
}

GrpcAuth::Call* GrpcAuth::Find(const grpc::ServerContextBase* context) const {
  Shard& shard = ShardFor(context);
  absl::MutexLock lock(&shard.mu);
  auto it = shard.calls.find(context);
  return it == shard.calls.end() ? nullptr : it->second;
}

grpc::Status GrpcAuth::Check(const grpc::ServerContextBase* context) const {
  const Call* call = Find(context);
  if (call == nullptr) {
    // The interceptor did not see this call: the server was built without it. Refuse rather
    // than serve unchecked.
    LogError("grpc call without an authorization decision refused (auth interceptor missing)");
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        "no authorization decision for this call");
  }
  return StatusOf(call->decision);
}

absl::Status GrpcAuth::DecideInHandler(std::string_view method) {
  if (!AuditEventFor(auth::FindGrpcMethodAccess(method)).empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "method ", absl::string_view(method.data(), method.size()),
        " is audited: only its interceptor may decide it"));
  }
  if (!DecidedInHandler(method)) decided_in_handler_.emplace_back(method);
  return absl::OkStatus();
}

bool GrpcAuth::DecidedInHandler(std::string_view method) const {
  for (const std::string& m : decided_in_handler_) {
    if (m == method) return true;
  }
  return false;
}

grpc::Status GrpcAuth::CheckInHandler(const grpc::ServerContextBase* context,
                                      std::string_view method) const {
  auth::Caller caller;
  std::optional<auth::Access> access;
  return StatusOf(
      DecideCall(authorizer_, method, context->client_metadata(), context, &caller, &access));
}

void GrpcAuth::NoteChange(const grpc::ServerContextBase* context, ChangeNote note) const {
  if (Call* call = Find(context)) call->SetNote(std::move(note));
}

}  // namespace trunkroute::server
