// The edge's admission checks on an incoming INVITE (sip/admission.h), without Sofia: the facts
// of the request in, the edge's answer (or the ingress trunk) out, in the order design.md §4
// gives them.
#include "sip/admission.h"

#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"

namespace trunkroute::sip {
namespace {

std::shared_ptr<const router::RoutingTable> Table(const std::string& text) {
  v1::Config config;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &config)) << text;
  auto table = router::RoutingTable::Create(config);
  EXPECT_TRUE(table.ok()) << table.status();
  return table.ok() ? *table : nullptr;
}

// A carrier that also sends us calls (its allow_cidrs), a trunk that does not, the edge open to
// loopback only (the default) and capped at 2 calls.
constexpr char kConfig[] = R"pb(
  trunks { id: "carrier" host: "192.0.2.10" allow_cidrs: "192.0.2.0/28" }
  trunks { id: "backup" host: "198.51.100.7" }
  routes { id: "all" priority: 1 pattern: "\\+\\d+" trunk_ids: "carrier" trunk_ids: "backup" }
  edge { max_calls: 2 }
)pb";

class AdmissionTest : public ::testing::Test {
 protected:
  Admission Admit(const InviteFacts& invite, EdgeState edge = {}) const {
    return AdmitInvite(invite, *table_, edge);
  }
  std::shared_ptr<const router::RoutingTable> table_ = Table(kConfig);
};

TEST_F(AdmissionTest, LoopbackDialerIsAdmittedWithoutIngressTrunk) {
  const Admission a = Admit({.source = "127.0.0.1"});
  EXPECT_FALSE(a.rejection.has_value());
  EXPECT_EQ(a.ingress, nullptr);
}

TEST_F(AdmissionTest, SourceInATrunksAllowCidrsNamesTheIngressTrunk) {
  const Admission a = Admit({.source = "192.0.2.3"});
  EXPECT_FALSE(a.rejection.has_value());
  ASSERT_NE(a.ingress, nullptr);
  EXPECT_EQ(a.ingress->id, "carrier");
}

TEST_F(AdmissionTest, UnknownSourceIsForbiddenAndWorthAWarning) {
  const Admission a = Admit({.source = "203.0.113.9"});
  ASSERT_TRUE(a.rejection.has_value());
  EXPECT_EQ(a.rejection->status, 403);
  EXPECT_EQ(a.rejection->reason_header, "");
  EXPECT_EQ(a.rejection->metric_reason, "source_not_allowed");
  EXPECT_EQ(a.rejection->log_reason, "source not allowed");
  EXPECT_TRUE(a.rejection->warn_with_source);
}

TEST_F(AdmissionTest, UnknownSourceAddressIsForbidden) {
  const Admission a = Admit({.source = ""});
  ASSERT_TRUE(a.rejection.has_value());
  EXPECT_EQ(a.rejection->status, 403);
}

TEST_F(AdmissionTest, FullEdgeAnswers503WithReason) {
  EXPECT_FALSE(Admit({.source = "127.0.0.1"}, {.calls_in_progress = 1}).rejection.has_value());
  const Admission a = Admit({.source = "127.0.0.1"}, {.calls_in_progress = 2});
  ASSERT_TRUE(a.rejection.has_value());
  EXPECT_EQ(a.rejection->status, 503);
  EXPECT_EQ(a.rejection->reason_header, "SIP;cause=503;text=\"edge at max_calls\"");
  EXPECT_EQ(a.rejection->metric_reason, "max_calls");
  EXPECT_FALSE(a.rejection->warn_with_source);
}

TEST_F(AdmissionTest, NoMaxCallsMeansUnlimited) {
  table_ = Table(R"pb(
    trunks { id: "t" host: "192.0.2.10" }
    routes { id: "all" priority: 1 pattern: "\\+\\d+" trunk_ids: "t" }
  )pb");
  EXPECT_FALSE(Admit({.source = "127.0.0.1"}, {.calls_in_progress = 100000}).rejection);
}

