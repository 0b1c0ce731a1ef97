#include "sip/edge_call.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace trunkroute::sip {
namespace {

enum nua_callstate CallStateOf(tagi_t tags[]) {
  int state = nua_callstate_init;
  tl_gets(tags, NUTAG_CALLSTATE_REF(state), TAG_END());
  return static_cast<enum nua_callstate>(state);
}

// nua_respond() keeps the phrase *pointer* until its stack turn comes, after our callback has
// returned and the event (and any string of ours) is gone: only static phrases are safe.
char const* StaticPhrase(int status) {
  char const* phrase = sip_status_phrase(status);
  return phrase != nullptr ? phrase : (status < 300 ? "OK" : "Failed");
}

bool HasBody(sip_t const* sip) {
  return sip != nullptr && sip->sip_payload != nullptr && sip->sip_payload->pl_len > 0;
}

// An SDP body: an offer or answer (RFC 3264), not any other kind of body.
bool HasSdp(sip_t const* sip) {
  if (!HasBody(sip)) return false;
  if (sip->sip_content_type == nullptr || sip->sip_content_type->c_type == nullptr) return true;
  return su_casematch(sip->sip_content_type->c_type, "application/sdp") != 0;
}

// A To-tag for an early dialog of our own: 64 random bits (RFC 3261 §19.3 asks for 32 at least).
std::string NewEarlyDialogTag() {
  unsigned char bytes[8];
  su_randmem(bytes, sizeof bytes);
  std::string tag = "em";
  for (unsigned char b : bytes) absl::StrAppend(&tag, absl::Hex(b, absl::kZeroPad2));
  return tag;
}

// The nua tags of a RelayBody: the received body, or the filtered SDP in its place.
#define BODY_TAGS(b)                                                     \
  TAG_IF((b).present && (b).ct != nullptr, SIPTAG_CONTENT_TYPE((b).ct)), \
      TAG_IF((b).present && (b).ct == nullptr && !(b).sdp.empty(),       \
             SIPTAG_CONTENT_TYPE_STR("application/sdp")),                \
      TAG_IF((b).present && (b).sdp.empty(), SIPTAG_PAYLOAD((b).pl)),    \
      TAG_IF((b).present && !(b).sdp.empty(), SIPTAG_PAYLOAD_STR((b).sdp.c_str()))

// The nua tags of SessionTimerHeaders (sip/session_timer.h). "timer" goes in a Supported header
// of its own, untyped: a typed one would switch on nua's own RFC 4028 engine for the transaction
// (its refresh and BYE timers, its 422 retry), which the end-to-end relay replaces.
#define SESSION_TIMER_TAGS(h)                                                                    \
  TAG_IF(!(h).session_expires.empty(), SIPTAG_SESSION_EXPIRES_STR((h).session_expires.c_str())), \
      TAG_IF(!(h).min_se.empty(), SIPTAG_MIN_SE_STR((h).min_se.c_str())),                        \
      TAG_IF((h).supported, SIPTAG_UNKNOWN_STR("Supported: timer")),                             \
      TAG_IF((h).required, SIPTAG_REQUIRE_STR("timer"))

}  // namespace

EdgeCall::EdgeCall(EdgeCore* core, nua_handle_t* caller_handle, router::Decision decision,
                   CallerRequest request, std::vector<CallCandidate> candidates,
                   std::vector<std::string> offers)
    : core_(core),
      decision_(std::move(decision)),
      request_(std::move(request)),
      offers_(std::move(offers)),
      candidates_(candidates),
      fsm_(std::move(candidates), decision_.policy(), request_.call_id),
      early_dialogs_(&NewEarlyDialogTag) {
  caller_.ref.kind = LegRef::Kind::kCaller;
  caller_.ref.call = this;
  caller_.nh = caller_handle;
  nua_handle_bind(caller_handle, &caller_.ref);
  core_->HandleCreated();
  core_->counters().active_calls.fetch_add(1, std::memory_order_relaxed);
}

EdgeCall::~EdgeCall() {
  if (timer_ != nullptr) su_timer_destroy(timer_);
  // Only reached with every handle destroyed (Finished()) or when the stack itself is gone.
  if (caller_.nh != nullptr) DestroyLeg(caller_);
  for (auto& leg : attempts_) {
    if (leg->nh != nullptr) DestroyLeg(*leg);
  }
  if (pending_ && pending_->has_saved) nua_destroy_event(pending_->saved);
  core_->counters().active_calls.fetch_sub(1, std::memory_order_relaxed);
}

void EdgeCall::Start() {
  started_ = core_->clock()->Now();
  Execute(fsm_.Start(started_), nullptr);
}

bool EdgeCall::Finished() const {
  if (caller_.nh != nullptr) return false;
  return std::all_of(attempts_.begin(), attempts_.end(),
                     [](const std::unique_ptr<Leg>& l) { return l->nh == nullptr; });
}

