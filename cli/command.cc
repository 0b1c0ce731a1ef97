#include "cli/command.h"

#include "absl/strings/str_join.h"

namespace trunkroute::cli {

std::string Command::Name() const { return absl::StrJoin(words, " "); }

int CommandEnv::Usage(const std::string& message) const {
  err << "error: " << message << "\nrun 'trunkroutectl " << command.Name()
      << " --help' for usage\n";
  return kExitUsage;
}

}  // namespace trunkroute::cli
