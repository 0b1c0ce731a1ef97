#ifndef TRUNKROUTE_SERVER_ADMIN_SERVICE_H_
#define TRUNKROUTE_SERVER_ADMIN_SERVICE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <utility>

#include "server/grpc_auth.h"
#include "trunkroute/v1/admin.grpc.pb.h"

namespace trunkroute::server {

// trunkroute.v1.AdminService: process-level operations that are not config. The log level and
// JSON-lines switch are the process-wide settings of common/log.h, so a change is visible to
// every thread's next log line. Thread-safe.
class AdminServiceImpl final : public v1::AdminService::Service {
 public:
  struct Info {
    std::string version;  // build version, e.g. "0.1.0"
    int64_t started_at_unix_ms = 0;
    std::string grpc_listen;  // as configured, e.g. "127.0.0.1:50051"
    std::string http_listen;  // empty when the HTTP listener is off
    std::string sip_listen;
    // Returns the config version serving now (called per GetServerInfo; must be cheap and
    // thread-safe). May be empty: version 0 is reported.
    std::function<uint64_t()> config_version;
    // Fills the config source and the clustered-mode fields (config_source, clustered,
    // instance_id, etcd_*, config_revision). May be empty: config_source "file".
    std::function<void(v1::GetServerInfoResponse*)> config_status;
  };

  explicit AdminServiceImpl(Info info) : info_(std::move(info)) {}

  // INVALID_ARGUMENT naming `level` and the accepted values when the level is unknown; nothing
  // changes then (not even the JSON switch).
  grpc::Status SetLogLevel(grpc::ServerContext* context, const v1::SetLogLevelRequest* request,
                           v1::SetLogLevelResponse* response) override;
  grpc::Status GetServerInfo(grpc::ServerContext* context, const v1::GetServerInfoRequest* request,
                             v1::GetServerInfoResponse* response) override;

  // Every RPC returns the call's authorization decision first (server/grpc_auth.h) and notes
  // what it changed for the audit line; nullptr (the default): open. Set before serving; must
  // outlive the service.
  void SetAuth(const GrpcAuth* auth) { auth_ = auth; }

 private:
  const GrpcAuth* auth_ = nullptr;
  const Info info_;
};

}  // namespace trunkroute::server

#endif  // TRUNKROUTE_SERVER_ADMIN_SERVICE_H_
