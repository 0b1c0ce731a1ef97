#include "sip/edge_util.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cctype>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "router/number.h"

namespace trunkroute::sip {
namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The display-name part of a name-addr, including its quotes; empty if none.
std::string_view DisplayOfNameAddr(std::string_view name_addr) {
  size_t lt = name_addr.find('<');
  if (lt == std::string_view::npos) return {};
  return Trim(name_addr.substr(0, lt));
}

}  // namespace

absl::StatusOr<HostPort> ParseHostPort(std::string_view text, uint32_t default_port,
                                       std::string_view field) {
  HostPort hp;
  std::string_view rest = text;
  if (rest.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(std::string(field), ": empty address"));
  }
  std::string_view port_text;
  if (rest.front() == '[') {
    size_t close = rest.find(']');
    if (close == std::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(std::string(field), ": missing ']' in \"", std::string(text), "\""));
    }
    hp.host = std::string(rest.substr(1, close - 1));
    rest.remove_prefix(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        return absl::InvalidArgumentError(absl::StrCat(
            std::string(field), ": expected ':port' after ']' in \"", std::string(text), "\""));
      }
      port_text = rest.substr(1);
    }
  } else {
    size_t colon = rest.rfind(':');
    if (colon != std::string_view::npos && rest.find(':') != colon) colon = std::string_view::npos;
    hp.host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) port_text = rest.substr(colon + 1);
  }
  if (hp.host.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(field), ": no host in \"", std::string(text), "\""));
  }
  hp.port = default_port;
  if (!port_text.empty() || (text.back() == ':')) {
    uint32_t port = 0;
    for (char c : port_text) {
      if (!std::isdigit(static_cast<unsigned char>(c)) || port > 65535) {
        port = 0;
        break;
      }
      port = port * 10 + static_cast<uint32_t>(c - '0');
    }
    if (port == 0 || port > 65535) {
      return absl::InvalidArgumentError(
          absl::StrCat(std::string(field), ": bad port in \"", std::string(text), "\" (1-65535)"));
    }
    hp.port = port;
  }
  return hp;
}

std::string SourceAddress(msg_t* msg) {
  if (msg == nullptr) return {};
  su_addrinfo_t* ai = msg_addrinfo(msg);
  if (ai == nullptr || ai->ai_addr == nullptr) return {};
  char buf[INET6_ADDRSTRLEN] = {};
  if (ai->ai_addr->sa_family == AF_INET) {
    auto* sin = reinterpret_cast<const sockaddr_in*>(ai->ai_addr);
    inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf));
  } else if (ai->ai_addr->sa_family == AF_INET6) {
    auto* sin6 = reinterpret_cast<const sockaddr_in6*>(ai->ai_addr);
    inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof(buf));
  }
  return buf;
}

bool ViaNamesUs(const sip_via_t* via, const std::vector<HostPort>& own) {
  for (const sip_via_t* v = via; v != nullptr; v = v->v_next) {
    if (v->v_host == nullptr) continue;
    std::string_view host = v->v_host;
    if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
    uint32_t port = 5060;
    if (v->v_port != nullptr) {
      port = static_cast<uint32_t>(std::strtoul(v->v_port, nullptr, 10));
    } else if (v->v_protocol != nullptr && EqualsIgnoreCase(v->v_protocol, "SIP/2.0/TLS")) {
      port = 5061;
    }
    for (const HostPort& hp : own) {
      if (hp.port == port && EqualsIgnoreCase(hp.host, host)) return true;
    }
  }
  return false;
}

std::string UnknownHeader(const sip_t* sip, std::string_view name) {
  for (const sip_unknown_t* u = sip->sip_unknown; u != nullptr; u = u->un_next) {
    if (u->un_name != nullptr && EqualsIgnoreCase(u->un_name, name)) {
      return u->un_value != nullptr ? u->un_value : "";
    }
  }
  return {};
}

std::string DialedNumberOf(const url_t* uri) {
  if (uri == nullptr) return {};
  if (uri->url_user != nullptr) return uri->url_user;
  // tel:+15551234567 — where Sofia puts the number depends on its version; take either.
  if (uri->url_type == url_tel && uri->url_host != nullptr) return uri->url_host;
  return {};
}

std::string UserOfNameAddr(std::string_view name_addr) {
  size_t start = name_addr.find("sip:");
  size_t skip = 4;
  if (start == std::string_view::npos) {
    start = name_addr.find("sips:");
    skip = 5;
  }
  if (start == std::string_view::npos) {
    start = name_addr.find("tel:");
    skip = 4;
    if (start == std::string_view::npos) return {};
    std::string_view rest = name_addr.substr(start + skip);
    return std::string(rest.substr(0, rest.find_first_of(";>")));
  }
  std::string_view rest = name_addr.substr(start + skip);
  size_t at = rest.find('@');
  size_t end = rest.find_first_of(";>");
  if (at == std::string_view::npos || (end != std::string_view::npos && end < at)) return {};
  return std::string(rest.substr(0, at));
}

std::string FromWithoutTag(su_home_t* home, const sip_from_t* from) {
  if (from == nullptr) return {};
  sip_from_t* copy = sip_from_dup(home, from);
  if (copy == nullptr) return {};
  msg_header_remove_param(copy->a_common, "tag");
  copy->a_tag = nullptr;
  char* text = sip_header_as_string(home, reinterpret_cast<sip_header_t const*>(copy));
  std::string out = text != nullptr ? text : "";
  su_free(home, text);
  su_free(home, copy);
  return out;
}

CallerIdentity CallerIdentityOf(const sip_t* request) {
  CallerIdentity id;
  su_home_t home[1] = {};
  su_home_init(home);
  id.from = FromWithoutTag(home, request->sip_from);
  su_home_deinit(home);
  id.pai = UnknownHeader(request, "P-Asserted-Identity");
  return id;
}

