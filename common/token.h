#ifndef TRUNKROUTE_COMMON_TOKEN_H_
#define TRUNKROUTE_COMMON_TOKEN_H_

#include <cctype>
#include <cstddef>
#include <optional>
#include <string_view>

namespace trunkroute {

// Compares a presented secret with the configured one in time that depends only on the
// configured one's length, never on where they differ, so response timing leaks nothing about
// the token. Shared by the gRPC and HTTP bearer-token checks.
inline bool TokenEquals(std::string_view presented, std::string_view configured) {
  unsigned char diff = presented.size() == configured.size() ? 0 : 1;
  for (size_t i = 0; i < configured.size(); ++i) {
    const unsigned char p = i < presented.size() ? static_cast<unsigned char>(presented[i]) : 0;
    diff |= static_cast<unsigned char>(p ^ static_cast<unsigned char>(configured[i]));
  }
  return diff == 0;
}

enum class BearerCheck { kOk, kMissing, kWrongScheme, kWrongToken };

// The one reading of an `Authorization: Bearer <token>` value for both APIs (HTTP header, gRPC
// metadata): the scheme is case-insensitive (RFC 7235), blanks around the token are ignored, the
// token is compared with TokenEquals. `header` is nullopt when the request has none.
inline BearerCheck CheckBearer(std::optional<std::string_view> header, std::string_view token) {
  if (!header) return BearerCheck::kMissing;
  constexpr std::string_view kScheme = "bearer ";
  if (header->size() < kScheme.size()) return BearerCheck::kWrongScheme;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>((*header)[i])) != kScheme[i]) {
      return BearerCheck::kWrongScheme;
    }
  }
  std::string_view presented = header->substr(kScheme.size());
  while (!presented.empty() && std::isspace(static_cast<unsigned char>(presented.front()))) {
    presented.remove_prefix(1);
  }
  while (!presented.empty() && std::isspace(static_cast<unsigned char>(presented.back()))) {
    presented.remove_suffix(1);
  }
  return TokenEquals(presented, token) ? BearerCheck::kOk : BearerCheck::kWrongToken;
}

}  // namespace trunkroute

#endif  // TRUNKROUTE_COMMON_TOKEN_H_
