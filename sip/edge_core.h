#ifndef TRUNKROUTE_SIP_EDGE_CORE_H_
#define TRUNKROUTE_SIP_EDGE_CORE_H_

// Internal to trunkroute_sip: the object that lives on the su_root thread.

#include <atomic>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "config/config_manager.h"
#include "health/prober.h"
#include "health/tracker.h"
#include "sip/admission.h"
#include "sip/edge.h"
#include "sip/edge_util.h"
#include "sip/overload.h"
#include "sip/sofia.h"
#include "sip/sofia_dns_client.h"
#include "sip/sofia_timer_d.h"
#include "sip/sofia_tls.h"
#include "sip/target_resolver.h"

namespace trunkroute::sip {

class EdgeCall;
struct CallerRequest;
struct Probe;

// What a nua handle belongs to (its hmagic).
struct LegRef {
  enum class Kind { kCaller, kTrunk, kProbe };
  Kind kind = Kind::kCaller;
  EdgeCall* call = nullptr;
  int attempt = -1;  // kTrunk: the attempt id within the call
  Probe* probe = nullptr;
};

// What the workers of one edge share (EdgeOptions::workers): the counters, the per-trunk
// concurrency, the rate caps and each worker's overload reading. Any thread.
class EdgeShared {
 public:
  explicit EdgeShared(int workers);

  int workers() const { return workers_; }
  EdgeCounters& counters() { return counters_; }
  CallRateLimiter* rate_limiter() { return &rate_limiter_; }
  // Calls held by all workers (edge.max_calls).
  std::atomic<int64_t>& calls_held() { return calls_held_; }
  // Concurrent legs per trunk over all workers, for max_concurrent_calls.
  int TrunkLoad(const std::string& trunk_id) const;
  void AddTrunkLoad(const std::string& trunk_id, int delta);
  // Worker `index`'s overload reading and Timer D queue; returns the edge's: overloaded if any
  // worker is, the longest lag, the fullest queue, the smallest admitted fraction, every worker's
  // queued INVITEs. Also stores that into the counters.
  OverloadReading Publish(int index, const OverloadReading& reading, uint32_t queue_permille,
                          uint64_t invites_in_timer_d);

 private:
  struct Worker {
    OverloadReading reading;
    uint32_t queue_permille = 0;
    uint64_t invites_in_timer_d = 0;
  };
  const int workers_;
  EdgeCounters counters_;
  std::atomic<int64_t> calls_held_{0};
  CallRateLimiter rate_limiter_;
  mutable absl::Mutex load_mu_;
  absl::flat_hash_map<std::string, int> trunk_load_ ABSL_GUARDED_BY(load_mu_);
  absl::Mutex workers_mu_;
  std::vector<Worker> worker_ ABSL_GUARDED_BY(workers_mu_);
};

// A unit of work posted to the SIP thread from another thread (su_msg payload).
struct PostedTask {
  std::function<void()>* fn;
};

// One OPTIONS probe in flight.
struct Probe {
  LegRef ref;
  health::ProbeTarget target;
  nua_handle_t* nh = nullptr;
  su_timer_t* timer = nullptr;
  MonoTime sent{};
};

class EdgeCore {
 public:
  // Worker `index` of shared->workers() (EdgeOptions::workers).
  EdgeCore(const EdgeOptions& options, int index, EdgeShared* shared,
           config::ConfigManager* config, health::HealthTracker* health, Clock* clock);
  ~EdgeCore();

  // Starts the SIP thread and waits until the stack is bound (or failed to bind).
  absl::Status Start();
  // Graceful stop and join; idempotent. Any thread except the SIP thread.
  void Stop();
  // The graceful stop begins (Stop() then waits for it): the workers of an edge stop together.
  void BeginStop();
  // Runs `fn` on the SIP thread. False (and `fn` dropped) once stopped.
  bool Post(std::function<void()> fn);
  void SendProbe(const health::ProbeTarget& target);