CallerIdentity IdentityForTrunk(const CallerIdentity& preserved, const router::CompiledTrunk& trunk,
                                std::string_view caller_number) {
  const v1::CallerIdMode mode = trunk.caller_id.mode();
  if (mode != v1::CALLER_ID_MODE_E164 && mode != v1::CALLER_ID_MODE_FIXED) return preserved;

  CallerIdentity id;
  std::string number;
  if (mode == v1::CALLER_ID_MODE_FIXED) {
    number = trunk.caller_id.fixed_number();
  } else {
    auto e164 = router::ToE164(caller_number, trunk.caller_id.default_country_code());
    if (!e164.ok()) {
      id = preserved;
      id.warning = absl::StrCat("caller-ID not rewritten for trunk ", trunk.id, ": ",
                                std::string(e164.status().message()));
      return id;
    }
    number = *e164;
  }
  const std::string& domain =
      trunk.caller_id.domain().empty() ? trunk.host : trunk.caller_id.domain();
  std::string uri = absl::StrCat("<sip:", number, "@", domain, ">");
  std::string_view display = DisplayOfNameAddr(preserved.from);
  id.from = display.empty() ? uri : absl::StrCat(std::string(display), " ", uri);
  id.pai = uri;
  return id;
}

std::string ChallengeRealm(const sip_t* response) {
  const msg_auth_t* au = response->sip_www_authenticate != nullptr
                             ? response->sip_www_authenticate
                             : response->sip_proxy_authenticate;
  for (; au != nullptr; au = au->au_next) {
    if (au->au_scheme == nullptr || strcasecmp(au->au_scheme, "Digest") != 0) continue;
    for (const msg_param_t* p = au->au_params; p != nullptr && *p != nullptr; ++p) {
      std::string_view param = *p;
      if (param.size() > 6 && strncasecmp(param.data(), "realm=", 6) == 0) {
        std::string_view v = param.substr(6);
        if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
        return std::string(v);
      }
    }
  }
  return {};
}

std::string DigestCredentials(std::string_view realm, std::string_view user,
                              std::string_view password) {
  return absl::StrCat("Digest:\"", std::string(realm), "\":", std::string(user), ":",
                      std::string(password));
}

std::string TargetUri(std::string_view host, uint32_t port, v1::Transport transport) {
  const bool v6 = host.find(':') != std::string_view::npos;
  std::string h = v6 ? absl::StrCat("[", std::string(host), "]") : std::string(host);
  const char* tp = transport == v1::TRANSPORT_UDP   ? "udp"
                   : transport == v1::TRANSPORT_TCP ? "tcp"
                                                    : "tls";
  return absl::StrCat("sip:", h, ":", port, ";transport=", tp);
}

std::optional<SocketAddress> SocketAddressOf(const HostPort& hp) {
  SocketAddress a;
  if (inet_pton(AF_INET, hp.host.c_str(),
                &reinterpret_cast<sockaddr_in*>(&a.storage)->sin_addr) == 1) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&a.storage);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(static_cast<uint16_t>(hp.port));
    a.length = sizeof(sockaddr_in);
    return a;
  }
  if (inet_pton(AF_INET6, hp.host.c_str(),
                &reinterpret_cast<sockaddr_in6*>(&a.storage)->sin6_addr) == 1) {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(static_cast<uint16_t>(hp.port));
    a.length = sizeof(sockaddr_in6);
    return a;
  }
  return std::nullopt;
}

int FindUdpSocket(const HostPort& hp) {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  int found = -1;
  const int dir_fd = dirfd(dir);
  while (dirent* e = readdir(dir)) {
    char* end = nullptr;
    const long fd = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0' || fd == dir_fd) continue;
    struct stat st;
    if (fstat(static_cast<int>(fd), &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
    int type = 0;
    socklen_t type_len = sizeof(type);
    if (getsockopt(static_cast<int>(fd), SOL_SOCKET, SO_TYPE, &type, &type_len) != 0 ||
        type != SOCK_DGRAM) {
      continue;
    }
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    if (getsockname(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&ss), &len) != 0) continue;
    char host[INET6_ADDRSTRLEN] = {};
    uint32_t port = 0;
    if (ss.ss_family == AF_INET) {
      const auto* sin = reinterpret_cast<const sockaddr_in*>(&ss);
      inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
      port = ntohs(sin->sin_port);
    } else if (ss.ss_family == AF_INET6) {
      const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&ss);
      inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
      port = ntohs(sin6->sin6_port);
    } else {
      continue;
    }
    if (port == hp.port && hp.host == host) {
      found = static_cast<int>(fd);
      break;
    }
  }
  closedir(dir);
  return found;
}

bool ReadReceiveQueue(int fd, uint64_t* queued_bytes, uint64_t* capacity_bytes) {
  uint32_t info[SK_MEMINFO_VARS] = {};
  socklen_t len = sizeof(info);
  if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_MEMINFO, info, &len) != 0 ||
      len < sizeof(uint32_t) * (SK_MEMINFO_RCVBUF + 1)) {
    return false;
  }
  *queued_bytes = info[SK_MEMINFO_RMEM_ALLOC];
  *capacity_bytes = info[SK_MEMINFO_RCVBUF];
  return true;
}

}  // namespace trunkroute::sip

namespace trunkroute::sip {

std::string NextHopUri(std::string_view host, std::string_view address, uint32_t port,
                       v1::Transport transport) {
  const bool v6 = address.find(':') != std::string_view::npos;
  std::string a = v6 ? absl::StrCat("[", std::string(address), "]") : std::string(address);
  return absl::StrCat(TargetUri(host, port, transport), ";maddr=", a);
}

}  // namespace trunkroute::sip
