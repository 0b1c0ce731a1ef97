// Many writers (outcomes, probe results, ticks, config swaps) against lock-free readers. Meant to
// run under the ASan+UBSan build too (-DTRUNKROUTE_SANITIZE=ON): a reason string_view or snapshot
// freed under a reader shows up there.
#include <atomic>
#include <deque>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/log.h"
#include "gtest/gtest.h"
#include "health/tracker.h"
#include "tests/health/health_test_util.h"

namespace trunkroute::health {
namespace {

using testing::Final;
using testing::MustTable;

// Hands probes to the answering thread through a queue.
class QueueProbeSender final : public ProbeSender {
 public:
  void SendProbe(const ProbeTarget& target) override {
    absl::MutexLock l(&mu_);
    queue_.push_back(target);
  }
  bool Pop(ProbeTarget* out) {
    absl::MutexLock l(&mu_);
    if (queue_.empty()) return false;
    *out = queue_.front();
    queue_.pop_front();
    return true;
  }

 private:
  absl::Mutex mu_;
  std::deque<ProbeTarget> queue_ ABSL_GUARDED_BY(mu_);
};

// Checks that each trunk's events form a chain: every event starts where the previous ended.
class ChainObserver final : public HealthObserver {
 public:
  void Seed(const std::vector<v1::TrunkHealth>& snapshot) {
    absl::MutexLock l(&mu_);
    for (const v1::TrunkHealth& h : snapshot) last_[h.trunk_id()] = h.state();
  }
  void OnStateChange(const HealthEvent& e) override {
    absl::MutexLock l(&mu_);
    ++events_;
    auto it = last_.find(e.health.trunk_id());
    if (e.previous_state != v1::HEALTH_STATE_UNSPECIFIED &&
        (it == last_.end() || it->second != e.previous_state)) {
      ++broken_links_;
    }
    last_[e.health.trunk_id()] = e.health.state();
  }
  void OnOutcome(const AttemptOutcome&, OutcomeClass) override { outcomes_.fetch_add(1); }
  std::map<std::string, v1::HealthState> Last() const {
    absl::MutexLock l(&mu_);
    return last_;
  }
  int broken_links() const {
    absl::MutexLock l(&mu_);
    return broken_links_;
  }
  int events() const {
    absl::MutexLock l(&mu_);
    return events_;
  }
  std::atomic<int64_t> outcomes_{0};

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, v1::HealthState> last_ ABSL_GUARDED_BY(mu_);
  int broken_links_ ABSL_GUARDED_BY(mu_) = 0;
  int events_ ABSL_GUARDED_BY(mu_) = 0;
};

std::string Config(bool variant) {
  std::string text = "health_policy { hold_down_base_ms: 200 probe_interval_up_ms: 200 "
                     "probe_interval_down_ms: 100 probe_timeout_ms: 50 ramp_up_ms: 500 }\n";
  const int first = variant ? 5 : 0;
  const int last = variant ? 55 : 50;
  for (int i = first; i < last; ++i) {
    const char* admin = (variant && i < 10) ? " admin_state: ADMIN_STATE_DRAINING" : "";
    absl::StrAppend(&text, "trunks { id: \"t", i, "\" host: \"t", i, ".example.com\"", admin,
                    " }\n");
  }
  return text;
}

bool ValidState(v1::HealthState s) {
  return s >= v1::HEALTH_STATE_UP && s <= v1::HEALTH_STATE_FORCED_UP;
}

TEST(HealthTrackerConcurrencyTest, WritersAndReadersAgreeAtTheEnd) {
  // Thousands of state changes: keep the test output readable.
  const LogLevel saved_level = GetLogLevel();
  SetLogLevel(LogLevel::kError);
  trunkroute::testing::SimulatedClock clock;
  trunkroute::testing::FakeRandom random(0.3);
  QueueProbeSender prober;
  HealthTracker tracker(&clock, &random, &prober);
  auto table_a = MustTable(Config(false));
  auto table_b = MustTable(Config(true));
  ASSERT_NE(table_a, nullptr);
  ASSERT_NE(table_b, nullptr);
  tracker.ApplyTable(*table_a);

  // Registered with its snapshot before any writer starts; from then on it must see a chain.
  auto chain = std::make_shared<ChainObserver>();
  std::vector<v1::TrunkHealth> snapshot;
  tracker.AddObserver(chain, &snapshot);
  chain->Seed(snapshot);

  constexpr int kWriters = 3;
  constexpr int kOutcomesPerWriter = 20000;
  std::atomic<bool> stop{false};
  std::atomic<int> bad_reads{0};
  std::vector<std::thread> threads;

  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      std::mt19937 rng(w + 1);
      const router::EffectiveFailoverPolicy policy = router::DefaultFailoverPolicy();
      for (int i = 0; i < kOutcomesPerWriter; ++i) {
        AttemptOutcome o = Final(absl::StrCat("t", rng() % 56), 200, 10 + rng() % 300);
        switch (rng() % 8) {
          case 0: o.sip_status = 503; break;
          case 1: o.sip_status = 0; o.timed_out = true; o.first_response_ms = 0; break;
          case 2: o.sip_status = 0; o.transport_error = true; o.first_response_ms = 0; break;
          case 3: o.sip_status = 503; o.retry_after_s = 1; break;
          case 4: o.sip_status = 486; break;
          case 5: o.sip_status = 401; o.credentials_sent = true; break;
          case 6: o.timed_out = true; o.provisional_received = true; break;
          default: break;
        }
        tracker.ReportOutcome(o, policy);
      }
    });
  }
  threads.emplace_back([&] {  // probe answerer: answers most, drops some, sends stale ids
    std::mt19937 rng(99);
    ProbeTarget t;
    while (!stop.load()) {
      if (!prober.Pop(&t)) {
        std::this_thread::yield();
        continue;
      }
      ProbeResult r;
      r.trunk_id = t.trunk_id;
      r.probe_id = rng() % 10 == 0 ? t.probe_id + 7 : t.probe_id;
      const uint32_t pick = rng() % 10;
      if (pick < 2) continue;  // lost: Tick must time it out
      r.sip_status = pick < 8 ? 200 : 503;
      r.rtt = microseconds(500 + rng() % 5000);
      tracker.ReportProbe(r);
    }
  });
  threads.emplace_back([&] {  // the timer: moves time and ticks; swaps configs now and then
    for (int i = 0; i < 3000 && !stop.load(); ++i) {
      clock.AdvanceMs(20);
      tracker.Tick();
      if (i % 250 == 0) tracker.ApplyTable(i % 500 == 0 ? *table_b : *table_a);
    }
  });
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&, r] {
      std::mt19937 rng(1000 + r);
      int64_t reads = 0;
      while (!stop.load()) {
        router::TrunkAvailability a = tracker.Availability(absl::StrCat("t", rng() % 56));
        const std::string reason(a.reason);  // touches the bytes: ASan catches a freed buffer
        if (!ValidState(a.state) || a.ramp_share < 0.1 || a.ramp_share > 1.0 ||
            (a.attempt_timeout_ms != 0 && a.attempt_timeout_ms < 150) ||
            a.attempt_timeout_ms > 32000) {
          bad_reads.fetch_add(1);
        }
        if (++reads % 500 == 0) {
          std::vector<v1::TrunkHealth> list = tracker.List();
          for (size_t i = 1; i < list.size(); ++i) {
            if (!(list[i - 1].trunk_id() < list[i].trunk_id())) bad_reads.fetch_add(1);
          }
        }
      }
    });
  }

  for (int w = 0; w < kWriters; ++w) threads[w].join();
  // Let the timer finish its run, then stop the endless threads.
  threads[kWriters + 1].join();
  stop.store(true);
  for (size_t i = 0; i < threads.size(); ++i) {
    if (i != static_cast<size_t>(kWriters + 1) && threads[i].joinable()) threads[i].join();
  }
  tracker.Tick();

  EXPECT_EQ(bad_reads.load(), 0);
  EXPECT_EQ(chain->broken_links(), 0);
  EXPECT_GT(chain->events(), 0);
  EXPECT_GT(chain->outcomes_.load(), 0);
  const std::map<std::string, v1::HealthState> last = chain->Last();
  std::vector<v1::TrunkHealth> final_list = tracker.List();
  ASSERT_FALSE(final_list.empty());
  for (const v1::TrunkHealth& h : final_list) {
    SCOPED_TRACE(h.trunk_id());
    EXPECT_EQ(tracker.Availability(h.trunk_id()).state, h.state());
    auto it = last.find(h.trunk_id());
    ASSERT_NE(it, last.end());
    EXPECT_EQ(it->second, h.state());
    EXPECT_TRUE(ValidState(h.state()));
  }
  SetLogLevel(saved_level);
}

}  // namespace
}  // namespace trunkroute::health
