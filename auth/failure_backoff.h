#ifndef TRUNKROUTE_AUTH_FAILURE_BACKOFF_H_
#define TRUNKROUTE_AUTH_FAILURE_BACKOFF_H_

#include <cstddef>
#include <list>
#include <optional>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"

namespace trunkroute::auth {

// Slows down a source that keeps presenting wrong tokens: after `free_failures` failed
// authentications, the source is refused outright for a backoff that starts at `base` and doubles
// with each further failure up to `max`. While refused, its requests are answered at once
// (RESOURCE_EXHAUSTED / HTTP 429 with the time left) without their token being looked at, so a
// guesser gets no answer about any guess during the backoff and no server thread waits for it.
// A source that has not failed for `forget_after` starts over.
//
// Memory is bounded: at most `max_sources` sources are remembered; when full, the one whose last
// failure is oldest is forgotten. Thread-safe; all time comes from the injected clock.
class FailureBackoff {
 public:
  struct Options {
    int free_failures = 5;
    Duration base = std::chrono::seconds(1);
    Duration max = std::chrono::seconds(60);
    Duration forget_after = std::chrono::minutes(10);
    size_t max_sources = 4096;
  };

  explicit FailureBackoff(Clock* clock) : FailureBackoff(clock, Options()) {}
  FailureBackoff(Clock* clock, Options options) : clock_(clock), options_(options) {}

  // The time left in `source`'s backoff, or nullopt when it may try now.
  std::optional<Duration> Blocked(std::string_view source);

  // Records a failed authentication; returns the backoff it starts (zero while the source still
  // has free failures).
  Duration RecordFailure(std::string_view source);

  // Sources remembered now (for tests and the bound).
  size_t size() const;

 private:
  struct Entry {
    int failures = 0;
    MonoTime last_failure{};
    MonoTime blocked_until{};
    std::list<std::string>::iterator lru;  // position in lru_ (front = most recent failure)
  };

  Clock* const clock_;
  const Options options_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> sources_ ABSL_GUARDED_BY(mu_);
  std::list<std::string> lru_ ABSL_GUARDED_BY(mu_);
};

// The key a peer is tracked under: its IP address without the port ("127.0.0.1"), IPv6
// addresses reduced to their /64 (one subscriber usually holds a whole /64, so counting single
// addresses would let one client rotate through 2^64 of them), "unix" for local sockets.
// Accepts gRPC peers ("ipv4:10.0.0.1:5000", "ipv6:[2001:db8::1]:5000", "unix:/path") and bare
// addresses as the HTTP face reports them ("10.0.0.1", "2001:db8::1").
std::string SourceKey(std::string_view peer);

}  // namespace trunkroute::auth

#endif  // TRUNKROUTE_AUTH_FAILURE_BACKOFF_H_
