#include "auth/audit.h"

#include <vector>

namespace trunkroute::auth {

void WriteAudit(std::string_view event, std::string_view api, std::string_view method,
                const Caller& caller, std::initializer_list<LogField> details) {
  std::vector<LogField> fields;
  fields.reserve(8 + details.size());
  auto add = [&fields](std::string_view key, std::string_view value) {
    if (!value.empty()) fields.emplace_back(key, value);
  };
  add("event", event);
  add("api", api);
  add("method", method);
  add("principal", caller.principal);
  add("client_cert", caller.client_subject);
  add("peer", caller.peer);
  for (const LogField& f : details) add(f.first, f.second);
  LogLine(LogLevel::kWarn, "audit", std::span<const LogField>(fields.data(), fields.size()));
}

}  // namespace trunkroute::auth
