// trunkrouted's command line: Abseil flags behind the names operators know.
#include "daemon/flags.h"

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/flags/reflection.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace trunkroute::daemon {
namespace {

using ::testing::HasSubstr;

// Parses `args` (argv[0] added) with the flag registry restored afterwards.
absl::StatusOr<CommandLine> Parse(std::vector<std::string> args) {
  absl::FlagSaver saver;
  args.insert(args.begin(), "trunkrouted");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  return ParseCommandLine(static_cast<int>(argv.size()), argv.data());
}

TEST(DaemonFlagsTest, DefaultsAreTheDocumentedOnes) {
  ::unsetenv("TRUNKROUTE_API_TOKEN");
  auto cl = Parse({});
  ASSERT_TRUE(cl.ok()) << cl.status();
  const DaemonOptions& o = cl->options;
  EXPECT_EQ(o.data_dir, "./data");
  EXPECT_EQ(o.grpc_listen, "127.0.0.1:50051");
  EXPECT_EQ(o.http_listen, "127.0.0.1:9464");
  EXPECT_EQ(o.sip_listen, "127.0.0.1:5060");
  EXPECT_TRUE(o.sip_enabled);
  EXPECT_TRUE(o.sip_tls_verify_trunks);
  EXPECT_FALSE(o.sip_tls_verify_clients);
  EXPECT_TRUE(cl->warnings.empty());
  EXPECT_TRUE(o.sip_short_timer_d);
  EXPECT_EQ(o.api_token, "");
  EXPECT_TRUE(o.health_state);
  EXPECT_EQ(o.health_state_file, "") << "empty: <data-dir>/health-state.json";
  EXPECT_EQ(cl->log_level, LogLevel::kInfo);
  EXPECT_FALSE(cl->log_json);
  EXPECT_FALSE(cl->help);
  EXPECT_FALSE(cl->version);
}

TEST(DaemonFlagsTest, ValuesBySpaceOrEqualsAndBooleansByPresence) {
  auto cl = Parse({"--data-dir", "/var/lib/trunkroute", "--grpc-listen=0.0.0.0:50051", "--no-sip",
                   "--sip-tls-no-verify", "--log-level", "DEBUG", "--log-json=true",
                   "--sip-advertised-address=203.0.113.7", "--sip-dns-server", "127.0.0.1:5353",
                   "--sip-sofia-timer-d"});
  ASSERT_TRUE(cl.ok()) << cl.status();
  EXPECT_EQ(cl->options.data_dir, "/var/lib/trunkroute");
  EXPECT_EQ(cl->options.grpc_listen, "0.0.0.0:50051");
  EXPECT_FALSE(cl->options.sip_enabled);
  EXPECT_FALSE(cl->options.sip_tls_verify_trunks);
  EXPECT_FALSE(cl->options.sip_tls_verify_clients);
  ASSERT_EQ(cl->warnings.size(), 1u);
  EXPECT_THAT(cl->warnings[0], HasSubstr("--sip-tls-no-verify is deprecated"));
  EXPECT_EQ(cl->options.sip_advertised_address, "203.0.113.7");
  EXPECT_EQ(cl->options.sip_dns_server, "127.0.0.1:5353");
  EXPECT_FALSE(cl->options.sip_short_timer_d);
  EXPECT_EQ(cl->log_level, LogLevel::kDebug);
  EXPECT_TRUE(cl->log_json);
}

TEST(DaemonFlagsTest, BooleanCanBeSwitchedOffExplicitly) {
  auto cl = Parse({"--no-sip=false"});
  ASSERT_TRUE(cl.ok()) << cl.status();
  EXPECT_TRUE(cl->options.sip_enabled);
  auto bad = Parse({"--no-sip=maybe"});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("--no-sip: "));
}

TEST(DaemonFlagsTest, SipTlsVerificationIsSetPerDirection) {
  auto clients = Parse({"--sip-tls-verify-clients"});
  ASSERT_TRUE(clients.ok()) << clients.status();
  EXPECT_TRUE(clients->options.sip_tls_verify_clients);
  EXPECT_TRUE(clients->options.sip_tls_verify_trunks) << "one direction leaves the other alone";
  auto trunks = Parse({"--sip-tls-verify-trunks=false"});
  ASSERT_TRUE(trunks.ok()) << trunks.status();
  EXPECT_FALSE(trunks->options.sip_tls_verify_trunks);
  EXPECT_FALSE(trunks->options.sip_tls_verify_clients);
  EXPECT_TRUE(trunks->warnings.empty());
}

TEST(DaemonFlagsTest, ErrorsNameTheFlagAndTheReason) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {{"--grpc-port", "1"}, "unknown flag '--grpc-port'"},
           {{"--data_dir=/x"}, "unknown flag '--data_dir=/x'"},  // only the documented spelling
           {{"data-dir"}, "unknown flag 'data-dir'"},
           {{"--data-dir"}, "--data-dir: missing value"},
           {{"--data-dir="}, "--data-dir: empty value"},
           {{"--log-level", "loud"}, "--log-level: 'loud' is not debug, info, warn or error"},
           {{"--sip-workers", "0"}, "--sip-workers: 0 is outside 1-64"},
           {{"--sip-workers", "65"}, "--sip-workers: 65 is outside 1-64"},
           {{"--sip-worker-port-base", "70000"},
            "--sip-worker-port-base: 70000 is not a port (0-65535)"},
       }) {
    auto cl = Parse(c.args);
    EXPECT_EQ(cl.status().code(), absl::StatusCode::kInvalidArgument) << c.args[0];
    EXPECT_EQ(cl.status().message(), c.message);
  }
}