TEST_F(AdmissionTest, MaxForwardsZeroIsTooManyHops) {
  const Admission a = Admit({.source = "127.0.0.1", .max_forwards = 0});
  ASSERT_TRUE(a.rejection.has_value());
  EXPECT_EQ(a.rejection->status, 483);
  EXPECT_EQ(a.rejection->metric_reason, "max_forwards");
  EXPECT_FALSE(Admit({.source = "127.0.0.1", .max_forwards = 1}).rejection.has_value());
}

TEST_F(AdmissionTest, OurOwnViaIsLoopDetectedNever485) {
  const Admission a = Admit({.source = "127.0.0.1", .via_names_us = true});
  ASSERT_TRUE(a.rejection.has_value());
  EXPECT_EQ(a.rejection->status, 482);
  EXPECT_EQ(a.rejection->metric_reason, "loop");
}

TEST_F(AdmissionTest, StoppingEdgeAnswers503BeforeAnyOtherCheck) {
  // Even from a source that would be forbidden: a stopping edge says only that.
  const Admission a = Admit({.source = "203.0.113.9", .max_forwards = 0}, {.stopping = true});
  ASSERT_TRUE(a.rejection.has_value());
  EXPECT_EQ(a.rejection->status, 503);
  EXPECT_EQ(a.rejection->reason_header, "SIP;cause=503;text=\"edge shutting down\"");
  EXPECT_EQ(a.rejection->metric_reason, "shutting_down");
}

TEST_F(AdmissionTest, ChecksComeInTheDocumentedOrder) {
  // Source before capacity before Max-Forwards before the loop check.
  EXPECT_EQ(Admit({.source = "203.0.113.9", .max_forwards = 0, .via_names_us = true},
                  {.calls_in_progress = 5})
                .rejection->status,
            403);
  EXPECT_EQ(Admit({.source = "127.0.0.1", .max_forwards = 0, .via_names_us = true},
                  {.calls_in_progress = 5})
                .rejection->metric_reason,
            "max_calls");
  EXPECT_EQ(
      Admit({.source = "127.0.0.1", .max_forwards = 0, .via_names_us = true}).rejection->status,
      483);
}

TEST_F(AdmissionTest, OverloadedEdgeSheds503WithRetryAfter) {
  const Admission a = Admit({.source = "127.0.0.1"}, {.overloaded = true});
  ASSERT_TRUE(a.rejection.has_value());
  EXPECT_EQ(a.rejection->status, 503);
  EXPECT_EQ(a.rejection->reason_header, "SIP;cause=503;text=\"edge overloaded\"");
  EXPECT_EQ(a.rejection->metric_reason, "overload");
  EXPECT_EQ(a.rejection->retry_after_s, 1u) << "edge.retry_after_s defaults to 1";
  // Refusals that are not load shedding carry no Retry-After.
  EXPECT_EQ(Admit({.source = "127.0.0.1"}, {.calls_in_progress = 2}).rejection->retry_after_s,
            0u);
  EXPECT_EQ(Admit({.source = "203.0.113.9"}).rejection->retry_after_s, 0u);
}

TEST_F(AdmissionTest, OverloadComesAfterTheChecksThatSayWhatIsWrongWithTheCall) {
  EXPECT_EQ(Admit({.source = "203.0.113.9"}, {.overloaded = true}).rejection->status, 403);
  EXPECT_EQ(
      Admit({.source = "127.0.0.1", .max_forwards = 0}, {.overloaded = true}).rejection->status,
      483);
  EXPECT_EQ(Admit({.source = "127.0.0.1"}, {.stopping = true, .overloaded = true})
                .rejection->metric_reason,
            "shutting_down");
}

constexpr char kCappedConfig[] = R"pb(
  trunks { id: "t" host: "192.0.2.10" }
  routes { id: "all" priority: 1 pattern: "\\+\\d+" trunk_ids: "t" }
  edge { allowed_sources: "127.0.0.0/8" max_cps: 20 max_cps_per_source: 10 retry_after_s: 5 }
)pb";

