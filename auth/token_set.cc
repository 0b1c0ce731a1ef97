#include "auth/token_set.h"

#include <openssl/evp.h>

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/secret_file.h"

namespace trunkroute::auth {
namespace {

constexpr std::string_view kHashPrefix = "sha256:";

// Secrets our own docs and manifests show as examples, or that people type when asked for one.
// A tokens file holds hashes, so these are the only weak secrets it can be checked for.
constexpr std::string_view kPlaceholders[] = {
    "",       "change-me", "changeme", "CHANGE-ME", "CHANGEME", "change-me-to-a-long-random-string",
    "secret", "token",     "password", "s3cret",    "test",
};

std::string_view ToStd(absl::string_view s) { return std::string_view(s.data(), s.size()); }
absl::string_view A(std::string_view s) { return absl::string_view(s.data(), s.size()); }

bool IsNameChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' ||
         c == '@';
}

std::string DigestKey(const Sha256Digest& d) {
  return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

bool ParseHex(std::string_view hex, Sha256Digest* out) {
  if (hex.size() != 64) return false;
  for (size_t i = 0; i < 32; ++i) {
    int value = 0;
    for (size_t k = 0; k < 2; ++k) {
      const char c = absl::ascii_tolower(static_cast<unsigned char>(hex[2 * i + k]));
      int nibble;
      if (c >= '0' && c <= '9') {
        nibble = c - '0';
      } else if (c >= 'a' && c <= 'f') {
        nibble = c - 'a' + 10;
      } else {
        return false;
      }
      value = value * 16 + nibble;
    }
    (*out)[i] = static_cast<uint8_t>(value);
  }
  return true;
}

// Which placeholder `digest` is the hash of, if any.
const std::string_view* PlaceholderFor(const Sha256Digest& digest) {
  for (const std::string_view& p : kPlaceholders) {
    if (Sha256(p) == digest) return &p;
  }
  return nullptr;
}

}  // namespace

Sha256Digest Sha256(std::string_view data) {
  Sha256Digest out{};
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr);
  return out;
}

std::string DigestHex(const Sha256Digest& digest) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(64);
  for (uint8_t b : digest) {
    out += kHex[b >> 4];
    out += kHex[b & 0x0f];
  }
  return out;
}

absl::Status CheckSecretStrength(std::string_view secret, std::string_view source) {
  const std::string lower = absl::AsciiStrToLower(absl::string_view(secret.data(), secret.size()));
  const std::string where(source);
  if (lower.rfind("change-me", 0) == 0 || lower.rfind("changeme", 0) == 0 ||
      lower.rfind("change_me", 0) == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(where,
                     ": the token is still the placeholder ('change-me…'); generate one with "
                     "'openssl rand -hex 32'"));
  }
  if (secret.size() < kMinSecretLength) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": the token is ", secret.size(), " characters long; at least ",
                     kMinSecretLength, " are required (generate one with 'openssl rand -hex 32')"));
  }
  bool one_char = true;
  for (char c : secret) one_char = one_char && c == secret.front();
  if (one_char) {
    return absl::InvalidArgumentError(
        absl::StrCat(where,
                     ": the token is one character repeated; generate one with "
                     "'openssl rand -hex 32'"));
  }
  return absl::OkStatus();
}

