#include "sip/sdp_filter.h"

#include <algorithm>
#include <cctype>

namespace trunkroute::sip {
namespace {

// Debian's Abseil has its own string_view, so these two small helpers stay on std types.
std::vector<std::string_view> Split(std::string_view s, char sep, bool skip_empty) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(sep, start);
    if (end == std::string_view::npos) end = s.size();
    if (!skip_empty || end > start) out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// RFC 3551 static payload types that carry a name without an a=rtpmap line.
std::string_view StaticPayloadName(std::string_view pt) {
  static constexpr struct {
    std::string_view pt, name;
  } kStatic[] = {{"0", "pcmu"},   {"3", "gsm"},   {"4", "g723"},  {"5", "dvi4"},  {"6", "dvi4"},
                 {"7", "lpc"},    {"8", "pcma"},  {"9", "g722"},  {"10", "l16"},  {"11", "l16"},
                 {"12", "qcelp"}, {"13", "cn"},   {"14", "mpa"},  {"15", "g728"}, {"16", "dvi4"},
                 {"17", "dvi4"},  {"18", "g729"}, {"25", "celb"}, {"26", "jpeg"}, {"28", "nv"},
                 {"31", "h261"},  {"32", "mpv"},  {"33", "mp2t"}, {"34", "h263"}};
  for (const auto& s : kStatic) {
    if (s.pt == pt) return s.name;
  }
  return {};
}

bool Allowed(std::string_view name, const std::vector<std::string>& allowed) {
  // "G729A"/"G729B" are G.729 by another name: they follow the "g729" entry.
  std::string_view canonical = name.substr(0, 4) == "g729" ? std::string_view("g729") : name;
  return std::find(allowed.begin(), allowed.end(), canonical) != allowed.end() ||
         std::find(allowed.begin(), allowed.end(), name) != allowed.end();
}

// Not codecs: a stream that keeps only these cannot carry a call.
bool IsAuxiliary(std::string_view name) {
  return name == "telephone-event" || name == "cn" || name == "comfort-noise";
}

// "a=rtpmap:96 opus/48000/2" → "96" for the attributes tied to one payload type.
std::string_view AttributePayloadType(std::string_view line) {
  for (std::string_view prefix : {"a=rtpmap:", "a=fmtp:", "a=rtcp-fb:"}) {
    if (line.substr(0, prefix.size()) == prefix) {
      std::string_view rest = line.substr(prefix.size());
      return rest.substr(0, rest.find(' '));
    }
  }
  return {};
}

struct MediaSection {
  std::vector<std::string_view> lines;  // lines[0] is the m= line
};

void FilterSection(const MediaSection& section, const std::vector<std::string>& allowed,
                   SdpFilterResult& result) {
  std::vector<std::string_view> m = Split(section.lines[0], ' ', /*skip_empty=*/true);
  if (m.size() < 4) {  // not a well-formed m= line: leave it alone
    for (std::string_view l : section.lines) {
      result.sdp.append(l.data(), l.size());
      result.sdp += "\r\n";
    }
    return;
  }
  const std::string_view media = m[0].substr(2);
  const bool rtp = m[2].find("RTP") != std::string_view::npos;
  std::vector<std::string_view> kept;
  std::vector<std::string_view> dropped;
  bool real_codec = false;
  for (size_t i = 3; i < m.size(); ++i) {
    std::string name;
    if (rtp) {
      const std::string prefix = "a=rtpmap:" + std::string(m[i]) + " ";
      for (std::string_view l : section.lines) {
        if (l.substr(0, prefix.size()) == prefix) {
          std::string_view enc = l.substr(prefix.size());
          name = Lower(enc.substr(0, enc.find('/')));
          break;
        }
      }
      if (name.empty()) name = std::string(StaticPayloadName(m[i]));
    } else {
      name = Lower(m[i]);
    }
    if (!name.empty() && Allowed(name, allowed)) {
      kept.push_back(m[i]);
      if (!IsAuxiliary(name)) real_codec = true;
    } else {
      dropped.push_back(m[i]);
    }
  }
  result.removed_formats += static_cast<int>(dropped.size());
  // A stream the caller offered with port 0 is already declined: it carries no call, whatever
  // its formats say (found by tests/fuzz: a filtered offer must not gain a codec when filtered
  // again).
  const bool declined = m[1] == "0";
  if (media == "audio" && real_codec && !declined) result.has_common_codec = true;
  const bool rejected = kept.empty() || (media == "audio" && !real_codec);
  if (rejected) {
    // Port 0 declines the stream but keeps its place; one format keeps the line valid. A
    // payload type listed twice stays with its attributes (they belong to the kept format).
    kept.assign(1, m[3]);
    dropped.clear();
    for (size_t i = 4; i < m.size(); ++i) {
      if (m[i] != m[3]) dropped.push_back(m[i]);
    }
  }
  std::string& out = result.sdp;
  out.append(m[0].data(), m[0].size());
  out += ' ';
  if (rejected) {
    out += '0';
  } else {
    out.append(m[1].data(), m[1].size());
  }
  out += ' ';
  out.append(m[2].data(), m[2].size());
  for (std::string_view f : kept) {
    out += ' ';
    out.append(f.data(), f.size());
  }
  out += "\r\n";
  for (size_t i = 1; i < section.lines.size(); ++i) {
    std::string_view l = section.lines[i];
    std::string_view pt = AttributePayloadType(l);
    if (!pt.empty() && std::find(dropped.begin(), dropped.end(), pt) != dropped.end()) continue;
    out.append(l.data(), l.size());
    out += "\r\n";
  }
}

}  // namespace

SdpFilterResult FilterSdpCodecs(std::string_view sdp, const std::vector<std::string>& allowed) {
  SdpFilterResult result;
  result.sdp.reserve(sdp.size() + 8);
  std::vector<std::string_view> lines = Split(sdp, '\n', /*skip_empty=*/false);
  MediaSection section;
  bool in_media = false;
  for (std::string_view l : lines) {
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    if (l.empty()) continue;
    if (l.substr(0, 2) == "m=") {
      if (in_media) FilterSection(section, allowed, result);
      section.lines.assign(1, l);
      in_media = true;
    } else if (in_media) {
      section.lines.push_back(l);
    } else {
      result.sdp.append(l.data(), l.size());
      result.sdp += "\r\n";
    }
  }
  if (in_media) FilterSection(section, allowed, result);
  return result;
}

}  // namespace trunkroute::sip