TEST_F(AdmissionTest, CallRateCapsShed503WithTheConfiguredRetryAfter) {
  table_ = Table(kCappedConfig);
  CallRateLimiter limiter;
  const MonoTime t0 = MonoTime() + seconds(100);
  // max_cps_per_source 10 and max_cps 20: buckets two calls deep. A third call at once from the
  // same source is refused for its source.
  for (int i = 0; i < 2; ++i) {
    EXPECT_FALSE(
        Admit({.source = "127.0.0.1"}, {.rate_limiter = &limiter, .now = t0}).rejection);
  }
  const Admission per_source =
      Admit({.source = "127.0.0.1"}, {.rate_limiter = &limiter, .now = t0});
  ASSERT_TRUE(per_source.rejection.has_value());
  EXPECT_EQ(per_source.rejection->status, 503);
  EXPECT_EQ(per_source.rejection->metric_reason, "rate_limit");
  EXPECT_EQ(per_source.rejection->reason_header,
            "SIP;cause=503;text=\"source at max_cps_per_source\"");
  EXPECT_EQ(per_source.rejection->retry_after_s, 5u);
  // Another source finds the edge's own bucket empty.
  const Admission overall = Admit({.source = "127.0.0.2"}, {.rate_limiter = &limiter, .now = t0});
  ASSERT_TRUE(overall.rejection.has_value());
  EXPECT_EQ(overall.rejection->reason_header, "SIP;cause=503;text=\"edge at max_cps\"");
  EXPECT_EQ(overall.rejection->metric_reason, "rate_limit");
  // 100 ms later the edge has room for two calls again.
  EXPECT_FALSE(Admit({.source = "127.0.0.2"},
                     {.rate_limiter = &limiter, .now = t0 + milliseconds(100)})
                   .rejection);
}

TEST_F(AdmissionTest, RefusedCallsTakeNoRateToken) {
  table_ = Table(kCappedConfig);
  CallRateLimiter limiter;
  const MonoTime t0 = MonoTime() + seconds(100);
  // Refused for another reason first (overloaded, Max-Forwards 0): the buckets stay full.
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(Admit({.source = "127.0.0.1"}, {.overloaded = true, .rate_limiter = &limiter,
                                              .now = t0})
                  .rejection->metric_reason,
              "overload");
    ASSERT_EQ(Admit({.source = "127.0.0.1", .max_forwards = 0},
                    {.rate_limiter = &limiter, .now = t0})
                  .rejection->status,
              483);
  }
  EXPECT_FALSE(
      Admit({.source = "127.0.0.1"}, {.rate_limiter = &limiter, .now = t0}).rejection);
}

TEST(RejectionForDecisionTest, UnavailableIs503WithTheRoutersWords) {
  const EdgeRejection r =
      RejectionForDecision(absl::UnavailableError("every trunk of route \"all\" is down"));
  EXPECT_EQ(r.status, 503);
  // Quotes and backslashes cannot go into the Reason header's quoted text.
  EXPECT_EQ(r.reason_header, "SIP;cause=503;text=\"every trunk of route all is down\"");
  EXPECT_EQ(r.metric_reason, "unavailable");
}

TEST(RejectionForDecisionTest, NoRouteIs404) {
  const EdgeRejection none = RejectionForDecision(absl::NotFoundError("no route matches +12"));
  EXPECT_EQ(none.status, 404);
  EXPECT_EQ(none.phrase, nullptr) << "the standard phrase";
  EXPECT_EQ(none.reason_header, "SIP;cause=404;text=\"no route matches +12\"");
  EXPECT_EQ(none.metric_reason, "no_route");
}

TEST(RejectionForDecisionTest, BadNumberIs400NamingTheRequestUri) {
  const EdgeRejection bad = RejectionForDecision(absl::InvalidArgumentError(
      "dialed_number: number 'vivek\\x00g': not a phone number (unexpected 'v')"));
  EXPECT_EQ(bad.status, 400);
  EXPECT_STREQ(bad.phrase, "Bad Request-URI Number");
  // No quote or backslash inside the Reason header's quoted text.
  EXPECT_EQ(bad.reason_header,
            "SIP;cause=400;text=\"dialed_number: number 'vivekx00g': not a phone number "
            "(unexpected 'v')\"");
  EXPECT_EQ(bad.metric_reason, "bad_request");
}

}  // namespace
}  // namespace trunkroute::sip
