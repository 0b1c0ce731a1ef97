// Crashes for real (issue 13 item 3): the trunkrouted binary is killed with SIGKILL at a random
// moment of a stream of config writes, then started again on the same data directory, many
// times over. Every start must succeed and serve a config that an RPC acknowledged, or the one
// after it (the write in flight when the process died) — whole, never a mix of two.
//
// The config is only ever changed in one place (trunk "demo-backup"'s port, set to 20000 + the
// number of the write), so a served config can be checked field for field against what the
// writes made of it. TRUNKROUTE_CRASH_ITERATIONS overrides the number of crashes.
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "config/config_store.h"
#include "config/default_config.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "tests/support/etcd_cluster.h"
#include "tests/support/temp_dir.h"
#include "tests/support/trunkrouted_process.h"
#include "trunkroute/v1/admin.grpc.pb.h"
#include "trunkroute/v1/config_service.grpc.pb.h"

namespace trunkroute {
namespace {

using testing::TempDir;
using testing::TrunkroutedProcess;

int Iterations(int fallback) {
  if (const char* n = std::getenv("TRUNKROUTE_CRASH_ITERATIONS")) return std::atoi(n);
  return fallback;
}

std::unique_ptr<grpc::ClientContext> Ctx(int seconds = 5) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return ctx;
}

// The embedded default with demo-backup's port as write `n` left it (n == 0: as seeded).
v1::Config Expected(uint32_t port) {
  auto config = config::ParseConfigJson(std::string(config::DefaultConfigJson()), "default");
  EXPECT_TRUE(config.ok());
  for (v1::Trunk& t : *config->mutable_trunks()) {
    if (t.id() == "demo-backup" && port != 0) {
      // What UpsertTrunk with only these fields stores.
      v1::Trunk written;
      written.set_id("demo-backup");
      written.set_host("127.0.0.1");
      written.set_port(port);
      written.set_transport(v1::TRANSPORT_UDP);
      t = written;
    }
  }
  return *config;
}

// Checks that `served` is exactly the config of version `version` in this test's history:
// version 1 is the seed, version k+1 the k-th write (port 20000 + k).
::testing::AssertionResult IsConfigOfVersion(v1::Config served, uint64_t version) {
  const uint32_t port = version <= 1 ? 0 : 20000 + static_cast<uint32_t>(version - 1);
  v1::Config expected = Expected(port);
  served.clear_version();
  served.clear_applied_at_unix_ms();
  std::string diff;
  google::protobuf::util::MessageDifferencer differ;
  differ.ReportDifferencesToString(&diff);
  if (!differ.Compare(expected, served)) {
    return ::testing::AssertionFailure() << "version " << version << " is not whole: " << diff;
  }
  return ::testing::AssertionSuccess();
}

struct History {
  uint64_t last_acked = 1;  // the seed
};

// Writes until the process is killed under it; returns the last version an RPC acknowledged.
void WriteUntilKilled(const std::string& grpc_address, std::chrono::milliseconds kill_after,
                      TrunkroutedProcess* process, History* history) {
  auto stub = v1::ConfigService::NewStub(
      grpc::CreateChannel(grpc_address, grpc::InsecureChannelCredentials()));
  std::thread killer([&] {
    std::this_thread::sleep_for(kill_after);
    process->Kill();
  });
  for (;;) {
    const uint64_t next = history->last_acked + 1;
    v1::UpsertTrunkRequest req;
    req.mutable_trunk()->set_id("demo-backup");
    req.mutable_trunk()->set_host("127.0.0.1");
    req.mutable_trunk()->set_port(20000 + static_cast<uint32_t>(next - 1));
    req.mutable_trunk()->set_transport(v1::TRANSPORT_UDP);
    req.set_expected_version(history->last_acked);
    v1::UpsertTrunkResponse resp;
    grpc::Status st = stub->UpsertTrunk(Ctx(2).get(), req, &resp);
    if (!st.ok()) break;  // the process is gone (or going)
    EXPECT_EQ(resp.version(), next);
    history->last_acked = resp.version();
  }
  killer.join();
}

v1::Config Served(const std::string& grpc_address) {
  auto stub = v1::ConfigService::NewStub(
      grpc::CreateChannel(grpc_address, grpc::InsecureChannelCredentials()));
  v1::Config config;
  grpc::Status st = stub->GetConfig(Ctx().get(), {}, &config);
  EXPECT_TRUE(st.ok()) << st.error_message();
  return config;
}

TEST(CrashRestartTest, KilledDuringConfigWritesAlwaysRestartsOnAnAcknowledgedConfig) {
  TempDir tmp;
  const std::vector<std::string> args = {"--data-dir",  tmp.Sub("data"), "--grpc-listen",
                                         "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
                                         "--no-sip"};
  std::mt19937 random(20261202);
  History history;
  const int iterations = Iterations(100);
  int rolled_forward = 0;
  for (int i = 0; i < iterations; ++i) {
    TrunkroutedProcess p(TRUNKROUTED_PATH, args, tmp.Sub(absl::StrCat("log", i)));
    auto address = p.WaitServing(std::chrono::seconds(20));
    ASSERT_TRUE(address) << "start " << i << " failed:\n" << p.Output();
    const v1::Config served = Served(*address);
    // The write in flight at the last kill may or may not have landed; nothing else may differ.
    ASSERT_TRUE(served.version() == history.last_acked ||
                served.version() == history.last_acked + 1)
        << "start " << i << ": serves version " << served.version() << ", last acknowledged "
        << history.last_acked;
    ASSERT_TRUE(IsConfigOfVersion(served, served.version())) << "start " << i;
    if (served.version() == history.last_acked + 1) ++rolled_forward;
    history.last_acked = served.version();
    // Kill at a random moment of the next stream of writes (0-60 ms into it).
    WriteUntilKilled(*address, std::chrono::milliseconds(random() % 60), &p, &history);
  }
  // The run must have crashed mid-write at least once to mean anything; it usually does often.
  EXPECT_GT(history.last_acked, static_cast<uint64_t>(iterations));
  std::printf(
      "crashes: %d, writes acknowledged: %llu, restarts that found the unacknowledged "
      "write in place: %d\n",
      iterations, static_cast<unsigned long long>(history.last_acked - 1), rolled_forward);
}

// The same with the clustered mode's local copy: the instance is killed during writes, and
// restarted while etcd is down, so that it must start from the copy in its data directory.
TEST(CrashRestartTest, EtcdModeLocalCopySurvivesKillsDuringWrites) {
  testing::EtcdCluster etcd(1);
  ASSERT_TRUE(etcd.Start());
  TempDir tmp;
  const std::vector<std::string> args = {"--data-dir",
                                         tmp.Sub("data"),
                                         "--grpc-listen",
                                         "127.0.0.1:0",
                                         "--http-listen",
                                         "127.0.0.1:0",
                                         "--no-sip",
                                         "--etcd-endpoints",
                                         etcd.Endpoints(),
                                         "--instance-id",
                                         "crash",
                                         "--etcd-lease-ttl",
                                         "2"};
  std::mt19937 random(42);
  History history;
  const int iterations = Iterations(30);
  for (int i = 0; i < iterations; ++i) {
    {
      TrunkroutedProcess p(TRUNKROUTED_PATH, args, tmp.Sub(absl::StrCat("log", i)));
      auto address = p.WaitServing(std::chrono::seconds(20));
      ASSERT_TRUE(address) << "start " << i << " (etcd up) failed:\n" << p.Output();
      const v1::Config served = Served(*address);
      ASSERT_TRUE(served.version() == history.last_acked ||
                  served.version() == history.last_acked + 1)
          << "start " << i << ": etcd serves version " << served.version();
      ASSERT_TRUE(IsConfigOfVersion(served, served.version()));
      history.last_acked = served.version();
      WriteUntilKilled(*address, std::chrono::milliseconds(random() % 60), &p, &history);
    }
    etcd.KillAll();
    {
      TrunkroutedProcess p(TRUNKROUTED_PATH, args, tmp.Sub(absl::StrCat("down", i)));
      auto address = p.WaitServing(std::chrono::seconds(20));
      ASSERT_TRUE(address) << "start " << i << " (etcd down) failed:\n" << p.Output();
      const v1::Config cached = Served(*address);
      // The copy is written after etcd commits and before the RPC answers: it holds every
      // acknowledged write, and maybe the one in flight.
      ASSERT_GE(cached.version(), history.last_acked) << "start " << i;
      ASSERT_LE(cached.version(), history.last_acked + 1) << "start " << i;
      ASSERT_TRUE(IsConfigOfVersion(cached, cached.version())) << "start " << i;
      p.Kill();
    }
    etcd.StartMember(0);
    ASSERT_TRUE(etcd.WaitHealthy(std::chrono::seconds(20)));
  }
}

}  // namespace
}  // namespace trunkroute
