#ifndef TRUNKROUTE_CONFIG_DEFAULT_CONFIG_H_
#define TRUNKROUTE_CONFIG_DEFAULT_CONFIG_H_

#include <string_view>

namespace trunkroute::config {

// The embedded default config: deploy/trunkroute.example.json, compiled in at build time, so a
// fresh data directory without --bootstrap-config still serves something useful (two loopback
// demo trunks). JSON text; parse with ParseConfigJson.
std::string_view DefaultConfigJson();

}  // namespace trunkroute::config

#endif  // TRUNKROUTE_CONFIG_DEFAULT_CONFIG_H_
