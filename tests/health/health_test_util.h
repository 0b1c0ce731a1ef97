#ifndef TRUNKROUTE_TESTS_HEALTH_HEALTH_TEST_UTIL_H_
#define TRUNKROUTE_TESTS_HEALTH_HEALTH_TEST_UTIL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "health/tracker.h"
#include "router/policy.h"
#include "router/routing_table.h"
#include "tests/support/simulated_clock.h"
#include "trunkroute/v1/config.pb.h"

namespace trunkroute::health::testing {

using trunkroute::testing::FakeRandom;
using trunkroute::testing::SimulatedClock;

inline std::shared_ptr<const router::RoutingTable> MustTable(const std::string& text) {
  v1::Config config;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &config)) << text;
  auto table = router::RoutingTable::Create(config);
  EXPECT_TRUE(table.ok()) << table.status();
  return table.ok() ? *table : nullptr;
}

// Records every probe the tracker asks for; the test answers them (or not).
class FakeProbeSender final : public ProbeSender {
 public:
  bool resolves_names = false;  // act as the SIP edge: host names' targets come by SetTargets
  bool ResolvesNames() const override { return resolves_names; }
  void SendProbe(const ProbeTarget& target) override {
    absl::MutexLock l(&mu_);
    sent_.push_back(target);
  }
  std::vector<ProbeTarget> Sent() const {
    absl::MutexLock l(&mu_);
    return sent_;
  }
  size_t Count(const std::string& trunk_id) const {
    absl::MutexLock l(&mu_);
    size_t n = 0;
    for (const ProbeTarget& t : sent_) n += t.trunk_id == trunk_id;
    return n;
  }
  // The most recent probe to `trunk_id`; probe_id 0 if none.
  ProbeTarget Last(const std::string& trunk_id) const {
    absl::MutexLock l(&mu_);
    for (auto it = sent_.rbegin(); it != sent_.rend(); ++it) {
      if (it->trunk_id == trunk_id) return *it;
    }
    return {};
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<ProbeTarget> sent_ ABSL_GUARDED_BY(mu_);
};

// Records observer calls as text lines, in the order received.
class RecordingObserver final : public HealthObserver {
 public:
  void OnStateChange(const HealthEvent& e) override {
    absl::MutexLock l(&mu_);
    events_.push_back(e);
    lines_.push_back(absl::StrCat("state ", e.health.trunk_id(), " ",
                                  v1::HealthState_Name(e.previous_state), "->",
                                  v1::HealthState_Name(e.health.state()), " ",
                                  v1::HealthReason_Name(e.health.reason())));
  }
  void OnOutcome(const AttemptOutcome& o, OutcomeClass c) override {
    absl::MutexLock l(&mu_);
    lines_.push_back(absl::StrCat("outcome ", o.trunk_id, " ", o.sip_status, " ",
                                  std::string(OutcomeClassName(c))));
  }
  void OnProbe(const ProbeResult& r, bool alive) override {
    absl::MutexLock l(&mu_);
    lines_.push_back(absl::StrCat("probe ", r.trunk_id, " ", alive ? "alive" : "dead"));
  }
  void OnTargetStateChange(const TargetEvent& e) override {
    absl::MutexLock l(&mu_);
    lines_.push_back(absl::StrCat("target ", e.trunk_id, " ", e.target, " ",
                                  v1::HealthState_Name(e.previous_state), "->",
                                  v1::HealthState_Name(e.state)));
  }
  std::vector<std::string> Lines() const {
    absl::MutexLock l(&mu_);
    return lines_;
  }
  std::vector<HealthEvent> Events() const {
    absl::MutexLock l(&mu_);
    return events_;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<std::string> lines_ ABSL_GUARDED_BY(mu_);
  std::vector<HealthEvent> events_ ABSL_GUARDED_BY(mu_);
};

// Outcome builders, named as the edge would describe them.
inline AttemptOutcome Final(const std::string& trunk, int status, uint32_t first_response_ms = 0) {
  AttemptOutcome o;
  o.trunk_id = trunk;
  o.sip_status = status;
  o.first_response_ms = first_response_ms;
  return o;
}
inline AttemptOutcome SilentTimeout(const std::string& trunk) {
  AttemptOutcome o;
  o.trunk_id = trunk;
  o.timed_out = true;
  return o;
}
inline AttemptOutcome RingNoAnswer(const std::string& trunk) {
  AttemptOutcome o = SilentTimeout(trunk);
  o.provisional_received = true;
  o.first_response_ms = 30;
  return o;
}
inline AttemptOutcome TransportError(const std::string& trunk) {
  AttemptOutcome o;
  o.trunk_id = trunk;
  o.transport_error = true;
  return o;
}
inline AttemptOutcome RetryAfter(const std::string& trunk, uint32_t seconds) {
  AttemptOutcome o = Final(trunk, 503);
  o.retry_after_s = seconds;
  return o;
}
inline AttemptOutcome AuthRejected(const std::string& trunk, int status, bool credentials_sent) {
  AttemptOutcome o = Final(trunk, status);
  o.credentials_sent = credentials_sent;
  return o;
}

// One tracker under simulated time. Run() moves time the way the timer thread would: stopping
// at every deadline the tracker announces and calling Tick() there.
class HealthTrackerTest : public ::testing::Test {
 protected:
  // `config` is a text-format v1::Config. Without `with_prober` no probes are sent at all.
  void Start(const std::string& config, bool with_prober = true) {
    tracker_ = std::make_unique<HealthTracker>(&clock_, &random_,
                                               with_prober ? &prober_ : nullptr);
    Apply(config);
  }
  void Apply(const std::string& config) {
    table_ = MustTable(config);
    ASSERT_NE(table_, nullptr);
    tracker_->ApplyTable(*table_);
  }

