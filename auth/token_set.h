#ifndef TRUNKROUTE_AUTH_TOKEN_SET_H_
#define TRUNKROUTE_AUTH_TOKEN_SET_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "auth/scope.h"

namespace trunkroute::auth {

using Sha256Digest = std::array<uint8_t, 32>;

// One API token as configured: who it is, what it may do, and the SHA-256 of the secret. The
// secret itself is never stored.
struct TokenEntry {
  std::string name;  // e.g. "genesys-prod": logged as the principal, never the token
  ScopeSet scopes;
  Sha256Digest digest{};
  std::string source;  // "FILE:LINE" or the flag it came from, for messages
};

// The tokens an API accepts, looked up by the SHA-256 of the presented token. Immutable once
// built; the authorizer swaps whole sets on reload.
//
// Lookup hashes the presented token and finds the digest in a hash map. The time taken depends
// on the digest, never on how much of the secret matched: an attacker learns nothing about a
// token from timing (only about a SHA-256 output, which does not help find its input).
class TokenSet {
 public:
  TokenSet() = default;

  // Parses the --api-tokens-file format, one token a line:
  //   NAME SCOPE[,SCOPE...] sha256:HEX      # comment
  // NAME: 1-64 of letters, digits, '.', '_', '-', '@'; SCOPE: read, route, write, admin; HEX: the
  // 64 hex digits of SHA-256(token) (`printf %s "$TOKEN" | sha256sum`). '#' starts a comment;
  // blank lines are ignored. Every malformed line is reported, all at once, as
  // "SOURCE:LINE: what is wrong" in one InvalidArgument (nothing is taken then). Duplicate names
  // or hashes are errors; so is a file with no token (it would refuse everything), and a hash of
  // the empty string or of a placeholder such as "change-me" (the one strength check a hash
  // allows). A field that is not a hash is never echoed: it may be a pasted token.
  static absl::StatusOr<TokenSet> Parse(std::string_view text, std::string_view source);

  // Reads FILE with ReadSecretFile (common/secret_file.h: owner-only mode enforced) and parses
  // it. Errors name the flag and the file.
  static absl::StatusOr<TokenSet> LoadFile(const std::string& path);

  // The single token of --api-token-file / TRUNKROUTE_API_TOKEN: one entry with `scopes`, named
  // `name`. CheckSecretStrength() first: a placeholder or short secret is refused, naming
  // `source` (the flag or variable) and never the secret.
  static absl::StatusOr<TokenSet> FromSecret(std::string_view secret, std::string_view name,
                                             ScopeSet scopes, std::string_view source);

  // Adds every entry of `other`. InvalidArgument naming both sources on a duplicate name or
  // digest; nothing is added then.
  absl::Status Merge(const TokenSet& other);

  // The entry whose digest is SHA-256(presented), or nullptr.
  const TokenEntry* Find(std::string_view presented) const;

  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  const std::vector<TokenEntry>& entries() const { return entries_; }

 private:
  std::vector<TokenEntry> entries_;
  // Digest bytes → index in entries_.
  absl::flat_hash_map<std::string, size_t> by_digest_;
};

// SHA-256 of `data`.
Sha256Digest Sha256(std::string_view data);
// Lower-case hex of a digest.
std::string DigestHex(const Sha256Digest& digest);

// The secrets trunkrouted is given in clear (the single API token, the metrics token) must not be
// placeholders: InvalidArgument naming `source` when the secret starts with "change-me" (any
// case, also "changeme"), is shorter than kMinSecretLength characters, or is one character
// repeated. The secret never appears in the message.
inline constexpr size_t kMinSecretLength = 32;
absl::Status CheckSecretStrength(std::string_view secret, std::string_view source);

}  // namespace trunkroute::auth

#endif  // TRUNKROUTE_AUTH_TOKEN_SET_H_
