#include "tests/sip/sip_trace.h"

#include <openssl/evp.h>
#include <strings.h>

#include <cctype>
#include <cstdio>

#include "absl/strings/str_cat.h"

namespace trunkroute::sip::testing {
namespace {

// Debian's Abseil has its own string_view: StrCat does not take std::string_view.
absl::string_view A(std::string_view s) { return absl::string_view(s.data(), s.size()); }

std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) {
      out.push_back(text.substr(start));
      break;
    }
    out.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

constexpr std::string_view kSeparator = "----------------------------------------------- ";

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

// RFC 3261 §7.3.3 compact header names.
std::string_view LongName(std::string_view name) {
  if (name.size() != 1) return name;
  switch (std::tolower(static_cast<unsigned char>(name[0]))) {
    case 'f':
      return "From";
    case 't':
      return "To";
    case 'i':
      return "Call-ID";
    case 'v':
      return "Via";
    case 'm':
      return "Contact";
    case 'l':
      return "Content-Length";
    case 'c':
      return "Content-Type";
    case 'k':
      return "Supported";
    default:
      return name;
  }
}

bool SameName(std::string_view a, std::string_view b) {
  a = LongName(a);
  b = LongName(b);
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

SipMessage ParseMessage(bool received, std::string_view text) {
  SipMessage m;
  m.received = received;
  const std::vector<std::string_view> lines = Lines(text);
  size_t i = 0;
  while (i < lines.size() && Trim(lines[i]).empty()) ++i;  // SIPp's blank line first
  if (i < lines.size()) m.start_line = std::string(Trim(lines[i++]));
  for (; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) {
      ++i;
      break;
    }
    if ((line.front() == ' ' || line.front() == '\t') && !m.headers.empty()) {
      absl::StrAppend(&m.headers.back().second, " ", A(Trim(line)));  // folded line
      continue;
    }
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    m.headers.emplace_back(std::string(Trim(line.substr(0, colon))),
                           std::string(Trim(line.substr(colon + 1))));
  }
  for (; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    absl::StrAppend(&m.body, A(line), "\n");
  }
  // SIPp ends each traced message with blank lines; the body proper does not.
  while (m.body.size() >= 2 && m.body.substr(m.body.size() - 2) == "\n\n") m.body.pop_back();
  if (m.body == "\n") m.body.clear();
  return m;
}

std::string Md5Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_md5(), nullptr);
  std::string hex;
  char buf[3];
  for (unsigned int i = 0; i < len; ++i) {
    std::snprintf(buf, sizeof(buf), "%02x", digest[i]);
    hex += buf;
  }
  return hex;
}

}  // namespace

std::string SipMessage::method() const {
  if (is_request()) return start_line.substr(0, start_line.find(' '));
  const std::string cs = header("CSeq");
  const size_t sp = cs.find(' ');
  return sp == std::string::npos ? "" : std::string(Trim(std::string_view(cs).substr(sp + 1)));
}

int SipMessage::status() const {
  if (is_request() || start_line.size() < 11) return 0;
  return std::atoi(start_line.c_str() + 8);
}

std::string SipMessage::request_uri() const {
  if (!is_request()) return "";
  const size_t a = start_line.find(' ');
  const size_t b = start_line.rfind(' ');
  return a == std::string::npos || b <= a ? "" : start_line.substr(a + 1, b - a - 1);
}

std::string SipMessage::header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (SameName(n, name)) return v;
  }
  return "";
}

std::vector<std::string> SipMessage::all_headers(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [n, v] : headers) {
    if (SameName(n, name)) out.push_back(v);
  }
  return out;
}

uint32_t SipMessage::cseq() const {
  return static_cast<uint32_t>(std::strtoul(header("CSeq").c_str(), nullptr, 10));
}

std::string SipMessage::tag(std::string_view from_or_to) const {
  const std::string v = header(from_or_to);
  const size_t gt = v.rfind('>');
  const size_t p = v.find(";tag=", gt == std::string::npos ? 0 : gt);
  if (p == std::string::npos) return "";
  const size_t end = v.find(';', p + 5);
  return v.substr(p + 5, end == std::string::npos ? std::string::npos : end - p - 5);
}