  // --- SIP thread only: services for EdgeCall ---
  nua_t* nua() const { return nua_; }
  su_root_t* root() const { return root_; }
  Clock* clock() const { return clock_; }
  EdgeObserver* observer() const { return options_.observer; }
  EdgeCounters& counters() { return counters_; }
  bool stopping() const { return stopping_; }
  // Feeds health; returns its classification (health owns AUTH_FAILED's log line and metric).
  health::OutcomeClass ReportOutcome(const health::AttemptOutcome& outcome,
                                     const router::EffectiveFailoverPolicy& policy);
  // The trunk's addresses as resolved (RFC 3263); null for an unknown trunk.
  std::shared_ptr<const TrunkTargets> TargetsOf(const std::string& trunk_id) const;
  // The trunk's targets in the order one call tries them: RFC 2782 order drawn for the call,
  // targets that health does not see UP moved last. Empty when the name has no address.
  std::vector<CallTarget> TargetsForCall(const router::CompiledTrunk& trunk);
  // Concurrent legs per trunk, for max_concurrent_calls.
  int TrunkLoad(const std::string& trunk_id) const;
  void AddTrunkLoad(const std::string& trunk_id, int delta);
  // Calls held by all workers (edge.max_calls).
  size_t CallsHeld() const {
    return static_cast<size_t>(std::max<int64_t>(0, shared_->calls_held().load()));
  }
  void HandleCreated() { counters_.open_handles.fetch_add(1, std::memory_order_relaxed); }
  void HandleDestroyed(nua_handle_t* nh);
  // Deletes `call` if it holds no handle any more. Safe from the call's own timer callback.
  void ReapIfFinished(EdgeCall* call);
  // False when the current event's response was made up by our own stack (transport failure,
  // stack timer) rather than received from the peer. Call only from inside a nua callback.
  bool CameFromNetwork(sip_t const* sip);
  // OpenSSL's reason when the TLS handshake with `peer` (TlsPeerKey) failed within the last
  // kTlsFailureMemoryMs; empty otherwise. Every attempt queued on the failed connection gets
  // its local 503 right after the failure.
  std::string RecentTlsFailure(const std::string& peer) const;

 private:
  static void NuaCallback(nua_event_t event, int status, char const* phrase, nua_t* nua,
                          EdgeCore* core, nua_handle_t* nh, LegRef* ref, sip_t const* sip,
                          tagi_t tags[]);
  static void OnPosted(EdgeCore* core, su_msg_r msg, PostedTask* task);
  static void OnProbeTimer(EdgeCore* core, su_timer_t* timer, void* arg);
  static void OnShutdownTimer(EdgeCore* core, su_timer_t* timer, void* arg);
  static void OnResolverTimer(EdgeCore* core, su_timer_t* timer, void* arg);
  static void OnOverloadTimer(EdgeCore* core, su_timer_t* timer, void* arg);
  // nta's default leg (requests outside any dialog), ahead of nua's own handler: see
  // InstallStackShedding.
  static int OnStackRequest(EdgeCore* core, nta_leg_t* leg, nta_incoming_t* irq, sip_t const* sip);

  void ThreadMain(std::promise<absl::Status>* started);
  void RunLoop();
  absl::Status CreateStack();
  void ApplyTimerD();
  // The advertised address (1:1 NAT) after the bound ones in own_addresses_, or null.
  const HostPort* Advertised() const;
  // workers > 1: the shared port's UDP socket (and worker 0's TCP on it) added to the stack.
  absl::Status AddSharedPort();
  // While the edge is shedding, new INVITEs are refused in nta's default-leg callback, before
  // nua makes a handle, a server request and an event of them (the refusal costs a transaction,
  // not a call): binds OnStackRequest in front of nua's handler, which it calls for everything
  // else. Needs nua's agent (timer_d_: the layout check); without it refusals take nua's path.
  void InstallStackShedding();
  void RemoveStackShedding();
  // The 503 + Retry-After answered in nta for a new INVITE while overloaded; 0: leave it to nua
  // (not overloaded, or admission refuses it for something else, or admits it).
  int ShedAtStack(nta_incoming_t* irq, sip_t const* sip);
  void OnEvent(nua_event_t event, int status, char const* phrase, nua_handle_t* nh, LegRef* ref,
               sip_t const* sip, tagi_t tags[]);
  // A new INVITE: admission (sip/admission.h), the route decision, the call plan
  // (sip/call_plan.h), then an EdgeCall — or one rejection from whichever step refused.
  void OnIncomingInvite(nua_handle_t* nh, sip_t const* sip);
  // Answers an INVITE the edge will not forward: the response, the counters, the metrics hook,
  // the log line(s); then lets go of the handle.
  void RejectIncoming(nua_handle_t* nh, const EdgeRejection& rejection, const InviteFacts& invite,
                      sip_t const* sip);
  // RejectIncoming's bookkeeping (counters, metrics hook, log lines) without the response.
  void NoteRejection(const EdgeRejection& rejection, const InviteFacts& invite, sip_t const* sip);
  // Once per config version: a setup timeout the stack's fixed transaction timer cannot serve.
  void WarnIfStackTimeoutTooShort(const router::RoutingTable& table);
  void StartProbe(const health::ProbeTarget& target);
  // How a probe ended: a final from the trunk, a final our stack made up (its 408 is its
  // timer: a timeout; anything else a transport error), or our own timer (or shutdown).
  enum class ProbeEnd { kAnswered, kStackFinal, kOurTimer };
  // `tls_failure`: the probe's TLS handshake failed (OpenSSL's reason; end is kStackFinal).
  void FinishProbe(Probe* probe, ProbeEnd end, int status = 0,
                   const std::string& tls_failure = "");
  void BeginShutdown();
  double NextEntropy();
  // Resolver upkeep: follows config changes, runs refreshes, re-arms its timer.
  void SyncResolver();
  void RunResolver();
  void OnTargetsChanged(const std::shared_ptr<const TrunkTargets>& targets);
  // Load shedding: every kOverloadSampleMs the loop's lag and the UDP receive queue go to the
  // detector (sip/overload.h); admission reads its verdict.
  void ArmOverloadTimer(MonoTime now);
  void SampleOverload();

