// A real Prometheus server (the binary from Debian's prometheus package, extracted by
// scripts/get-promtool.sh, started here on loopback with a temporary config and data dir) scrapes
// trunkroute's /metrics and answers a query for a trunk state series.

#include <arpa/inet.h>
#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "http/http_server.h"
#include "metrics/health_metrics_observer.h"
#include "metrics/trunkroute_metrics.h"
#include "tests/metrics/populate_metrics.h"

namespace trunkroute::metrics {
namespace {

namespace fs = std::filesystem;

// A port free right now on 127.0.0.1 (Prometheus cannot report a kernel-chosen one).
int FreeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return -1;
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

std::string Slurp(const fs::path& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Percent-encodes a PromQL query for a URL.
std::string UrlEncode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (isalnum(c) || c == '_' || c == '-' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out.append(buf);
    }
  }
  return out;
}

class PrometheusServer {
 public:
  ~PrometheusServer() { Stop(); }

  bool Start(const std::string& binary, const fs::path& dir, int port, int target_port) {
    port_ = port;
    fs::create_directories(dir / "data");
    std::ofstream(dir / "prometheus.yml")
        << "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
        << "scrape_configs:\n  - job_name: trunkroute\n    static_configs:\n"
        << "      - targets: ['127.0.0.1:" << target_port << "']\n";
    log_ = dir / "prometheus.log";
    std::vector<std::string> args = {
        binary,
        absl::StrCat("--config.file=", (dir / "prometheus.yml").string()),
        absl::StrCat("--storage.tsdb.path=", (dir / "data").string()),
        absl::StrCat("--web.listen-address=127.0.0.1:", port),
        "--log.level=warn"};
    pid_ = fork();
    if (pid_ == 0) {
      int fd = open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      dup2(fd, 1);
      dup2(fd, 2);
      int null_fd = open("/dev/null", O_RDONLY);
      dup2(null_fd, 0);
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    return pid_ > 0;
  }

  void Stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    int status = 0;
    while (waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    pid_ = -1;
  }

  bool Exited() {
    int status = 0;
    if (pid_ > 0 && waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return true;
    }
    return pid_ <= 0;
  }

  // Instant query; the vector result's samples as (labels JSON, value).
  std::vector<std::pair<google::protobuf::Struct, std::string>> Query(const std::string& promql) {
    httplib::Client client("127.0.0.1", port_);
    client.set_connection_timeout(1, 0);
    client.set_read_timeout(2, 0);
    auto res = client.Get(("/api/v1/query?query=" + UrlEncode(promql)).c_str());
    std::vector<std::pair<google::protobuf::Struct, std::string>> out;
    if (!res || res->status != 200) return out;
    google::protobuf::Struct body;
    if (!google::protobuf::util::JsonStringToMessage(res->body, &body).ok()) return out;
    const auto& data = body.fields().at("data").struct_value();
    for (const auto& sample : data.fields().at("result").list_value().values()) {
      const auto& fields = sample.struct_value().fields();
      out.emplace_back(fields.at("metric").struct_value(),
                       fields.at("value").list_value().values(1).string_value());
    }
    return out;
  }

  std::string log() const { return Slurp(log_); }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  fs::path log_;
};

TEST(PrometheusScrapeTest, RealPrometheusScrapesTrunkStateSeries) {
  const char* binary = std::getenv("TRUNKROUTE_PROMETHEUS");
  ASSERT_NE(binary, nullptr) << "TRUNKROUTE_PROMETHEUS is not set (ctest sets it)";
  ASSERT_EQ(access(binary, X_OK), 0)
      << "no Prometheus binary at " << binary << ": run scripts/get-promtool.sh";

  auto m = TrunkrouteMetrics::Create("0.1.0-test");
  ASSERT_TRUE(m.ok()) << m.status();
  HealthMetricsObserver observer(m->get());
  testing::PopulateEveryFamily(m->get(), &observer, 3);

  http::HttpServerOptions options;
  options.port = 0;
  auto server = http::HttpServer::Start(options, nullptr, m->get());
  ASSERT_TRUE(server.ok()) << server.status();

  char tmpl[] = "/tmp/trunkroute-prometheus-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  fs::path dir(tmpl);
  int port = FreeLoopbackPort();
  ASSERT_GT(port, 0);
  PrometheusServer prometheus;
  ASSERT_TRUE(prometheus.Start(binary, dir, port, (*server)->port()));

  // Bounded wait: start-up plus a couple of 1 s scrape intervals is typical.
  const std::string promql = R"(trunkroute_trunk_health_state{trunk="carrier-b",state="down"})";
  std::vector<std::pair<google::protobuf::Struct, std::string>> result;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    ASSERT_FALSE(prometheus.Exited()) << "prometheus exited:\n" << prometheus.log();
    result = prometheus.Query(promql);
    if (!result.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_EQ(result.size(), 1u) << "no answer to " << promql << "; prometheus log:\n"
                               << prometheus.log();
  const auto& labels = result[0].first.fields();
  EXPECT_EQ(labels.at("job").string_value(), "trunkroute");
  EXPECT_EQ(labels.at("trunk").string_value(), "carrier-b");
  EXPECT_EQ(labels.at("state").string_value(), "down");
  EXPECT_EQ(result[0].second, "1");

  // The scrape itself was healthy, and a state the trunk is not in reads 0.
  auto up = prometheus.Query(R"(up{job="trunkroute"})");
  ASSERT_EQ(up.size(), 1u);
  EXPECT_EQ(up[0].second, "1");
  auto not_up = prometheus.Query(R"(trunkroute_trunk_health_state{trunk="carrier-b",state="up"})");
  ASSERT_EQ(not_up.size(), 1u);
  EXPECT_EQ(not_up[0].second, "0");

  prometheus.Stop();
  (*server)->Stop();
  std::error_code ec;
  fs::remove_all(dir, ec);
}

}  // namespace
}  // namespace trunkroute::metrics
