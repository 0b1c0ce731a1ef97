// sip_edge_harness: the SIP edge alone (config from a JSON file, no gRPC/HTTP), for manual tests
// and for the benchmark driver while trunkrouted does not host the edge.
//   sip_edge_harness --config FILE [--sip-listen 127.0.0.1:5060] [--log-level info]
// Stops gracefully on SIGTERM/SIGINT.
#include <signal.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include "common/log.h"
#include "tests/sip/edge_harness.h"

int main(int argc, char** argv) {
  using namespace trunkroute;  // NOLINT: a main file
  std::string config_path;
  sip::EdgeOptions options;
  std::string level = "info";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string_view flag = argv[i];
    if (flag == "--config") {
      config_path = argv[i + 1];
    } else if (flag == "--sip-listen") {
      options.listen = argv[i + 1];
    } else if (flag == "--log-level") {
      level = argv[i + 1];
    } else {
      std::fprintf(stderr, "sip_edge_harness: unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  LogLevel l;
  if (config_path.empty() || !ParseLogLevel(level, &l)) {
    std::fprintf(stderr,
                 "usage: sip_edge_harness --config FILE [--sip-listen ADDR] "
                 "[--log-level LEVEL]\n");
    return 2;
  }
  SetLogLevel(l);
  std::ifstream in(config_path);
  std::stringstream text;
  text << in.rdbuf();
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  auto harness = sip::testing::EdgeHarness::Start(text.str(), options);
  if (!harness.ok()) {
    std::fprintf(stderr, "sip_edge_harness: %s\n", std::string(harness.status().message()).c_str());
    return 1;
  }
  LogInfo("sip edge serving", {{"sip", options.listen}});
  int sig = 0;
  while (sigwait(&stop, &sig) != 0) {
  }
  (*harness)->Stop();
  return 0;
}
