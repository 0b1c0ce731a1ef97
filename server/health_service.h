#ifndef TRUNKROUTE_SERVER_HEALTH_SERVICE_H_
#define TRUNKROUTE_SERVER_HEALTH_SERVICE_H_

#include <cstddef>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "config/config_manager.h"
#include "health/tracker.h"
#include "server/grpc_auth.h"
#include "trunkroute/v1/health.grpc.pb.h"

namespace trunkroute::server {

// HealthService. Watch streams hold one sync-server thread each; they end when the client
// cancels, when the watcher falls more than kMaxQueuedEvents behind (RESOURCE_EXHAUSTED: the
// client re-watches and gets a fresh snapshot rather than a silently gapped history), or when
// Shutdown() is called (OK).
class HealthServiceImpl final : public v1::HealthService::Service {
 public:
  static constexpr size_t kMaxQueuedEvents = 1024;

  HealthServiceImpl(config::ConfigManager* config, health::HealthTracker* health)
      : config_(config), health_(health) {}
  ~HealthServiceImpl() override;

  grpc::Status ListTrunkHealth(grpc::ServerContext*, const v1::ListTrunkHealthRequest*,
                               v1::ListTrunkHealthResponse*) override;
  grpc::Status WatchTrunkHealth(grpc::ServerContext*, const v1::WatchTrunkHealthRequest*,
                                grpc::ServerWriter<v1::TrunkHealthEvent>*) override;
  // Persists admin_state in the trunk's config (so it survives restarts), then answers with the
  // trunk's health as the tracker sees it after applying that config.
  grpc::Status SetTrunkAdminState(grpc::ServerContext*, const v1::SetTrunkAdminStateRequest*,
                                  v1::SetTrunkAdminStateResponse*) override;

  // Ends every watch stream and refuses new ones; call before grpc::Server::Shutdown so that
  // shutdown does not wait for streams that never end on their own.
  void Shutdown();

  // Every RPC returns the call's authorization decision first (server/grpc_auth.h) and notes
  // what it changed for the audit line; nullptr (the default): open. Set before serving; must
  // outlive the service.
  void SetAuth(const GrpcAuth* auth) { auth_ = auth; }

 private:
  const GrpcAuth* auth_ = nullptr;
  class Watcher;

  config::ConfigManager* const config_;
  health::HealthTracker* const health_;
  absl::Mutex mu_;
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_set<std::shared_ptr<Watcher>> watchers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace trunkroute::server

#endif  // TRUNKROUTE_SERVER_HEALTH_SERVICE_H_
