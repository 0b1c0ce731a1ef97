#ifndef TRUNKROUTE_CLI_JSON_H_
#define TRUNKROUTE_CLI_JSON_H_

#include <optional>
#include <string>
#include <vector>

#include "google/protobuf/message.h"
#include "trunkroute/v1/config.pb.h"

namespace trunkroute::cli {

// Machine output: the protobuf JSON mapping with proto field names (snake_case, as in config
// files) and enum names. `one_line` gives JSON lines (streams); otherwise pretty.
// `with_defaults` prints zero-valued scalar fields too, so scripts never see a missing key.
std::string ToJson(const google::protobuf::Message& message, bool one_line = false,
                   bool with_defaults = true);

// Reads a whole file ("-" reads stdin). The error names the path and the errno text.
std::optional<std::string> ReadFile(const std::string& path, std::string* out);

// Parses protobuf JSON into `message`; unknown fields are errors (a typo must not be silently
// dropped from a config). The error names `source`.
std::optional<std::string> ParseJson(const std::string& text, const std::string& source,
                                     google::protobuf::Message* message);

// `trunks apply` documents: one Trunk object, or {"trunks": [...]}.
std::optional<std::string> ParseTrunksDocument(const std::string& text, const std::string& source,
                                               std::vector<v1::Trunk>* out);
// `routes apply` documents: one Route object, or {"routes": [...]}.
std::optional<std::string> ParseRoutesDocument(const std::string& text, const std::string& source,
                                               std::vector<v1::Route>* out);

}  // namespace trunkroute::cli

#endif  // TRUNKROUTE_CLI_JSON_H_
