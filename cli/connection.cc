#include "cli/connection.h"

#include <chrono>

namespace trunkroute::cli {

std::string StatusCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      break;
  }
  return "CODE_" + std::to_string(static_cast<int>(code));
}

Connection::Connection(const GlobalOptions& options) : options_(options) {
  // RPCs are fail-fast (no wait_for_ready): a refused connection fails the call at once with
  // UNAVAILABLE (exit 3) instead of waiting in reconnect backoff until the deadline.
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  grpc::ChannelArguments args;
  if (options_.tls) {
    grpc::SslCredentialsOptions tls;
    tls.pem_root_certs = options_.tls_ca_pem;
    tls.pem_cert_chain = options_.tls_cert_pem;
    tls.pem_private_key = options_.tls_key_pem;
    credentials = grpc::SslCredentials(tls);
    if (!options_.tls_server_name.empty()) {
      args.SetSslTargetNameOverride(options_.tls_server_name);
    }
  }
  channel_ = grpc::CreateCustomChannel(options_.server, credentials, args);
  config_ = v1::ConfigService::NewStub(channel_);
  routing_ = v1::RoutingService::NewStub(channel_);
  health_ = v1::HealthService::NewStub(channel_);
  admin_ = v1::AdminService::NewStub(channel_);
  cluster_ = v1::ClusterService::NewStub(channel_);
  serving_ = grpc::health::v1::Health::NewStub(channel_);
}

std::unique_ptr<grpc::ClientContext> Connection::NewContext(bool with_deadline) const {
  auto context = std::make_unique<grpc::ClientContext>();
  if (with_deadline || options_.timeout_given) {
    auto timeout = std::chrono::duration_cast<std::chrono::system_clock::duration>(
        std::chrono::duration<double>(options_.timeout_s));
    context->set_deadline(std::chrono::system_clock::now() + timeout);
  }
  if (!options_.token.empty()) context->AddMetadata("authorization", "Bearer " + options_.token);
  return context;
}

bool Connection::Connected() const {
  return channel_->GetState(/*try_to_connect=*/false) == GRPC_CHANNEL_READY;
}

int Connection::Fail(const grpc::Status& status, std::ostream& err) const {
  const grpc::StatusCode code = status.error_code();
  bool unreachable = code == grpc::StatusCode::DEADLINE_EXCEEDED;
  if (code == grpc::StatusCode::UNAVAILABLE && !Connected()) unreachable = true;
  err << "error: " << StatusCodeName(code) << ": ";
  if (unreachable) err << "no answer from " << options_.server << ": ";
  // INVALID_ARGUMENT carries one line per problem: printed whole, as the server wrote it.
  err << status.error_message() << '\n';
  if (unreachable) return kExitUnreachable;
  switch (code) {
    case grpc::StatusCode::NOT_FOUND:
      return kExitNotFound;
    case grpc::StatusCode::ABORTED:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::ALREADY_EXISTS:
      return kExitConflict;
    default:
      return kExitRpcError;
  }
}

}  // namespace trunkroute::cli
