#include "router/number.h"

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace trunkroute::router {
namespace {

constexpr size_t kMaxNumberLength = 32;
// Longest input quoted back in an error: enough to recognise it, not enough to flood a log.
constexpr size_t kMaxQuotedLength = 64;
constexpr size_t kMinE164Digits = 8;
constexpr size_t kMaxE164Digits = 15;

absl::string_view AbslView(std::string_view sv) { return absl::string_view(sv.data(), sv.size()); }

// The number as the caller wrote it, quoted and escaped so that control characters or a huge
// input cannot garble the message.
std::string Quote(std::string_view input) {
  std::string_view shown = input.substr(0, kMaxQuotedLength);
  return absl::StrCat("'", absl::CHexEscape(AbslView(shown)),
                      input.size() > kMaxQuotedLength ? "...'" : "'");
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool StartsWithNoCase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    char c = text[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

std::string_view TrimSpace(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The part of a URI that names the number: the user part of sip:/sips: (parameters of the user
// part such as ";phone-context=" and of the URI dropped) or the number of tel:. `is_uri` tells the
// caller that percent-escapes ("%23" for '#', which a SIP URI must escape) may appear.
std::string_view NumberPart(std::string_view input, bool* is_uri) {
  *is_uri = false;
  if (input.size() >= 2 && input.front() == '<' && input.back() == '>') {
    input = input.substr(1, input.size() - 2);
  }
  if (StartsWithNoCase(input, "sip:") || StartsWithNoCase(input, "sips:") ||
      StartsWithNoCase(input, "tel:")) {
    *is_uri = true;
    const bool tel = StartsWithNoCase(input, "tel:");
    input.remove_prefix(input.find(':') + 1);
    if (!tel) {
      size_t at = input.find('@');
      if (at != std::string_view::npos) input = input.substr(0, at);
    }
    size_t semi = input.find(';');
    if (semi != std::string_view::npos) input = input.substr(0, semi);
  }
  return input;
}

}  // namespace

absl::StatusOr<std::string> NormalizeNumber(std::string_view input) {
  bool is_uri = false;
  std::string_view part = NumberPart(TrimSpace(input), &is_uri);
  std::string out;
  out.reserve(part.size() < kMaxNumberLength ? part.size() : kMaxNumberLength + 1);
  for (size_t i = 0; i < part.size(); ++i) {
    char c = part[i];
    if (c == '%' && is_uri) {
      const int hi = i + 2 < part.size() ? HexValue(part[i + 1]) : -1;
      const int lo = hi >= 0 ? HexValue(part[i + 2]) : -1;
      if (lo < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("number ", Quote(input), ": bad percent-escape at position ", i + 1));
      }
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    }
    switch (c) {
      case ' ':
      case '-':
      case '.':
      case '(':
      case ')':
        continue;
      case '+':
        if (!out.empty()) {
          return absl::InvalidArgumentError(absl::StrCat(
              "number ", Quote(input), ": '+' is allowed only at the start of the number"));
        }
        out.push_back(c);
        continue;
      case '*':
      case '#':
        out.push_back(c);
        continue;
      default:
        if (IsDigit(c)) {
          out.push_back(c);
          continue;
        }
        return absl::InvalidArgumentError(absl::StrCat(
            "number ", Quote(input), ": not a phone number (unexpected '",
            absl::CHexEscape(absl::string_view(&c, 1)),
            "'; allowed are digits, '*', '#', a leading '+' and the separators \" -.()\")"));
    }
  }
  if (out.empty() || out == "+") {
    return absl::InvalidArgumentError(absl::StrCat("number ", Quote(input), ": no digits"));
  }
  if (out.size() > kMaxNumberLength) {
    return absl::InvalidArgumentError(absl::StrCat("number ", Quote(input), ": ", out.size(),
                                                   " characters, at most ", kMaxNumberLength,
                                                   " allowed"));
  }
  return out;
}

absl::StatusOr<std::string> ToE164(std::string_view normalized, std::string_view country_code) {
  std::string digits;
  std::string_view rest = normalized;
  if (!rest.empty() && rest.front() == '+') {
    rest.remove_prefix(1);
  } else if (rest.substr(0, 2) == "00") {
    // ITU international prefix.
    rest.remove_prefix(2);
  } else if (rest.substr(0, 3) == "011" && (country_code.empty() || country_code == "1")) {
    // NANP international prefix. Only in NANP: elsewhere "011..." is a national number (UK
    // 0113 is Leeds).
    rest.remove_prefix(3);
  } else {
    if (country_code.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("number ", Quote(normalized),
                       ": cannot make it E.164: a national number and no default country code"));
    }
    if (country_code == "1") {
      // NANP numbers dialed with the long-distance "1" already carry the country code.
      if (rest.size() == 11 && rest.front() == '1') rest.remove_prefix(1);
    } else if (!rest.empty() && rest.front() == '0' && country_code != "39") {
      // The national trunk prefix "0" is not part of the E.164 number (Italy keeps it).
      rest.remove_prefix(1);
    }
    digits.assign(country_code.data(), country_code.size());
  }
  digits.append(rest.data(), rest.size());
  for (char c : digits) {
    if (!IsDigit(c)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "number ", Quote(normalized), ": cannot make it E.164: only digits may follow the '+'"));
    }
  }
  if (digits.size() < kMinE164Digits || digits.size() > kMaxE164Digits) {
    return absl::InvalidArgumentError(absl::StrCat(
        "number ", Quote(normalized), ": cannot make it E.164: ", digits.size(),
        " digits, E.164 has ", kMinE164Digits, "–", kMaxE164Digits));
  }
  return absl::StrCat("+", digits);
}

absl::StatusOr<std::string> ApplyTransform(std::string_view normalized,
                                           const v1::NumberTransform& transform) {
  const size_t strip = transform.strip_digits() < normalized.size() ? transform.strip_digits()
                                                                    : normalized.size();
  std::string out;
  out.reserve(transform.prepend().size() + normalized.size() - strip + 1);
  out.append(transform.prepend());
  out.append(normalized.data() + strip, normalized.size() - strip);
  if (out.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("number ", Quote(normalized), ": strip_digits ", transform.strip_digits(),
                     " leaves nothing to dial"));
  }
  if (transform.e164()) return ToE164(out, transform.default_country_code());
  if (out.size() > kMaxNumberLength) {
    return absl::InvalidArgumentError(absl::StrCat("number ", Quote(normalized),
                                                   ": after the transform ", Quote(out), " has ",
                                                   out.size(), " characters, at most ",
                                                   kMaxNumberLength, " allowed"));
  }
  return out;
}

}  // namespace trunkroute::router