std::string SipMessage::without_tag(std::string_view from_or_to) const {
  std::string v = header(from_or_to);
  const size_t gt = v.rfind('>');
  const size_t p = v.find(";tag=", gt == std::string::npos ? 0 : gt);
  if (p == std::string::npos) return v;
  const size_t end = v.find(';', p + 5);
  v.erase(p, end == std::string::npos ? std::string::npos : end - p);
  return v;
}

std::string SipMessage::Summary() const {
  return absl::StrCat(received ? "recv " : "sent ", start_line, " (CSeq ", header("CSeq"), ")");
}

std::vector<SipMessage> ParseSippTrace(std::string_view trace) {
  std::vector<SipMessage> out;
  size_t pos = trace.find(kSeparator);
  while (pos != std::string_view::npos) {
    const size_t header_end = trace.find('\n', pos);  // the separator line (timestamp)
    if (header_end == std::string_view::npos) break;
    const size_t kind_end = trace.find('\n', header_end + 1);  // "UDP message received …"
    if (kind_end == std::string_view::npos) break;
    const std::string_view kind = trace.substr(header_end + 1, kind_end - header_end - 1);
    size_t next = trace.find(kSeparator, kind_end);
    const std::string_view text =
        trace.substr(kind_end + 1,
                     next == std::string_view::npos ? std::string_view::npos : next - kind_end - 1);
    const bool received = kind.find("received") != std::string_view::npos;
    if (received || kind.find("sent") != std::string_view::npos) {
      out.push_back(ParseMessage(received, text));
    }
    pos = next;
  }
  return out;
}

std::vector<SipMessage> Requests(const std::vector<SipMessage>& trace, bool received,
                                 std::string_view method) {
  std::vector<SipMessage> out;
  for (const SipMessage& m : trace) {
    if (m.received == received && m.is_request() && m.method() == method) out.push_back(m);
  }
  return out;
}

std::vector<SipMessage> Responses(const std::vector<SipMessage>& trace, bool received,
                                  std::string_view method, int status) {
  std::vector<SipMessage> out;
  for (const SipMessage& m : trace) {
    if (m.received == received && !m.is_request() && m.method() == method &&
        (status == 0 || m.status() == status)) {
      out.push_back(m);
    }
  }
  return out;
}

std::string Describe(const std::vector<SipMessage>& trace) {
  std::string out;
  for (const SipMessage& m : trace) absl::StrAppend(&out, m.Summary(), "\n");
  return out;
}

std::map<std::string, std::string> DigestParams(std::string_view value) {
  std::map<std::string, std::string> out;
  value = Trim(value);
  if (value.size() >= 7 && strncasecmp(value.data(), "Digest ", 7) == 0) value.remove_prefix(7);
  // name=value or name="quoted, value" pairs separated by commas.
  size_t i = 0;
  while (i < value.size()) {
    while (i < value.size() && (value[i] == ' ' || value[i] == ',')) ++i;
    const size_t eq = value.find('=', i);
    if (eq == std::string_view::npos) break;
    std::string name(Trim(value.substr(i, eq - i)));
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    size_t j = eq + 1;
    std::string v;
    if (j < value.size() && value[j] == '"') {
      const size_t close = value.find('"', j + 1);
      v = std::string(value.substr(
          j + 1, close == std::string_view::npos ? std::string_view::npos : close - j - 1));
      j = close == std::string_view::npos ? value.size() : close + 1;
    } else {
      const size_t comma = value.find(',', j);
      v = std::string(Trim(
          value.substr(j, comma == std::string_view::npos ? std::string_view::npos : comma - j)));
      j = comma == std::string_view::npos ? value.size() : comma;
    }
    out[name] = v;
    i = j;
  }
  return out;
}

std::string ExpectedDigestResponse(std::string_view method, std::string_view username,
                                   std::string_view password,
                                   const std::map<std::string, std::string>& params) {
  auto get = [&](const char* k) {
    auto it = params.find(k);
    return it == params.end() ? std::string() : it->second;
  };
  const std::string ha1 = Md5Hex(absl::StrCat(A(username), ":", get("realm"), ":", A(password)));
  const std::string ha2 = Md5Hex(absl::StrCat(A(method), ":", get("uri")));
  if (get("qop").empty()) return Md5Hex(absl::StrCat(ha1, ":", get("nonce"), ":", ha2));
  return Md5Hex(absl::StrCat(ha1, ":", get("nonce"), ":", get("nc"), ":", get("cnonce"), ":",
                             get("qop"), ":", ha2));
}

}  // namespace trunkroute::sip::testing
