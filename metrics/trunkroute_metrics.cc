#include "metrics/trunkroute_metrics.h"

#include <utility>
#include <vector>

#include "health/health_words.h"
#include "sip/edge_rejections.h"

namespace trunkroute::metrics {
namespace {

// Decisions take microseconds; the upper buckets exist to catch a pathological table.
const std::vector<double> kDecisionBuckets = {0.000001, 0.0000025, 0.000005, 0.00001,
                                              0.000025, 0.00005,   0.0001,   0.00025,
                                              0.0005,   0.001,     0.0025,   0.01};
// Config propagation between instances: a few ms on one site, up to seconds across a WAN or
// while a watch reconnects.
const std::vector<double> kConfigPropagationBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                       0.1,   0.25,   0.5,   1,    2.5,   10};
// OPTIONS round trips: 0.2-2 ms to a peer on the same host or LAN, a few ms inside a region,
// tens of ms to a carrier; the probe timeout (default 500 ms) caps what can be observed. Buckets
// start at 0.5 ms so that a LAN peer's quantiles are measured, not the lowest bound.
const std::vector<double> kProbeRttBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                              0.05,   0.1,   0.25,   0.5,   1,    2.5};
// Post-dial delay (INVITE → first 180/183): a millisecond or two from a peer on the same host
// or LAN, a few hundred ms on good carrier trunks, seconds on international routes.
const std::vector<double> kPostDialDelayBuckets = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 13, 20, 30};

}  // namespace

std::string_view HealthStateLabel(v1::HealthState state) {
  return health::HealthStateShortName(state);
}

std::string_view HealthReasonLabel(v1::HealthReason reason) {
  return health::HealthReasonShortName(reason);
}

absl::StatusOr<std::unique_ptr<TrunkrouteMetrics>> TrunkrouteMetrics::Create(
    std::string_view version) {
  std::unique_ptr<TrunkrouteMetrics> m(new TrunkrouteMetrics());
  if (absl::Status s = m->Register(version); !s.ok()) return s;
  return m;
}