  OutcomeClass Report(const AttemptOutcome& o) { return tracker_->ReportOutcome(o, policy_); }
  void ReportN(const AttemptOutcome& o, int n) {
    for (int i = 0; i < n; ++i) Report(o);
  }

  // Answers the trunk's outstanding probe (the last one sent).
  void AnswerProbe(const std::string& trunk, int status, int64_t rtt_us = 2000) {
    ProbeResult r;
    r.trunk_id = trunk;
    r.probe_id = prober_.Last(trunk).probe_id;
    r.sip_status = status;
    r.rtt = microseconds(rtt_us);
    tracker_->ReportProbe(r);
  }

  void Run(int64_t ms) {
    const MonoTime end = clock_.Now() + milliseconds(ms);
    for (int guard = 0;; ++guard) {
      ASSERT_LT(guard, 1'000'000) << "NextDeadline() does not move forward";
      const MonoTime next = tracker_->NextDeadline();
      if (next > end) break;
      if (next > clock_.Now()) clock_.Advance(next - clock_.Now());
      tracker_->Tick();
    }
    if (end > clock_.Now()) clock_.Advance(end - clock_.Now());
    tracker_->Tick();
  }

  v1::HealthState State(const std::string& trunk) const {
    return tracker_->Availability(trunk).state;
  }
  v1::TrunkHealth Health(const std::string& trunk) const {
    v1::TrunkHealth h;
    EXPECT_TRUE(tracker_->Get(trunk, &h)) << trunk;
    return h;
  }
  // Milliseconds of hold-down left, from what ListTrunkHealth shows.
  int64_t HoldDownLeftMs(const std::string& trunk) const {
    return Health(trunk).down_until_unix_ms() - clock_.WallUnixMs();
  }

  SimulatedClock clock_;
  FakeRandom random_{0.0};
  FakeProbeSender prober_;
  router::EffectiveFailoverPolicy policy_ = router::DefaultFailoverPolicy();
  std::shared_ptr<const router::RoutingTable> table_;
  std::unique_ptr<HealthTracker> tracker_;
};

inline constexpr char kOneTrunk[] = R"pb(
  trunks { id: "a" host: "a.example.com" }
)pb";

// One trunk whose host is a name: with a prober that resolves names, its targets come from
// SetTargets (CarrierTargets).
inline constexpr char kCarrier[] = R"pb(
  health_policy { hold_down_jitter_pct: 0 ramp_up_ms: 0 }
  trunks { id: "c" host: "carrier.test" transport: TRANSPORT_UDP }
)pb";

inline TargetSpec Spec(const std::string& address, uint32_t port) {
  TargetSpec s;
  s.key = absl::StrCat(address, ":", port);
  s.address = address;
  s.port = port;
  s.transport = v1::TRANSPORT_UDP;
  return s;
}

// What the resolver reports for kCarrier's host name.
inline TargetUpdate CarrierTargets(std::vector<TargetSpec> targets,
                                   const std::string& error = "") {
  TargetUpdate u;
  u.trunk_id = "c";
  u.host = "carrier.test";
  u.port = 5060;
  u.transport = v1::TRANSPORT_UDP;
  u.targets = std::move(targets);
  u.error = error;
  return u;
}

// Two IP-literal trunks (one target each), no jitter and no ramp: exact hold-downs.
inline constexpr char kPrimaryBackup[] = R"pb(
  health_policy { hold_down_jitter_pct: 0 ramp_up_ms: 0 }
  trunks { id: "a" host: "192.0.2.1" transport: TRANSPORT_UDP }
  trunks { id: "b" host: "192.0.2.2" transport: TRANSPORT_UDP }
)pb";

inline constexpr char kTwoTrunks[] = R"pb(
  trunks { id: "a" host: "a.example.com" }
  trunks { id: "b" host: "b.example.com" }
)pb";

}  // namespace trunkroute::health::testing

#endif  // TRUNKROUTE_TESTS_HEALTH_HEALTH_TEST_UTIL_H_