TEST(DaemonFlagsTest, SipWorkersAndTheirPorts) {
  auto cl = Parse({});
  ASSERT_TRUE(cl.ok()) << cl.status();
  EXPECT_EQ(cl->options.sip_workers, 1);
  EXPECT_EQ(cl->options.sip_worker_port_base, 0u);
  cl = Parse({"--sip-workers", "4", "--sip-worker-port-base=5200"});
  ASSERT_TRUE(cl.ok()) << cl.status();
  EXPECT_EQ(cl->options.sip_workers, 4);
  EXPECT_EQ(cl->options.sip_worker_port_base, 5200u);
}

TEST(DaemonFlagsTest, FlagsOfLinkedLibrariesAreNotAccepted) {
  // Abseil registers flags of its own (e.g. for the flags library itself); trunkrouted's
  // command line is only its documented flags.
  auto cl = Parse({"--flagfile=/etc/passwd"});
  EXPECT_EQ(cl.status().message(), "unknown flag '--flagfile=/etc/passwd'");
}

TEST(DaemonFlagsTest, ApiTokenComesFromTheEnvironmentNeverAFlag) {
  ::setenv("TRUNKROUTE_API_TOKEN", "s3cret-token", 1);
  auto cl = Parse({});
  ::unsetenv("TRUNKROUTE_API_TOKEN");
  ASSERT_TRUE(cl.ok());
  EXPECT_EQ(cl->options.api_token, "s3cret-token");
  EXPECT_THAT(Parse({"--api-token", "x"}).status().message(), HasSubstr("unknown flag"));
}

TEST(DaemonFlagsTest, HelpAndVersionAreRecognised) {
  auto cl = Parse({"--help", "--version"});
  ASSERT_TRUE(cl.ok());
  EXPECT_TRUE(cl->help);
  EXPECT_TRUE(cl->version);
  EXPECT_TRUE(Parse({"-h"})->help);
}

TEST(DaemonFlagsTest, HealthStateFileCanBeMovedOrTurnedOff) {
  auto moved = Parse({"--health-state-file", "/var/lib/trunkroute/health.json"});
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_EQ(moved->options.health_state_file, "/var/lib/trunkroute/health.json");
  EXPECT_TRUE(moved->options.health_state);
  auto off = Parse({"--no-health-state"});
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_FALSE(off->options.health_state);
  auto both = Parse({"--no-health-state", "--health-state-file", "/tmp/h.json"});
  ASSERT_FALSE(both.ok());
  EXPECT_THAT(both.status().message(), HasSubstr("--no-health-state and --health-state-file"));
  auto empty = Parse({"--health-state-file="});
  ASSERT_FALSE(empty.ok());
  EXPECT_THAT(empty.status().message(), HasSubstr("--health-state-file: empty value"));
}

TEST(DaemonFlagsTest, UsageListsEveryFlagWithItsDefault) {
  const std::string usage = Usage();
  for (const char* flag :
       {"--data-dir DIR", "--bootstrap-config FILE", "--grpc-listen ADDR", "--http-listen ADDR",
        "--grpc-threads N", "--api-token-file FILE", "--sip-listen ADDR", "--sip-tls-listen ADDR",
        "--sip-tls-cert-dir DIR", "--sip-tls-no-verify", "--sip-advertised-address",
        "--sip-sofia-timer-d", "--no-sip", "--log-level LEVEL", "--log-json", "--help", "--version",
        "--health-state-file FILE", "--no-health-state"}) {
    EXPECT_THAT(usage, HasSubstr(flag));
  }
  EXPECT_THAT(usage, HasSubstr("(default 127.0.0.1:50051)"));
  EXPECT_THAT(usage, HasSubstr("(default info)"));
  for (const auto& line : absl::StrSplit(usage, '\n')) {
    EXPECT_LE(line.size(), 100u) << line;
  }
}

}  // namespace
}  // namespace trunkroute::daemon
