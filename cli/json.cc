#include "cli/json.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace trunkroute::cli {
namespace {

// A document is a list when its top level is an object whose only key is `list_key`; anything
// else is parsed as one element (so a misspelt single object gets the element's field error).
template <typename Element>
std::optional<std::string> ParseOneOrList(const std::string& text, const std::string& source,
                                          const std::string& list_key, std::vector<Element>* out) {
  google::protobuf::Value top;
  if (auto status = google::protobuf::util::JsonStringToMessage(text, &top); !status.ok()) {
    return source + ": not valid JSON (" + std::string(status.message()) + ")";
  }
  out->clear();
  const bool is_list = top.has_struct_value() && top.struct_value().fields_size() == 1 &&
                       top.struct_value().fields().count(list_key) == 1;
  if (!is_list) {
    Element element;
    if (auto err = ParseJson(text, source, &element)) return err;
    out->push_back(std::move(element));
    return std::nullopt;
  }
  const google::protobuf::Value& list = top.struct_value().fields().at(list_key);
  if (!list.has_list_value()) return source + ": \"" + list_key + "\" must be an array";
  for (int i = 0; i < list.list_value().values_size(); ++i) {
    std::string element_json;
    (void)google::protobuf::util::MessageToJsonString(list.list_value().values(i), &element_json);
    Element element;
    if (auto err = ParseJson(element_json, source + ": " + list_key + "[" + std::to_string(i) + "]",
                             &element)) {
      return err;
    }
    out->push_back(std::move(element));
  }
  if (out->empty()) return source + ": \"" + list_key + "\" is empty";
  return std::nullopt;
}

}  // namespace

std::string ToJson(const google::protobuf::Message& message, bool one_line, bool with_defaults) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = !one_line;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = with_defaults;
  std::string out;
  // Printing a valid message cannot fail (no Any fields in our API).
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  if (!out.empty() && out.back() != '\n') out.push_back('\n');
  return out;
}

std::optional<std::string> ReadFile(const std::string& path, std::string* out) {
  std::ostringstream buffer;
  if (path == "-") {
    buffer << std::cin.rdbuf();
  } else {
    std::ifstream file(path, std::ios::binary);
    if (!file) return path + ": " + std::strerror(errno);
    buffer << file.rdbuf();
    if (file.bad()) return path + ": read failed";
  }
  *out = buffer.str();
  return std::nullopt;
}

std::optional<std::string> ParseJson(const std::string& text, const std::string& source,
                                     google::protobuf::Message* message) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto status = google::protobuf::util::JsonStringToMessage(text, message, options);
  if (!status.ok()) {
    return source + ": not a valid " + message->GetDescriptor()->name() + " (" +
           std::string(status.message()) + ")";
  }
  return std::nullopt;
}

std::optional<std::string> ParseTrunksDocument(const std::string& text, const std::string& source,
                                               std::vector<v1::Trunk>* out) {
  return ParseOneOrList(text, source, "trunks", out);
}

std::optional<std::string> ParseRoutesDocument(const std::string& text, const std::string& source,
                                               std::vector<v1::Route>* out) {
  return ParseOneOrList(text, source, "routes", out);
}

}  // namespace trunkroute::cli
