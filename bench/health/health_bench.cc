// Health tracker costs at 1,000 trunks: outcome reports (the write path every attempt takes),
// Availability() (the read path of every decision) and the rarer state changes and ticks.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/random.h"
#include "health/tracker.h"
#include "router/decision.h"
#include "router/routing_table.h"

namespace trunkroute::health {
namespace {

constexpr int kTrunks = 1000;

std::string TrunkId(int i) { return absl::StrCat("trunk-", i); }

// kTrunks trunks, no routes.
v1::Config TrunksConfig() {
  v1::Config config;
  for (int i = 0; i < kTrunks; ++i) {
    v1::Trunk* t = config.add_trunks();
    t->set_id(TrunkId(i));
    t->set_host(absl::StrCat("t", i, ".example.com"));
  }
  return config;
}

std::shared_ptr<const router::RoutingTable> Compile(const v1::Config& config) {
  auto table = router::RoutingTable::Create(config);
  if (!table.ok()) {
    std::fprintf(stderr, "%s\n", table.status().ToString().c_str());
    std::abort();
  }
  return *table;
}

std::shared_ptr<const router::RoutingTable> MakeTable() { return Compile(TrunksConfig()); }

// One tracker for all benchmarks and threads, on the real clock, without probes.
struct World {
  World() : table(MakeTable()), tracker(RealClock::Get(), &random, nullptr) {
    SetLogLevel(LogLevel::kError);
    tracker.ApplyTable(*table);
    for (int i = 0; i < kTrunks; ++i) {
      AttemptOutcome o;
      o.trunk_id = TrunkId(i);
      o.sip_status = 200;
      o.first_response_ms = 20 + i % 50;
      successes.push_back(o);
      ids.push_back(TrunkId(i));
    }
  }
  DefaultRandomSource random;
  std::shared_ptr<const router::RoutingTable> table;
  HealthTracker tracker;
  router::EffectiveFailoverPolicy policy = router::DefaultFailoverPolicy();
  std::vector<AttemptOutcome> successes;
  std::vector<std::string> ids;
};

World& GetWorld() {
  static World* world = new World();
  return *world;
}

// Steady state: successful calls with a 1xx sample each (RTO update, no state change).
void BM_ReportOutcome(benchmark::State& state) {
  World& w = GetWorld();
  size_t i = static_cast<size_t>(state.thread_index()) * 7919;
  for (auto _ : state) {
    benchmark::DoNotOptimize(w.tracker.ReportOutcome(w.successes[i % kTrunks], w.policy));
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ReportOutcome)->Threads(1)->Threads(2)->UseRealTime();

// The same with an observer registered (what the metrics bridge costs on the write path).
class NullObserver final : public HealthObserver {
 public:
  void OnStateChange(const HealthEvent&) override {}
  void OnOutcome(const AttemptOutcome& o, OutcomeClass) override {
    benchmark::DoNotOptimize(o.sip_status);
  }
};

void BM_ReportOutcomeWithObserver(benchmark::State& state) {
  World& w = GetWorld();
  uint64_t id = 0;
  if (state.thread_index() == 0) id = w.tracker.AddObserver(std::make_shared<NullObserver>());
  size_t i = static_cast<size_t>(state.thread_index()) * 7919;
  for (auto _ : state) {
    benchmark::DoNotOptimize(w.tracker.ReportOutcome(w.successes[i % kTrunks], w.policy));
    ++i;
  }
  if (state.thread_index() == 0) w.tracker.RemoveObserver(id);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ReportOutcomeWithObserver)->Threads(1)->Threads(2)->UseRealTime();

// The decision's read: one lookup among 1,000 trunks in the published snapshot.
void BM_Availability(benchmark::State& state) {
  World& w = GetWorld();
  size_t i = static_cast<size_t>(state.thread_index()) * 7919;
  for (auto _ : state) {
    router::TrunkAvailability a = w.tracker.Availability(w.ids[i % kTrunks]);
    benchmark::DoNotOptimize(a);
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Availability)->Threads(1)->Threads(2)->UseRealTime();

// Reads while another thread keeps reporting outcomes (the SIP thread next to gRPC handlers).
void BM_AvailabilityDuringOutcomes(benchmark::State& state) {
  World& w = GetWorld();
  size_t i = 0;
  for (auto _ : state) {
    if (state.thread_index() == 0) {
      router::TrunkAvailability a = w.tracker.Availability(w.ids[i % kTrunks]);
      benchmark::DoNotOptimize(a);
    } else {
      w.tracker.ReportOutcome(w.successes[i % kTrunks], w.policy);
    }
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AvailabilityDuringOutcomes)->Threads(2)->UseRealTime();

// A state change: eject one trunk (3 × 503) and bring it back; each change republishes the
// 1,000-trunk snapshot. Measures one eject+recover cycle (4 snapshot rebuilds).
void BM_EjectAndRecover(benchmark::State& state) {
  SetLogLevel(LogLevel::kError);
  DefaultRandomSource random;
  auto table = GetWorld().table;
  // Its own tracker on a manual clock, so that hold-downs can be skipped.
  class ManualClock final : public Clock {
   public:
    MonoTime Now() const override { return now; }
    int64_t WallUnixMs() const override { return 0; }
    MonoTime now{std::chrono::hours(24)};
  } clock;
  HealthTracker tracker(&clock, &random, nullptr);
  tracker.ApplyTable(*table);
  const router::EffectiveFailoverPolicy policy = router::DefaultFailoverPolicy();
  AttemptOutcome fail;
  fail.sip_status = 503;
  AttemptOutcome ok;
  ok.sip_status = 200;
  int i = 0;
  for (auto _ : state) {
    fail.trunk_id = ok.trunk_id = TrunkId(i % kTrunks);
    for (int k = 0; k < 3; ++k) tracker.ReportOutcome(fail, policy);  // → DOWN
    clock.now += std::chrono::seconds(400);
    tracker.Tick();  // → PROBING (scans all 1,000 trunks)
    tracker.ReportOutcome(ok, policy);
    tracker.ReportOutcome(ok, policy);  // → UP
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EjectAndRecover);

// The timer's periodic work with nothing due: one pass over 1,000 trunks plus NextDeadline.
void BM_TickIdle(benchmark::State& state) {
  World& w = GetWorld();
  for (auto _ : state) {
    w.tracker.Tick();
    benchmark::DoNotOptimize(w.tracker.NextDeadline());
  }
}
BENCHMARK(BM_TickIdle);

namespace decide {

constexpr int kRoutes = 10000;
constexpr int kNumbers = 4096;

// 10,000 NPA-NXX routes over the 1,000 trunks, 3 trunks each, priorities in table order.
std::string Prefix(int i) { return absl::StrCat("+1", 201 + i / 800, 200 + i % 800); }

std::shared_ptr<const router::RoutingTable> MakeRoutedTable() {
  v1::Config config = TrunksConfig();
  for (int i = 5; i < kTrunks; i += 25) {
    config.mutable_trunks(i)->set_admin_state(v1::ADMIN_STATE_DRAINING);
  }
  for (int i = 0; i < kRoutes; ++i) {
    v1::Route* r = config.add_routes();
    r->set_id(absl::StrCat("r", i));
    r->set_priority(i + 1);
    r->set_pattern(absl::StrCat("\\", Prefix(i), "\\d{4}"));
    for (int k = 0; k < 3; ++k) r->add_trunk_ids(TrunkId((i * 3 + k * 331) % kTrunks));
  }
  return Compile(config);
}

// Health as in an incident: every 10th trunk DOWN (3 × 503), every 25th draining (admin state in
// the config), the rest UP
// with learned attempt timeouts, so decisions skip, reorder and carry timeouts.
struct DecideWorld {
  DecideWorld() : table(MakeRoutedTable()), tracker(RealClock::Get(), &random, nullptr) {
    SetLogLevel(LogLevel::kError);
    tracker.ApplyTable(*table);
    const router::EffectiveFailoverPolicy policy = router::DefaultFailoverPolicy();
    for (int i = 0; i < kTrunks; ++i) {
      AttemptOutcome o;
      o.trunk_id = TrunkId(i);
      if (i % 10 == 0) {
        o.sip_status = 503;
        for (int k = 0; k < 3; ++k) tracker.ReportOutcome(o, policy);
      } else {
        o.sip_status = 200;
        o.first_response_ms = 20 + i % 50;
        tracker.ReportOutcome(o, policy);
      }
    }
    for (int k = 0; k < kNumbers; ++k) {
      const int i = static_cast<int>((static_cast<int64_t>(k) * 7919) % kRoutes);
      numbers.push_back(absl::StrCat(Prefix(i), 1000 + (k * 37) % 9000));
    }
  }
  DefaultRandomSource random;
  std::shared_ptr<const router::RoutingTable> table;
  HealthTracker tracker;
  std::vector<std::string> numbers;
};

DecideWorld& GetDecideWorld() {
  static DecideWorld* world = new DecideWorld();
  return *world;
}

}  // namespace decide

// Issue 3: the whole decision (normalise, RE2::Set over 10,000 patterns, health filtering
// against the real tracker's snapshot, candidate list) at 10,000 routes and 1,000 trunks. With
// two threads, the second keeps reporting outcomes (the SIP thread beside gRPC handlers).
void BM_DecideWithHealth(benchmark::State& state) {
  decide::DecideWorld& w = decide::GetDecideWorld();
  const router::EffectiveFailoverPolicy policy = router::DefaultFailoverPolicy();
  AttemptOutcome ok;
  ok.sip_status = 200;
  ok.first_response_ms = 30;
  size_t k = static_cast<size_t>(state.thread_index()) * 7919;
  int64_t skipped = 0;
  for (auto _ : state) {
    if (state.thread_index() == 0) {
      auto d = router::Decide(w.table, w.tracker,
                              router::CallQuery{w.numbers[k % w.numbers.size()], "", ""}, 0.5);
      if (!d.ok()) state.SkipWithError("no decision");
      skipped += static_cast<int64_t>(d->skipped.size());
      benchmark::DoNotOptimize(d);
    } else {
      ok.trunk_id = TrunkId(static_cast<int>(k % kTrunks) | 1);  // odd ids: never the DOWN ones
      w.tracker.ReportOutcome(ok, policy);
    }
    ++k;
  }
  if (state.thread_index() == 0) {
    state.counters["skipped_per_decision"] =
        static_cast<double>(skipped) / static_cast<double>(state.iterations());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecideWithHealth)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace
}  // namespace trunkroute::health

BENCHMARK_MAIN();
