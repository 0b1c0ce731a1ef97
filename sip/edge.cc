#include "sip/edge.h"

#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "router/decision.h"
#include "sip/admission.h"
#include "sip/call_plan.h"
#include "sip/edge_call.h"
#include "sip/edge_core.h"
#include "sip/incoming_invite.h"
#include "sip/shared_port.h"

// nua's handler of requests outside its dialogs (libsofia-sip-ua nua/nua_stack.c), the callback
// of nta's default leg: exported by the library, though in none of its public headers.
extern "C" int nua_stack_process_request(nua_handle_t* nh, nta_leg_t* leg, nta_incoming_t* irq,
                                         sip_t const* sip);

namespace trunkroute::sip {
namespace {

constexpr int kShutdownGraceMs = 3000;
constexpr int kMaxWorkers = 64;

// Allow and Supported on every request and response of ours: what the edge really does.
constexpr char kAllowedMethods[] = "INVITE, ACK, BYE, CANCEL, OPTIONS, PRACK, UPDATE, INFO";
// 100rel: reliable provisionals and PRACK on each leg (docs/sip-edge.md "100rel and PRACK").
// "timer" (RFC 4028) is not the stack's: session timers are relayed end to end (each message
// carries the other leg's "timer" tag, docs/sip-edge.md "Session timers"); claiming it here would
// switch on nua's own refresh and BYE timers and its 422 handling on every leg.
constexpr char kSupportedExtensions[] = "100rel";
constexpr unsigned kUdpReceiveBuffer = 4u << 20;
constexpr unsigned kUdpSendBuffer = 1u << 20;
// SIP T4, "the maximum duration a message will remain in the network" (RFC 3261 table 4; 5 s by
// default). Sofia keeps two finished transactions per call for T4, with their messages: the
// caller's INVITE after its ACK (Timer I: absorbs retransmitted ACKs) and our BYE to the trunk
// after its 200 (Timer K: absorbs retransmitted responses). Both only ever absorb duplicates of
// messages already handled, and a duplicate that comes later is dropped as a stray: harmless. On
// the networks an edge talks to a message does not linger for seconds, so 1 s (docs/benchmarks.md,
// "Memory and tail latency": PSS 147 → 115 MB at 400 calls/s).
constexpr unsigned kSipT4Ms = 1000;
// Timer D: how long a client INVITE is kept after its final response (Sofia: max(32 s, T1×64),
// no tag; ≈ 12 KB each). After a 2xx it only swallows the trunk's 200 retransmissions (Sofia
// re-ACKs none, with or without it); after a 3xx–6xx it re-ACKs retransmitted finals, which the
// trunk sends 0.5, 1.5 and 3.5 s after the first when our ACK is lost. 5 s (about Kamailio's
// wait timer) covers those; a later one is dropped as a stray. docs/sip-edge.md "Timer D".
constexpr unsigned kTimerDMs = 5000;
constexpr unsigned kTimerCMs = 185000;

// How often the overload detector samples the SIP thread (its loop lag, its UDP queue).
constexpr int kOverloadSampleMs = 10;

std::once_flag su_init_once;

// Sofia's own diagnostics (e.g. "tport_udp_error: Connection refused") go to our structured log
// at debug level instead of raw stderr. Sofia writes a line in pieces; a line ends with '\n'.
void SofiaLogger(void*, char const* fmt, va_list ap) {
  thread_local std::string line;
  char buf[512];
  std::vsnprintf(buf, sizeof(buf), fmt, ap);
  line += buf;
  if (!line.empty() && line.back() == '\n') {
    line.pop_back();
    LogDebug("sofia", {{"msg", line}});
    line.clear();
  }
}

std::string UriHost(const std::string& host) {
  return host.find(':') != std::string::npos ? absl::StrCat("[", host, "]") : host;
}

// The URL a stack binds: the socket's address, or with an advertised address (1:1 NAT) that host
// in Via and Contact and the socket bound to maddr.
std::string ListenUrl(const char* scheme, const HostPort& bound, const HostPort* advertised) {
  return advertised != nullptr ? absl::StrCat(scheme, ":", UriHost(advertised->host), ":",
                                              bound.port, ";maddr=", bound.host)
                               : absl::StrCat(scheme, ":", UriHost(bound.host), ":", bound.port);
}

// Why a socket cannot be bound to `hp` ("Address already in use"), or empty if it can.
std::string BindProblem(const HostPort& hp, int type) {
  const std::optional<SocketAddress> address = SocketAddressOf(hp);
  if (!address.has_value()) return "not an IP address";
  int fd = socket(address->storage.ss_family, type, 0);
  if (fd < 0) return std::strerror(errno);
  int one = 1;
  if (type == SOCK_STREAM) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  std::string problem;
  if (bind(fd, address->get(), address->length) != 0) problem = std::strerror(errno);
  close(fd);
  return problem;
}

// Why the stack could not listen on `hp`: the bind error, or the stack's own refusal.
std::string ListenProblem(const HostPort& hp, int type) {
  std::string problem = BindProblem(hp, type);
  return problem.empty() ? "the SIP stack refused the address" : problem;
}

// The longest attempt a config can ask for (global and per-route setup timeouts).
uint32_t LongestSetupTimeoutMs(const router::RoutingTable& table) {
  uint32_t longest = table.default_failover_policy().setup_timeout_ms;
  for (const router::CompiledRoute& r : table.routes()) {
    longest = std::max(longest, r.policy.setup_timeout_ms);
  }
  return longest;
}

uint32_t StackTimeoutFor(const router::RoutingTable& table) {
  return std::clamp<uint32_t>(LongestSetupTimeoutMs(table) + 2000, 4000, 32000);
}

bool IsIncomingRequestOnNewHandle(nua_event_t event) {
  switch (event) {
    case nua_i_options:
    case nua_i_message:
    case nua_i_subscribe:
    case nua_i_refer:
    case nua_i_publish:
    case nua_i_notify:
    case nua_i_info:
    case nua_i_update:
    case nua_i_register:
    case nua_i_method:
      return true;
    default:
      return false;
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// SipEdge

absl::StatusOr<std::unique_ptr<SipEdge>> SipEdge::Start(const EdgeOptions& options,
                                                        config::ConfigManager* config,
                                                        health::HealthTracker* health,
                                                        Clock* clock) {
  if (config == nullptr || health == nullptr || clock == nullptr) {
    return absl::InvalidArgumentError("SipEdge::Start: config, health and clock are required");
  }
  if (options.workers < 1 || options.workers > kMaxWorkers) {
    return absl::InvalidArgumentError(absl::StrCat("sip workers: ", options.workers,
                                                   " is not between 1 and ", kMaxWorkers));
  }
  if (options.workers > 1 && !options.tls_listen.empty()) {
    return absl::InvalidArgumentError(
        "sip workers: more than one worker does not support a TLS listener yet (--sip-tls-listen)");
  }
  auto shared = std::make_unique<EdgeShared>(options.workers);
  std::vector<std::unique_ptr<EdgeCore>> cores;
  // One after the other: a worker's failure to bind names its port, and the shared port's
  // group is made by worker 0.
  for (int i = 0; i < options.workers; ++i) {
    cores.push_back(std::make_unique<EdgeCore>(options, i, shared.get(), config, health, clock));
    if (absl::Status s = cores.back()->Start(); !s.ok()) {
      cores.pop_back();
      for (auto& c : cores) c->BeginStop();
      cores.clear();
      return s;
    }
  }
  return std::unique_ptr<SipEdge>(new SipEdge(std::move(shared), std::move(cores)));
}

SipEdge::SipEdge(std::unique_ptr<EdgeShared> shared, std::vector<std::unique_ptr<EdgeCore>> cores)
    : shared_(std::move(shared)), cores_(std::move(cores)) {}
SipEdge::~SipEdge() { Stop(); }
void SipEdge::Stop() {
  for (auto& c : cores_) c->BeginStop();
  for (auto& c : cores_) c->Stop();
}
void SipEdge::SendProbe(const health::ProbeTarget& target) { cores_[0]->SendProbe(target); }
const EdgeCounters& SipEdge::counters() const { return shared_->counters(); }

// ---------------------------------------------------------------------------------------------
// EdgeShared

EdgeShared::EdgeShared(int workers) : workers_(workers), worker_(workers) {}

int EdgeShared::TrunkLoad(const std::string& trunk_id) const {
  absl::MutexLock lock(&load_mu_);
  auto it = trunk_load_.find(trunk_id);
  return it == trunk_load_.end() ? 0 : it->second;
}

void EdgeShared::AddTrunkLoad(const std::string& trunk_id, int delta) {
  absl::MutexLock lock(&load_mu_);
  int& n = trunk_load_[trunk_id];
  n += delta;
  if (n <= 0) trunk_load_.erase(trunk_id);
}

OverloadReading EdgeShared::Publish(int index, const OverloadReading& reading,
                                    uint32_t queue_permille, uint64_t invites_in_timer_d) {
  OverloadReading edge = reading;
  uint32_t queue = queue_permille;
  uint64_t in_timer_d = 0;
  {
    absl::MutexLock lock(&workers_mu_);
    worker_[index] = {reading, queue_permille, invites_in_timer_d};
    for (const Worker& w : worker_) {
      edge.overloaded = edge.overloaded || w.reading.overloaded;
      edge.admit_fraction = std::min(edge.admit_fraction, w.reading.admit_fraction);
      edge.smoothed_lag = std::max(edge.smoothed_lag, w.reading.smoothed_lag);
      edge.standing_fill = std::max(edge.standing_fill, w.reading.standing_fill);
      queue = std::max(queue, w.queue_permille);
      in_timer_d += w.invites_in_timer_d;
    }
  }
  counters_.overloaded.store(edge.overloaded, std::memory_order_relaxed);
  counters_.loop_lag_us.store(
      std::chrono::duration_cast<std::chrono::microseconds>(edge.smoothed_lag).count(),
      std::memory_order_relaxed);
  counters_.udp_queue_permille.store(queue, std::memory_order_relaxed);
  counters_.admit_permille.store(static_cast<uint32_t>(edge.admit_fraction * 1000.0),
                                 std::memory_order_relaxed);
  counters_.stack_invites_in_timer_d.store(in_timer_d, std::memory_order_relaxed);
  return edge;
}

// ---------------------------------------------------------------------------------------------
// EdgeCore: start and stop

EdgeCore::EdgeCore(const EdgeOptions& options, int index, EdgeShared* shared,
                   config::ConfigManager* config, health::HealthTracker* health, Clock* clock)
    : options_(options), index_(index), shared_(shared), config_(config), health_(health),
      clock_(clock), counters_(shared->counters()), overload_(options.overload) {
  entropy_state_ = static_cast<uint64_t>(clock->Now().time_since_epoch().count()) ^
                   reinterpret_cast<uintptr_t>(this);
  tls_policy_.verify_trunks = options.tls_verify_trunks;
  tls_policy_.on_failure = [this](const TlsHandshakeFailure& f) { OnTlsFailure(f); };
}

EdgeCore::~EdgeCore() {
  Stop();
  ForgetSofiaTlsPolicy(&tls_policy_);
}

// How long a failed handshake explains the local 503s of the attempts that were queued on its
// connection (they arrive within the same loop step; the margin is for a loaded machine).
constexpr int64_t kTlsFailureMemoryMs = 2000;

void EdgeCore::OnTlsFailure(const TlsHandshakeFailure& failure) {
  LogWarn("sip tls: handshake with trunk failed",
          {{"peer", failure.peer}, {"host", failure.host}, {"reason", failure.reason}});
  tls_failures_[failure.peer] = {failure.reason, clock_->Now()};
  // Sofia 1.12 leaves the INVITEs queued on the failed connection to their transaction timer:
  // the calls waiting on that peer end their attempt now. Posted, because this runs inside
  // Sofia's transport code (its tls_connect).
  const std::string peer = failure.peer;
  const std::string reason = failure.reason;
  Post([this, peer, reason] {
    std::vector<EdgeCall*> calls;
    calls.reserve(calls_.size());
    for (auto& [p, c] : calls_) calls.push_back(p);
    for (EdgeCall* c : calls) {
      c->OnTlsFailure(peer, reason);
      ReapIfFinished(c);
    }
    std::vector<Probe*> probes;
    for (auto& [p, probe] : probes_) {
      const health::ProbeTarget& t = probe->target;
      if (t.transport == v1::TRANSPORT_TLS &&
          TlsPeerKey(t.address.empty() ? t.host : t.address, t.port) == peer) {
        probes.push_back(p);
      }
    }
    for (Probe* p : probes) FinishProbe(p, ProbeEnd::kStackFinal, 503, reason);
  });
}

std::string EdgeCore::RecentTlsFailure(const std::string& peer) const {
  auto it = tls_failures_.find(peer);
  if (it == tls_failures_.end() ||
      clock_->Now() - it->second.at > std::chrono::milliseconds(kTlsFailureMemoryMs)) {
    return "";
  }
  return it->second.reason;
}

absl::Status EdgeCore::Start() {
  // Validate before any thread exists: errors name the option.
  absl::StatusOr<HostPort> listen = ParseHostPort(options_.listen, 5060, "sip listen");
  if (!listen.ok()) return listen.status();
  const int workers = shared_->workers();
  // With several workers, nua's own address is the worker's port; new calls come in on the
  // shared one as well (AddSharedPort).
  const uint32_t first_worker_port =
      options_.worker_port_base != 0 ? options_.worker_port_base : listen->port + 100;
  if (workers > 1) {
    if (first_worker_port + static_cast<uint32_t>(workers) - 1 > 65535 ||
        (listen->port >= first_worker_port &&
         listen->port < first_worker_port + static_cast<uint32_t>(workers))) {
      return absl::InvalidArgumentError(absl::StrCat(
          "sip worker ports: ", first_worker_port, "-", first_worker_port + workers - 1,
          " must be ports other than the listen port ", listen->port));
    }
    shared_listen_ = *listen;
    own_addresses_.push_back({listen->host, first_worker_port + static_cast<uint32_t>(index_)});
  } else {
    own_addresses_.push_back(*listen);
  }
  if (!options_.tls_listen.empty()) {
    absl::StatusOr<HostPort> tls = ParseHostPort(options_.tls_listen, 5061, "sip tls listen");
    if (!tls.ok()) return tls.status();
    if (options_.tls_cert_dir.empty()) {
      return absl::InvalidArgumentError(
          "sip tls listen: a certificate directory (agent.pem, cafile.pem) is required");
    }
    if (access((options_.tls_cert_dir + "/agent.pem").c_str(), R_OK) != 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "sip tls: cannot read ", options_.tls_cert_dir, "/agent.pem: ", std::strerror(errno)));
    }
    own_addresses_.push_back(*tls);
  }
  std::string advertised = options_.advertised_address;
  if (advertised.empty()) advertised = config_->Current()->config().edge().advertised_address();
  if (!advertised.empty()) {
    absl::StatusOr<HostPort> adv = ParseHostPort(advertised, listen->port, "advertised address");
    if (!adv.ok()) return adv.status();
    if (adv->port != listen->port) {
      return absl::InvalidArgumentError(absl::StrCat("advertised address: port ", adv->port,
                                                     " differs from the listen port ", listen->port,
                                                     " (only 1:1 NAT is supported)"));
    }
    own_addresses_.push_back(*adv);
  }
  loop_addresses_ = own_addresses_;
  if (workers > 1) {
    // The shared port (the advertised address, if any, is already there with it), then every
    // worker's own port under each of our names.
    const std::string& adv_host = own_addresses_.back().host;  // the advertised host, else ours
    loop_addresses_.push_back(*listen);
    for (int i = 0; i < workers; ++i) {
      const uint32_t port = first_worker_port + static_cast<uint32_t>(i);
      loop_addresses_.push_back({listen->host, port});
      if (adv_host != listen->host) loop_addresses_.push_back({adv_host, port});
    }
  }

  std::promise<absl::Status> started;
  std::future<absl::Status> result = started.get_future();
  thread_ = std::thread([this, &started] { ThreadMain(&started); });
  absl::Status status = result.get();
  if (!status.ok()) thread_.join();
  return status;
}

void EdgeCore::BeginStop() {
  // Dropped when the thread is already leaving (it failed to start) or stopping.
  Post([this] { BeginShutdown(); });
}

void EdgeCore::Stop() {
  std::call_once(stop_once_, [this] {
    if (!thread_.joinable()) return;
    BeginStop();
    thread_.join();
  });
}

bool EdgeCore::Post(std::function<void()> fn) {
  absl::MutexLock lock(&post_mu_);
  if (!accepting_posts_ || root_ == nullptr) return false;
  su_msg_r msg = SU_MSG_R_INIT;
  if (su_msg_create(msg, su_root_task(root_), su_task_null, &EdgeCore::OnPosted,
                    sizeof(PostedTask)) != 0) {
    return false;
  }
  su_msg_data(msg)->fn = new std::function<void()>(std::move(fn));
  if (su_msg_send(msg) != 0) return false;
  return true;
}

void EdgeCore::OnPosted(EdgeCore* core, su_msg_r, PostedTask* task) {
  ++core->activity_;
  std::unique_ptr<std::function<void()>> fn(task->fn);
  (*fn)();
}

void EdgeCore::ThreadMain(std::promise<absl::Status>* started) {
  // "sip-worker-0" in top -H, perf and /proc/PID/task/*/comm (at most 15 characters).
  pthread_setname_np(pthread_self(), absl::StrCat("sip-worker-", index_).substr(0, 15).c_str());
  std::call_once(su_init_once, [] {
    su_init();
    su_log_redirect(su_log_default, &SofiaLogger, nullptr);
  });
  su_home_init(home_);
  root_ = su_root_create(this);
  if (root_ == nullptr) {
    started->set_value(absl::InternalError("sip: su_root_create failed"));
    su_home_deinit(home_);
    return;
  }
  // nua runs its stack as a "clone" task; without this it would get a thread of its own and
  // every nua call would cross threads.
  su_root_threading(root_, 0);
  // Trunk host names are resolved here, on this thread, by Sofia's asynchronous resolver.
  absl::Status status;
  if (absl::StatusOr<std::unique_ptr<SofiaDnsClient>> dns =
          SofiaDnsClient::Create(root_, options_.dns_server, "--sip-dns-server");
      dns.ok()) {
    dns_ = *std::move(dns);
    ResolverOptions ro;
    ro.support.udp = true;
    ro.support.tcp = options_.enable_tcp;
    ro.support.tls = !options_.tls_listen.empty();
    const bool v6 = own_addresses_[0].host.find(':') != std::string::npos;
    ro.support.ipv4 = !v6;
    ro.support.ipv6 = v6;
    ro.ttl_floor_s = std::max<uint32_t>(1, options_.dns_ttl_floor_s);
    ro.ttl_cap_s = std::max(ro.ttl_floor_s, options_.dns_ttl_cap_s);
    resolver_ = std::make_unique<TargetResolver>(
        dns_.get(), clock_, ro,
        [this](const std::shared_ptr<const TrunkTargets>& t) { OnTargetsChanged(t); });
    status = CreateStack();
  } else {
    status = dns.status();
  }
  {
    absl::MutexLock lock(&post_mu_);
    accepting_posts_ = status.ok();
  }
  const bool ok = status.ok();
  if (ok) {
    resolver_timer_ = su_timer_create(su_root_task(root_), 0);
    SyncResolver();
    udp_fd_ = FindUdpSocket(own_addresses_[0]);
    if (udp_fd_ < 0) {
      LogWarn("sip edge: UDP socket not found; overload detection uses the loop lag only",
              {{"listen", options_.listen}});
    }
    overload_timer_ = su_timer_create(su_root_task(root_), 0);
    ArmOverloadTimer(clock_->Now());
  }
  started->set_value(std::move(status));  // `started` must not be touched after this
  if (ok) {
    RunLoop();
    {
      absl::MutexLock lock(&post_mu_);
      accepting_posts_ = false;
    }
    shared_->calls_held().fetch_sub(static_cast<int64_t>(calls_.size()), std::memory_order_relaxed);
    calls_.clear();
    for (auto& [p, probe] : probes_) {
      if (probe->timer != nullptr) su_timer_destroy(probe->timer);
      if (probe->nh != nullptr) HandleDestroyed(probe->nh);
    }
    probes_.clear();
    if (shutdown_timer_ != nullptr) su_timer_destroy(shutdown_timer_);
    if (resolver_timer_ != nullptr) su_timer_destroy(resolver_timer_);
    if (overload_timer_ != nullptr) su_timer_destroy(overload_timer_);
    if (saved_event_[0] != nullptr) nua_destroy_event(saved_event_);
    if (shutdown_done_) nua_destroy(nua_);  // else leaked on purpose: nua refuses mid-shutdown
    nua_ = nullptr;
  }
  resolver_.reset();
  dns_.reset();
  {
    absl::MutexLock lock(&post_mu_);
    su_root_destroy(root_);
    root_ = nullptr;
  }
  su_home_deinit(home_);
}

// su_root_run() would do, except for one thing: Sofia rounds the time to its next timer down to
// whole milliseconds, so for the last millisecond before every timer it polls with a zero timeout
// in a tight loop. With a few transaction timers per call that spin cost more CPU than the calls
// at low rates. When a step did nothing of ours and a timer is due within the millisecond, wait
// a tenth of it instead, but on the SIP socket: a datagram waiting or arriving ends the wait at
// once. (A plain sleep here, judged by our own callbacks alone, slept after every datagram nta
// handled by itself, an ACK or an absorbed retransmission: under load the thread slept a third
// of the time with its socket full and dropping; docs/benchmarks.md "Overload".) TCP and TLS
// segments still wait up to the 100 us.
void EdgeCore::RunLoop() {
  loop_running_ = true;
  while (loop_running_) {
    const uint64_t before = activity_;
    const su_duration_t next_timer_ms = su_root_step(root_, 1000);
    if (next_timer_ms == 0 && activity_ == before) {
      // Without the sockets (not found, or closed by the stack at shutdown) a plain wait.
      pollfd waiting[2];
      nfds_t n = 0;
      for (int fd : {udp_fd_, shared_fd_}) {
        if (fd >= 0) waiting[n++] = {.fd = fd, .events = POLLIN, .revents = 0};
      }
      const timespec tenth_ms{.tv_sec = 0, .tv_nsec = 100'000};
      if (ppoll(waiting, n, &tenth_ms, nullptr) > 0) {
        for (nfds_t i = 0; i < n; ++i) {
          if ((waiting[i].revents & POLLNVAL) == 0) continue;
          if (waiting[i].fd == udp_fd_) udp_fd_ = -1;
          if (waiting[i].fd == shared_fd_) shared_fd_ = -1;
        }
      }
    }
  }
}

absl::Status EdgeCore::CreateStack() {
  const HostPort& listen = own_addresses_[0];
  const bool tls = !options_.tls_listen.empty();
  const HostPort* advertised = Advertised();
  std::string url = ListenUrl("sip", listen, advertised);
  if (!options_.enable_tcp) url += ";transport=udp";
  const std::string tls_url = tls ? ListenUrl("sips", own_addresses_[1], advertised) : "";
  const std::string from = absl::StrCat(
      "<sip:trunkroute@", UriHost(advertised != nullptr ? advertised->host : listen.host), ">");
  const std::string contact_user = WorkerContactUser(index_);
  t1x64_ms_ = StackTimeoutFor(*config_->Current());
  seen_table_version_ = config_->Current()->version();
  // Sofia's policy bits, one per direction (tport_tls.c, 1.12.11): IN makes the listener ask
  // for a client certificate and refuse a connection without a valid one; OUT refuses a trunk
  // whose certificate does not verify. Neither direction's bit changes the other's behaviour.
  // The trunk's name is checked by OpenSSL (sip/sofia_tls.h: DNS names and IP SANs), not by
  // Sofia's SUBJECTS_OUT, which compares DNS-type names only.
  const unsigned verify =
      (options_.tls_verify_clients ? static_cast<unsigned>(TPTLS_VERIFY_IN) : 0u) |
      (options_.tls_verify_trunks ? static_cast<unsigned>(TPTLS_VERIFY_OUT) : 0u);
  if (tls) {
    if (absl::Status hooks = CheckSofiaTlsHooks(); !hooks.ok()) return hooks;
  }
  // TLS contexts nua_create makes get the policy (TLS 1.2 minimum, trunk names, failures).
  SofiaTlsPolicyScope tls_scope(&tls_policy_);

  nua_ = nua_create(
      root_, &EdgeCore::NuaCallback, this, NUTAG_URL(url.c_str()),
      TAG_IF(tls, NUTAG_SIPS_URL(tls_url.c_str())),
      TAG_IF(tls, TPTAG_CERTIFICATE(options_.tls_cert_dir.c_str())),
      TAG_IF(tls, TPTAG_TLS_VERIFY_POLICY(verify)),
      // A B2BUA passes SDP through untouched: no offer/answer engine of our own.
      NUTAG_MEDIA_ENABLE(0), NUTAG_AUTOALERT(0), NUTAG_AUTOANSWER(0), NUTAG_AUTOACK(0),
      NUTAG_ENABLEINVITE(1), NUTAG_SESSION_TIMER(0),
      // nua would otherwise answer some finals itself: hold a 503 + Retry-After and re-send the
      // INVITE later (reporting a fake "100"), or follow a 3xx. Failover decides those here.
      NUTAG_MAX_RETRY_AFTER(0), NUTAG_AUTO302(0), NUTAG_AUTO305(0), NUTAG_APPL_METHOD("UPDATE"),
      NUTAG_APPL_METHOD("INFO"),
      // What the edge really does (nua's defaults also list MESSAGE, SUBSCRIBE, NOTIFY, REFER):
      // the stack answers methods not listed 405. PRACK (RFC 3262) is answered per leg by nua.
      SIPTAG_ALLOW_STR(kAllowedMethods), SIPTAG_SUPPORTED_STR(kSupportedExtensions),
      NUTAG_USER_AGENT("trunkroute"), SIPTAG_FROM_STR(from.c_str()),
      // Several workers: our Contact names the worker, for peers that send in-dialog requests
      // to the shared port (sip/shared_port.h).
      TAG_IF(shared_listen_.has_value(), NUTAG_M_USERNAME(contact_user.c_str())),
      NUTAG_OUTBOUND("no-options-keepalive no-validate"),
      // Our own timers decide failover (attempt setup timer, budget, probe timeout). T1×64 (Timer
      // B/F/H/J) only bounds how long an abandoned INVITE waits for a late answer to CANCEL or
      // BYE, and how long finished transactions are kept (memory): just above the longest setup
      // timeout the config asks for, 4 s at least, 32 s (RFC 3261) at most. DNS graylisting is off
      // so that a trunk whose name failed once is not skipped by the resolver.
      NTATAG_SIP_T1X64(t1x64_ms_), NTATAG_SIP_T4(kSipT4Ms), NTATAG_TIMER_C(kTimerCMs),
      NTATAG_GRAYLIST(0),
      // Trunk names are resolved by us (TargetResolver) and every request to a trunk goes to one
      // resolved address: nta must not walk NAPTR/SRV itself (it would fail over between SRV
      // targets behind our back). Names it still meets (a dialog's host-named Contact) get A/AAAA
      // only, from the same DNS server as ours.
      NTATAG_USE_NAPTR(0), NTATAG_USE_SRV(0),
      TAG_IF(!dns_->resolv_conf().empty(), SRESTAG_RESOLV_CONF(dns_->resolv_conf().c_str())),
      // One thread serves every UDP datagram: a deep receive buffer rides out bursts instead of
      // dropping them (the kernel caps it at net.core.rmem_max).
      TPTAG_UDP_RMEM(kUdpReceiveBuffer), TPTAG_UDP_WMEM(kUdpSendBuffer), TAG_END());
  if (nua_ != nullptr && tls && tls_scope.contexts() == 0) {
    return absl::FailedPreconditionError(
        "sip tls: the TLS listener was created without trunkroute's TLS policy (TLS 1.2 "
        "minimum, trunk certificate names); refusing to run it");
  }
  if (nua_ != nullptr) {
    // Ask what the transaction layer actually runs with (nua_r_get_params; tests hold the stack
    // to it).
    nua_get_params(nua_, TAG_ANY(), TAG_END());
    ApplyTimerD();
    InstallStackShedding();
    return AddSharedPort();
  }

  std::string problem = BindProblem(listen, SOCK_DGRAM);
  std::string what = "udp";
  if (problem.empty() && options_.enable_tcp) {
    problem = BindProblem(listen, SOCK_STREAM);
    what = "tcp";
  }
  if (problem.empty() && tls) {
    problem = BindProblem(own_addresses_[1], SOCK_STREAM);
    if (!problem.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("sip: cannot listen on tls ", options_.tls_listen, ": ", problem));
    }
    return absl::FailedPreconditionError(
        absl::StrCat("sip: cannot start the TLS listener on ", options_.tls_listen,
                     " (check agent.pem and cafile.pem in ", options_.tls_cert_dir, ")"));
  }
  if (problem.empty()) problem = "the SIP stack refused the address";
  return absl::FailedPreconditionError(
      shared_listen_.has_value()
          ? absl::StrCat("sip: cannot listen on ", what, " ", UriHost(listen.host), ":",
                         listen.port, " (sip worker ", index_, "'s own port): ", problem)
          : absl::StrCat("sip: cannot listen on ", what, " ", options_.listen, ": ", problem));
}

// Every nta_agent_set_params (nua_set_params on the stack) puts Timer D back to Sofia's 32 s.
// Without short_timer_d the queue is only found (its length is a counter), nothing is written.
void EdgeCore::ApplyTimerD() {
  ExpectedStackTimers expected;
  expected.api_root = root_;
  expected.magic = this;
  expected.t4_ms = kSipT4Ms;
  expected.t1x64_ms = t1x64_ms_;
  expected.timer_c_ms = kTimerCMs;
  absl::StatusOr<InviteClientTimerD> timer_d = InviteClientTimerD::Find(nua_, expected, kTimerDMs);
  if (!timer_d.ok()) {
    timer_d_.reset();
    counters_.stack_timer_d_ms.store(0, std::memory_order_relaxed);
    if (options_.short_timer_d) {
      LogWarn("sip edge: client INVITEs are kept 32 s after their final (more memory per call)",
              {{"reason", std::string(timer_d.status().message())}});
    }
    return;
  }
  timer_d_ = *timer_d;
  if (options_.short_timer_d) timer_d_->Set(kTimerDMs);
  counters_.stack_timer_d_ms.store(timer_d_->timer_d_ms(), std::memory_order_relaxed);
}

const HostPort* EdgeCore::Advertised() const {
  const size_t bound = options_.tls_listen.empty() ? 1 : 2;  // [0] UDP/TCP, [1] TLS
  return own_addresses_.size() > bound ? &own_addresses_.back() : nullptr;
}

absl::Status EdgeCore::AddSharedPort() {
  if (!shared_listen_.has_value()) return absl::OkStatus();
  if (!timer_d_.has_value()) {
    return absl::FailedPreconditionError(
        "sip workers: nua's transaction agent was not found (Sofia-SIP's layout not recognised), "
        "so the shared port cannot be added; run with one worker");
  }
  const HostPort& listen = *shared_listen_;
  const std::string url = ListenUrl("sip", listen, Advertised());
  const std::string udp_url = url + ";transport=udp";
  {
    SharedPortBind shared_bind(listen, shared_->workers(), index_ == 0);
    const int added = nta_agent_add_tport(timer_d_->agent(), URL_STRING_MAKE(udp_url.c_str()),
                                          TPTAG_UDP_RMEM(kUdpReceiveBuffer),
                                          TPTAG_UDP_WMEM(kUdpSendBuffer), TAG_END());
    if (!shared_bind.status().ok()) return shared_bind.status();
    if (added < 0 || shared_bind.fd() < 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("sip: cannot listen on udp ", options_.listen, " (shared by ",
                       shared_->workers(), " workers): ", ListenProblem(listen, SOCK_DGRAM)));
    }
    shared_fd_ = shared_bind.fd();
  }
  if (index_ == 0 && options_.enable_tcp) {
    const std::string tcp_url = url + ";transport=tcp";
    if (nta_agent_add_tport(timer_d_->agent(), URL_STRING_MAKE(tcp_url.c_str()), TAG_END()) < 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "sip: cannot listen on tcp ", options_.listen, ": ", ListenProblem(listen, SOCK_STREAM)));
    }
  }
  return absl::OkStatus();
}

