#include "health/tracker.h"

#include <algorithm>
#include <atomic>
#include <deque>
#include <optional>
#include <utility>
#include <variant>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/node_hash_set.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/log.h"
#include "health/trunk_state.h"

namespace trunkroute::health {
namespace {

// The per-trunk part of the published snapshot. Immutable once published.
struct TrunkView {
  std::string id;
  v1::HealthState state = v1::HEALTH_STATE_UP;
  std::string_view reason;  // interned: lives as long as the tracker
  MonoTime ramp_start{};
  MonoTime ramp_end{};     // MonoTime{} = not ramping
  std::shared_ptr<const TrunkLive> live;
  std::shared_ptr<const TargetAvailabilityList> targets;  // null: not DNS-managed or none
};

// What Availability() reads. Keys view into the TrunkView they map to.
struct Snapshot {
  absl::flat_hash_map<absl::string_view, std::shared_ptr<const TrunkView>> by_id;
};

// Each reading thread keeps the snapshot it last used and only touches the shared
// atomic<shared_ptr> (whose load bumps one shared reference count, a contended cache line)
// when the tracker has published a newer one. Keyed by a process-unique tracker id, not its
// address, so a new tracker at a reused address never sees a stale cache.
struct SnapshotCache {
  uint64_t instance = 0;
  uint64_t version = 0;
  std::shared_ptr<const Snapshot> snapshot;
};
thread_local SnapshotCache t_snapshot_cache;

// The tracker whose observers this thread is calling right now (nullptr if none): a write from
// inside an observer must not wait for the delivery it is part of.
thread_local const void* t_delivering = nullptr;

std::atomic<uint64_t> g_next_instance{1};

// Detail texts come from a small vocabulary ("3 consecutive failures, last: 503"), so interning
// them costs little; the cap only guards against a peer sending ever-new Retry-After values.
constexpr size_t kMaxInternedStrings = 4096;

struct OutcomeItem {
  AttemptOutcome outcome;
  OutcomeClass cls;
};
struct ProbeItem {
  ProbeResult result;
  bool alive;
};
struct Pending {
  uint64_t seq = 0;
  std::variant<HealthEvent, OutcomeItem, ProbeItem, TargetEvent> item;
};

struct ObserverEntry {
  uint64_t id = 0;
  uint64_t after_seq = 0;  // receives only items with a larger sequence number
  std::shared_ptr<HealthObserver> observer;
  std::atomic<bool> active{true};
};

// Each line names the peer (host:port and transport) the probes and calls went to, so an
// operator sees at once which address failed, without looking the trunk up.
void LogTransition(const TrunkState& t, const Transition& tr) {
  const std::string_view reason = HealthReasonShortName(tr.reason);
  if (tr.from_reported == v1::HEALTH_STATE_UNSPECIFIED) {
    LogDebug("trunk added", {{"trunk", t.id()},
                             {"peer", t.peer()},
                             {"transport", t.transport_name()},
                             {"state", HealthStateShortName(tr.to_reported)},
                             {"reason", reason},
                             {"detail", tr.detail}});
    return;
  }
  const LogLevel level = tr.to_measured == v1::HEALTH_STATE_DOWN &&
                                 tr.from_measured != v1::HEALTH_STATE_DOWN
                             ? LogLevel::kWarn
                             : LogLevel::kInfo;
  if (!LogEnabled(level)) return;
  if (tr.reported_changed()) {
    LogLine(level, "trunk health state change",
            {{"trunk", t.id()},
             {"from", HealthStateShortName(tr.from_reported)},
             {"to", HealthStateShortName(tr.to_reported)},
             {"reason", reason},
             {"peer", t.peer()},
             {"transport", t.transport_name()},
             {"detail", tr.detail}});
  } else {
    // Measured health moves on under an admin override; decisions do not see it yet.
    LogLine(level, "trunk health state change",
            {{"trunk", t.id()},
             {"from", HealthStateShortName(tr.from_measured)},
             {"to", HealthStateShortName(tr.to_measured)},
             {"reason", reason},
             {"peer", t.peer()},
             {"transport", t.transport_name()},
             {"detail", tr.detail},
             {"admin", HealthStateShortName(tr.to_reported)}});
  }
}

void LogTargetTransition(const std::string& trunk_id, const TargetTransition& tr) {
  const bool down = tr.to == v1::HEALTH_STATE_DOWN && tr.from != v1::HEALTH_STATE_DOWN;
  const LogLevel level = tr.from == v1::HEALTH_STATE_UNSPECIFIED ? LogLevel::kDebug
                         : down                                   ? LogLevel::kWarn
                                                                  : LogLevel::kInfo;
  if (!LogEnabled(level)) return;
  LogLine(level, "trunk target state change",
          {{"trunk", trunk_id},
           {"target", tr.key},
           {"from", HealthStateShortName(tr.from)},
           {"to", HealthStateShortName(tr.to)},
           {"reason", HealthReasonShortName(tr.reason)},
           {"detail", tr.detail}});
}

}  // namespace

class HealthTracker::Impl {
 public:
  Impl(Clock* clock, RandomSource* random, ProbeSender* prober)
      : clock_(clock),
        random_(random),
        prober_(prober),
        instance_id_(g_next_instance.fetch_add(1)) {
    absl::MutexLock l(&mu_);
    current_ = std::make_shared<const Snapshot>();
    snapshot_.store(current_, std::memory_order_release);
  }

