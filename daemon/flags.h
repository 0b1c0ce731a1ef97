#ifndef TRUNKROUTE_DAEMON_FLAGS_H_
#define TRUNKROUTE_DAEMON_FLAGS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/log.h"
#include "daemon/daemon.h"

namespace trunkroute::daemon {

// trunkrouted's command line. The flags are Abseil flags (ABSL_FLAG in flags.cc: type, default
// and help in one place); this front end keeps the names operators know (`--data-dir`, not
// `--data_dir`), accepts `--flag value` and `--flag=value`, and accepts only trunkrouted's own
// flags (not every flag some linked library registers).
struct CommandLine {
  DaemonOptions options;
  LogLevel log_level = LogLevel::kInfo;
  bool log_json = false;
  bool help = false;     // --help / -h: print Usage() and exit 0
  bool version = false;  // --version: print the version and exit 0
  // Accepted but worth the operator's attention (deprecated flags): main logs each as a warning.
  std::vector<std::string> warnings;
};

// Parses argv into a CommandLine; `environment` secrets (TRUNKROUTE_API_TOKEN) are read with
// getenv. InvalidArgument naming the flag and the reason: "unknown flag '--grpc-port'",
// "--data-dir: missing value", "--log-level: 'loud' is not debug, info, warn or error". Flags
// keep their values in the Abseil flag registry, so call this once per process (tests: under
// absl::FlagSaver).
absl::StatusOr<CommandLine> ParseCommandLine(int argc, char** argv);

// The --help text, generated from the flag definitions.
std::string Usage();

}  // namespace trunkroute::daemon

#endif  // TRUNKROUTE_DAEMON_FLAGS_H_
