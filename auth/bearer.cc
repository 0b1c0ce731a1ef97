#include "auth/bearer.h"

#include <cctype>
#include <cstddef>

namespace trunkroute::auth {

BearerCredential ParseBearer(std::optional<std::string_view> header) {
  BearerCredential out;
  if (!header) return out;
  constexpr std::string_view kScheme = "bearer ";
  out.result = BearerParse::kWrongScheme;
  if (header->size() < kScheme.size()) return out;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>((*header)[i])) != kScheme[i]) return out;
  }
  std::string_view presented = header->substr(kScheme.size());
  while (!presented.empty() && std::isspace(static_cast<unsigned char>(presented.front()))) {
    presented.remove_prefix(1);
  }
  while (!presented.empty() && std::isspace(static_cast<unsigned char>(presented.back()))) {
    presented.remove_suffix(1);
  }
  out.result = BearerParse::kOk;
  out.token = presented;
  return out;
}

}  // namespace trunkroute::auth