void EdgeCore::InstallStackShedding() {
  nta_leg_t* leg = timer_d_.has_value() ? nta_default_leg(timer_d_->agent()) : nullptr;
  // nta_leg_magic() answers only when the leg's callback is the one named: nua's own, unwrapped.
  auto* nua_handler = reinterpret_cast<nta_request_f*>(&nua_stack_process_request);
  auto* nua_magic =
      leg != nullptr ? reinterpret_cast<nua_handle_t*>(nta_leg_magic(leg, nua_handler)) : nullptr;
  if (nua_magic == nullptr) {
    LogWarn("sip edge: overload refusals go through nua (each costs about a call's stack work)",
            {{"reason", leg == nullptr ? "nua's transaction agent not found"
                                       : "nta's default leg is not nua's"}});
    return;
  }
  stack_leg_ = leg;
  stack_leg_nua_ = nua_magic;
  nta_leg_bind(leg, &EdgeCore::OnStackRequest, this);
  counters_.stack_shedding.store(true, std::memory_order_relaxed);
}

void EdgeCore::RemoveStackShedding() {
  if (stack_leg_ == nullptr) return;
  nta_leg_bind(stack_leg_, reinterpret_cast<nta_request_f*>(&nua_stack_process_request),
               reinterpret_cast<EdgeCore*>(stack_leg_nua_));
  stack_leg_ = nullptr;
  counters_.stack_shedding.store(false, std::memory_order_relaxed);
}