void EdgeCall::OnTlsFailure(const std::string& peer, const std::string& reason) {
  const int attempt = fsm_.attempt_count() - 1;
  if (attempt < 0 || attempt == fsm_.connected_attempt() || TlsPeerOf(attempt) != peer) return;
  // The FSM ignores this unless `attempt` is the live one, still in setup.
  FinalResponse r{.status = 503, .phrase = "Service Unavailable", .local = true};
  r.tls_failure = reason;
  Execute(fsm_.OnFinal(attempt, r, core_->clock()->Now()), nullptr);
}

std::string EdgeCall::TlsPeerOf(int attempt) const {
  const int candidate = fsm_.candidate_of(attempt);
  const int target = fsm_.target_of(attempt);
  const router::CompiledTrunk& trunk = TrunkOf(candidate);
  if (target >= 0) {
    const CallTarget& t =
        candidates_[static_cast<size_t>(candidate)].targets[static_cast<size_t>(target)];
    return t.transport == v1::TRANSPORT_TLS ? TlsPeerKey(t.address, t.port) : "";
  }
  return trunk.transport == v1::TRANSPORT_TLS ? TlsPeerKey(trunk.host, trunk.port) : "";
}

const router::CompiledTrunk& EdgeCall::TrunkOf(int candidate) const {
  return *decision_.candidates[static_cast<size_t>(candidate)].trunk;
}

EdgeCall::Leg* EdgeCall::ConnectedLeg() {
  int a = fsm_.connected_attempt();
  if (a < 0) return nullptr;
  return attempts_[static_cast<size_t>(a)].get();
}

EdgeCall::Leg& EdgeCall::OtherSide(Leg& leg) {
  if (&leg == &caller_) return *ConnectedLeg();
  return caller_;
}

// ---------------------------------------------------------------------------------------------
// Caller side (leg A)

void EdgeCall::OnCallerEvent(nua_event_t event, int status, char const* /*phrase*/,
                             sip_t const* sip, tagi_t tags[]) {
  const MonoTime now = core_->clock()->Now();
  switch (event) {
    case nua_i_cancel:
      caller_final_sent_ = true;  // the stack has answered the INVITE 487 itself
      Execute(fsm_.OnCallerCancel(now), nullptr);
      break;
    case nua_i_ack:
      if (Leg* b = ConnectedLeg(); b != nullptr && b->nh != nullptr && !b->closing) {
        // Our B legs run with NUTAG_AUTOACK(0) so that an answer in the caller's ACK (late
        // offer, or a relayed re-INVITE) reaches the trunk.
        b->acked = true;
        const RelayBody body = BodyFor(sip, b->ref.attempt, SdpDirection::kToTrunk,
                                       SdpRole::kAnswer, /*refusable=*/false);
        nua_ack(b->nh, BODY_TAGS(body), TAG_END());
      }
      break;
    case nua_i_bye:
      caller_.closing = true;
      EndDialog(&caller_);
      break;
    case nua_i_invite:  // re-INVITE from the caller
    case nua_i_update:
    case nua_i_info:
      RelayInDialog(caller_, event, sip);
      break;
    case nua_r_invite:
    case nua_r_update:
    case nua_r_info:
      if (pending_ && pending_->answer_event == event && status >= 200) {
        RelayAnswer(*pending_->from, status, sip);
      }
      break;
    case nua_i_state:
      if (CallStateOf(tags) == nua_callstate_terminated) {
        if (fsm_.phase() == CallFsm::Phase::kSetup) {
          caller_final_sent_ = true;  // nothing can be sent on a terminated leg
          Execute(fsm_.OnCallerCancel(now), nullptr);
        }
        caller_.closing = true;
        EndDialog(&caller_);
        DestroyLeg(caller_);
      }
      break;
    default:
      break;
  }
  Rearm();
}

// ---------------------------------------------------------------------------------------------
// Trunk side (leg B, one per attempt)

