// TLS on both API listeners, in process (daemon::Daemon on loopback, port 0) and with real
// clients only: gRPC C++ channels with the CA (and client certificates for mTLS), curl --cacert
// for HTTPS, openssl s_client for protocol versions. Negative cases: wrong CA, plaintext to the
// TLS ports, no client certificate under mTLS, expired / mismatched / unreadable files at
// start-up, a bad reload. And a certificate swapped on disk while requests are in flight: none
// fails, and new connections get the new certificate (checked by its serial).
//
// The whole binary (and the clients it starts) runs under tests/tls/testdata/
// openssl-permissive.cnf: Debian's own configuration already refuses TLS 1.1, so only under one
// that allows it does "TLS 1.1 is refused" test trunkrouted's code. gRPC's libraries initialise
// OpenSSL before any code of this file runs, so main() re-executes the binary with OPENSSL_CONF
// set rather than setting it in-process.
#include <httplib.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "daemon/daemon.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "tests/support/openssl_conf.h"
#include "tests/support/run_process.h"
#include "tests/support/stderr_capture.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_pki.h"
#include "tests/support/test_tokens.h"
#include "tests/support/tls_client.h"
#include "trunkroute/v1/config_service.grpc.pb.h"
#include "trunkroute/v1/routing.grpc.pb.h"

namespace trunkroute {
namespace {

using ::testing::AllOf;
using ::testing::AnyOf;
using ::testing::HasSubstr;
using testing::LongSecret;
using ::testing::Not;
using testing::ProcessResult;
using testing::RunProcess;
using testing::TempDir;
using testing::TestPki;

const std::string kRouteToken = LongSecret("genesys-prod");
const std::string kOpsToken = LongSecret("ops-alice");

int PortOf(const std::string& address) { return std::stoi(address.substr(address.rfind(':') + 1)); }

std::unique_ptr<grpc::ClientContext> Ctx(const std::string& token = kRouteToken, int seconds = 5) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  if (!token.empty()) ctx->AddMetadata("authorization", "Bearer " + token);
  return ctx;
}

class ApiTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tokens_ = tmp_.Sub("tokens");
    testing::WriteFileBytes(
        tokens_, testing::TokensFileText({{"genesys-prod", "route", kRouteToken},
                                          {"ops-alice", "read,write,admin", kOpsToken}}));
    ::chmod(tokens_.c_str(), 0600);
    server_ = pki_.Server("server1", 0x1001);
  }

  daemon::DaemonOptions Options(bool mtls = false) {
    daemon::DaemonOptions o;
    o.version = "test";
    o.data_dir = tmp_.Sub("data");
    o.grpc_listen = "127.0.0.1:0";
    o.http_listen = "127.0.0.1:0";
    o.sip_enabled = false;
    o.api_tls_cert = server_.cert;
    o.api_tls_key = server_.key;
    if (mtls) o.api_tls_client_ca = pki_.ca();
    o.api_tokens_file = tokens_;
    return o;
  }

  void Start(const daemon::DaemonOptions& options) {
    auto d = daemon::Daemon::Start(options, RealClock::Get());
    ASSERT_TRUE(d.ok()) << d.status();
    daemon_ = *std::move(d);
    grpc_port_ = PortOf(daemon_->grpc_address());
    http_port_ = PortOf(daemon_->http_address());
  }

  std::shared_ptr<grpc::Channel> Channel(std::shared_ptr<grpc::ChannelCredentials> creds) {
    // A channel of its own each: a new connection, a new handshake.
    grpc::ChannelArguments args;
    args.SetInt("trunkroute.test.unique", ++channels_);
    return grpc::CreateCustomChannel(daemon_->grpc_address(), creds, args);
  }

  grpc::Status RouteCall(const std::shared_ptr<grpc::Channel>& channel,
                         std::string* serial = nullptr, const std::string& token = kRouteToken) {
    auto stub = v1::RoutingService::NewStub(channel);
    v1::RouteCallRequest req;
    req.set_dialed_number("+15551234567");
    v1::RouteCallResponse resp;
    auto ctx = Ctx(token);
    grpc::Status st = stub->RouteCall(ctx.get(), req, &resp);
    if (serial != nullptr) *serial = testing::ServerSerialOf(*ctx);
    return st;
  }

  std::string HttpsUrl(const std::string& path) const {
    return "https://127.0.0.1:" + std::to_string(http_port_) + path;
  }

  // curl POST /v1/route as the Genesys data action sends it; prints the status code last.
  ProcessResult CurlRoute(const std::vector<std::string>& tls_args,
                          const std::string& token = kRouteToken) {
    std::vector<std::string> args = {"curl", "-sS", "--max-time", "10"};
    args.insert(args.end(), tls_args.begin(), tls_args.end());
    for (const std::string& a :
         {std::string("-H"), "Authorization: Bearer " + token, std::string("-H"),
          std::string("Content-Type: application/json"), std::string("-d"),
          std::string(R"({"dialedNumber":"+15551234567"})"), std::string("-w"),
          std::string("\n%{http_code}"), HttpsUrl("/v1/route")}) {
      args.push_back(a);
    }
    return RunProcess(args);
  }

  // openssl s_client with `protocol_flag` (-tls1_1 …) against `port`; the process result. ALPN
  // h2 so that the gRPC listener keeps the connection after the handshake (HTTPS ignores it).
  ProcessResult SClient(int port, const std::string& protocol_flag) {
    return RunProcess(
        {"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(port), protocol_flag,
         "-alpn", "h2", "-CAfile", pki_.ca(), "-verify_return_error", "-brief"},
        std::chrono::seconds(10), "Q\n");
  }

  TempDir tmp_;
  TestPki pki_{tmp_.path(), "api"};
  TestPki other_ca_{tmp_.path(), "other"};
  TestPki::Issued server_;
  std::string tokens_;
  std::unique_ptr<daemon::Daemon> daemon_;
  int grpc_port_ = 0;
  int http_port_ = 0;
  int channels_ = 0;
};

