// Decide() and RoutingTable::Create at 10, 1,000 and 10,000 routes.
//
// The dial plan looks like a real one: one route per NPA-NXX ("\+1212555\d{4}"), each with two or
// three of 24 carrier trunks, plus a few wider routes with character classes. Dialed numbers are
// drawn from across the whole table so that the DFA behind the pattern set sees the spread of
// states real traffic produces, not one hot path.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "router/decision.h"
#include "router/health_view.h"
#include "router/routing_table.h"

namespace trunkroute::router {
namespace {

constexpr int kTrunks = 24;
constexpr int kNumbers = 4096;

std::string Npa(int i) { return std::to_string(201 + i / 800); }
std::string Nxx(int i) { return std::to_string(200 + i % 800); }

v1::Config MakeConfig(int routes) {
  v1::Config config;
  config.set_version(1);
  for (int t = 0; t < kTrunks; ++t) {
    v1::Trunk* trunk = config.add_trunks();
    trunk->set_id(absl::StrCat("carrier-", t));
    trunk->set_host(absl::StrCat("sip", t, ".carrier.example.com"));
  }
  for (int i = 0; i < routes; ++i) {
    v1::Route* route = config.add_routes();
    route->set_id(absl::StrCat("r", i));
    route->set_priority(i + 1);
    if (i % 50 == 49) {
      // A wider route: any exchange 2xx–9xx of one area code, behind the exact ones.
      route->set_pattern(absl::StrCat("\\+1", Npa(i), "[2-9]\\d{2}9\\d{3}"));
    } else {
      route->set_pattern(absl::StrCat("\\+1", Npa(i), Nxx(i), "\\d{4}"));
    }
    const int n = 2 + i % 2;
    for (int k = 0; k < n; ++k) route->add_trunk_ids(absl::StrCat("carrier-", (i + k * 7) % kTrunks));
  }
  return config;
}

std::shared_ptr<const RoutingTable> MakeTable(int routes) {
  auto table = RoutingTable::Create(MakeConfig(routes));
  if (!table.ok()) {
    std::fprintf(stderr, "Create failed: %s\n", table.status().ToString().c_str());
    std::abort();
  }
  return *table;
}

// Numbers that match routes spread evenly over the table (every route reachable).
std::vector<std::string> MatchingNumbers(int routes) {
  std::vector<std::string> numbers;
  for (int k = 0; k < kNumbers; ++k) {
    const int i = static_cast<int>((static_cast<int64_t>(k) * 7919) % routes);
    // Wide routes take only lines 9xxx of their exchanges.
    const int line = i % 50 == 49 ? 9000 + (k * 37) % 1000 : 1000 + (k * 37) % 9000;
    numbers.push_back(absl::StrCat("+1", Npa(i), Nxx(i), line));
  }
  return numbers;
}

void BM_Decide(benchmark::State& state) {
  const int routes = static_cast<int>(state.range(0));
  auto table = MakeTable(routes);
  const auto numbers = MatchingNumbers(routes);
  AllUpHealthView health;
  size_t k = 0;
  for (auto _ : state) {
    const std::string& number = numbers[k++ % numbers.size()];
    auto decision = Decide(table, health, CallQuery{number, "", ""}, 0.5);
    if (!decision.ok()) state.SkipWithError("no decision");
    benchmark::DoNotOptimize(decision);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Decide)->Arg(10)->Arg(1000)->Arg(10000);

void BM_DecideNoMatch(benchmark::State& state) {
  const int routes = static_cast<int>(state.range(0));
  auto table = MakeTable(routes);
  std::vector<std::string> numbers;
  for (int k = 0; k < kNumbers; ++k) numbers.push_back(absl::StrCat("+44207946", 1000 + k));
  AllUpHealthView health;
  size_t k = 0;
  for (auto _ : state) {
    auto decision = Decide(table, health, CallQuery{numbers[k++ % numbers.size()], "", ""}, 0.5);
    if (decision.status().code() != absl::StatusCode::kNotFound) state.SkipWithError("matched");
    benchmark::DoNotOptimize(decision);
  }
}
BENCHMARK(BM_DecideNoMatch)->Arg(10)->Arg(1000)->Arg(10000);

// The matcher alone (no normalisation, no candidate list).
void BM_Match(benchmark::State& state) {
  const int routes = static_cast<int>(state.range(0));
  auto table = MakeTable(routes);
  const auto numbers = MatchingNumbers(routes);
  size_t k = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(table->Match(numbers[k++ % numbers.size()], "", ""));
  }
}
BENCHMARK(BM_Match)->Arg(10)->Arg(1000)->Arg(10000);

// Validation + compilation of a whole table, as on every applied config change.
void BM_CreateTable(benchmark::State& state) {
  const v1::Config config = MakeConfig(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    auto table = RoutingTable::Create(config);
    benchmark::DoNotOptimize(table);
  }
}
BENCHMARK(BM_CreateTable)->Arg(10)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace trunkroute::router

BENCHMARK_MAIN();
