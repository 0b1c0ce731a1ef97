// Cost of the metric operations on the call path (cached-handle updates) and of a scrape.
// Run: metrics_bench [--benchmark_filter=...]. Results are quoted in docs/benchmarks.md.

#include <benchmark/benchmark.h>

#include <memory>
#include <string>

#include "metrics/health_metrics_observer.h"
#include "metrics/registry.h"
#include "metrics/trunkroute_metrics.h"
#include "tests/metrics/populate_metrics.h"

namespace trunkroute::metrics {
namespace {

// One registry per process for the threaded benchmarks: every thread updates the same series,
// the worst case (one hot trunk, all cores updating it).
Registry& SharedRegistry() {
  static Registry* registry = new Registry();
  return *registry;
}

void BM_CounterInc(benchmark::State& state) {
  static Counter* counter =
      (*SharedRegistry().AddCounter("bench_counter_total", "c", {"trunk"}))->WithLabels({"a"});
  for (auto _ : state) counter->Inc();
  benchmark::DoNotOptimize(counter->Value());
}
BENCHMARK(BM_CounterInc)->Threads(1)->Threads(2);

// Each thread its own series: what the edge sees with calls spread over trunks.
void BM_CounterIncOwnSeries(benchmark::State& state) {
  static CounterFamily* family = *SharedRegistry().AddCounter("bench_own_total", "c", {"t"});
  Counter* counter = family->WithLabels({std::to_string(state.thread_index())});
  for (auto _ : state) counter->Inc();
  benchmark::DoNotOptimize(counter->Value());
}
BENCHMARK(BM_CounterIncOwnSeries)->Threads(1)->Threads(2);

void BM_GaugeAdd(benchmark::State& state) {
  static Gauge* gauge =
      (*SharedRegistry().AddGauge("bench_gauge", "g", {"trunk"}))->WithLabels({"a"});
  for (auto _ : state) gauge->Inc();
  benchmark::DoNotOptimize(gauge->Value());
}
BENCHMARK(BM_GaugeAdd)->Threads(1)->Threads(2);

void BM_HistogramObserve(benchmark::State& state) {
  static Histogram* histogram =
      (*SharedRegistry().AddHistogram("bench_histogram_seconds", "h", {"trunk"},
                                      {0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 13, 20, 30}))
          ->WithLabels({"a"});
  double v = 0.05 * (state.thread_index() + 1);
  for (auto _ : state) {
    histogram->Observe(v);
    v = v > 25 ? 0.05 : v * 1.7;  // walk the buckets
  }
  benchmark::DoNotOptimize(histogram->Read().count);
}
BENCHMARK(BM_HistogramObserve)->Threads(1)->Threads(2);

// Resolving the series on every update instead of caching the handle: why callers cache.
void BM_WithLabelsThenInc(benchmark::State& state) {
  static CounterFamily* family =
      *SharedRegistry().AddCounter("bench_lookup_total", "c", {"trunk", "outcome"});
  for (auto _ : state) family->WithLabels({"carrier-a", "FAILOVER"})->Inc();
}
BENCHMARK(BM_WithLabelsThenInc)->Threads(1)->Threads(2);

// A full scrape of every trunkroute_ family with state(0)=N trunks' series.
void BM_SerializeTrunks(benchmark::State& state) {
  auto m = TrunkrouteMetrics::Create("bench");
  HealthMetricsObserver observer(m->get());
  testing::PopulateEveryFamily(m->get(), &observer, static_cast<int>(state.range(0)));
  std::string out;
  size_t series = 0;
  for (auto _ : state) {
    out.clear();
    (*m)->registry().SerializeTo(&out);
    benchmark::DoNotOptimize(out.data());
  }
  for (char c : out) series += c == '\n' ? 1 : 0;
  state.counters["bytes"] = static_cast<double>(out.size());
  state.counters["lines"] = static_cast<double>(series);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * out.size()));
}
BENCHMARK(BM_SerializeTrunks)->Arg(10)->Arg(1000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace trunkroute::metrics

BENCHMARK_MAIN();
