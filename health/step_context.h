#ifndef TRUNKROUTE_HEALTH_STEP_CONTEXT_H_
#define TRUNKROUTE_HEALTH_STEP_CONTEXT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/random.h"
#include "health/prober.h"
#include "trunkroute/v1/health.pb.h"

namespace trunkroute::health {

// One change of a trunk's reported state (what decisions and ListTrunkHealth see) and/or its
// measured state (what outcomes and probes say, under any admin override).
struct Transition {
  v1::HealthState from_reported = v1::HEALTH_STATE_UNSPECIFIED;
  v1::HealthState to_reported = v1::HEALTH_STATE_UNSPECIFIED;
  v1::HealthState from_measured = v1::HEALTH_STATE_UNSPECIFIED;
  v1::HealthState to_measured = v1::HEALTH_STATE_UNSPECIFIED;
  v1::HealthReason reason = v1::HEALTH_REASON_UNSPECIFIED;
  std::string detail;
  bool reported_changed() const { return from_reported != to_reported; }
};

// One change of a target's measured state (see TargetState).
struct TargetTransition {
  std::string key;
  v1::HealthState from = v1::HEALTH_STATE_UNSPECIFIED;  // UNSPECIFIED: a new target
  v1::HealthState to = v1::HEALTH_STATE_UNSPECIFIED;    // UNSPECIFIED: a target dropped
  v1::HealthReason reason = v1::HEALTH_REASON_UNSPECIFIED;
  std::string detail;
};

// What a step needs from its caller (time, randomness, the probe id counter) and what it hands
// back (transitions to log and stream, probes to send once the tracker's lock is released).
struct StepContext {
  MonoTime now;
  const Clock* clock = nullptr;  // for the wall time, read only when a state changes
  int64_t WallMs() {
    if (!wall_ms_read) {
      wall_ms = clock->WallUnixMs();
      wall_ms_read = true;
    }
    return wall_ms;
  }
  int64_t wall_ms = 0;
  bool wall_ms_read = false;
  RandomSource* random = nullptr;
  bool can_probe = false;       // a ProbeSender exists
  bool resolves_names = false;  // ... and it reports host names' targets (ProbeSender)
  uint64_t* next_probe_id = nullptr;
  std::vector<ProbeTarget>* probes = nullptr;
  std::vector<Transition> transitions;
  std::vector<TargetTransition> target_transitions;
  std::vector<ProbeResult> expired_probes;  // probes Tick declared timed out (for observers)
  bool view_changed = false;                // the published view of this trunk must be rebuilt
  // What a saved state (HealthTracker::Export) holds changed without a transition (a hold-down
  // extended); transitions count as changes anyway.
  bool state_changed = false;
};

}  // namespace trunkroute::health

#endif  // TRUNKROUTE_HEALTH_STEP_CONTEXT_H_
