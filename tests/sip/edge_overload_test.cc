// Load shedding on the wire (docs/sip-edge.md, "Overload"): with edge.max_cps set low, SIPp
// dialing faster than the cap gets 503 with Retry-After at once for the excess, while the calls
// the edge admitted complete; and a retransmitted INVITE of an admitted call is absorbed by the
// stack's transaction layer, not taken for a new call.
#include <chrono>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/sip/edge_test_fixture.h"

namespace trunkroute::sip::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

// Slots 95–99 (see EdgeE2eTest::UseSlot).
class EdgeOverloadTest : public EdgeE2eTest {};

class RejectionCounter : public EdgeObserver {
 public:
  void OnRejected(int status, std::string_view reason) override {
    absl::MutexLock l(&mu_);
    seen_.push_back(std::to_string(status) + " " + std::string(reason));
  }
  int Count(const std::string& what) {
    absl::MutexLock l(&mu_);
    int n = 0;
    for (const std::string& s : seen_) n += s == what ? 1 : 0;
    return n;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> seen_ ABSL_GUARDED_BY(mu_);
};

TEST_F(EdgeOverloadTest, AboveMaxCpsTheExcessGets503WithRetryAfterAndAdmittedCallsComplete) {
  UseSlot(95);
  ConfigVars v;
  // 2 calls/s (bucket 2 deep) against a dialer at 40 calls/s: most of its 20 calls are excess,
  // however slowly a loaded machine runs SIPp.
  v.edge = R"("max_cps": 2, "retry_after_s": 7)";
  RejectionCounter observer;
  EdgeOptions options;
  options.observer = &observer;
  StartEdge(Config(v), options);
  constexpr int kCalls = 20;
  Sipp* primary = StartTrunk("primary", primary_port(), "uas_answer.xml", kCalls);
  Sipp* dialer = StartDialer("uac_call.xml", kCalls, /*rate=*/40, /*hold_ms=*/200);
  // uac_call.xml takes a final failure as a finished call: its exit code says nothing here.
  dialer->Wait(std::chrono::seconds(14));

  const std::string log = dialer->Log();
  const int completed = Count(log, "BYE;OK");
  const int shed = Count(log, "FINAL;503;SIP;cause=503;text=\"edge at max_cps\"");
  EXPECT_EQ(completed + shed, kCalls) << "every call either completes or is shed:\n" << log;
  EXPECT_GE(completed, 2) << "the bucket's depth at least gets through";
  EXPECT_GE(shed, 1) << log;
  // The trunk saw the admitted calls only: the shed ones were answered by the edge at once.
  EXPECT_EQ(Count(primary->Log(), "INV"), completed);
  EXPECT_EQ(counters().attempts.load(), static_cast<uint64_t>(completed));
  EXPECT_EQ(counters().calls_rejected.load(), static_cast<uint64_t>(shed));
  EXPECT_EQ(counters().calls_shed.load(), static_cast<uint64_t>(shed));
  EXPECT_EQ(observer.Count("503 rate_limit"), shed);
  EXPECT_EQ(observer.Count("503 overload"), 0) << "20 calls do not overload the edge";

  // Each 503 carries Retry-After (edge.retry_after_s) and nothing else was refused.
  const std::vector<SipMessage> seen = Trace(dialer);
  const std::vector<SipMessage> refusals = Responses(seen, /*received=*/true, "INVITE", 503);
  ASSERT_THAT(refusals, SizeIs(shed)) << Describe(seen);
  for (const SipMessage& r : refusals) {
    EXPECT_EQ(r.header("Retry-After"), "7") << r.Summary();
  }
  ExpectNoLeftovers();
}

TEST_F(EdgeOverloadTest, PerSourceCapShedsTheBusySource) {
  UseSlot(96);
  ConfigVars v;
  v.edge = R"("max_cps_per_source": 1)";
  StartEdge(Config(v));
  constexpr int kCalls = 10;
  Sipp* primary = StartTrunk("primary", primary_port(), "uas_answer.xml", kCalls);
  Sipp* dialer = StartDialer("uac_call.xml", kCalls, /*rate=*/40, /*hold_ms=*/100);
  dialer->Wait(std::chrono::seconds(14));
  const std::string log = dialer->Log();
  const int completed = Count(log, "BYE;OK");
  const int shed =
      Count(log, "FINAL;503;SIP;cause=503;text=\"source at max_cps_per_source\"");
  EXPECT_EQ(completed + shed, kCalls) << log;
  EXPECT_GE(shed, 1) << log;
  EXPECT_EQ(Count(primary->Log(), "INV"), completed);
  EXPECT_THAT(dialer->Messages(), HasSubstr("Retry-After: 1")) << "the default retry_after_s";
  ExpectNoLeftovers();
}

// RFC 3261 §17.2.1: a retransmitted INVITE matches the server transaction the first one made;
// Sofia's transaction layer answers it (with the last provisional) and the edge never sees it.
// With max_cps 1 a second "new call" would also be refused: it must not exist at all.
TEST_F(EdgeOverloadTest, RetransmittedInviteOfAnAdmittedCallIsNotANewCall) {
  UseSlot(97);
  ConfigVars v;
  v.edge = R"("max_cps": 1)";
  RejectionCounter observer;
  EdgeOptions options;
  options.observer = &observer;
  StartEdge(Config(v), options);
  Sipp* primary = StartTrunk("primary", primary_port(), "uas_slow_answer.xml");
  Sipp* dialer = RunDialer("uac_retransmit_invite.xml");
  EXPECT_THAT(dialer->Log(), HasSubstr("BYE;OK")) << dialer->Messages();

  // SIPp takes each 100 the edge re-sends for a retransmission as a retransmitted 100 and sends
  // its INVITE again, until the 180: many retransmissions, all of one transaction.
  const std::vector<SipMessage> sent = Requests(Trace(dialer), /*received=*/false, "INVITE");
  ASSERT_GE(sent.size(), 2u) << "the dialer must really have sent its INVITE again:\n"
                             << Describe(Trace(dialer));
  for (const SipMessage& again : sent) {
    EXPECT_EQ(again.header("Via"), sent[0].header("Via")) << "same branch: a retransmission";
    EXPECT_EQ(again.header("Call-ID"), sent[0].header("Call-ID"));
    EXPECT_EQ(again.cseq(), sent[0].cseq());
  }
  EXPECT_EQ(counters().invites_received.load(), 1u);
  EXPECT_EQ(counters().calls_rejected.load(), 0u);
  EXPECT_EQ(observer.Count("503 rate_limit"), 0);
  EXPECT_EQ(Count(primary->Log(), "INV"), 1);
  EXPECT_EQ(counters().attempts.load(), 1u);
  ExpectNoLeftovers();
}

// An edge whose detector always says "overloaded" (lag_on 0: any loop lag, even none, is over).
EdgeOptions AlwaysOverloaded(EdgeObserver* observer) {
  EdgeOptions options;
  options.observer = observer;
  options.overload.lag_on = std::chrono::nanoseconds(0);
  options.overload.lag_off = std::chrono::nanoseconds(-1);
  // ... and admits no new call at all (the admitted fraction cut to 0 at the onset).
  options.overload.admit_decrease = 0;
  options.overload.admit_min = 0;
  return options;
}

// While shedding, a new INVITE is refused in nta's default-leg callback (EdgeCore::
// OnStackRequest), before nua makes a handle or an event of it: 503, Retry-After, the Reason,
// our To tag, counted as shed like any refusal; no trunk sees it, no handle is left.
TEST_F(EdgeOverloadTest, WhileOverloadedNewCallsAreRefusedInTheStackWith503AndRetryAfter) {
  UseSlot(98);
  ConfigVars v;
  v.edge = R"("shed_on_overload": true, "retry_after_s": 9)";
  RejectionCounter observer;
  StartEdge(Config(v), AlwaysOverloaded(&observer));
  ASSERT_TRUE(counters().stack_shedding.load()) << "Sofia's default leg was not nua's";
  ASSERT_TRUE(Eventually([&] { return counters().overloaded.load(); }));
  constexpr int kCalls = 10;
  Sipp* primary = StartTrunk("primary", primary_port(), "uas_answer.xml", kCalls);
  Sipp* dialer = StartDialer("uac_call.xml", kCalls, /*rate=*/20, /*hold_ms=*/100);
  dialer->Wait(std::chrono::seconds(14));

  const std::string log = dialer->Log();
  EXPECT_EQ(Count(log, "FINAL;503;SIP;cause=503;text=\"edge overloaded\""), kCalls) << log;
  EXPECT_EQ(Count(primary->Log(), "INV"), 0);
  EXPECT_EQ(counters().invites_received.load(), static_cast<uint64_t>(kCalls));
  EXPECT_EQ(counters().calls_shed_in_stack.load(), static_cast<uint64_t>(kCalls));
  EXPECT_EQ(counters().calls_shed.load(), static_cast<uint64_t>(kCalls));
  EXPECT_EQ(counters().calls_rejected.load(), static_cast<uint64_t>(kCalls));
  EXPECT_EQ(counters().attempts.load(), 0u);
  EXPECT_EQ(observer.Count("503 overload"), kCalls);

  const std::vector<SipMessage> seen = Trace(dialer);
  const std::vector<SipMessage> refusals = Responses(seen, /*received=*/true, "INVITE", 503);
  ASSERT_THAT(refusals, SizeIs(kCalls)) << Describe(seen);
  for (const SipMessage& r : refusals) {
    EXPECT_EQ(r.header("Retry-After"), "9") << r.Summary();
    EXPECT_EQ(r.header("Reason"), "SIP;cause=503;text=\"edge overloaded\"") << r.Summary();
    EXPECT_THAT(r.header("To"), HasSubstr(";tag=")) << r.Summary();
  }
  ExpectNoLeftovers();
}

// Overloaded with the admitted fraction held at one half: every other new call is refused in nta,
// the others go through nua to the trunk and complete (the detector refuses the excess, not
// every call while overloaded).
TEST_F(EdgeOverloadTest, WhileOverloadedTheAdmittedFractionOfNewCallsCompletes) {
  UseSlot(108);
  ConfigVars v;
  v.edge = R"("shed_on_overload": true)";
  RejectionCounter observer;
  EdgeOptions options = AlwaysOverloaded(&observer);
  options.overload.admit_decrease = 0.5;
  options.overload.admit_min = 0.5;
  StartEdge(Config(v), options);
  ASSERT_TRUE(Eventually([&] { return counters().overloaded.load(); }));
  ASSERT_TRUE(counters().stack_shedding.load()) << "Sofia's default leg was not nua's";
  constexpr int kCalls = 10;
  Sipp* primary = StartTrunk("primary", primary_port(), "uas_answer.xml", kCalls / 2);
  Sipp* dialer = StartDialer("uac_call.xml", kCalls, /*rate=*/20, /*hold_ms=*/100);
  dialer->Wait(std::chrono::seconds(14));
  const std::string log = dialer->Log();
  EXPECT_EQ(Count(log, "FINAL;503;SIP;cause=503;text=\"edge overloaded\""), kCalls / 2) << log;
  EXPECT_EQ(Count(log, "BYE;OK"), kCalls / 2) << log;
  EXPECT_EQ(Count(primary->Log(), "INV"), kCalls / 2);
  EXPECT_EQ(counters().calls_shed_in_stack.load(), static_cast<uint64_t>(kCalls / 2));
  EXPECT_EQ(counters().admit_permille.load(), 500u);
  EXPECT_EQ(observer.Count("503 overload"), kCalls / 2);
  ExpectNoLeftovers();
}

// The same detector without edge.shed_on_overload: the callback hands every INVITE to nua and
// the calls complete (the detector only reports).
TEST_F(EdgeOverloadTest, OverloadedWithoutShedOnOverloadCallsStillComplete) {
  UseSlot(99);
  RejectionCounter observer;
  StartEdge(Config(ConfigVars{}), AlwaysOverloaded(&observer));
  ASSERT_TRUE(Eventually([&] { return counters().overloaded.load(); }));
  constexpr int kCalls = 5;
  Sipp* primary = StartTrunk("primary", primary_port(), "uas_answer.xml", kCalls);
  Sipp* dialer = StartDialer("uac_call.xml", kCalls, /*rate=*/20, /*hold_ms=*/100);
  dialer->Wait(std::chrono::seconds(14));
  EXPECT_EQ(Count(dialer->Log(), "BYE;OK"), kCalls) << dialer->Log();
  EXPECT_EQ(Count(primary->Log(), "INV"), kCalls);
  EXPECT_EQ(counters().calls_shed_in_stack.load(), 0u);
  EXPECT_EQ(counters().calls_rejected.load(), 0u);
  EXPECT_EQ(observer.Count("503 overload"), 0);
  ExpectNoLeftovers();
}

}  // namespace
}  // namespace trunkroute::sip::testing
