// Config documents come from operators over the API and from files. Property: whatever parses
// and passes ValidateConfig also compiles into a RoutingTable. The validator is the only gate
// before a config is stored and served; a config it accepts that the compiler then rejects would
// be stored but could not be served after a restart.
#include <cstddef>
#include <cstdint>
#include <string>

#include "config/config_store.h"
#include "router/config_validator.h"
#include "router/routing_table.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;  // large documents add time, not coverage
  const std::string text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<trunkroute::v1::Config> config = trunkroute::config::ParseConfigJson(text, "fuzz");
  if (!config.ok()) return 0;
  const absl::Status valid = trunkroute::router::ValidateConfig(*config);
  if (!valid.ok()) {
    FUZZ_CHECK(!valid.message().empty());
    return 0;
  }
  auto table = trunkroute::router::RoutingTable::Create(*config);
  if (!table.ok()) {
    std::fprintf(stderr, "validated config failed to compile: %s\n",
                 std::string(table.status().message()).c_str());
  }
  FUZZ_CHECK(table.ok());
  return 0;
}
