#ifndef TRUNKROUTE_METRICS_TRUNKROUTE_METRICS_H_
#define TRUNKROUTE_METRICS_TRUNKROUTE_METRICS_H_

// Every metric trunkroute exports, declared in one place (names, help, labels, buckets), so the
// dashboard, the alert rules and the runbook have one list to refer to.
//
// Label vocabulary (bounded sets only; never a dialed number or a call id). Every word we choose
// is lower case (snake_case), the same word logs and trunkroutectl print; the exceptions are names
// others define: gRPC status code names ("OK", "NOT_FOUND"), gRPC method names, HTTP paths.
//   trunk, from, to   trunk ids from the config ("" for "no trunk", e.g. failover to nothing)
//   target            an address of a trunk's host name, "192.0.2.1:5060" (from the config's
//                     DNS; at most 8 per trunk)
//   route             route ids ("" when no route matched)
//   result            decisions: routed | no_route | invalid | unavailable | panic
//                     probes:    alive | failed_status | timeout | transport_error
//   outcome           attempt class: success | failover | callee_final | auth_failed |
//                     ring_no_answer
//   state, from, to   health states (health/health_words.h): up | down | probing | draining |
//                     forced_down | forced_up
//   reason            ejections: health reason (consecutive_failures, probe_failures,
//                     retry_after, transport_error, tls_failed, auth_failed, admin, ...);
//                     failovers: the SIP status that caused it ("503") or timeout |
//                     transport_error | tls_failed | no_codec
//   method            gRPC full method name ("/trunkroute.v1.RoutingService/RouteCall")
//   code              gRPC: status code name ("OK", "NOT_FOUND"); HTTP: status number ("200")
//   path              HTTP: the served path, or "other" for anything unknown
//   reason (edge)     edge rejections (sip/edge_rejections.h): source_not_allowed | max_calls |
//                     max_forwards | loop | no_route | unavailable | no_candidate | shutting_down |
//                     overload | rate_limit
//   api               grpc | http
//   reason (api)      API refusals: missing_token | wrong_scheme | unknown_token | missing_scope |
//                     not_in_table | backoff
//   scope             read | route | write | admin, or "" when none applies
//   credential        tls | tokens

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "metrics/registry.h"
#include "trunkroute/v1/config.pb.h"
#include "trunkroute/v1/health.pb.h"

namespace trunkroute::metrics {

// The `result` words of trunkroute_route_decisions_total are router::kResult* (the deciders'
// own vocabulary, router/decision_observer.h).

// Values of the `result` label of trunkroute_probes_total.
inline constexpr std::string_view kProbeAlive = "alive";
inline constexpr std::string_view kProbeFailedStatus = "failed_status";
inline constexpr std::string_view kProbeTimeout = "timeout";
inline constexpr std::string_view kProbeTransportError = "transport_error";

// Every state a trunk can be in, in the order the state gauge is written.
inline constexpr v1::HealthState kExportedHealthStates[] = {
    v1::HEALTH_STATE_UP,          v1::HEALTH_STATE_DOWN,        v1::HEALTH_STATE_PROBING,
    v1::HEALTH_STATE_DRAINING,    v1::HEALTH_STATE_FORCED_DOWN, v1::HEALTH_STATE_FORCED_UP};

// "up", "down", ... ("unspecified" for 0 and unknown values).
std::string_view HealthStateLabel(v1::HealthState state);
// "consecutive_failures", ... ("unspecified" for 0 and unknown values).
std::string_view HealthReasonLabel(v1::HealthReason reason);

class TrunkrouteMetrics {
 public:
  // Registers every family in a registry this object owns. `version` is the build's version
  // string (trunkroute_build_info). Fails only on a declaration bug.
  static absl::StatusOr<std::unique_ptr<TrunkrouteMetrics>> Create(std::string_view version);

  Registry& registry() { return registry_; }
  const Registry& registry() const { return registry_; }

