#include "server/routing_service.h"

#include <utility>

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

template <typename Request, typename Response>
class UnaryRpc final : public AsyncRoutingService::Rpc {
 public:
  using RequestFn = void (v1::RoutingService::AsyncService::*)(
      grpc::ServerContext*, Request*, grpc::ServerAsyncResponseWriter<Response>*,
      grpc::CompletionQueue*, grpc::ServerCompletionQueue*, void*);
  using HandleFn = absl::StatusOr<Response> (*)(RoutingCore*, const Request&);

  static void Post(v1::RoutingService::AsyncService* service, grpc::ServerCompletionQueue* cq,
                   RoutingCore* core, const GrpcAuth* auth, RequestFn request_fn,
                   HandleFn handle_fn) {
    auto* rpc = new UnaryRpc(service, cq, core, auth, request_fn, handle_fn);
    (service->*request_fn)(&rpc->context_, &rpc->request_, &rpc->responder_, cq, cq, rpc);
  }

  void Proceed(bool ok) override {
    if (finishing_ || !ok) {
      // Answer sent, or the queue is shutting down and the request never arrived.
      delete this;
      return;
    }
    Post(service_, cq_, core_, auth_, request_fn_, handle_fn_);
    finishing_ = true;
    if (grpc::Status denied = Authorize(auth_, &context_); !denied.ok()) {
      responder_.FinishWithError(denied, this);
      return;
    }
    absl::StatusOr<Response> result = handle_fn_(core_, request_);
    if (result.ok()) {
      responder_.Finish(*result, grpc::Status::OK, this);
    } else {
      responder_.FinishWithError(ToGrpcStatus(result.status()), this);
    }
  }

 private:
  UnaryRpc(v1::RoutingService::AsyncService* service, grpc::ServerCompletionQueue* cq,
           RoutingCore* core, const GrpcAuth* auth, RequestFn request_fn, HandleFn handle_fn)
      : service_(service),
        cq_(cq),
        core_(core),
        auth_(auth),
        request_fn_(request_fn),
        handle_fn_(handle_fn),
        responder_(&context_) {}

  v1::RoutingService::AsyncService* const service_;
  grpc::ServerCompletionQueue* const cq_;
  RoutingCore* const core_;
  const GrpcAuth* const auth_;
  const RequestFn request_fn_;
  const HandleFn handle_fn_;
  grpc::ServerContext context_;
  Request request_;
  grpc::ServerAsyncResponseWriter<Response> responder_;
  bool finishing_ = false;
};

absl::StatusOr<v1::RouteCallResponse> HandleRouteCall(RoutingCore* core,
                                                      const v1::RouteCallRequest& request) {
  return core->RouteCall(request);
}

absl::StatusOr<v1::ReportCallOutcomeResponse> HandleReport(
    RoutingCore* core, const v1::ReportCallOutcomeRequest& request) {
  return core->ReportCallOutcome(request);
}

}  // namespace

AsyncRoutingService::~AsyncRoutingService() { Shutdown(); }

void AsyncRoutingService::Register(grpc::ServerBuilder* builder, int threads) {
  builder->RegisterService(&service_);
  for (int i = 0; i < std::max(threads, 1); ++i) cqs_.push_back(builder->AddCompletionQueue());
}

void AsyncRoutingService::Start() {
  started_ = true;
  for (auto& cq : cqs_) {
    for (int i = 0; i < kPendingPerQueue; ++i) {
      UnaryRpc<v1::RouteCallRequest, v1::RouteCallResponse>::Post(
          &service_, cq.get(), core_, auth_, &v1::RoutingService::AsyncService::RequestRouteCall,
          &HandleRouteCall);
    }
    // Outcome reports are far rarer than decisions; a few pending requests suffice.
    for (int i = 0; i < 4; ++i) {
      UnaryRpc<v1::ReportCallOutcomeRequest, v1::ReportCallOutcomeResponse>::Post(
          &service_, cq.get(), core_, auth_,
          &v1::RoutingService::AsyncService::RequestReportCallOutcome, &HandleReport);
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
