// MetricsBridge: the hooks of the router, the SIP edge and the gRPC server turned into
// trunkroute_ series, alone and behind a real gRPC server on loopback.
#include "daemon/metrics_bridge.h"

#include <chrono>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/metrics/exposition_matchers.h"
#include "tests/server/server_fixture.h"

namespace trunkroute::daemon {
namespace {

using metrics::testing::SeriesValue;
using trunkroute::testing::Ctx;
using trunkroute::testing::ServerHarness;
using trunkroute::testing::TempDir;

constexpr char kRouteCall[] = "/trunkroute.v1.RoutingService/RouteCall";

// The value of trunkroute_grpc_requests_total{method,code} in a scrape.
std::string GrpcRequests(const std::string& text, std::string_view method, std::string_view code) {
  return SeriesValue(text, std::string(R"(trunkroute_grpc_requests_total{method=")") +
                               std::string(method) + R"(",code=")" + std::string(code) + R"("})");
}

// The value of trunkroute_route_decisions_total{route,result} in a scrape.
std::string Decisions(const std::string& text, std::string_view route, std::string_view result) {
  return SeriesValue(text, std::string(R"(trunkroute_route_decisions_total{route=")") +
                               std::string(route) + R"(",result=")" + std::string(result) +
                               R"("})");
}

class MetricsBridgeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto created = metrics::TrunkrouteMetrics::Create("test");
    ASSERT_TRUE(created.ok()) << created.status();
    metrics_ = *std::move(created);
    bridge_ = std::make_unique<MetricsBridge>(metrics_.get());
  }
  std::string Scrape() const { return metrics_->registry().Serialize(); }

  std::unique_ptr<metrics::TrunkrouteMetrics> metrics_;
  std::unique_ptr<MetricsBridge> bridge_;
};

TEST_F(MetricsBridgeTest, DecisionsByRouteAndResultWithDurationAndPanic) {
  bridge_->OnDecision("nanp", "routed", std::chrono::microseconds(2));
  bridge_->OnDecision("nanp", "routed", std::chrono::microseconds(3));
  bridge_->OnDecision("nanp", "panic", std::chrono::microseconds(4));
  bridge_->OnDecision("", "no_route", std::chrono::nanoseconds(500));
  const std::string text = Scrape();
  EXPECT_EQ(Decisions(text, "nanp", "routed"), "2");
  EXPECT_EQ(Decisions(text, "nanp", "panic"), "1");
  EXPECT_EQ(Decisions(text, "", "no_route"), "1");
  EXPECT_EQ(SeriesValue(text, R"(trunkroute_panic_decisions_total{route="nanp"})"), "1");
  EXPECT_EQ(SeriesValue(text, "trunkroute_route_decision_duration_seconds_count"), "4");
  EXPECT_NEAR(std::stod(SeriesValue(text, "trunkroute_route_decision_duration_seconds_sum")),
              9.5e-6, 1e-12);
  // Sub-microsecond decisions (the usual case) land in the lowest bucket, 1 µs.
  EXPECT_EQ(SeriesValue(text, R"(trunkroute_route_decision_duration_seconds_bucket{le="1e-06"})"),
            "1");
  EXPECT_EQ(SeriesValue(text, R"(trunkroute_route_decision_duration_seconds_bucket{le="2.5e-06"})"),
            "2");
}

