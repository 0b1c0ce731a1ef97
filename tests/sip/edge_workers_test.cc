// Several SIP workers (docs/sip-edge.md "Workers"): each a Sofia stack on its own thread with its
// own port, all receiving new calls on the shared listen port. On the wire: calls to many numbers
// spread over the workers and complete; each call's requests to the trunk name its worker's port
// (so responses and in-dialog requests return to the stack that has the call); a CANCEL reaches
// the worker that holds its INVITE; per-trunk limits count the calls of every worker.
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/sip/edge_test_fixture.h"

namespace trunkroute::sip::testing {
namespace {

using ::testing::HasSubstr;

// Slots 23–26 (see EdgeE2eTest::UseSlot).
class EdgeWorkersTest : public EdgeE2eTest {
 protected:
  int worker_port(int k) const { return base_ + 5 + k; }

  EdgeOptions TwoWorkers() const {
    EdgeOptions o;
    o.workers = 2;
    o.worker_port_base = static_cast<uint32_t>(worker_port(0));
    return o;
  }

  // `scenario` (tests/sip/scenarios) with the dialled number made [service][call_number]: every
  // call of the dialer goes to a number of its own.
  std::string NumberedScenario(const std::string& scenario) {
    std::ifstream in(Scenario(scenario));
    std::stringstream text;
    text << in.rdbuf();
    const std::string numbered =
        absl::StrReplaceAll(text.str(), {{"sip:[service]@", "sip:[service][call_number]@"}});
    const std::string path = absl::StrCat(dir_, "/numbered_", scenario);
    std::ofstream(path) << numbered;
    return path;
  }

  Sipp* DialNumbered(const std::string& scenario, int calls, int rate) {
    std::vector<std::string> args = {absl::StrCat("127.0.0.1:", edge_port()),
                                     "-sf", NumberedScenario(scenario),
                                     "-i", "127.0.0.1",
                                     "-p", std::to_string(dialer_port()),
                                     "-mp", std::to_string(media_port(5)),
                                     "-m", std::to_string(calls),
                                     "-r", std::to_string(rate),
                                     "-s", "+1555123",
                                     "-d", "100",
                                     "-timeout", "15s",
                                     "-key", "max_forwards", "70"};
    sipps_.push_back(Sipp::Start("dialer", dir_, args));
    return sipps_.back().get();
  }

