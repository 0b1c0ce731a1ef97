#include "server/rpc_observer.h"

#include <array>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace trunkroute::server {
namespace {

using grpc::experimental::InterceptionHookPoints;

class ObservingInterceptor final : public grpc::experimental::Interceptor {
 public:
  ObservingInterceptor(grpc::experimental::ServerRpcInfo* info, RpcObserver* observer)
      : method_(info->method() != nullptr ? info->method() : ""), observer_(observer) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    // PRE_SEND_STATUS is the one point every answered RPC (unary, streaming, sync, async)
    // passes exactly once, with its final status in hand.
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      observer_->OnRpcDone(method_, methods->GetSendStatus().error_code());
    }
    methods->Proceed();
  }

 private:
  std::string_view method_;
  RpcObserver* const observer_;
};

class ObservingFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  ObservingFactory(RpcObserver* observer, std::vector<std::string> reported_by_handler)
      : observer_(observer), reported_by_handler_(std::move(reported_by_handler)) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    if (info->method() != nullptr) {
      for (const std::string& m : reported_by_handler_) {
        if (m == info->method()) return nullptr;  // no interceptor for this call
      }
    }
    return new ObservingInterceptor(info, observer_);  // gRPC owns and deletes it
  }

 private:
  RpcObserver* const observer_;
  const std::vector<std::string> reported_by_handler_;
};

}  // namespace

std::string_view StatusCodeName(grpc::StatusCode code) {
  // gRPC's codes are Abseil's codes, 0-16; the names are built once so the hot path returns a
  // view without allocating.
  static const std::array<std::string, 17>* const names = [] {
    auto* n = new std::array<std::string, 17>;
    for (size_t i = 0; i < n->size(); ++i) {
      (*n)[i] = absl::StatusCodeToString(static_cast<absl::StatusCode>(i));
    }
    return n;
  }();
  const int value = static_cast<int>(code);
  if (value < 0 || value >= static_cast<int>(names->size())) return "UNKNOWN";
  return (*names)[static_cast<size_t>(value)];
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> MakeRpcObserverInterceptor(
    RpcObserver* observer, std::vector<std::string> reported_by_handler) {
  return std::make_unique<ObservingFactory>(observer, std::move(reported_by_handler));
}

}  // namespace trunkroute::server
