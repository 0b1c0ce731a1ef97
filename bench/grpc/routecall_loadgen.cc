// routecall_loadgen: drives RoutingService.RouteCall (and/or gRPC's own empty
// grpc.health.v1.Health/Check, the floor of gRPC's server path) over loopback and reports calls/s,
// latency percentiles and, with --server-pid, the server's CPU per call. Each of --channels channels (own TCP connection) keeps --depth calls in
// flight; a completed call immediately issues the next (closed loop) from the client's
// completion-queue thread(s) (gRPC async API). Bounded by --duration-s.
//
//   routecall_loadgen --target 127.0.0.1:50051 --duration-s 10 --channels 4 --depth 32
//   routecall_loadgen --target 127.0.0.1:50051 --server-pid "$PID" --method both --reps 3
//       # RouteCall and Check alternating, server CPU per call, the ratio RouteCall/Check
//   routecall_loadgen --duration-s 5            # in-process trunkroute server on 127.0.0.1:0
//   routecall_loadgen --target 127.0.0.1:50051 --tls-ca ca.pem --token "$TOKEN"   # over TLS
//   routecall_loadgen --target ... --tls-ca ca.pem --handshakes 500 [--session-cache]
//       # connection set-up cost: a new channel (TCP + TLS handshake) and one call, N times
#include <grpc/grpc_security.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <iterator>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/random.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "config/config_manager.h"
#include "config/config_store.h"
#include "config/default_config.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"
#include "health/tracker.h"
#include "server/grpc_server.h"
#include "trunkroute/v1/routing.grpc.pb.h"

