#include "config/config_store.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "router/routing_table.h"

namespace trunkroute::config {

absl::Status ParseConfigInto(const std::string& text, v1::Config* config) {
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) {
    return absl::InvalidArgumentError("the document is empty");
  }
  // The protobuf JSON mapping with unknown fields rejected: a misspelt field in a hand-written
  // config must be an error, not silently ignored.
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto st = google::protobuf::util::JsonStringToMessage(text, config, options);
  if (st.ok()) return absl::OkStatus();
  std::string msg(st.message().data(), st.message().size());
  if (msg.empty()) msg = "not a valid config document";
  return absl::InvalidArgumentError(msg);
}

absl::StatusOr<v1::Config> ParseConfigJson(const std::string& text, const std::string& source) {
  v1::Config config;
  if (absl::Status st = ParseConfigInto(text, &config); !st.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", st.message()));
  }
  return config;
}

std::string ConfigToJson(const v1::Config& config) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  std::string out;
  // Only fails for messages with Any fields pointing at unknown types; Config has none.
  (void)google::protobuf::util::MessageToJsonString(config, &out, options);
  return out;
}

absl::StatusOr<SeededConfig> LoadOrSeed(ConfigStore& store, int64_t now_unix_ms,
                                        const std::function<absl::StatusOr<v1::Config>()>& seed) {
  // Two rounds at most: empty → our seed loses the create-if-absent race → the winner's config.
  for (int round = 0; round < 2; ++round) {
    auto loaded = store.Load();
    if (!loaded.ok()) return loaded.status();
    if (loaded->has_value()) return SeededConfig{**std::move(loaded), false};
    auto initial = seed();
    if (!initial.ok()) return initial.status();
    // Only a config that would serve is stored: an invalid bootstrap file must not become the
    // stored config that every later start refuses.
    if (auto table = router::RoutingTable::Create(*initial); !table.ok()) return table.status();
    // A fresh store starts at version 1 whatever the seed document says.
    initial->set_version(1);
    initial->set_applied_at_unix_ms(now_unix_ms);
    auto revision = store.Save(*initial, ConfigStore::kNoRevision);
    if (revision.ok()) return SeededConfig{StoredConfig{*std::move(initial), *revision}, true};
    if (!absl::IsAborted(revision.status())) return revision.status();
  }
  return absl::AbortedError(
      absl::StrCat(store.Describe(), ": the config was seeded and removed again while starting"));
}

}  // namespace trunkroute::config
