#include "cli/args.h"

#include <charconv>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"

namespace trunkroute::cli {
namespace {

std::string Quote(std::string_view s) { return "'" + std::string(s) + "'"; }

const FlagSpec* FindSpec(const std::vector<FlagSpec>& specs, std::string_view name) {
  for (const FlagSpec& spec : specs) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

const FlagSpec* FindShort(const std::vector<FlagSpec>& specs, char short_name) {
  for (const FlagSpec& spec : specs) {
    if (spec.short_name != 0 && spec.short_name == short_name) return &spec;
  }
  return nullptr;
}

bool IsShortFlag(const std::string& word) {
  return word.size() == 2 && word[0] == '-' &&
         absl::ascii_isalpha(static_cast<unsigned char>(word[1]));
}

}  // namespace

std::optional<std::string> ParsedArgs::Get(std::string_view name) const {
  auto it = flags.find(std::string(name));
  if (it == flags.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> ParseArgs(const std::vector<std::string>& words,
                                     const std::vector<FlagSpec>& specs, ParsedArgs* out) {
  bool flags_done = false;
  for (size_t i = 0; i < words.size(); ++i) {
    const std::string& word = words[i];
    if (!flags_done && IsShortFlag(word)) {
      const FlagSpec* spec = FindShort(specs, word[1]);
      if (spec == nullptr) return "unknown flag " + word;
      if (!spec->takes_value) {
        out->flags[spec->name] = "";
      } else if (i + 1 < words.size()) {
        out->flags[spec->name] = words[++i];
      } else {
        return "flag " + word + " needs a value";
      }
      continue;
    }
    // A lone "-" and negative-looking numbers are not flags; only "--name" forms are.
    if (flags_done || word.size() < 3 || word.compare(0, 2, "--") != 0) {
      if (!flags_done && word == "--") {
        flags_done = true;
        continue;
      }
      out->positional.push_back(word);
      continue;
    }
    std::string name = word.substr(2);
    std::optional<std::string> inline_value;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      inline_value = name.substr(eq + 1);
      name.resize(eq);
    }
    const FlagSpec* spec = FindSpec(specs, name);
    if (spec == nullptr) return "unknown flag --" + name;
    if (!spec->takes_value) {
      if (inline_value) return "flag --" + name + " takes no value";
      out->flags[name] = "";
      continue;
    }
    if (inline_value) {
      out->flags[name] = *inline_value;
    } else if (i + 1 < words.size()) {
      out->flags[name] = words[++i];
    } else {
      return "flag --" + name + " needs a value";
    }
  }
  return std::nullopt;
}

std::optional<std::string> ParseUint64(std::string_view flag, std::string_view text,
                                       uint64_t* out) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    return "--" + std::string(flag) + ": " + Quote(text) + " is not a non-negative integer";
  }
  *out = value;
  return std::nullopt;
}

std::optional<std::string> ParseUint32(std::string_view flag, std::string_view text,
                                       uint32_t* out) {
  uint64_t value = 0;
  if (auto err = ParseUint64(flag, text, &value)) return err;
  if (value > std::numeric_limits<uint32_t>::max()) {
    return "--" + std::string(flag) + ": " + Quote(text) + " is too large";
  }
  *out = static_cast<uint32_t>(value);
  return std::nullopt;
}

std::optional<std::string> ParseOnOff(std::string_view flag, std::string_view text, bool* out) {
  std::string t = absl::AsciiStrToLower(absl::string_view(text.data(), text.size()));
  if (t == "on" || t == "true" || t == "yes" || t == "1") {
    *out = true;
  } else if (t == "off" || t == "false" || t == "no" || t == "0") {
    *out = false;
  } else {
    return "--" + std::string(flag) + ": " + Quote(text) + " is not on or off";
  }
  return std::nullopt;
}

std::optional<std::string> ParseUintList(std::string_view flag, std::string_view text,
                                         std::vector<uint32_t>* out) {
  out->clear();
  for (absl::string_view part :
       absl::StrSplit(absl::string_view(text.data(), text.size()), ',', absl::SkipWhitespace())) {
    part = absl::StripAsciiWhitespace(part);
    uint32_t value = 0;
    if (auto err = ParseUint32(flag, std::string_view(part.data(), part.size()), &value)) {
      return err;
    }
    out->push_back(value);
  }
  if (out->empty()) return "--" + std::string(flag) + ": expected a comma-separated list";
  return std::nullopt;
}

}  // namespace trunkroute::cli
