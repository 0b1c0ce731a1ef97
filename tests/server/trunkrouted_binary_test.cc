// The real trunkrouted binary: start-up on a temp data dir, serving, SIGTERM → exit 0, and the
// start-up errors an operator meets (busy port, corrupt config, bad flags).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <thread>

#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_pki.h"
#include "tests/support/test_tokens.h"
#include "tests/support/tls_client.h"
#include "tests/support/trunkrouted_process.h"
#include "trunkroute/v1/config_service.grpc.pb.h"
#include "trunkroute/v1/routing.grpc.pb.h"

namespace trunkroute {
namespace {

using ::testing::HasSubstr;
using testing::ReadFileBytes;
using testing::TempDir;
using Clock = std::chrono::steady_clock;

// trunkrouted as a child process (tests/support/trunkrouted_process.h); `env` adds NAME=value.
class Daemon : public testing::TrunkroutedProcess {
 public:
  Daemon(const std::vector<std::string>& args, const std::string& stderr_path,
         const std::vector<std::string>& env = {})
      : TrunkroutedProcess(TRUNKROUTED_PATH, args, stderr_path, env) {}
  std::string Stderr() const { return Output(); }
  bool WaitForLog(const std::string& text, std::chrono::seconds timeout) {
    return WaitForOutput(text, timeout);
  }
};

// A port free for both UDP and TCP on 127.0.0.1 right now (the edge binds both).
int FreeSipPort() {
  for (int attempt = 0; attempt < 50; ++attempt) {
    int udp = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(udp, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(udp);
      continue;
    }
    socklen_t len = sizeof addr;
    ::getsockname(udp, reinterpret_cast<sockaddr*>(&addr), &len);
    int tcp = ::socket(AF_INET, SOCK_STREAM, 0);
    const bool tcp_free = ::bind(tcp, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    const int port = ntohs(addr.sin_port);
    ::close(tcp);
    ::close(udp);
    if (tcp_free) return port;
  }
  return 0;
}

TEST(TrunkroutedBinaryTest, ServesTheEmbeddedDefaultAndExitsZeroOnSigterm) {
  TempDir tmp;
  // The whole daemon, SIP edge included (it needs a known port: trunks and dialers address it).
  const std::string sip = "127.0.0.1:" + std::to_string(FreeSipPort());
  Daemon daemon({"--data-dir", tmp.Sub("data"), "--grpc-listen", "127.0.0.1:0",
                 "--http-listen", "127.0.0.1:0", "--sip-listen", sip},
                tmp.Sub("stderr"));
  std::optional<std::string> address = daemon.WaitServing(std::chrono::seconds(20));
  ASSERT_TRUE(address.has_value()) << daemon.Stderr();

  auto channel = grpc::CreateChannel(*address, grpc::InsecureChannelCredentials());
  auto stub = v1::RoutingService::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::RouteCallRequest req;
  req.set_dialed_number("+15551234567");
  v1::RouteCallResponse resp;
  grpc::Status st = stub->RouteCall(&ctx, req, &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(resp.candidates_size(), 2);
  EXPECT_EQ(resp.candidates(0).trunk_id(), "demo-primary");
  EXPECT_EQ(resp.candidates(1).trunk_id(), "demo-backup");
  // Dropping the client first lets the graceful shutdown finish without waiting for an idle
  // connection to time out.
  stub.reset();
  channel.reset();

  daemon.Signal(SIGTERM);
  EXPECT_EQ(daemon.WaitExit(std::chrono::seconds(15)), 0) << daemon.Stderr();
  EXPECT_THAT(daemon.Stderr(), HasSubstr("shutting down"));
  EXPECT_THAT(daemon.Stderr(), HasSubstr("sip=" + sip));
  EXPECT_THAT(daemon.Stderr(), HasSubstr("sip edge stopping"));
  // The embedded default was stored on first start.
  EXPECT_THAT(ReadFileBytes(tmp.Sub("data/config.json")), HasSubstr("demo-primary"));
}

TEST(TrunkroutedBinaryTest, BusyPortIsAClearErrorAndNonZeroExit) {
  TempDir tmp;
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::string busy = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));

  Daemon daemon({"--data-dir", tmp.Sub("data"), "--grpc-listen", busy, "--http-listen",
                 "127.0.0.1:0", "--no-sip"},
                tmp.Sub("stderr"));
  std::optional<int> code = daemon.WaitExit(std::chrono::seconds(20));
  ::close(fd);
  ASSERT_TRUE(code.has_value());
  EXPECT_NE(*code, 0);
  EXPECT_THAT(daemon.Stderr(),
              HasSubstr("cannot listen for gRPC on " + busy + ": Address already in use"));
}

TEST(TrunkroutedBinaryTest, CorruptStoredConfigStopsStartUpAndIsLeftAlone) {
  TempDir tmp;
  ASSERT_EQ(::mkdir(tmp.Sub("data").c_str(), 0700), 0);
  const std::string garbage = "{\"trunks\": [";
  testing::WriteFileBytes(tmp.Sub("data/config.json"), garbage);
  Daemon daemon({"--data-dir", tmp.Sub("data"), "--grpc-listen", "127.0.0.1:0",
                 "--http-listen", "127.0.0.1:0", "--no-sip"},
                tmp.Sub("stderr"));
  std::optional<int> code = daemon.WaitExit(std::chrono::seconds(20));
  ASSERT_TRUE(code.has_value());
  EXPECT_NE(*code, 0);
  EXPECT_THAT(daemon.Stderr(), HasSubstr(tmp.Sub("data/config.json") + " is corrupt"));
  EXPECT_EQ(ReadFileBytes(tmp.Sub("data/config.json")), garbage);
}

TEST(TrunkroutedBinaryTest, UnusableDataDirIsAClearError) {
  TempDir tmp;
  testing::WriteFileBytes(tmp.Sub("file"), "x");
  Daemon daemon({"--data-dir", tmp.Sub("file"), "--grpc-listen", "127.0.0.1:0",
                 "--http-listen", "127.0.0.1:0", "--no-sip"},
                tmp.Sub("stderr"));
  EXPECT_EQ(daemon.WaitExit(std::chrono::seconds(20)), 1);
  EXPECT_THAT(daemon.Stderr(), HasSubstr("data directory " + tmp.Sub("file") + ": not a directory"));
}

TEST(TrunkroutedBinaryTest, BootstrapConfigIsUsedOnlyForAnEmptyDataDir) {
  TempDir tmp;
  testing::WriteFileBytes(tmp.Sub("boot.json"), R"({
    "trunks": [{"id": "only", "host": "127.0.0.1", "port": 5090, "transport": "TRANSPORT_UDP"}],
    "routes": [{"id": "all", "priority": 1, "pattern": "\\+\\d+", "trunk_ids": ["only"]}]})");
  Daemon daemon({"--data-dir", tmp.Sub("data"), "--grpc-listen", "127.0.0.1:0",
                 "--bootstrap-config", tmp.Sub("boot.json"), "--http-listen", "127.0.0.1:0", "--no-sip"},
                tmp.Sub("stderr"));
  std::optional<std::string> address = daemon.WaitServing(std::chrono::seconds(20));
  ASSERT_TRUE(address.has_value()) << daemon.Stderr();
  auto stub = v1::ConfigService::NewStub(
      grpc::CreateChannel(*address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::ListTrunksResponse trunks;
  ASSERT_TRUE(stub->ListTrunks(&ctx, {}, &trunks).ok());
  ASSERT_EQ(trunks.trunks_size(), 1);
  EXPECT_EQ(trunks.trunks(0).id(), "only");
  daemon.Signal(SIGINT);
  EXPECT_EQ(daemon.WaitExit(std::chrono::seconds(15)), 0) << daemon.Stderr();
}

// --api-token-file guards the gRPC API of the running daemon; the token never reaches the log.
TEST(TrunkroutedBinaryTest, ApiTokenFileGuardsTheGrpcApi) {
  TempDir tmp;
  const std::string token = testing::LongSecret("tok-binary-4e2b");
  testing::WriteFileBytes(tmp.Sub("token"), token + "\n");
  ::chmod(tmp.Sub("token").c_str(), 0600);
  Daemon daemon({"--data-dir", tmp.Sub("data"), "--grpc-listen", "127.0.0.1:0", "--http-listen",
                 "127.0.0.1:0", "--no-sip", "--api-token-file", tmp.Sub("token")},
                tmp.Sub("stderr"));
  std::optional<std::string> address = daemon.WaitServing(std::chrono::seconds(20));
  ASSERT_TRUE(address.has_value()) << daemon.Stderr();
  auto stub = v1::RoutingService::NewStub(
      grpc::CreateChannel(*address, grpc::InsecureChannelCredentials()));
  v1::RouteCallRequest req;
  req.set_dialed_number("+15551234567");
  for (const std::string& authorization : {std::string(), "Bearer " + token}) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    if (!authorization.empty()) ctx.AddMetadata("authorization", authorization);
    v1::RouteCallResponse resp;
    grpc::Status st = stub->RouteCall(&ctx, req, &resp);
    if (authorization.empty()) {
      EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED);
    } else {
      EXPECT_TRUE(st.ok()) << st.error_message();
    }
  }
  stub.reset();
  daemon.Signal(SIGTERM);
  EXPECT_EQ(daemon.WaitExit(std::chrono::seconds(15)), 0) << daemon.Stderr();
  EXPECT_THAT(daemon.Stderr(), HasSubstr("api_token=on"));
  EXPECT_THAT(daemon.Stderr(), ::testing::Not(HasSubstr(token)));
}

// Issue 14: a placeholder or short secret refuses to start, naming where it came from (and never
// the secret).
TEST(TrunkroutedBinaryTest, APlaceholderTokenRefusesToStart) {
  TempDir tmp;
  testing::WriteFileBytes(tmp.Sub("token"), "change-me-to-a-long-random-string\n");
  ::chmod(tmp.Sub("token").c_str(), 0600);
  Daemon from_file({"--data-dir", tmp.Sub("data1"), "--grpc-listen", "127.0.0.1:0", "--http-listen",
                    "127.0.0.1:0", "--no-sip", "--api-token-file", tmp.Sub("token")},
                   tmp.Sub("stderr1"));
  EXPECT_EQ(from_file.WaitExit(std::chrono::seconds(20)), 1);
  EXPECT_THAT(from_file.Stderr(), HasSubstr("--api-token-file " + tmp.Sub("token") +
                                            ": the token is still the placeholder ('change-me…')"));
  Daemon from_env({"--data-dir", tmp.Sub("data2"), "--grpc-listen", "127.0.0.1:0", "--http-listen",
                   "127.0.0.1:0", "--no-sip"},
                  tmp.Sub("stderr2"), {"TRUNKROUTE_API_TOKEN=hunter2-short"});
  EXPECT_EQ(from_env.WaitExit(std::chrono::seconds(20)), 1);
  EXPECT_THAT(from_env.Stderr(),
              HasSubstr("TRUNKROUTE_API_TOKEN: the token is 13 characters long; at least 32"));
  EXPECT_THAT(from_env.Stderr(), ::testing::Not(HasSubstr("hunter2-short")));
}

TEST(TrunkroutedBinaryTest, AWorldReadableTokensFileRefusesToStart) {
  TempDir tmp;
  testing::WriteFileBytes(tmp.Sub("tokens"),
                          testing::TokensFileText({{"ops", "read", testing::LongSecret("ops")}}));
  ::chmod(tmp.Sub("tokens").c_str(), 0644);
  Daemon daemon({"--data-dir", tmp.Sub("data"), "--grpc-listen", "127.0.0.1:0", "--http-listen",
                 "127.0.0.1:0", "--no-sip", "--api-tokens-file", tmp.Sub("tokens")},
                tmp.Sub("stderr"));
  EXPECT_EQ(daemon.WaitExit(std::chrono::seconds(20)), 1);
  EXPECT_THAT(daemon.Stderr(), HasSubstr("--api-tokens-file " + tmp.Sub("tokens") +
                                         ": mode 0644 lets others access it"));
}

// SIGHUP re-reads the API certificate: the next TLS connection gets the new one, the daemon
// keeps serving (and still stops cleanly on SIGTERM).
TEST(TrunkroutedBinaryTest, SighupReloadsTheApiCertificate) {
  TempDir tmp;
  testing::TestPki pki(tmp.path(), "api");
  testing::TestPki::Issued first = pki.Server("server", 0x51);
  Daemon daemon(
      {"--data-dir", tmp.Sub("data"), "--grpc-listen", "127.0.0.1:0", "--http-listen",
       "127.0.0.1:0", "--no-sip", "--api-tls-cert", first.cert, "--api-tls-key", first.key},
      tmp.Sub("stderr"));
  std::optional<std::string> address = daemon.WaitServing(std::chrono::seconds(20));
  ASSERT_TRUE(address.has_value()) << daemon.Stderr();
  EXPECT_THAT(daemon.Stderr(), HasSubstr("api_tls=on"));
  const int http_port =
      std::stoi(daemon.http_address().substr(daemon.http_address().rfind(':') + 1));
  EXPECT_EQ(testing::TlsPeerSerial(http_port, pki.ca()).value_or("?"), "51");

  testing::TestPki::Issued second = pki.Server("server-next", 0x52);
  ASSERT_EQ(::rename(second.key.c_str(), first.key.c_str()), 0);
  ASSERT_EQ(::rename(second.cert.c_str(), first.cert.c_str()), 0);
  daemon.Signal(SIGHUP);
  ASSERT_TRUE(daemon.WaitForLog("serial=52", std::chrono::seconds(10))) << daemon.Stderr();
  EXPECT_EQ(testing::TlsPeerSerial(http_port, pki.ca()).value_or("?"), "52");
  EXPECT_THAT(daemon.Stderr(), HasSubstr("reloading signal=SIGHUP"));
  daemon.Signal(SIGTERM);
  EXPECT_EQ(daemon.WaitExit(std::chrono::seconds(15)), 0) << daemon.Stderr();
}

TEST(TrunkroutedBinaryTest, FlagErrorsAndHelp) {
  TempDir tmp;
  Daemon bad({"--grpc-port", "1"}, tmp.Sub("stderr1"));
  EXPECT_EQ(bad.WaitExit(std::chrono::seconds(10)), 2);
  EXPECT_THAT(bad.Stderr(), HasSubstr("unknown flag '--grpc-port'"));

  Daemon missing({"--data-dir"}, tmp.Sub("stderr2"));
  EXPECT_EQ(missing.WaitExit(std::chrono::seconds(10)), 2);
  EXPECT_THAT(missing.Stderr(), HasSubstr("--data-dir: missing value"));

  Daemon level({"--log-level", "loud"}, tmp.Sub("stderr3"));
  EXPECT_EQ(level.WaitExit(std::chrono::seconds(10)), 2);
  EXPECT_THAT(level.Stderr(), HasSubstr("--log-level"));

  Daemon version({"--version"}, tmp.Sub("version"));
  EXPECT_EQ(version.WaitExit(std::chrono::seconds(10)), 0);
  EXPECT_THAT(version.Stderr(), ::testing::MatchesRegex("trunkrouted [0-9]+\\.[0-9]+\\.[0-9]+\n"));

  Daemon help({"--help"}, tmp.Sub("stdout"));
  EXPECT_EQ(help.WaitExit(std::chrono::seconds(10)), 0);
  for (const char* flag :
       {"--data-dir", "--grpc-listen", "--http-listen", "--sip-listen", "--bootstrap-config",
        "--log-level", "--log-json", "--help", "--sip-tls-listen", "--sip-tls-cert-dir",
        "--sip-tls-verify-trunks", "--sip-tls-verify-clients", "--no-sip",
        "--api-token-file", "--version", "--api-tls-cert", "--api-tls-key", "--api-tls-client-ca",
        "--api-tokens-file", "--metrics-token", "SIGHUP"}) {
    EXPECT_THAT(help.Stderr(), HasSubstr(flag));
  }
}

}  // namespace
}  // namespace trunkroute
