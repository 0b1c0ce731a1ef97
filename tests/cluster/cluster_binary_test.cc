// The real trunkrouted binary in etcd mode: a killed instance (kill -9: no clean leave) drops out
// of `trunkroutectl cluster status` when its lease expires; the flags' errors.
#include <chrono>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "tests/support/etcd_cluster.h"
#include "tests/support/temp_dir.h"
#include "tests/support/trunkrouted_process.h"
#include "trunkroute/v1/cluster.grpc.pb.h"

namespace trunkroute {
namespace {

using testing::EtcdCluster;
using ::testing::HasSubstr;
using testing::TempDir;
using testing::TrunkroutedProcess;

std::vector<std::string> Args(const EtcdCluster& etcd, const std::string& id,
                              const std::string& data_dir) {
  return {"--data-dir",
          data_dir,
          "--grpc-listen",
          "127.0.0.1:0",
          "--http-listen",
          "127.0.0.1:0",
          "--no-sip",
          "--etcd-endpoints",
          etcd.Endpoints(),
          "--instance-id",
          id,
          "--etcd-lease-ttl",
          "3"};
}

std::vector<std::string> InstanceIds(const std::string& grpc_address) {
  auto stub = v1::ClusterService::NewStub(
      grpc::CreateChannel(grpc_address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  v1::ListInstancesResponse resp;
  if (!stub->ListInstances(&ctx, {}, &resp).ok()) return {"<error>"};
  std::vector<std::string> ids;
  for (const auto& i : resp.instances()) ids.push_back(i.instance_id());
  return ids;
}

TEST(ClusterBinaryTest, KilledInstanceLeavesWhenItsLeaseExpires) {
  EtcdCluster etcd(1);
  ASSERT_TRUE(etcd.Start());
  TempDir tmp;
  TrunkroutedProcess a(TRUNKROUTED_PATH, Args(etcd, "a", tmp.Sub("a")), tmp.Sub("a.log"));
  TrunkroutedProcess b(TRUNKROUTED_PATH, Args(etcd, "b", tmp.Sub("b")), tmp.Sub("b.log"));
  auto a_grpc = a.WaitServing(std::chrono::seconds(20));
  ASSERT_TRUE(a_grpc) << a.Output();
  ASSERT_TRUE(b.WaitServing(std::chrono::seconds(20))) << b.Output();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (InstanceIds(*a_grpc).size() < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_THAT(InstanceIds(*a_grpc), ::testing::ElementsAre("a", "b"));

  // The CLI shows both, then (B killed: its record stays until the lease runs out) only A.
  TrunkroutedProcess status(TRUNKROUTECTL_PATH, {"--server", *a_grpc, "cluster", "status"},
                            tmp.Sub("status1"));
  ASSERT_EQ(status.WaitExit(std::chrono::seconds(10)), 0) << status.Output();
  EXPECT_THAT(status.Output(), HasSubstr("this instance"));
  b.Kill();
  const auto killed = std::chrono::steady_clock::now();
  EXPECT_THAT(InstanceIds(*a_grpc), ::testing::ElementsAre("a", "b"));  // not gone at once
  while (InstanceIds(*a_grpc).size() > 1 &&
         std::chrono::steady_clock::now() < killed + std::chrono::seconds(15)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_THAT(InstanceIds(*a_grpc), ::testing::ElementsAre("a"));
  EXPECT_LE(std::chrono::steady_clock::now() - killed, std::chrono::seconds(8));
  TrunkroutedProcess after(TRUNKROUTECTL_PATH, {"--server", *a_grpc, "cluster", "status"},
                           tmp.Sub("status2"));
  ASSERT_EQ(after.WaitExit(std::chrono::seconds(10)), 0) << after.Output();
  EXPECT_THAT(after.Output(), ::testing::Not(HasSubstr("\nb ")));
  EXPECT_THAT(a.Output(), HasSubstr("instance left the cluster\" instance=b"));
}

TEST(ClusterBinaryTest, EtcdFlagErrorsNameTheFlag) {
  TempDir tmp;
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {{"--etcd-endpoints", "127.0.0.1:2379"},
            "--etcd-endpoints: '127.0.0.1:2379' must start with"},
           {{"--etcd-prefix", "trunkroute"}, "--etcd-prefix 'trunkroute': must start with '/'"},
           {{"--etcd-user", "x"}, "need --etcd-endpoints"},
           {{"--etcd-endpoints", "http://127.0.0.1:1", "--etcd-lease-ttl", "1"},
            "--etcd-lease-ttl"},
           {{"--etcd-endpoints", "http://127.0.0.1:1", "--etcd-user", "x"},
            "TRUNKROUTE_ETCD_PASSWORD"},
       }) {
    std::vector<std::string> args = {"--data-dir", tmp.Sub("d"), "--no-sip"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    TrunkroutedProcess p(TRUNKROUTED_PATH, args, tmp.Sub("out"));
    const auto code = p.WaitExit(std::chrono::seconds(10));
    ASSERT_TRUE(code) << c.message;
    EXPECT_NE(*code, 0);
    EXPECT_THAT(p.Output(), HasSubstr(c.message));
  }
}

TEST(ClusterBinaryTest, EtcdPasswordIsNeverLogged) {
  EtcdCluster etcd(1);
  ASSERT_TRUE(etcd.Start());
  TempDir tmp;
  // No auth on this etcd: the password is not even needed, and must still not show up.
  auto args = Args(etcd, "a", tmp.Sub("a"));
  args.insert(args.end(), {"--etcd-user", "tr", "--log-level", "debug"});
  TrunkroutedProcess a(TRUNKROUTED_PATH, args, tmp.Sub("a.log"),
                       {"TRUNKROUTE_ETCD_PASSWORD=hunter2-etcd-secret"});
  ASSERT_TRUE(a.WaitServing(std::chrono::seconds(20))) << a.Output();
  a.Signal(SIGTERM);
  EXPECT_EQ(a.WaitExit(std::chrono::seconds(15)), 0);
  EXPECT_THAT(a.Output(), ::testing::Not(HasSubstr("hunter2")));
}

}  // namespace
}  // namespace trunkroute
