// Dialed and caller numbers come from INVITEs and API calls (untrusted). Properties of
// NormalizeNumber: a result holds only '+' (first), digits, '*' and '#', at most 32 of them, and
// normalising it again gives it back. ToE164 results are "+" and 8-15 digits.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "router/number.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<std::string> n = trunkroute::router::NormalizeNumber(input);
  if (!n.ok()) {
    FUZZ_CHECK(!n.status().message().empty());
    return 0;
  }
  FUZZ_CHECK(!n->empty() && n->size() <= 32);
  for (size_t i = 0; i < n->size(); ++i) {
    const char c = (*n)[i];
    FUZZ_CHECK((c >= '0' && c <= '9') || c == '*' || c == '#' || (c == '+' && i == 0));
  }
  absl::StatusOr<std::string> again = trunkroute::router::NormalizeNumber(*n);
  FUZZ_CHECK(again.ok() && *again == *n);

  for (std::string_view cc : {"1", "44", ""}) {
    absl::StatusOr<std::string> e164 = trunkroute::router::ToE164(*n, cc);
    if (!e164.ok()) continue;
    FUZZ_CHECK(e164->size() >= 9 && e164->size() <= 16 && (*e164)[0] == '+');
    for (size_t i = 1; i < e164->size(); ++i) FUZZ_CHECK((*e164)[i] >= '0' && (*e164)[i] <= '9');
  }
  return 0;
}