  // trunkroute_route_decisions_total{route,result}: every routing decision (edge, gRPC, HTTP).
  CounterFamily* route_decisions = nullptr;
  // trunkroute_route_decision_duration_seconds: time to compute one decision.
  HistogramFamily* decision_duration = nullptr;
  // trunkroute_call_attempts_total{trunk,outcome}: attempt outcomes as classified by health.
  CounterFamily* call_attempts = nullptr;
  // trunkroute_failovers_total{route,from,to,reason}: a call moved from one trunk to the next.
  CounterFamily* failovers = nullptr;
  // trunkroute_target_failovers_total{route,trunk,reason}: a call moved from one target of a
  // trunk (an address of its host name) to the trunk's next target; not a trunk failover.
  CounterFamily* target_failovers = nullptr;
  // trunkroute_trunk_target_health_state{trunk,target,state}: per target of a trunk whose host is
  // a name (at most 8 per trunk), 1 for its current state (UP, DOWN, PROBING), 0 for the others.
  GaugeFamily* target_health_state = nullptr;
  // trunkroute_trunk_health_state{trunk,state}: 1 for the trunk's current state, 0 for others.
  GaugeFamily* trunk_health_state = nullptr;
  // trunkroute_trunk_health_transitions_total{trunk,from,to}.
  CounterFamily* health_transitions = nullptr;
  // trunkroute_trunk_ejections_total{trunk,reason}: transitions into DOWN.
  CounterFamily* ejections = nullptr;
  // trunkroute_panic_decisions_total{route}: every trunk down, all offered anyway.
  CounterFamily* panic_decisions = nullptr;
  // trunkroute_probes_total{trunk,result}: OPTIONS probes.
  CounterFamily* probes = nullptr;
  // trunkroute_probe_rtt_seconds{trunk}: round trip of answered probes.
  HistogramFamily* probe_rtt = nullptr;
  // trunkroute_post_dial_delay_seconds{trunk}: INVITE sent → first 180/183 from the trunk.
  HistogramFamily* post_dial_delay = nullptr;
  // trunkroute_active_calls{trunk}: calls currently established or being set up.
  GaugeFamily* active_calls = nullptr;
  // trunkroute_config_version: version of the serving config.
  GaugeFamily* config_version = nullptr;
  // trunkroute_config_last_apply_timestamp_seconds: when it was applied (Unix seconds).
  GaugeFamily* config_last_apply = nullptr;
  // trunkroute_grpc_requests_total{method,code}.
  CounterFamily* grpc_requests = nullptr;
  // trunkroute_http_requests_total{path,code}.
  CounterFamily* http_requests = nullptr;
  // trunkroute_auth_failures_total{trunk}: 401/407 after credentials were sent.
  CounterFamily* auth_failures = nullptr;
  // trunkroute_tls_failures_total{trunk}: attempts and probes whose TLS handshake failed.
  CounterFamily* tls_failures = nullptr;
  // trunkroute_edge_rejections_total{code,reason}: INVITEs the edge answered itself.
  CounterFamily* edge_rejections = nullptr;
  // The SIP edge's overload detector (sip/overload.h), updated every 100 ms:
  // trunkroute_edge_overloaded (1 while overloaded), trunkroute_edge_admitted_ratio (the fraction
  // of new calls admitted, 1 while not overloaded), trunkroute_edge_loop_lag_seconds (smoothed),
  // trunkroute_edge_udp_queue_ratio (standing fill of the SIP socket's receive buffer).
  GaugeFamily* edge_overloaded = nullptr;
  GaugeFamily* edge_admitted_ratio = nullptr;
  GaugeFamily* edge_loop_lag = nullptr;
  GaugeFamily* edge_udp_queue = nullptr;
  // Clustered mode: trunkroute_config_source{source} (1 for file|etcd|cache, 0 for the others),
  // trunkroute_etcd_up, trunkroute_config_propagation_seconds,
  // trunkroute_config_cas_conflicts_total, trunkroute_config_rejected_total,
  // trunkroute_cluster_instances, trunkroute_cluster_probe_hints_total{trunk}.
  GaugeFamily* config_source = nullptr;
  GaugeFamily* etcd_up = nullptr;
  HistogramFamily* config_propagation = nullptr;
  CounterFamily* config_cas_conflicts = nullptr;
  CounterFamily* config_rejected = nullptr;
  GaugeFamily* cluster_instances = nullptr;
  CounterFamily* cluster_probe_hints = nullptr;

  // trunkroute_api_requests_denied_total{api,reason,scope}: API requests refused by the
  // authorizer (auth/authorizer.h): reason missing_token | wrong_scheme | unknown_token
  // (UNAUTHENTICATED/401) | missing_scope | not_in_table (PERMISSION_DENIED/403) | backoff
  // (RESOURCE_EXHAUSTED/429); scope = the missing scope for missing_scope, "" otherwise.
  CounterFamily* api_requests_denied = nullptr;
  // trunkroute_api_credential_reloads_total{credential,result}: credential tls | tokens,
  // result ok | error (an error keeps the previous credential serving).
  CounterFamily* api_credential_reloads = nullptr;
  // trunkroute_api_tls_certificate_expiry_timestamp_seconds: notAfter of the serving API
  // certificate (absent without TLS).
  GaugeFamily* api_tls_certificate_expiry = nullptr;
  // trunkroute_health_state_write_failures_total: failed writes of health-state.json (warm
  // restart, docs/health.md); never fatal, retried.
  CounterFamily* health_state_write_failures = nullptr;
  // trunkroute_build_info{version}: always 1.
  GaugeFamily* build_info = nullptr;

  // Sets the trunk's state gauge: 1 for `state`, 0 for every other exported state.
  void SetTrunkState(std::string_view trunk_id, v1::HealthState state);
  // Sets a target's state gauge (UP, DOWN or PROBING); UNSPECIFIED hides its series (the
  // target left DNS).
  void SetTargetState(std::string_view trunk_id, std::string_view target, v1::HealthState state);
  // Hides every series that names this trunk (trunk, from or to label): a deleted trunk.
  void ForgetTrunk(std::string_view trunk_id);
  // Sets trunkroute_config_source: 1 for `source` ("file", "etcd" or "cache"), 0 for the others.
  void SetConfigSource(std::string_view source);
  // A config was applied: version and wall time (Unix milliseconds).
  void SetConfigApplied(uint64_t version, int64_t applied_unix_ms);
  // The same from the serving config itself, which is what the daemon should call after each
  // apply: its version and applied_at_unix_ms (when that version was applied, kept across
  // restarts, not when this process loaded it), and every route's panic counter at 0.
  void SetConfigApplied(const v1::Config& config);

 private:
  TrunkrouteMetrics() = default;
  absl::Status Register(std::string_view version);

  Registry registry_;
};

}  // namespace trunkroute::metrics

#endif  // TRUNKROUTE_METRICS_TRUNKROUTE_METRICS_H_
