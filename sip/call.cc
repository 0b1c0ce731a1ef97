#include "sip/call.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace trunkroute::sip {
namespace {

// Rank of a trunk's failover-class answer as the caller's final: the lower, the more telling.
// 503 says "try later" in the words every dialer understands; 408 is the weakest statement.
int TellingRank(int status) {
  switch (status) {
    case 503:
      return 0;
    case 500:
      return 1;
    case 502:
      return 2;
    case 504:
      return 3;
    case 408:
      return 5;
    default:
      return 4;
  }
}

// Reason header text must not carry quotes or backslashes (quoted-string).
std::string Sanitize(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '"' || c == '\\' || c == '\r' || c == '\n') continue;
    out.push_back(c);
  }
  return out;
}

}  // namespace

std::string_view CallActionKindName(CallAction::Kind kind) {
  switch (kind) {
    case CallAction::Kind::kSendInvite:
      return "SendInvite";
    case CallAction::Kind::kAuthenticate:
      return "Authenticate";
    case CallAction::Kind::kCancel:
      return "Cancel";
    case CallAction::Kind::kAckAndBye:
      return "AckAndBye";
    case CallAction::Kind::kRelease:
      return "Release";
    case CallAction::Kind::kRelayProvisional:
      return "RelayProvisional";
    case CallAction::Kind::kAnswer:
      return "Answer";
    case CallAction::Kind::kRelayFinal:
      return "RelayFinal";
    case CallAction::Kind::kRejectCaller:
      return "RejectCaller";
    case CallAction::Kind::kReportOutcome:
      return "ReportOutcome";
  }
  return "?";
}

CallFsm::CallFsm(std::vector<CallCandidate> candidates,
                 const router::EffectiveFailoverPolicy& policy, std::string call_id)
    : candidates_(std::move(candidates)),
      policy_(policy),
      call_id_(std::move(call_id)),
      max_attempts_([&] {
        // Every target of every candidate once, plus the retries per trunk, capped by policy.
        uint32_t possible = 0;
        for (const CallCandidate& c : candidates_) {
          possible += std::max<uint32_t>(1, static_cast<uint32_t>(c.targets.size())) +
                      policy.retries_per_trunk;
        }
        return std::min<uint32_t>(policy.max_attempts, possible);
      }()) {}

std::optional<NoCandidate> NoUsableCandidate(const std::vector<CallCandidate>& candidates) {
  bool any_usable = false;
  bool all_codec = !candidates.empty();
  for (const CallCandidate& c : candidates) {
    if (c.skip == CallCandidate::Skip::kNone) any_usable = true;
    if (c.skip != CallCandidate::Skip::kNoCommonCodec) all_codec = false;
  }
  if (any_usable) return std::nullopt;
  if (all_codec) {
    return NoCandidate{.status = 488,
                       .phrase = "Not Acceptable Here",
                       .reason = "SIP;cause=488;text=\"no common codec with any trunk\""};
  }
  return NoCandidate{.status = 503,
                     .phrase = "Service Unavailable",
                     .reason = "SIP;cause=503;text=\"no trunk available\""};
}

CallActions CallFsm::Start(MonoTime now) {
  CallActions out;
  if (phase_ != Phase::kIdle) return out;
  phase_ = Phase::kSetup;
  started_ = now;
  if (std::optional<NoCandidate> none = NoUsableCandidate(candidates_)) {
    Reject(none->status, std::move(none->phrase), std::move(none->reason), out);
    return out;
  }
  Advance(now, /*retry_same_allowed=*/false, out);
  return out;
}

CallActions CallFsm::OnProvisional(int attempt, int status, MonoTime now) {
  CallActions out;
  if (attempt < 0 || attempt >= attempt_count()) return out;
  Attempt& a = attempts_[attempt];
  switch (a.state) {
    case AttemptState::kCalling:
    case AttemptState::kProceeding:
      if (!IsCurrent(attempt)) return out;
      if (a.state == AttemptState::kCalling) {
        a.state = AttemptState::kProceeding;
        a.deadline = MonoTime::max();
        if (a.first_response_ms == 0) {
          a.first_response_ms =
              static_cast<uint32_t>(std::max<int64_t>(1, MillisBetween(a.started, now)));
        }
      }
      // 100 Trying is hop-by-hop: it stops our timer but is not relayed.
      if (status > 100) {
        a.ringing = true;
        out.push_back({.kind = CallAction::Kind::kRelayProvisional,
                       .attempt = attempt,
                       .candidate = a.candidate,
                       .status = status});
      }
      break;
    case AttemptState::kAbandoned:
      // RFC 3261 §9.1: the CANCEL we owed can go now that the trunk has answered at all.
      a.state = AttemptState::kCanceling;
      out.push_back(
          {.kind = CallAction::Kind::kCancel, .attempt = attempt, .candidate = a.candidate});
      break;
    case AttemptState::kAnswered:
    case AttemptState::kCanceling:
    case AttemptState::kReleased:
      break;
  }
  return out;
}

