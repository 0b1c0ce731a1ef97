#ifndef TRUNKROUTE_ROUTER_NUMBER_H_
#define TRUNKROUTE_ROUTER_NUMBER_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "trunkroute/v1/config.pb.h"

namespace trunkroute::router {

// Canonical form of a dialed or caller number, before pattern matching:
// - accepts "sip:user@host", "sips:...", "tel:+1..." (the user/number part is taken, URI
//   parameters after ';' dropped);
// - drops visual separators: space, '-', '.', '(', ')';
// - keeps one leading '+', digits, '*' and '#';
// - "00" / "011"-style international prefixes are NOT rewritten here (a route's transform does
//   that where the dial plan wants it).
// InvalidArgument (naming the number) if empty or if anything else remains, or longer than 32.
absl::StatusOr<std::string> NormalizeNumber(std::string_view input);

// Applies a route's NumberTransform to a normalised number: strip_digits, prepend, then e164
// (national → "+<cc><number>", "00"/"011" prefix → "+"). InvalidArgument if the result is empty.
absl::StatusOr<std::string> ApplyTransform(std::string_view normalized,
                                           const v1::NumberTransform& transform);

// E.164 ("+" then 8–15 digits) from a caller number, for caller-ID rewriting; country code used
// for national numbers. InvalidArgument if it cannot be made E.164.
absl::StatusOr<std::string> ToE164(std::string_view normalized, std::string_view country_code);

}  // namespace trunkroute::router

#endif  // TRUNKROUTE_ROUTER_NUMBER_H_
