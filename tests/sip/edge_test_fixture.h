#ifndef TRUNKROUTE_TESTS_SIP_EDGE_TEST_FIXTURE_H_
#define TRUNKROUTE_TESTS_SIP_EDGE_TEST_FIXTURE_H_

// Shared set-up of the end-to-end edge tests: the edge in-process on 127.0.0.1, SIPp trunks and
// dialers as real peers. Each test takes its own port slot so that ctest may run them in
// parallel: edge = base, primary = base+1, backup = base+2, dialer = base+3.

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/log.h"
#include "gtest/gtest.h"
#include "tests/sip/edge_harness.h"
#include "tests/sip/sip_trace.h"
#include "tests/sip/sipp.h"

namespace trunkroute::sip::testing {

// Two UDP trunks on loopback, one route for E.164 numbers, probes off unless a test turns them on
// (so a trunk SIPp sees only the calls the test places).
inline constexpr char kTwoTrunkConfig[] = R"json({
  "trunks": [
    {"id": "primary", "host": "127.0.0.1", "port": $PRIMARY, "transport": "TRANSPORT_UDP" $PRIMARY_EXTRA},
    {"id": "backup", "host": "127.0.0.1", "port": $BACKUP, "transport": "TRANSPORT_UDP" $BACKUP_EXTRA}
  ],
  "routes": [
    {"id": "e164", "priority": 10, "pattern": "\\+\\d{6,15}", "trunk_ids": ["primary", "backup"]}
  ],
  "failover_policy": {"setup_timeout_ms": 500 $POLICY_EXTRA},
  "health_policy": {$HEALTH},
  "edge": {$EDGE}
})json";

struct ConfigVars {
  std::string primary_extra;  // e.g. R"(, "codecs": ["g722"])"
  std::string backup_extra;
  std::string policy_extra;
  std::string health = R"("probes_enabled": false)";
  std::string edge;
};

class EdgeE2eTest : public ::testing::Test {
 protected:
  static constexpr int kDialed = 0;

  void SetUp() override {
    // TRUNKROUTE_TEST_LOG=debug shows the edge's (and Sofia's) debug lines.
    if (const char* level = std::getenv("TRUNKROUTE_TEST_LOG")) {
      LogLevel l;
      if (ParseLogLevel(level, &l)) SetLogLevel(l);
    }
  }

  void TearDown() override {
    for (auto& s : sipps_) s->Kill();
    if (harness_) harness_->Stop();
  }

  // Port slot for this test: pick a number no other test in tests/sip uses. Slots are 10 ports
  // apart from 27000 (TRUNKROUTE_SIP_TEST_PORT_BASE moves the whole range, e.g. for a second
  // checkout testing on the same machine at the same time); media ports from 40000 likewise.
  void UseSlot(int slot) {
    int range = 27000;
    if (const char* b = std::getenv("TRUNKROUTE_SIP_TEST_PORT_BASE")) range = std::atoi(b);
    base_ = range + slot * 10;
    range_ = range;
    dir_ = MakeTempDir(absl::StrCat("trunkroute-sip-", slot));
  }
  int edge_port() const { return base_; }
  int primary_port() const { return base_ + 1; }
  int backup_port() const { return base_ + 2; }
  int dialer_port() const { return base_ + 3; }
  int media_port(int i) const { return range_ + 13000 + (base_ - range_) * 4 + i * 4; }

  std::string Config(const ConfigVars& v = {}) const {
    return absl::StrReplaceAll(kTwoTrunkConfig, {{"$PRIMARY_EXTRA", v.primary_extra},
                                                 {"$BACKUP_EXTRA", v.backup_extra},
                                                 {"$POLICY_EXTRA", v.policy_extra},
                                                 {"$HEALTH", v.health},
                                                 {"$EDGE", v.edge},
                                                 {"$PRIMARY", std::to_string(primary_port())},
                                                 {"$BACKUP", std::to_string(backup_port())}});
  }

  void StartEdge(const std::string& config_json, EdgeOptions options = {}) {
    options.listen = absl::StrCat("127.0.0.1:", edge_port());
    auto h = EdgeHarness::Start(config_json, options);
    ASSERT_TRUE(h.ok()) << h.status();
    harness_ = *std::move(h);
  }

