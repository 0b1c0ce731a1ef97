// trunkroutectl as operators use it: the real binary against a real server on 127.0.0.1.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "common/log.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/cli/cli_process.h"
#include "tests/cli/cli_server.h"
#include "tests/support/temp_dir.h"

namespace trunkroute::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// Strict parse (unknown fields are errors): --json output must be the response message.
template <typename Message>
bool ParsesAs(const std::string& json, Message* out) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  return google::protobuf::util::JsonStringToMessage(json, out, options).ok();
}

// A loopback port nobody listens on (bound, then released).
int ClosedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

class TrunkroutectlTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.ok()); }

  // Runs the CLI against the test server.
  CliResult Run(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
    args.insert(args.begin(), {"--server", server_.address()});
    return RunCli(args, env);
  }

  std::string WriteFile(const std::string& name, const std::string& text) {
    std::string path = dir_.Sub(name);
    std::ofstream(path) << text;
    return path;
  }

  v1::GetFailoverPolicyResponse Policy() {
    v1::GetFailoverPolicyResponse resp;
    EXPECT_TRUE(server_.config().GetFailoverPolicy(Ctx().get(), {}, &resp).ok());
    return resp;
  }

  CliServer server_;
  TempDir dir_;
};

TEST_F(TrunkroutectlTest, TrunksListPrintsAlignedTableWithoutSecrets) {
  CliResult r = Run({"trunks", "list"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "ID         NAME       HOST                   PORT  TRANSPORT  ADMIN    PASSWORD\n"
            "carrier-a  Carrier A  sip.carrier-a.example  5061  tls        enabled  yes\n"
            "carrier-b  Carrier B  127.0.0.1              5082  udp        enabled  no\n");
  EXPECT_EQ(r.err, "");
}

TEST_F(TrunkroutectlTest, JsonFlagPrintsTheResponseAsProtobufJson) {
  CliResult r = Run({"trunks", "list", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  v1::ListTrunksResponse parsed;
  ASSERT_TRUE(ParsesAs(r.out, &parsed)) << r.out;
  ASSERT_EQ(parsed.trunks_size(), 2);
  EXPECT_EQ(parsed.trunks(0).id(), "carrier-a");
  EXPECT_EQ(parsed.trunks(0).host(), "sip.carrier-a.example");
  EXPECT_TRUE(parsed.trunks(0).has_password());
  EXPECT_EQ(parsed.version(), 1u);
  // Proto field names, enum names, and zero values present for scripts.
  EXPECT_THAT(r.out, AllOf(HasSubstr("\"has_password\": true"),
                           HasSubstr("\"transport\": \"TRANSPORT_UDP\""),
                           HasSubstr("\"max_concurrent_calls\": 0")));
  EXPECT_THAT(r.out, Not(HasSubstr(kCarrierPassword)));
}

TEST_F(TrunkroutectlTest, GlobalFlagsWorkBeforeTheCommandToo) {
  CliResult r = RunCli(
      {"--json", "--server", server_.address(), "--timeout", "3", "trunks", "get", "carrier-b"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  v1::Trunk trunk;
  ASSERT_TRUE(ParsesAs(r.out, &trunk)) << r.out;
  EXPECT_EQ(trunk.port(), 5082u);
}

TEST_F(TrunkroutectlTest, ServerComesFromTheEnvironment) {
  CliResult r = RunCli({"trunks", "get", "carrier-b"}, {{"TRUNKROUTE_SERVER", server_.address()}});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("127.0.0.1"));
}

TEST_F(TrunkroutectlTest, ApplyFromFileThenGetShowsTheTrunkButNeverItsPassword) {
  const std::string file = WriteFile("trunk.json", R"({
    "id": "carrier-c", "name": "Carrier C", "host": "sip.carrier-c.example",
    "transport": "TRANSPORT_TCP", "username": "u1", "password": "c-password-123",
    "allow_cidrs": ["198.51.100.0/24"]
  })");
  CliResult apply = Run({"trunks", "apply", "-f", file});
  ASSERT_EQ(apply.exit_code, 0) << apply.err;
  EXPECT_EQ(apply.out, "trunk 'carrier-c' created (config version 2)\n");

  CliResult get = Run({"trunks", "get", "carrier-c"});
  ASSERT_EQ(get.exit_code, 0) << get.err;
  EXPECT_THAT(get.out, HasSubstr("id                    carrier-c\n"));
  EXPECT_THAT(get.out, HasSubstr("host                  sip.carrier-c.example\n"));
  EXPECT_THAT(get.out, HasSubstr("port                  5060\n"));  // TCP default
  EXPECT_THAT(get.out, HasSubstr("transport             tcp\n"));
  EXPECT_THAT(get.out, HasSubstr("password              yes (write-only)\n"));
  EXPECT_THAT(get.out, HasSubstr("allow_cidrs           198.51.100.0/24\n"));
  EXPECT_THAT(get.out + get.err + apply.out + apply.err, Not(HasSubstr("c-password-123")));

  // Applying the same file again is an update.
  CliResult again = Run({"trunks", "apply", "--file", file});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_THAT(again.out, StartsWith("trunk 'carrier-c' updated"));
}

TEST_F(TrunkroutectlTest, ApplyAcceptsAListDocumentAndUpsertsEachTrunk) {
  const std::string file = WriteFile("trunks.json", R"({"trunks": [
    {"id": "t1", "host": "t1.example"},
    {"id": "carrier-b", "host": "127.0.0.2", "port": 5090, "transport": "TRANSPORT_UDP"}
  ]})");
  CliResult r = Run({"trunks", "apply", "-f", file, "--expected-version", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "trunk 't1' created (config version 2)\n"
            "trunk 'carrier-b' updated (config version 3)\n");
  v1::GetTrunkRequest req;
  req.set_id("carrier-b");
  v1::Trunk trunk;
  ASSERT_TRUE(server_.config().GetTrunk(Ctx().get(), req, &trunk).ok());
  EXPECT_EQ(trunk.host(), "127.0.0.2");
}

TEST_F(TrunkroutectlTest, ApplyWithStaleExpectedVersionIsAConflict) {
  const std::string file = WriteFile("t.json", R"({"id": "t1", "host": "t1.example"})");
  CliResult r = Run({"trunks", "apply", "-f", file, "--expected-version", "7"});
  EXPECT_EQ(r.exit_code, 5);
  EXPECT_THAT(r.err, StartsWith("error: ABORTED: "));
  EXPECT_EQ(r.out, "");
}

TEST_F(TrunkroutectlTest, ApplyRejectsAnUnknownFieldBeforeSendingAnything) {
  const std::string file = WriteFile("typo.json", R"({"id": "t1", "hots": "t1.example"})");
  CliResult r = Run({"trunks", "apply", "-f", file});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err,
              AllOf(StartsWith("error: " + file + ": not a valid Trunk"), HasSubstr("hots")));
  EXPECT_EQ(server_.manager().Current()->version(), 1u);
}

TEST_F(TrunkroutectlTest, ApplyOfAMissingFileIsAUsageError) {
  CliResult r = Run({"trunks", "apply", "-f", dir_.Sub("nope.json")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, StartsWith("error: " + dir_.Sub("nope.json") + ": No such file"));
}

TEST_F(TrunkroutectlTest, ServerValidationErrorsArePrintedWhole) {
  // Two problems in one trunk: the server lists both, one per line; the CLI prints them all.
  const std::string file = WriteFile("bad.json", R"({"id": "bad id!", "port": 70000})");
  CliResult r = Run({"trunks", "apply", "-f", file});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, StartsWith("error: INVALID_ARGUMENT: "));
  EXPECT_THAT(r.err, AllOf(HasSubstr(".id"), HasSubstr(".host"), HasSubstr(".port")));
  EXPECT_GE(std::count(r.err.begin(), r.err.end(), '\n'), 3) << r.err;
}

TEST_F(TrunkroutectlTest, DeleteOfAnUnknownTrunkExits4WithTheErrorLine) {
  CliResult r = Run({"trunks", "delete", "no-such-trunk"});
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_EQ(r.err, "error: NOT_FOUND: trunk 'no-such-trunk' not found\n");
  EXPECT_EQ(r.out, "");
}

TEST_F(TrunkroutectlTest, DeleteOfATrunkARouteUsesIsAConflict) {
  CliResult r = Run({"trunks", "delete", "carrier-b"});
  EXPECT_EQ(r.exit_code, 5);
  EXPECT_THAT(r.err, AllOf(StartsWith("error: FAILED_PRECONDITION: "), HasSubstr("nanp")));
}

TEST_F(TrunkroutectlTest, RoutesApplyListAndDelete) {
  const std::string file = WriteFile("route.json", R"({
    "id": "uk", "priority": 20, "pattern": "\\+44\\d{10}", "trunk_ids": ["carrier-b"],
    "description": "UK mobiles"})");
  CliResult apply = Run({"routes", "apply", "-f", file});
  ASSERT_EQ(apply.exit_code, 0) << apply.err;
  EXPECT_EQ(apply.out, "route 'uk' created (config version 2)\n");

  CliResult list = Run({"routes", "list"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_EQ(list.out,
            "ID    PRIORITY  PATTERN     TRUNKS               INGRESS  CALLER_ID  DESCRIPTION\n"
            "nanp  10        \\+1\\d{10}   carrier-a,carrier-b  -        -          -\n"
            "uk    20        \\+44\\d{10}  carrier-b            -        -          UK mobiles\n");

  CliResult del = Run({"routes", "delete", "uk"});
  EXPECT_EQ(del.exit_code, 0) << del.err;
  EXPECT_EQ(del.out, "route 'uk' deleted (config version 3)\n");
}

TEST_F(TrunkroutectlTest, UsageErrorsExit2WithoutTalkingToTheServer) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"frobnicate"},
           {"trunks"},
           {"trunks", "purge"},
           {"trunks", "get"},
           {"trunks", "get", "a", "b"},
           {"trunks", "list", "--bogus"},
           {"trunks", "apply"},
           {"policy", "set"},
           {"policy", "set", "--max-attempts", "many"},
           {"policy", "set", "--adaptive-timeout", "maybe"},
           {"health", "watch", "--count", "0"},
           {"trunks", "list", "--timeout", "-1"},
       }) {
    CliResult r = Run(args);
    EXPECT_EQ(r.exit_code, 2) << args[0] << " ... " << r.err;
    EXPECT_THAT(r.err, StartsWith("error: ")) << args[0];
    EXPECT_EQ(r.out, "") << args[0];
  }
  EXPECT_EQ(server_.manager().Current()->version(), 1u);
}