int EdgeCore::OnStackRequest(EdgeCore* core, nta_leg_t* leg, nta_incoming_t* irq,
                             sip_t const* sip) {
  // Only a new call (an INVITE without a To tag) is ever shed; CANCEL, OPTIONS, stray in-dialog
  // requests and INVITEs that are not shed go to nua exactly as without this callback.
  if (sip != nullptr && sip->sip_request != nullptr &&
      sip->sip_request->rq_method == sip_method_invite && sip->sip_to != nullptr &&
      sip->sip_to->a_tag == nullptr && core->overload_.overloaded()) {
    if (const int status = core->ShedAtStack(irq, sip); status != 0) return status;
  }
  return nua_stack_process_request(core->stack_leg_nua_, leg, irq, sip);
}

int EdgeCore::ShedAtStack(nta_incoming_t* irq, sip_t const* sip) {
  ++activity_;
  std::shared_ptr<const router::RoutingTable> table = config_->Current();
  if (!table->config().edge().shed_on_overload()) return 0;
  // The detector's admitted fraction: this call is one of those it lets through.
  if (overload_.AdmitNext()) return 0;
  msg_t* msg = nta_incoming_getrequest(irq);  // a reference of its own
  std::string source = SourceAddress(msg);
  msg_destroy(msg);
  const InviteFacts facts = InviteFactsOf(sip, std::move(source), loop_addresses_);
  // The same admission as the call's own (without the call-rate buckets, whose tokens only an
  // admitted call takes): a source that is not allowed still gets its 403, a loop its 482, from
  // nua's path; only the overload refusal is answered here.
  const Admission admission = AdmitInvite(
      facts, *table,
      {.stopping = stopping_, .calls_in_progress = CallsHeld(), .overloaded = true});
  if (!admission.rejection.has_value() || admission.rejection->metric_reason != kRejectOverload) {
    return 0;
  }
  const EdgeRejection& rejection = *admission.rejection;
  counters_.invites_received.fetch_add(1, std::memory_order_relaxed);
  counters_.calls_shed_in_stack.fetch_add(1, std::memory_order_relaxed);
  NoteRejection(rejection, facts, sip);
  char retry_after[16] = "";
  std::snprintf(retry_after, sizeof(retry_after), "%u", rejection.retry_after_s);
  // A final response needs our To tag (RFC 3261 §8.2.6.2); nta makes one.
  nta_incoming_tag(irq, nullptr);
  nta_incoming_treply(irq, rejection.status,
                      rejection.phrase != nullptr ? rejection.phrase : sip_status_phrase(rejection.status),
                      TAG_IF(!rejection.reason_header.empty(),
                             SIPTAG_REASON_STR(rejection.reason_header.c_str())),
                      TAG_IF(rejection.retry_after_s > 0, SIPTAG_RETRY_AFTER_STR(retry_after)),
                      TAG_END());
  // nta sees the final response and lets go of the transaction (it still absorbs the ACK and
  // any retransmitted INVITE, answering the latter with the same 503).
  return rejection.status;
}