  // A SIPp UAS on `port` running `scenario`; ends after `calls` calls (or its 15 s timeout).
  Sipp* StartTrunk(const std::string& name, int port, const std::string& scenario, int calls = 1,
                   std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {
        "-sf",      Scenario(scenario),
        "-i",       "127.0.0.1",
        "-p",       std::to_string(port),
        "-mp",      std::to_string(media_port(static_cast<int>(sipps_.size()))),
        "-m",       std::to_string(calls),
        "-timeout", "15s"};
    args.insert(args.end(), extra.begin(), extra.end());
    sipps_.push_back(Sipp::Start(name, dir_, args));
    EXPECT_TRUE(WaitUdpBound(port, std::chrono::seconds(5))) << name << " did not bind " << port;
    return sipps_.back().get();
  }

  // Starts a dialer placing `calls` calls at `rate` per second, each held `hold_ms`, to
  // +15551234567; does not wait for it.
  Sipp* StartDialer(const std::string& scenario, int calls, int rate, int hold_ms) {
    std::vector<std::string> args = {absl::StrCat("127.0.0.1:", edge_port()),
                                     "-sf",
                                     Scenario(scenario),
                                     "-i",
                                     "127.0.0.1",
                                     "-p",
                                     std::to_string(dialer_port()),
                                     "-mp",
                                     std::to_string(media_port(5)),
                                     "-m",
                                     std::to_string(calls),
                                     "-r",
                                     std::to_string(rate),
                                     "-s",
                                     "+15551234567",
                                     "-d",
                                     std::to_string(hold_ms),
                                     "-timeout",
                                     "10s",
                                     "-key",
                                     "max_forwards",
                                     "70"};
    sipps_.push_back(Sipp::Start("dialer", dir_, args));
    return sipps_.back().get();
  }

  // Places one call through the edge and waits for the dialer to finish (≤ 12 s).
  Sipp* RunDialer(const std::string& scenario, std::vector<std::string> extra = {},
                  const std::string& dialed = "+15551234567", const std::string& ip = "127.0.0.1",
                  int hold_ms = 100) {
    std::vector<std::string> args = {absl::StrCat("127.0.0.1:", edge_port()),
                                     "-sf",
                                     Scenario(scenario),
                                     "-i",
                                     ip,
                                     "-p",
                                     std::to_string(dialer_port()),
                                     "-mp",
                                     std::to_string(media_port(static_cast<int>(sipps_.size()))),
                                     "-m",
                                     "1",
                                     "-s",
                                     dialed,
                                     "-d",
                                     std::to_string(hold_ms),
                                     "-timeout",
                                     "10s"};
    // sipp keeps the first -key of a name: a test's own value must come first.
    args.insert(args.end(), extra.begin(), extra.end());
    if (std::find(extra.begin(), extra.end(), "max_forwards") == extra.end()) {
      for (const char* a : {"-key", "max_forwards", "70"}) args.push_back(a);
    }
    sipps_.push_back(Sipp::Start("dialer", dir_, args));
    Sipp* d = sipps_.back().get();
    dialer_status_ = d->Wait(std::chrono::seconds(12));
    return d;
  }

  // Polls `done` every 10 ms until it holds or `timeout` passes.
  static bool Eventually(const std::function<bool()>& done,
                         std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return done();
  }

  // After every call: nothing of it may stay open in the edge.
  void ExpectNoLeftovers() {
    const EdgeCounters& c = harness_->edge().counters();
    EXPECT_TRUE(Eventually([&] {
      return c.active_calls.load() == 0 && c.open_handles.load() == 0;
    })) << "active_calls="
        << c.active_calls.load() << " open_handles=" << c.open_handles.load();
  }

  static int Count(const std::string& text, const std::string& needle) {
    int n = 0;
    for (size_t p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1)) ++n;
    return n;
  }

  const EdgeCounters& counters() { return harness_->edge().counters(); }

  // Every message `peer` sent and received so far (its -trace_msg file).
  static std::vector<SipMessage> Trace(const Sipp* peer) {
    return ParseSippTrace(peer->Messages());
  }

  int base_ = 0;
  int range_ = 27000;
  std::string dir_;
  std::unique_ptr<EdgeHarness> harness_;
  std::vector<std::unique_ptr<Sipp>> sipps_;
  int dialer_status_ = -1;
};

}  // namespace trunkroute::sip::testing

#endif  // TRUNKROUTE_TESTS_SIP_EDGE_TEST_FIXTURE_H_
