#ifndef TRUNKROUTE_HEALTH_PROBER_H_
#define TRUNKROUTE_HEALTH_PROBER_H_

#include <cstdint>
#include <string>

#include "common/clock.h"
#include "trunkroute/v1/config.pb.h"

namespace trunkroute::health {

// One OPTIONS probe the tracker wants sent now.
struct ProbeTarget {
  std::string trunk_id;
  std::string host;  // the trunk's configured host (Request-URI, TLS name)
  uint32_t port = 0;
  v1::Transport transport = v1::TRANSPORT_TLS;
  uint32_t timeout_ms = 0;  // our own short timeout, not the SIP stack's 32 s
  uint64_t probe_id = 0;    // echo back in ProbeResult
  // The target probed: its key ("192.0.2.1:5060") and the IP literal to send to; `address`
  // empty = send to `host` as it is (a trunk whose name nobody resolved for us).
  std::string target;
  std::string address;
};

// The result, reported back through HealthTracker::ReportProbe.
struct ProbeResult {
  std::string trunk_id;
  uint64_t probe_id = 0;  // identifies the target too
  std::string target;     // informational (logs): the probe's target key
  int sip_status = 0;            // 0 when no response
  bool timed_out = false;
  bool transport_error = false;
  // With transport_error: the TLS handshake with the trunk failed, OpenSSL's reason (the trunk
  // stays or becomes DOWN as TLS_FAILED rather than PROBE_FAILURES).
  std::string tls_failure;
  Duration rtt{0};               // when answered
};

// Sends probes. Implemented by the SIP edge (sip/), which posts the send to its su_root thread;
// tests use a fake. SendProbe must not block and may be called from the tracker's timer thread.
class ProbeSender {
 public:
  virtual ~ProbeSender() = default;
  virtual void SendProbe(const ProbeTarget& target) = 0;
  // True when the sender resolves trunk host names itself and reports their addresses through
  // HealthTracker::SetTargets (the SIP edge): a name's health then waits for those targets
  // instead of probing the bare name.
  virtual bool ResolvesNames() const { return false; }
};

}  // namespace trunkroute::health

#endif  // TRUNKROUTE_HEALTH_PROBER_H_