absl::StatusOr<TokenSet> TokenSet::Parse(std::string_view text, std::string_view source) {
  TokenSet set;
  std::vector<std::string> problems;
  // name → line, digest → (name, line): for the duplicate messages.
  absl::flat_hash_map<std::string, int> line_of_name;
  absl::flat_hash_map<std::string, std::pair<std::string, int>> owner_of_digest;
  int line_number = 0;
  for (absl::string_view raw : absl::StrSplit(absl::string_view(text.data(), text.size()), '\n')) {
    ++line_number;
    std::string_view line = ToStd(raw);
    if (size_t hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    std::vector<absl::string_view> fields = absl::StrSplit(
        absl::string_view(line.data(), line.size()), absl::ByAnyChar(" \t\r"), absl::SkipEmpty());
    if (fields.empty()) continue;
    const std::string where = absl::StrCat(A(source), ":", line_number, ": ");
    if (fields.size() != 3) {
      problems.push_back(absl::StrCat(where, "expected NAME SCOPE[,SCOPE...] sha256:HEX, found ",
                                      fields.size(), " field", fields.size() == 1 ? "" : "s"));
      continue;
    }
    bool ok = true;
    TokenEntry entry;
    entry.source = absl::StrCat(A(source), ":", line_number);
    // NAME
    const std::string_view name = ToStd(fields[0]);
    bool name_ok = name.size() <= 64;
    for (char c : name) name_ok = name_ok && IsNameChar(c);
    if (!name_ok) {
      problems.push_back(absl::StrCat(where, "name '", A(name),
                                      "': use 1-64 letters, digits, '.', '_', '-' or '@'"));
      ok = false;
    }
    entry.name = std::string(name);
    // SCOPES
    for (absl::string_view word : absl::StrSplit(fields[1], ',')) {
      std::optional<Scope> scope = ParseScope(ToStd(word));
      if (!scope) {
        problems.push_back(absl::StrCat(
            where, word.empty() ? std::string("empty scope in '") + std::string(fields[1]) + "'"
                                : absl::StrCat("scope '", word,
                                               "' is not read, route, write or "
                                               "admin")));
        ok = false;
        continue;
      }
      if (entry.scopes.Has(*scope)) {
        problems.push_back(absl::StrCat(where, "scope '", word, "' is listed twice"));
        ok = false;
      }
      entry.scopes = entry.scopes.With(*scope);
    }
    // sha256:HEX. Never echo this field: it may be the token itself, pasted by mistake.
    const std::string_view hash = ToStd(fields[2]);
    if (hash.substr(0, kHashPrefix.size()) != kHashPrefix) {
      problems.push_back(absl::StrCat(
          where,
          "third field must be sha256:<64 hex digits>, the SHA-256 of the token, never the "
          "token itself (printf %s \"$TOKEN\" | sha256sum)"));
      ok = false;
    } else if (!ParseHex(hash.substr(kHashPrefix.size()), &entry.digest)) {
      problems.push_back(absl::StrCat(where, "sha256: must be followed by exactly 64 hex digits (",
                                      hash.size() - kHashPrefix.size(), " characters found)"));
      ok = false;
    } else if (const std::string_view* placeholder = PlaceholderFor(entry.digest)) {
      problems.push_back(absl::StrCat(where, "token '", A(name), "' is ",
                                      placeholder->empty()
                                          ? std::string("the empty string")
                                          : absl::StrCat("the placeholder '", A(*placeholder), "'"),
                                      "; generate a token with 'openssl rand -hex 32'"));
      ok = false;
    }
    if (!ok) continue;
    if (auto it = line_of_name.find(entry.name); it != line_of_name.end()) {
      problems.push_back(
          absl::StrCat(where, "name '", entry.name, "' is already used on line ", it->second));
      continue;
    }
    const std::string key = DigestKey(entry.digest);
    if (auto it = owner_of_digest.find(key); it != owner_of_digest.end()) {
      problems.push_back(absl::StrCat(where, "token '", entry.name, "' has the same hash as '",
                                      it->second.first, "' on line ", it->second.second,
                                      ": one token, one line"));
      continue;
    }
    line_of_name[entry.name] = line_number;
    owner_of_digest[key] = {entry.name, line_number};
    set.by_digest_[key] = set.entries_.size();
    set.entries_.push_back(std::move(entry));
  }
  if (problems.empty() && set.empty()) {
    problems.push_back(absl::StrCat(A(source),
                                    ": no tokens (a tokens file without one would refuse "
                                    "every request)"));
  }
  if (!problems.empty()) return absl::InvalidArgumentError(absl::StrJoin(problems, "\n"));
  return set;
}

absl::StatusOr<TokenSet> TokenSet::LoadFile(const std::string& path) {
  auto text = ReadSecretFile(path, "--api-tokens-file");
  if (!text.ok()) return text.status();
  return Parse(*text, path);
}

absl::StatusOr<TokenSet> TokenSet::FromSecret(std::string_view secret, std::string_view name,
                                              ScopeSet scopes, std::string_view source) {
  if (absl::Status st = CheckSecretStrength(secret, source); !st.ok()) return st;
  TokenSet set;
  TokenEntry entry;
  entry.name = std::string(name);
  entry.scopes = scopes;
  entry.digest = Sha256(secret);
  entry.source = std::string(source);
  set.by_digest_[DigestKey(entry.digest)] = 0;
  set.entries_.push_back(std::move(entry));
  return set;
}

absl::Status TokenSet::Merge(const TokenSet& other) {
  for (const TokenEntry& e : other.entries_) {
    for (const TokenEntry& mine : entries_) {
      if (mine.name == e.name) {
        return absl::InvalidArgumentError(absl::StrCat("token name '", e.name, "' of ", e.source,
                                                       " is already used by ", mine.source));
      }
      if (mine.digest == e.digest) {
        return absl::InvalidArgumentError(absl::StrCat("token '", e.name, "' of ", e.source,
                                                       " is the same token as '", mine.name,
                                                       "' of ", mine.source));
      }
    }
  }
  for (const TokenEntry& e : other.entries_) {
    by_digest_[DigestKey(e.digest)] = entries_.size();
    entries_.push_back(e);
  }
  return absl::OkStatus();
}

const TokenEntry* TokenSet::Find(std::string_view presented) const {
  if (entries_.empty()) return nullptr;
  auto it = by_digest_.find(DigestKey(Sha256(presented)));
  return it == by_digest_.end() ? nullptr : &entries_[it->second];
}

}  // namespace trunkroute::auth