void EdgeCall::OnTrunkEvent(int attempt, nua_event_t event, int status, char const* phrase,
                            sip_t const* sip, tagi_t tags[], bool local) {
  if (attempt < 0 || attempt >= static_cast<int>(attempts_.size())) return;
  Leg& leg = *attempts_[static_cast<size_t>(attempt)];
  const MonoTime now = core_->clock()->Now();
  const bool connected = attempt == fsm_.connected_attempt();
  if (LogEnabled(LogLevel::kDebug)) {
    LogDebug("trunk leg event", {{"call_id", request_.call_id},
                                 {"attempt", std::to_string(attempt)},
                                 {"event", nua_event_name(event)},
                                 {"status", std::to_string(status)},
                                 {"local", local ? "yes" : "no"}});
  }
  switch (event) {
    case nua_r_invite:
      if (connected && pending_ && pending_->answer_event == nua_r_invite) {
        if (status >= 200) RelayAnswer(*pending_->from, status, sip);
        break;
      }
      if (connected) break;  // 2xx retransmissions of the answered INVITE
      if (status < 200) {
        Execute(fsm_.OnProvisional(attempt, status, now), sip);
      } else if (status == 422 && !local && RetryWithTrunksMinSe(attempt, sip)) {
        // The same attempt goes on with a new INVITE; `leg` is gone.
      } else if (status < 300 && RefuseUnusableLateOffer(attempt, leg, sip)) {
        FinalResponse r{.status = 488, .phrase = "Not Acceptable Here"};
        Execute(fsm_.OnFinal(attempt, r, now), nullptr);
      } else {
        FinalResponse r;
        r.status = status;
        r.phrase = phrase != nullptr ? phrase : "";
        r.local = local;
        // A local final other than the stack's own 408 on a TLS attempt: did the handshake
        // fail (sip/sofia_tls.h)? Then the trunk's certificate or protocol is the reason.
        if (local && status != 408) r.tls_failure = core_->RecentTlsFailure(TlsPeerOf(attempt));
        if (sip != nullptr && sip->sip_retry_after != nullptr) {
          r.retry_after_s = static_cast<uint32_t>(sip->sip_retry_after->af_delta);
        }
        Execute(fsm_.OnFinal(attempt, r, now), sip);
      }
      break;
    case nua_r_authenticate:
      // The stack could not use our credentials on this challenge (e.g. nothing to match):
      // the same as being challenged again.
      if (status >= 300 && !connected) {
        FinalResponse r{.status = 401, .phrase = phrase != nullptr ? phrase : ""};
        Execute(fsm_.OnFinal(attempt, r, now), nullptr);
      }
      break;
    case nua_i_ack:
      if (connected && caller_.nh != nullptr && !caller_.closing) {
        const RelayBody body = BodyFor(sip, attempt, SdpDirection::kFromTrunk, SdpRole::kAnswer,
                                       /*refusable=*/false);
        nua_ack(caller_.nh, BODY_TAGS(body), TAG_END());
      }
      break;
    case nua_i_bye:
      leg.closing = true;
      if (connected) EndDialog(&leg);
      break;
    case nua_i_invite:
    case nua_i_update:
    case nua_i_info:
      if (connected) {
        RelayInDialog(leg, event, sip);
      } else {
        nua_respond(leg.nh, SIP_481_NO_TRANSACTION, TAG_END());
      }
      break;
    case nua_r_update:
    case nua_r_info:
      if (connected && pending_ && pending_->answer_event == event && status >= 200) {
        RelayAnswer(*pending_->from, status, sip);
      }
      break;
    case nua_i_state:
      if (CallStateOf(tags) == nua_callstate_terminated) {
        if (connected) {
          leg.closing = true;
          EndDialog(&leg);
          DestroyLeg(leg);
        } else if (leg.closing || fsm_.phase() != CallFsm::Phase::kSetup) {
          // Released attempts are destroyed by the FSM's Release; BYEd late answers end here.
          if (leg.closing) DestroyLeg(leg);
        }
      }
      break;
    default:
      break;
  }
  Rearm();
}

void EdgeCall::OnTimer(EdgeCore* core, su_timer_t*, void* arg) {
  auto* call = static_cast<EdgeCall*>(arg);
  call->Execute(call->fsm_.OnTimer(core->clock()->Now()), nullptr);
  call->Rearm();
  // A timer can finish a call too (nothing touches the timer after its callback returns).
  core->ReapIfFinished(call);
}

void EdgeCall::Rearm() {
  const MonoTime deadline = fsm_.NextDeadline();
  if (deadline == MonoTime::max()) {
    if (timer_ != nullptr) su_timer_reset(timer_);
    return;
  }
  if (timer_ == nullptr) timer_ = su_timer_create(su_root_task(core_->root()), 0);
  const int64_t ms =
      std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::milliseconds>(
                               deadline - core_->clock()->Now() + std::chrono::microseconds(999))
                               .count());
  su_timer_set_interval(timer_, &EdgeCall::OnTimer, this, static_cast<su_duration_t>(ms));
}

// ---------------------------------------------------------------------------------------------
// FSM actions