CallActions CallFsm::OnFinal(int attempt, const FinalResponse& r, MonoTime now) {
  CallActions out;
  if (attempt < 0 || attempt >= attempt_count()) return out;
  Attempt& a = attempts_[attempt];
  const int status = r.status;
  if (a.state == AttemptState::kAbandoned || a.state == AttemptState::kCanceling) {
    a.state = AttemptState::kReleased;
    // A 2xx crossing our CANCEL (or arriving after we gave up) is a live call at the trunk:
    // confirm and end it so that no phone keeps ringing or stays off-hook.
    out.push_back({.kind = status >= 200 && status < 300 ? CallAction::Kind::kAckAndBye
                                                         : CallAction::Kind::kRelease,
                   .attempt = attempt,
                   .candidate = a.candidate,
                   .status = status});
    return out;
  }
  if (!IsCurrent(attempt) || phase_ != Phase::kSetup) return out;

  if (!r.local && (status == 401 || status == 407) && candidates_[a.candidate].has_credentials &&
      !a.auth_sent) {
    // Part of the attempt, not its outcome: answer the challenge once. The re-sent INVITE is a
    // new transaction: it gets a fresh setup timer.
    a.auth_sent = true;
    a.state = AttemptState::kCalling;
    ArmSetupTimer(a, now);
    out.push_back({.kind = CallAction::Kind::kAuthenticate,
                   .attempt = attempt,
                   .candidate = a.candidate,
                   .status = status});
    return out;
  }

  health::AttemptOutcome outcome = OutcomeOf(attempt);
  if (r.local) {
    // A final our own stack made up: its 408 is its transaction timer (silence, or after
    // ringing the callee not answering); anything else means the trunk was never reached
    // (refused, unreachable, TLS).
    if (status == 408) {
      outcome.timed_out = true;
      if (a.ringing) outcome.sip_status = 408;
    } else {
      outcome.transport_error = true;
      outcome.tls_failure = r.tls_failure;
    }
  } else {
    outcome.sip_status = status;
    outcome.credentials_sent = a.auth_sent;
    outcome.retry_after_s = r.retry_after_s;
  }
  const health::OutcomeVerdict verdict = Conclude(attempt, std::move(outcome), out);
  a.deadline = MonoTime::max();
  switch (verdict.call) {
    case health::CallStep::kConnect:
      a.state = AttemptState::kAnswered;
      connected_attempt_ = attempt;
      current_ = -1;
      phase_ = Phase::kConnected;
      out.push_back({.kind = CallAction::Kind::kAnswer,
                     .attempt = attempt,
                     .candidate = a.candidate,
                     .status = status});
      return out;
    case health::CallStep::kRelayFinal:
      // The callee's answer (or ring-no-answer): relayed, never failed over.
      out.push_back({.kind = CallAction::Kind::kRelayFinal,
                     .attempt = attempt,
                     .candidate = a.candidate,
                     .status = status,
                     .phrase = r.phrase});
      Release(attempt, status, out);
      phase_ = Phase::kFailed;
      return out;
    case health::CallStep::kNextAttempt:
    case health::CallStep::kEndCall:
      failures_.push_back({.candidate = a.candidate,
                           .target = a.target,
                           .status = r.local ? 0 : status,
                           .reason = verdict.reason,
                           .phrase = r.tls_failure.empty() ? r.phrase : r.tls_failure});
      Release(attempt, status, out);
      if (verdict.call == health::CallStep::kEndCall) {
        RejectWithFailures(out);
      } else {
        Advance(now, verdict.retry_same_trunk, out, verdict.next_target);
      }
      return out;
  }
  return out;
}

CallActions CallFsm::OnCallerCancel(MonoTime) {
  CallActions out;
  if (phase_ != Phase::kSetup) return out;
  phase_ = Phase::kCanceled;
  if (current_ >= 0) Abandon(current_, out);
  out.push_back(
      {.kind = CallAction::Kind::kRejectCaller, .status = 487, .phrase = "Request Terminated"});
  return out;
}

