// routecall_loadgen: drives RoutingService.RouteCall over loopback and reports calls/s and
// latency percentiles. Each of --channels channels (own TCP connection) keeps --depth calls in
// flight; a completed call immediately issues the next (closed loop) from the client's
// completion-queue thread(s) (gRPC async API). Bounded by --duration-s.
//
//   routecall_loadgen --target 127.0.0.1:50051 --duration-s 10 --channels 4 --depth 32
//   routecall_loadgen --duration-s 5            # in-process trunkroute server on 127.0.0.1:0
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/random.h"
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
};

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
    } else if (a == "--help" || a == "-h") {
      std::printf(
          "Usage: routecall_loadgen [--target HOST:PORT] [--duration-s S (0.1-300, default 10)]\n"
          "         [--warmup-s S (default 1)] [--channels N (default 4)] [--depth N calls in\n"
          "         flight per channel (default 32)] [--client-threads N (default 1)]\n"
          "         [--number E164 (default +15551234567)]\n"
          "Without --target an in-process server on 127.0.0.1:0 with the embedded default\n"
          "config is used.\n");
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
    std::fprintf(stderr, "routecall_loadgen: --channels 1-256, --depth 1-4096, --client-threads 1-64\n");
    return false;
  }
  return true;
}

// Shared run state. Latencies are recorded per slot (no lock per call) and merged at the end.
struct Run {
  std::atomic<bool> measuring{false};
  std::atomic<bool> stop{false};
  std::atomic<int> active_slots{0};
  std::atomic<uint64_t> errors{0};
  std::mutex done_mu;
  std::condition_variable done_cv;
};

// One closed-loop caller on the async API: at most one call in flight; the completion-queue
// thread that sees its answer records the latency and issues the next call at once (no thread
// hop, no lock per call).
class Slot {
 public:
  Slot(v1::RoutingService::Stub* stub, grpc::CompletionQueue* cq, Run* run,
       const std::string& number)
      : stub_(stub), cq_(cq), run_(run) {
    request_.set_dialed_number(number);
    latencies_us_.reserve(1 << 16);
  }

  void Start() {
    run_->active_slots.fetch_add(1);
    Issue();
  }
  const std::vector<uint32_t>& latencies_us() const { return latencies_us_; }

  // Called on the completion-queue thread when the call finished.
  void Done() {
    const auto elapsed = SteadyClock::now() - started_;
    if (run_->measuring.load(std::memory_order_relaxed)) {
      if (status_.ok() && response_.candidates_size() > 0) {
        latencies_us_.push_back(static_cast<uint32_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count()));
      } else {
        run_->errors.fetch_add(1, std::memory_order_relaxed);
      }
    }
    if (run_->stop.load(std::memory_order_relaxed)) {
      if (run_->active_slots.fetch_sub(1) == 1) {
        std::lock_guard<std::mutex> l(run_->done_mu);
        run_->done_cv.notify_all();
      }
      return;
    }
    Issue();
  }

 private:
  void Issue() {
    context_ = std::make_unique<grpc::ClientContext>();
    context_->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    response_.Clear();
    started_ = SteadyClock::now();
    reader_ = stub_->PrepareAsyncRouteCall(context_.get(), request_, cq_);
    reader_->StartCall();
    reader_->Finish(&response_, &status_, this);
  }

  v1::RoutingService::Stub* const stub_;
  grpc::CompletionQueue* const cq_;
  Run* const run_;
  v1::RouteCallRequest request_;
  v1::RouteCallResponse response_;
  grpc::Status status_;
  std::unique_ptr<grpc::ClientContext> context_;
  std::unique_ptr<grpc::ClientAsyncResponseReader<v1::RouteCallResponse>> reader_;
  SteadyClock::time_point started_;
  std::vector<uint32_t> latencies_us_;
};

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

uint32_t Percentile(const std::vector<uint32_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t idx = static_cast<size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(idx, sorted.size() - 1)];
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

  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<v1::RoutingService::Stub>> stubs;
  for (int c = 0; c < options.channels; ++c) {
    grpc::ChannelArguments args;
    // A distinct argument per channel plus a local subchannel pool: one TCP connection each.
    args.SetInt("trunkroute.loadgen_channel", c);
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    channels.push_back(
        grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args));
    if (!channels.back()->WaitForConnected(std::chrono::system_clock::now() +
                                           std::chrono::seconds(5))) {
      std::fprintf(stderr, "routecall_loadgen: cannot connect to %s\n", target.c_str());
      return 1;
    }
    stubs.push_back(v1::RoutingService::NewStub(channels.back()));
  }

  Run run;
  std::vector<std::unique_ptr<grpc::CompletionQueue>> cqs;
  for (int t = 0; t < options.client_threads; ++t) {
    cqs.push_back(std::make_unique<grpc::CompletionQueue>());
  }
  std::vector<std::unique_ptr<Slot>> slots;
  for (int c = 0; c < options.channels; ++c) {
    for (int d = 0; d < options.depth; ++d) {
      grpc::CompletionQueue* cq = cqs[slots.size() % cqs.size()].get();
      slots.push_back(std::make_unique<Slot>(stubs[c].get(), cq, &run, options.number));
    }
  }
  std::vector<std::thread> cq_threads;
  for (auto& cq : cqs) {
    cq_threads.emplace_back([q = cq.get()] {
      void* tag = nullptr;
      bool ok = false;
      while (q->Next(&tag, &ok)) static_cast<Slot*>(tag)->Done();
    });
  }
  for (auto& slot : slots) slot->Start();

  std::this_thread::sleep_for(std::chrono::duration<double>(options.warmup_s));
  run.measuring = true;
  const auto begin = SteadyClock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(options.duration_s));
  run.measuring = false;
  const double elapsed_s = std::chrono::duration<double>(SteadyClock::now() - begin).count();
  run.stop = true;
  {
    std::unique_lock<std::mutex> l(run.done_mu);
    run.done_cv.wait_for(l, std::chrono::seconds(10), [&] { return run.active_slots.load() == 0; });
  }

  for (auto& cq : cqs) cq->Shutdown();
  for (auto& t : cq_threads) t.join();

  std::vector<uint32_t> all;
  for (const auto& slot : slots) {
    all.insert(all.end(), slot->latencies_us().begin(), slot->latencies_us().end());
  }
  std::sort(all.begin(), all.end());
  const double rate = static_cast<double>(all.size()) / elapsed_s;
  std::printf("target            %s%s\n", target.c_str(), options.target.empty() ? " (in-process)" : "");
  std::printf("channels x depth  %d x %d (%d client thread%s)\n", options.channels, options.depth,
              options.client_threads, options.client_threads == 1 ? "" : "s");
  std::printf("duration          %.1f s (after %.1f s warm-up)\n", elapsed_s, options.warmup_s);
  std::printf("calls ok          %zu\n", all.size());
  std::printf("errors            %llu\n", static_cast<unsigned long long>(run.errors.load()));
  std::printf("calls/s           %.0f\n", rate);
  std::printf("latency p50       %u us\n", Percentile(all, 0.50));
  std::printf("latency p90       %u us\n", Percentile(all, 0.90));
  std::printf("latency p99       %u us\n", Percentile(all, 0.99));
  std::printf("latency p99.9     %u us\n", Percentile(all, 0.999));
  std::printf("latency max       %u us\n", all.empty() ? 0 : all.back());
  slots.clear();
  if (in_process.server) in_process.server->Shutdown(std::chrono::milliseconds(1000));
  return run.errors.load() == 0 && !all.empty() ? 0 : 1;
}