void EdgeCall::Execute(const CallActions& actions, sip_t const* sip) {
  for (const CallAction& a : actions) {
    Leg* leg = a.attempt >= 0 && a.attempt < static_cast<int>(attempts_.size())
                   ? attempts_[static_cast<size_t>(a.attempt)].get()
                   : nullptr;
    switch (a.kind) {
      case CallAction::Kind::kSendInvite:
        SendInvite(a.attempt, a.candidate, a.target);
        break;
      case CallAction::Kind::kAuthenticate:
        if (leg != nullptr) Authenticate(*leg, a.candidate, sip);
        break;
      case CallAction::Kind::kCancel:
        if (leg != nullptr && leg->nh != nullptr) nua_cancel(leg->nh, TAG_END());
        break;
      case CallAction::Kind::kAckAndBye:
        if (leg != nullptr && leg->nh != nullptr) {
          core_->counters().late_answers_cleared.fetch_add(1, std::memory_order_relaxed);
          LogInfo("late answer from abandoned attempt: ACK and BYE",
                  {{"call_id", request_.call_id}, {"trunk", leg->trunk_id}});
          leg->closing = true;
          leg->acked = true;
          nua_ack(leg->nh, TAG_END());
          nua_bye(leg->nh, TAG_END());
        }
        break;
      case CallAction::Kind::kRelease:
        // A refused late offer is being ACKed and BYEd: its handle goes when that is done.
        if (leg != nullptr && leg->nh != nullptr && !leg->refused_offer) DestroyLeg(*leg);
        break;
      case CallAction::Kind::kRelayProvisional:
        if (leg != nullptr && !leg->rang) {
          leg->rang = true;
          if (EdgeObserver* o = core_->observer()) {
            o->OnPostDialDelay(leg->trunk_id,
                               core_->clock()->Now() - fsm_.attempt_started(a.attempt));
          }
        }
        RelayProvisional(a.attempt, a.status, sip);
        break;
      case CallAction::Kind::kAnswer:
        core_->counters().calls_answered.fetch_add(1, std::memory_order_relaxed);
        RespondCallerFromTrunk(a.status, a.attempt, sip);
        break;
      case CallAction::Kind::kRelayFinal:
        core_->counters().calls_failed.fetch_add(1, std::memory_order_relaxed);
        RespondCaller(a.status, nullptr, "");
        break;
      case CallAction::Kind::kRejectCaller:
        if (shutting_down_) {
          RespondCaller(503, nullptr, "SIP;cause=503;text=\"edge shutting down\"");
        } else {
          if (a.status != 487) {
            if (fsm_.attempt_count() == 0) {
              // No candidate could take the call (no common codec, all at capacity).
              core_->counters().calls_rejected.fetch_add(1, std::memory_order_relaxed);
              if (EdgeObserver* o = core_->observer()) o->OnRejected(a.status, kRejectNoCandidate);
            } else {
              core_->counters().calls_failed.fetch_add(1, std::memory_order_relaxed);
            }
            // The last trunk tried (none when the edge answered before any attempt).
            const std::string last_trunk =
                fsm_.attempt_count() > 0 ? TrunkOf(fsm_.candidate_of(fsm_.attempt_count() - 1)).id
                                         : std::string();
            LogInfo("call failed", {{"call_id", request_.call_id},
                                    {"route", decision_.route->id},
                                    {"trunk", last_trunk},
                                    {"status", std::to_string(a.status)},
                                    {"reason", a.reason}});
            if (EdgeObserver* o = core_->observer(); o != nullptr && fsm_.attempt_count() > 0) {
              o->OnFailover(decision_.route->id, last_trunk, "", fsm_.LastFailureReason());
            }
          }
          RespondCaller(a.status, nullptr, a.reason);
        }
        break;
      case CallAction::Kind::kReportOutcome:
        // Health owns AUTH_FAILED: its log line (one per run of failures) and its metric. The
        // edge keeps only its own total, of what health classified.
        if (core_->ReportOutcome(a.outcome, decision_.policy()) ==
            health::OutcomeClass::kAuthFailed) {
          core_->counters().auth_failures.fetch_add(1, std::memory_order_relaxed);
        }
        break;
    }
  }
}

