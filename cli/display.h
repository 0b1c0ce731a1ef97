#ifndef TRUNKROUTE_CLI_DISPLAY_H_
#define TRUNKROUTE_CLI_DISPLAY_H_

#include <cstdint>
#include <string>

#include "cli/table.h"
#include "google/protobuf/generated_enum_reflection.h"
#include "google/protobuf/message.h"
#include "trunkroute/v1/config.pb.h"

namespace trunkroute::cli {

// "TRANSPORT_TLS" → "tls", "HEALTH_REASON_CONSECUTIVE_FAILURES" → "consecutive_failures": the
// enum type's prefix removed and lower-cased. Unknown numbers print as the number.
std::string ShortEnumName(const google::protobuf::EnumDescriptor* type, int value);

template <typename Enum>
std::string ShortEnum(Enum value) {
  return ShortEnumName(google::protobuf::GetEnumDescriptor<Enum>(), static_cast<int>(value));
}

// Effective values per design.md §2 for fields whose zero value means "the default".
std::string TransportName(v1::Transport transport);  // unset → "tls"
uint32_t EffectivePort(const v1::Trunk& trunk);      // unset → 5061 for TLS, else 5060
std::string AdminStateName(v1::AdminState state);    // unset → "enabled"

// Unix milliseconds as "2024-05-01T12:00:00Z" (UTC); 0 → "" (printed as "-").
std::string FormatUnixMs(int64_t unix_ms);
// Microseconds as "12.3ms"; 0 → "".
std::string FormatRttUs(uint32_t rtt_us);

// Adds every set field of `message` to `out` as "prefix.field  value" lines (nested messages
// flattened, repeated fields comma-joined, enums shortened). Used for single-object views.
void FlattenMessage(const google::protobuf::Message& message, const std::string& prefix,
                    KeyValueList* out);

}  // namespace trunkroute::cli

#endif  // TRUNKROUTE_CLI_DISPLAY_H_