  // The port in the top Via of each INVITE the trunk received.
  static std::map<int, int> InvitesByViaPort(const Sipp* trunk) {
    std::map<int, int> by_port;
    for (const SipMessage& m : Requests(Trace(trunk), /*received=*/true, "INVITE")) {
      const std::string via = m.header("Via");
      const size_t colon = via.find(':', via.find(' '));
      by_port[colon == std::string::npos ? 0 : std::atoi(via.c_str() + colon + 1)]++;
    }
    return by_port;
  }
};

TEST_F(EdgeWorkersTest, CallsToManyNumbersSpreadOverTheWorkersAndComplete) {
  UseSlot(23);
  StartEdge(Config(), TwoWorkers());
  constexpr int kCalls = 24;
  Sipp* primary = StartTrunk("primary", primary_port(), "uas_answer.xml", kCalls);
  Sipp* dialer = DialNumbered("uac_call.xml", kCalls, 20);
  ASSERT_EQ(dialer->Wait(std::chrono::seconds(20)), 0) << dialer->Messages();
  EXPECT_EQ(Count(dialer->Log(), "BYE;OK"), kCalls) << dialer->Log();
  EXPECT_EQ(primary->Wait(std::chrono::seconds(5)), 0) << primary->Messages();

  // Each worker sent its calls from its own port, which the trunk answers and calls back to.
  const std::map<int, int> by_port = InvitesByViaPort(primary);
  ASSERT_EQ(by_port.size(), 2u) << Describe(Trace(primary));
  EXPECT_EQ(by_port.begin()->first, worker_port(0));
  EXPECT_EQ(by_port.rbegin()->first, worker_port(1));
  EXPECT_EQ(by_port.begin()->second + by_port.rbegin()->second, kCalls);
  for (const SipMessage& m : Requests(Trace(primary), /*received=*/true, "INVITE")) {
    const std::string via = m.header("Via");
    const std::string contact = m.header("Contact");
    const std::string port = via.substr(via.find(':', via.find(' ')) + 1, 5);
    EXPECT_THAT(contact, HasSubstr(absl::StrCat(":", port))) << "Via " << via;
  }
  // The caller's leg: our Contact is the worker's port, never the shared one.
  for (const SipMessage& m : Responses(Trace(dialer), /*received=*/true, "INVITE", 200)) {
    const std::string contact = m.header("Contact");
    EXPECT_TRUE(contact.find(absl::StrCat(":", worker_port(0))) != std::string::npos ||
                contact.find(absl::StrCat(":", worker_port(1))) != std::string::npos)
        << contact;
  }
  EXPECT_EQ(counters().calls_answered.load(), static_cast<uint64_t>(kCalls));
  EXPECT_EQ(counters().invites_received.load(), static_cast<uint64_t>(kCalls));
  ExpectNoLeftovers();
}

TEST_F(EdgeWorkersTest, CancelReachesTheWorkerThatHoldsTheCall) {
  UseSlot(24);
  StartEdge(Config(), TwoWorkers());
  constexpr int kCalls = 10;
  Sipp* primary = StartTrunk("primary", primary_port(), "uas_ring_cancel.xml", kCalls);
  Sipp* dialer = DialNumbered("uac_cancel.xml", kCalls, 10);
  ASSERT_EQ(dialer->Wait(std::chrono::seconds(20)), 0) << dialer->Messages();
  EXPECT_EQ(Count(dialer->Log(), "FINAL;487;"), kCalls) << dialer->Log();
  EXPECT_EQ(primary->Wait(std::chrono::seconds(5)), 0) << primary->Messages();
  EXPECT_EQ(Count(primary->Log(), "CANCELED"), kCalls) << primary->Log();
  // Both workers had calls, so both had CANCELs to match.
  EXPECT_EQ(InvitesByViaPort(primary).size(), 2u) << Describe(Trace(primary));
  ExpectNoLeftovers();
}

TEST_F(EdgeWorkersTest, ATrunksCallLimitCountsTheCallsOfEveryWorker) {
  UseSlot(25);
  ConfigVars v;
  v.primary_extra = R"(, "max_concurrent_calls": 1)";
  StartEdge(Config(v), TwoWorkers());
  // Ringing calls hold the primary's one slot until the dialer CANCELs them (200 ms after 180),
  // so calls placed 20 ms apart overlap: whichever worker has one, the other's next call must
  // see the primary full and go to the backup.
  constexpr int kCalls = 10;
  Sipp* primary = StartTrunk("primary", primary_port(), "uas_ring_cancel.xml", kCalls);
  Sipp* backup = StartTrunk("backup", backup_port(), "uas_ring_cancel.xml", kCalls);
  Sipp* dialer = DialNumbered("uac_cancel.xml", kCalls, 50);
  ASSERT_EQ(dialer->Wait(std::chrono::seconds(20)), 0) << dialer->Messages();
  primary->Kill();
  backup->Kill();
  const std::map<int, int> primary_by_port = InvitesByViaPort(primary);
  const std::map<int, int> backup_by_port = InvitesByViaPort(backup);
  int on_primary = 0;
  for (const auto& [port, n] : primary_by_port) on_primary += n;
  int on_backup = 0;
  for (const auto& [port, n] : backup_by_port) on_backup += n;
  EXPECT_EQ(on_primary + on_backup, kCalls);
  EXPECT_GT(on_backup, 0) << "the primary took every call";
  // Never two calls on the primary at once: each INVITE it got came after the previous call's
  // CANCEL (the trunk's trace is in order).
  int open = 0;
  int most = 0;
  for (const SipMessage& m : ParseSippTrace(primary->Messages())) {
    if (!m.received || !m.is_request()) continue;
    if (m.method() == "INVITE") most = std::max(most, ++open);
    if (m.method() == "CANCEL") --open;
  }
  EXPECT_EQ(most, 1) << Describe(Trace(primary));
  ExpectNoLeftovers();
}

TEST_F(EdgeWorkersTest, BadWorkerOptionsAreRefusedNamingTheOption) {
  UseSlot(26);  // binds nothing
  EdgeOptions o = TwoWorkers();
  o.listen = absl::StrCat("127.0.0.1:", edge_port());
  o.worker_port_base = static_cast<uint32_t>(edge_port());  // worker 0 on the listen port
  auto h = EdgeHarness::Start(Config(), o);
  ASSERT_FALSE(h.ok());
  EXPECT_THAT(h.status().message(), HasSubstr("sip worker ports"));
  o = TwoWorkers();
  o.listen = absl::StrCat("127.0.0.1:", edge_port());
  o.tls_listen = absl::StrCat("127.0.0.1:", edge_port() + 4);
  h = EdgeHarness::Start(Config(), o);
  ASSERT_FALSE(h.ok());
  EXPECT_THAT(h.status().message(), HasSubstr("sip workers"));
  // Worker 1's own port taken: the error names it.
  const int blocker = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(worker_port(1)));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(blocker, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  o = TwoWorkers();
  o.listen = absl::StrCat("127.0.0.1:", edge_port());
  h = EdgeHarness::Start(Config(), o);
  close(blocker);
  ASSERT_FALSE(h.ok());
  EXPECT_THAT(h.status().message(),
              HasSubstr(absl::StrCat("udp 127.0.0.1:", worker_port(1), " (sip worker 1's own port)")));
  o = TwoWorkers();
  o.workers = 0;
  h = EdgeHarness::Start(Config(), o);
  ASSERT_FALSE(h.ok());
  EXPECT_THAT(h.status().message(), HasSubstr("sip workers: 0"));
}

}  // namespace
}  // namespace trunkroute::sip::testing
