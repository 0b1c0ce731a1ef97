#ifndef TRUNKROUTE_AUTH_AUDIT_H_
#define TRUNKROUTE_AUTH_AUDIT_H_

#include <initializer_list>
#include <string>
#include <string_view>

#include "common/log.h"

namespace trunkroute::auth {

// Who sent a request, as an audit line names it. Never a secret: the token's configured name,
// not the token.
struct Caller {
  std::string principal;       // token name; "anonymous" when the API has no tokens
  std::string client_subject;  // subject of the verified client certificate (mTLS), or ""
  std::string peer;            // as the server saw it: "ipv4:10.0.0.7:53122" (gRPC), "10.0.0.7"
};

// Audit events (the `event` field).
inline constexpr std::string_view kAuditAuthFailed = "auth_failed";      // 401/403/denied
inline constexpr std::string_view kAuditAuthBackoff = "auth_backoff";    // a source slowed
inline constexpr std::string_view kAuditConfigChange = "config_change";  // write scope
inline constexpr std::string_view kAuditAdminChange = "admin_change";    // admin scope

// Writes ONE structured line, whatever the log level (an operator who turns logs down still
// sees who changed what):
//   ... warn audit event=config_change api=grpc method=/trunkroute.v1.ConfigService/UpsertTrunk
//       principal=ops-alice client_cert="CN=alice,O=ops" peer=ipv4:10.0.0.7:53122 code=OK
//       target=trunk:carrier-a from_version=7 to_version=8
// `details` follow the fixed fields; empty values are left out. Never pass a secret.
void WriteAudit(std::string_view event, std::string_view api, std::string_view method,
                const Caller& caller, std::initializer_list<LogField> details);

}  // namespace trunkroute::auth

#endif  // TRUNKROUTE_AUTH_AUDIT_H_