void EdgeCore::BeginShutdown() {
  if (stopping_) return;
  stopping_ = true;
  LogInfo("sip edge stopping", {{"calls", std::to_string(calls_.size())}});
  std::vector<EdgeCall*> calls;
  calls.reserve(calls_.size());
  for (auto& [p, c] : calls_) calls.push_back(p);
  for (EdgeCall* c : calls) {
    c->Shutdown();
    ReapIfFinished(c);
  }
  std::vector<Probe*> probes;
  for (auto& [p, probe] : probes_) probes.push_back(p);
  for (Probe* p : probes) FinishProbe(p, ProbeEnd::kOurTimer);
  RemoveStackShedding();
  // nua frees its agent as the shutdown completes, while the loop (and the overload sampler,
  // which reads the Timer D queue) still runs: nothing reads nta's structs from here on.
  timer_d_.reset();
  nua_shutdown(nua_);
  shutdown_timer_ = su_timer_create(su_root_task(root_), 0);
  su_timer_set_interval(shutdown_timer_, &EdgeCore::OnShutdownTimer, nullptr, kShutdownGraceMs);
}

void EdgeCore::OnShutdownTimer(EdgeCore* core, su_timer_t*, void*) {
  LogWarn("sip edge: stack shutdown did not finish in time; stopping anyway");
  core->loop_running_ = false;
}

