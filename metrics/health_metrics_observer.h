#ifndef TRUNKROUTE_METRICS_HEALTH_METRICS_OBSERVER_H_
#define TRUNKROUTE_METRICS_HEALTH_METRICS_OBSERVER_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "health/tracker.h"
#include "metrics/trunkroute_metrics.h"

namespace trunkroute::metrics {

// Turns health events into metrics: trunk state gauge, transitions, ejections, attempts by
// outcome class, auth failures, probes and probe RTT. Wiring:
//   std::vector<v1::TrunkHealth> snapshot;
//   tracker.AddObserver(observer, &snapshot);
//   observer->SyncTrunks(snapshot);
// and after every config apply (the tracker sends no event for a deleted trunk):
//   tracker.ApplyTable(*table); observer->SyncTrunks(tracker.List());
//
// Threading: callbacks may arrive concurrently from any thread. Per-trunk series handles are
// resolved once and cached, so an outcome or probe costs a shared lock on the cache plus atomic
// increments. State changes carry since_unix_ms; one older than the last applied for that trunk
// (two threads racing to report) does not overwrite the state gauge.
class HealthMetricsObserver final : public health::HealthObserver {
 public:
  // `metrics` must outlive the observer.
  explicit HealthMetricsObserver(TrunkrouteMetrics* metrics);

  void OnStateChange(const health::HealthEvent& event) override;
  void OnOutcome(const health::AttemptOutcome& outcome, health::OutcomeClass cls) override;
  void OnProbe(const health::ProbeResult& result, bool alive) override;
  // trunkroute_trunk_target_health_state for targets of trunks this observer exports.
  void OnTargetStateChange(const health::TargetEvent& event) override;

  // Reconciles with the tracker's full list: sets every listed trunk's state gauge and hides
  // every series of trunks seen before but not listed any more.
  //
  // Which trunks are exported: those this observer has been told about by a state change (the
  // tracker reports UNSPECIFIED → UP for every new trunk) or by SyncTrunks. Outcomes and probes
  // for any other trunk id, or for one hidden since, are dropped: the label set stays bounded by
  // the configured trunks, and a call in flight when its trunk was deleted does not bring the
  // trunk's series back.
  void SyncTrunks(const std::vector<v1::TrunkHealth>& trunks);

  // Label value of an outcome class: "success", "failover", "callee_final", "auth_failed",
  // "ring_no_answer" (ReportCallOutcomeResponse.outcome_class's names, in lower case like every
  // label value of ours).
  static std::string_view OutcomeLabel(health::OutcomeClass cls);

 private:
  static constexpr size_t kOutcomeClasses = 5;
  static constexpr size_t kProbeResults = 4;
  static constexpr size_t kStates = std::size(kExportedHealthStates);

  // Every per-trunk series the hot callbacks touch, resolved once.
  struct TrunkSeries {
    std::array<Counter*, kOutcomeClasses> attempts{};
    Counter* auth_failures = nullptr;
    Counter* tls_failures = nullptr;
    std::array<Counter*, kProbeResults> probes{};
    Histogram* probe_rtt = nullptr;
    std::array<Gauge*, kStates> state{};
    int64_t state_since_unix_ms = INT64_MIN;
    // Hidden by SyncTrunks or a state change to UNSPECIFIED. Entries are never deleted, so a
    // pointer handed out by Find() stays valid while another thread forgets the trunk.
    bool forgotten = false;
  };

  // Cached series for a known, live trunk; null otherwise.
  TrunkSeries* Find(std::string_view trunk_id) ABSL_LOCKS_EXCLUDED(mu_);
  // Creates, or brings a forgotten trunk's series back.
  TrunkSeries* FindOrCreateLocked(std::string_view trunk_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SetStateLocked(TrunkSeries* series, v1::HealthState state)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ForgetLocked(const std::string& trunk_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  TrunkrouteMetrics* const metrics_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<TrunkSeries>> trunks_ ABSL_GUARDED_BY(mu_);
};

}  // namespace trunkroute::metrics

#endif  // TRUNKROUTE_METRICS_HEALTH_METRICS_OBSERVER_H_