absl::Status TrunkrouteMetrics::Register(std::string_view version) {
  Registry& r = registry_;
  absl::Status status;
  // Keeps the declarations below one line each: the first failure wins and stops the rest.
  auto take = [&status](auto result, auto** slot) {
    if (!status.ok()) return;
    if (!result.ok()) {
      status = result.status();
      return;
    }
    *slot = *result;
  };

  take(r.AddCounter("trunkroute_route_decisions_total",
                    "Routing decisions by route and result (routed, no_route, invalid, "
                    "unavailable, panic).",
                    {"route", "result"}),
       &route_decisions);
  take(r.AddHistogram("trunkroute_route_decision_duration_seconds",
                      "Time to compute one routing decision.", {}, kDecisionBuckets),
       &decision_duration);
  take(r.AddCounter("trunkroute_call_attempts_total",
                    "Call attempts towards a trunk by outcome class.", {"trunk", "outcome"}),
       &call_attempts);
  take(r.AddCounter("trunkroute_failovers_total",
                    "Calls moved from one trunk to the next, by route, trunks and reason.",
                    {"route", "from", "to", "reason"}),
       &failovers);
  take(r.AddCounter("trunkroute_target_failovers_total",
                    "Calls moved from one target (DNS address) of a trunk to the trunk's next "
                    "target, by route, trunk and reason.",
                    {"route", "trunk", "reason"}),
       &target_failovers);
  take(r.AddGauge("trunkroute_trunk_target_health_state",
                  "Health of each target (DNS address) of a trunk: 1 for its current state, 0 "
                  "for the others.",
                  {"trunk", "target", "state"}),
       &target_health_state);
  take(r.AddGauge("trunkroute_trunk_health_state",
                  "Trunk health state: 1 for the current state, 0 for the others.",
                  {"trunk", "state"}),
       &trunk_health_state);
  take(r.AddCounter("trunkroute_trunk_health_transitions_total",
                    "Trunk health state changes by trunk and states.", {"trunk", "from", "to"}),
       &health_transitions);
  take(r.AddCounter("trunkroute_trunk_ejections_total",
                    "Trunks taken out of service (moved to DOWN) by reason.", {"trunk", "reason"}),
       &ejections);
  take(r.AddCounter("trunkroute_panic_decisions_total",
                    "Decisions where every trunk of the route was unavailable and all were "
                    "offered anyway.",
                    {"route"}),
       &panic_decisions);
  take(r.AddCounter("trunkroute_probes_total", "OPTIONS probes by trunk and result.",
                    {"trunk", "result"}),
       &probes);
  take(r.AddHistogram("trunkroute_probe_rtt_seconds", "Round-trip time of answered OPTIONS probes.",
                      {"trunk"}, kProbeRttBuckets),
       &probe_rtt);
  take(r.AddHistogram("trunkroute_post_dial_delay_seconds",
                      "Time from INVITE sent to the trunk's first 180/183.", {"trunk"},
                      kPostDialDelayBuckets),
       &post_dial_delay);
  take(r.AddGauge("trunkroute_active_calls", "Calls in progress per trunk.", {"trunk"}),
       &active_calls);
  take(r.AddGauge("trunkroute_config_version", "Version of the serving configuration.", {}),
       &config_version);
  take(r.AddGauge("trunkroute_config_last_apply_timestamp_seconds",
                  "When the serving configuration was applied, Unix time in seconds.", {}),
       &config_last_apply);
  take(r.AddCounter("trunkroute_grpc_requests_total", "gRPC requests by method and status code.",
                    {"method", "code"}),
       &grpc_requests);
  take(r.AddCounter("trunkroute_http_requests_total", "HTTP requests by path and status code.",
                    {"path", "code"}),
       &http_requests);
  take(r.AddCounter("trunkroute_auth_failures_total",
                    "401/407 answers from a trunk after credentials were sent.", {"trunk"}),
       &auth_failures);
  take(r.AddCounter("trunkroute_tls_failures_total",
                    "Call attempts and probes whose TLS handshake with the trunk failed "
                    "(untrusted CA, wrong name, expired, protocol version).",
                    {"trunk"}),
       &tls_failures);
  take(r.AddCounter("trunkroute_edge_rejections_total",
                    "INVITEs the SIP edge answered itself, by SIP status code and reason.",
                    {"code", "reason"}),
       &edge_rejections);
  take(r.AddGauge("trunkroute_edge_overloaded",
                  "1 while the SIP edge's overload detector finds the SIP thread unable to keep "
                  "up, else 0.",
                  {}),
       &edge_overloaded);
  take(r.AddGauge("trunkroute_edge_admitted_ratio",
                  "Fraction of new calls the overloaded SIP edge admits (1 while not "
                  "overloaded); with edge.shed_on_overload the rest get 503.",
                  {}),
       &edge_admitted_ratio);
  take(r.AddGauge("trunkroute_edge_loop_lag_seconds",
                  "How late the SIP thread's periodic timer fires, smoothed.", {}),
       &edge_loop_lag);
  take(r.AddGauge("trunkroute_edge_udp_queue_ratio",
                  "Standing fill of the SIP socket's UDP receive buffer (the smallest over the "
                  "last 100 ms), 0 to 1.",
                  {}),
       &edge_udp_queue);
  // Clustered mode (docs/cluster.md). Present in every mode; only etcd mode moves them.
  take(r.AddGauge("trunkroute_config_source",
                  "Where the serving config comes from: 1 for the current source (file, etcd or "
                  "cache), 0 for the others.",
                  {"source"}),
       &config_source);
  take(r.AddGauge("trunkroute_etcd_up",
                  "1 while this instance's watch on etcd is established, else 0 (always 0 "
                  "without etcd).",
                  {}),
       &etcd_up);
  take(r.AddHistogram("trunkroute_config_propagation_seconds",
                      "Time from a config's apply on the instance that wrote it to its apply here "
                      "(wall clocks).",
                      {}, kConfigPropagationBuckets),
       &config_propagation);
  take(r.AddCounter("trunkroute_config_cas_conflicts_total",
                    "Config writes that lost their compare-and-swap to another instance "
                    "(answered ABORTED).",
                    {}),
       &config_cas_conflicts);
  take(r.AddCounter("trunkroute_config_rejected_total",
                    "Configs found in etcd that did not parse or validate (the previous one kept "
                    "serving).",
                    {}),
       &config_rejected);
  take(r.AddGauge("trunkroute_cluster_instances",
                  "Live instances registered under the etcd prefix, this one included.", {}),
       &cluster_instances);
  take(r.AddCounter("trunkroute_cluster_probe_hints_total",
                    "Trunks probed at once because another instance ejected them.", {"trunk"}),
       &cluster_probe_hints);

  take(r.AddCounter("trunkroute_api_requests_denied_total",
                    "API requests refused by the authorizer, by API, reason and the scope the "
                    "request needed.",
                    {"api", "reason", "scope"}),
       &api_requests_denied);
  take(r.AddCounter("trunkroute_api_credential_reloads_total",
                    "Reloads of the API's TLS certificate or tokens file, by result (an error "
                    "keeps the previous one serving).",
                    {"credential", "result"}),
       &api_credential_reloads);
  take(r.AddGauge("trunkroute_api_tls_certificate_expiry_timestamp_seconds",
                  "End of validity (notAfter) of the API listeners' serving certificate, Unix "
                  "seconds.",
                  {}),
       &api_tls_certificate_expiry);
  take(r.AddCounter("trunkroute_health_state_write_failures_total",
                    "Failed writes of the saved health state (health-state.json); health goes "
                    "on, the write is retried.",
                    {}),
       &health_state_write_failures);
  take(
      r.AddGauge("trunkroute_build_info", "Build information; the value is always 1.", {"version"}),
      &build_info);
  if (!status.ok()) return status;
  build_info->WithLabels({version})->Set(1);
  SetConfigSource("file");
  etcd_up->WithLabels({})->Set(0);
  config_cas_conflicts->WithLabels({});
  config_rejected->WithLabels({});
  health_state_write_failures->WithLabels({});
  edge_overloaded->WithLabels({})->Set(0);
  edge_admitted_ratio->WithLabels({})->Set(1);
  edge_loop_lag->WithLabels({})->Set(0);
  edge_udp_queue->WithLabels({})->Set(0);
  // Every answer the edge can give itself exists from the start, at 0: a panel shows 0 rather
  // than "No data", and increase() sees the first rejection of each kind.
  for (const sip::RejectionSeries& rejection : sip::kEdgeRejectionSeries) {
    edge_rejections->WithLabels({rejection.code_label, rejection.reason});
  }
  return absl::OkStatus();
}

