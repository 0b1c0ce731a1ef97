// Chaos at the SIP edge (issue 13, docs/testing.md "Chaos"): what carriers do to an edge in
// production, each asserted on the calls (none lost while a backup can take them) and on the
// trunk's health (how it was ejected, held down and let back). Real peers only: SIPp trunks and
// dialers on 127.0.0.1, frozen with SIGSTOP where a trunk must go silent, a TCP server that
// accepts and never reads, the real trunkrouted binary for the SIGTERM test. Health timers are
// shortened in the config; every wait polls with a bounded deadline. Port slots 102-107.
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/sip/edge_test_fixture.h"
#include "tests/support/trunkrouted_process.h"

namespace trunkroute::sip::testing {
namespace {

using ::testing::HasSubstr;

// The primary's state changes, as the health tracker's observers see them.
class StateLog : public health::HealthObserver {
 public:
  explicit StateLog(std::string trunk) : trunk_(std::move(trunk)) {}
  void OnStateChange(const health::HealthEvent& e) override {
    if (e.health.trunk_id() != trunk_) return;
    absl::MutexLock l(&mu_);
    events_.push_back(e.health);
  }
  std::vector<v1::TrunkHealth> events() {
    absl::MutexLock l(&mu_);
    return events_;
  }
  std::vector<v1::TrunkHealth> downs() {
    std::vector<v1::TrunkHealth> out;
    for (const auto& e : events()) {
      if (e.state() == v1::HEALTH_STATE_DOWN) out.push_back(e);
    }
    return out;
  }

 private:
  const std::string trunk_;
  absl::Mutex mu_;
  std::vector<v1::TrunkHealth> events_ ABSL_GUARDED_BY(mu_);
};

// Routing decisions by result ("routed", "panic", ...), from the edge's metrics hooks.
class DecisionLog : public EdgeObserver {
 public:
  void OnDecision(std::string_view, std::string_view result, Duration) override {
    absl::MutexLock l(&mu_);
    results_.emplace_back(result);
  }
  int Count(const std::string& result) {
    absl::MutexLock l(&mu_);
    int n = 0;
    for (const auto& r : results_) n += r == result;
    return n;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> results_ ABSL_GUARDED_BY(mu_);
};

class EdgeChaosTest : public EdgeE2eTest {
 protected:
  // A SIPp peer on `port` running `scenario` for at most `timeout_s` (no call limit).
  Sipp* StartPeer(const std::string& name, int port, const std::string& scenario, int timeout_s,
                  std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"-sf",      Scenario(scenario),
                                     "-i",       "127.0.0.1",
                                     "-p",       std::to_string(port),
                                     "-mp",      std::to_string(media_port(static_cast<int>(sipps_.size()))),
                                     "-timeout", absl::StrCat(timeout_s, "s")};
    args.insert(args.end(), extra.begin(), extra.end());
    sipps_.push_back(Sipp::Start(name, dir_, args));
    EXPECT_TRUE(WaitUdpBound(port, std::chrono::seconds(5))) << name << " did not bind " << port;
    return sipps_.back().get();
  }

  // A dialer placing `calls` calls at `rate`/s to `number`, each held `hold_ms`.
  Sipp* Dial(const std::string& name, int port, const std::string& scenario, int calls, int rate,
             int hold_ms, int timeout_s, const std::string& number = "+15551234567") {
    std::vector<std::string> args = {absl::StrCat("127.0.0.1:", edge_port()),
                                     "-sf", Scenario(scenario),
                                     "-i", "127.0.0.1",
                                     "-p", std::to_string(port),
                                     "-mp", std::to_string(media_port(static_cast<int>(sipps_.size()))),
                                     "-m", std::to_string(calls),
                                     "-r", std::to_string(rate),
                                     "-s", number,
                                     "-d", std::to_string(hold_ms),
                                     "-timeout", absl::StrCat(timeout_s, "s"),
                                     "-key", "max_forwards", "70"};
    sipps_.push_back(Sipp::Start(name, dir_, args));
    return sipps_.back().get();
  }

  std::shared_ptr<StateLog> WatchPrimary() {
    auto log = std::make_shared<StateLog>("primary");
    harness_->health().AddObserver(log);
    return log;
  }

  v1::TrunkHealth Health(const std::string& trunk) {
    v1::TrunkHealth h;
    EXPECT_TRUE(harness_->health().Get(trunk, &h)) << trunk;
    return h;
  }

