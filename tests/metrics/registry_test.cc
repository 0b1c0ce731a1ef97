#include "metrics/registry.h"

#include <cmath>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace trunkroute::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// The registry's exposition, checked as exact text: what Prometheus receives is the contract.
class RegistryTest : public ::testing::Test {
 protected:
  Registry registry_;
};

TEST_F(RegistryTest, UnlabelledCounterIsExportedAsZeroFromTheStart) {
  auto family = registry_.AddCounter("t_events_total", "Events seen.", {});
  ASSERT_TRUE(family.ok()) << family.status();
  EXPECT_EQ(registry_.Serialize(),
            "# HELP t_events_total Events seen.\n"
            "# TYPE t_events_total counter\n"
            "t_events_total 0\n");
}

TEST_F(RegistryTest, LabelledCounterSeriesAreOrderedByLabelValues) {
  CounterFamily* family =
      *registry_.AddCounter("t_attempts_total", "Attempts.", {"trunk", "outcome"});
  family->WithLabels({"b", "FAILOVER"})->Inc(3);
  family->WithLabels({"a", "SUCCESS"})->Inc();
  family->WithLabels({"a", "FAILOVER"})->Inc(2);
  EXPECT_EQ(registry_.Serialize(),
            "# HELP t_attempts_total Attempts.\n"
            "# TYPE t_attempts_total counter\n"
            "t_attempts_total{trunk=\"a\",outcome=\"FAILOVER\"} 2\n"
            "t_attempts_total{trunk=\"a\",outcome=\"SUCCESS\"} 1\n"
            "t_attempts_total{trunk=\"b\",outcome=\"FAILOVER\"} 3\n");
}

TEST_F(RegistryTest, WithLabelsReturnsTheSameSeriesForTheSameValues) {
  CounterFamily* family = *registry_.AddCounter("t_x_total", "X.", {"trunk"});
  Counter* first = family->WithLabels({"a"});
  Counter* again = family->WithLabels({"a"});
  EXPECT_EQ(first, again);
  EXPECT_NE(first, family->WithLabels({"b"}));
}

TEST_F(RegistryTest, FamiliesAreWrittenInNameOrderWithHelpAndType) {
  ASSERT_TRUE(registry_.AddGauge("t_b", "B.", {}).ok());
  ASSERT_TRUE(registry_.AddCounter("t_a_total", "A.", {}).ok());
  ASSERT_TRUE(registry_.AddGauge("t_c", "C.", {"trunk"}).ok());
  EXPECT_EQ(registry_.Serialize(),
            "# HELP t_a_total A.\n# TYPE t_a_total counter\nt_a_total 0\n"
            "# HELP t_b B.\n# TYPE t_b gauge\nt_b 0\n"
            "# HELP t_c C.\n# TYPE t_c gauge\n");
}