namespace {

using namespace trunkroute;  // NOLINT: a main file
using SteadyClock = std::chrono::steady_clock;

struct Options {
  std::string target;  // empty: in-process server
  double duration_s = 10;
  double warmup_s = 1;
  int channels = 4;
  int depth = 32;
  int client_threads = 1;
  std::string number = "+15551234567";
  // TLS (a trunkrouted with --api-tls-cert): trusted CAs, optional client certificate.
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
  std::string tls_server_name;
  std::string token;  // sent as "authorization: Bearer <token>"
  // > 0: measure connection set-up instead of throughput.
  int handshakes = 0;
  bool session_cache = false;  // share one TLS session cache across the new channels
  // "route" (RouteCall), "health" (grpc.health.v1 Check) or "both" (alternating, --reps each).
  std::string method = "both";
  int reps = 0;        // 0: 3 with --method both, else 1
  uint64_t calls = 0;  // > 0: each window is the first N calls after warm-up (capped by duration)
  std::string server_pid;  // its utime+stime over each window gives server CPU per call
};

std::string ReadFileOrDie(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "routecall_loadgen: cannot read %s\n", path.c_str());
    std::exit(2);
  }
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool ParseOptions(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&](const char* name) -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "routecall_loadgen: %s: missing value\n", name);
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--target") {
      o->target = value("--target");
    } else if (a == "--duration-s") {
      o->duration_s = std::atof(value("--duration-s"));
    } else if (a == "--warmup-s") {
      o->warmup_s = std::atof(value("--warmup-s"));
    } else if (a == "--channels") {
      o->channels = std::atoi(value("--channels"));
    } else if (a == "--depth") {
      o->depth = std::atoi(value("--depth"));
    } else if (a == "--client-threads") {
      o->client_threads = std::atoi(value("--client-threads"));
    } else if (a == "--number") {
      o->number = value("--number");
    } else if (a == "--tls-ca") {
      o->tls_ca = value("--tls-ca");
    } else if (a == "--tls-cert") {
      o->tls_cert = value("--tls-cert");
    } else if (a == "--tls-key") {
      o->tls_key = value("--tls-key");
    } else if (a == "--tls-server-name") {
      o->tls_server_name = value("--tls-server-name");
    } else if (a == "--token") {
      o->token = value("--token");
    } else if (a == "--handshakes") {
      o->handshakes = std::atoi(value("--handshakes"));
    } else if (a == "--session-cache") {
      o->session_cache = true;
    } else if (a == "--method") {
      o->method = value("--method");
    } else if (a == "--reps") {
      o->reps = std::atoi(value("--reps"));
    } else if (a == "--calls") {
      o->calls = std::strtoull(value("--calls"), nullptr, 10);
    } else if (a == "--server-pid") {
      o->server_pid = value("--server-pid");
    } else if (a == "--help" || a == "-h") {
      std::printf(
          "Usage: routecall_loadgen [--target HOST:PORT] [--duration-s S (0.1-300, default 10)]\n"
          "         [--warmup-s S (default 1)] [--channels N (default 4)] [--depth N calls in\n"
          "         flight per channel (default 32)] [--client-threads N (default 1)]\n"
          "         [--number E164 (default +15551234567)]\n"
          "         [--tls-ca FILE [--tls-cert FILE --tls-key FILE] [--tls-server-name NAME]]\n"
          "         [--token TOKEN] [--handshakes N [--session-cache]]\n"
          "         [--method route|health|both (default both)] [--reps N (default 3 for both,\n"
          "         else 1)] [--calls N] [--server-pid PID]\n"
          "Without --target an in-process server on 127.0.0.1:0 with the embedded default\n"
          "config is used (plaintext). --method health calls grpc.health.v1.Health/Check on the\n"
          "same server and channels (gRPC's own floor); both alternates RouteCall and Check\n"
          "windows and prints the ratio RouteCall/Check. --calls N ends each window after N\n"
          "calls (--duration-s is then the cap). --server-pid reads that process's utime+stime\n"
          "(/proc/PID/stat) before and after each window: server CPU per call.\n"
          "--handshakes N opens N new channels one after the other\n"
          "and times each one's first RouteCall (TCP connect + TLS handshake + call); with\n"
          "--session-cache they share a TLS session cache (resumption).\n");
      std::exit(0);
    } else {
      std::fprintf(stderr, "routecall_loadgen: unknown flag '%s'\n", argv[i]);
      return false;
    }
  }
  if (o->duration_s < 0.1 || o->duration_s > 300) {
    std::fprintf(stderr, "routecall_loadgen: --duration-s must be 0.1-300\n");
    return false;
  }
  if (o->channels < 1 || o->channels > 256 || o->depth < 1 || o->depth > 4096 ||
      o->client_threads < 1 || o->client_threads > 64) {
    std::fprintf(stderr,
                 "routecall_loadgen: --channels 1-256, --depth 1-4096, --client-threads 1-64\n");
    return false;
  }
  if (o->method != "route" && o->method != "health" && o->method != "both") {
    std::fprintf(stderr, "routecall_loadgen: --method must be route, health or both\n");
    return false;
  }
  if (o->reps == 0) o->reps = o->method == "both" ? 3 : 1;
  if (o->reps < 1 || o->reps > 100) {
    std::fprintf(stderr, "routecall_loadgen: --reps must be 1-100\n");
    return false;
  }
  if (!o->server_pid.empty() &&
      (o->server_pid.find_first_not_of("0123456789") != std::string::npos ||
       !std::ifstream("/proc/" + o->server_pid + "/stat"))) {
    std::fprintf(stderr, "routecall_loadgen: --server-pid %s: no such process\n",
                 o->server_pid.c_str());
    return false;
  }
  return true;
}

// What the closed loop calls: trunkroute's RouteCall, or gRPC's own empty health Check on the same
// server (the floor of gRPC's server path: same connections, same interceptors, no decision).
enum class Method { kRoute, kHealth };
const char* MethodName(Method m) { return m == Method::kRoute ? "route" : "health"; }

// Shared state of one measurement window. Latencies are recorded per slot (no lock per call) and
// merged at the end.
struct Run {
  std::atomic<bool> measuring{false};
  std::atomic<bool> stop{false};
  std::atomic<int> active_slots{0};
  std::atomic<uint64_t> errors{0};
  // Calls finished inside the window (ok or not); with --calls N the window closes at N.
  std::atomic<uint64_t> finished{0};
  uint64_t calls_target = 0;  // 0: the window is --duration-s long
  absl::Mutex mu;
  bool target_reached ABSL_GUARDED_BY(mu) = false;
};

