#ifndef TRUNKROUTE_HEALTH_TRACKER_H_
#define TRUNKROUTE_HEALTH_TRACKER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/random.h"
#include "health/outcome.h"
#include "health/prober.h"
#include "health/trunk_state.h"
#include "router/health_view.h"
#include "router/routing_table.h"
#include "trunkroute/state/health_state.pb.h"
#include "trunkroute/v1/health.pb.h"

namespace trunkroute::health {

// A state change, as streamed to WatchTrunkHealth and logged/counted.
struct HealthEvent {
  v1::TrunkHealth health;            // state after the change
  v1::HealthState previous_state = v1::HEALTH_STATE_UNSPECIFIED;
};

// A change of one target of a trunk (one address of its host name, see TrunkHealth.targets).
// The trunk's own state may stay the same (another target still serves it).
struct TargetEvent {
  std::string trunk_id;
  std::string target;                                             // "192.0.2.1:5060"
  v1::HealthState previous_state = v1::HEALTH_STATE_UNSPECIFIED;  // UNSPECIFIED: a new target
  v1::HealthState state = v1::HEALTH_STATE_UNSPECIFIED;           // UNSPECIFIED: no longer in DNS
  v1::HealthReason reason = v1::HEALTH_REASON_UNSPECIFIED;
  std::string detail;
};

// What decisions read of a target: its measured state, lock-free.
struct TargetAvailability {
  std::string key;
  v1::HealthState state = v1::HEALTH_STATE_UP;
};
using TargetAvailabilityList = std::vector<TargetAvailability>;

// Observer of health events and outcomes (metrics, logs, watchers). Called without the
// tracker's lock held, on the thread that caused the change; must not call back into the tracker
// synchronously in a way that re-enters a write.
class HealthObserver {
 public:
  virtual ~HealthObserver() = default;
  virtual void OnStateChange(const HealthEvent& event) = 0;
  virtual void OnOutcome(const AttemptOutcome&, OutcomeClass) {}
  virtual void OnProbe(const ProbeResult&, bool /*alive*/) {}
  virtual void OnTargetStateChange(const TargetEvent&) {}
};

// Per-trunk health (design.md §3): UP → DOWN → PROBING → UP, admin DRAINING/FORCED_DOWN/FORCED_UP,
// hold-down with doubling and jitter, Retry-After, probes, recovery ramp, adaptive attempt timeout.
//
// Threading: writes (outcomes, probes, config, Tick) may come from any thread; they serialise on
// one internal mutex (the single owner of state changes). Availability() — the hot path of every
// decision — reads an atomically published per-trunk snapshot and never takes that mutex.
// Time: only from the injected Clock; nothing happens between calls. The host calls Tick() when
// NextDeadline() is reached (tests advance a simulated clock and call Tick()).
class HealthTracker : public router::HealthView {
 public:
  // `prober` may be null (no probes are sent; PROBING trunks recover through real calls).
  HealthTracker(Clock* clock, RandomSource* random, ProbeSender* prober);
  ~HealthTracker() override;

  // Syncs the trunk set and per-trunk policies with a new routing table: unchanged trunks keep
  // their state; new trunks start UP (and are probed at once); deleted trunks' state is dropped;
  // admin_state from config is applied (DRAINING/FORCED_*). Call after every config swap.
  void ApplyTable(const router::RoutingTable& table);

  // An attempt's result. `policy` is the route's effective failover policy (or the global one).
  // Returns its classification.
  OutcomeClass ReportOutcome(const AttemptOutcome& outcome,
                             const router::EffectiveFailoverPolicy& policy);
  // A probe's result (from the ProbeSender's side).
  void ReportProbe(const ProbeResult& result);
  // The addresses a trunk's host name resolved to (from the SIP edge's RFC 3263 resolver).
  // Targets that stay keep their health, new ones start UP and are probed at once, dropped ones
  // are forgotten; an empty list makes the trunk DOWN (UNRESOLVED). Ignored for an unknown trunk
  // or an address the trunk no longer has.
  void SetTargets(const TargetUpdate& update);

  // A hint that the trunk may have failed (another instance ejected it): probes it now if it is
  // UP here, has probes on and no probe outstanding. Never changes its state by itself: only
  // the probe's answer does. True when a probe was sent.
  bool ProbeSoon(std::string_view trunk_id);

  // Fires what is due at clock->Now(): hold-down expiries (DOWN → PROBING), probes due (sent via
  // the ProbeSender), probe timeouts not yet reported, ramp completion.
  void Tick();
  // When Tick() next has something to do (MonoTime::max() if nothing scheduled).
  MonoTime NextDeadline() const;

  // HealthView: lock-free read of the published snapshot. `reason` points into storage the
  // tracker keeps for its whole lifetime (never freed while it lives), so it stays valid after
  // later state changes.
  router::TrunkAvailability Availability(std::string_view trunk_id) const override;

  // The trunk's targets and their measured states, in the resolver's order; null for a trunk
  // without resolved targets (an IP literal, a name not resolved yet) or an unknown one. Lock-free
  // like Availability().
  std::shared_ptr<const TargetAvailabilityList> TargetStates(std::string_view trunk_id) const;

  // For ListTrunkHealth, sorted by trunk id.
  std::vector<v1::TrunkHealth> List() const;
  // NotFound-style empty optional when unknown.
  bool Get(std::string_view trunk_id, v1::TrunkHealth* out) const;

  // Warm restart (docs/health.md). Export: every trunk's measured health with what restoring it
  // needs (ejection history, hold-down deadlines converted to the wall clock), sorted by id; a
  // copy taken under the lock, so the caller writes it out wherever it likes. `version`, when
  // given, is the StateVersion() the copy reflects.
  state::HealthStateFile Export(uint64_t* version = nullptr) const;
  // Bumped by every change that Export would show differently (state changes, hold-downs
  // extended, trunks added or removed): a writer compares it with what it last wrote. Lock-free.
  uint64_t StateVersion() const;
  // What an earlier run exported, for the next ApplyTable (call it before the first): each trunk
  // that table creates takes its saved state (TrunkState::Create) instead of starting UP, so the
  // first decision already skips a trunk that was ejected. Saved trunks the table does not have
  // are logged and dropped; the records are used once.
  void SetRestoreState(state::HealthStateFile saved);

  // Observers (metrics, WatchTrunkHealth streams). The returned id unregisters.
  // Callbacks arrive in the order the events happened (one delivery at a time across threads).
  uint64_t AddObserver(std::shared_ptr<HealthObserver> observer);
  // The same, and fills `snapshot` with List() taken atomically with the registration: the
  // observer then receives exactly the events that happen after that snapshot (what
  // WatchTrunkHealth needs to stream "a snapshot, then every change" with no gap or repeat).
  uint64_t AddObserver(std::shared_ptr<HealthObserver> observer,
                       std::vector<v1::TrunkHealth>* snapshot);
  // After it returns the observer is not called again (unless called from inside one of its own
  // callbacks, where the current delivery may still reach it once).
  void RemoveObserver(uint64_t id);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// Drives a tracker on real time: a thread that sleeps until NextDeadline() (or a wake-up) and
// calls Tick(). Stops in the destructor.
class HealthTimerThread {
 public:
  explicit HealthTimerThread(HealthTracker* tracker);
  ~HealthTimerThread();
  // Wake the thread to recompute its deadline (after config changes or outcomes).
  void Wake();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace trunkroute::health

#endif  // TRUNKROUTE_HEALTH_TRACKER_H_
