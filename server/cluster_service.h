#ifndef TRUNKROUTE_SERVER_CLUSTER_SERVICE_H_
#define TRUNKROUTE_SERVER_CLUSTER_SERVICE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/grpc_auth.h"
#include "trunkroute/v1/cluster.grpc.pb.h"

namespace trunkroute::server {

// Where ClusterService gets its answer: etcd's instance records (clustered mode), or this
// instance alone (the file store). Thread-safe.
class ClusterStatusSource {
 public:
  virtual ~ClusterStatusSource() = default;
  virtual absl::StatusOr<v1::ListInstancesResponse> ListInstances() = 0;
};

// The answer of ListInstances from the raw records: instances sorted by id, `self` and
// `config_drift` marked (a config revision below `newest_revision`; 0: unknown, nothing marked),
// and every trunk that some instances see DOWN or PROBING while others see it UP.
v1::ListInstancesResponse SummarizeCluster(std::vector<v1::InstanceInfo> instances,
                                           const std::string& self_id, uint64_t newest_revision,
                                           uint64_t newest_version, bool clustered,
                                           bool etcd_reachable);

// trunkroute.v1.ClusterService (`trunkroutectl cluster status`).
class ClusterServiceImpl final : public v1::ClusterService::Service {
 public:
  // `source` must outlive the service.
  explicit ClusterServiceImpl(ClusterStatusSource* source) : source_(source) {}
  grpc::Status ListInstances(grpc::ServerContext* context, const v1::ListInstancesRequest* request,
                             v1::ListInstancesResponse* response) override;
  // Same as the other services: nullptr (default) is open. Set before serving.
  void SetAuth(const GrpcAuth* auth) { auth_ = auth; }

 private:
  ClusterStatusSource* const source_;
  const GrpcAuth* auth_ = nullptr;
};

}  // namespace trunkroute::server

#endif  // TRUNKROUTE_SERVER_CLUSTER_SERVICE_H_