TEST_F(TrunkroutectlTest, UnreachableServerExits3) {
  const std::string address = "127.0.0.1:" + std::to_string(ClosedPort());
  CliResult r = RunCli({"--server", address, "trunks", "list"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_THAT(r.err, StartsWith("error: UNAVAILABLE: no answer from " + address + ": "));
  EXPECT_EQ(r.out, "");
}

TEST_F(TrunkroutectlTest, UnreachableServerEndsAWatchWithExit3) {
  const std::string address = "127.0.0.1:" + std::to_string(ClosedPort());
  CliResult r = RunCli({"--server", address, "health", "watch"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_THAT(r.err, StartsWith("error: UNAVAILABLE: no answer from " + address + ": "));
}

TEST_F(TrunkroutectlTest, ServerThatNeverAnswersExits3AtTheDeadline) {
  // Listening but never accepting: TCP connects (kernel backlog), gRPC never gets its answer.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 8), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const std::string address = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  CliResult r = RunCli({"--server", address, "--timeout", "0.3", "trunks", "list"});
  ::close(fd);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_THAT(r.err, StartsWith("error: DEADLINE_EXCEEDED: no answer from " + address + ": "));
}

TEST_F(TrunkroutectlTest, PolicySetChangesOnlyTheGivenFields) {
  v1::GetFailoverPolicyResponse before = Policy();
  ASSERT_NE(before.failover_policy().setup_timeout_ms(), 1500u);
  CliResult r = Run({"policy", "set", "--setup-timeout-ms", "1500", "--failover-codes", "503,408",
                     "--adaptive-timeout", "off", "--failure-threshold", "4"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, AllOf(HasSubstr("failover.setup_timeout_ms"), HasSubstr("1500"),
                           HasSubstr("config_version")));

  v1::GetFailoverPolicyResponse expected = before;
  expected.mutable_failover_policy()->set_setup_timeout_ms(1500);
  expected.mutable_failover_policy()->clear_failover_codes();
  expected.mutable_failover_policy()->add_failover_codes(503);
  expected.mutable_failover_policy()->add_failover_codes(408);
  expected.mutable_failover_policy()->set_adaptive_timeout(false);
  expected.mutable_health_policy()->set_failure_threshold(4);
  v1::GetFailoverPolicyResponse after = Policy();
  expected.set_version(after.version());
  EXPECT_GT(after.version(), before.version());
  // Code lists are sets (the server keeps them sorted).
  google::protobuf::util::MessageDifferencer differencer;
  differencer.set_repeated_field_comparison(google::protobuf::util::MessageDifferencer::AS_SET);
  EXPECT_TRUE(differencer.Compare(expected, after)) << "expected:\n"
                                                    << expected.DebugString() << "got:\n"
                                                    << after.DebugString();
}

TEST_F(TrunkroutectlTest, PolicySetOutOfBoundsIsRejectedByTheServer) {
  CliResult r = Run({"policy", "set", "--setup-timeout-ms", "50"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, AllOf(StartsWith("error: INVALID_ARGUMENT: "), HasSubstr("setup_timeout_ms")));
  EXPECT_EQ(server_.manager().Current()->version(), 1u);
}

TEST_F(TrunkroutectlTest, PolicyGetShowsEffectiveValues) {
  CliResult r = Run({"policy", "get"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, AllOf(HasSubstr("failover.setup_timeout_ms"),
                           HasSubstr("health.failure_threshold"), HasSubstr("config_version")));
  CliResult unknown = Run({"policy", "get", "--route", "nope"});
  EXPECT_EQ(unknown.exit_code, 4);
  EXPECT_EQ(unknown.err, "error: NOT_FOUND: route 'nope' not found\n");
}

TEST_F(TrunkroutectlTest, ConfigExportIsAReapplicableConfigWithoutPasswords) {
  CliResult r = Run({"config", "export"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  v1::Config exported;
  ASSERT_TRUE(ParsesAs(r.out, &exported)) << r.out;
  ASSERT_EQ(exported.trunks_size(), 2);
  EXPECT_TRUE(exported.trunks(0).has_password());
  EXPECT_EQ(exported.trunks(0).password(), "");
  EXPECT_THAT(r.out, Not(HasSubstr(kCarrierPassword)));

  // Re-applying the export changes nothing, and the stored password survives.
  const std::string file = WriteFile("export.json", r.out);
  CliResult apply = Run({"config", "apply", "-f", file});
  ASSERT_EQ(apply.exit_code, 0) << apply.err;
  EXPECT_EQ(apply.out, "no changes (config version 1)\n");
  EXPECT_EQ(server_.manager().Current()->config().trunks(0).password(), kCarrierPassword);
}

TEST_F(TrunkroutectlTest, ConfigApplyDryRunListsChangesAndChangesNothing) {
  v1::Config next = CliTestConfig();
  next.mutable_trunks(1)->set_port(5099);
  next.mutable_routes(0)->clear_trunk_ids();
  next.mutable_routes(0)->add_trunk_ids("carrier-b");
  std::string json;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(next, &json).ok());
  const std::string file = WriteFile("next.json", json);

  CliResult dry = Run({"config", "apply", "-f", file, "--dry-run"});
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_THAT(dry.out, StartsWith("dry run: config is valid, 2 changes (serving version 1 "
                                  "unchanged)\n  "));
  EXPECT_THAT(dry.out, AllOf(HasSubstr("carrier-b"), HasSubstr("nanp")));
  EXPECT_EQ(server_.manager().Current()->version(), 1u);

  CliResult stale = Run({"config", "apply", "-f", file, "--expected-version", "9"});
  EXPECT_EQ(stale.exit_code, 5);
  EXPECT_THAT(stale.err, StartsWith("error: ABORTED: "));

  CliResult real = Run({"config", "apply", "-f", file, "--expected-version", "1"});
  ASSERT_EQ(real.exit_code, 0) << real.err;
  EXPECT_THAT(real.out, StartsWith("applied: config version 2, 2 changes\n"));
  EXPECT_EQ(server_.manager().Current()->version(), 2u);
}

TEST_F(TrunkroutectlTest, TokenIsSentAsBearerMetadataAndNeverPrinted) {
  const std::string token = "tok-3f9a-not-for-printing";
  CliResult with = Run({"info"}, {{"TRUNKROUTE_TOKEN", token}});
  ASSERT_EQ(with.exit_code, 0) << with.err;
  CliResult with_json = Run({"info", "--json"}, {{"TRUNKROUTE_TOKEN", token}});
  ASSERT_EQ(with_json.exit_code, 0) << with_json.err;
  CliResult without = Run({"info"});
  ASSERT_EQ(without.exit_code, 0) << without.err;
  EXPECT_THAT(server_.admin().authorizations(),
              ::testing::ElementsAre("Bearer " + token, "Bearer " + token, "<none>"));
  EXPECT_THAT(with.out + with.err + with_json.out + with_json.err, Not(HasSubstr(token)));

  CliResult bad = Run({"info"}, {{"TRUNKROUTE_TOKEN", "two words"}});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, AllOf(HasSubstr("TRUNKROUTE_TOKEN"), Not(HasSubstr("two words"))));
}

// In a Kubernetes pod the token is a mounted Secret: TRUNKROUTE_TOKEN_FILE (set by the manifest)
// or --token-file point at it, so `kubectl exec ... trunkroutectl` works with the token on.
TEST_F(TrunkroutectlTest, TokenIsReadFromATokenFile) {
  const std::string token = "tok-file-7c1d-not-for-printing";
  const std::string file = WriteFile("api-token", token + "\n");
  CliResult by_flag = Run({"--token-file", file, "info"});
  ASSERT_EQ(by_flag.exit_code, 0) << by_flag.err;
  CliResult by_env = Run({"info"}, {{"TRUNKROUTE_TOKEN_FILE", file}});
  ASSERT_EQ(by_env.exit_code, 0) << by_env.err;
  // An explicit TRUNKROUTE_TOKEN wins over the file the environment names.
  CliResult env_wins = Run({"info"}, {{"TRUNKROUTE_TOKEN_FILE", file}, {"TRUNKROUTE_TOKEN", "t2"}});
  ASSERT_EQ(env_wins.exit_code, 0) << env_wins.err;
  EXPECT_THAT(server_.admin().authorizations(),
              ::testing::ElementsAre("Bearer " + token, "Bearer " + token, "Bearer t2"));
  EXPECT_THAT(by_flag.out + by_flag.err + by_env.out + by_env.err, Not(HasSubstr(token)));

  CliResult missing = Run({"info"}, {{"TRUNKROUTE_TOKEN_FILE", dir_.Sub("no-such-file")}});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.err, AllOf(HasSubstr("TRUNKROUTE_TOKEN_FILE"), HasSubstr("no-such-file"),
                                 HasSubstr("No such file")));
  CliResult empty = Run({"--token-file", WriteFile("empty", "\n"), "info"});
  EXPECT_EQ(empty.exit_code, 2);
  EXPECT_THAT(empty.err, HasSubstr("--token-file"));
  EXPECT_EQ(server_.admin().authorizations().size(), 3u);  // the failures sent nothing
}

TEST_F(TrunkroutectlTest, VersionFlagPrintsTheVersionWithoutTalkingToTheServer) {
  CliResult r = RunCli({"--server", "127.0.0.1:1", "--version"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, ::testing::MatchesRegex("trunkroutectl [0-9]+\\.[0-9]+\\.[0-9]+\n"));
  EXPECT_EQ(r.err, "");
}

// grpc.health.v1 stays open when the API needs a token: the container HEALTHCHECK uses this.
TEST_F(TrunkroutectlTest, PingAnswersServingAndExits3WhenNothingListens) {
  CliResult r = Run({"ping"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, server_.address() + " SERVING\n");
  CliResult service = Run({"ping", "--service", "trunkroute.v1.RoutingService"});
  EXPECT_EQ(service.exit_code, 0) << service.err;
  CliResult unknown = Run({"ping", "--service", "no.such.Service"});
  EXPECT_EQ(unknown.exit_code, 4) << unknown.err;  // NOT_FOUND
  CliResult closed = RunCli({"--server", "127.0.0.1:" + std::to_string(ClosedPort()), "ping"});
  EXPECT_EQ(closed.exit_code, 3) << closed.err;
}

TEST_F(TrunkroutectlTest, InfoShowsServerFacts) {
  CliResult r = Run({"info"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, AllOf(HasSubstr("version         9.8.7-test\n"),
                           HasSubstr("started         2024-05-01T12:00:00Z\n"),
                           HasSubstr("config_version  1\n"),
                           HasSubstr("sip_listen      127.0.0.1:5060\n")));
}

TEST_F(TrunkroutectlTest, LogLevelChangesTheServersLogLevel) {
  const LogLevel level_before = GetLogLevel();
  const bool json_before = GetLogJson();
  CliResult r = Run({"log-level", "debug", "--json", "on"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "log level debug, json lines on\n");
  EXPECT_EQ(GetLogLevel(), LogLevel::kDebug);
  EXPECT_TRUE(GetLogJson());

  // Without --json the JSON switch stays as it is; --json before the command is output format.
  CliResult json_out = Run({"--json", "log-level", "warn"});
  ASSERT_EQ(json_out.exit_code, 0) << json_out.err;
  v1::SetLogLevelResponse parsed;
  ASSERT_TRUE(ParsesAs(json_out.out, &parsed)) << json_out.out;
  EXPECT_EQ(parsed.level(), "warn");
  EXPECT_TRUE(parsed.json());
  EXPECT_EQ(GetLogLevel(), LogLevel::kWarn);

  CliResult bad = Run({"log-level", "loud", "--json", "off"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_EQ(bad.err,
            "error: INVALID_ARGUMENT: level: 'loud' is not a log level (expected debug, info, "
            "warn or error)\n");
  EXPECT_EQ(GetLogLevel(), LogLevel::kWarn);  // a rejected request changes nothing
  EXPECT_TRUE(GetLogJson());

  SetLogLevel(level_before);
  SetLogJson(json_before);
}

TEST_F(TrunkroutectlTest, TrunkDrainSetsTheAdminState) {
  CliResult r = Run({"trunk", "drain", "carrier-a"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, StartsWith("trunk 'carrier-a' admin state draining (health: draining, "
                                "config version 2)"));
  CliResult list = Run({"trunks", "list"});
  EXPECT_THAT(list.out, HasSubstr("tls        draining  yes\n"));

  CliResult unknown = Run({"trunk", "force-down", "nope"});
  EXPECT_EQ(unknown.exit_code, 4);
  EXPECT_THAT(unknown.err, StartsWith("error: NOT_FOUND: "));
}

TEST_F(TrunkroutectlTest, HealthListShowsEveryTrunk) {
  CliResult r = Run({"health", "list"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, StartsWith("TRUNK      STATE  SINCE"));
  EXPECT_THAT(r.out, HasSubstr("REASON      FAILS  PROBE_RTT  EJECTIONS  TIMEOUT_MS"));
  EXPECT_THAT(r.out, HasSubstr("\ncarrier-a  up "));
  EXPECT_THAT(r.out, HasSubstr("\ncarrier-b  up "));
}

TEST_F(TrunkroutectlTest, HealthListShowsEachTargetOfAResolvedTrunkUnderIt) {
  // What the SIP edge reports for a host name with two SRV targets.
  health::TargetUpdate u;
  u.trunk_id = "carrier-a";
  u.host = "sip.carrier-a.example";
  u.port = 5061;
  u.transport = v1::TRANSPORT_TLS;
  for (const char* a : {"192.0.2.1", "192.0.2.2"}) {
    health::TargetSpec t;
    t.key = std::string(a) + ":5061";
    t.address = a;
    t.port = 5061;
    t.transport = v1::TRANSPORT_TLS;
    u.targets.push_back(t);
  }
  server_.tracker().SetTargets(u);
  health::AttemptOutcome o;
  o.trunk_id = "carrier-a";
  o.target = "192.0.2.1:5061";
  o.transport_error = true;
  server_.tracker().ReportOutcome(o, router::DefaultFailoverPolicy());

  v1::ListTrunkHealthResponse resp;
  ASSERT_TRUE(server_.health().ListTrunkHealth(Ctx().get(), {}, &resp).ok());
  ASSERT_EQ(resp.trunks(0).trunk_id(), "carrier-a");
  ASSERT_EQ(resp.trunks(0).targets_size(), 2);
  EXPECT_EQ(resp.trunks(0).targets(0).state(), v1::HEALTH_STATE_DOWN);
  EXPECT_EQ(resp.trunks(0).state(), v1::HEALTH_STATE_UP);

  CliResult r = Run({"health", "list"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, ::testing::ContainsRegex("\ncarrier-a +up "));
  EXPECT_THAT(r.out, HasSubstr("\n  192.0.2.1:5061  down "));
  EXPECT_THAT(r.out, HasSubstr("\n  192.0.2.2:5061  up "));
  EXPECT_THAT(r.out, HasSubstr("transport_error"));
}

TEST_F(TrunkroutectlTest, HealthWatchWithCountOnePrintsOneLineAndExits0) {
  CliResult r = Run({"health", "watch", "--count", "1"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
  EXPECT_THAT(r.out, AllOf(HasSubstr(" trunk=carrier-a state=up snapshot=yes reason=")));
  EXPECT_EQ(r.err, "");
}

TEST_F(TrunkroutectlTest, HealthWatchStreamsAChangeAfterTheSnapshot) {
  CliProcess watch({"--server", server_.address(), "health", "watch", "--count", "3"}, {});
  ASSERT_TRUE(watch.started());
  ASSERT_TRUE(watch.WaitForLines(2, std::chrono::seconds(10)));  // the snapshot
  v1::SetTrunkAdminStateRequest req;
  req.set_trunk_id("carrier-b");
  req.set_state(v1::ADMIN_STATE_FORCED_DOWN);
  v1::SetTrunkAdminStateResponse resp;
  ASSERT_TRUE(server_.health().SetTrunkAdminState(Ctx().get(), req, &resp).ok());
  CliResult r = watch.Finish(std::chrono::seconds(10));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr(" trunk=carrier-b state=forced_down prev=up reason=admin"));
}

TEST_F(TrunkroutectlTest, HealthWatchEndsCleanlyOnSigterm) {
  CliProcess watch({"--server", server_.address(), "health", "watch", "--json"}, {});
  ASSERT_TRUE(watch.started());
  ASSERT_TRUE(watch.WaitForLines(2, std::chrono::seconds(10)));
  watch.Signal(SIGTERM);
  CliResult r = watch.Finish(std::chrono::seconds(10));
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  // JSON lines: each line one TrunkHealthEvent.
  std::istringstream lines(r.out);
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) {
    v1::TrunkHealthEvent event;
    EXPECT_TRUE(ParsesAs(line, &event)) << line;
    EXPECT_TRUE(event.snapshot());
    ++n;
  }
  EXPECT_EQ(n, 2);
}

// A server that goes away must not look like a quiet one: the watch says why and exits 3.
TEST_F(TrunkroutectlTest, HealthWatchSaysWhyAndExits3WhenTheServerShutsDown) {
  CliProcess watch({"--server", server_.address(), "health", "watch"}, {});
  ASSERT_TRUE(watch.started());
  ASSERT_TRUE(watch.WaitForLines(2, std::chrono::seconds(10)));  // the snapshot
  server_.Shutdown();
  CliResult r = watch.Finish(std::chrono::seconds(10));
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_THAT(r.err, AllOf(StartsWith("error: health watch ended after 2 events: " +
                                      server_.address() + " went away (UNAVAILABLE: "),
                           HasSubstr("shutting down")));
}

TEST_F(TrunkroutectlTest, HealthWatchTimeoutEndsAQuietWatchCleanly) {
  CliResult r = Run({"health", "watch", "--timeout", "0.5"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 2) << r.out;
}

TEST_F(TrunkroutectlTest, RouteExplainAndRouteCallShowTheCandidates) {
  CliResult explain = Run({"route", "explain", "+1 (415) 555-0100"});
  ASSERT_EQ(explain.exit_code, 0) << explain.err;
  EXPECT_THAT(explain.out, AllOf(HasSubstr("number  +14155550100\n"),
                                 HasSubstr("nanp   10        \\+1\\d{10}  yes"),
                                 HasSubstr("1  carrier-a  up"), HasSubstr("2  carrier-b  up")));

  CliResult call = Run({"route", "call", "+14155550100", "--json"});
  ASSERT_EQ(call.exit_code, 0) << call.err;
  v1::RouteCallResponse decision;
  ASSERT_TRUE(ParsesAs(call.out, &decision)) << call.out;
  EXPECT_EQ(decision.route_id(), "nanp");
  ASSERT_EQ(decision.candidates_size(), 2);
  EXPECT_EQ(decision.candidates(0).trunk_id(), "carrier-a");

  CliResult none = Run({"route", "call", "+445555"});
  EXPECT_EQ(none.exit_code, 4);
  EXPECT_THAT(none.err, StartsWith("error: NOT_FOUND: "));

  // A number without '+': both commands say what would have matched.
  CliResult national = Run({"route", "call", "4155550100"});
  EXPECT_EQ(national.exit_code, 4);
  EXPECT_EQ(national.err,
            "error: NOT_FOUND: no route matches 4155550100; routes match E.164 numbers: did you "
            "mean +14155550100 (route 'nanp')?\n");
  CliResult explain_national = Run({"route", "explain", "4155550100"});
  EXPECT_EQ(explain_national.exit_code, 0) << explain_national.err;
  EXPECT_THAT(explain_national.out,
              HasSubstr("note: no route matches 4155550100 (1 route tried); routes match E.164 "
                        "numbers: did you mean +14155550100 (route 'nanp')?\n"));
}

TEST_F(TrunkroutectlTest, HelpDocumentsCommandsAndExitCodes) {
  CliResult top = RunCli({"--help"});
  EXPECT_EQ(top.exit_code, 0);
  EXPECT_THAT(top.out, AllOf(HasSubstr("exit codes:"), HasSubstr("3  server unreachable"),
                             HasSubstr("TRUNKROUTE_TOKEN"), HasSubstr("health watch")));
  CliResult cmd = RunCli({"policy", "set", "--help"});
  EXPECT_EQ(cmd.exit_code, 0);
  EXPECT_THAT(cmd.out, AllOf(StartsWith("usage: trunkroutectl policy set"),
                             HasSubstr("--setup-timeout-ms N"), HasSubstr("--failover-codes")));
  CliResult group = RunCli({"trunk", "--help"});
  EXPECT_EQ(group.exit_code, 0);
  EXPECT_THAT(group.out, HasSubstr("trunk force-up ID"));
}

}  // namespace
}  // namespace trunkroute::testing
