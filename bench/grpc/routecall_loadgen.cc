// routecall_loadgen: drives RoutingService.RouteCall over loopback and reports calls/s and
// latency percentiles. Each of --channels channels (own TCP connection) keeps --depth calls in
// flight; a completed call immediately issues the next (closed loop) from the client's
// completion-queue thread(s) (gRPC async API). Bounded by --duration-s.
//
//   routecall_loadgen --target 127.0.0.1:50051 --duration-s 10 --channels 4 --depth 32
//   routecall_loadgen --duration-s 5            # in-process trunkroute server on 127.0.0.1:0
//   routecall_loadgen --target 127.0.0.1:50051 --tls-ca ca.pem --token "$TOKEN"   # over TLS
//   routecall_loadgen --target ... --tls-ca ca.pem --handshakes 500 [--session-cache]
//       # connection set-up cost: a new channel (TCP + TLS handshake) and one call, N times
#include <grpc/grpc_security.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
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
  // TLS (a trunkrouted with --api-tls-cert): trusted CAs, optional client certificate.
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
  std::string tls_server_name;
  std::string token;  // sent as "authorization: Bearer <token>"
  // > 0: measure connection set-up instead of throughput.
  int handshakes = 0;
  bool session_cache = false;  // share one TLS session cache across the new channels
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
    } else if (a == "--help" || a == "-h") {
      std::printf(
          "Usage: routecall_loadgen [--target HOST:PORT] [--duration-s S (0.1-300, default 10)]\n"
          "         [--warmup-s S (default 1)] [--channels N (default 4)] [--depth N calls in\n"
          "         flight per channel (default 32)] [--client-threads N (default 1)]\n"
          "         [--number E164 (default +15551234567)]\n"
          "         [--tls-ca FILE [--tls-cert FILE --tls-key FILE] [--tls-server-name NAME]]\n"
          "         [--token TOKEN] [--handshakes N [--session-cache]]\n"
          "Without --target an in-process server on 127.0.0.1:0 with the embedded default\n"
          "config is used (plaintext). --handshakes N opens N new channels one after the other\n"
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
  return true;
}

// Shared run state. Latencies are recorded per slot (no lock per call) and merged at the end.
struct Run {
  std::atomic<bool> measuring{false};
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> errors{0};
  absl::Mutex done_mu;
  int active_slots ABSL_GUARDED_BY(done_mu) = 0;  // slots started and not stopped yet
};

// One closed-loop caller on the async API: at most one call in flight; the completion-queue
// thread that sees its answer records the latency and issues the next call at once (no thread
// hop, no lock per call).
class Slot {
 public:
  Slot(v1::RoutingService::Stub* stub, grpc::CompletionQueue* cq, Run* run,
       const std::string& number, const std::string& authorization)
      : stub_(stub), cq_(cq), run_(run), authorization_(authorization) {
    request_.set_dialed_number(number);
    latencies_us_.reserve(1 << 16);
  }

  void Start() {
    {
      absl::MutexLock l(&run_->done_mu);
      ++run_->active_slots;
    }
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
      absl::MutexLock l(&run_->done_mu);
      --run_->active_slots;
      return;
    }
    Issue();
  }

 private:
  void Issue() {
    context_ = std::make_unique<grpc::ClientContext>();
    context_->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    if (!authorization_.empty()) context_->AddMetadata("authorization", authorization_);
    response_.Clear();
    started_ = SteadyClock::now();
    reader_ = stub_->PrepareAsyncRouteCall(context_.get(), request_, cq_);
    reader_->StartCall();
    reader_->Finish(&response_, &status_, this);
  }

  v1::RoutingService::Stub* const stub_;
  grpc::CompletionQueue* const cq_;
  Run* const run_;
  const std::string authorization_;
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
  for (int c = 0; c < options.channels; ++c) {
    channels.push_back(grpc::CreateCustomChannel(target, credentials, channel_args(c)));
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
      slots.push_back(
          std::make_unique<Slot>(stubs[c].get(), cq, &run, options.number, authorization));
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
    absl::MutexLock l(&run.done_mu);
    run.done_mu.AwaitWithTimeout(
        absl::Condition(+[](int* active) { return *active == 0; }, &run.active_slots),
        absl::Seconds(10));
  }

  for (auto& cq : cqs) cq->Shutdown();
  for (auto& t : cq_threads) t.join();

  std::vector<uint32_t> all;
  for (const auto& slot : slots) {
    all.insert(all.end(), slot->latencies_us().begin(), slot->latencies_us().end());
  }
  std::sort(all.begin(), all.end());
  const double rate = static_cast<double>(all.size()) / elapsed_s;
  std::printf("target            %s%s%s\n", target.c_str(),
              options.target.empty() ? " (in-process)" : "", tls ? " over TLS" : "");
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
