#ifndef TRUNKROUTE_COMMON_LOG_H_
#define TRUNKROUTE_COMMON_LOG_H_

#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace trunkroute {

// Structured one-line logs on stderr: `ts level msg key=value ...` or JSON lines.
// Call-path lines carry call_id and trunk fields. Never pass a secret as a field.
enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

using LogField = std::pair<std::string_view, std::string_view>;

// Process-wide settings; safe to change at runtime from any thread.
void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
void SetLogJson(bool json);
bool GetLogJson();
// Parses "debug", "info", "warn", "error" (case-insensitive). False on anything else.
bool ParseLogLevel(std::string_view text, LogLevel* out);
std::string_view LogLevelName(LogLevel level);

bool LogEnabled(LogLevel level);
// Writes one line atomically (a single write(2)).
void LogLine(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields = {});
// The same with fields assembled at run time (audit lines with optional fields).
void LogLine(LogLevel level, std::string_view msg, std::span<const LogField> fields);

inline void LogDebug(std::string_view m, std::initializer_list<LogField> f = {}) {
  if (LogEnabled(LogLevel::kDebug)) LogLine(LogLevel::kDebug, m, f);
}
inline void LogInfo(std::string_view m, std::initializer_list<LogField> f = {}) {
  if (LogEnabled(LogLevel::kInfo)) LogLine(LogLevel::kInfo, m, f);
}
inline void LogWarn(std::string_view m, std::initializer_list<LogField> f = {}) {
  if (LogEnabled(LogLevel::kWarn)) LogLine(LogLevel::kWarn, m, f);
}
inline void LogError(std::string_view m, std::initializer_list<LogField> f = {}) {
  if (LogEnabled(LogLevel::kError)) LogLine(LogLevel::kError, m, f);
}

}  // namespace trunkroute

#endif  // TRUNKROUTE_COMMON_LOG_H_