TEST_F(MetricsBridgeTest, EdgeHooksFeedFailoversPostDialDelayAndActiveCalls) {
  bridge_->OnFailover("nanp", "primary", "backup", "503");
  bridge_->OnFailover("nanp", "primary", "backup", "503");
  bridge_->OnFailover("nanp", "backup", "", "timeout");
  bridge_->OnPostDialDelay("backup", std::chrono::milliseconds(250));
  bridge_->OnActiveCalls("backup", +1);
  bridge_->OnActiveCalls("backup", +1);
  bridge_->OnActiveCalls("backup", -1);
  bridge_->OnRejected(503, "max_calls");
  bridge_->OnRejected(503, "max_calls");
  bridge_->OnRejected(403, "source_not_allowed");
  bridge_->OnTargetFailover("nanp", "carrier", "192.0.2.1:5060", "192.0.2.2:5060", "timeout");
  const std::string text = Scrape();
  EXPECT_EQ(
      SeriesValue(
          text,
          R"(trunkroute_target_failovers_total{route="nanp",trunk="carrier",reason="timeout"})"),
      "1");
  EXPECT_EQ(SeriesValue(text, R"(trunkroute_edge_rejections_total{code="503",reason="max_calls"})"),
            "2");
  EXPECT_EQ(
      SeriesValue(text,
                  R"(trunkroute_edge_rejections_total{code="403",reason="source_not_allowed"})"),
      "1");
  EXPECT_EQ(
      SeriesValue(
          text,
          R"(trunkroute_failovers_total{route="nanp",from="primary",to="backup",reason="503"})"),
      "2");
  EXPECT_EQ(
      SeriesValue(
          text, R"(trunkroute_failovers_total{route="nanp",from="backup",to="",reason="timeout"})"),
      "1");
  EXPECT_EQ(SeriesValue(text, R"(trunkroute_post_dial_delay_seconds_count{trunk="backup"})"), "1");
  EXPECT_EQ(SeriesValue(text, R"(trunkroute_post_dial_delay_seconds_sum{trunk="backup"})"), "0.25");
  EXPECT_EQ(SeriesValue(text, R"(trunkroute_active_calls{trunk="backup"})"), "1");
}

TEST_F(MetricsBridgeTest, OverloadReadingsSetTheEdgeGauges) {
  std::string text = Scrape();
  EXPECT_EQ(SeriesValue(text, "trunkroute_edge_overloaded"), "0");
  EXPECT_EQ(SeriesValue(text, "trunkroute_edge_admitted_ratio"), "1");
  bridge_->OnOverloadReading({.overloaded = true,
                              .admit_fraction = 0.49,
                              .smoothed_lag = std::chrono::milliseconds(12),
                              .standing_fill = 0.3});
  text = Scrape();
  EXPECT_EQ(SeriesValue(text, "trunkroute_edge_overloaded"), "1");
  EXPECT_EQ(SeriesValue(text, "trunkroute_edge_admitted_ratio"), "0.49");
  EXPECT_EQ(SeriesValue(text, "trunkroute_edge_loop_lag_seconds"), "0.012");
  EXPECT_EQ(SeriesValue(text, "trunkroute_edge_udp_queue_ratio"), "0.3");
  bridge_->OnOverloadReading({});
  EXPECT_EQ(SeriesValue(Scrape(), "trunkroute_edge_overloaded"), "0");
}

TEST_F(MetricsBridgeTest, RpcRequestsByMethodAndCodeName) {
  bridge_->OnRpcDone(kRouteCall, grpc::StatusCode::OK);
  bridge_->OnRpcDone(kRouteCall, grpc::StatusCode::NOT_FOUND);
  bridge_->OnRpcDone(kRouteCall, grpc::StatusCode::OK);
  bridge_->OnRpcDone("/m", grpc::StatusCode::UNAUTHENTICATED);
  bridge_->OnRpcDone("/m", static_cast<grpc::StatusCode>(99));  // not a code: never a new label
  const std::string text = Scrape();
  EXPECT_EQ(GrpcRequests(text, "/m", "UNAUTHENTICATED"), "1");
  EXPECT_EQ(GrpcRequests(text, "/m", "UNKNOWN"), "1");
  EXPECT_EQ(GrpcRequests(text, kRouteCall, "OK"), "2");
  EXPECT_EQ(GrpcRequests(text, kRouteCall, "NOT_FOUND"), "1");
}

// The bridge caches series handles per thread; a trunk's series hidden when it was deleted must
// come back (with its running value) when the trunk is used again, not stay cached and hidden.
TEST_F(MetricsBridgeTest, SeriesOfADeletedTrunkComeBackWhenUsedAgain) {
  bridge_->OnActiveCalls("t1", +1);
  ASSERT_EQ(SeriesValue(Scrape(), R"(trunkroute_active_calls{trunk="t1"})"), "1");
  metrics_->ForgetTrunk("t1");
  EXPECT_EQ(SeriesValue(Scrape(), R"(trunkroute_active_calls{trunk="t1"})"), "absent");
  bridge_->OnActiveCalls("t1", -1);
  EXPECT_EQ(SeriesValue(Scrape(), R"(trunkroute_active_calls{trunk="t1"})"), "0");
}