void TrunkrouteMetrics::SetTrunkState(std::string_view trunk_id, v1::HealthState state) {
  for (v1::HealthState s : kExportedHealthStates) {
    trunk_health_state->WithLabels({trunk_id, HealthStateLabel(s)})->Set(s == state ? 1 : 0);
  }
}

void TrunkrouteMetrics::SetTargetState(std::string_view trunk_id, std::string_view target,
                                       v1::HealthState state) {
  for (v1::HealthState s : {v1::HEALTH_STATE_UP, v1::HEALTH_STATE_DOWN, v1::HEALTH_STATE_PROBING}) {
    if (state == v1::HEALTH_STATE_UNSPECIFIED) {
      target_health_state->Remove({trunk_id, target, HealthStateLabel(s)});
    } else {
      target_health_state->WithLabels({trunk_id, target, HealthStateLabel(s)})
          ->Set(s == state ? 1 : 0);
    }
  }
}

void TrunkrouteMetrics::ForgetTrunk(std::string_view trunk_id) {
  registry_.RemoveMatching("trunk", trunk_id);
  // Only failovers name trunks in from/to; in health transitions those labels are states, and a
  // trunk whose id happens to be "DOWN" must not hide other trunks' series.
  failovers->RemoveMatching("from", trunk_id);
  failovers->RemoveMatching("to", trunk_id);
}

void TrunkrouteMetrics::SetConfigSource(std::string_view source) {
  for (std::string_view s : {"file", "etcd", "cache"}) {
    config_source->WithLabels({s})->Set(s == source ? 1 : 0);
  }
}

void TrunkrouteMetrics::SetConfigApplied(uint64_t version, int64_t applied_unix_ms) {
  config_version->WithLabels({})->Set(static_cast<double>(version));
  config_last_apply->WithLabels({})->Set(static_cast<double>(applied_unix_ms) / 1000.0);
}

void TrunkrouteMetrics::SetConfigApplied(const v1::Config& config) {
  SetConfigApplied(config.version(), config.applied_at_unix_ms());
  // Per-route counters the alerts read with increase(): at 0 before the first event.
  for (const v1::Route& route : config.routes()) panic_decisions->WithLabels({route.id()});
}

}  // namespace trunkroute::metrics