TEST_F(ApiTlsTest, BothListenersServeTheCertificateToClientsThatTrustTheCa) {
  Start(Options());
  std::string serial;
  grpc::Status st = RouteCall(Channel(testing::TlsCredentials(pki_.ca())), &serial);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(serial, server_.serial);

  ProcessResult curl = CurlRoute({"--cacert", pki_.ca()});
  ASSERT_EQ(curl.exit_code, 0) << curl.err;
  EXPECT_THAT(curl.out, AllOf(HasSubstr(R"("routeId":"nanp")"), HasSubstr("\n200")));
  EXPECT_EQ(testing::TlsPeerSerial(http_port_, pki_.ca()).value_or("?"), server_.serial);
  EXPECT_EQ(testing::TlsPeerSerial(grpc_port_, pki_.ca()).value_or("?"), server_.serial);
}

TEST_F(ApiTlsTest, AClientThatTrustsAnotherCaIsRefused) {
  Start(Options());
  grpc::Status st = RouteCall(Channel(testing::TlsCredentials(other_ca_.ca())));
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE);
  ProcessResult curl = CurlRoute({"--cacert", other_ca_.ca()});
  EXPECT_EQ(curl.exit_code, 60) << curl.err;  // peer certificate cannot be authenticated
  EXPECT_FALSE(testing::TlsPeerSerial(http_port_, other_ca_.ca()).ok());
}

TEST_F(ApiTlsTest, PlaintextToTheTlsPortsFailsAtOnceInsteadOfHanging) {
  Start(Options());
  // gRPC without TLS: the handshake fails, the call fails fast (well before its deadline).
  const auto start = std::chrono::steady_clock::now();
  grpc::Status st = RouteCall(Channel(grpc::InsecureChannelCredentials()));
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE) << st.error_message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5))
      << "hit the deadline: the server held the plaintext connection";
  // Plain HTTP to the HTTPS port and to the gRPC port: the connection is closed at once (curl
  // 52 "empty reply" or 56 "connection reset"), never 28 (timed out).
  for (int port : {http_port_, grpc_port_}) {
    ProcessResult plain = RunProcess({"curl", "-sS", "--max-time", "10", "-o", "/dev/null",
                                      "http://127.0.0.1:" + std::to_string(port) + "/v1/route"});
    EXPECT_THAT(plain.exit_code, AnyOf(52, 56)) << port << ": " << plain.err;
    EXPECT_FALSE(plain.timed_out);
  }
}

TEST_F(ApiTlsTest, Tls11IsRefusedAndTls12And13AreAcceptedOnBothListeners) {
  Start(Options());
  for (int port : {http_port_, grpc_port_}) {
    ProcessResult old = SClient(port, "-tls1_1");
    EXPECT_NE(old.exit_code, 0) << port << ": " << old.out << old.err;
    // Refused by the server, not by the client's own configuration.
    EXPECT_THAT(old.err, Not(HasSubstr("no protocols available"))) << old.err;
    for (const char* flag : {"-tls1_2", "-tls1_3"}) {
      ProcessResult ok = SClient(port, flag);
      EXPECT_EQ(ok.exit_code, 0) << port << " " << flag << ": " << ok.err;
      EXPECT_THAT(ok.err, HasSubstr(std::string("Protocol version: TLSv1.") + flag[6]))
          << port << " " << flag << ": " << ok.err;
    }
  }
}

