#ifndef TRUNKROUTE_SIP_EDGE_H_
#define TRUNKROUTE_SIP_EDGE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "config/config_manager.h"
#include "health/prober.h"
#include "health/tracker.h"
#include "router/decision_observer.h"
#include "sip/edge_rejections.h"
#include "sip/overload.h"

namespace trunkroute::sip {

// Hooks for metrics (trunkroute_route_decisions_total, _route_decision_duration_seconds,
// _failovers_total, _post_dial_delay_seconds, _active_calls). Every hook, OnDecision included, is
// called on a SIP thread (one per worker, EdgeOptions::workers): implementations must be quick,
// must not block and must be safe from several threads at once. Label values
// are bounded (route and trunk ids, fixed words), never numbers or call ids.
class EdgeObserver : public router::DecisionObserver {
 public:
  // Every INVITE that reached the router (see router::DecisionResult for the words).
  void OnDecision(std::string_view /*route_id*/, std::string_view /*result*/,
                  Duration /*elapsed*/) override {}
  // A call left trunk `from` for `to` ("" = no trunk left, the caller got the failure); reason is
  // the trunk's status ("503"), "timeout" or "transport_error".
  virtual void OnFailover(std::string_view /*route_id*/, std::string_view /*from*/,
                          std::string_view /*to*/, std::string_view /*reason*/) {}
  // Within one trunk, a call left target `from` for the trunk's next target `to` (RFC 3263: its
  // host name has several addresses); reason as for OnFailover. Not a trunk failover.
  virtual void OnTargetFailover(std::string_view /*route_id*/, std::string_view /*trunk_id*/,
                                std::string_view /*from*/, std::string_view /*to*/,
                                std::string_view /*reason*/) {}
  // INVITE sent to the trunk → its first 180/183 (relayed to the caller).
  virtual void OnPostDialDelay(std::string_view /*trunk_id*/, Duration /*delay*/) {}
  // Legs towards a trunk opened (+1) or closed (−1): calls in setup or established.
  virtual void OnActiveCalls(std::string_view /*trunk_id*/, int /*delta*/) {}
  // The edge answered an INVITE itself, before or instead of any trunk attempt: one of the
  // (status, reason) pairs of kEdgeRejectionSeries (sip/edge_rejections.h).
  virtual void OnRejected(int /*status*/, std::string_view /*reason*/) {}
  // The overload detector's reading (sip/overload.h), every 100 ms and at each change of state.
  virtual void OnOverloadReading(const OverloadReading& /*reading*/) {}
};

// Listen settings (from flags; everything a call needs comes from the config snapshot).
struct EdgeOptions {
  // "ip:port" for UDP and TCP. Port 0 is not supported (trunks and dialers need a known port).
  std::string listen = "127.0.0.1:5060";
  bool enable_tcp = true;
  // "ip:port" for TLS (e.g. "127.0.0.1:5061"); empty: no TLS listener, and no TLS to trunks.
  std::string tls_listen;
  // Directory with agent.pem (private key + certificate chain) and cafile.pem (trusted CAs).
  std::string tls_cert_dir;
  // TLS to trunks: the trunk's certificate must chain to cafile.pem and name the host we dialled.
  // Off only for lab setups (flag --sip-tls-verify-trunks).
  bool tls_verify_trunks = true;
  // TLS listener: callers must present a client certificate that chains to cafile.pem (mutual
  // TLS; flag --sip-tls-verify-clients). Off: any caller may connect (the source address checks
  // of the edge still apply).
  bool tls_verify_clients = false;
  // host[:port] to put in Via/Contact behind 1:1 NAT. Empty: the config's
  // edge.advertised_address at start-up, else the bound address. The port, if given, must equal
  // the listen port (the socket is bound to the listen address, advertised as this host).
  std::string advertised_address;
  // DNS server that resolves trunk host names (RFC 3263: NAPTR, SRV, A/AAAA), "ip:port" or
  // "[v6]:port" (flag --sip-dns-server). Empty (default): the system resolver, i.e. the
  // nameservers of /etc/resolv.conf (Sofia's resolver reads it; /etc/hosts is not consulted).
  std::string dns_server;
  // Answers are re-resolved at their TTL clamped to [dns_ttl_floor_s, dns_ttl_cap_s]; a refresh
  // that fails keeps the last good answer and is retried after dns_ttl_floor_s.
  uint32_t dns_ttl_floor_s = 5;
  uint32_t dns_ttl_cap_s = 300;
  // Finished client INVITEs are kept 5 s (Timer D) instead of Sofia's 32 s: written into nta's
  // private struct when Sofia-SIP 1.12.11's layout is recognised (sip/sofia_timer_d.h). False
  // (flag --sip-sofia-timer-d): Sofia's own value, nothing written.
  bool short_timer_d = true;
  // The overload detector's levels (sip/overload.h; docs/sip-edge.md "Overload"). Tests make an
  // edge that is always overloaded with lag_on 0.
  OverloadOptions overload;
  // SIP workers: Sofia stacks, each on its own thread, sharing the router, health and the
  // counters (docs/sip-edge.md "Workers"). 1 (default): one stack on `listen`. N > 1: each worker
  // has a UDP socket on `listen` (SO_REUSEPORT; the kernel steers a datagram by its
  // Request-URI, so an INVITE, its retransmissions, its CANCEL and its ACK reach the same
  // worker) and its own port, worker_port_base + k, which its Via and Contact name: responses
  // and in-dialog requests come back to the stack that has the call. TCP on `listen` is worker
  // 0's; every worker also listens for TCP on its own port. Not with a TLS listener.
  int workers = 1;
  // Worker 0's own port; 0: the listen port + 100 (5160 for 5060).
  uint32_t worker_port_base = 0;
  // Optional metrics hooks; must outlive the edge.
  EdgeObserver* observer = nullptr;
};

// Counters for tests and metrics. Written on the SIP threads (one object for all workers; the
// overload gauges are the edge's: see EdgeShared::Publish), read from anywhere.
struct EdgeCounters {
  std::atomic<uint64_t> invites_received{0};      // initial INVITEs from callers
  std::atomic<uint64_t> calls_rejected{0};        // answered by the edge itself before any attempt
                                                  // (403, 482, 483, 404, 488, 503 …)
  std::atomic<uint64_t> calls_shed{0};            // of which: 503 overload or rate_limit
  std::atomic<uint64_t> calls_shed_in_stack{0};   // of which: refused in nta, before nua
  std::atomic<bool> stack_shedding{false};        // refusals before nua are in place
  std::atomic<uint64_t> overload_onsets{0};       // times the detector found the edge overloaded
  std::atomic<bool> overloaded{false};            // the detector's verdict now
  std::atomic<int64_t> loop_lag_us{0};            // the SIP thread's smoothed loop lag
  std::atomic<uint32_t> udp_queue_permille{0};    // UDP receive queue, ‰ of its buffer
  std::atomic<uint32_t> admit_permille{1000};     // the detector's admitted fraction of new calls, ‰
  std::atomic<uint64_t> calls_answered{0};        // a trunk's 2xx relayed to the caller
  std::atomic<uint64_t> calls_failed{0};          // attempts made, caller got a final ≥ 300
  std::atomic<uint64_t> attempts{0};              // INVITEs sent to trunks (auth re-sends excluded)
  std::atomic<uint64_t> failovers{0};             // attempts after the first within a call
  std::atomic<uint64_t> target_failovers{0};      // of which: to the same trunk's next target
  std::atomic<uint64_t> auth_failures{0};         // outcomes health classified AUTH_FAILED
  std::atomic<uint64_t> late_answers_cleared{0};  // 2xx after abandonment, ACKed and BYEd
  std::atomic<uint64_t> offers_refused{0};        // SDP offers with no codec the trunk allows
                                                  // (488 to a re-INVITE/UPDATE, a 2xx offer BYEd)
  std::atomic<uint64_t> session_timer_retries{0};  // INVITEs re-sent with a trunk's 422 Min-SE
  std::atomic<uint64_t> probes_sent{0};
  std::atomic<uint64_t> probes_answered{0};
  std::atomic<uint64_t> probes_timed_out{0};
  std::atomic<int64_t> active_calls{0};  // calls with any leg or attempt still open
  std::atomic<int64_t> open_handles{0};  // Sofia nua handles held by calls and probes
  // The transaction timers the stack runs with, read back from it at start-up: T1×64 (Timers
  // B, F, H, J) and T4 (Timers I, K).
  std::atomic<uint32_t> stack_t1x64_ms{0};
  std::atomic<uint32_t> stack_t4_ms{0};
  // Timer D (a client INVITE kept after its final), read back from nta's queue: 5000, or
  // Sofia's 32000 without EdgeOptions::short_timer_d; 0 when Sofia's layout was not recognised
  // and the stack runs with its own 32 s (sip/sofia_timer_d.h).
  std::atomic<uint32_t> stack_timer_d_ms{0};
  // Client INVITE transactions waiting for Timer D (sampled every 10 ms; 0 when unknown).
  std::atomic<uint64_t> stack_invites_in_timer_d{0};
};

class EdgeCore;
class EdgeShared;

// The SIP edge (design.md §4): a Sofia-SIP B2BUA that takes INVITEs from dialers, asks the
// router in-process, and forwards each call to the chosen trunks with serial failover; it also
// sends the OPTIONS probes the health tracker asks for.
//
// Threading: one su_root thread owns every Sofia object. Public methods may be called from any
// thread; they post work to that thread (su_msg) and never block on it, except Start and Stop.
class SipEdge : public health::ProbeSender {
 public:
  // Binds the listeners and starts the SIP thread. FailedPrecondition naming the address when a
  // port cannot be bound (in use, not local); InvalidArgument for malformed options.
  // `config`, `health` and `clock` must outlive the edge.
  static absl::StatusOr<std::unique_ptr<SipEdge>> Start(const EdgeOptions& options,
                                                        config::ConfigManager* config,
                                                        health::HealthTracker* health,
                                                        Clock* clock);
  ~SipEdge() override;  // Stop()s if still running

  // Graceful: new INVITEs get 503, calls in setup are CANCELed (caller gets 503), connected calls
  // are BYEd on both legs; then the stack shuts down and the thread is joined (bounded: a few
  // seconds at most). Idempotent.
  void Stop();

  // health::ProbeSender: sends OPTIONS to the target from the edge's agent, with the target's own
  // timeout; the result goes to HealthTracker::ReportProbe. Dropped after Stop().
  void SendProbe(const health::ProbeTarget& target) override;
  // The edge resolves trunk host names itself and reports their targets to the tracker.
  bool ResolvesNames() const override { return true; }

  const EdgeCounters& counters() const;

 private:
  SipEdge(std::unique_ptr<EdgeShared> shared, std::vector<std::unique_ptr<EdgeCore>> cores);
  std::unique_ptr<EdgeShared> shared_;
  std::vector<std::unique_ptr<EdgeCore>> cores_;  // [0] sends the probes
};

}  // namespace trunkroute::sip

#endif  // TRUNKROUTE_SIP_EDGE_H_
