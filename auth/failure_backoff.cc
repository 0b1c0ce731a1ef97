#include "auth/failure_backoff.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>

namespace trunkroute::auth {

std::string SourceKey(std::string_view peer) {
  std::string_view p = peer;
  if (p.rfind("unix:", 0) == 0 || p.rfind("unix-abstract:", 0) == 0) return "unix";
  if (p.rfind("ipv4:", 0) == 0 || p.rfind("ipv6:", 0) == 0) {
    p.remove_prefix(5);
    // "addr:port" / "[addr]:port": drop the port.
    if (!p.empty() && p.front() == '[') {
      const size_t close = p.find(']');
      p = p.substr(1, close == std::string_view::npos ? std::string_view::npos : close - 1);
    } else if (size_t colon = p.rfind(':');
               colon != std::string_view::npos && p.find(':') == colon) {
      p = p.substr(0, colon);
    }
  }
  if (!p.empty() && p.front() == '[' && p.back() == ']') p = p.substr(1, p.size() - 2);
  if (size_t zone = p.find('%'); zone != std::string_view::npos) p = p.substr(0, zone);
  const std::string address(p);
  in6_addr v6{};
  if (address.find(':') != std::string::npos && ::inet_pton(AF_INET6, address.c_str(), &v6) == 1) {
    // An IPv4-mapped address is the IPv4 address.
    static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::equal(kMapped, kMapped + 12, v6.s6_addr)) {
      char buf[INET_ADDRSTRLEN];
      ::inet_ntop(AF_INET, v6.s6_addr + 12, buf, sizeof buf);
      return buf;
    }
    std::fill(v6.s6_addr + 8, v6.s6_addr + 16, 0);
    char buf[INET6_ADDRSTRLEN];
    ::inet_ntop(AF_INET6, &v6, buf, sizeof buf);
    return std::string(buf) + "/64";
  }
  return address.empty() ? std::string("unknown") : address;
}

std::optional<Duration> FailureBackoff::Blocked(std::string_view source) {
  const MonoTime now = clock_->Now();
  absl::MutexLock lock(&mu_);
  auto it = sources_.find(std::string(source));
  if (it == sources_.end() || it->second.blocked_until <= now) return std::nullopt;
  return it->second.blocked_until - now;
}

Duration FailureBackoff::RecordFailure(std::string_view source) {
  const MonoTime now = clock_->Now();
  absl::MutexLock lock(&mu_);
  auto it = sources_.find(std::string(source));
  if (it == sources_.end()) {
    if (options_.max_sources == 0) return Duration::zero();
    while (sources_.size() >= options_.max_sources) {
      sources_.erase(lru_.back());
      lru_.pop_back();
    }
    lru_.emplace_front(source);
    it = sources_.emplace(std::string(source), Entry{}).first;
    it->second.lru = lru_.begin();
  } else {
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    if (now - it->second.last_failure >= options_.forget_after) it->second.failures = 0;
  }
  Entry& e = it->second;
  ++e.failures;
  e.last_failure = now;
  const int over = e.failures - options_.free_failures;
  if (over <= 0) return Duration::zero();
  // base × 2^(over-1), capped at max (doubling stops there, so it never overflows).
  Duration backoff = options_.base;
  for (int i = 1; i < over && backoff < options_.max; ++i) backoff *= 2;
  backoff = std::min(backoff, options_.max);
  e.blocked_until = now + backoff;
  return backoff;
}

size_t FailureBackoff::size() const {
  absl::MutexLock lock(&mu_);
  return sources_.size();
}

}  // namespace trunkroute::auth
