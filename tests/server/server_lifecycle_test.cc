// Concurrency, restart and the standard services, against a real gRPC server on 127.0.0.1.
#include <atomic>
#include <map>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/support/byte_buffer.h"
#include "gtest/gtest.h"
#include "tests/server/server_fixture.h"

namespace trunkroute {
namespace {

using testing::Ctx;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::ServerHarness;
using testing::TempDir;

// Writers race with expected_version: per version exactly one wins, the rest are ABORTED.
// Each winner sets the NANP trunk order from the parity of the version it creates, so readers can
// check every answer is one whole snapshot: the order must match the answer's config_version.
TEST(ServerConcurrencyTest, RacingWritersOneWinnerPerVersionAndReadersSeeWholeSnapshots) {
  TempDir tmp;
  ServerHarness server(tmp.Sub("data"));
  ASSERT_TRUE(server.ok());
  constexpr int kWriters = 4;
  constexpr int kAttemptsPerWriter = 25;
  std::atomic<bool> writers_done{false};
  absl::Mutex mu;
  std::map<uint64_t, int> winners_by_version;
  std::atomic<int> aborted{0}, other_errors{0}, reads{0}, inconsistent{0};

  auto writer = [&] {
    for (int i = 0; i < kAttemptsPerWriter; ++i) {
      v1::ListRoutesResponse list;
      if (!server.config().ListRoutes(Ctx().get(), {}, &list).ok()) {
        ++other_errors;
        continue;
      }
      const uint64_t next = list.version() + 1;
      v1::UpsertRouteRequest req;
      for (const auto& route : list.routes()) {
        if (route.id() == "nanp") *req.mutable_route() = route;
      }
      req.mutable_route()->clear_trunk_ids();
      // Odd versions (the initial config is 1) put the primary first, even ones the backup.
      req.mutable_route()->add_trunk_ids(next % 2 == 1 ? "primary" : "backup");
      req.mutable_route()->add_trunk_ids(next % 2 == 1 ? "backup" : "primary");
      req.set_expected_version(list.version());
      v1::UpsertRouteResponse r;
      grpc::Status st = server.config().UpsertRoute(Ctx().get(), req, &r);
      if (st.ok()) {
        absl::MutexLock l(&mu);
        ++winners_by_version[r.version()];
      } else if (st.error_code() == grpc::StatusCode::ABORTED &&
                 st.error_message().find("expected version") != std::string::npos) {
        ++aborted;
      } else {
        ++other_errors;
      }
    }
  };
  auto reader = [&] {
    uint64_t last_version = 0;
    while (!writers_done.load()) {
      v1::RouteCallRequest req;
      req.set_dialed_number("+15551234567");
      v1::RouteCallResponse r;
      grpc::Status st = server.routing().RouteCall(Ctx().get(), req, &r);
      ++reads;
      if (!st.ok() || r.candidates_size() != 2 || r.config_version() < last_version) {
        ++inconsistent;
        continue;
      }
      last_version = r.config_version();
      const std::string expected_first = r.config_version() % 2 == 1 ? "primary" : "backup";
      if (r.candidates(0).trunk_id() != expected_first) ++inconsistent;
    }
  };

  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i) threads.emplace_back(reader);
  std::vector<std::thread> writers;
  for (int i = 0; i < kWriters; ++i) writers.emplace_back(writer);
  for (auto& t : writers) t.join();
  writers_done = true;
  for (auto& t : threads) t.join();

