#include "metrics/health_metrics_observer.h"

#include <array>
#include <chrono>
#include <string>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "health/outcome.h"

namespace trunkroute::metrics {
namespace {

// Debian's Abseil has its own string_view; hash-map lookups by key need it.
absl::string_view Key(std::string_view s) { return absl::string_view(s.data(), s.size()); }

constexpr health::OutcomeClass kOutcomeOrder[] = {
    health::OutcomeClass::kSuccess, health::OutcomeClass::kFailover,
    health::OutcomeClass::kCalleeFinal, health::OutcomeClass::kAuthFailed,
    health::OutcomeClass::kRingNoAnswer};

constexpr std::string_view kProbeResultOrder[] = {kProbeAlive, kProbeFailedStatus, kProbeTimeout,
                                                  kProbeTransportError};

size_t OutcomeIndex(health::OutcomeClass cls) {
  for (size_t i = 0; i < std::size(kOutcomeOrder); ++i) {
    if (kOutcomeOrder[i] == cls) return i;
  }
  return 0;
}

size_t ProbeResultIndex(const health::ProbeResult& result, bool alive) {
  if (alive) return 0;
  if (result.timed_out) return 2;
  if (result.transport_error) return 3;
  return 1;  // answered with a status that counts as dead (408/503 by default)
}

}  // namespace

HealthMetricsObserver::HealthMetricsObserver(TrunkrouteMetrics* metrics) : metrics_(metrics) {}

std::string_view HealthMetricsObserver::OutcomeLabel(health::OutcomeClass cls) {
  // ReportCallOutcomeResponse.outcome_class's names (one vocabulary with the API), in lower
  // case like every label value of ours.
  static const std::array<std::string, std::size(kOutcomeOrder)>* const labels = [] {
    auto* out = new std::array<std::string, std::size(kOutcomeOrder)>();
    for (size_t i = 0; i < std::size(kOutcomeOrder); ++i) {
      const std::string_view name = health::OutcomeClassName(kOutcomeOrder[i]);
      (*out)[i] = absl::AsciiStrToLower(absl::string_view(name.data(), name.size()));
    }
    return out;
  }();
  return (*labels)[OutcomeIndex(cls)];
}

HealthMetricsObserver::TrunkSeries* HealthMetricsObserver::Find(std::string_view trunk_id) {
  absl::ReaderMutexLock lock(&mu_);
  auto it = trunks_.find(Key(trunk_id));
  if (it == trunks_.end() || it->second->forgotten) return nullptr;
  return it->second.get();
}

HealthMetricsObserver::TrunkSeries* HealthMetricsObserver::FindOrCreateLocked(
    std::string_view trunk_id) {
  auto [it, inserted] = trunks_.try_emplace(Key(trunk_id));
  if (inserted) {
    it->second = std::make_unique<TrunkSeries>();
  } else if (!it->second->forgotten) {
    return it->second.get();
  }
  // New or coming back: WithLabels creates the series, or makes hidden ones visible again (the
  // same objects, so handles cached by callbacks in flight stay right).
  TrunkSeries& series = *it->second;
  series.forgotten = false;
  for (size_t i = 0; i < kOutcomeClasses; ++i) {
    series.attempts[i] =
        metrics_->call_attempts->WithLabels({trunk_id, OutcomeLabel(kOutcomeOrder[i])});
  }
  series.auth_failures = metrics_->auth_failures->WithLabels({trunk_id});
  series.tls_failures = metrics_->tls_failures->WithLabels({trunk_id});
  for (size_t i = 0; i < kProbeResults; ++i) {
    series.probes[i] = metrics_->probes->WithLabels({trunk_id, kProbeResultOrder[i]});
  }
  series.probe_rtt = metrics_->probe_rtt->WithLabels({trunk_id});
  for (size_t i = 0; i < kStates; ++i) {
    series.state[i] = metrics_->trunk_health_state->WithLabels(
        {trunk_id, HealthStateLabel(kExportedHealthStates[i])});
  }
  return &series;
}

void HealthMetricsObserver::SetStateLocked(TrunkSeries* series, v1::HealthState state) {
  for (size_t i = 0; i < kStates; ++i) {
    series->state[i]->Set(kExportedHealthStates[i] == state ? 1 : 0);
  }
}

void HealthMetricsObserver::ForgetLocked(const std::string& trunk_id) {
  auto [it, inserted] = trunks_.try_emplace(trunk_id);
  if (inserted) it->second = std::make_unique<TrunkSeries>();
  it->second->forgotten = true;
  it->second->state_since_unix_ms = INT64_MIN;
  metrics_->ForgetTrunk(trunk_id);
}

void HealthMetricsObserver::OnStateChange(const health::HealthEvent& event) {
  const v1::TrunkHealth& h = event.health;
  const std::string& trunk = h.trunk_id();
  if (trunk.empty()) return;
  v1::HealthState to = h.state();
  v1::HealthState from = event.previous_state;
  {
    absl::MutexLock lock(&mu_);
    if (to == v1::HEALTH_STATE_UNSPECIFIED) {
      // No state any more: the tracker dropped the trunk.
      ForgetLocked(trunk);
      return;
    }
    TrunkSeries* series = FindOrCreateLocked(trunk);
    if (h.since_unix_ms() >= series->state_since_unix_ms) {
      series->state_since_unix_ms = h.since_unix_ms();
      SetStateLocked(series, to);
    }
  }
  // A trunk's first appearance is not a transition.
  if (from == v1::HEALTH_STATE_UNSPECIFIED || from == to) return;
  metrics_->health_transitions->WithLabels({trunk, HealthStateLabel(from), HealthStateLabel(to)})
      ->Inc();
  if (to == v1::HEALTH_STATE_DOWN) {
    metrics_->ejections->WithLabels({trunk, HealthReasonLabel(h.reason())})->Inc();
  }
}

void HealthMetricsObserver::OnOutcome(const health::AttemptOutcome& outcome,
                                      health::OutcomeClass cls) {
  TrunkSeries* series = Find(outcome.trunk_id);
  if (series == nullptr) return;
  series->attempts[OutcomeIndex(cls)]->Inc();
  if (cls == health::OutcomeClass::kAuthFailed) series->auth_failures->Inc();
  if (!outcome.tls_failure.empty()) series->tls_failures->Inc();
}

void HealthMetricsObserver::OnProbe(const health::ProbeResult& result, bool alive) {
  TrunkSeries* series = Find(result.trunk_id);
  if (series == nullptr) return;
  series->probes[ProbeResultIndex(result, alive)]->Inc();
  if (!result.tls_failure.empty()) series->tls_failures->Inc();
  if (result.sip_status != 0 && !result.timed_out) {
    series->probe_rtt->Observe(std::chrono::duration<double>(result.rtt).count());
  }
}

void HealthMetricsObserver::OnTargetStateChange(const health::TargetEvent& event) {
  if (Find(event.trunk_id) == nullptr) return;  // not an exported trunk (or deleted since)
  metrics_->SetTargetState(event.trunk_id, event.target, event.state);
}

void HealthMetricsObserver::SyncTrunks(const std::vector<v1::TrunkHealth>& trunks) {
  absl::MutexLock lock(&mu_);
  absl::flat_hash_set<std::string> listed;
  for (const v1::TrunkHealth& h : trunks) {
    if (h.trunk_id().empty()) continue;
    listed.insert(h.trunk_id());
    TrunkSeries* series = FindOrCreateLocked(h.trunk_id());
    if (h.since_unix_ms() >= series->state_since_unix_ms) {
      series->state_since_unix_ms = h.since_unix_ms();
      SetStateLocked(series, h.state());
    }
    for (const v1::TargetHealth& t : h.targets()) {
      metrics_->SetTargetState(h.trunk_id(), t.target(), t.state());
    }
  }
  std::vector<std::string> gone;
  for (const auto& entry : trunks_) {
    if (!entry.second->forgotten && !listed.contains(entry.first)) gone.push_back(entry.first);
  }
  for (const std::string& trunk : gone) ForgetLocked(trunk);
}

}  // namespace trunkroute::metrics
