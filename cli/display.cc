#include "cli/display.h"

#include <ctime>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace trunkroute::cli {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// "HealthReason" → "HEALTH_REASON_", the prefix protobuf style puts on every value.
std::string EnumPrefix(const std::string& type_name) {
  std::string prefix;
  for (size_t i = 0; i < type_name.size(); ++i) {
    char c = type_name[i];
    if (i > 0 && absl::ascii_isupper(static_cast<unsigned char>(c))) prefix.push_back('_');
    prefix.push_back(absl::ascii_toupper(static_cast<unsigned char>(c)));
  }
  return prefix + "_";
}

std::string ScalarText(const Message& message, const FieldDescriptor* field, int index) {
  const Reflection* r = message.GetReflection();
  const bool rep = field->is_repeated();
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      return std::to_string(rep ? r->GetRepeatedInt32(message, field, index)
                                : r->GetInt32(message, field));
    case FieldDescriptor::CPPTYPE_INT64:
      return std::to_string(rep ? r->GetRepeatedInt64(message, field, index)
                                : r->GetInt64(message, field));
    case FieldDescriptor::CPPTYPE_UINT32:
      return std::to_string(rep ? r->GetRepeatedUInt32(message, field, index)
                                : r->GetUInt32(message, field));
    case FieldDescriptor::CPPTYPE_UINT64:
      return std::to_string(rep ? r->GetRepeatedUInt64(message, field, index)
                                : r->GetUInt64(message, field));
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return absl::StrFormat(
          "%g", rep ? r->GetRepeatedDouble(message, field, index) : r->GetDouble(message, field));
    case FieldDescriptor::CPPTYPE_FLOAT:
      return absl::StrFormat(
          "%g", rep ? r->GetRepeatedFloat(message, field, index) : r->GetFloat(message, field));
    case FieldDescriptor::CPPTYPE_BOOL:
      return (rep ? r->GetRepeatedBool(message, field, index) : r->GetBool(message, field)) ? "on"
                                                                                            : "off";
    case FieldDescriptor::CPPTYPE_ENUM:
      return ShortEnumName(field->enum_type(), rep ? r->GetRepeatedEnumValue(message, field, index)
                                                   : r->GetEnumValue(message, field));
    case FieldDescriptor::CPPTYPE_STRING:
      return rep ? r->GetRepeatedString(message, field, index) : r->GetString(message, field);
    case FieldDescriptor::CPPTYPE_MESSAGE:
      break;
  }
  return "";
}

}  // namespace

std::string ShortEnumName(const google::protobuf::EnumDescriptor* type, int value) {
  const google::protobuf::EnumValueDescriptor* v = type->FindValueByNumber(value);
  if (v == nullptr) return std::to_string(value);
  std::string name = v->name();
  const std::string prefix = EnumPrefix(type->name());
  if (name.rfind(prefix, 0) == 0) name = name.substr(prefix.size());
  return absl::AsciiStrToLower(name);
}

std::string TransportName(v1::Transport transport) {
  if (transport == v1::TRANSPORT_UNSPECIFIED) return "tls";
  return ShortEnum(transport);
}

uint32_t EffectivePort(const v1::Trunk& trunk) {
  if (trunk.port() != 0) return trunk.port();
  const bool tls =
      trunk.transport() == v1::TRANSPORT_TLS || trunk.transport() == v1::TRANSPORT_UNSPECIFIED;
  return tls ? 5061 : 5060;
}

std::string AdminStateName(v1::AdminState state) {
  if (state == v1::ADMIN_STATE_UNSPECIFIED) return "enabled";
  return ShortEnum(state);
}

std::string FormatUnixMs(int64_t unix_ms) {
  if (unix_ms <= 0) return "";
  std::time_t secs = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return absl::StrFormat("%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

std::string FormatRttUs(uint32_t rtt_us) {
  if (rtt_us == 0) return "";
  return absl::StrFormat("%.1fms", rtt_us / 1000.0);
}

void FlattenMessage(const Message& message, const std::string& prefix, KeyValueList* out) {
  const Reflection* r = message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  r->ListFields(message, &fields);  // set fields only, in field-number order
  for (const FieldDescriptor* field : fields) {
    const std::string key = prefix.empty() ? field->name() : prefix + "." + field->name();
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      if (field->is_repeated()) {
        for (int i = 0; i < r->FieldSize(message, field); ++i) {
          FlattenMessage(r->GetRepeatedMessage(message, field, i),
                         key + "[" + std::to_string(i) + "]", out);
        }
      } else {
        FlattenMessage(r->GetMessage(message, field), key, out);
      }
      continue;
    }
    if (field->is_repeated()) {
      std::vector<std::string> items;
      for (int i = 0; i < r->FieldSize(message, field); ++i) {
        items.push_back(ScalarText(message, field, i));
      }
      out->Add(key, absl::StrJoin(items, ","));
    } else {
      out->Add(key, ScalarText(message, field, 0));
    }
  }
}

}  // namespace trunkroute::cli