TEST_F(ApiTlsTest, UnderMutualTlsAClientCertificateIsRequiredAndNamedInTheAudit) {
  Start(Options(/*mtls=*/true));
  TestPki::Issued alice = pki_.Client("alice", "ops-alice", 0x2001);
  TestPki::Issued mallory = other_ca_.Client("mallory", "mallory", 0x2002);

  std::string serial;
  grpc::Status st =
      RouteCall(Channel(testing::TlsCredentials(pki_.ca(), alice.cert, alice.key)), &serial);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(serial, server_.serial);
  EXPECT_EQ(RouteCall(Channel(testing::TlsCredentials(pki_.ca()))).error_code(),
            grpc::StatusCode::UNAVAILABLE)
      << "no client certificate";
  EXPECT_EQ(RouteCall(Channel(testing::TlsCredentials(pki_.ca(), mallory.cert, mallory.key)))
                .error_code(),
            grpc::StatusCode::UNAVAILABLE)
      << "a client certificate from another CA";

  ProcessResult with_cert =
      CurlRoute({"--cacert", pki_.ca(), "--cert", alice.cert, "--key", alice.key});
  ASSERT_EQ(with_cert.exit_code, 0) << with_cert.err;
  EXPECT_THAT(with_cert.out, HasSubstr("\n200"));
  ProcessResult without = CurlRoute({"--cacert", pki_.ca()});
  EXPECT_NE(without.exit_code, 0) << without.out;
  EXPECT_FALSE(without.timed_out);
  ProcessResult foreign =
      CurlRoute({"--cacert", pki_.ca(), "--cert", mallory.cert, "--key", mallory.key});
  EXPECT_NE(foreign.exit_code, 0) << foreign.out;

  // Who changed what: the token's name and the certificate's subject, in one line.
  testing::StderrCapture capture;
  auto config = v1::ConfigService::NewStub(
      Channel(testing::TlsCredentials(pki_.ca(), alice.cert, alice.key)));
  v1::UpdateFailoverPolicyRequest update;
  update.mutable_failover_policy()->set_setup_timeout_ms(900);
  v1::UpdateFailoverPolicyResponse updated;
  ASSERT_TRUE(config->UpdateFailoverPolicy(Ctx(kOpsToken).get(), update, &updated).ok());
  capture.Restore();
  EXPECT_THAT(capture.Text(),
              AllOf(HasSubstr("event=config_change"), HasSubstr("principal=ops-alice"),
                    HasSubstr("client_cert=\"CN=ops-alice,O=trunkroute-test\""),
                    HasSubstr("target=failover_policy"), HasSubstr("from_version=1"),
                    HasSubstr("to_version=2")));
}

