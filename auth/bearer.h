#ifndef TRUNKROUTE_AUTH_BEARER_H_
#define TRUNKROUTE_AUTH_BEARER_H_

#include <optional>
#include <string_view>

namespace trunkroute::auth {

enum class BearerParse { kOk, kMissing, kWrongScheme };

struct BearerCredential {
  BearerParse result = BearerParse::kMissing;
  // The presented token (kOk only; may be empty: "Bearer " with nothing after it, which matches
  // no token). A view into the header value.
  std::string_view token;
};

// The one reading of an `Authorization: Bearer <token>` value for both APIs (HTTP header, gRPC
// `authorization` metadata): the scheme is case-insensitive (RFC 7235), blanks around the token
// are ignored. `header` is nullopt when the request has none.
BearerCredential ParseBearer(std::optional<std::string_view> header);

}  // namespace trunkroute::auth

#endif  // TRUNKROUTE_AUTH_BEARER_H_