void EdgeCall::SendInvite(int attempt, int candidate, int target) {
  const router::CompiledTrunk& trunk = TrunkOf(candidate);
  auto leg = std::make_unique<Leg>();
  leg->ref.kind = LegRef::Kind::kTrunk;
  leg->ref.call = this;
  leg->ref.attempt = attempt;
  leg->trunk_id = trunk.id;
  if (static_cast<int>(attempts_.size()) != attempt) return;  // FSM and glue out of step: never

  const std::string ruri = decision_.RequestUri(trunk);
  CallerIdentity id = IdentityForTrunk(request_.identity, trunk, request_.caller_number);
  if (!id.warning.empty()) {
    LogWarn(id.warning, {{"call_id", request_.call_id}, {"trunk", trunk.id}});
  }
  const std::string pai = id.pai.empty() ? "" : absl::StrCat("P-Asserted-Identity: ", id.pai);
  const std::string max_forwards = std::to_string(request_.max_forwards);
  const std::string& offer = offers_[static_cast<size_t>(candidate)];
  const std::string& body = offer.empty() ? request_.body : offer;

  leg->nh = nua_handle(core_->nua(), &leg->ref, SIPTAG_TO_STR(ruri.c_str()),
                       TAG_IF(!id.from.empty(), SIPTAG_FROM_STR(id.from.c_str())), TAG_END());
  core_->HandleCreated();
  core_->AddTrunkLoad(leg->trunk_id, 1);
  if (!resending_) core_->counters().attempts.fetch_add(1, std::memory_order_relaxed);
  const CallTarget* to_target =
      target >= 0
          ? &candidates_[static_cast<size_t>(candidate)].targets[static_cast<size_t>(target)]
          : nullptr;
  const int previous_target = attempt > 0 ? fsm_.target_of(attempt - 1) : -1;
  if (resending_) {
    // The same attempt again (after a 422): not a move to anywhere.
  } else if (attempt > 0 && fsm_.candidate_of(attempt - 1) == candidate && to_target != nullptr &&
             previous_target >= 0 && previous_target != target) {
    // The same trunk's next target: a move within the trunk, not a trunk failover.
    core_->counters().target_failovers.fetch_add(1, std::memory_order_relaxed);
    const std::string& from = candidates_[static_cast<size_t>(candidate)]
                                  .targets[static_cast<size_t>(previous_target)]
                                  .key;
    const std::string reason = fsm_.LastFailureReason();
    LogInfo("target failover", {{"call_id", request_.call_id},
                                {"route", decision_.route->id},
                                {"trunk", trunk.id},
                                {"from", from},
                                {"to", to_target->key},
                                {"reason", reason}});
    if (EdgeObserver* o = core_->observer()) {
      o->OnTargetFailover(decision_.route->id, trunk.id, from, to_target->key, reason);
    }
  } else if (attempt > 0) {
    core_->counters().failovers.fetch_add(1, std::memory_order_relaxed);
    const std::string& from = TrunkOf(fsm_.candidate_of(attempt - 1)).id;
    const std::string reason = fsm_.LastFailureReason();
    LogInfo("failover", {{"call_id", request_.call_id},
                         {"route", decision_.route->id},
                         {"from", from},
                         {"to", trunk.id},
                         {"reason", reason}});
    if (EdgeObserver* o = core_->observer()) {
      o->OnFailover(decision_.route->id, from, trunk.id, reason);
    }
  }
  // A resolved target: the Request-URI keeps the trunk's name, the INVITE (and its CANCEL) go to
  // the target's address, with the TLS identity checked against the name (see NextHopUri).
  const std::string next_hop =
      to_target != nullptr
          ? NextHopUri(trunk.host, to_target->address, to_target->port, to_target->transport)
          : std::string();
  // The caller's session timer (RFC 4028), raised to the trunk's Min-SE after its 422.
  SessionTimer timer = request_.session_timer;
  if (min_se_from_422_ > 0) {
    timer.min_se = std::max(timer.min_se, min_se_from_422_);
    timer.expires = std::max(timer.expires, min_se_from_422_);
  }
  const SessionTimerHeaders timer_headers(timer);
  nua_invite(leg->nh, NUTAG_URL(ruri.c_str()), SIPTAG_MAX_FORWARDS_STR(max_forwards.c_str()),
             SESSION_TIMER_TAGS(timer_headers),
             TAG_IF(!next_hop.empty(), NTATAG_DEFAULT_PROXY(next_hop.c_str())),
             TAG_IF(!pai.empty(), SIPTAG_HEADER_STR(pai.c_str())),
             TAG_IF(!request_.privacy.empty(), SIPTAG_PRIVACY_STR(request_.privacy.c_str())),
             TAG_IF(!request_.content_type.empty(),
                    SIPTAG_CONTENT_TYPE_STR(request_.content_type.c_str())),
             TAG_IF(!body.empty(), SIPTAG_PAYLOAD_STR(body.c_str())), TAG_END());
  attempts_.push_back(std::move(leg));
}

void EdgeCall::Authenticate(Leg& leg, int candidate, sip_t const* challenge) {
  const router::CompiledTrunk& trunk = TrunkOf(candidate);
  std::string realm = challenge != nullptr ? ChallengeRealm(challenge) : "";
  if (!trunk.auth_realm.empty() && trunk.auth_realm != realm) {
    LogWarn("trunk challenged with an unexpected realm; not answering",
            {{"call_id", request_.call_id}, {"trunk", trunk.id}, {"realm", realm}});
    // Treated as a second challenge: AUTH_FAILED, next trunk.
    FinalResponse r{.status = challenge && challenge->sip_status ? challenge->sip_status->st_status
                                                                 : 401};
    Execute(fsm_.OnFinal(leg.ref.attempt, r, core_->clock()->Now()), nullptr);
    return;
  }
  const std::string cred = DigestCredentials(realm, trunk.username, trunk.password);
  nua_authenticate(leg.nh, NUTAG_AUTH(cred.c_str()), TAG_END());
}

void EdgeCall::RespondCaller(int status, sip_t const* with_body, const std::string& reason) {
  if (caller_.nh == nullptr || caller_final_sent_) return;
  if (status >= 200) caller_final_sent_ = true;
  const bool body = HasBody(with_body);
  nua_respond(caller_.nh, status, StaticPhrase(status),
              TAG_IF(body, SIPTAG_CONTENT_TYPE(body ? with_body->sip_content_type : nullptr)),
              TAG_IF(body, SIPTAG_PAYLOAD(body ? with_body->sip_payload : nullptr)),
              TAG_IF(!reason.empty(), SIPTAG_REASON_STR(reason.c_str())), TAG_END());
}