// One closed-loop caller on the async API: at most one call in flight; the completion-queue
// thread that sees its answer records the latency and issues the next call at once (no thread
// hop, no lock per call).
class Slot {
 public:
  Slot(Run* run, const std::string& authorization) : run_(run), authorization_(authorization) {
    latencies_us_.reserve(1 << 16);
  }
  virtual ~Slot() = default;

  void Start() {
    run_->active_slots.fetch_add(1);
    Issue();
  }
  const std::vector<uint32_t>& latencies_us() const { return latencies_us_; }

  // Called on the completion-queue thread when the call finished.
  void Done() {
    const auto elapsed = SteadyClock::now() - started_;
    if (run_->measuring.load(std::memory_order_relaxed)) {
      if (status_.ok() && AnswerOk()) {
        latencies_us_.push_back(static_cast<uint32_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count()));
      } else {
        run_->errors.fetch_add(1, std::memory_order_relaxed);
      }
      if (run_->finished.fetch_add(1, std::memory_order_relaxed) + 1 == run_->calls_target) {
        absl::MutexLock l(&run_->mu);
        run_->target_reached = true;
      }
    }
    if (run_->stop.load(std::memory_order_relaxed)) {
      run_->active_slots.fetch_sub(1);
      return;
    }
    Issue();
  }

 protected:
  // A fresh context with the run's deadline and metadata, and the start time; then the call.
  grpc::ClientContext* NewCall() {
    context_ = std::make_unique<grpc::ClientContext>();
    context_->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    if (!authorization_.empty()) context_->AddMetadata("authorization", authorization_);
    started_ = SteadyClock::now();
    return context_.get();
  }
  virtual void Issue() = 0;
  virtual bool AnswerOk() const = 0;

  grpc::Status status_;

 private:
  Run* const run_;
  const std::string authorization_;
  std::unique_ptr<grpc::ClientContext> context_;
  SteadyClock::time_point started_;
  std::vector<uint32_t> latencies_us_;
};

class RouteSlot final : public Slot {
 public:
  RouteSlot(v1::RoutingService::Stub* stub, grpc::CompletionQueue* cq, Run* run,
            const std::string& number, const std::string& authorization)
      : Slot(run, authorization), stub_(stub), cq_(cq) {
    request_.set_dialed_number(number);
  }

 private:
  void Issue() override {
    response_.Clear();
    grpc::ClientContext* context = NewCall();
    reader_ = stub_->PrepareAsyncRouteCall(context, request_, cq_);
    reader_->StartCall();
    reader_->Finish(&response_, &status_, static_cast<Slot*>(this));
  }
  bool AnswerOk() const override { return response_.candidates_size() > 0; }

  v1::RoutingService::Stub* const stub_;
  grpc::CompletionQueue* const cq_;
  v1::RouteCallRequest request_;
  v1::RouteCallResponse response_;
  std::unique_ptr<grpc::ClientAsyncResponseReader<v1::RouteCallResponse>> reader_;
};

class HealthSlot final : public Slot {
 public:
  HealthSlot(grpc::health::v1::Health::Stub* stub, grpc::CompletionQueue* cq, Run* run,
             const std::string& authorization)
      : Slot(run, authorization), stub_(stub), cq_(cq) {}

 private:
  void Issue() override {
    response_.Clear();
    grpc::ClientContext* context = NewCall();
    reader_ = stub_->PrepareAsyncCheck(context, request_, cq_);  // service "": the whole server
    reader_->StartCall();
    reader_->Finish(&response_, &status_, static_cast<Slot*>(this));
  }
  bool AnswerOk() const override {
    return response_.status() == grpc::health::v1::HealthCheckResponse::SERVING;
  }

  grpc::health::v1::Health::Stub* const stub_;
  grpc::CompletionQueue* const cq_;
  grpc::health::v1::HealthCheckRequest request_;
  grpc::health::v1::HealthCheckResponse response_;
  std::unique_ptr<grpc::ClientAsyncResponseReader<grpc::health::v1::HealthCheckResponse>>
      reader_;
};