  // Per-call draws for OrderForCall, from NextEntropy().
  class CallRandom final : public RandomSource {
   public:
    explicit CallRandom(EdgeCore* core) : core_(core) {}
    double NextUnit() override { return core_->NextEntropy(); }

   private:
    EdgeCore* core_;
  };

  const EdgeOptions options_;
  const int index_;  // this worker's number; worker 0 also sends the probes and tells health
                     // the trunks' resolved targets
  EdgeShared* const shared_;
  config::ConfigManager* const config_;
  health::HealthTracker* const health_;
  Clock* const clock_;
  EdgeCounters& counters_;

  // Guards root_ for Post() from other threads (the root is created and destroyed on the SIP
  // thread; posting to a destroyed root must be impossible).
  absl::Mutex post_mu_;
  bool accepting_posts_ ABSL_GUARDED_BY(post_mu_) = false;

  std::thread thread_;
  std::once_flag stop_once_;

  // SIP thread only.
  su_home_t home_[1] = {};
  su_root_t* root_ = nullptr;
  nua_t* nua_ = nullptr;
  bool stopping_ = false;
  bool loop_running_ = false;
  uint64_t activity_ = 0;  // nua events and posted tasks handled: did a loop step do anything?
  bool shutdown_done_ = false;
  su_timer_t* shutdown_timer_ = nullptr;
  std::vector<HostPort> own_addresses_;  // [0] the socket address of nua's URL, [1] TLS, then
                                        // the advertised address
  // Every address a Via of ours may name (own_addresses_, the shared port and every worker's
  // own port): a call that comes back is a loop.
  std::vector<HostPort> loop_addresses_;
  std::optional<HostPort> shared_listen_;  // workers > 1: the port new calls arrive on
  int shared_fd_ = -1;                      // this worker's socket on it (owned by Sofia)
  absl::flat_hash_map<EdgeCall*, std::unique_ptr<EdgeCall>> calls_;
  absl::flat_hash_map<Probe*, std::unique_ptr<Probe>> probes_;
  uint64_t entropy_state_ = 0;
  uint32_t t1x64_ms_ = 32000;              // Sofia's T1×64, fixed when the stack is created
  std::optional<InviteClientTimerD> timer_d_;  // set when Sofia's layout was recognised
  nta_leg_t* stack_leg_ = nullptr;          // nta's default leg while OnStackRequest is bound
  nua_handle_t* stack_leg_nua_ = nullptr;   // nua's magic of that leg (its default handle)
  uint64_t seen_table_version_ = 0;        // last config version checked against t1x64_ms_
  nua_saved_event_t saved_event_[1] = {};  // see CameFromNetwork
  CallRandom call_random_{this};
  std::unique_ptr<SofiaDnsClient> dns_;
  std::unique_ptr<TargetResolver> resolver_;
  su_timer_t* resolver_timer_ = nullptr;
  uint64_t resolver_table_version_ = 0;
  OverloadDetector overload_;
  su_timer_t* overload_timer_ = nullptr;
  MonoTime overload_due_{};
  int udp_fd_ = -1;  // the UDP listen socket (owned by Sofia), for its receive queue
  uint32_t overload_readings_ = 0;  // samples since start (the observer hears every tenth)
  uint64_t shed_at_onset_ = 0;  // counters_.calls_shed when the current overload began
  // TLS (sip/sofia_tls.h): what the hooks enforce on this stack's connections, and the
  // handshakes towards trunks that failed lately (by TlsPeerKey).
  void OnTlsFailure(const TlsHandshakeFailure& failure);
  SofiaTlsPolicy tls_policy_;
  struct TlsFailureSeen {
    std::string reason;
    MonoTime at{};
  };
  absl::flat_hash_map<std::string, TlsFailureSeen> tls_failures_;
};

}  // namespace trunkroute::sip

#endif  // TRUNKROUTE_SIP_EDGE_CORE_H_
