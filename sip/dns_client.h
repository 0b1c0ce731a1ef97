#ifndef TRUNKROUTE_SIP_DNS_CLIENT_H_
#define TRUNKROUTE_SIP_DNS_CLIENT_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "sip/rfc3263.h"

namespace trunkroute::sip {

enum class DnsType { kNaptr, kSrv, kA, kAaaa };

// One DNS answer, reduced to what RFC 3263 resolution needs.
struct DnsAnswer {
  enum class Status {
    kOk,         // records of the asked type (in the vectors below)
    kNoRecords,  // an authoritative "nothing": NXDOMAIN, or the name has no record of the type
    kFailed,     // no usable answer: timeout, SERVFAIL, REFUSED, network error
  };
  Status status = Status::kFailed;
  std::string error;  // kNoRecords / kFailed: "NXDOMAIN", "no records", "timeout", "SERVFAIL" ...
  std::vector<NaptrRecord> naptr;
  std::vector<SrvRecord> srv;
  std::vector<std::string> addresses;  // kA / kAaaa: IP literals without brackets
  uint32_t ttl = 0;                    // kOk: the smallest TTL of the records
};

// Asynchronous DNS queries. Implemented on Sofia's resolver in the SIP thread
// (sip/sofia_dns_client.h); tests use a fake. Single-threaded: Query and the callbacks run on
// the thread that owns the client.
class DnsClient {
 public:
  using Callback = std::function<void(const DnsAnswer&)>;
  virtual ~DnsClient() = default;
  // `done` is called exactly once, later (never from inside Query), unless the client is
  // destroyed first (then never).
  virtual void Query(DnsType type, const std::string& name, Callback done) = 0;
};

}  // namespace trunkroute::sip

#endif  // TRUNKROUTE_SIP_DNS_CLIENT_H_
