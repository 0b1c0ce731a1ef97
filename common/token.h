#ifndef TRUNKROUTE_COMMON_TOKEN_H_
#define TRUNKROUTE_COMMON_TOKEN_H_

#include <cstddef>
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

}  // namespace trunkroute

#endif  // TRUNKROUTE_COMMON_TOKEN_H_