TEST_F(RegistryTest, GaugeSetAddAndFractionalValues) {
  GaugeFamily* family = *registry_.AddGauge("t_active_calls", "Active.", {"trunk"});
  Gauge* a = family->WithLabels({"a"});
  a->Inc();
  a->Inc();
  a->Dec();
  Gauge* b = family->WithLabels({"b"});
  b->Set(0.25);
  b->Add(-1.5);
  Gauge* c = family->WithLabels({"c"});
  c->Set(1'800'000'000.5);  // a Unix timestamp keeps all its digits
  EXPECT_EQ(registry_.Serialize(),
            "# HELP t_active_calls Active.\n"
            "# TYPE t_active_calls gauge\n"
            "t_active_calls{trunk=\"a\"} 1\n"
            "t_active_calls{trunk=\"b\"} -1.25\n"
            "t_active_calls{trunk=\"c\"} 1800000000.5\n");
}

TEST_F(RegistryTest, HistogramWritesCumulativeBucketsSumAndCount) {
  HistogramFamily* family =
      *registry_.AddHistogram("t_rtt_seconds", "RTT.", {"trunk"}, {0.01, 0.1, 1});
  Histogram* h = family->WithLabels({"a"});
  h->Observe(0.005);  // first bucket
  h->Observe(0.01);   // le is inclusive: still the first bucket
  h->Observe(0.05);
  h->Observe(2.0);    // only +Inf
  EXPECT_EQ(registry_.Serialize(),
            "# HELP t_rtt_seconds RTT.\n"
            "# TYPE t_rtt_seconds histogram\n"
            "t_rtt_seconds_bucket{trunk=\"a\",le=\"0.01\"} 2\n"
            "t_rtt_seconds_bucket{trunk=\"a\",le=\"0.1\"} 3\n"
            "t_rtt_seconds_bucket{trunk=\"a\",le=\"1\"} 3\n"
            "t_rtt_seconds_bucket{trunk=\"a\",le=\"+Inf\"} 4\n"
            "t_rtt_seconds_sum{trunk=\"a\"} 2.065\n"
            "t_rtt_seconds_count{trunk=\"a\"} 4\n");
}

TEST_F(RegistryTest, UnlabelledHistogramHasOnlyTheLeLabel) {
  HistogramFamily* family = *registry_.AddHistogram("t_latency_seconds", "L.", {}, {0.5});
  family->WithLabels({})->Observe(0.25);
  EXPECT_EQ(registry_.Serialize(),
            "# HELP t_latency_seconds L.\n"
            "# TYPE t_latency_seconds histogram\n"
            "t_latency_seconds_bucket{le=\"0.5\"} 1\n"
            "t_latency_seconds_bucket{le=\"+Inf\"} 1\n"
            "t_latency_seconds_sum 0.25\n"
            "t_latency_seconds_count 1\n");
}

// `le` is a string to PromQL: the bounds are written as client_golang writes them (Go's 'g'),
// so le="0.0005" selects the same bucket whoever exported it.
TEST_F(RegistryTest, BucketBoundsAreWrittenAsClientGolangWritesThem) {
  HistogramFamily* family = *registry_.AddHistogram(
      "t_b_seconds", "B.", {}, {0.000001, 0.00001, 0.0001, 0.00025, 0.0005, 2.5, 30, 1e6});
  family->WithLabels({});
  const std::string text = registry_.Serialize();
  for (const char* le : {"1e-06", "1e-05", "0.0001", "0.00025", "0.0005", "2.5", "30", "1e+06"}) {
    EXPECT_THAT(text, HasSubstr(std::string("t_b_seconds_bucket{le=\"") + le + "\"} 0\n")) << le;
  }
}

TEST_F(RegistryTest, HistogramDropsNaNObservations) {
  HistogramFamily* family = *registry_.AddHistogram("t_h_seconds", "H.", {}, {1});
  Histogram* h = family->WithLabels({});
  h->Observe(std::numeric_limits<double>::quiet_NaN());
  h->Observe(0.5);
  Histogram::Snapshot snap = h->Read();
  EXPECT_EQ(snap.count, 1u);
  EXPECT_EQ(snap.sum, 0.5);
}

TEST_F(RegistryTest, LabelValuesAreEscaped) {
  CounterFamily* family = *registry_.AddCounter("t_e_total", "E.", {"v"});
  family->WithLabels({"back\\slash \"quoted\"\nnext"})->Inc();
  EXPECT_EQ(registry_.Serialize(),
            "# HELP t_e_total E.\n"
            "# TYPE t_e_total counter\n"
            "t_e_total{v=\"back\\\\slash \\\"quoted\\\"\\nnext\"} 1\n");
}

TEST_F(RegistryTest, HelpTextEscapesBackslashAndNewlineButNotQuotes) {
  ASSERT_TRUE(registry_.AddGauge("t_g", "a \"b\" c\\d\ne", {}).ok());
  EXPECT_THAT(registry_.Serialize(), HasSubstr("# HELP t_g a \"b\" c\\\\d\\ne\n"));
}

TEST_F(RegistryTest, SpecialGaugeValues) {
  GaugeFamily* family = *registry_.AddGauge("t_special", "S.", {"k"});
  family->WithLabels({"inf"})->Set(std::numeric_limits<double>::infinity());
  family->WithLabels({"nan"})->Set(std::numeric_limits<double>::quiet_NaN());
  family->WithLabels({"neg"})->Set(-std::numeric_limits<double>::infinity());
  family->WithLabels({"small"})->Set(1e-7);
  EXPECT_EQ(registry_.Serialize(),
            "# HELP t_special S.\n# TYPE t_special gauge\n"
            "t_special{k=\"inf\"} +Inf\n"
            "t_special{k=\"nan\"} NaN\n"
            "t_special{k=\"neg\"} -Inf\n"
            "t_special{k=\"small\"} 1e-07\n");
}

TEST_F(RegistryTest, RemovedSeriesDisappearAndHandlesStayUsable) {
  CounterFamily* family = *registry_.AddCounter("t_r_total", "R.", {"trunk"});
  Counter* a = family->WithLabels({"a"});
  a->Inc(5);
  family->WithLabels({"b"})->Inc();
  EXPECT_TRUE(family->Remove({"a"}));
  EXPECT_FALSE(family->Remove({"a"}));  // already gone
  EXPECT_EQ(family->Size(), 1u);
  a->Inc();  // a stale handle is harmless: updates a hidden series
  EXPECT_EQ(registry_.Serialize(),
            "# HELP t_r_total R.\n# TYPE t_r_total counter\nt_r_total{trunk=\"b\"} 1\n");
  // Asking again brings the series back without going backwards.
  EXPECT_EQ(family->WithLabels({"a"}), a);
  EXPECT_THAT(registry_.Serialize(), HasSubstr("t_r_total{trunk=\"a\"} 6\n"));
}

TEST_F(RegistryTest, RemoveMatchingHidesEverySeriesOfATrunkAcrossFamilies) {
  CounterFamily* failovers =
      *registry_.AddCounter("t_failovers_total", "F.", {"route", "from", "to"});
  GaugeFamily* state = *registry_.AddGauge("t_state", "S.", {"trunk", "state"});
  failovers->WithLabels({"r1", "a", "b"})->Inc();
  failovers->WithLabels({"r1", "b", "c"})->Inc();
  state->WithLabels({"b", "UP"})->Set(1);
  state->WithLabels({"c", "UP"})->Set(1);

  EXPECT_EQ(registry_.RemoveMatching("trunk", "b"), 1u);
  EXPECT_EQ(failovers->RemoveMatching("from", "b"), 1u);
  EXPECT_EQ(failovers->RemoveMatching("to", "b"), 1u);
  EXPECT_EQ(failovers->RemoveMatching("no_such_label", "b"), 0u);
  std::string text = registry_.Serialize();
  EXPECT_THAT(text, Not(HasSubstr("\"b\"")));
  EXPECT_THAT(text, HasSubstr("t_state{trunk=\"c\",state=\"UP\"} 1\n"));
}

TEST_F(RegistryTest, WrongLabelCountGoesToADetachedSeriesThatIsNeverExported) {
  CounterFamily* family = *registry_.AddCounter("t_w_total", "W.", {"trunk", "outcome"});
  Counter* bad = family->WithLabels({"only-one"});
  ASSERT_NE(bad, nullptr);
  bad->Inc();
  EXPECT_EQ(family->Size(), 0u);
  EXPECT_EQ(registry_.Serialize(), "# HELP t_w_total W.\n# TYPE t_w_total counter\n");
}

TEST_F(RegistryTest, CallbackGaugeIsEvaluatedAtScrapeTime) {
  std::vector<std::pair<std::string, double>> trunks = {{"b", 0}, {"a", 1}};
  CallbackGaugeFamily* family = *registry_.AddCallbackGauge(
      "t_trunk_up", "Up.", {"trunk"}, [&trunks](GaugeSink& sink) {
        for (const auto& [id, up] : trunks) sink.Add({id}, up);
      });
  EXPECT_EQ(registry_.Serialize(),
            "# HELP t_trunk_up Up.\n# TYPE t_trunk_up gauge\n"
            "t_trunk_up{trunk=\"a\"} 1\n"
            "t_trunk_up{trunk=\"b\"} 0\n");
  trunks = {{"a", 0}};  // trunk b deleted: its series vanishes by itself
  EXPECT_EQ(registry_.Serialize(),
            "# HELP t_trunk_up Up.\n# TYPE t_trunk_up gauge\nt_trunk_up{trunk=\"a\"} 0\n");
  family->SetCallback(nullptr);
  EXPECT_EQ(registry_.Serialize(), "# HELP t_trunk_up Up.\n# TYPE t_trunk_up gauge\n");
}

TEST_F(RegistryTest, CallbackGaugeDropsRepeatedAndMalformedSamples) {
  ASSERT_TRUE(registry_
                  .AddCallbackGauge("t_cb", "CB.", {"trunk"},
                                    [](GaugeSink& sink) {
                                      sink.Add({"a"}, 1);
                                      sink.Add({"a"}, 2);       // repeated: first one wins
                                      sink.Add({"a", "x"}, 3);  // wrong arity
                                    })
                  .ok());
  EXPECT_EQ(registry_.Serialize(), "# HELP t_cb CB.\n# TYPE t_cb gauge\nt_cb{trunk=\"a\"} 1\n");
}

TEST_F(RegistryTest, RejectsInvalidRegistrations) {
  EXPECT_EQ(registry_.AddCounter("t_calls", "no suffix", {}).status().message(),
            "metric name 't_calls': counter names must end in _total");
  EXPECT_EQ(registry_.AddGauge("t_calls_total", "suffix", {}).status().message(),
            "metric name 't_calls_total': only counter names may end in _total");
  EXPECT_EQ(registry_.AddGauge("t:rule", "colon", {}).status().message(),
            "metric name 't:rule': must match [a-zA-Z_][a-zA-Z0-9_]*");
  EXPECT_EQ(registry_.AddGauge("9lives", "digit", {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry_.AddGauge("t_g", "bad label", {"trunk-id"}).status().message(),
            "metric 't_g' label 'trunk-id': must match [a-zA-Z_][a-zA-Z0-9_]*");
  EXPECT_EQ(registry_.AddGauge("t_g", "reserved", {"__name"}).status().message(),
            "metric 't_g' label '__name': the __ prefix is reserved");
  EXPECT_EQ(registry_.AddGauge("t_g", "dup", {"a", "a"}).status().message(),
            "metric 't_g' label 'a': duplicate label name");
  EXPECT_EQ(registry_.AddHistogram("t_h", "le", {"le"}, {1}).status().message(),
            "metric 't_h' label 'le': reserved for histogram buckets");
  EXPECT_EQ(registry_.AddHistogram("t_h", "order", {}, {1, 1}).status().message(),
            "histogram 't_h' bounds[1]: must be greater than bounds[0]");
  EXPECT_EQ(
      registry_.AddHistogram("t_h", "inf", {}, {1, std::numeric_limits<double>::infinity()})
          .status()
          .message(),
      "histogram 't_h' bounds[1]: must be finite (+Inf is implicit)");
  ASSERT_TRUE(registry_.AddGauge("t_g", "ok", {}).ok());
  auto dup = registry_.AddCounter("t_g", "again", {});
  EXPECT_EQ(dup.status().code(), absl::StatusCode::kInvalidArgument);  // counter suffix first
  auto dup2 = registry_.AddGauge("t_g", "again", {});
  EXPECT_EQ(dup2.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(dup2.status().message(), "metric 't_g' is already registered");
}

TEST_F(RegistryTest, ContentTypeIsTextFormat004) {
  EXPECT_EQ(Registry::kContentType, "text/plain; version=0.0.4; charset=utf-8");
}

TEST(AppendDoubleTest, ShortestRoundTripForms) {
  auto fmt = [](double v) {
    std::string s;
    AppendDouble(&s, v);
    return s;
  };
  EXPECT_EQ(fmt(0), "0");
  EXPECT_EQ(fmt(3), "3");
  EXPECT_EQ(fmt(0.005), "0.005");
  EXPECT_EQ(fmt(2.5), "2.5");
  EXPECT_EQ(fmt(123456789012.0), "123456789012");
  EXPECT_EQ(std::stod(fmt(0.1 + 0.2)), 0.1 + 0.2);
}

TEST(ExponentialBucketsTest, MultipliesFromStart) {
  EXPECT_EQ(ExponentialBuckets(0.001, 2, 4), (std::vector<double>{0.001, 0.002, 0.004, 0.008}));
}

// Writers hammer counters, gauges and histograms while a scraper serialises in a loop: scrapes
// must not block or corrupt updates, and the totals are exact once the writers are done.
TEST(RegistryConcurrencyTest, ConcurrentUpdatesAndScrapesKeepExactTotals) {
  Registry registry;
  CounterFamily* counters = *registry.AddCounter("t_c_total", "C.", {"trunk"});
  GaugeFamily* gauges = *registry.AddGauge("t_g", "G.", {"trunk"});
  HistogramFamily* histograms = *registry.AddHistogram("t_h_seconds", "H.", {"trunk"}, {0.5, 1});
  constexpr int kWriters = 4;
  constexpr int kIterations = 50'000;

  std::atomic<bool> writers_done{false};
  std::atomic<int> scrapes{0};
  std::thread scraper([&] {
    while (!writers_done.load()) {
      std::string text = registry.Serialize();
      ASSERT_THAT(text, HasSubstr("# TYPE t_h_seconds histogram"));
      scrapes.fetch_add(1);
    }
  });
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      // Half the writers share one series (contention); each also creates its own series
      // while the scraper runs (child creation racing with serialisation).
      std::string own = "w" + std::to_string(w);
      Counter* shared = counters->WithLabels({"shared"});
      Counter* mine = counters->WithLabels({own});
      Gauge* gauge = gauges->WithLabels({"shared"});
      Histogram* hist = histograms->WithLabels({"shared"});
      // Start only once the scraper is running, so that updates and scrapes overlap.
      while (scrapes.load() == 0) std::this_thread::yield();
      for (int i = 0; i < kIterations; ++i) {
        shared->Inc();
        mine->Inc(2);
        gauge->Inc();
        hist->Observe(i % 2 == 0 ? 0.25 : 0.75);
      }
    });
  }
  for (std::thread& t : writers) t.join();
  writers_done.store(true);
  scraper.join();

  EXPECT_GT(scrapes.load(), 0);
  EXPECT_EQ(counters->WithLabels({"shared"})->Value(), uint64_t{kWriters} * kIterations);
  for (int w = 0; w < kWriters; ++w) {
    EXPECT_EQ(counters->WithLabels({"w" + std::to_string(w)})->Value(),
              uint64_t{2} * kIterations);
  }
  EXPECT_EQ(gauges->WithLabels({"shared"})->Value(), double{kWriters} * kIterations);
  Histogram::Snapshot snap = histograms->WithLabels({"shared"})->Read();
  EXPECT_EQ(snap.count, uint64_t{kWriters} * kIterations);
  EXPECT_EQ(snap.cumulative[0], uint64_t{kWriters} * kIterations / 2);
  // 0.25 and 0.75 are exact in binary, so the sum is exact too.
  EXPECT_EQ(snap.sum, double{kWriters} * kIterations / 2 * (0.25 + 0.75));
  std::string text = registry.Serialize();
  EXPECT_THAT(text, HasSubstr("t_c_total{trunk=\"shared\"} 200000\n"));
  EXPECT_THAT(text, HasSubstr("t_h_seconds_count{trunk=\"shared\"} 200000\n"));
}

}  // namespace
}  // namespace trunkroute::metrics
