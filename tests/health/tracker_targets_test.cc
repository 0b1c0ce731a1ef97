// Per-target health under a trunk whose host name resolves to several addresses (RFC 3263): the
// trunk is UP while any target is, each target fails and recovers on the trunk's own rules.
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/health/health_test_util.h"

namespace trunkroute::health::testing {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class TrackerTargetsTest : public HealthTrackerTest {
 protected:
  void StartResolved(std::vector<TargetSpec> targets = {Spec("192.0.2.1", 5070),
                                                        Spec("192.0.2.2", 5071)}) {
    prober_.resolves_names = true;
    Start(kCarrier);
    Resolve(std::move(targets));
  }
  void Resolve(std::vector<TargetSpec> targets, const std::string& error = "") {
    tracker_->SetTargets(CarrierTargets(std::move(targets), error));
  }
  AttemptOutcome To(AttemptOutcome o, const std::string& target) {
    o.target = target;
    return o;
  }
  std::vector<std::string> TargetLines() {
    std::vector<std::string> out;
    const v1::TrunkHealth h = Health("c");
    for (const v1::TargetHealth& t : h.targets()) {
      out.push_back(absl::StrCat(t.target(), " ", v1::HealthState_Name(t.state())));
    }
    return out;
  }
  // Answers the outstanding probe of `key` (the last one sent to it).
  void AnswerTargetProbe(const std::string& key, int status) {
    const std::vector<ProbeTarget> sent = prober_.Sent();
    for (auto it = sent.rbegin(); it != sent.rend(); ++it) {
      if (it->target != key) continue;
      ProbeResult r;
      r.trunk_id = "c";
      r.target = key;
      r.probe_id = it->probe_id;
      r.sip_status = status;
      r.rtt = microseconds(1500);
      tracker_->ReportProbe(r);
      return;
    }
    ADD_FAILURE() << "no probe to " << key;
  }
};

TEST_F(TrackerTargetsTest, AHostNameWaitsForItsTargetsWithoutProbingTheName) {
  prober_.resolves_names = true;
  Start(kCarrier);
  EXPECT_EQ(State("c"), v1::HEALTH_STATE_UP);
  EXPECT_EQ(prober_.Count("c"), 0u) << "the bare name is never probed when targets will come";
  EXPECT_THAT(Health("c").targets(), IsEmpty());
  EXPECT_EQ(tracker_->TargetStates("c"), nullptr);
}

TEST_F(TrackerTargetsTest, EveryTargetIsProbedAtOnce) {
  StartResolved();
  std::vector<std::string> probed;
  for (const ProbeTarget& p : prober_.Sent()) {
    probed.push_back(absl::StrCat(p.target, " via ", p.address, ":", p.port, " for ", p.host));
  }
  EXPECT_THAT(probed, ElementsAre("192.0.2.1:5070 via 192.0.2.1:5070 for carrier.test",
                                  "192.0.2.2:5071 via 192.0.2.2:5071 for carrier.test"));
  EXPECT_THAT(TargetLines(),
              ElementsAre("192.0.2.1:5070 HEALTH_STATE_UP", "192.0.2.2:5071 HEALTH_STATE_UP"));
}

TEST_F(TrackerTargetsTest, OneTargetDownLeavesTheTrunkUp) {
  StartResolved();
  ReportN(To(Final("c", 503), "192.0.2.1:5070"), 3);
  EXPECT_EQ(State("c"), v1::HEALTH_STATE_UP);
  EXPECT_THAT(TargetLines(),
              ElementsAre("192.0.2.1:5070 HEALTH_STATE_DOWN", "192.0.2.2:5071 HEALTH_STATE_UP"));
  const v1::TrunkHealth h = Health("c");
  const v1::TargetHealth& t = h.targets(0);
  EXPECT_EQ(t.reason(), v1::HEALTH_REASON_CONSECUTIVE_FAILURES);
  EXPECT_EQ(t.detail(), "3 consecutive failures, last: 503");
  EXPECT_EQ(t.ejection_count(), 1u);
  EXPECT_EQ(Health("c").ejection_count(), 0u) << "the trunk itself was not ejected";
  auto states = tracker_->TargetStates("c");
  ASSERT_NE(states, nullptr);
  ASSERT_EQ(states->size(), 2u);
  EXPECT_EQ((*states)[0].key, "192.0.2.1:5070");
  EXPECT_EQ((*states)[0].state, v1::HEALTH_STATE_DOWN);
}

TEST_F(TrackerTargetsTest, TheTrunkIsDownWhenEveryTargetIs) {
  StartResolved();
  ReportN(To(Final("c", 503), "192.0.2.1:5070"), 3);
  Report(To(TransportError("c"), "192.0.2.2:5071"));
  EXPECT_EQ(State("c"), v1::HEALTH_STATE_DOWN);
  const v1::TrunkHealth h = Health("c");
  EXPECT_EQ(h.reason(), v1::HEALTH_REASON_TRANSPORT_ERROR);
  EXPECT_EQ(h.detail(), "all 2 targets down; last 192.0.2.2:5071: transport error");
  EXPECT_EQ(h.ejection_count(), 1u);
  EXPECT_GT(h.down_until_unix_ms(), 0);
}

TEST_F(TrackerTargetsTest, ATargetRecoversThroughItsOwnProbesWhileTheTrunkStaysUp) {
  StartResolved();
  RecordingObserver* seen = new RecordingObserver();
  tracker_->AddObserver(std::shared_ptr<HealthObserver>(seen));
  ReportN(To(SilentTimeout("c"), "192.0.2.1:5070"), 3);
  AnswerTargetProbe("192.0.2.2:5071", 200);
  Run(5000);  // the hold-down: PROBING, probed
  EXPECT_THAT(TargetLines(), Contains("192.0.2.1:5070 HEALTH_STATE_PROBING"));
  AnswerTargetProbe("192.0.2.1:5070", 200);
  Run(1000);
  AnswerTargetProbe("192.0.2.1:5070", 200);
  EXPECT_THAT(TargetLines(),
              ElementsAre("192.0.2.1:5070 HEALTH_STATE_UP", "192.0.2.2:5071 HEALTH_STATE_UP"));
  EXPECT_EQ(Health("c").targets(0).reason(), v1::HEALTH_REASON_RECOVERED);
  std::vector<std::string> targets, states;
  for (const std::string& l : seen->Lines()) {
    if (l.rfind("target ", 0) == 0) targets.push_back(l);
    if (l.rfind("state ", 0) == 0) states.push_back(l);
  }
  EXPECT_THAT(targets,
              ElementsAre("target c 192.0.2.1:5070 HEALTH_STATE_UP->HEALTH_STATE_DOWN",
                          "target c 192.0.2.1:5070 HEALTH_STATE_DOWN->HEALTH_STATE_PROBING",
                          "target c 192.0.2.1:5070 HEALTH_STATE_PROBING->HEALTH_STATE_UP"));
  EXPECT_THAT(states, IsEmpty()) << "the trunk never changed state";
}

TEST_F(TrackerTargetsTest, RetryAfterHoldsOnlyTheTargetThatSentIt) {
  StartResolved();
  AttemptOutcome o = RetryAfter("c", 30);
  Report(To(o, "192.0.2.2:5071"));
  EXPECT_THAT(TargetLines(),
              ElementsAre("192.0.2.1:5070 HEALTH_STATE_UP", "192.0.2.2:5071 HEALTH_STATE_DOWN"));
  EXPECT_EQ(Health("c").targets(1).reason(), v1::HEALTH_REASON_RETRY_AFTER);
  EXPECT_EQ(Health("c").targets(1).down_until_unix_ms() - clock_.WallUnixMs(), 30000);
}

TEST_F(TrackerTargetsTest, ADialersReportWithoutTargetCountsForEveryTarget) {
  StartResolved();
  ReportN(Final("c", 503), 3);
  EXPECT_EQ(State("c"), v1::HEALTH_STATE_DOWN);
  EXPECT_THAT(TargetLines(),
              ElementsAre("192.0.2.1:5070 HEALTH_STATE_DOWN", "192.0.2.2:5071 HEALTH_STATE_DOWN"));
}

TEST_F(TrackerTargetsTest, ANameThatResolvesToNothingIsDownUntilItResolves) {
  prober_.resolves_names = true;
  Start(kCarrier);
  Resolve({}, "NXDOMAIN");
  EXPECT_EQ(State("c"), v1::HEALTH_STATE_DOWN);
  EXPECT_EQ(Health("c").reason(), v1::HEALTH_REASON_UNRESOLVED);
  EXPECT_EQ(Health("c").detail(), "DNS: NXDOMAIN");
  EXPECT_EQ(Health("c").dns_error(), "NXDOMAIN");
  EXPECT_EQ(Health("c").ejection_count(), 0u);
  Resolve({Spec("192.0.2.9", 5060)});
  EXPECT_EQ(State("c"), v1::HEALTH_STATE_UP);
  EXPECT_THAT(Health("c").detail(), HasSubstr("192.0.2.9:5060: new target from DNS"));
  EXPECT_EQ(prober_.Last("c").target, "192.0.2.9:5060");
}

TEST_F(TrackerTargetsTest, TargetsThatStayInDnsKeepTheirHealth) {
  StartResolved();
  ReportN(To(Final("c", 503), "192.0.2.1:5070"), 3);
  Resolve({Spec("192.0.2.1", 5070), Spec("192.0.2.3", 5072)});
  EXPECT_THAT(TargetLines(),
              ElementsAre("192.0.2.1:5070 HEALTH_STATE_DOWN", "192.0.2.3:5072 HEALTH_STATE_UP"));
  // A stale answer kept by the resolver says so.
  Resolve({Spec("192.0.2.1", 5070), Spec("192.0.2.3", 5072)}, "NAPTR carrier.test: timeout");
  EXPECT_EQ(Health("c").dns_error(), "NAPTR carrier.test: timeout");
  EXPECT_EQ(Health("c").targets_size(), 2);
}

TEST_F(TrackerTargetsTest, AnUpdateForAnOldAddressIsIgnored) {
  StartResolved();
  TargetUpdate u;
  u.trunk_id = "c";
  u.host = "old.test";
  u.port = 5060;
  u.transport = v1::TRANSPORT_UDP;
  tracker_->SetTargets(u);
  EXPECT_EQ(Health("c").targets_size(), 2);
  EXPECT_EQ(State("c"), v1::HEALTH_STATE_UP);
}

TEST_F(TrackerTargetsTest, WithoutAResolverANameIsOneTargetTheTrunkItself) {
  Start(kCarrier);  // no SIP edge: dialers report outcomes for the trunk as a whole
  EXPECT_EQ(prober_.Count("c"), 1u);
  EXPECT_EQ(prober_.Last("c").address, "") << "probed by its name";
  ReportN(Final("c", 503), 3);
  EXPECT_EQ(State("c"), v1::HEALTH_STATE_DOWN);
  EXPECT_EQ(Health("c").detail(), "3 consecutive failures, last: 503");
  EXPECT_THAT(Health("c").targets(), IsEmpty());
}

}  // namespace
}  // namespace trunkroute::health::testing
