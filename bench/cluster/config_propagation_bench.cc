// Config propagation in the clustered mode (docs/benchmarks.md, "Cluster"): a real etcd started
// here on loopback, N trunkrouted instances (daemon::Daemon, in this process, SIP edge off), and
// `--changes` config writes through instance A's gRPC API. For each write: the time until every
// other instance serves it (write RPC sent → listener on B/C fired), and the write's own latency.
// With --file-store, the same writes against one instance on the embedded file store (the cost
// of a write through etcd vs the file).
//
//   config_propagation_bench --instances 2 --changes 1000
//   config_propagation_bench --file_store --changes 1000
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/log.h"
#include "daemon/daemon.h"
#include "grpcpp/create_channel.h"
#include "tests/support/etcd_cluster.h"
#include "tests/support/temp_dir.h"
#include "trunkroute/v1/config_service.grpc.pb.h"

ABSL_FLAG(int, instances, 2, "trunkrouted instances sharing the config (2 or more)");
ABSL_FLAG(int, changes, 1000, "config writes through instance A");
ABSL_FLAG(int, etcd_members, 1, "etcd members (1 or 3)");
ABSL_FLAG(bool, file_store, false, "one instance on the embedded file store instead of etcd");

namespace trunkroute {
namespace {

using Clock = std::chrono::steady_clock;

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  return v[i];
}

void Report(const char* what, const std::vector<double>& ms) {
  std::printf("%-34s n=%zu  p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  max %.2f ms\n", what, ms.size(),
              Percentile(ms, 0.5), Percentile(ms, 0.9), Percentile(ms, 0.99),
              Percentile(ms, 1.0));
}

// Per instance: when each config version started serving there.
struct Arrivals {
  explicit Arrivals(size_t versions) : at(versions) {}
  absl::Mutex mu;
  std::vector<Clock::time_point> at ABSL_GUARDED_BY(mu);  // index: version
};

int Run() {
  SetLogLevel(LogLevel::kWarn);
  const int n = absl::GetFlag(FLAGS_file_store) ? 1 : std::max(2, absl::GetFlag(FLAGS_instances));
  const int changes = absl::GetFlag(FLAGS_changes);
  testing::EtcdCluster etcd(absl::GetFlag(FLAGS_etcd_members));
  if (!absl::GetFlag(FLAGS_file_store) && !etcd.Start()) {
    std::fprintf(stderr, "etcd did not start\n");
    return 1;
  }
  testing::TempDir tmp;
  std::vector<std::unique_ptr<daemon::Daemon>> instances;
  std::vector<std::unique_ptr<Arrivals>> arrivals;
  for (int i = 0; i < n; ++i) {
    daemon::DaemonOptions o;
    o.version = "bench";
    o.data_dir = tmp.Sub(absl::StrCat("i", i));
    o.grpc_listen = "127.0.0.1:0";
    o.http_listen = "127.0.0.1:0";
    o.sip_enabled = false;
    if (!absl::GetFlag(FLAGS_file_store)) {
      o.etcd_endpoints = etcd.EndpointList();
      o.instance_id = absl::StrCat("i", i);
    }
    auto d = daemon::Daemon::Start(o, RealClock::Get());
    if (!d.ok()) {
      std::fprintf(stderr, "instance %d: %s\n", i, std::string(d.status().message()).c_str());
      return 1;
    }
    auto a = std::make_unique<Arrivals>(static_cast<size_t>(changes) + 16);
    Arrivals* raw = a.get();
    (*d)->config()->AddListener([raw](const std::shared_ptr<const router::RoutingTable>& t) {
      const auto now = Clock::now();
      absl::MutexLock lock(&raw->mu);
      if (t->version() < raw->at.size()) raw->at[t->version()] = now;
    });
    instances.push_back(*std::move(d));
    arrivals.push_back(std::move(a));
  }
  auto stub = v1::ConfigService::NewStub(
      grpc::CreateChannel(instances[0]->grpc_address(), grpc::InsecureChannelCredentials()));
  std::vector<double> write_ms, propagation_ms;
  for (int i = 0; i < changes; ++i) {
    v1::UpsertTrunkRequest req;
    req.mutable_trunk()->set_id("demo-backup");
    req.mutable_trunk()->set_host("127.0.0.1");
    req.mutable_trunk()->set_port(static_cast<uint32_t>(10000 + i % 2));
    req.mutable_trunk()->set_transport(v1::TRANSPORT_UDP);
    v1::UpsertTrunkResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    const auto sent = Clock::now();
    grpc::Status st = stub->UpsertTrunk(&ctx, req, &resp);
    const auto answered = Clock::now();
    if (!st.ok()) {
      std::fprintf(stderr, "write %d: %s\n", i, st.error_message().c_str());
      return 1;
    }
    write_ms.push_back(std::chrono::duration<double, std::milli>(answered - sent).count());
    const uint64_t version = resp.version();
    // Wait (bounded) until every other instance serves it.
    for (int j = 1; j < n; ++j) {
      const auto deadline = Clock::now() + std::chrono::seconds(10);
      for (;;) {
        Clock::time_point at{};
        {
          absl::MutexLock lock(&arrivals[j]->mu);
          if (version < arrivals[j]->at.size()) at = arrivals[j]->at[version];
        }
        if (at != Clock::time_point{}) {
          propagation_ms.push_back(std::chrono::duration<double, std::milli>(at - sent).count());
          break;
        }
        if (Clock::now() > deadline) {
          std::fprintf(stderr, "version %llu never reached instance %d\n",
                       static_cast<unsigned long long>(version), j);
          return 1;
        }
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
    }
  }
  std::printf("instances=%d etcd_members=%d store=%s changes=%d\n", n,
              absl::GetFlag(FLAGS_file_store) ? 0 : absl::GetFlag(FLAGS_etcd_members),
              absl::GetFlag(FLAGS_file_store) ? "file" : "etcd", changes);
  Report("config write (UpsertTrunk RPC)", write_ms);
  if (n > 1) Report("write on A -> serving on others", propagation_ms);
  return 0;
}

}  // namespace
}  // namespace trunkroute

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return trunkroute::Run();
}