void EdgeCall::RelayProvisional(int attempt, int status, sip_t const* provisional) {
  if (caller_.nh == nullptr || caller_final_sent_) return;
  const bool answer = HasSdp(provisional);
  const std::string tag =
      request_.to.empty() ? std::string() : early_dialogs_.TagFor(attempt, answer);
  const std::string to = tag.empty() ? std::string() : absl::StrCat(request_.to, ";tag=", tag);
  // RFC 3262 §3 / RFC 6337 §3.1: an answer in an unreliable provisional is only a preview; with a
  // caller that supports 100rel it goes reliably (nua adds RSeq, retransmits, answers the PRACK).
  const bool reliable = answer && request_.supports_100rel;
  // Its SDP filtered by the attempt's trunk (the answer to the caller's offer, or an offer when
  // the INVITE had none); other bodies are not relayed in a provisional.
  const RelayBody body = answer
                             ? BodyFor(provisional, attempt, SdpDirection::kFromTrunk,
                                       request_.body.empty() ? SdpRole::kOffer : SdpRole::kAnswer,
                                       /*refusable=*/false)
                             : RelayBody();
  if (LogEnabled(LogLevel::kDebug)) {
    LogDebug("provisional to caller", {{"call_id", request_.call_id},
                                       {"attempt", std::to_string(attempt)},
                                       {"status", std::to_string(status)},
                                       {"sdp", answer ? "yes" : "no"},
                                       {"early_dialog", tag.empty() ? "main" : tag},
                                       {"reliable", reliable ? "yes" : "no"}});
  }
  nua_respond(caller_.nh, status, StaticPhrase(status),
              TAG_IF(!to.empty(), SIPTAG_TO_STR(to.c_str())),
              TAG_IF(reliable, SIPTAG_REQUIRE_STR("100rel")), BODY_TAGS(body), TAG_END());
}

void EdgeCall::DestroyLeg(Leg& leg) {
  if (leg.nh == nullptr) return;
  nua_handle_bind(leg.nh, nullptr);
  core_->HandleDestroyed(leg.nh);
  leg.nh = nullptr;
  if (!leg.trunk_id.empty()) core_->AddTrunkLoad(leg.trunk_id, -1);
}

// ---------------------------------------------------------------------------------------------
// Connected dialog

void EdgeCall::EndDialog(Leg* from) {
  if (fsm_.phase() != CallFsm::Phase::kConnected) return;
  dialog_ended_ = true;
  Leg* trunk = ConnectedLeg();
  for (Leg* l : {&caller_, trunk}) {
    if (l == nullptr || l == from || l->nh == nullptr || l->closing) continue;
    l->closing = true;
    // The caller may hang up (or we may stop) before its ACK came: the trunk's 2xx still needs
    // its ACK before the BYE (RFC 3261 §13.2.2.4).
    if (l == trunk && !l->acked) {
      l->acked = true;
      nua_ack(l->nh, TAG_END());
    }
    nua_bye(l->nh, TAG_END());
  }
}

void EdgeCall::RelayInDialog(Leg& from, nua_event_t event, sip_t const* sip) {
  if (fsm_.phase() != CallFsm::Phase::kConnected) {
    // Early-dialog UPDATE/INFO from the caller: nothing to relay it to yet.
    nua_respond(from.nh, 500, "Not Possible Before Answer", TAG_END());
    return;
  }
  Leg& to = OtherSide(from);
  if (pending_ || to.nh == nullptr || to.closing || dialog_ended_) {
    // One relayed request at a time (RFC 3261 §14.1 would give 491 for overlapping re-INVITEs).
    nua_respond(from.nh, event == nua_i_invite ? 491 : 500,
                event == nua_i_invite ? "Request Pending" : "Server Internal Error", TAG_END());
    return;
  }
  // A re-INVITE's or UPDATE's SDP is an offer, filtered by the connected trunk's codecs
  // whichever side sent it; INFO bodies are not session descriptions and go as received.
  RelayBody body;
  if (event == nua_i_info) {
    body = AsReceived(sip);
  } else {
    body = BodyFor(sip, fsm_.connected_attempt(),
                   &from == &caller_ ? SdpDirection::kToTrunk : SdpDirection::kFromTrunk,
                   SdpRole::kOffer, /*refusable=*/true);
  }
  if (body.not_acceptable) {
    // RFC 3261 §14.2 / RFC 3311: the offer is refused; the session stays as it was and the
    // other side never sees it.
    core_->counters().offers_refused.fetch_add(1, std::memory_order_relaxed);
    LogInfo("offer refused: no codec the trunk allows",
            {{"call_id", request_.call_id},
             {"trunk", ConnectedLeg()->trunk_id},
             {"method", event == nua_i_invite ? "INVITE" : "UPDATE"},
             {"direction",
              std::string(SdpDirectionName(&from == &caller_ ? SdpDirection::kToTrunk
                                                             : SdpDirection::kFromTrunk))}});
    nua_respond(from.nh, SIP_488_NOT_ACCEPTABLE, NUTAG_WITH_THIS(core_->nua()),
                SIPTAG_REASON_STR("SIP;cause=488;text=\"no codec the trunk allows\""), TAG_END());
    return;
  }
  pending_ = PendingRelay{};  // not emplace(): clang 14 rejects it for this nested aggregate
  pending_->from = &from;
  pending_->had_offer = body.present && event != nua_i_info;
  // A refresh (RFC 4028 §10) carries its Session-Expires, Min-SE and "timer" tags on.
  pending_->request_timer = event != nua_i_info ? SessionTimerOf(sip) : SessionTimer();
  const SessionTimerHeaders timer(pending_->request_timer);
  if (event != nua_i_invite) {
    // UPDATE and INFO are answered later: keep the request to answer it with NUTAG_WITH_SAVED.
    pending_->has_saved = nua_save_event(core_->nua(), pending_->saved) != 0;
  }
  switch (event) {
    case nua_i_invite:
      pending_->answer_event = nua_r_invite;
      nua_invite(to.nh, SESSION_TIMER_TAGS(timer), BODY_TAGS(body), TAG_END());
      break;
    case nua_i_update:
      pending_->answer_event = nua_r_update;
      nua_update(to.nh, SESSION_TIMER_TAGS(timer), BODY_TAGS(body), TAG_END());
      break;
    default:
      pending_->answer_event = nua_r_info;
      nua_info(to.nh, BODY_TAGS(body), TAG_END());
      break;
  }
}

