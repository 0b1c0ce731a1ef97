#ifndef TRUNKROUTE_SIP_EARLY_DIALOGS_H_
#define TRUNKROUTE_SIP_EARLY_DIALOGS_H_

// Which of the caller's dialogs a relayed provisional response belongs to. Pure logic (no Sofia),
// used by the glue of one call (sip/edge_call.cc); docs/sip-edge.md "Early media" explains why.
//
// A dialog carries one offer/answer exchange for the initial INVITE: the first SDP the caller
// gets in a dialog is the answer to its offer, and any later SDP in that dialog must be the same
// answer (RFC 3261 §13.2.1, RFC 3264 §4, RFC 6337 §3.1). Serial attempts to different trunks
// produce different answers, so they must not share a dialog towards the caller once they carry
// SDP. The edge's SIP stack (nua) fixes the To-tag of the caller's final 2xx when the INVITE
// arrives — the "main" dialog — and the 2xx carries the answering trunk's SDP. Hence:
//   - an attempt's provisional with SDP (an early answer) opens that attempt's own early dialog
//     (a fresh To-tag, as a forking proxy's serial branches would), and every later provisional
//     of that attempt goes there too (it is the same dialog at the trunk);
//   - a provisional without SDP from an attempt that has no early dialog of its own goes in the
//     main dialog, which therefore never carries any answer but the 2xx's.
// So no dialog ever carries two different answers, whichever attempt answers in the end.

#include <functional>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"

namespace trunkroute::sip {

class EarlyDialogs {
 public:
  // `new_tag` makes a fresh, unique To-tag (called once per early dialog).
  explicit EarlyDialogs(std::function<std::string()> new_tag) : new_tag_(std::move(new_tag)) {}

  // The To-tag for the caller's copy of `attempt`'s provisional response; empty: the main
  // dialog's tag (the one the stack gives the INVITE, and its 2xx).
  std::string TagFor(int attempt, bool carries_answer) {
    auto it = tags_.find(attempt);
    if (it != tags_.end()) return it->second;
    if (!carries_answer) return {};
    return tags_.emplace(attempt, new_tag_()).first->second;
  }

  // How many early dialogs of their own the attempts opened.
  int count() const { return static_cast<int>(tags_.size()); }

 private:
  std::function<std::string()> new_tag_;
  absl::flat_hash_map<int, std::string> tags_;
};

}  // namespace trunkroute::sip

#endif  // TRUNKROUTE_SIP_EARLY_DIALOGS_H_