// trunkroutectl over TLS: the CA and a client certificate from flags or the environment; a token
// without the scope gets the server's PERMISSION_DENIED (exit 1); no TLS: unreachable (exit 3).
TEST_F(ApiTlsTest, TrunkroutectlTalksTlsWithTheCaAndAClientCertificate) {
  Start(Options(/*mtls=*/true));
  TestPki::Issued alice = pki_.Client("alice", "ops-alice", 0x2101);
  const std::string server = daemon_->grpc_address();
  const std::vector<std::string> tls = {"--tls-ca", pki_.ca(), "--tls-cert", alice.cert,
                                        "--tls-key", alice.key};
  auto ctl = [&](std::vector<std::string> args, const std::string& token,
                 std::vector<std::pair<std::string, std::string>> env = {}) {
    args.insert(args.begin(), {TRUNKROUTECTL_PATH, "--server", server});
    env.emplace_back("TRUNKROUTE_TOKEN", token);
    return RunProcess(args, std::chrono::seconds(20), "", env);
  };
  std::vector<std::string> call = tls;
  call.insert(call.end(), {"route", "call", "+15551234567"});
  ProcessResult ok = ctl(call, kRouteToken);
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_THAT(ok.out, HasSubstr("demo-primary"));

  std::vector<std::string> write = tls;
  write.insert(write.end(), {"policy", "set", "--setup-timeout-ms", "900"});
  ProcessResult denied = ctl(write, kRouteToken);
  EXPECT_EQ(denied.exit_code, 1) << denied.out;
  EXPECT_THAT(denied.err, HasSubstr("error: PERMISSION_DENIED: token 'genesys-prod' lacks scope "
                                    "'write'"));
  EXPECT_EQ(ctl(write, kOpsToken).exit_code, 0);

  ProcessResult from_env = ctl({"route", "call", "+15551234567"}, kRouteToken,
                               {{"TRUNKROUTE_TLS_CA", pki_.ca()},
                                {"TRUNKROUTE_TLS_CERT", alice.cert},
                                {"TRUNKROUTE_TLS_KEY", alice.key}});
  EXPECT_EQ(from_env.exit_code, 0) << from_env.err;

  ProcessResult plaintext = ctl({"--timeout", "3", "route", "call", "+15551234567"}, kRouteToken);
  EXPECT_EQ(plaintext.exit_code, 3) << plaintext.err;
  ProcessResult no_cert = ctl({"--tls-ca", pki_.ca(), "route", "call", "+15551234567"},
                              kRouteToken);
  EXPECT_EQ(no_cert.exit_code, 3) << "mTLS refuses a client without a certificate: "
                                  << no_cert.err;
  ProcessResult half = ctl({"--tls-cert", alice.cert, "route", "call", "+1555"}, kRouteToken);
  EXPECT_EQ(half.exit_code, 2);
  EXPECT_THAT(half.err, HasSubstr("--tls-cert and --tls-key go together"));
  ProcessResult missing = ctl({"--tls-ca", tmp_.Sub("nope.pem"), "route", "call", "+1555"},
                              kRouteToken);
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.err, HasSubstr("--tls-ca " + tmp_.Sub("nope.pem") + ": No such file"));
}

TEST_F(ApiTlsTest, TheRouteTokenCannotChangeConfigOverTls) {
  Start(Options());
  auto config = v1::ConfigService::NewStub(Channel(testing::TlsCredentials(pki_.ca())));
  v1::UpdateFailoverPolicyRequest update;
  update.mutable_failover_policy()->set_setup_timeout_ms(900);
  v1::UpdateFailoverPolicyResponse resp;
  grpc::Status st = config->UpdateFailoverPolicy(Ctx(kRouteToken).get(), update, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(st.error_message(), HasSubstr("token 'genesys-prod' lacks scope 'write'"));
  EXPECT_EQ(daemon_->config()->Current()->version(), 1u);
}

TEST_F(ApiTlsTest, BadCertificateFilesStopStartUpNamingTheFlagAndTheFile) {
  TestPki::Issued expired = pki_.Server("expired", 0x3001, -7200, -3600);
  TestPki::Issued future = pki_.Server("future", 0x3002, 3600, 7200);
  TestPki::Issued other = pki_.Server("other", 0x3003);
  struct Case {
    std::string name;
    std::function<void(daemon::DaemonOptions&)> change;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"expired", [&](auto& o) { o.api_tls_cert = expired.cert, o.api_tls_key = expired.key; },
       "--api-tls-cert " + expired.cert +
           ": the certificate (subject CN=localhost,O=trunkroute-"
           "test, serial 3001) expired at "},
      {"not yet valid", [&](auto& o) { o.api_tls_cert = future.cert, o.api_tls_key = future.key; },
       "--api-tls-cert " + future.cert +
           ": the certificate (subject CN=localhost,O=trunkroute-"
           "test, serial 3002) is not valid before "},
      {"key of another certificate", [&](auto& o) { o.api_tls_key = other.key; },
       "--api-tls-key " + other.key + " does not match the certificate in --api-tls-cert " +
           server_.cert},
      {"missing key", [&](auto& o) { o.api_tls_key = tmp_.Sub("nope.key"); },
       "--api-tls-key " + tmp_.Sub("nope.key") + ": No such file or directory"},
      {"missing cert", [&](auto& o) { o.api_tls_cert = tmp_.Sub("nope.pem"); },
       "--api-tls-cert " + tmp_.Sub("nope.pem") + ": No such file or directory"},
      {"not a certificate", [&](auto& o) { o.api_tls_cert = tokens_; },
       "--api-tls-cert " + tokens_ + ": no PEM certificate in it"},
      {"key without cert", [&](auto& o) { o.api_tls_cert.clear(); },
       "--api-tls-cert and --api-tls-key go together"},
      {"client CA without TLS",
       [&](auto& o) {
         o.api_tls_cert.clear();
         o.api_tls_key.clear();
         o.api_tls_client_ca = pki_.ca();
       },
       "--api-tls-client-ca needs --api-tls-cert and --api-tls-key"},
      {"empty client CA", [&](auto& o) { o.api_tls_client_ca = tmp_.Sub("empty.pem"); },
       "--api-tls-client-ca " + tmp_.Sub("empty.pem") + ": no PEM certificate in it"},
  };
  testing::WriteFileBytes(tmp_.Sub("empty.pem"), "\n");
  for (const Case& c : cases) {
    daemon::DaemonOptions o = Options();
    c.change(o);
    auto d = daemon::Daemon::Start(o, RealClock::Get());
    ASSERT_FALSE(d.ok()) << c.name;
    EXPECT_THAT(d.status().message(), HasSubstr(c.message)) << c.name;
  }
  // A private key others can read is refused like any secret file.
  ::chmod(server_.key.c_str(), 0644);
  auto d = daemon::Daemon::Start(Options(), RealClock::Get());
  ASSERT_FALSE(d.ok());
  EXPECT_THAT(d.status().message(),
              HasSubstr("--api-tls-key " + server_.key + ": mode 0644 lets others access it"));
}