// utime + stime of a process in seconds (/proc/PID/stat fields 14 and 15); < 0 if unreadable.
double ProcessCpuSeconds(const std::string& pid) {
  std::ifstream in("/proc/" + pid + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t paren = stat.rfind(')');  // the command name may contain spaces
  if (!in.good() && stat.empty()) return -1;
  if (paren == std::string::npos) return -1;
  std::istringstream fields(stat.substr(paren + 1));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  // After ")": field 3 (state) is the first; utime is field 14, stime 15.
  for (int n = 3; n <= 15 && fields >> field; ++n) {
    if (n == 14) utime = std::strtoull(field.c_str(), nullptr, 10);
    if (n == 15) stime = std::strtoull(field.c_str(), nullptr, 10);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

// The in-process server: the same wiring as trunkrouted (no store).
struct InProcessServer {
  std::unique_ptr<config::ConfigManager> manager;
  DefaultRandomSource random;
  std::unique_ptr<health::HealthTracker> tracker;
  std::unique_ptr<server::GrpcServer> server;

  bool Start() {
    auto parsed = config::ParseConfigJson(std::string(config::DefaultConfigJson()), "default");
    if (!parsed.ok()) return false;
    auto m = config::ConfigManager::Create(nullptr, RealClock::Get(), *parsed);
    if (!m.ok()) return false;
    manager = *std::move(m);
    tracker = std::make_unique<health::HealthTracker>(RealClock::Get(), &random, nullptr);
    tracker->ApplyTable(*manager->Current());
    server::GrpcServer::Options options;
    options.listen_address = "127.0.0.1:0";
    auto s = server::GrpcServer::Start(options, manager.get(), tracker.get());
    if (!s.ok()) {
      std::fprintf(stderr, "routecall_loadgen: %s\n", std::string(s.status().message()).c_str());
      return false;
    }
    server = *std::move(s);
    return true;
  }
};

std::shared_ptr<grpc::ChannelCredentials> Credentials(const Options& o) {
  if (o.tls_ca.empty() && o.tls_cert.empty()) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions tls;
  if (!o.tls_ca.empty()) tls.pem_root_certs = ReadFileOrDie(o.tls_ca);
  if (!o.tls_cert.empty()) {
    tls.pem_cert_chain = ReadFileOrDie(o.tls_cert);
    tls.pem_private_key = ReadFileOrDie(o.tls_key);
  }
  return grpc::SslCredentials(tls);
}

uint32_t Percentile(const std::vector<uint32_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t idx = static_cast<size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(idx, sorted.size() - 1)];
}

// Connection set-up cost: `handshakes` channels, one after the other, each its own TCP connection
// (and TLS handshake); the time from creating the channel to its first RouteCall's answer.
// With --session-cache the channels share one TLS session cache, so every handshake after the
// first can resume a session instead of doing a full one.
template <typename ArgsFn>
int RunHandshakes(const Options& options, const std::string& target,
                  const std::shared_ptr<grpc::ChannelCredentials>& credentials,
                  const std::string& authorization, bool tls, ArgsFn channel_args) {
  grpc_ssl_session_cache* cache =
      options.session_cache ? grpc_ssl_session_cache_create_lru(16) : nullptr;
  v1::RouteCallRequest request;
  request.set_dialed_number(options.number);
  std::vector<uint32_t> us;
  us.reserve(static_cast<size_t>(options.handshakes));
  int errors = 0;
  const auto begin = SteadyClock::now();
  for (int i = 0; i < options.handshakes; ++i) {
    grpc::ChannelArguments args = channel_args(1000000 + i);
    if (cache != nullptr) {
      const grpc_arg arg = grpc_ssl_session_cache_create_channel_arg(cache);
      args.SetPointerWithVtable(arg.key, arg.value.pointer.p, arg.value.pointer.vtable);
    }
    const auto start = SteadyClock::now();
    auto channel = grpc::CreateCustomChannel(target, credentials, args);
    auto stub = v1::RoutingService::NewStub(channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    ctx.set_wait_for_ready(true);
    if (!authorization.empty()) ctx.AddMetadata("authorization", authorization);
    v1::RouteCallResponse response;
    grpc::Status st = stub->RouteCall(&ctx, request, &response);
    const auto elapsed = SteadyClock::now() - start;
    if (!st.ok()) {
      if (++errors == 1) {
        std::fprintf(stderr, "routecall_loadgen: %s\n", st.error_message().c_str());
      }
      continue;
    }
    if (i > 0 || cache == nullptr) {  // the first of a cached run is the full handshake
      us.push_back(static_cast<uint32_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count()));
    }
  }
  const double total_s = std::chrono::duration<double>(SteadyClock::now() - begin).count();
  if (cache != nullptr) grpc_ssl_session_cache_destroy(cache);
  std::sort(us.begin(), us.end());
  std::printf("target            %s%s\n", target.c_str(), tls ? " over TLS" : " (plaintext)");
  std::printf("new channels      %d%s\n", options.handshakes,
              cache != nullptr ? " sharing a TLS session cache" : "");
  std::printf("errors            %d\n", errors);
  std::printf("set-ups/s         %.0f\n", static_cast<double>(options.handshakes) / total_s);
  std::printf("set-up p50        %u us\n", Percentile(us, 0.50));
  std::printf("set-up p90        %u us\n", Percentile(us, 0.90));
  std::printf("set-up p99        %u us\n", Percentile(us, 0.99));
  return errors == 0 ? 0 : 1;
}

// One measurement window's outcome (one line of output).
struct WindowResult {
  Method method = Method::kRoute;
  int rep = 0;
  uint64_t ok = 0;
  uint64_t errors = 0;
  double seconds = 0;
  double rate = 0;
  uint32_t p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0;
  double server_cpu_us = -1;   // server utime+stime per call finished in the window; -1: unknown
  double loadgen_cpu_us = -1;  // this process's (with an in-process server: both sides)
};

std::string CpuText(double us) {
  if (us < 0) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f", us);
  return buf;
}

void PrintWindow(const WindowResult& r) {
  std::printf(
      "window method=%s rep=%d calls_ok=%llu errors=%llu seconds=%.2f calls_per_s=%.0f "
      "p50_us=%u p90_us=%u p99_us=%u p999_us=%u max_us=%u server_cpu_us_per_call=%s "
      "loadgen_cpu_us_per_call=%s load=%s\n",
      MethodName(r.method), r.rep, static_cast<unsigned long long>(r.ok),
      static_cast<unsigned long long>(r.errors), r.seconds, r.rate, r.p50, r.p90, r.p99, r.p999,
      r.max, CpuText(r.server_cpu_us).c_str(), CpuText(r.loadgen_cpu_us).c_str(),
      LoadAverage().substr(0, LoadAverage().find(' ')).c_str());
  std::fflush(stdout);
}

// "median (min – max)" of the values; "n/a" when empty or unknown (< 0).
std::string Spread(std::vector<double> v, const char* format) {
  v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return x < 0; }), v.end());
  if (v.empty()) return "n/a";
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  const double median = n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  char m[32], lo[32], hi[32];
  std::snprintf(m, sizeof(m), format, median);
  std::snprintf(lo, sizeof(lo), format, v.front());
  std::snprintf(hi, sizeof(hi), format, v.back());
  return std::string(m) + " (" + lo + "-" + hi + ")";
}

