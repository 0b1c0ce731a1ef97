#ifndef TRUNKROUTE_SERVER_CONFIG_SERVICE_H_
#define TRUNKROUTE_SERVER_CONFIG_SERVICE_H_

#include "config/config_manager.h"
#include "router/health_view.h"
#include "server/grpc_auth.h"
#include "trunkroute/v1/config_service.grpc.pb.h"

namespace trunkroute::server {

// ConfigService: every write goes through ConfigManager::Update (validated whole, persisted,
// then swapped). Secrets are write-only: every trunk leaving this service is redacted.
// `health` feeds ExplainRoute so that it explains the decision RouteCall would make right now.
class ConfigServiceImpl final : public v1::ConfigService::Service {
 public:
  ConfigServiceImpl(config::ConfigManager* config, const router::HealthView* health)
      : config_(config), health_(health) {}

  grpc::Status UpsertTrunk(grpc::ServerContext*, const v1::UpsertTrunkRequest*,
                           v1::UpsertTrunkResponse*) override;
  grpc::Status DeleteTrunk(grpc::ServerContext*, const v1::DeleteTrunkRequest*,
                           v1::DeleteTrunkResponse*) override;
  grpc::Status GetTrunk(grpc::ServerContext*, const v1::GetTrunkRequest*, v1::Trunk*) override;
  grpc::Status ListTrunks(grpc::ServerContext*, const v1::ListTrunksRequest*,
                          v1::ListTrunksResponse*) override;
  grpc::Status UpsertRoute(grpc::ServerContext*, const v1::UpsertRouteRequest*,
                           v1::UpsertRouteResponse*) override;
  grpc::Status DeleteRoute(grpc::ServerContext*, const v1::DeleteRouteRequest*,
                           v1::DeleteRouteResponse*) override;
  grpc::Status ListRoutes(grpc::ServerContext*, const v1::ListRoutesRequest*,
                          v1::ListRoutesResponse*) override;
  grpc::Status GetConfig(grpc::ServerContext*, const v1::GetConfigRequest*, v1::Config*) override;
  grpc::Status ApplyConfig(grpc::ServerContext*, const v1::ApplyConfigRequest*,
                           v1::ApplyConfigResponse*) override;
  grpc::Status GetFailoverPolicy(grpc::ServerContext*, const v1::GetFailoverPolicyRequest*,
                                 v1::GetFailoverPolicyResponse*) override;
  grpc::Status UpdateFailoverPolicy(grpc::ServerContext*, const v1::UpdateFailoverPolicyRequest*,
                                    v1::UpdateFailoverPolicyResponse*) override;
  grpc::Status ExplainRoute(grpc::ServerContext*, const v1::ExplainRouteRequest*,
                            v1::ExplainRouteResponse*) override;

  // Every RPC returns the call's authorization decision first (server/grpc_auth.h) and notes
  // what it changed for the audit line; nullptr (the default): open. Set before serving; must
  // outlive the service.
  void SetAuth(const GrpcAuth* auth) { auth_ = auth; }

 private:
  const GrpcAuth* auth_ = nullptr;
  config::ConfigManager* const config_;
  const router::HealthView* const health_;
};

}  // namespace trunkroute::server

#endif  // TRUNKROUTE_SERVER_CONFIG_SERVICE_H_
