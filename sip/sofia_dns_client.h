#ifndef TRUNKROUTE_SIP_SOFIA_DNS_CLIENT_H_
#define TRUNKROUTE_SIP_SOFIA_DNS_CLIENT_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "sip/dns_client.h"
#include "sip/sofia.h"

namespace trunkroute::sip {

// DnsClient on Sofia-SIP's own asynchronous resolver (sresolv), which runs in the su_root loop:
// no thread of its own, no blocking call on the SIP thread. Every method, and every callback,
// runs on the thread that runs `root`.
class SofiaDnsClient final : public DnsClient {
 public:
  // `server` empty: the system resolver (the nameservers of /etc/resolv.conf). "ip:port" or
  // "[v6]:port": that server only, through a resolv.conf of our own (Sofia's resolver takes the
  // server port from a `port` line there) written to a private temporary directory and removed
  // in the destructor. InvalidArgument naming `field` for a malformed server.
  static absl::StatusOr<std::unique_ptr<SofiaDnsClient>> Create(su_root_t* root,
                                                                std::string_view server,
                                                                std::string_view field);
  // Outstanding queries are dropped: their callbacks are never called.
  ~SofiaDnsClient() override;

  void Query(DnsType type, const std::string& name, Callback done) override;

  // The resolv.conf this client reads ("" for the system's): nta's own resolver (for requests
  // the edge does not route itself, such as a dialog's host-named Contact) is pointed at it too.
  const std::string& resolv_conf() const { return resolv_conf_; }

 private:
  struct Pending;
  SofiaDnsClient() = default;
  static void OnAnswer(sres_context_t* context, sres_query_t* query, sres_record_t** answers);
  static void OnDeferred(su_root_magic_t*, su_timer_t*, su_timer_arg_t* arg);
  void Complete(Pending* p, const DnsAnswer& answer);

  sres_resolver_t* resolver_ = nullptr;
  su_timer_t* timer_ = nullptr;  // defers the callback of a query Sofia refused at once
  std::string resolv_conf_;
  std::string temp_dir_;
  absl::flat_hash_set<Pending*> pending_;
  std::vector<Pending*> deferred_;  // refused at once; answered from timer_
};

}  // namespace trunkroute::sip

#endif  // TRUNKROUTE_SIP_SOFIA_DNS_CLIENT_H_