  // Nothing of any call left open at the edge. Bounded by Sofia's longest transaction timer
  // (32 s, docs/sip-edge.md "Memory") plus a margin, not the fixture's 5 s: a trunk that was
  // frozen may leave an INVITE without any response (no CANCEL is allowed) or a BYE unanswered
  // until its transaction times out.
  void ExpectNothingLeft() {
    const EdgeCounters& c = harness_->edge().counters();
    EXPECT_TRUE(Eventually([&] {
      return c.active_calls.load() == 0 && c.open_handles.load() == 0;
    }, std::chrono::seconds(40)))
        << "active_calls=" << c.active_calls.load() << " open_handles=" << c.open_handles.load();
  }

  static int64_t HoldMs(const v1::TrunkHealth& down) {
    return down.down_until_unix_ms() - down.since_unix_ms();
  }
};

// Up 2 s, silent 2 s, for 30 s (the issue's minute, halved: the property is reached within the
// first 20 s). The hold-down base is 2 s, as long as one up phase. No call may be lost, the trunk
// must not change state with every call, and each ejection must follow the hold-down rule: twice
// the previous one, unless the trunk stayed UP as long as it was last held down (the edge may
// see it UP a little longer than the 2 s it answers, until the probes notice the freeze).
TEST_F(EdgeChaosTest, FlappingTrunkIsHeldDownLongerEachTimeAndNoCallIsLost) {
  UseSlot(102);
  ConfigVars v;
  v.health = R"("probes_enabled": true, "hold_down_base_ms": 2000, "hold_down_jitter_pct": 0,
                "probe_interval_up_ms": 1000, "probe_interval_down_ms": 1000,
                "probe_timeout_ms": 500)";
  // Peers first: the edge probes every trunk as soon as it starts.
  Sipp* primary = StartPeer("primary", primary_port(), "uas_answer.xml", 90);
  StartPeer("backup", backup_port(), "uas_answer.xml", 90);
  StartEdge(Config(v));
  auto states = WatchPrimary();
  constexpr int kCalls = 300;  // 10/s for 30 s
  Sipp* dialer = Dial("dialer", dialer_port(), "uac_call.xml", kCalls, 10, 100, 80);

  // The flapping itself (the drive, not an assertion): 2 s answering, 2 s frozen.
  const auto start = std::chrono::steady_clock::now();
  bool frozen = false;
  while (std::chrono::steady_clock::now() - start < std::chrono::seconds(30)) {
    std::this_thread::sleep_for(std::chrono::seconds(2));
    primary->Signal(frozen ? SIGCONT : SIGSTOP);
    frozen = !frozen;
  }
  primary->Signal(SIGCONT);
  EXPECT_EQ(dialer->Wait(std::chrono::seconds(45)), 0) << dialer->Output();

  const std::string log = dialer->Log();
  EXPECT_EQ(Count(log, "ANSWERED;"), kCalls) << "no call may be lost: the backup was always up";
  EXPECT_EQ(Count(log, "FINAL;"), 0) << log.substr(0, 2000);