// Per method: median (range) of calls/s, p50, p99 and server CPU per call; then RouteCall/Check
// per repetition (route rep i against health rep i), which --method both prints every run.
void PrintSummary(const std::vector<WindowResult>& results) {
  for (Method m : {Method::kRoute, Method::kHealth}) {
    std::vector<double> rate, p50, p99, cpu;
    for (const WindowResult& r : results) {
      if (r.method != m) continue;
      rate.push_back(r.rate);
      p50.push_back(r.p50);
      p99.push_back(r.p99);
      cpu.push_back(r.server_cpu_us);
    }
    if (rate.empty()) continue;
    std::printf("summary method=%s reps=%zu calls_per_s=%s p50_us=%s p99_us=%s "
                "server_cpu_us_per_call=%s\n",
                MethodName(m), rate.size(), Spread(rate, "%.0f").c_str(),
                Spread(p50, "%.0f").c_str(), Spread(p99, "%.0f").c_str(),
                Spread(cpu, "%.1f").c_str());
  }
  std::vector<double> rate_ratio, cpu_ratio;
  for (const WindowResult& route : results) {
    if (route.method != Method::kRoute) continue;
    for (const WindowResult& health : results) {
      if (health.method != Method::kHealth || health.rep != route.rep) continue;
      if (health.rate > 0) rate_ratio.push_back(route.rate / health.rate);
      if (route.server_cpu_us > 0 && health.server_cpu_us > 0) {
        cpu_ratio.push_back(route.server_cpu_us / health.server_cpu_us);
      }
    }
  }
  if (rate_ratio.empty()) {
    std::printf("ratio RouteCall/Check: n/a (--method both measures it)\n");
    return;
  }
  const double median_ratio = [&] {
    std::vector<double> v = rate_ratio;
    std::sort(v.begin(), v.end());
    return v.size() % 2 == 1 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  }();
  std::printf("ratio RouteCall/Check calls_per_s=%s server_cpu=%s %s\n",
              Spread(rate_ratio, "%.2f").c_str(), Spread(cpu_ratio, "%.2f").c_str(),
              median_ratio >= 0.9 ? "(>= 0.9: ok)" : "(BELOW 0.9)");
}

}  // namespace