// ---------------------------------------------------------------------------------------------
// Events

void EdgeCore::NuaCallback(nua_event_t event, int status, char const* phrase, nua_t*,
                           EdgeCore* core, nua_handle_t* nh, LegRef* ref, sip_t const* sip,
                           tagi_t tags[]) {
  core->OnEvent(event, status, phrase, nh, ref, sip, tags);
}

void EdgeCore::OnEvent(nua_event_t event, int status, char const* phrase, nua_handle_t* nh,
                       LegRef* ref, sip_t const* sip, tagi_t tags[]) {
  ++activity_;
  if (ref == nullptr) {
    if (event == nua_i_invite) {
      OnIncomingInvite(nh, sip);
    } else if (event == nua_r_get_params) {
      unsigned t1x64 = 0, t4 = 0;
      tl_gets(tags, NTATAG_SIP_T1X64_REF(t1x64), NTATAG_SIP_T4_REF(t4), TAG_END());
      counters_.stack_t1x64_ms.store(t1x64, std::memory_order_relaxed);
      counters_.stack_t4_ms.store(t4, std::memory_order_relaxed);
    } else if (event == nua_r_set_params) {
      ApplyTimerD();
    } else if (event == nua_r_shutdown) {
      if (status >= 200) {
        shutdown_done_ = true;
        loop_running_ = false;
      }
    } else if (nh != nullptr && nh != nua_default(nua_) && IsIncomingRequestOnNewHandle(event)) {
      // OPTIONS to the edge itself (answered 200 by the stack) and other out-of-dialog
      // requests: nothing of ours holds the handle.
      nua_handle_destroy(nh);
    }
    return;
  }
  switch (ref->kind) {
    case LegRef::Kind::kCaller: {
      EdgeCall* call = ref->call;
      call->OnCallerEvent(event, status, phrase, sip, tags);
      ReapIfFinished(call);
      break;
    }
    case LegRef::Kind::kTrunk: {
      EdgeCall* call = ref->call;
      // Whether a failure came from the trunk or from our own stack (refused, unreachable, TLS,
      // its own timer) matters to failover and health; only finals ≥ 300 need the check.
      const bool local = event == nua_r_invite && status >= 300 && !CameFromNetwork(sip);
      call->OnTrunkEvent(ref->attempt, event, status, phrase, sip, tags, local);
      ReapIfFinished(call);
      break;
    }
    case LegRef::Kind::kProbe:
      if (event == nua_r_options && status >= 200) {
        FinishProbe(ref->probe, CameFromNetwork(sip) ? ProbeEnd::kAnswered : ProbeEnd::kStackFinal,
                    status);
      }
      break;
  }
}

