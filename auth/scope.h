#ifndef TRUNKROUTE_AUTH_SCOPE_H_
#define TRUNKROUTE_AUTH_SCOPE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace trunkroute::auth {

// What a token may do (design.md §6). A request needs exactly one scope (auth/access_table.h);
// a token carries a set of them (auth/token_set.h).
//   read   look at config, health, cluster and server state (Get/List/Explain, health
//          list/watch, GetServerInfo)
//   route  ask for routing decisions and report call outcomes (RouteCall, ReportCallOutcome,
//          POST /v1/route, POST /v1/outcome): what a dialer or a Genesys data action does
//   write  change the routing config (trunks, routes, failover policy, ApplyConfig)
//   admin  operate the process and the trunks' admin states (SetTrunkAdminState, SetLogLevel)
enum class Scope : uint8_t { kRead = 0, kRoute = 1, kWrite = 2, kAdmin = 3 };

inline constexpr Scope kAllScopeValues[] = {Scope::kRead, Scope::kRoute, Scope::kWrite,
                                            Scope::kAdmin};

// "read", "route", "write", "admin".
std::string_view ScopeName(Scope scope);
// The exact lower-case names above; nullopt for anything else.
std::optional<Scope> ParseScope(std::string_view text);

// A set of scopes (a bit per scope).
class ScopeSet {
 public:
  constexpr ScopeSet() = default;
  static constexpr ScopeSet All() { return ScopeSet(0x0f); }

  constexpr bool Has(Scope s) const { return (bits_ & Bit(s)) != 0; }
  constexpr ScopeSet With(Scope s) const { return ScopeSet(bits_ | Bit(s)); }
  constexpr bool empty() const { return bits_ == 0; }
  constexpr bool operator==(const ScopeSet&) const = default;
  // "read,write" in the canonical order read, route, write, admin.
  std::string ToString() const;

 private:
  constexpr explicit ScopeSet(uint8_t bits) : bits_(bits) {}
  static constexpr uint8_t Bit(Scope s) { return static_cast<uint8_t>(1u << static_cast<int>(s)); }
  uint8_t bits_ = 0;
};

}  // namespace trunkroute::auth

#endif  // TRUNKROUTE_AUTH_SCOPE_H_
