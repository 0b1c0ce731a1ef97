#ifndef TRUNKROUTE_SIP_SOFIA_TIMER_D_H_
#define TRUNKROUTE_SIP_SOFIA_TIMER_D_H_

// Timer D of Sofia-SIP's transaction layer (nta), which no tag sets: how long a client INVITE
// transaction is kept after its final response. nta fixes it at max(32 s, T1×64) in every
// nta_agent_set_params(); each one keeps the request, the copy nta sent and the answer (≈ 12 KB)
// that long. This shortens it by writing the queue's timeout in nta's private agent struct,
// found through nua's private struct: both layouts are Sofia-SIP 1.12.11's (Debian 12's
// libsofia-sip-ua0 1.12.11+20110422.1+1e14eea). Nothing is written unless a signature of
// fields whose values are known (our root and magic in nua; in nta the root, T1, T2, T4, T1×64,
// Timer C and the timeouts and list links of every client queue) matches at the offsets that
// layout gives; on any other build the edge runs with Sofia's 32 s and says so.
// docs/sip-edge.md ("Timer D") has the why and the RFC reasoning.

#include <cstddef>

#include "absl/status/statusor.h"
#include "sip/sofia.h"

namespace trunkroute::sip {

// What the stack was created with (the signature's expected values).
struct ExpectedStackTimers {
  su_root_t* api_root = nullptr;  // the root given to nua_create
  EdgeCore* magic = nullptr;      // the magic given to nua_create
  unsigned t1_ms = 500;
  unsigned t2_ms = 4000;
  unsigned t4_ms = 0;
  unsigned t1x64_ms = 0;
  unsigned timer_c_ms = 0;
};

// nta's queue of completed client INVITE transactions (Timer D). SIP thread only.
class InviteClientTimerD {
 public:
  // Finds nua's agent and checks the signature, writing nothing. The queue's timeout found
  // there must be Sofia's max(32 s, T1×64) or `ours` (set before, by Set). FailedPrecondition
  // naming the first field that did not match on any other layout.
  static absl::StatusOr<InviteClientTimerD> Find(nua_t* nua, const ExpectedStackTimers& expected,
                                                 unsigned ours);

  // Timer D for transactions completed from now on (those already queued keep theirs). Needed
  // again after every nta_agent_set_params, which puts Sofia's value back.
  void Set(unsigned timer_d_ms);
  unsigned timer_d_ms() const;       // read back from the queue
  size_t completed_invites() const;  // client INVITE transactions waiting for Timer D now
  // nua's transaction agent: the one whose layout Find checked.
  nta_agent_t* agent() const { return agent_; }

 private:
  struct Queue;
  InviteClientTimerD(Queue* queue, nta_agent_t* agent) : queue_(queue), agent_(agent) {}
  Queue* queue_;
  nta_agent_t* agent_;
};

}  // namespace trunkroute::sip

#endif  // TRUNKROUTE_SIP_SOFIA_TIMER_D_H_