  const uint64_t final_version = server.manager().Current()->version();
  EXPECT_EQ(other_errors.load(), 0);
  EXPECT_EQ(inconsistent.load(), 0);
  EXPECT_GT(reads.load(), 0);
  // Every version from 2 to the final one has exactly one winner.
  EXPECT_EQ(winners_by_version.size(), final_version - 1);
  for (const auto& [version, count] : winners_by_version) {
    EXPECT_EQ(count, 1) << "version " << version;
    EXPECT_GE(version, 2u);
    EXPECT_LE(version, final_version);
  }
  EXPECT_EQ(static_cast<int>(final_version - 1) + aborted.load(), kWriters * kAttemptsPerWriter);
}

TEST(ServerRestartTest, NewServerOnTheSameDataDirFindsConfigAndVersionIntact) {
  TempDir tmp;
  v1::Config before;
  {
    ServerHarness server(tmp.Sub("data"));
    ASSERT_TRUE(server.ok());
    v1::UpsertTrunkRequest req;
    req.mutable_trunk()->set_id("third");
    req.mutable_trunk()->set_host("sip.third.example.net");
    req.mutable_trunk()->set_password("third-pw");
    v1::UpsertTrunkResponse r;
    ASSERT_TRUE(server.config().UpsertTrunk(Ctx().get(), req, &r).ok());
    v1::UpdateFailoverPolicyRequest p;
    p.mutable_failover_policy()->set_setup_timeout_ms(750);
    v1::UpdateFailoverPolicyResponse pr;
    ASSERT_TRUE(server.config().UpdateFailoverPolicy(Ctx().get(), p, &pr).ok());
    ASSERT_TRUE(server.config().GetConfig(Ctx().get(), {}, &before).ok());
    ASSERT_EQ(before.version(), 3u);
    server.Stop();
  }
  // The initial config given here must be ignored: the stored one wins.
  v1::Config other = testing::TwoTrunkConfig();
  other.mutable_routes()->RemoveLast();
  ServerHarness restarted(tmp.Sub("data"), other);
  ASSERT_TRUE(restarted.ok());
  v1::Config after;
  ASSERT_TRUE(restarted.config().GetConfig(Ctx().get(), {}, &after).ok());
  EXPECT_EQ(after.DebugString(), before.DebugString());
  EXPECT_EQ(after.version(), 3u);
  EXPECT_EQ(restarted.manager().Current()->FindTrunk("third")->password, "third-pw");
  EXPECT_EQ(restarted.manager().Current()->default_failover_policy().setup_timeout_ms, 750u);
}

// The standard services are called with hand-encoded protobuf bytes through the generic stub: the
// test then needs neither their generated code nor a second copy of descriptors the gRPC
// libraries already register.
grpc::ByteBuffer Bytes(const std::string& bytes) {
  grpc::Slice slice(bytes.data(), bytes.size());
  return grpc::ByteBuffer(&slice, 1);
}

std::string Flatten(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!buffer.Dump(&slices).ok()) return out;
  for (const auto& s : slices) out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

void ShutdownAndDrain(grpc::CompletionQueue* cq) {
  cq->Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (cq->Next(&tag, &ok)) {
  }
}

bool Step(grpc::CompletionQueue* cq, void* tag) {
  void* got = nullptr;
  bool ok = false;
  return cq->Next(&got, &ok) && got == tag && ok;
}

// One grpc.health.v1 Check without credentials: the status, and the answer's bytes.
std::pair<grpc::Status, std::string> HealthCheck(const std::shared_ptr<grpc::Channel>& channel) {
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  auto ctx = Ctx();
  auto call = stub.PrepareUnaryCall(ctx.get(), "/grpc.health.v1.Health/Check", Bytes(""), &cq);
  call->StartCall();
  grpc::ByteBuffer response;
  grpc::Status status;
  int tag = 1;
  call->Finish(&response, &status, &tag);
  if (!Step(&cq, &tag)) status = grpc::Status(grpc::StatusCode::INTERNAL, "no completion");
  ShutdownAndDrain(&cq);
  return {status, Flatten(response)};
}

TEST(ServerStandardServicesTest, GrpcHealthCheckReportsServing) {
  TempDir tmp;
  ServerHarness server(tmp.Sub("data"));
  ASSERT_TRUE(server.ok());
  auto [status, response] = HealthCheck(server.channel());
  ASSERT_TRUE(status.ok()) << status.error_message();
  // HealthCheckResponse{status: SERVING (1)} is field 1, varint 1.
  EXPECT_EQ(response, std::string("\x08\x01", 2));
}

// Orchestrators (Kubernetes gRPC probes) check health without credentials: a token on the API
// must not make the pod look dead.
TEST(ServerStandardServicesTest, HealthCheckStaysOpenWhenTheApiNeedsAToken) {
  TempDir tmp;
  testing::SimulatedClock clock;
  trunkroute::testing::TestGrpcAuth auth(
      &clock, {{"ops", "read,route,write,admin", trunkroute::testing::LongSecret("ops")}});
  ServerHarness server(tmp.Sub("data"), trunkroute::testing::TwoTrunkConfig(), nullptr, nullptr,
                       auth.grpc());
  ASSERT_TRUE(server.ok());
  auto [status, response] = HealthCheck(server.channel());
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response, std::string("\x08\x01", 2));
}

TEST(ServerStandardServicesTest, ReflectionListsTheTrunkrouteServices) {
  TempDir tmp;
  ServerHarness server(tmp.Sub("data"));
  ASSERT_TRUE(server.ok());
  auto channel = grpc::CreateChannel(server.server().address(), grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  auto ctx = Ctx();
  auto call = stub.PrepareCall(
      ctx.get(), "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  int start = 1, write = 2, done = 3, read = 4, finish = 5;
  call->StartCall(&start);
  ASSERT_TRUE(Step(&cq, &start));
  // ServerReflectionRequest{list_services: ""} is field 7, length-delimited, empty.
  call->Write(Bytes(std::string("\x3a\x00", 2)), &write);
  ASSERT_TRUE(Step(&cq, &write));
  call->WritesDone(&done);
  ASSERT_TRUE(Step(&cq, &done));
  grpc::ByteBuffer response;
  call->Read(&response, &read);
  ASSERT_TRUE(Step(&cq, &read));
  const std::string text = Flatten(response);
  EXPECT_THAT(text, HasSubstr("trunkroute.v1.RoutingService"));
  EXPECT_THAT(text, HasSubstr("trunkroute.v1.ConfigService"));
  EXPECT_THAT(text, HasSubstr("trunkroute.v1.HealthService"));
  EXPECT_THAT(text, HasSubstr("grpc.health.v1.Health"));
  grpc::Status status;
  call->Finish(&status, &finish);
  ASSERT_TRUE(Step(&cq, &finish));
  EXPECT_TRUE(status.ok()) << status.error_message();
  ShutdownAndDrain(&cq);
}

TEST(ServerStartTest, BusyPortIsAClearError) {
  TempDir tmp;
  ServerHarness first(tmp.Sub("a"));
  ASSERT_TRUE(first.ok());
  auto store = config::FileConfigStore::Open(tmp.Sub("b"));
  ASSERT_TRUE(store.ok());
  testing::SimulatedClock clock;
  auto manager = config::ConfigManager::Create(nullptr, &clock, testing::TwoTrunkConfig());
  ASSERT_TRUE(manager.ok());
  testing::FakeRandom random;
  health::HealthTracker tracker(&clock, &random, nullptr);
  server::GrpcServer::Options options;
  options.listen_address = first.server().address();
  auto second = server::GrpcServer::Start(options, manager->get(), &tracker);
  ASSERT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(second.status().message(),
              HasSubstr("cannot listen for gRPC on " + first.server().address()));
  EXPECT_THAT(second.status().message(), HasSubstr("Address already in use"));

  options.listen_address = "127.0.0.1";
  EXPECT_EQ(server::GrpcServer::Start(options, manager->get(), &tracker).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace trunkroute
