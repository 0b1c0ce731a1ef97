#ifndef TRUNKROUTE_SIP_PROBE_FORWARDER_H_
#define TRUNKROUTE_SIP_PROBE_FORWARDER_H_

#include <atomic>

#include "health/prober.h"

namespace trunkroute::sip {

// Breaks the construction cycle between the health tracker (needs a ProbeSender when built) and
// the SIP edge (needs the tracker when started): build the forwarder first, give it to the
// tracker, start the edge, then SetTarget(edge). Before that, and after SetTarget(nullptr),
// probes are dropped (the tracker times them out like any unanswered probe).
// Thread-safe; SendProbe never blocks.
class ProbeForwarder final : public health::ProbeSender {
 public:
  void SetTarget(health::ProbeSender* target) { target_.store(target, std::memory_order_release); }
  void SendProbe(const health::ProbeTarget& target) override {
    if (health::ProbeSender* t = target_.load(std::memory_order_acquire)) t->SendProbe(target);
  }
  bool ResolvesNames() const override {
    health::ProbeSender* t = target_.load(std::memory_order_acquire);
    return t != nullptr && t->ResolvesNames();
  }

 private:
  std::atomic<health::ProbeSender*> target_{nullptr};
};

}  // namespace trunkroute::sip

#endif  // TRUNKROUTE_SIP_PROBE_FORWARDER_H_