void EdgeCall::RelayAnswer(Leg& to_answer_side, int status, sip_t const* sip) {
  std::optional<PendingRelay> p = std::move(pending_);
  pending_.reset();
  if (to_answer_side.nh == nullptr) {
    if (p->has_saved) nua_destroy_event(p->saved);
    return;
  }
  // The answer (or, to a request without SDP, the offer in the 2xx, which cannot be refused)
  // filtered by the connected trunk's codecs the way it travels; INFO answers go as received.
  RelayBody body;
  if (p->answer_event == nua_r_info) {
    body = AsReceived(sip);
  } else {
    body = BodyFor(sip, fsm_.connected_attempt(),
                   &to_answer_side == &caller_ ? SdpDirection::kFromTrunk : SdpDirection::kToTrunk,
                   p->had_offer ? SdpRole::kAnswer : SdpRole::kOffer, /*refusable=*/false);
  }
  // Its RFC 4028 headers (the refresh's interval, or a 422's Min-SE) go on too; towards the
  // caller never longer than the caller's request asked for.
  const SessionTimer answer_timer = p->answer_event == nua_r_info ? SessionTimer()
                                    : &to_answer_side == &caller_
                                        ? ForCaller(SessionTimerOf(sip), p->request_timer)
                                        : SessionTimerOf(sip);
  const SessionTimerHeaders timer(answer_timer);
  nua_respond(to_answer_side.nh, status, StaticPhrase(status),
              TAG_IF(p->has_saved, NUTAG_WITH_SAVED(p->saved)), SESSION_TIMER_TAGS(timer),
              BODY_TAGS(body), TAG_END());
  if (p->has_saved) nua_destroy_event(p->saved);
}

// ---------------------------------------------------------------------------------------------
// SDP on the call (sip/sdp_policy.h)

EdgeCall::RelayBody EdgeCall::AsReceived(sip_t const* sip) {
  RelayBody out;
  if (!HasBody(sip)) return out;
  out.present = true;
  out.ct = sip->sip_content_type;
  out.pl = sip->sip_payload;
  return out;
}

EdgeCall::RelayBody EdgeCall::BodyFor(sip_t const* sip, int attempt, SdpDirection direction,
                                      SdpRole role, bool refusable) {
  RelayBody out = AsReceived(sip);
  if (!out.present) return out;
  if (attempt < 0 || attempt >= fsm_.attempt_count()) return out;
  const router::CompiledTrunk& trunk = TrunkOf(fsm_.candidate_of(attempt));
  const std::string_view type = out.ct != nullptr && out.ct->c_type != nullptr
                                    ? std::string_view(out.ct->c_type)
                                    : std::string_view();
  const std::string_view text(out.pl->pl_data, out.pl->pl_len);
  SdpDecision d = FilterSdpForTrunk(trunk.codecs, type, text, direction, role);
  if (d.kind == SdpDecision::Kind::kNotAcceptable && !refusable) {
    // An offer in a 18x/2xx: there is no refusing it; decline its streams instead.
    d = FilterSdpForTrunk(trunk.codecs, type, text, direction, SdpRole::kAnswer);
  }
  switch (d.kind) {
    case SdpDecision::Kind::kAsIs:
      break;
    case SdpDecision::Kind::kFiltered:
      out.sdp = std::move(d.body);
      if (d.removed_formats > 0 && LogEnabled(LogLevel::kDebug)) {
        LogDebug("sdp filtered", {{"call_id", request_.call_id},
                                  {"trunk", trunk.id},
                                  {"direction", std::string(SdpDirectionName(direction))},
                                  {"role", std::string(SdpRoleName(role))},
                                  {"removed", std::to_string(d.removed_formats)}});
      }
      break;
    case SdpDecision::Kind::kNotAcceptable:
      out.not_acceptable = true;
      break;
  }
  return out;
}