bool EdgeCore::CameFromNetwork(sip_t const* sip) {
  if (sip == nullptr) return false;
  // The event's message: a response the stack made up itself has no peer address
  // (its address family stays AF_UNSPEC). Saving the
  // event is the only way to reach the msg_t; it is released at once (the callback's `sip`
  // points into nua's copy of the same message, which stays valid until the callback returns —
  // so the saved event is destroyed only after that, by the next call or at shutdown).
  if (saved_event_[0] != nullptr) nua_destroy_event(saved_event_);
  if (!nua_save_event(nua_, saved_event_)) return true;
  const nua_event_data_t* data = nua_event_data(saved_event_);
  su_addrinfo_t* ai =
      data != nullptr && data->e_msg != nullptr ? msg_addrinfo(data->e_msg) : nullptr;
  return ai != nullptr && ai->ai_addr != nullptr && ai->ai_addr->sa_family != AF_UNSPEC;
}

void EdgeCore::ReapIfFinished(EdgeCall* call) {
  if (call->Finished() && calls_.erase(call) > 0) {
    shared_->calls_held().fetch_sub(1, std::memory_order_relaxed);
  }
}

void EdgeCore::RejectIncoming(nua_handle_t* nh, const EdgeRejection& rejection,
                              const InviteFacts& invite, sip_t const* sip) {
  NoteRejection(rejection, invite, sip);
  // nua_respond() keeps the phrase pointer until the stack runs the request: a static one.
  char const* phrase =
      rejection.phrase != nullptr ? rejection.phrase : sip_status_phrase(rejection.status);
  const std::string& reason = rejection.reason_header;
  char retry_after[16] = "";
  const bool shed = rejection.retry_after_s > 0;
  if (shed) std::snprintf(retry_after, sizeof(retry_after), "%u", rejection.retry_after_s);
  nua_respond(nh, rejection.status, phrase != nullptr ? phrase : "Rejected",
              TAG_IF(!reason.empty(), SIPTAG_REASON_STR(reason.c_str())),
              TAG_IF(shed, SIPTAG_RETRY_AFTER_STR(retry_after)), TAG_END());
  nua_handle_destroy(nh);
}

void EdgeCore::NoteRejection(const EdgeRejection& rejection, const InviteFacts& invite,
                             sip_t const* sip) {
  counters_.calls_rejected.fetch_add(1, std::memory_order_relaxed);
  const bool shed = rejection.retry_after_s > 0;
  if (shed) counters_.calls_shed.fetch_add(1, std::memory_order_relaxed);
  if (options_.observer != nullptr) {
    options_.observer->OnRejected(rejection.status, rejection.metric_reason);
  }
  const char* call_id = sip != nullptr && sip->sip_call_id ? sip->sip_call_id->i_id : "";
  // Shed calls are logged at debug only: an info line per refused call would add to the load
  // being shed. An overload episode has its own warning and summary (SampleOverload).
  if (shed) {
    LogDebug("call shed", {{"call_id", call_id},
                           {"status", std::to_string(rejection.status)},
                           {"reason", rejection.log_reason}});
    return;
  }
  LogInfo("call rejected", {{"call_id", call_id},
                            {"status", std::to_string(rejection.status)},
                            {"reason", rejection.log_reason}});
  if (rejection.warn_with_source) {
    LogWarn("INVITE from a source that is not allowed",
            {{"call_id", call_id}, {"source", invite.source}});
  }
}

