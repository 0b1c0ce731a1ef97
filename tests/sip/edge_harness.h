#ifndef TRUNKROUTE_TESTS_SIP_EDGE_HARNESS_H_
#define TRUNKROUTE_TESTS_SIP_EDGE_HARNESS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/random.h"
#include "config/config_manager.h"
#include "health/tracker.h"
#include "sip/edge.h"
#include "sip/probe_forwarder.h"

namespace trunkroute::sip::testing {

// The SIP edge wired the way trunkrouted wires it (config manager → health tracker with the
// probe forwarder → edge), without the gRPC and HTTP faces. Used by the end-to-end tests and by
// the sip-only harness binary.
class EdgeHarness {
 public:
  // `config_json`: a trunkroute Config in the protobuf JSON mapping.
  static absl::StatusOr<std::unique_ptr<EdgeHarness>> Start(const std::string& config_json,
                                                            const EdgeOptions& options);
  ~EdgeHarness();

  config::ConfigManager& config() { return *config_; }
  health::HealthTracker& health() { return *tracker_; }
  SipEdge& edge() { return *edge_; }
  // Stops the edge (graceful); the health timer runs until destruction.
  void Stop();

 private:
  EdgeHarness() = default;
  RealClock clock_;
  DefaultRandomSource random_;
  ProbeForwarder forwarder_;
  std::unique_ptr<config::ConfigManager> config_;
  std::unique_ptr<health::HealthTracker> tracker_;
  std::unique_ptr<health::HealthTimerThread> timer_;
  std::unique_ptr<SipEdge> edge_;
};

}  // namespace trunkroute::sip::testing

#endif  // TRUNKROUTE_TESTS_SIP_EDGE_HARNESS_H_