void EdgeCall::RespondCallerFromTrunk(int status, int attempt, sip_t const* sip) {
  if (caller_.nh == nullptr || caller_final_sent_) return;
  if (status >= 200) caller_final_sent_ = true;
  // The trunk's SDP answers the caller's offer, or is the offer when the INVITE had none.
  const RelayBody body =
      BodyFor(sip, attempt, SdpDirection::kFromTrunk,
              request_.body.empty() ? SdpRole::kOffer : SdpRole::kAnswer, /*refusable=*/false);
  // The trunk's session timer (RFC 4028 §9), as the caller may see it.
  const SessionTimerHeaders timer(ForCaller(SessionTimerOf(sip), request_.session_timer));
  nua_respond(caller_.nh, status, StaticPhrase(status), SESSION_TIMER_TAGS(timer), BODY_TAGS(body),
              TAG_END());
}

bool EdgeCall::RetryWithTrunksMinSe(int attempt, sip_t const* sip) {
  if (retried_422_attempt_ == attempt) return false;  // once per attempt
  // Only the live attempt of a call still in setup (not one abandoned or cancelled).
  if (fsm_.phase() != CallFsm::Phase::kSetup || caller_final_sent_ ||
      attempt != static_cast<int>(attempts_.size()) - 1 || attempt != fsm_.attempt_count() - 1) {
    return false;
  }
  const uint32_t min_se = sip != nullptr && sip->sip_min_se != nullptr
                              ? static_cast<uint32_t>(sip->sip_min_se->min_delta)
                              : 0;
  const uint32_t sent = std::max(request_.session_timer.expires, min_se_from_422_);
  if (min_se == 0 || min_se <= sent) return false;  // nothing to retry with: the 422 is final
  Leg& leg = *attempts_.back();
  LogInfo(
      "trunk asked for a longer session interval (422): same attempt, its Min-SE",
      {{"call_id", request_.call_id}, {"trunk", leg.trunk_id}, {"min_se", std::to_string(min_se)}});
  core_->counters().session_timer_retries.fetch_add(1, std::memory_order_relaxed);
  retried_422_attempt_ = attempt;
  min_se_from_422_ = min_se;
  DestroyLeg(leg);
  attempts_.pop_back();
  resending_ = true;
  SendInvite(attempt, fsm_.candidate_of(attempt), fsm_.target_of(attempt));
  resending_ = false;
  return true;
}

bool EdgeCall::RefuseUnusableLateOffer(int attempt, Leg& leg, sip_t const* sip) {
  if (!request_.body.empty() || leg.nh == nullptr) return false;  // not a late offer
  RelayBody offer =
      BodyFor(sip, attempt, SdpDirection::kFromTrunk, SdpRole::kOffer, /*refusable=*/true);
  if (!offer.not_acceptable) return false;
  core_->counters().offers_refused.fetch_add(1, std::memory_order_relaxed);
  LogInfo("trunk's offer in its 2xx refused: no codec the trunk allows; ACK and BYE",
          {{"call_id", request_.call_id}, {"trunk", leg.trunk_id}});
  // The ACK must carry an answer (RFC 3264 §6): every stream declined (port 0).
  const RelayBody declined =
      BodyFor(sip, attempt, SdpDirection::kToTrunk, SdpRole::kAnswer, /*refusable=*/false);
  leg.refused_offer = true;
  leg.closing = true;
  leg.acked = true;
  nua_ack(leg.nh, BODY_TAGS(declined), TAG_END());
  nua_bye(leg.nh, TAG_END());
  return true;
}

void EdgeCall::Shutdown() {
  shutting_down_ = true;
  const MonoTime now = core_->clock()->Now();
  if (fsm_.phase() == CallFsm::Phase::kSetup) {
    Execute(fsm_.OnCallerCancel(now), nullptr);
  } else if (fsm_.phase() == CallFsm::Phase::kConnected) {
    EndDialog(nullptr);
  }
  // Abandoned attempts would otherwise keep the stack's shutdown waiting for their transactions
  // (up to Timer B): nothing can be done with a late answer once we are gone. Their CANCELs,
  // if owed, were queued just above and go out first.
  const int connected = fsm_.connected_attempt();
  for (size_t i = 0; i < attempts_.size(); ++i) {
    Leg& leg = *attempts_[i];
    if (static_cast<int>(i) != connected && !leg.closing) DestroyLeg(leg);
  }
  Rearm();
}

}  // namespace trunkroute::sip
