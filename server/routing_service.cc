#include "server/routing_service.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/status_util.h"

namespace trunkroute::server {
namespace {

// Calls requested ahead per queue: enough that a burst of new calls never waits for a request
// to be re-posted.
constexpr int kPendingPerQueue = 32;

}  // namespace

// The tag of one RPC. Requested → (handled, answered) → finished → deleted; each new request is
// posted as soon as the previous one arrives, so the queue always has kPendingPerQueue waiting.
class AsyncRoutingService::Rpc {
 public:
  virtual ~Rpc() = default;
  virtual void Proceed(bool ok) = 0;
};

namespace {

// Indexes into MethodNames().
constexpr size_t kRouteCallIndex = 0;
constexpr size_t kReportIndex = 1;

// Everything a posted request needs besides its own state.
struct RpcEnv {
  v1::RoutingService::AsyncService* service;
  grpc::ServerCompletionQueue* cq;
  RoutingCore* core;
  const GrpcAuth* auth;
  RpcObserver* observer;
};

template <typename Request, typename Response>
class UnaryRpc final : public AsyncRoutingService::Rpc {
 public:
  using RequestFn = void (v1::RoutingService::AsyncService::*)(
      grpc::ServerContext*, Request*, grpc::ServerAsyncResponseWriter<Response>*,
      grpc::CompletionQueue*, grpc::ServerCompletionQueue*, void*);
  // Fills the answer into `response` (cleared by the handler; reused across calls).
  using HandleFn = absl::Status (*)(RoutingCore*, const Request&, Response*);

  static void Post(const RpcEnv& env, size_t method, RequestFn request_fn, HandleFn handle_fn) {
    auto* rpc = new UnaryRpc(env, method, request_fn, handle_fn);
    (env.service->*request_fn)(&rpc->context_, &rpc->request_, &rpc->responder_, env.cq, env.cq,
                               rpc);
  }

  void Proceed(bool ok) override {
    if (finishing_ || !ok) {
      // Answer sent, or the queue is shutting down and the request never arrived.
      delete this;
      return;
    }
    Post(env_, method_, request_fn_, handle_fn_);
    finishing_ = true;
    const std::string& method = AsyncRoutingService::MethodNames()[method_];
    grpc::Status status =
        env_.auth == nullptr ? grpc::Status::OK : env_.auth->CheckInHandler(&context_, method);
    if (status.ok()) {
      // One answer per queue thread, reused: Finish serializes it before returning, so its
      // strings and candidates keep their storage for the next call on this thread.
      thread_local Response response;
      absl::Status handled = handle_fn_(env_.core, request_, &response);
      if (handled.ok()) {
        if (env_.observer != nullptr) env_.observer->OnRpcDone(method, grpc::StatusCode::OK);
        responder_.Finish(response, grpc::Status::OK, this);
        return;
      }
      status = ToGrpcStatus(handled);
    }
    if (env_.observer != nullptr) env_.observer->OnRpcDone(method, status.error_code());
    responder_.FinishWithError(status, this);
  }

 private:
  UnaryRpc(const RpcEnv& env, size_t method, RequestFn request_fn, HandleFn handle_fn)
      : env_(env),
        method_(method),
        request_fn_(request_fn),
        handle_fn_(handle_fn),
        responder_(&context_) {}

  const RpcEnv env_;
  const size_t method_;
  const RequestFn request_fn_;
  const HandleFn handle_fn_;
  grpc::ServerContext context_;
  Request request_;
  grpc::ServerAsyncResponseWriter<Response> responder_;
  bool finishing_ = false;
};

absl::Status HandleRouteCall(RoutingCore* core, const v1::RouteCallRequest& request,
                             v1::RouteCallResponse* response) {
  return core->RouteCall(request, response);
}

absl::Status HandleReport(RoutingCore* core, const v1::ReportCallOutcomeRequest& request,
                          v1::ReportCallOutcomeResponse* response) {
  absl::StatusOr<v1::ReportCallOutcomeResponse> result = core->ReportCallOutcome(request);
  if (!result.ok()) return result.status();
  *response = *std::move(result);
  return absl::OkStatus();
}

}  // namespace

const std::vector<std::string>& AsyncRoutingService::MethodNames() {
  static const std::vector<std::string>* const names = [] {
    const std::string service = absl::StrCat("/", v1::RoutingService::service_full_name(), "/");
    auto* n = new std::vector<std::string>(2);
    (*n)[kRouteCallIndex] = service + "RouteCall";
    (*n)[kReportIndex] = service + "ReportCallOutcome";
    return n;
  }();
  return *names;
}

AsyncRoutingService::~AsyncRoutingService() { Shutdown(); }

void AsyncRoutingService::Register(grpc::ServerBuilder* builder, int threads) {
  builder->RegisterService(&service_);
  for (int i = 0; i < std::max(threads, 1); ++i) cqs_.push_back(builder->AddCompletionQueue());
}

void AsyncRoutingService::Start() {
  started_ = true;
  for (auto& cq : cqs_) {
    const RpcEnv env{&service_, cq.get(), core_, auth_, rpc_observer_};
    for (int i = 0; i < kPendingPerQueue; ++i) {
      UnaryRpc<v1::RouteCallRequest, v1::RouteCallResponse>::Post(
          env, kRouteCallIndex, &v1::RoutingService::AsyncService::RequestRouteCall,
          &HandleRouteCall);
    }
    // Outcome reports are far rarer than decisions; a few pending requests suffice.
    for (int i = 0; i < 4; ++i) {
      UnaryRpc<v1::ReportCallOutcomeRequest, v1::ReportCallOutcomeResponse>::Post(
          env, kReportIndex, &v1::RoutingService::AsyncService::RequestReportCallOutcome,
          &HandleReport);
    }
    threads_.emplace_back([this, q = cq.get()] { Loop(q); });
  }
}

void AsyncRoutingService::Loop(grpc::ServerCompletionQueue* cq) {
  void* tag = nullptr;
  bool ok = false;
  while (cq->Next(&tag, &ok)) static_cast<Rpc*>(tag)->Proceed(ok);
}

void AsyncRoutingService::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  // The server is already shut down: every pending request now completes with ok=false and is
  // deleted by its own Proceed; Next returns false once the queue is empty.
  for (auto& cq : cqs_) cq->Shutdown();
  for (auto& t : threads_) t.join();
  if (!started_) {
    // Never started: drain the queues here (nothing was posted, but Next must see the shutdown).
    for (auto& cq : cqs_) {
      void* tag = nullptr;
      bool ok = false;
      while (cq->Next(&tag, &ok)) static_cast<Rpc*>(tag)->Proceed(ok);
    }
  }
}

}  // namespace trunkroute::server