  const std::vector<v1::TrunkHealth> downs = states->downs();
  ASSERT_GE(downs.size(), 3u) << "the flapping trunk must be ejected again and again";
  EXPECT_LE(downs.size(), 8u) << "it must not change state with every call";
  // docs/health.md: each ejection doubles the previous hold-down, unless the trunk stayed UP at
  // least as long as it was last held down (then it starts over from the base). How long the
  // edge sees the trunk UP depends on when the probes notice the freeze (up to ~1.5 s after it),
  // so the test reads the UP time before each ejection from the transitions themselves.
  const std::vector<v1::TrunkHealth> events = states->events();
  int64_t longest_hold = 0;
  int doublings = 0;
  for (size_t i = 1; i < downs.size(); ++i) {
    // The last UP transition before this ejection; none after the previous ejection means the
    // trunk was ejected again from PROBING, without recovering in between.
    int64_t up_since = -1;
    for (const auto& e : events) {
      if (e.since_unix_ms() > downs[i].since_unix_ms()) break;
      if (e.state() == v1::HEALTH_STATE_UP) up_since = e.since_unix_ms();
    }
    const bool was_up = up_since > downs[i - 1].since_unix_ms();
    const int64_t up_ms = was_up ? downs[i].since_unix_ms() - up_since : 0;
    const std::string what = absl::StrCat(
        "ejection ", i, ": hold-down ", HoldMs(downs[i]), " ms after ", HoldMs(downs[i - 1]),
        " ms, UP for ", up_ms, " ms before it (reason ",
        v1::HealthReason_Name(downs[i].reason()), ")");
    if (up_ms >= HoldMs(downs[i - 1])) {
      EXPECT_EQ(HoldMs(downs[i]), 2000) << what << ": it stayed UP long enough to start over";
    } else {
      EXPECT_GE(HoldMs(downs[i]), 2 * HoldMs(downs[i - 1]) - 10) << what;
      ++doublings;
    }
    longest_hold = std::max(longest_hold, HoldMs(downs[i]));
  }
  EXPECT_GE(doublings, 1) << "a trunk flapping faster than its hold-down must be held longer";
  EXPECT_GE(longest_hold, 4000) << "the hold-down must grow while the trunk keeps flapping";
  EXPECT_EQ(downs.back().ejection_count(), downs.size());
  EXPECT_LT(Count(primary->Log(), "INV"), kCalls / 3)
      << "held down, the flapping trunk gets only a small share of the calls";
  ExpectNothingLeft();
}

// Half the calls get 503 Retry-After: 5. Each such 503 holds the trunk exactly 5 s (no jitter,
// no doubling), the call goes on to the backup at once, and while held the trunk gets no call:
// so the trunk sends exactly one 503 per ejection.
TEST_F(EdgeChaosTest, RetryAfterOnHalfTheCallsHoldsTheTrunkFiveSecondsEachTime) {
  UseSlot(103);
  ConfigVars v;
  v.health = R"("probes_enabled": true, "probe_interval_up_ms": 1000,
                "probe_interval_down_ms": 200, "probe_timeout_ms": 300, "ramp_up_ms": 500)";
  Sipp* primary = StartPeer("primary", primary_port(), "uas_503_retry_after_half.xml", 60);
  StartPeer("backup", backup_port(), "uas_answer.xml", 60);
  StartEdge(Config(v));
  auto states = WatchPrimary();
  constexpr int kCalls = 150;  // 10/s for 15 s
  Sipp* dialer = Dial("dialer", dialer_port(), "uac_call.xml", kCalls, 10, 100, 50);
  EXPECT_EQ(dialer->Wait(std::chrono::seconds(40)), 0) << dialer->Output();

  const std::string log = dialer->Log();
  EXPECT_EQ(Count(log, "ANSWERED;"), kCalls);
  EXPECT_EQ(Count(log, "FINAL;"), 0) << log.substr(0, 2000);
  const std::vector<v1::TrunkHealth> downs = states->downs();
  ASSERT_GE(downs.size(), 2u) << "a trunk back from a Retry-After hold refuses again";
  for (const v1::TrunkHealth& d : downs) {
    EXPECT_EQ(d.reason(), v1::HEALTH_REASON_RETRY_AFTER) << d.detail();
    EXPECT_NEAR(HoldMs(d), 5000, 5) << "exactly Retry-After, no jitter, no doubling";
  }
  for (size_t i = 1; i < downs.size(); ++i) {
    EXPECT_GE(downs[i].since_unix_ms() - downs[i - 1].since_unix_ms(), 5000)
        << "no call reached the trunk while it was held";
  }
  EXPECT_EQ(Count(primary->Log(), "R503"), static_cast<int>(downs.size()))
      << "one 503 per ejection: the trunk got no call while held";
  EXPECT_GT(Count(primary->Log(), "INV"), 0) << "between holds it answers its share";
  ExpectNothingLeft();
}