void EdgeCore::WarnIfStackTimeoutTooShort(const router::RoutingTable& table) {
  if (index_ != 0 || table.version() == seen_table_version_) return;  // once per edge
  seen_table_version_ = table.version();
  // The stack's transaction lifetime is fixed at start-up (Sofia sets its queues once).
  if (LongestSetupTimeoutMs(table) + 1000 > t1x64_ms_) {
    LogWarn(
        "a setup timeout in the new config is close to or above the SIP stack's "
        "transaction timeout set at start-up; restart the edge to raise it",
        {{"setup_timeout_ms", std::to_string(LongestSetupTimeoutMs(table))},
         {"stack_timeout_ms", std::to_string(t1x64_ms_)}});
  }
}

void EdgeCore::OnIncomingInvite(nua_handle_t* nh, sip_t const* sip) {
  counters_.invites_received.fetch_add(1, std::memory_order_relaxed);
  std::shared_ptr<const router::RoutingTable> table = config_->Current();
  if (table->version() != resolver_table_version_) SyncResolver();

  // Admission, route decision and call plan (sip/incoming_invite.h: the code the SIP fuzz
  // target runs too).
  // A named lambda: a FunctionRef must not outlive what it refers to.
  auto targets_for_call = [this](const router::CompiledTrunk& t) { return TargetsForCall(t); };
  const TargetsOfTrunk targets_of = targets_for_call;
  auto trunk_load = [this](const std::string& trunk_id) { return TrunkLoad(trunk_id); };
  const bool rate_capped = table->edge_max_cps() > 0 || table->edge_max_cps_per_source() > 0;
  IncomingInvite in = HandleIncomingInvite(
      home_, sip,
      {.source = SourceAddress(nua_current_request(nua_)),
       .own_addresses = &loop_addresses_,
       .table = table,
       .health = health_,
       // The overload detector always runs (its metrics and log lines); it refuses calls only
       // with edge.shed_on_overload (docs/sip-edge.md "Overload").
       // While nta's callback is bound (InstallStackShedding), it alone decides which new calls
       // the overload sheds: a call that reaches nua was admitted there.
       .edge = {.stopping = stopping_,
                .calls_in_progress = CallsHeld(),
                .overloaded = table->config().edge().shed_on_overload() && stack_leg_ == nullptr &&
                              !overload_.AdmitNext(),
                .rate_limiter = shared_->rate_limiter(),
                .now = rate_capped ? clock_->Now() : MonoTime()},
       .entropy = NextEntropy(),
       .trunk_load = trunk_load,
       .targets_of = &targets_of,
       .decide_clock = options_.observer != nullptr ? clock_ : nullptr});
  if (in.admitted) WarnIfStackTimeoutTooShort(*table);
  if (in.decision && options_.observer != nullptr) {
    options_.observer->OnDecision(router::DecisionRouteId(*in.decision),
                                  router::DecisionResult(*in.decision), in.decide_time);
  }
  if (in.rejection) {
    RejectIncoming(nh, *in.rejection, in.facts, sip);
    return;
  }

  auto call = std::make_unique<EdgeCall>(this, nh, **std::move(in.decision),
                                         std::move(in.request), std::move(in.plan.candidates),
                                         std::move(in.plan.offers));
  EdgeCall* raw = call.get();
  calls_.emplace(raw, std::move(call));
  shared_->calls_held().fetch_add(1, std::memory_order_relaxed);
  raw->Start();
  ReapIfFinished(raw);
}

// ---------------------------------------------------------------------------------------------
// Services for calls

health::OutcomeClass EdgeCore::ReportOutcome(const health::AttemptOutcome& outcome,
                                             const router::EffectiveFailoverPolicy& policy) {
  return health_->ReportOutcome(outcome, policy);
}

std::shared_ptr<const TrunkTargets> EdgeCore::TargetsOf(const std::string& trunk_id) const {
  return resolver_ != nullptr ? resolver_->Find(trunk_id) : nullptr;
}

std::vector<CallTarget> EdgeCore::TargetsForCall(const router::CompiledTrunk& trunk) {
  std::vector<CallTarget> out;
  std::shared_ptr<const TrunkTargets> resolved = TargetsOf(trunk.id);
  if (resolved == nullptr || resolved->targets.empty()) return out;
  // RFC 2782 order drawn for this call, then health: targets that are not UP go last (they are
  // tried only when every UP one failed, as a trunk in panic mode would be).
  std::vector<const ResolvedTarget*> order = OrderForCall(*resolved, call_random_);
  std::shared_ptr<const health::TargetAvailabilityList> states = health_->TargetStates(trunk.id);
  auto up = [&](const ResolvedTarget* t) {
    if (states == nullptr) return true;
    for (const health::TargetAvailability& a : *states) {
      if (a.key == t->key) return a.state == v1::HEALTH_STATE_UP;
    }
    return true;  // not known to health yet: new, hence UP
  };
  std::stable_partition(order.begin(), order.end(), up);
  out.reserve(order.size());
  for (const ResolvedTarget* t : order) {
    out.push_back({t->key, t->address, t->port, t->transport});
  }
  return out;
}

void EdgeCore::OnTargetsChanged(const std::shared_ptr<const TrunkTargets>& t) {
  // Every worker resolves for its own calls; worker 0 tells health (the same answers).
  if (index_ != 0) return;
  if (!t->from_dns || !t->resolved) return;  // an IP literal is its own target
  health::TargetUpdate u;
  u.trunk_id = t->trunk_id;
  u.host = t->host;
  u.port = t->port;
  u.transport = t->transport;
  u.error = t->error;
  for (const ResolvedTarget& r : t->targets) {
    health::TargetSpec spec;
    spec.key = r.key;
    spec.address = r.address;
    spec.port = r.port;
    spec.transport = r.transport;
    spec.priority = r.priority;
    spec.weight = r.weight;
    u.targets.push_back(std::move(spec));
  }
  health_->SetTargets(u);
}

void EdgeCore::SyncResolver() {
  if (resolver_ == nullptr) return;
  std::shared_ptr<const router::RoutingTable> table = config_->Current();
  if (table->version() != resolver_table_version_) {
    resolver_table_version_ = table->version();
    resolver_->Sync(*table);
  }
  RunResolver();
}

void EdgeCore::RunResolver() {
  const MonoTime now = clock_->Now();
  if (resolver_->NextDeadline() <= now) resolver_->Tick();
  // The tracker learns of a new trunk from the config listener, on another thread, possibly
  // after our answer for it (which it then ignored): a resolved trunk that health still shows
  // without targets is told again.
  for (const router::CompiledTrunk& t : config_->Current()->trunks()) {
    if (index_ != 0) break;
    if (t.host_is_ip || health_->TargetStates(t.id) != nullptr) continue;
    std::shared_ptr<const TrunkTargets> targets = resolver_->Find(t.id);
    if (targets != nullptr && targets->resolved && !targets->targets.empty()) {
      OnTargetsChanged(targets);
    }
  }
  // Wake at the next refresh, and at least every second to notice config changes.
  const MonoTime next = std::min(resolver_->NextDeadline(), now + std::chrono::seconds(1));
  const int64_t ms = std::max<int64_t>(
      1, std::chrono::duration_cast<std::chrono::milliseconds>(next - now).count());
  su_timer_set_interval(resolver_timer_, &EdgeCore::OnResolverTimer, nullptr,
                        static_cast<su_duration_t>(ms));
}