  void ApplyTable(const router::RoutingTable& table);
  OutcomeClass ReportOutcome(const AttemptOutcome& outcome,
                             const router::EffectiveFailoverPolicy& policy);
  void ReportProbe(const ProbeResult& result);
  void SetTargets(const TargetUpdate& update);
  void Tick();
  bool ProbeSoon(std::string_view trunk_id);
  MonoTime NextDeadline() const;
  router::TrunkAvailability Availability(std::string_view trunk_id) const;
  std::shared_ptr<const TargetAvailabilityList> TargetStates(std::string_view trunk_id) const;
  std::vector<v1::TrunkHealth> List() const;
  bool Get(std::string_view trunk_id, v1::TrunkHealth* out) const;
  state::HealthStateFile Export(uint64_t* version) const;
  uint64_t StateVersion() const { return state_version_.load(std::memory_order_acquire); }
  void SetRestoreState(state::HealthStateFile saved);
  uint64_t AddObserver(std::shared_ptr<HealthObserver> observer,
                       std::vector<v1::TrunkHealth>* snapshot);
  void RemoveObserver(uint64_t id);

 private:
  StepContext MakeContextLocked(std::vector<ProbeTarget>* probes)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // After a step of `t`: queues `cause` (the outcome or probe that drove the step) and the
  // step's own results for observers, logs transitions, marks the published view stale.
  void AbsorbLocked(TrunkState& t, StepContext& ctx, std::optional<Pending> cause)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EnqueueLocked(Pending p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::shared_ptr<const TrunkView> BuildViewLocked(const TrunkState& t)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PublishDirtyLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PublishAllLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Publish(std::shared_ptr<const Snapshot> s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string_view InternLocked(const std::string& text, v1::HealthReason fallback)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::vector<v1::TrunkHealth> ListLocked() const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Sends probes and delivers queued observer calls; never with mu_ held.
  void Finish(const std::vector<ProbeTarget>& probes, bool deliver) ABSL_LOCKS_EXCLUDED(mu_);
  void DeliverPending() ABSL_LOCKS_EXCLUDED(mu_);
  const Snapshot& CurrentSnapshot() const;

  Clock* const clock_;
  RandomSource* const random_;
  ProbeSender* const prober_;
  const uint64_t instance_id_;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<TrunkState>> trunks_ ABSL_GUARDED_BY(mu_);
  uint64_t next_probe_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::vector<const TrunkState*> dirty_ ABSL_GUARDED_BY(mu_);
  absl::node_hash_set<std::string> interned_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const Snapshot> current_ ABSL_GUARDED_BY(mu_);
  // SetRestoreState's records by trunk id, until the next ApplyTable.
  absl::flat_hash_map<std::string, state::TrunkRecord> restore_ ABSL_GUARDED_BY(mu_);
  // Written under mu_, read lock-free by StateVersion().
  std::atomic<uint64_t> state_version_{0};

  std::vector<std::shared_ptr<ObserverEntry>> observers_ ABSL_GUARDED_BY(mu_);
  uint64_t next_observer_id_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t seq_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<Pending> pending_ ABSL_GUARDED_BY(mu_);
  // Held while observers are called: one delivery at a time keeps callbacks in event order.
  absl::Mutex delivery_mu_;  // taken before mu_, never while holding it

  // Written under mu_ (snapshot first, then version); read lock-free by Availability().
  std::atomic<std::shared_ptr<const Snapshot>> snapshot_;
  std::atomic<uint64_t> version_{1};
};

// ---- writes ----------------------------------------------------------------------------------

StepContext HealthTracker::Impl::MakeContextLocked(std::vector<ProbeTarget>* probes) {
  StepContext ctx;
  ctx.now = clock_->Now();
  ctx.clock = clock_;
  ctx.random = random_;
  ctx.can_probe = prober_ != nullptr;
  ctx.resolves_names = prober_ != nullptr && prober_->ResolvesNames();
  ctx.next_probe_id = &next_probe_id_;
  ctx.probes = probes;
  return ctx;
}

void HealthTracker::Impl::EnqueueLocked(Pending p) {
  if (observers_.empty()) return;  // a later observer starts from a snapshot anyway
  p.seq = ++seq_;
  pending_.push_back(std::move(p));
}

void HealthTracker::Impl::AbsorbLocked(TrunkState& t, StepContext& ctx,
                                       std::optional<Pending> cause) {
  if (cause) EnqueueLocked(std::move(*cause));
  for (ProbeResult& expired : ctx.expired_probes) {
    EnqueueLocked(Pending{0, ProbeItem{std::move(expired), false}});
  }
  // A trunk whose only target is its own address reads as the trunk: no target events.
  for (const TargetTransition& tr : ctx.target_transitions) {
    if (!t.dns_managed()) break;
    LogTargetTransition(t.id(), tr);
    if (observers_.empty()) continue;
    TargetEvent e;
    e.trunk_id = t.id();
    e.target = tr.key;
    e.previous_state = tr.from;
    e.state = tr.to;
    e.reason = tr.reason;
    e.detail = tr.detail;
    EnqueueLocked(Pending{0, std::move(e)});
  }
  if (!ctx.target_transitions.empty()) ctx.state_changed = true;
  ctx.target_transitions.clear();
  for (const Transition& tr : ctx.transitions) {
    LogTransition(t, tr);
    if (!tr.reported_changed() || observers_.empty()) continue;
    HealthEvent event;
    t.FillProto(ctx.now, &event.health);
    // The event explains this change even if the same step made several (or, for an admin
    // change, the reason is ADMIN while List() shows the measured reason underneath).
    event.health.set_state(tr.to_reported);
    event.health.set_reason(tr.reason);
    event.health.set_detail(tr.detail);
    event.previous_state = tr.from_reported;
    EnqueueLocked(Pending{0, std::move(event)});
  }
  if (ctx.view_changed) dirty_.push_back(&t);
  if (!ctx.transitions.empty() || ctx.state_changed) {
    state_version_.fetch_add(1, std::memory_order_release);
  }
  ctx.state_changed = false;
  ctx.transitions.clear();
  ctx.expired_probes.clear();
  ctx.view_changed = false;
}

void HealthTracker::Impl::ApplyTable(const router::RoutingTable& table) {
  std::vector<ProbeTarget> probes;
  bool deliver = false;
  {
    absl::MutexLock l(&mu_);
    absl::flat_hash_map<std::string, std::unique_ptr<TrunkState>> next;
    StepContext ctx = MakeContextLocked(&probes);
    for (const router::CompiledTrunk& ct : table.trunks()) {
      std::unique_ptr<TrunkState> state;
      auto it = trunks_.find(ct.id);
      if (it != trunks_.end() && it->second != nullptr) {
        if (std::optional<std::string> why = it->second->ReplacementReason(ct)) {
          state = TrunkState::Create(ct, std::move(*why), it->second->ReportedState(), ctx);
          it->second.reset();
        } else {
          state = std::move(it->second);
          state->Reconfigure(ct, ctx);
        }
      } else if (!next.contains(ct.id)) {
        auto saved = restore_.find(ct.id);
        state = TrunkState::Create(ct, "new trunk", v1::HEALTH_STATE_UNSPECIFIED, ctx,
                                   saved != restore_.end() ? &saved->second : nullptr);
        if (saved != restore_.end()) restore_.erase(saved);
        if (state->restored()) {
          LogInfo("trunk health restored from the saved state",
                  {{"trunk", ct.id},
                   {"state", HealthStateShortName(state->measured_state())},
                   {"reason", HealthReasonShortName(state->ReportedReason())},
                   {"detail", state->ReportedDetail()}});
        }
      } else {
        continue;  // duplicate id: validation rejects these; keep the first
      }
      AbsorbLocked(*state, ctx, std::nullopt);
      next.emplace(ct.id, std::move(state));
    }
    for (const auto& [id, state] : trunks_) {
      if (state != nullptr) LogInfo("trunk removed from health tracking", {{"trunk", id}});
    }
    for (const auto& [id, record] : restore_) {
      LogInfo("saved health state ignored: no such trunk in the config", {{"trunk", id}});
    }
    restore_.clear();
    trunks_ = std::move(next);
    state_version_.fetch_add(1, std::memory_order_release);
    dirty_.clear();
    // New trunks are probed at once, without waiting for the timer thread.
    for (auto& [id, state] : trunks_) {
      state->Tick(ctx);
      AbsorbLocked(*state, ctx, std::nullopt);
    }
    dirty_.clear();
    PublishAllLocked();
    deliver = !pending_.empty();
  }
  Finish(probes, deliver);
}

OutcomeClass HealthTracker::Impl::ReportOutcome(const AttemptOutcome& outcome,
                                                const router::EffectiveFailoverPolicy& policy) {
  const OutcomeVerdict verdict = Classify(outcome, policy);
  const OutcomeClass cls = verdict.outcome_class;
  bool deliver = false;
  {
    absl::MutexLock l(&mu_);
    std::optional<Pending> cause;
    if (!observers_.empty()) cause = Pending{0, OutcomeItem{outcome, cls}};
    auto it = trunks_.find(outcome.trunk_id);
    if (it != trunks_.end()) {
      StepContext ctx = MakeContextLocked(nullptr);
      it->second->OnOutcome(outcome, verdict, ctx);
      AbsorbLocked(*it->second, ctx, std::move(cause));
      PublishDirtyLocked();
    } else if (cause) {
      EnqueueLocked(std::move(*cause));
    }
    deliver = !pending_.empty();
  }
  if (deliver) DeliverPending();
  return cls;
}

void HealthTracker::Impl::ReportProbe(const ProbeResult& result) {
  bool deliver = false;
  {
    absl::MutexLock l(&mu_);
    auto it = trunks_.find(result.trunk_id);
    if (it == trunks_.end()) return;
    StepContext ctx = MakeContextLocked(nullptr);
    const std::optional<bool> alive = it->second->OnProbe(result, ctx);
    if (!alive.has_value()) {
      LogDebug("stale probe result ignored", {{"trunk", result.trunk_id}});
      return;
    }
    AbsorbLocked(*it->second, ctx, Pending{0, ProbeItem{result, *alive}});
    PublishDirtyLocked();
    deliver = !pending_.empty();
  }
  if (deliver) DeliverPending();
}

void HealthTracker::Impl::SetTargets(const TargetUpdate& update) {
  std::vector<ProbeTarget> probes;
  bool deliver = false;
  {
    absl::MutexLock l(&mu_);
    auto it = trunks_.find(update.trunk_id);
    if (it == trunks_.end()) return;
    StepContext ctx = MakeContextLocked(&probes);
    if (!it->second->SetTargets(update, ctx)) return;
    it->second->Tick(ctx);  // new targets are probed at once
    AbsorbLocked(*it->second, ctx, std::nullopt);
    PublishDirtyLocked();
    deliver = !pending_.empty();
  }
  Finish(probes, deliver);
}

void HealthTracker::Impl::Tick() {
  std::vector<ProbeTarget> probes;
  bool deliver = false;
  {
    absl::MutexLock l(&mu_);
    // One context for the whole pass: reading the clock per trunk would dominate an idle Tick.
    StepContext ctx = MakeContextLocked(&probes);
    for (auto& [id, state] : trunks_) {
      state->Tick(ctx);
      AbsorbLocked(*state, ctx, std::nullopt);
    }
    PublishDirtyLocked();
    deliver = !pending_.empty();
  }
  Finish(probes, deliver);
}

bool HealthTracker::Impl::ProbeSoon(std::string_view trunk_id) {
  std::vector<ProbeTarget> probes;
  bool deliver = false;
  bool sent = false;
  {
    absl::MutexLock l(&mu_);
    auto it = trunks_.find(absl::string_view(trunk_id.data(), trunk_id.size()));
    if (it == trunks_.end()) return false;
    StepContext ctx = MakeContextLocked(&probes);
    sent = it->second->ProbeNow(ctx);
    AbsorbLocked(*it->second, ctx, std::nullopt);
    PublishDirtyLocked();
    deliver = !pending_.empty();
  }
  Finish(probes, deliver);
  return sent;
}

void HealthTracker::Impl::Finish(const std::vector<ProbeTarget>& probes, bool deliver) {
  // The sender may answer synchronously (e.g. a refused connection) through ReportProbe: each
  // probe was registered as outstanding before it is handed over, so that answer matches.
  if (prober_ != nullptr) {
    for (const ProbeTarget& p : probes) prober_->SendProbe(p);
  }
  if (deliver) DeliverPending();
}

// ---- publishing ------------------------------------------------------------------------------

std::string_view HealthTracker::Impl::InternLocked(const std::string& text,
                                                   v1::HealthReason fallback) {
  auto it = interned_.find(absl::string_view(text.data(), text.size()));
  if (it != interned_.end()) return std::string_view(it->data(), it->size());
  if (interned_.size() >= kMaxInternedStrings) return HealthReasonShortName(fallback);
  it = interned_.insert(text).first;
  return std::string_view(it->data(), it->size());
}

std::shared_ptr<const TrunkView> HealthTracker::Impl::BuildViewLocked(const TrunkState& t) {
  auto view = std::make_shared<TrunkView>();
  view->id = t.id();
  view->state = t.ReportedState();
  view->reason = InternLocked(t.ReportedDetail(), t.ReportedReason());
  if (view->state == v1::HEALTH_STATE_UP) {
    view->ramp_start = t.ramp_start();
    view->ramp_end = t.ramp_end();
  }
  view->live = t.live();
  if (t.dns_managed() && !t.targets().empty()) {
    auto targets = std::make_shared<TargetAvailabilityList>();
    for (const auto& target : t.targets()) targets->push_back({target->key(), target->state()});
    view->targets = std::move(targets);
  }
  return view;
}

void HealthTracker::Impl::Publish(std::shared_ptr<const Snapshot> s) {
  current_ = s;
  snapshot_.store(std::move(s), std::memory_order_release);
  version_.fetch_add(1, std::memory_order_release);
}

void HealthTracker::Impl::PublishDirtyLocked() {
  if (dirty_.empty()) return;
  auto next = std::make_shared<Snapshot>(*current_);
  for (const TrunkState* t : dirty_) {
    std::shared_ptr<const TrunkView> view = BuildViewLocked(*t);
    // The key views into the old TrunkView: replace key and value together.
    next->by_id.erase(absl::string_view(t->id().data(), t->id().size()));
    absl::string_view key(view->id.data(), view->id.size());
    next->by_id.emplace(key, std::move(view));
  }
  dirty_.clear();
  Publish(std::move(next));
}

void HealthTracker::Impl::PublishAllLocked() {
  auto next = std::make_shared<Snapshot>();
  next->by_id.reserve(trunks_.size());
  for (const auto& [id, state] : trunks_) {
    std::shared_ptr<const TrunkView> view = BuildViewLocked(*state);
    absl::string_view key(view->id.data(), view->id.size());
    next->by_id.emplace(key, std::move(view));
  }
  Publish(std::move(next));
}

// ---- reads -----------------------------------------------------------------------------------

const Snapshot& HealthTracker::Impl::CurrentSnapshot() const {
  SnapshotCache& cache = t_snapshot_cache;
  const uint64_t version = version_.load(std::memory_order_acquire);
  if (cache.instance != instance_id_ || cache.version != version) {
    cache.snapshot = snapshot_.load(std::memory_order_acquire);
    cache.instance = instance_id_;
    cache.version = version;
  }
  return *cache.snapshot;
}

router::TrunkAvailability HealthTracker::Impl::Availability(std::string_view trunk_id) const {
  router::TrunkAvailability a;
  const Snapshot& s = CurrentSnapshot();
  auto it = s.by_id.find(absl::string_view(trunk_id.data(), trunk_id.size()));
  if (it == s.by_id.end()) return a;
  const TrunkView& v = *it->second;
  a.state = v.state;
  a.reason = v.reason;
  a.attempt_timeout_ms = v.live->attempt_timeout_ms.load(std::memory_order_relaxed);
  if (v.ramp_end != MonoTime{}) a.ramp_share = RampShare(v.ramp_start, v.ramp_end, clock_->Now());
  return a;
}

std::shared_ptr<const TargetAvailabilityList> HealthTracker::Impl::TargetStates(
    std::string_view trunk_id) const {
  const Snapshot& s = CurrentSnapshot();
  auto it = s.by_id.find(absl::string_view(trunk_id.data(), trunk_id.size()));
  if (it == s.by_id.end()) return nullptr;
  return it->second->targets;
}

MonoTime HealthTracker::Impl::NextDeadline() const {
  absl::ReaderMutexLock l(&mu_);
  MonoTime next = MonoTime::max();
  for (const auto& [id, state] : trunks_) {
    next = std::min(next, state->NextDeadline(prober_ != nullptr));
  }
  return next;
}

std::vector<v1::TrunkHealth> HealthTracker::Impl::ListLocked() const {
  const MonoTime now = clock_->Now();
  std::vector<v1::TrunkHealth> out;
  out.reserve(trunks_.size());
  for (const auto& [id, state] : trunks_) {
    state->FillProto(now, &out.emplace_back());
  }
  std::sort(out.begin(), out.end(), [](const v1::TrunkHealth& a, const v1::TrunkHealth& b) {
    return a.trunk_id() < b.trunk_id();
  });
  return out;
}

std::vector<v1::TrunkHealth> HealthTracker::Impl::List() const {
  absl::ReaderMutexLock l(&mu_);
  return ListLocked();
}

bool HealthTracker::Impl::Get(std::string_view trunk_id, v1::TrunkHealth* out) const {
  absl::ReaderMutexLock l(&mu_);
  auto it = trunks_.find(absl::string_view(trunk_id.data(), trunk_id.size()));
  if (it == trunks_.end()) return false;
  if (out != nullptr) it->second->FillProto(clock_->Now(), out);
  return true;
}

state::HealthStateFile HealthTracker::Impl::Export(uint64_t* version) const {
  absl::ReaderMutexLock l(&mu_);
  state::HealthStateFile out;
  out.set_format(1);
  const MonoTime now = clock_->Now();
  const int64_t wall_now = clock_->WallUnixMs();
  out.set_written_at_unix_ms(wall_now);
  for (const auto& [id, state] : trunks_) state->Export(now, wall_now, out.add_trunks());
  std::sort(out.mutable_trunks()->begin(), out.mutable_trunks()->end(),
            [](const state::TrunkRecord& a, const state::TrunkRecord& b) {
              return a.trunk_id() < b.trunk_id();
            });
  if (version != nullptr) *version = state_version_.load(std::memory_order_acquire);
  return out;
}

void HealthTracker::Impl::SetRestoreState(state::HealthStateFile saved) {
  absl::MutexLock l(&mu_);
  restore_.clear();
  for (state::TrunkRecord& r : *saved.mutable_trunks()) {
    std::string id = r.trunk_id();
    restore_.insert_or_assign(std::move(id), std::move(r));
  }
}

// ---- observers -------------------------------------------------------------------------------

uint64_t HealthTracker::Impl::AddObserver(std::shared_ptr<HealthObserver> observer,
                                          std::vector<v1::TrunkHealth>* snapshot) {
  absl::MutexLock l(&mu_);
  auto entry = std::make_shared<ObserverEntry>();
  entry->id = next_observer_id_++;
  entry->after_seq = seq_;
  entry->observer = std::move(observer);
  observers_.push_back(entry);
  if (snapshot != nullptr) *snapshot = ListLocked();
  return entry->id;
}

void HealthTracker::Impl::RemoveObserver(uint64_t id) {
  {
    absl::MutexLock l(&mu_);
    auto it = std::find_if(observers_.begin(), observers_.end(),
                           [id](const auto& e) { return e->id == id; });
    if (it == observers_.end()) return;
    (*it)->active.store(false);
    observers_.erase(it);
  }
  // Wait out a delivery in progress on another thread, so the caller may destroy the observer.
  if (t_delivering != this) {
    absl::MutexLock dl(&delivery_mu_);
  }
}

void HealthTracker::Impl::DeliverPending() {
  if (t_delivering == this) return;  // the delivery loop further up this stack picks them up
  absl::MutexLock dl(&delivery_mu_);
  const void* outer = t_delivering;
  t_delivering = this;
  for (;;) {
    std::deque<Pending> batch;
    std::vector<std::shared_ptr<ObserverEntry>> observers;
    {
      absl::MutexLock l(&mu_);
      batch.swap(pending_);
      observers = observers_;
    }
    if (batch.empty()) break;
    for (const Pending& p : batch) {
      for (const auto& o : observers) {
        if (p.seq <= o->after_seq || !o->active.load()) continue;
        if (const auto* e = std::get_if<HealthEvent>(&p.item)) {
          o->observer->OnStateChange(*e);
        } else if (const auto* oc = std::get_if<OutcomeItem>(&p.item)) {
          o->observer->OnOutcome(oc->outcome, oc->cls);
        } else if (const auto* pr = std::get_if<ProbeItem>(&p.item)) {
          o->observer->OnProbe(pr->result, pr->alive);
        } else if (const auto* te = std::get_if<TargetEvent>(&p.item)) {
          o->observer->OnTargetStateChange(*te);
        }
      }
    }
  }
  t_delivering = outer;
}

// ---- HealthTracker ---------------------------------------------------------------------------

HealthTracker::HealthTracker(Clock* clock, RandomSource* random, ProbeSender* prober)
    : impl_(std::make_unique<Impl>(clock, random, prober)) {}
HealthTracker::~HealthTracker() = default;

void HealthTracker::ApplyTable(const router::RoutingTable& table) { impl_->ApplyTable(table); }
OutcomeClass HealthTracker::ReportOutcome(const AttemptOutcome& outcome,
                                          const router::EffectiveFailoverPolicy& policy) {
  return impl_->ReportOutcome(outcome, policy);
}
void HealthTracker::ReportProbe(const ProbeResult& result) { impl_->ReportProbe(result); }
void HealthTracker::SetTargets(const TargetUpdate& update) { impl_->SetTargets(update); }
std::shared_ptr<const TargetAvailabilityList> HealthTracker::TargetStates(
    std::string_view trunk_id) const {
  return impl_->TargetStates(trunk_id);
}
void HealthTracker::Tick() { impl_->Tick(); }
bool HealthTracker::ProbeSoon(std::string_view trunk_id) { return impl_->ProbeSoon(trunk_id); }
MonoTime HealthTracker::NextDeadline() const { return impl_->NextDeadline(); }
router::TrunkAvailability HealthTracker::Availability(std::string_view trunk_id) const {
  return impl_->Availability(trunk_id);
}
std::vector<v1::TrunkHealth> HealthTracker::List() const { return impl_->List(); }
bool HealthTracker::Get(std::string_view trunk_id, v1::TrunkHealth* out) const {
  return impl_->Get(trunk_id, out);
}
state::HealthStateFile HealthTracker::Export(uint64_t* version) const {
  return impl_->Export(version);
}
uint64_t HealthTracker::StateVersion() const { return impl_->StateVersion(); }
void HealthTracker::SetRestoreState(state::HealthStateFile saved) {
  impl_->SetRestoreState(std::move(saved));
}
uint64_t HealthTracker::AddObserver(std::shared_ptr<HealthObserver> observer) {
  return impl_->AddObserver(std::move(observer), nullptr);
}
uint64_t HealthTracker::AddObserver(std::shared_ptr<HealthObserver> observer,
                                    std::vector<v1::TrunkHealth>* snapshot) {
  return impl_->AddObserver(std::move(observer), snapshot);
}
void HealthTracker::RemoveObserver(uint64_t id) { impl_->RemoveObserver(id); }

}  // namespace trunkroute::health