// A TCP "trunk" that accepts connections and never reads from them (a half-open carrier: the
// kernel takes the bytes, nobody answers). Calls must fail over by our setup timer, the trunk
// must go DOWN, and the edge must stay responsive with nothing left up.
TEST_F(EdgeChaosTest, HalfOpenTcpTrunkIsAbandonedByTheSetupTimerAndEjected) {
  UseSlot(104);
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  int one = 1;
  ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  int small = 4096;  // inherited by the accepted sockets: fills up after a few INVITEs
  ::setsockopt(listener, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(primary_port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0)
      << "port " << primary_port();
  ASSERT_EQ(::listen(listener, 16), 0);
  ::fcntl(listener, F_SETFL, O_NONBLOCK);
  std::atomic<bool> stop{false};
  absl::Mutex mu;
  std::vector<int> accepted;  // guarded by mu; never read from, closed at the end
  std::thread acceptor([&] {
    while (!stop.load()) {
      int fd = ::accept(listener, nullptr, nullptr);
      if (fd >= 0) {
        absl::MutexLock l(&mu);
        accepted.push_back(fd);
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
  });
  auto close_all = [&] {
    stop.store(true);
    acceptor.join();
    absl::MutexLock l(&mu);
    for (int fd : accepted) ::close(fd);
    ::close(listener);
  };

  ConfigVars v;
  v.health = R"("probes_enabled": true, "probe_interval_up_ms": 1000,
                "probe_interval_down_ms": 500, "probe_timeout_ms": 300)";
  std::string config = absl::StrReplaceAll(
      Config(v), {{absl::StrCat("\"port\": ", primary_port(), ", \"transport\": \"TRANSPORT_UDP\""),
                   absl::StrCat("\"port\": ", primary_port(), ", \"transport\": \"TRANSPORT_TCP\"")}});
  StartPeer("backup", backup_port(), "uas_answer.xml", 60);
  StartEdge(config);
  auto states = WatchPrimary();
  constexpr int kCalls = 40;  // 5/s for 8 s
  Sipp* dialer = Dial("dialer", dialer_port(), "uac_call.xml", kCalls, 5, 100, 40);
  EXPECT_EQ(dialer->Wait(std::chrono::seconds(30)), 0) << dialer->Output();

  const std::string log = dialer->Log();
  EXPECT_EQ(Count(log, "ANSWERED;"), kCalls);
  EXPECT_EQ(Count(log, "FINAL;"), 0) << log.substr(0, 2000);
  {
    absl::MutexLock l(&mu);
    ASSERT_FALSE(accepted.empty()) << "the edge never connected to the half-open trunk";
    int unread = 0;
    ::ioctl(accepted.front(), FIONREAD, &unread);
    EXPECT_GT(unread, 0) << "the edge's requests sit unread in the trunk's socket";
  }
  EXPECT_FALSE(states->downs().empty()) << "the half-open trunk must be ejected";
  EXPECT_NE(Health("primary").state(), v1::HEALTH_STATE_UP);
  ExpectNothingLeft();
  // Still responsive: one more call, straight to the backup.
  Sipp* after = RunDialer("uac_call.xml");
  EXPECT_THAT(after->Log(), HasSubstr("ANSWERED;"));
  close_all();
}

// A trunk that says nothing for 900 ms and then rings and answers, with a 1000 ms setup timeout:
// every call must be answered there, never failed over, however the adaptive attempt timeout
// learns from the 900 ms samples.
TEST_F(EdgeChaosTest, TrunkAnsweringAfter900msWithA1000msSetupTimeoutIsNeverFailedOver) {
  UseSlot(105);
  ConfigVars v;
  v.health = R"("probes_enabled": false)";
  Sipp* primary = StartPeer("primary", primary_port(), "uas_answer_after_900ms.xml", 60);
  Sipp* backup = StartPeer("backup", backup_port(), "uas_answer.xml", 60);
  StartEdge(absl::StrReplaceAll(Config(v), {{"\"setup_timeout_ms\": 500", "\"setup_timeout_ms\": 1000"}}));
  constexpr int kCalls = 30;  // 2/s for 15 s: each call learns from the ones before
  Sipp* dialer = Dial("dialer", dialer_port(), "uac_call.xml", kCalls, 2, 100, 50);
  EXPECT_EQ(dialer->Wait(std::chrono::seconds(40)), 0) << dialer->Output();

  const std::string log = dialer->Log();
  EXPECT_EQ(Count(log, "ANSWERED;"), kCalls);
  EXPECT_EQ(Count(log, "FINAL;"), 0) << log.substr(0, 2000);
  EXPECT_EQ(Count(primary->Log(), "INV"), kCalls);
  EXPECT_EQ(Count(backup->Log(), "INV"), 0) << "no call may be failed over to the backup";
  EXPECT_EQ(counters().failovers.load(), 0u);
  const v1::TrunkHealth h = Health("primary");
  EXPECT_EQ(h.state(), v1::HEALTH_STATE_UP);
  EXPECT_EQ(h.consecutive_failures(), 0u);
  ExpectNothingLeft();
}

// Every trunk of the route down at once (nothing listens: refused, ejected at once), then back
// one by one. While all are DOWN the edge panics: it still offers every call to every trunk in
// order (a caller gets the most telling failure only when none can take it). The backup comes
// back: calls are answered again, first in panic, then normally once it is UP. Then the
// primary: UP again, it ramps (a share of the calls growing to all of them), not all at once.
TEST_F(EdgeChaosTest, AllTrunksDownPanicsThenTheyComeBackOneByOneAndRampUp) {
  UseSlot(106);
  DecisionLog decisions;
  ConfigVars v;
  v.health = R"("probes_enabled": true, "hold_down_base_ms": 500, "hold_down_max_ms": 2000,
                "hold_down_jitter_pct": 0, "probe_interval_up_ms": 1000,
                "probe_interval_down_ms": 200, "probe_timeout_ms": 300, "ramp_up_ms": 3000)";
  EdgeOptions options;
  options.observer = &decisions;
  StartEdge(Config(v), options);

  // 1. Both down: every call is tried on both, in panic, and fails.
  Sipp* down = Dial("dialer-down", dialer_port(), "uac_call.xml", 6, 5, 100, 20);
  EXPECT_EQ(down->Wait(std::chrono::seconds(15)), 0) << down->Output();
  EXPECT_EQ(Count(down->Log(), "FINAL;503;"), 6) << down->Log();
  EXPECT_GE(decisions.Count("panic"), 5) << "all trunks DOWN: every call still offered to them";
  EXPECT_EQ(Health("primary").state() == v1::HEALTH_STATE_UP, false);
  EXPECT_EQ(Health("backup").state() == v1::HEALTH_STATE_UP, false);

  // 2. The backup comes back: probes let it in; calls are answered.
  Sipp* backup = StartPeer("backup", backup_port(), "uas_answer.xml", 60);
  ASSERT_TRUE(Eventually([&] { return Health("backup").state() == v1::HEALTH_STATE_UP; },
                         std::chrono::seconds(15)))
      << Health("backup").DebugString();
  const int panics_before = decisions.Count("panic");
  Sipp* d2 = Dial("dialer-backup", dialer_port() + 1, "uac_call.xml", 10, 10, 100, 20);
  EXPECT_EQ(d2->Wait(std::chrono::seconds(15)), 0) << d2->Output();
  EXPECT_EQ(Count(d2->Log(), "ANSWERED;"), 10) << d2->Log();
  EXPECT_EQ(decisions.Count("panic"), panics_before) << "a trunk is UP: no panic";

  // 3. The primary comes back: UP, then ramping from a small share to all calls.
  Sipp* primary = StartPeer("primary", primary_port(), "uas_answer.xml", 60);
  ASSERT_TRUE(Eventually([&] { return Health("primary").state() == v1::HEALTH_STATE_UP; },
                         std::chrono::seconds(15)))
      << Health("primary").DebugString();
  const double share = Health("primary").ramp_share();
  EXPECT_GT(share, 0.0);
  EXPECT_LT(share, 1.0) << "back from DOWN, the primary ramps";
  const int primary_before = Count(primary->Log(), "INV");
  const int backup_before = Count(backup->Log(), "INV");
  Sipp* d3 = Dial("dialer-ramp", dialer_port() + 2, "uac_call.xml", 20, 10, 100, 20);
  EXPECT_EQ(d3->Wait(std::chrono::seconds(15)), 0) << d3->Output();
  EXPECT_EQ(Count(d3->Log(), "ANSWERED;"), 20) << d3->Log();
  EXPECT_GT(Count(backup->Log(), "INV"), backup_before) << "while ramping the backup shares";
  EXPECT_GT(Count(primary->Log(), "INV"), primary_before) << "while ramping the primary shares";
  ASSERT_TRUE(Eventually([&] { return Health("primary").ramp_share() >= 1.0; },
                         std::chrono::seconds(10)));
  const int primary_ramped = Count(primary->Log(), "INV");
  const int backup_ramped = Count(backup->Log(), "INV");
  Sipp* d4 = Dial("dialer-up", dialer_port() + 3, "uac_call.xml", 10, 10, 100, 20);
  EXPECT_EQ(d4->Wait(std::chrono::seconds(15)), 0) << d4->Output();
  EXPECT_EQ(Count(d4->Log(), "ANSWERED;"), 10);
  EXPECT_EQ(Count(primary->Log(), "INV") - primary_ramped, 10) << "ramped up: the primary again";
  EXPECT_EQ(Count(backup->Log(), "INV"), backup_ramped);
  ExpectNothingLeft();
}

// The real trunkrouted gets SIGTERM with calls up: three connected, three still ringing. The
// connected calls are ended on both legs (BYE to the dialer and to the trunk), the ringing ones
// are CANCELed at the trunk and get a clean 503 "edge shutting down"; the daemon exits 0 and no
// peer is left waiting.
TEST_F(EdgeChaosTest, SigtermWithCallsUpEndsEveryLegAndExitsCleanly) {
  UseSlot(107);
  const std::string config = absl::StrCat(R"({
    "trunks": [
      {"id": "answer", "host": "127.0.0.1", "port": )", primary_port(), R"(, "transport": "TRANSPORT_UDP"},
      {"id": "ringer", "host": "127.0.0.1", "port": )", backup_port(), R"(, "transport": "TRANSPORT_UDP"}],
    "routes": [
      {"id": "talk", "priority": 10, "pattern": "\\+1555100\\d+", "trunk_ids": ["answer"]},
      {"id": "ring", "priority": 20, "pattern": "\\+1555600\\d+", "trunk_ids": ["ringer"]}],
    "failover_policy": {"setup_timeout_ms": 1000},
    "health_policy": {"probes_enabled": false}})");
  const std::string config_path = dir_ + "/config.json";
  trunkroute::testing::WriteFileBytes(config_path, config);
  Sipp* talk_trunk = StartPeer("answer", primary_port(), "uas_answer.xml", 40, {"-m", "3"});
  Sipp* ring_trunk = StartPeer("ringer", backup_port(), "uas_ring_cancel.xml", 40, {"-m", "3"});
  trunkroute::testing::TrunkroutedProcess daemon(
      TRUNKROUTED_PATH,
      {"--data-dir", dir_ + "/data", "--grpc-listen", "127.0.0.1:0", "--http-listen",
       "127.0.0.1:0", "--sip-listen", absl::StrCat("127.0.0.1:", edge_port()),
       "--bootstrap-config", config_path, "--log-level", "info"},
      dir_ + "/trunkrouted.log");
  ASSERT_TRUE(daemon.WaitServing(std::chrono::seconds(15))) << daemon.Output();

  // Ringing first (its trunk waits 8 s for a CANCEL), then the talkers (they wait 5 s for a BYE).
  Sipp* ringers = Dial("ringing", dialer_port() + 1, "uac_call.xml", 3, 10, 0, 40, "+15556000001");
  ASSERT_TRUE(Eventually([&] { return Count(ring_trunk->Log(), "INV") == 3; },
                         std::chrono::seconds(5)))
      << ring_trunk->Log();
  Sipp* talkers = Dial("talkers", dialer_port(), "uac_wait_bye.xml", 3, 10, 0, 40, "+15551000001");
  ASSERT_TRUE(Eventually([&] { return Count(talkers->Log(), "ANSWERED;") == 3; },
                         std::chrono::seconds(4)))
      << talkers->Log();

  daemon.Signal(SIGTERM);
  const std::optional<int> code = daemon.WaitExit(std::chrono::seconds(15));
  ASSERT_TRUE(code.has_value()) << "trunkrouted did not stop:\n" << daemon.Output();
  EXPECT_EQ(*code, 0) << daemon.Output();

  EXPECT_EQ(talkers->Wait(std::chrono::seconds(10)), 0) << talkers->Output();
  EXPECT_EQ(Count(talkers->Log(), "BYE;RECEIVED"), 3) << "connected: BYE on leg A";
  EXPECT_EQ(talk_trunk->Wait(std::chrono::seconds(10)), 0)
      << "connected: BYE on leg B (the trunk's 3 calls completed)\n" << talk_trunk->Output();
  EXPECT_EQ(ringers->Wait(std::chrono::seconds(10)), 0) << ringers->Output();
  const std::string ring_log = ringers->Log();
  EXPECT_EQ(Count(ring_log, "FINAL;503;"), 3) << ring_log;
  EXPECT_EQ(Count(ring_log, "edge shutting down"), 3) << ring_log;
  EXPECT_EQ(ring_trunk->Wait(std::chrono::seconds(10)), 0) << ring_trunk->Output();
  EXPECT_EQ(Count(ring_trunk->Log(), "CANCELED"), 3) << "in setup: CANCEL on leg B";
}

}  // namespace
}  // namespace trunkroute::sip::testing
