#ifndef TRUNKROUTE_TESTS_SIP_FAKE_DNS_CLIENT_H_
#define TRUNKROUTE_TESTS_SIP_FAKE_DNS_CLIENT_H_

#include <algorithm>
#include <deque>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "sip/dns_client.h"

namespace trunkroute::sip::testing {

// A zone written by the test; queries wait until Deliver() answers them (as a real client
// answers later, never from inside Query). Names missing from the zone are NXDOMAIN; while
// `down`, every query fails with a timeout.
class FakeDnsClient final : public DnsClient {
 public:
  static std::string TypeName(DnsType t) {
    switch (t) {
      case DnsType::kNaptr:
        return "NAPTR";
      case DnsType::kSrv:
        return "SRV";
      case DnsType::kA:
        return "A";
      case DnsType::kAaaa:
        return "AAAA";
    }
    return "?";
  }
  void Naptr(const std::string& name, std::vector<NaptrRecord> r, uint32_t ttl) {
    DnsAnswer& a = zone_[{DnsType::kNaptr, name}];
    a = DnsAnswer{DnsAnswer::Status::kOk, "", std::move(r), {}, {}, ttl};
  }
  void Srv(const std::string& name, std::vector<SrvRecord> r, uint32_t ttl) {
    zone_[{DnsType::kSrv, name}] = DnsAnswer{DnsAnswer::Status::kOk, "", {}, std::move(r), {}, ttl};
  }
  void A(const std::string& name, std::vector<std::string> addresses, uint32_t ttl) {
    zone_[{DnsType::kA, name}] =
        DnsAnswer{DnsAnswer::Status::kOk, "", {}, {}, std::move(addresses), ttl};
  }
  void Remove(DnsType t, const std::string& name) { zone_.erase({t, name}); }
  void Clear() { zone_.clear(); }
  bool down = false;
  std::vector<std::string> failing;  // names whose queries fail with SERVFAIL

  void Query(DnsType type, const std::string& name, Callback done) override {
    log_.push_back(absl::StrCat(TypeName(type), " ", name));
    queue_.emplace_back(std::make_pair(type, name), std::move(done));
  }
  // Answers every query asked so far, and those their answers cause, until none is left.
  void Deliver() {
    while (!queue_.empty()) {
      auto [key, done] = std::move(queue_.front());
      queue_.pop_front();
      DnsAnswer a;
      if (down) {
        a.status = DnsAnswer::Status::kFailed;
        a.error = "timeout";
      } else if (std::find(failing.begin(), failing.end(), key.second) != failing.end()) {
        a.status = DnsAnswer::Status::kFailed;
        a.error = "SERVFAIL";
      } else if (auto it = zone_.find(key); it != zone_.end()) {
        a = it->second;
      } else {
        a.status = DnsAnswer::Status::kNoRecords;
        a.error = "NXDOMAIN";
      }
      done(a);
    }
  }
  size_t queued() const { return queue_.size(); }
  // The queries sent since the last call ("NAPTR carrier.test", "SRV _sip._udp.carrier.test").
  std::vector<std::string> TakeLog() { return std::exchange(log_, {}); }

 private:
  std::map<std::pair<DnsType, std::string>, DnsAnswer> zone_;
  std::deque<std::pair<std::pair<DnsType, std::string>, Callback>> queue_;
  std::vector<std::string> log_;
};

}  // namespace trunkroute::sip::testing

#endif  // TRUNKROUTE_TESTS_SIP_FAKE_DNS_CLIENT_H_