CallActions CallFsm::OnTimer(MonoTime now) {
  CallActions out;
  if (phase_ != Phase::kSetup || current_ < 0) return out;
  const int attempt = current_;
  Attempt& a = attempts_[attempt];
  const bool setup_timer = a.state == AttemptState::kCalling && now >= a.deadline;
  // Only 100 Trying and the budget is spent: the trunk accepted the INVITE and went quiet.
  const bool budget_after_trying =
      a.state == AttemptState::kProceeding && !a.ringing && now >= BudgetDeadline();
  if (!setup_timer && !budget_after_trying) return out;
  health::AttemptOutcome outcome = OutcomeOf(attempt);
  outcome.timed_out = true;
  const health::OutcomeVerdict verdict = Conclude(attempt, std::move(outcome), out);
  failures_.push_back({.candidate = a.candidate,
                       .target = a.target,
                       .reason = verdict.reason,
                       .phrase = setup_timer ? "timeout" : "timeout after 100 Trying"});
  Abandon(attempt, out);
  if (verdict.call == health::CallStep::kNextAttempt) {
    // After 100 Trying the budget is spent: Advance ends the call with the failures.
    Advance(now, verdict.retry_same_trunk, out, verdict.next_target);
  } else {
    RejectWithFailures(out);
  }
  return out;
}

MonoTime CallFsm::NextDeadline() const {
  if (phase_ != Phase::kSetup || current_ < 0) return MonoTime::max();
  const Attempt& a = attempts_[current_];
  if (a.state == AttemptState::kCalling) return a.deadline;
  if (a.state == AttemptState::kProceeding && !a.ringing) return BudgetDeadline();
  return MonoTime::max();
}

bool CallFsm::AttemptsSettled() const {
  return std::all_of(attempts_.begin(), attempts_.end(), [](const Attempt& a) {
    return a.state == AttemptState::kReleased || a.state == AttemptState::kAnswered;
  });
}

std::string CallFsm::LastFailureReason() const {
  if (failures_.empty()) return {};
  return health::FailoverReasonLabel(failures_.back().reason, failures_.back().status);
}

bool CallFsm::IsCurrent(int attempt) const { return attempt == current_ && current_ >= 0; }

MonoTime CallFsm::BudgetDeadline() const {
  return started_ + std::chrono::milliseconds(policy_.call_setup_budget_ms);
}

void CallFsm::ArmSetupTimer(Attempt& a, MonoTime now) {
  // The adaptive timeout is there to move on sooner; with nowhere to move on to, a trunk that is
  // merely slower than it used to be (a loaded carrier, a starved peer) gets the whole
  // setup_timeout_ms rather than a 408 the caller did not need.
  const uint32_t adaptive_ms = candidates_[a.candidate].attempt_timeout_ms;
  const uint32_t timeout_ms = adaptive_ms != 0 && AnotherAttemptPossible()
                                  ? std::min(adaptive_ms, policy_.setup_timeout_ms)
                                  : policy_.setup_timeout_ms;
  a.deadline = std::min(now + std::chrono::milliseconds(timeout_ms), BudgetDeadline());
}

bool CallFsm::AnotherAttemptPossible() const {
  // The attempt being armed is the latest in attempts_.
  if (attempts_.size() >= max_attempts_) return false;
  if (last_candidate_ < 0) return false;
  const CallCandidate& c = candidates_[last_candidate_];
  if (last_target_ + 1 < static_cast<int>(c.targets.size())) return true;
  if (tries_on_candidate_ < 1 + static_cast<int>(policy_.retries_per_trunk)) return true;
  for (size_t i = last_candidate_ + 1; i < candidates_.size(); ++i) {
    if (candidates_[i].skip == CallCandidate::Skip::kNone) return true;
  }
  return false;
}

void CallFsm::Advance(MonoTime now, bool retry_same_allowed, CallActions& out,
                      bool next_target_allowed) {
  current_ = -1;
  if (attempts_.size() >= max_attempts_ || now >= BudgetDeadline()) {
    RejectWithFailures(out);
    return;
  }
  int cand = -1;
  int target = -1;
  if (next_target_allowed && last_candidate_ >= 0 &&
      last_target_ + 1 < static_cast<int>(candidates_[last_candidate_].targets.size())) {
    // The same trunk, its next target: not a retry of the trunk, a move within it.
    cand = last_candidate_;
    target = last_target_ + 1;
  } else if (retry_same_allowed && last_candidate_ >= 0 &&
             tries_on_candidate_ < 1 + static_cast<int>(policy_.retries_per_trunk)) {
    cand = last_candidate_;
    target = last_target_;
    ++tries_on_candidate_;
  } else {
    for (int i = last_candidate_ + 1; i < static_cast<int>(candidates_.size()); ++i) {
      if (candidates_[i].skip == CallCandidate::Skip::kNone) {
        cand = i;
        target = candidates_[i].targets.empty() ? -1 : 0;
        tries_on_candidate_ = 1;
        break;
      }
    }
  }
  if (cand < 0) {
    RejectWithFailures(out);
    return;
  }
  last_candidate_ = cand;
  last_target_ = target;
  Attempt a;
  a.candidate = cand;
  a.target = target;
  a.started = now;
  attempts_.push_back(a);
  ArmSetupTimer(attempts_.back(), now);
  current_ = attempt_count() - 1;
  out.push_back({.kind = CallAction::Kind::kSendInvite,
                 .attempt = current_,
                 .candidate = cand,
                 .target = target});
}

