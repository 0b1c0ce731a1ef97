#include "daemon/metrics_bridge.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

#include "absl/container/flat_hash_map.h"

namespace trunkroute::daemon {
namespace {

std::atomic<uint64_t> next_bridge_id{1};

double Seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

struct CachedSeries {
  void* series = nullptr;
  uint64_t removals = 0;  // the family's removals() when `series` was resolved
};

}  // namespace

MetricsBridge::MetricsBridge(metrics::TrunkrouteMetrics* metrics)
    : metrics_(metrics),
      id_(next_bridge_id.fetch_add(1, std::memory_order_relaxed)),
      decision_duration_(metrics->decision_duration->WithLabels({})) {}

template <typename T>
T* MetricsBridge::Series(metrics::Family<T>* family,
                         std::initializer_list<std::string_view> labels) {
  thread_local std::string key;
  thread_local absl::flat_hash_map<std::string, CachedSeries> cache;
  key.clear();
  key.append(reinterpret_cast<const char*>(&id_), sizeof(id_));
  // The family's address tells families apart; the bridge id (above) keeps a new registry that
  // reuses an old address from matching stale entries.
  const auto family_address =
      reinterpret_cast<uintptr_t>(static_cast<metrics::FamilyBase*>(family));
  key.append(reinterpret_cast<const char*>(&family_address), sizeof(family_address));
  for (std::string_view label : labels) {
    key.append(label);
    key.push_back('\xff');  // never in a label value we pass (ids, fixed words): no ambiguity
  }
  const uint64_t removals = family->removals();
  auto it = cache.find(key);
  if (it != cache.end() && it->second.removals == removals) {
    return static_cast<T*>(it->second.series);
  }
  T* series = family->WithLabels(labels);
  cache.insert_or_assign(key, CachedSeries{series, removals});
  return series;
}

void MetricsBridge::OnDecision(std::string_view route_id, std::string_view result,
                               Duration elapsed) {
  Series(metrics_->route_decisions, {route_id, result})->Inc();
  if (result == router::kResultPanic) Series(metrics_->panic_decisions, {route_id})->Inc();
  decision_duration_->Observe(Seconds(elapsed));
}

void MetricsBridge::OnFailover(std::string_view route_id, std::string_view from,
                               std::string_view to, std::string_view reason) {
  Series(metrics_->failovers, {route_id, from, to, reason})->Inc();
}

void MetricsBridge::OnTargetFailover(std::string_view route_id, std::string_view trunk_id,
                                     std::string_view /*from*/, std::string_view /*to*/,
                                     std::string_view reason) {
  // Targets stay out of the labels: route × trunk × reason is bounded by the config alone.
  Series(metrics_->target_failovers, {route_id, trunk_id, reason})->Inc();
}

void MetricsBridge::OnPostDialDelay(std::string_view trunk_id, Duration delay) {
  Series(metrics_->post_dial_delay, {trunk_id})->Observe(Seconds(delay));
}

void MetricsBridge::OnActiveCalls(std::string_view trunk_id, int delta) {
  Series(metrics_->active_calls, {trunk_id})->Add(static_cast<double>(delta));
}

void MetricsBridge::OnRejected(int status, std::string_view reason) {
  // SIP status codes are 100-699: a fixed-size buffer, no allocation.
  char code[8];
  const int n = std::snprintf(code, sizeof(code), "%d", status);
  Series(metrics_->edge_rejections,
         {std::string_view(code, n > 0 ? static_cast<size_t>(n) : 0), reason})
      ->Inc();
}

void MetricsBridge::OnRpcDone(std::string_view method, grpc::StatusCode code) {
  Series(metrics_->grpc_requests, {method, server::StatusCodeName(code)})->Inc();
}

void MetricsBridge::OnConfigSource(std::string_view source) { metrics_->SetConfigSource(source); }

void MetricsBridge::OnOverloadReading(const sip::OverloadReading& reading) {
  // Ten times a second from the SIP thread: four lookups of label-less series, no cache needed.
  metrics_->edge_overloaded->WithLabels({})->Set(reading.overloaded ? 1 : 0);
  metrics_->edge_admitted_ratio->WithLabels({})->Set(reading.admit_fraction);
  metrics_->edge_loop_lag->WithLabels({})->Set(
      std::chrono::duration<double>(reading.smoothed_lag).count());
  metrics_->edge_udp_queue->WithLabels({})->Set(reading.standing_fill);
}

void MetricsBridge::OnEtcdReachable(bool reachable) {
  metrics_->etcd_up->WithLabels({})->Set(reachable ? 1 : 0);
}

void MetricsBridge::OnConfigFollowed(Duration propagation) {
  metrics_->config_propagation->WithLabels({})->Observe(
      std::chrono::duration<double>(propagation).count());
}

void MetricsBridge::OnConfigRejected() { metrics_->config_rejected->WithLabels({})->Inc(); }

void MetricsBridge::OnCasConflict() { metrics_->config_cas_conflicts->WithLabels({})->Inc(); }

void MetricsBridge::OnInstancesSeen(int count) {
  metrics_->cluster_instances->WithLabels({})->Set(count);
}

void MetricsBridge::OnProbeHint(std::string_view trunk_id) {
  metrics_->cluster_probe_hints->WithLabels({trunk_id})->Inc();
}

}  // namespace trunkroute::daemon
