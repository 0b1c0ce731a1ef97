#ifndef TRUNKROUTE_TESTS_METRICS_POPULATE_METRICS_H_
#define TRUNKROUTE_TESTS_METRICS_POPULATE_METRICS_H_

// Fills every trunkroute_ family with realistic series, through the same paths production uses
// (the health observer for health metrics, direct handles for the rest), so that exposition
// checks (promtool, a real Prometheus) see what a live trunkrouted would export.

#include <chrono>
#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "health/tracker.h"
#include "metrics/health_metrics_observer.h"
#include "metrics/trunkroute_metrics.h"
#include "router/decision_observer.h"

namespace trunkroute::metrics::testing {

// Trunk ids: "carrier-a", "carrier-b", then "trunk-0002"... up to `trunks` in total.
inline std::string TrunkId(int i) {
  if (i == 0) return "carrier-a";
  if (i == 1) return "carrier-b";
  char buf[32];
  std::snprintf(buf, sizeof buf, "trunk-%04d", i);
  return buf;
}

inline void PopulateEveryFamily(TrunkrouteMetrics* m, HealthMetricsObserver* observer,
                                int trunks = 3) {
  for (int i = 0; i < trunks; ++i) {
    const std::string trunk = TrunkId(i);
    const std::string route = absl::StrCat("route-", i % 10);
    health::HealthEvent up;
    up.health.set_trunk_id(trunk);
    up.health.set_state(v1::HEALTH_STATE_UP);
    up.health.set_since_unix_ms(1'800'000'000'000);
    up.health.set_reason(v1::HEALTH_REASON_CONFIGURED);
    observer->OnStateChange(up);

    health::AttemptOutcome ok;
    ok.trunk_id = trunk;
    ok.sip_status = 200;
    observer->OnOutcome(ok, health::OutcomeClass::kSuccess);
    health::AttemptOutcome refused = ok;
    refused.sip_status = 503;
    observer->OnOutcome(refused, health::OutcomeClass::kFailover);

    health::ProbeResult probe;
    probe.trunk_id = trunk;
    probe.sip_status = 200;
    probe.rtt = std::chrono::microseconds(12'000 + i);
    observer->OnProbe(probe, true);

    m->post_dial_delay->WithLabels({trunk})->Observe(0.4 + 0.01 * (i % 50));
    m->active_calls->WithLabels({trunk})->Set(i % 7);
    m->route_decisions->WithLabels({route, router::kResultRouted})->Inc();
    if (i + 1 < trunks) {
      m->failovers->WithLabels({route, trunk, TrunkId(i + 1), "503"})->Inc();
    }
  }
  // carrier-b went down and is probing; it failed auth once.
  if (trunks > 1) {
    health::HealthEvent down;
    down.health.set_trunk_id(TrunkId(1));
    down.health.set_state(v1::HEALTH_STATE_DOWN);
    down.health.set_since_unix_ms(1'800'000'010'000);
    down.health.set_reason(v1::HEALTH_REASON_CONSECUTIVE_FAILURES);
    down.previous_state = v1::HEALTH_STATE_UP;
    observer->OnStateChange(down);
    health::AttemptOutcome auth;
    auth.trunk_id = TrunkId(1);
    auth.sip_status = 401;
    auth.credentials_sent = true;
    observer->OnOutcome(auth, health::OutcomeClass::kAuthFailed);
    health::ProbeResult timeout;
    timeout.trunk_id = TrunkId(1);
    timeout.timed_out = true;
    observer->OnProbe(timeout, false);
  }
  m->route_decisions->WithLabels({"", router::kResultNoRoute})->Inc();
  m->route_decisions->WithLabels({"", router::kResultInvalid})->Inc();
  m->route_decisions->WithLabels({"route-0", router::kResultPanic})->Inc();
  m->route_decisions->WithLabels({"route-1", router::kResultUnavailable})->Inc();
  m->panic_decisions->WithLabels({"route-0"})->Inc();
  m->edge_rejections->WithLabels({"503", "max_calls"})->Inc();
  m->edge_rejections->WithLabels({"403", "source_not_allowed"})->Inc();
  m->decision_duration->WithLabels({})->Observe(0.000012);
  m->decision_duration->WithLabels({})->Observe(0.00004);
  m->SetConfigApplied(12, 1'800'000'000'500);
  m->grpc_requests->WithLabels({"/trunkroute.v1.RoutingService/RouteCall", "OK"})->Inc(5);
  m->grpc_requests->WithLabels({"/trunkroute.v1.RoutingService/RouteCall", "NOT_FOUND"})->Inc();
  m->http_requests->WithLabels({"/v1/route", "200"})->Inc(3);
}

}  // namespace trunkroute::metrics::testing

#endif  // TRUNKROUTE_TESTS_METRICS_POPULATE_METRICS_H_