void CallFsm::Abandon(int attempt, CallActions& out) {
  Attempt& a = attempts_[attempt];
  a.deadline = MonoTime::max();
  if (a.state == AttemptState::kCalling) {
    a.state = AttemptState::kAbandoned;  // CANCEL waits for a 1xx (RFC 3261 §9.1)
  } else if (a.state == AttemptState::kProceeding) {
    a.state = AttemptState::kCanceling;
    out.push_back(
        {.kind = CallAction::Kind::kCancel, .attempt = attempt, .candidate = a.candidate});
  }
  if (current_ == attempt) current_ = -1;
}

void CallFsm::Reject(int status, std::string phrase, std::string reason, CallActions& out) {
  phase_ = Phase::kFailed;
  current_ = -1;
  out.push_back({.kind = CallAction::Kind::kRejectCaller,
                 .status = status,
                 .phrase = std::move(phrase),
                 .reason = std::move(reason)});
}

void CallFsm::RejectWithFailures(CallActions& out) {
  if (failures_.empty()) {
    Reject(503, "Service Unavailable", "SIP;cause=503;text=\"no trunk available\"", out);
    return;
  }
  const Failure* best = nullptr;
  bool any_timeout = false;
  std::string text;
  for (const Failure& f : failures_) {
    if (!text.empty()) text += ", ";
    absl::StrAppend(&text, candidates_[f.candidate].trunk_id);
    if (f.target >= 0) {
      absl::StrAppend(&text, " ", candidates_[f.candidate].targets[f.target].key);
    }
    text += ": ";
    switch (f.reason) {
      case health::FailureReason::kAuthFailed:
      case health::FailureReason::kNoCredentials:
        absl::StrAppend(&text, f.status, " auth failed");
        break;
      case health::FailureReason::kTimeout:
        any_timeout = true;
        text += "timeout";
        break;
      case health::FailureReason::kTlsFailed:
        absl::StrAppend(&text, "TLS handshake failed (", f.phrase, ")");
        break;
      case health::FailureReason::kTransportError:
        absl::StrAppend(&text, "transport error");
        if (!f.phrase.empty()) absl::StrAppend(&text, " (", f.phrase, ")");
        break;
      case health::FailureReason::kStatus:
      case health::FailureReason::kNone:
        absl::StrAppend(&text, f.status, " ", f.phrase);
        if (best == nullptr || TellingRank(f.status) < TellingRank(best->status)) best = &f;
        break;
    }
  }
  int status = 503;
  std::string phrase = "Service Unavailable";
  if (best != nullptr) {
    status = best->status;
    phrase = best->phrase.empty() ? "Service Unavailable" : best->phrase;
  } else if (any_timeout) {
    status = 408;
    phrase = "Request Timeout";
  }
  Reject(status, std::move(phrase),
         absl::StrCat("SIP;cause=", status, ";text=\"", Sanitize(text), "\""), out);
}

health::AttemptOutcome CallFsm::OutcomeOf(int attempt) const {
  const Attempt& a = attempts_[attempt];
  return {.trunk_id = candidates_[a.candidate].trunk_id,
          .provisional_received = a.ringing,
          .first_response_ms = a.first_response_ms,
          .call_id = call_id_,
          .target = a.target >= 0 ? candidates_[a.candidate].targets[a.target].key : ""};
}

health::OutcomeVerdict CallFsm::Conclude(int attempt, health::AttemptOutcome outcome,
                                         CallActions& out) const {
  const health::OutcomeVerdict verdict = health::Classify(outcome, policy_);
  out.push_back({.kind = CallAction::Kind::kReportOutcome,
                 .attempt = attempt,
                 .candidate = attempts_[attempt].candidate,
                 .status = outcome.sip_status,
                 .outcome = std::move(outcome)});
  return verdict;
}

void CallFsm::Release(int attempt, int status, CallActions& out) {
  Attempt& a = attempts_[attempt];
  a.state = AttemptState::kReleased;
  a.deadline = MonoTime::max();
  if (current_ == attempt) current_ = -1;
  out.push_back({.kind = CallAction::Kind::kRelease,
                 .attempt = attempt,
                 .candidate = a.candidate,
                 .status = status});
}

}  // namespace trunkroute::sip