// A second bridge on another registry, created on the same thread after the first is gone, must
// not reuse the first one's cached handles (they point into a destroyed registry).
TEST_F(MetricsBridgeTest, ANewBridgeNeverSeesAnOldBridgesCache) {
  bridge_->OnDecision("nanp", "routed", std::chrono::microseconds(1));
  bridge_.reset();
  metrics_.reset();
  auto created = metrics::TrunkrouteMetrics::Create("test");
  ASSERT_TRUE(created.ok());
  metrics_ = *std::move(created);
  bridge_ = std::make_unique<MetricsBridge>(metrics_.get());
  bridge_->OnDecision("nanp", "routed", std::chrono::microseconds(1));
  EXPECT_EQ(Decisions(Scrape(), "nanp", "routed"), "1");
}

TEST_F(MetricsBridgeTest, ConcurrentUpdatesFromManyThreadsAreAllCounted) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t] {
      const std::string route = t % 2 == 0 ? "even" : "odd";
      for (int i = 0; i < kPerThread; ++i) {
        bridge_->OnDecision(route, "routed", std::chrono::nanoseconds(500));
        bridge_->OnActiveCalls("shared", +1);
        bridge_->OnActiveCalls("shared", -1);
        bridge_->OnRpcDone("/m", grpc::StatusCode::OK);
      }
    });
  }
  // Scrapes run while the writers do: they must neither block them nor see torn output.
  for (int i = 0; i < 20; ++i) {
    EXPECT_NE(SeriesValue(Scrape(), "trunkroute_build_info{version=\"test\"}"), "absent");
  }
  for (std::thread& th : threads) th.join();
  const std::string text = Scrape();
  EXPECT_EQ(Decisions(text, "even", "routed"), std::to_string(2 * kPerThread));
  EXPECT_EQ(Decisions(text, "odd", "routed"), std::to_string(2 * kPerThread));
  EXPECT_EQ(SeriesValue(text, R"(trunkroute_active_calls{trunk="shared"})"), "0");
  EXPECT_EQ(GrpcRequests(text, "/m", "OK"), std::to_string(kThreads * kPerThread));
  EXPECT_EQ(SeriesValue(text, "trunkroute_route_decision_duration_seconds_count"),
            std::to_string(kThreads * kPerThread));
}

// Behind a real gRPC server: RouteCall decisions and every answered RPC, with its status code.
TEST_F(MetricsBridgeTest, RealServerCountsDecisionsAndRequests) {
  TempDir tmp;
  ServerHarness server(tmp.Sub("data"), trunkroute::testing::TwoTrunkConfig(), bridge_.get(),
                       bridge_.get());
  ASSERT_TRUE(server.ok());
  for (const char* number : {"+15551234567", "+15551234568", "+4420", "not-a-number"}) {
    v1::RouteCallRequest req;
    req.set_dialed_number(number);
    v1::RouteCallResponse resp;
    server.routing().RouteCall(Ctx().get(), req, &resp);
  }
  v1::GetConfigRequest get;
  v1::Config config;
  ASSERT_TRUE(server.config().GetConfig(Ctx().get(), get, &config).ok());
  server.Stop();  // every answer sent, so every status has been seen

  const std::string text = Scrape();
  EXPECT_EQ(Decisions(text, "nanp", "routed"), "2");
  EXPECT_EQ(Decisions(text, "", "no_route"), "1");
  EXPECT_EQ(Decisions(text, "", "invalid"), "1");
  EXPECT_EQ(GrpcRequests(text, kRouteCall, "OK"), "2");
  EXPECT_EQ(GrpcRequests(text, kRouteCall, "NOT_FOUND"), "1");
  EXPECT_EQ(GrpcRequests(text, kRouteCall, "INVALID_ARGUMENT"), "1");
  EXPECT_EQ(GrpcRequests(text, "/trunkroute.v1.ConfigService/GetConfig", "OK"), "1");
}

}  // namespace
}  // namespace trunkroute::daemon