void EdgeCore::OnResolverTimer(EdgeCore* core, su_timer_t*, void*) {
  ++core->activity_;
  if (core->stopping_) return;
  core->SyncResolver();
}

void EdgeCore::ArmOverloadTimer(MonoTime now) {
  overload_due_ = now + milliseconds(kOverloadSampleMs);
  su_timer_set_interval(overload_timer_, &EdgeCore::OnOverloadTimer, nullptr, kOverloadSampleMs);
}

void EdgeCore::OnOverloadTimer(EdgeCore* core, su_timer_t*, void*) {
  ++core->activity_;
  core->SampleOverload();
}

void EdgeCore::SampleOverload() {
  const MonoTime now = clock_->Now();
  OverloadDetector::Sample sample;
  sample.now = now;
  sample.lag = now - overload_due_;
  // Everything this thread reads: its own port and, with several workers, its socket on the
  // shared one (the detector sees their sum as one queue).
  for (int fd : {udp_fd_, shared_fd_}) {
    uint64_t queued = 0;
    uint64_t buffer = 0;
    if (fd >= 0 && ReadReceiveQueue(fd, &queued, &buffer)) {
      sample.rx_queued_bytes += queued;
      sample.rx_buffer_bytes += buffer;
    }
  }
  const bool changed = overload_.Observe(sample);
  // One reading for the counters, the observer and the log line below: this worker's goes into
  // the edge's (EdgeShared::Publish), which the counters and the observer get.
  const OverloadReading reading = overload_.reading();
  const OverloadReading edge = shared_->Publish(
      index_, reading, static_cast<uint32_t>(overload_.queue_fill() * 1000.0),
      timer_d_.has_value() ? timer_d_->completed_invites() : 0);
  if (options_.observer != nullptr &&
      (changed || (index_ == 0 && ++overload_readings_ % 10 == 0))) {
    options_.observer->OnOverloadReading(edge);
  }
  if (changed) {
    const std::string lag_ms = std::to_string(
        std::chrono::duration_cast<milliseconds>(reading.smoothed_lag).count());
    const std::string queue_pct = std::to_string(static_cast<int>(overload_.queue_fill() * 100));
    const uint64_t shed = counters_.calls_shed.load(std::memory_order_relaxed);
    if (reading.overloaded) {
      counters_.overload_onsets.fetch_add(1, std::memory_order_relaxed);
      shed_at_onset_ = shed;
      const bool shedding = config_->Current()->config().edge().shed_on_overload();
      LogWarn(shedding ? "sip edge overloaded: the excess of new calls gets 503 with Retry-After"
                       : "sip edge overloaded: not shedding (edge.shed_on_overload is off)",
              {{"worker", std::to_string(index_)},
               {"cause", std::string(overload_.cause())},
               {"loop_lag_ms", lag_ms},
               {"udp_queue_pct", queue_pct},
               {"calls", std::to_string(calls_.size())}});
    } else {
      LogInfo("sip edge no longer overloaded",
              {{"worker", std::to_string(index_)},
               {"calls_shed", std::to_string(shed - shed_at_onset_)},
               {"loop_lag_ms", lag_ms},
               {"udp_queue_pct", queue_pct}});
    }
  }
  if (!stopping_) ArmOverloadTimer(now);
}

int EdgeCore::TrunkLoad(const std::string& trunk_id) const { return shared_->TrunkLoad(trunk_id); }

void EdgeCore::AddTrunkLoad(const std::string& trunk_id, int delta) {
  if (options_.observer != nullptr) options_.observer->OnActiveCalls(trunk_id, delta);
  shared_->AddTrunkLoad(trunk_id, delta);
}

void EdgeCore::HandleDestroyed(nua_handle_t* nh) {
  nua_handle_destroy(nh);
  counters_.open_handles.fetch_sub(1, std::memory_order_relaxed);
}

double EdgeCore::NextEntropy() {
  // splitmix64: a per-call draw on the SIP thread without a lock.
  uint64_t z = (entropy_state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * 0x1.0p-53;
}

// ---------------------------------------------------------------------------------------------
// OPTIONS probes

void EdgeCore::SendProbe(const health::ProbeTarget& target) {
  Post([this, target] { StartProbe(target); });
}

void EdgeCore::StartProbe(const health::ProbeTarget& target) {
  if (stopping_) return;
  auto probe = std::make_unique<Probe>();
  Probe* p = probe.get();
  p->ref.kind = LegRef::Kind::kProbe;
  p->ref.probe = p;
  p->target = target;
  // A resolved target of a host name: the Request-URI names the trunk (sip:carrier.example.com),
  // the request goes to the target's address. Otherwise the trunk's address as configured.
  const bool resolved = !target.address.empty() && target.address != target.host;
  const std::string url = resolved ? absl::StrCat("sip:", target.host)
                                   : TargetUri(target.host, target.port, target.transport);
  const std::string next_hop =
      resolved ? NextHopUri(target.host, target.address, target.port, target.transport) : "";
  p->nh = nua_handle(nua_, &p->ref, NUTAG_URL(url.c_str()), SIPTAG_TO_STR(url.c_str()), TAG_END());
  HandleCreated();
  p->sent = clock_->Now();
  nua_options(p->nh, TAG_IF(resolved, NTATAG_DEFAULT_PROXY(next_hop.c_str())), TAG_END());
  p->timer = su_timer_create(su_root_task(root_), 0);
  const uint32_t timeout_ms = target.timeout_ms != 0 ? target.timeout_ms : 500;
  su_timer_set_interval(p->timer, &EdgeCore::OnProbeTimer, p,
                        static_cast<su_duration_t>(timeout_ms));
  counters_.probes_sent.fetch_add(1, std::memory_order_relaxed);
  probes_.emplace(p, std::move(probe));
}

void EdgeCore::OnProbeTimer(EdgeCore* core, su_timer_t*, void* arg) {
  core->FinishProbe(static_cast<Probe*>(arg), ProbeEnd::kOurTimer);
}

void EdgeCore::FinishProbe(Probe* p, ProbeEnd end, int status, const std::string& tls_failure) {
  auto it = probes_.find(p);
  if (it == probes_.end()) return;
  health::ProbeResult result;
  result.trunk_id = p->target.trunk_id;
  result.probe_id = p->target.probe_id;
  result.target = p->target.target;
  if (end == ProbeEnd::kOurTimer || (end == ProbeEnd::kStackFinal && status == 408)) {
    result.timed_out = true;
    counters_.probes_timed_out.fetch_add(1, std::memory_order_relaxed);
  } else if (end == ProbeEnd::kStackFinal) {
    result.transport_error = true;
    result.tls_failure = tls_failure;
  } else {
    result.sip_status = status;
    result.rtt = clock_->Now() - p->sent;
    counters_.probes_answered.fetch_add(1, std::memory_order_relaxed);
  }
  // The timer is destroyed later than its own callback returns: su_timer_destroy from inside
  // the callback is allowed (the timer is already off the queue).
  su_timer_destroy(p->timer);
  p->timer = nullptr;
  nua_handle_bind(p->nh, nullptr);
  HandleDestroyed(p->nh);
  p->nh = nullptr;
  std::unique_ptr<Probe> owned = std::move(it->second);
  probes_.erase(it);
  if (!stopping_) health_->ReportProbe(result);
}

}  // namespace trunkroute::sip
