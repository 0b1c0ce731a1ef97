#include "auth/scope.h"

namespace trunkroute::auth {

std::string_view ScopeName(Scope scope) {
  switch (scope) {
    case Scope::kRead:
      return "read";
    case Scope::kRoute:
      return "route";
    case Scope::kWrite:
      return "write";
    case Scope::kAdmin:
      return "admin";
  }
  return "unknown";
}

std::optional<Scope> ParseScope(std::string_view text) {
  for (Scope s : kAllScopeValues) {
    if (ScopeName(s) == text) return s;
  }
  return std::nullopt;
}

std::string ScopeSet::ToString() const {
  std::string out;
  for (Scope s : kAllScopeValues) {
    if (!Has(s)) continue;
    if (!out.empty()) out += ',';
    out += ScopeName(s);
  }
  return out;
}

}  // namespace trunkroute::auth
