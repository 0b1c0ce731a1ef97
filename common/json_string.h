#ifndef TRUNKROUTE_COMMON_JSON_STRING_H_
#define TRUNKROUTE_COMMON_JSON_STRING_H_

#include <string>
#include <string_view>

namespace trunkroute {

// Appends `value` as a JSON string literal (RFC 8259: quotes, backslash and control characters
// escaped; other bytes, UTF-8 included, as they are). The one escaping rule of the JSON log lines
// and the HTTP/JSON face's error bodies.
void AppendJsonString(std::string* out, std::string_view value);

}  // namespace trunkroute

#endif  // TRUNKROUTE_COMMON_JSON_STRING_H_
