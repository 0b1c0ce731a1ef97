#ifndef TRUNKROUTE_SIP_EDGE_CALL_H_
#define TRUNKROUTE_SIP_EDGE_CALL_H_

// Internal to trunkroute_sip: the Sofia glue of one call. The failover decisions are CallFsm's
// (sip/call.h); this class turns nua events into FSM events and FSM actions into nua calls, and
// relays the dialog once connected (ACK, BYE, re-INVITE, UPDATE, INFO).
// Every method runs on the SIP thread.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "router/decision.h"
#include "sip/call.h"
#include "sip/early_dialogs.h"
#include "sip/edge_core.h"
#include "sip/edge_util.h"
#include "sip/incoming_invite.h"
#include "sip/sdp_policy.h"
#include "sip/session_timer.h"
#include "sip/sofia.h"

namespace trunkroute::sip {

class EdgeCall {
 public:
  EdgeCall(EdgeCore* core, nua_handle_t* caller_handle, router::Decision decision,
           CallerRequest request, std::vector<CallCandidate> candidates,
           std::vector<std::string> offers);
  ~EdgeCall();
  EdgeCall(const EdgeCall&) = delete;
  EdgeCall& operator=(const EdgeCall&) = delete;

  void Start();
  void OnCallerEvent(nua_event_t event, int status, char const* phrase, sip_t const* sip,
                     tagi_t tags[]);
  // `local`: a final ≥ 300 our own stack generated (see EdgeCore::CameFromNetwork).
  void OnTrunkEvent(int attempt, nua_event_t event, int status, char const* phrase,
                    sip_t const* sip, tagi_t tags[], bool local);
  // The edge is stopping: end the call on both sides now.
  void Shutdown();
  // The TLS handshake with `peer` (TlsPeerKey) failed: an attempt of this call waiting on it
  // ends now as a local 503 with `reason` (TLS_FAILED), as if the stack had answered it.
  void OnTlsFailure(const std::string& peer, const std::string& reason);
  // No handle left: the core may delete the call.
  bool Finished() const;

 private:
  struct Leg {
    LegRef ref;
    nua_handle_t* nh = nullptr;
    std::string trunk_id;  // kTrunk legs: counted in the trunk's load while open
    bool closing = false;  // BYE (or final) sent: only waiting for the stack to finish
    bool acked = false;    // kTrunk: the 2xx to our INVITE has been ACKed
    bool rang = false;     // kTrunk: a 180/183 was relayed (post-dial delay taken)
    // kTrunk: its 2xx offered no codec the trunk allows; ACKed (declined) and BYEd.
    bool refused_offer = false;
  };
  // A message body as it may cross to the other leg (sip/sdp_policy.h): the received one, or the
  // SDP filtered for the trunk; BODY_TAGS (edge_call.cc) turns it into nua tags.
  struct RelayBody {
    bool present = false;
    bool not_acceptable = false;  // an offer with nothing allowed left: 488, relay nothing
    sip_content_type_t const* ct = nullptr;
    sip_payload_t const* pl = nullptr;  // as received, when `sdp` is empty
    std::string sdp;                    // filtered SDP
  };
  // A request relayed within the dialog that waits for the other side's answer.
  struct PendingRelay {
    nua_event_t answer_event;         // nua_r_invite / nua_r_update / nua_r_info
    Leg* from = nullptr;              // the side that sent the request and gets the answer
    nua_saved_event_t saved[1] = {};  // for UPDATE/INFO: answered later with NUTAG_WITH_SAVED
    bool has_saved = false;
    bool had_offer = false;      // the request carried SDP (its 2xx has the answer, else an offer)
    SessionTimer request_timer;  // the request's RFC 4028 headers (for the caller's view)
  };

  static void OnTimer(EdgeCore* core, su_timer_t* timer, void* arg);

  void Execute(const CallActions& actions, sip_t const* sip);
  void SendInvite(int attempt, int candidate, int target);
  void Authenticate(Leg& leg, int candidate, sip_t const* challenge);
  // Relays `attempt`'s provisional `status` (with its SDP, if any) to the caller, in the dialog
  // EarlyDialogs gives it (docs/sip-edge.md "Early media"); reliably (RFC 3262) when it carries
  // an answer and the caller supports 100rel.
  void RelayProvisional(int attempt, int status, sip_t const* provisional);
  // Answers the caller with `status` (standard phrase), the body of `with_body` if any, and a
  // Reason header if `reason` is not empty.
  void RespondCaller(int status, sip_t const* with_body, const std::string& reason);
  void Rearm();
  void DestroyLeg(Leg& leg);
  void EndDialog(Leg* from);  // BYE the other side(s) once one side ended
  void RelayInDialog(Leg& from, nua_event_t event, sip_t const* sip);
  void RelayAnswer(Leg& to_answer_side, int status, sip_t const* sip);
  // SDP on the call: `sip`'s body as it may go on, filtered by the trunk of `attempt` for the
  // way it travels (the one rule, FilterSdpForTrunk). An answer, or an offer that cannot be
  // refused (in a 18x/2xx), is never not_acceptable: streams left without a codec are declined.
  RelayBody BodyFor(sip_t const* sip, int attempt, SdpDirection direction, SdpRole role,
                    bool refusable);
  // `sip`'s body exactly as received (INFO bodies, which are not session descriptions).
  static RelayBody AsReceived(sip_t const* sip);
  // The trunk's 2xx to our INVITE, relayed to the caller with its body filtered (18x bodies:
  // RelayProvisional).
  void RespondCallerFromTrunk(int status, int attempt, sip_t const* sip);
  // The caller's INVITE had no offer and the trunk's 2xx offers nothing its codec list allows:
  // ACK it with every stream declined and BYE it (RFC 3261 §13.2.2.4); the attempt ends 488.
  bool RefuseUnusableLateOffer(int attempt, Leg& leg, sip_t const* sip);
  // RFC 4028 §7.4: the trunk answered our INVITE 422 with a Min-SE above our Session-Expires:
  // the same attempt sends the INVITE again with it, once (no failover, nothing for health).
  bool RetryWithTrunksMinSe(int attempt, sip_t const* sip);
  Leg* ConnectedLeg();
  Leg& OtherSide(Leg& leg);
  const router::CompiledTrunk& TrunkOf(int candidate) const;
  // TlsPeerKey of the address `attempt` went to; empty when not over TLS.
  std::string TlsPeerOf(int attempt) const;

  EdgeCore* const core_;
  const router::Decision decision_;
  const CallerRequest request_;
  const std::vector<std::string> offers_;        // filtered SDP per candidate ("" = as received)
  const std::vector<CallCandidate> candidates_;  // their targets, for SendInvite
  CallFsm fsm_;
  Leg caller_;
  std::vector<std::unique_ptr<Leg>> attempts_;
  su_timer_t* timer_ = nullptr;
  bool caller_final_sent_ = false;
  bool dialog_ended_ = false;
  bool shutting_down_ = false;
  std::optional<PendingRelay> pending_;
  uint32_t min_se_from_422_ = 0;  // a trunk's Min-SE from its 422, for the re-sent INVITE
  int retried_422_attempt_ = -1;  // the attempt that re-sent its INVITE after a 422
  bool resending_ = false;        // SendInvite re-sends the current attempt (not a new one)
  EarlyDialogs early_dialogs_;
  MonoTime started_{};
};

}  // namespace trunkroute::sip

#endif  // TRUNKROUTE_SIP_EDGE_CALL_H_