int main(int argc, char** argv) {
  // As in trunkrouted: no absl::Mutex deadlock detection (Debian's Abseil has it on).
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  Options options;
  if (!ParseOptions(argc, argv, &options)) return 2;
  SetLogLevel(LogLevel::kWarn);

  InProcessServer in_process;
  std::string target = options.target;
  if (target.empty()) {
    if (!in_process.Start()) return 1;
    target = in_process.server->address();
  }

  const std::shared_ptr<grpc::ChannelCredentials> credentials = Credentials(options);
  const bool tls = !options.tls_ca.empty() || !options.tls_cert.empty();
  const std::string authorization = options.token.empty() ? "" : "Bearer " + options.token;
  auto channel_args = [&](int c) {
    grpc::ChannelArguments args;
    // A distinct argument per channel plus a local subchannel pool: one TCP connection each.
    args.SetInt("trunkroute.loadgen_channel", c);
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    if (!options.tls_server_name.empty()) args.SetSslTargetNameOverride(options.tls_server_name);
    return args;
  };
  if (options.handshakes > 0) {
    return RunHandshakes(options, target, credentials, authorization, tls, channel_args);
  }

  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<v1::RoutingService::Stub>> stubs;
  std::vector<std::unique_ptr<grpc::health::v1::Health::Stub>> health_stubs;
  for (int c = 0; c < options.channels; ++c) {
    channels.push_back(grpc::CreateCustomChannel(target, credentials, channel_args(c)));
    if (!channels.back()->WaitForConnected(std::chrono::system_clock::now() +
                                           std::chrono::seconds(5))) {
      std::fprintf(stderr, "routecall_loadgen: cannot connect to %s\n", target.c_str());
      return 1;
    }
    stubs.push_back(v1::RoutingService::NewStub(channels.back()));
    health_stubs.push_back(grpc::health::v1::Health::NewStub(channels.back()));
  }

  // The completion queues and their threads serve every window; each window has its own slots.
  std::vector<std::unique_ptr<grpc::CompletionQueue>> cqs;
  for (int t = 0; t < options.client_threads; ++t) {
    cqs.push_back(std::make_unique<grpc::CompletionQueue>());
  }
  std::vector<std::thread> cq_threads;
  for (auto& cq : cqs) {
    cq_threads.emplace_back([q = cq.get()] {
      void* tag = nullptr;
      bool ok = false;
      while (q->Next(&tag, &ok)) static_cast<Slot*>(tag)->Done();
    });
  }

  std::vector<Method> order;  // --method both: route, health, route, health, ...
  for (int rep = 0; rep < options.reps; ++rep) {
    if (options.method != "health") order.push_back(Method::kRoute);
    if (options.method != "route") order.push_back(Method::kHealth);
  }

  std::printf("target            %s%s%s\n", target.c_str(),
              options.target.empty() ? " (in-process)" : "", tls ? " over TLS" : "");
  std::printf("channels x depth  %d x %d (%d client thread%s)\n", options.channels, options.depth,
              options.client_threads, options.client_threads == 1 ? "" : "s");
  if (options.calls > 0) {
    std::printf("window            the first %llu calls after %.1f s warm-up (at most %.1f s)\n",
                static_cast<unsigned long long>(options.calls), options.warmup_s,
                options.duration_s);
  } else {
    std::printf("window            %.1f s after %.1f s warm-up\n", options.duration_s,
                options.warmup_s);
  }
  std::printf("server CPU        %s\n",
              options.server_pid.empty()
                  ? "not measured (no --server-pid)"
                  : ("utime+stime of pid " + options.server_pid + " over the window").c_str());
  std::printf("load average      %s (start)\n", LoadAverage().c_str());
  std::fflush(stdout);

  std::vector<WindowResult> results;
  bool failed = false;
  int rep_of[2] = {0, 0};
  for (Method method : order) {
    WindowResult r;
    r.method = method;
    r.rep = ++rep_of[static_cast<int>(method)];
    Run run;
    run.calls_target = options.calls;
    std::vector<std::unique_ptr<Slot>> slots;
    for (int c = 0; c < options.channels; ++c) {
      for (int d = 0; d < options.depth; ++d) {
        grpc::CompletionQueue* cq = cqs[slots.size() % cqs.size()].get();
        if (method == Method::kRoute) {
          slots.push_back(std::make_unique<RouteSlot>(stubs[c].get(), cq, &run, options.number,
                                                      authorization));
        } else {
          slots.push_back(std::make_unique<HealthSlot>(health_stubs[c].get(), cq, &run,
                                                       authorization));
        }
      }
    }
    for (auto& slot : slots) slot->Start();

    std::this_thread::sleep_for(std::chrono::duration<double>(options.warmup_s));
    const double server0 = options.server_pid.empty() ? -1 : ProcessCpuSeconds(options.server_pid);
    const double self0 = ProcessCpuSeconds("self");
    run.measuring = true;
    const auto begin = SteadyClock::now();
    if (run.calls_target > 0) {
      absl::MutexLock l(&run.mu);
      run.mu.AwaitWithTimeout(absl::Condition(&run.target_reached),
                              absl::Seconds(options.duration_s));
    } else {
      std::this_thread::sleep_for(std::chrono::duration<double>(options.duration_s));
    }
    run.measuring = false;
    r.seconds = std::chrono::duration<double>(SteadyClock::now() - begin).count();
    const double server1 = options.server_pid.empty() ? -1 : ProcessCpuSeconds(options.server_pid);
    const double self1 = ProcessCpuSeconds("self");
    run.stop = true;
    const auto drain_deadline = SteadyClock::now() + std::chrono::seconds(10);
    while (run.active_slots.load() > 0 && SteadyClock::now() < drain_deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }

    std::vector<uint32_t> all;
    for (const auto& slot : slots) {
      all.insert(all.end(), slot->latencies_us().begin(), slot->latencies_us().end());
    }
    if (run.active_slots.load() > 0) {
      std::fprintf(stderr, "routecall_loadgen: calls still in flight after 10 s\n");
      for (auto& slot : slots) slot.release();  // their calls may still complete: never freed
      failed = true;
    }
    slots.clear();
    std::sort(all.begin(), all.end());
    r.ok = all.size();
    r.errors = run.errors.load();
    r.rate = static_cast<double>(r.ok) / r.seconds;
    r.p50 = Percentile(all, 0.50);
    r.p90 = Percentile(all, 0.90);
    r.p99 = Percentile(all, 0.99);
    r.p999 = Percentile(all, 0.999);
    r.max = all.empty() ? 0 : all.back();
    const double finished = static_cast<double>(run.finished.load());
    if (finished > 0 && server0 >= 0 && server1 >= 0) {
      r.server_cpu_us = (server1 - server0) * 1e6 / finished;
    }
    if (finished > 0 && self0 >= 0 && self1 >= 0) r.loadgen_cpu_us = (self1 - self0) * 1e6 / finished;
    if (r.errors > 0 || r.ok == 0) failed = true;
    PrintWindow(r);
    results.push_back(r);
  }

  PrintSummary(results);
  std::printf("load average      %s (end)\n", LoadAverage().c_str());

  for (auto& cq : cqs) cq->Shutdown();
  for (auto& t : cq_threads) t.join();
  if (in_process.server) in_process.server->Shutdown(std::chrono::milliseconds(1000));
  return failed ? 1 : 0;
}