// The heart of rotation: requests keep flowing on connections opened before the swap (none
// fails), and every connection opened after it gets the new certificate.
TEST_F(ApiTlsTest, ACertificateSwappedUnderLoadFailsNoRequestAndNewConnectionsGetIt) {
  Start(Options());
  std::atomic<bool> stop{false};
  std::atomic<int> ok_calls{0};
  std::atomic<int> failed_calls{0};
  std::atomic<int> after_swap{0};
  std::atomic<bool> swapped{false};
  std::vector<std::thread> load;
  for (int i = 0; i < 3; ++i) {
    // gRPC: one channel (one connection) per thread, opened before the swap.
    load.emplace_back([&, channel = Channel(testing::TlsCredentials(pki_.ca()))] {
      while (!stop.load()) {
        grpc::Status st = RouteCall(channel);
        (st.ok() ? ok_calls : failed_calls).fetch_add(1);
        if (st.ok() && swapped.load()) after_swap.fetch_add(1);
        if (!st.ok()) ADD_FAILURE() << "gRPC call failed during the swap: " << st.error_message();
      }
    });
  }
  // HTTPS on one kept-alive connection opened before the swap (cpp-httplib's client)...
  load.emplace_back([&] {
    httplib::SSLClient client("127.0.0.1", http_port_);
    client.set_ca_cert_path(pki_.ca().c_str());
    client.enable_server_certificate_verification(true);
    client.set_keep_alive(true);
    client.set_read_timeout(5, 0);
    const httplib::Headers headers = {{"Authorization", "Bearer " + kRouteToken}};
    while (!stop.load()) {
      auto res = client.Post("/v1/route", headers, R"({"dialedNumber":"+15551234567"})",
                             "application/json");
      const bool good = res && res->status == 200;
      (good ? ok_calls : failed_calls).fetch_add(1);
      if (good && swapped.load()) after_swap.fetch_add(1);
      if (!good) ADD_FAILURE() << "kept-alive HTTPS request failed during the swap";
    }
  });
  // ...and curl, each run a new connection, before, during and after the swap.
  load.emplace_back([&] {
    while (!stop.load()) {
      ProcessResult curl = CurlRoute({"--cacert", pki_.ca()});
      const bool good = curl.exit_code == 0 && curl.out.find("\n200") != std::string::npos;
      (good ? ok_calls : failed_calls).fetch_add(1);
      if (good && swapped.load()) after_swap.fetch_add(1);
      if (!good) ADD_FAILURE() << "HTTPS request failed during the swap: " << curl.err << curl.out;
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));

  // The operator's rotation: new files moved over the old ones, then SIGHUP (Reload here).
  TestPki::Issued next = pki_.Server("server2", 0x1002);
  ASSERT_EQ(::rename(next.key.c_str(), server_.key.c_str()), 0);
  ASSERT_EQ(::rename(next.cert.c_str(), server_.cert.c_str()), 0);
  ASSERT_TRUE(daemon_->Reload().ok());
  swapped = true;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (after_swap.load() < 20 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stop = true;
  for (std::thread& t : load) t.join();
  EXPECT_EQ(failed_calls.load(), 0);
  EXPECT_GE(after_swap.load(), 20) << "requests stopped flowing after the swap";
  EXPECT_GT(ok_calls.load(), 20);

  std::string serial;
  ASSERT_TRUE(RouteCall(Channel(testing::TlsCredentials(pki_.ca())), &serial).ok());
  EXPECT_EQ(serial, "1002");
  EXPECT_EQ(testing::TlsPeerSerial(http_port_, pki_.ca()).value_or("?"), "1002");
  EXPECT_EQ(testing::TlsPeerSerial(grpc_port_, pki_.ca()).value_or("?"), "1002");
}

TEST_F(ApiTlsTest, FilesChangedOnDiskAreLoadedWithoutASignal) {
  Start(Options());
  TestPki::Issued next = pki_.Server("server2", 0x1003);
  ASSERT_EQ(::rename(next.key.c_str(), server_.key.c_str()), 0);
  ASSERT_EQ(::rename(next.cert.c_str(), server_.cert.c_str()), 0);
  // The watcher looks every second and loads a change that stayed the same for one look.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  std::string serial;
  while ((serial = testing::TlsPeerSerial(http_port_, pki_.ca()).value_or("?")) != "1003" &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(serial, "1003");
  EXPECT_EQ(testing::TlsPeerSerial(grpc_port_, pki_.ca()).value_or("?"), "1003");
}

TEST_F(ApiTlsTest, ABadReloadKeepsTheServingCertificateAndIsCounted) {
  Start(Options());
  // A new certificate whose key did not arrive: the old key does not match it.
  TestPki::Issued next = pki_.Server("server2", 0x1004);
  ASSERT_EQ(::rename(next.cert.c_str(), server_.cert.c_str()), 0);
  absl::Status st = daemon_->Reload();
  EXPECT_THAT(st.message(), HasSubstr("--api-tls-key " + server_.key +
                                      " does not match the certificate in --api-tls-cert"));
  EXPECT_EQ(testing::TlsPeerSerial(http_port_, pki_.ca()).value_or("?"), server_.serial);
  std::string serial;
  ASSERT_TRUE(RouteCall(Channel(testing::TlsCredentials(pki_.ca())), &serial).ok());
  EXPECT_EQ(serial, server_.serial);
  ProcessResult metrics =
      RunProcess({"curl", "-sS", "--max-time", "10", "--cacert", pki_.ca(), HttpsUrl("/metrics")});
  ASSERT_EQ(metrics.exit_code, 0) << metrics.err;
  EXPECT_THAT(
      metrics.out,
      AllOf(HasSubstr(
                R"(trunkroute_api_credential_reloads_total{credential="tls",result="error"} 1)"),
            HasSubstr(R"(trunkroute_api_credential_reloads_total{credential="tls",result="ok"} 0)"),
            HasSubstr("trunkroute_api_tls_certificate_expiry_timestamp_seconds ")));
  // The key arrives: the next reload takes both.
  ASSERT_EQ(::rename(next.key.c_str(), server_.key.c_str()), 0);
  EXPECT_TRUE(daemon_->Reload().ok());
  EXPECT_EQ(testing::TlsPeerSerial(http_port_, pki_.ca()).value_or("?"), "1004");
}

TEST_F(ApiTlsTest, TokensAreReloadedTooAndABrokenTokensFileKeepsTheOldOnes) {
  Start(Options());
  auto channel = Channel(testing::TlsCredentials(pki_.ca()));
  const std::string dialer = LongSecret("dialer-2");
  EXPECT_EQ(RouteCall(channel, nullptr, dialer).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  testing::WriteFileBytes(tokens_, testing::TokensFileText({{"dialer-2", "route", dialer}}));
  ASSERT_TRUE(daemon_->Reload().ok());
  EXPECT_TRUE(RouteCall(channel, nullptr, dialer).ok());
  EXPECT_EQ(RouteCall(channel, nullptr, kRouteToken).error_code(),
            grpc::StatusCode::UNAUTHENTICATED)
      << "a token removed from the file is refused after the reload";
  testing::WriteFileBytes(tokens_, "dialer-2 rout sha256:00\n");
  absl::Status st = daemon_->Reload();
  EXPECT_THAT(st.message(), HasSubstr(tokens_ + ":1: scope 'rout'"));
  EXPECT_TRUE(RouteCall(channel, nullptr, dialer).ok()) << "the previous tokens stay in force";
}

}  // namespace
}  // namespace trunkroute

int main(int argc, char** argv) {
  if (!trunkroute::testing::RunUnderOpenSslConf(TRUNKROUTE_PERMISSIVE_OPENSSL_CONF, argv)) return 1;
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
