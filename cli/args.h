#ifndef TRUNKROUTE_CLI_ARGS_H_
#define TRUNKROUTE_CLI_ARGS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace trunkroute::cli {

// One accepted flag of a command: `--name VALUE` / `--name=VALUE` (or `-x VALUE` with a short
// name) when takes_value, else a switch (`--name`).
struct FlagSpec {
  std::string name;  // without the leading "--"; also the key in ParsedArgs::flags
  bool takes_value = true;
  char short_name = 0;  // e.g. 'f' for -f; 0 = none
};

struct ParsedArgs {
  std::vector<std::string> positional;
  std::map<std::string, std::string> flags;  // switches map to ""

  bool Has(std::string_view name) const { return flags.count(std::string(name)) > 0; }
  std::optional<std::string> Get(std::string_view name) const;
};

// Parses argv-style words against `specs`. An unknown flag or a missing value is an error
// message (the caller turns it into a usage error). "--" ends flag parsing.
std::optional<std::string> ParseArgs(const std::vector<std::string>& words,
                                     const std::vector<FlagSpec>& specs, ParsedArgs* out);

// Value parsers: each returns an error naming the flag when the text does not fit.
std::optional<std::string> ParseUint32(std::string_view flag, std::string_view text, uint32_t* out);
std::optional<std::string> ParseUint64(std::string_view flag, std::string_view text, uint64_t* out);
// on|off, true|false, yes|no, 1|0.
std::optional<std::string> ParseOnOff(std::string_view flag, std::string_view text, bool* out);
// Comma-separated unsigned integers, e.g. "503,408".
std::optional<std::string> ParseUintList(std::string_view flag, std::string_view text,
                                         std::vector<uint32_t>* out);

}  // namespace trunkroute::cli

#endif  // TRUNKROUTE_CLI_ARGS_H_
