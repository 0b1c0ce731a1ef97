#ifndef TRUNKROUTE_DAEMON_METRICS_BRIDGE_H_
#define TRUNKROUTE_DAEMON_METRICS_BRIDGE_H_

#include <cstdint>
#include <initializer_list>
#include <string_view>

#include "cluster/cluster_observer.h"
#include "metrics/trunkroute_metrics.h"
#include "server/rpc_observer.h"
#include "sip/edge.h"

namespace trunkroute::daemon {

// Turns the hooks of the parts trunkrouted is made of into trunkroute_ metrics:
// - routing decisions from RouteCall (gRPC and HTTP) and from the SIP edge
//   (route_decisions_total, route_decision_duration_seconds, panic_decisions_total);
// - the edge's call hooks (failovers_total, post_dial_delay_seconds, active_calls,
//   edge_rejections_total);
// - every answered gRPC request (grpc_requests_total);
// - the clustered mode's events (config_source, etcd_up, config_propagation_seconds,
//   config_cas_conflicts_total, config_rejected_total, cluster_instances,
//   cluster_probe_hints_total).
// Health-driven series (states, transitions, attempts, probes) come from
// metrics::HealthMetricsObserver instead.
//
// Hooks run on the SIP thread and on gRPC threads at call rate. Each thread keeps its own map
// from label values to the registry's series handle, so after a label set's first use an update
// is one hash lookup and one relaxed atomic add: no lock, no allocation, nothing shared to
// contend on. A series the registry hid (a deleted trunk) is looked up again, so it comes back
// if its labels are used again.
class MetricsBridge final : public sip::EdgeObserver,
                            public server::RpcObserver,
                            public cluster::ClusterObserver {
 public:
  // `metrics` must outlive the bridge.
  explicit MetricsBridge(metrics::TrunkrouteMetrics* metrics);

  // router::DecisionObserver (through sip::EdgeObserver).
  void OnDecision(std::string_view route_id, std::string_view result, Duration elapsed) override;
  // sip::EdgeObserver.
  void OnFailover(std::string_view route_id, std::string_view from, std::string_view to,
                  std::string_view reason) override;
  void OnTargetFailover(std::string_view route_id, std::string_view trunk_id, std::string_view from,
                        std::string_view to, std::string_view reason) override;
  void OnPostDialDelay(std::string_view trunk_id, Duration delay) override;
  void OnActiveCalls(std::string_view trunk_id, int delta) override;
  void OnRejected(int status, std::string_view reason) override;
  void OnOverloadReading(const sip::OverloadReading& reading) override;
  // server::RpcObserver.
  void OnRpcDone(std::string_view method, grpc::StatusCode code) override;
  // cluster::ClusterObserver (cluster threads; rare events, so no per-thread cache).
  void OnConfigSource(std::string_view source) override;
  void OnEtcdReachable(bool reachable) override;
  void OnConfigFollowed(Duration propagation) override;
  void OnConfigRejected() override;
  void OnCasConflict() override;
  void OnInstancesSeen(int count) override;
  void OnProbeHint(std::string_view trunk_id) override;

 private:
  template <typename T>
  T* Series(metrics::Family<T>* family, std::initializer_list<std::string_view> labels);

  metrics::TrunkrouteMetrics* const metrics_;
  // Never reused, so a thread's cache entries of a destroyed bridge can never match a new one.
  const uint64_t id_;
  metrics::Histogram* const decision_duration_;
};

}  // namespace trunkroute::daemon

#endif  // TRUNKROUTE_DAEMON_METRICS_BRIDGE_H_
