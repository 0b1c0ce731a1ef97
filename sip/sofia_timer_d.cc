#include "sip/sofia_timer_d.h"

#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace trunkroute::sip {
namespace {

// The leading fields of Sofia-SIP 1.12.11's private structs, in their order, with the public
// types they are declared with (so that the compiler computes the offsets the library has).
// Only fields up to the last one read are mirrored.

// libsofia-sip-ua/nua/nua_stack.h: struct nua_s, up to nua_nta.
struct NuaPrefix {
  su_home_t nua_home[1];
  su_root_t* nua_api_root;
  su_clone_r nua_clone;
  su_task_r nua_client;
  void* nua_callback;  // nua_callback_f
  void* nua_magic;
  void* nua_current;  // nua_event_frame_t*
  nua_saved_event_t nua_signal[1];
  tagi_t const* nua_args;
  sip_time_t nua_shutdown;
  unsigned nua_shutdown_started : 1;
  unsigned nua_shutdown_final : 1;
  unsigned nua_from_is_set;
  unsigned : 0;
  sip_from_t nua_from[1];
  void* nua_nw_changed;
  void* nua_registrations;
  sip_accept_t* nua_accept_multipart;
  sip_accept_t* nua_invite_accept;
  su_root_t* nua_root;
  su_task_r nua_server;
  void* nua_nta;  // nta_agent_t*
};

// libsofia-sip-ua/nta/nta.c: outgoing_queue_t and HTABLE_DECLARE_WITH(…, size_t, …).
struct OutgoingQueue {
  void** q_tail;
  void* q_head;
  size_t q_length;
  unsigned q_timeout;
};
struct Htable {
  size_t size;
  size_t used;
  void** table;
};

// libsofia-sip-ua/nta/nta.c: struct nta_agent_s (built with HAVE_SOFIA_SRESOLV), up to sa_out.
struct AgentPrefix {
  su_home_t sa_home[1];
  su_root_t* sa_root;
  su_timer_t* sa_timer;
  void* sa_magic;
  void* sa_callback;
  void* sa_update_magic;
  void* sa_update_tport;
  su_time_t sa_now;
  uint32_t sa_next;
  uint32_t sa_millisec;
  uint32_t sa_cseq;
  msg_mclass_t const* sa_mclass;
  uint32_t sa_flags;
  unsigned sa_preload;
  void* sa_tports;
  void* sa_contact;
  void* sa_vias;
  void* sa_public_vias;
  void* sa_aliases;
  uint64_t sa_branch;
  uint64_t sa_tags;
  void* sa_resolver;
  int sa_res_order;  // enum nta_res_order_e
  void* sa_default_proxy;
  unsigned sa_bad_req_mask;
  unsigned sa_bad_resp_mask;
  usize_t sa_maxsize;
  usize_t sa_max_proceeding;
  unsigned sa_udp_mtu;
  unsigned sa_t1;
  unsigned sa_t2;
  unsigned sa_t4;
  unsigned sa_t1x64;
  unsigned sa_progress;
  unsigned sa_timer_c;
  unsigned sa_graylist;
  unsigned sa_blacklist;
  unsigned sa_drop_prob : 10;
  unsigned sa_is_a_uas : 1;
  unsigned sa_is_stateless : 1;
  unsigned sa_user_via : 1;
  unsigned sa_extra_100 : 1;
  unsigned sa_pass_100 : 1;
  unsigned sa_timeout_408 : 1;
  unsigned sa_pass_408 : 1;
  unsigned sa_merge_482 : 1;
  unsigned sa_cancel_2543 : 1;
  unsigned sa_cancel_487 : 1;
  unsigned sa_invite_100rel : 1;
  unsigned sa_timestamp : 1;
  unsigned sa_tport_ip4 : 1;
  unsigned sa_tport_ip6 : 1;
  unsigned sa_tport_udp : 1;
  unsigned sa_tport_tcp : 1;
  unsigned sa_tport_sctp : 1;
  unsigned sa_tport_tls : 1;
  unsigned sa_use_naptr : 1;
  unsigned sa_use_srv : 1;
  unsigned sa_tport_threadpool : 1;
  unsigned sa_rport : 1;
  unsigned sa_server_rport : 2;
  unsigned sa_tcp_rport : 1;
  unsigned sa_tls_rport : 1;
  unsigned sa_auto_comp : 1;
  unsigned sa_in_timer : 1;
  unsigned sa_use_timer_c : 1;
  unsigned : 0;
  void* sa_smime;
  sip_max_forwards_t sa_max_forwards[1];
  char const* sa_algorithm;
  char const* sa_sigcomp_options;
  char const* const* sa_sigcomp_option_list;
  char const* sa_sigcomp_option_free;
  void* sa_compressor;
  usize_t sa_stats[26];
  Htable sa_dialogs[1];
  void* sa_default_leg;
  Htable sa_defaults[1];
  Htable sa_outgoing[1];
  void* sa_default_outgoing;
  Htable sa_incoming[1];
  void* sa_default_incoming;
  struct {
    void* re_list;
    void** re_t1;
    size_t re_length;
    OutgoingQueue delayed[1];
    OutgoingQueue resolving[1];
    OutgoingQueue trying[1];
    OutgoingQueue completed[1];
    OutgoingQueue terminated[1];
    OutgoingQueue inv_calling[1];
    OutgoingQueue inv_proceeding[1];
    OutgoingQueue inv_completed[1];
  } sa_out;
};

absl::Status Mismatch(const char* field, uint64_t found, uint64_t expected) {
  return absl::FailedPreconditionError(absl::StrCat(
      "sofia-sip layout not recognised (", field, " = ", found, ", expected ", expected,
      "); Timer D stays at Sofia's default"));
}

// A queue's links: an empty queue's tail points at its own head, and a non-empty one's does not.
absl::Status CheckLinks(const char* name, const OutgoingQueue& q) {
  if (q.q_tail == nullptr) return Mismatch(name, 0, 1);
  const bool empty = q.q_head == nullptr;
  if (empty != (q.q_tail == &q.q_head) || empty != (q.q_length == 0)) {
    return Mismatch(name, q.q_length, empty ? 0 : q.q_length);
  }
  return absl::OkStatus();
}

}  // namespace

struct InviteClientTimerD::Queue {
  OutgoingQueue q;
};

absl::StatusOr<InviteClientTimerD> InviteClientTimerD::Find(nua_t* nua,
                                                            const ExpectedStackTimers& e,
                                                            unsigned ours) {
  if (nua == nullptr) return absl::FailedPreconditionError("no nua stack");
  auto* n = reinterpret_cast<NuaPrefix*>(nua);
  // nua: the root and magic nua_create was given, its two tasks on our root's port.
  if (n->nua_api_root != e.api_root) return Mismatch("nua_api_root", 0, 1);
  if (n->nua_magic != static_cast<void*>(e.magic)) return Mismatch("nua_magic", 0, 1);
  if (n->nua_client->sut_root != e.api_root) return Mismatch("nua_client", 0, 1);
  if (n->nua_root == nullptr || n->nua_server->sut_root != n->nua_root ||
      n->nua_server->sut_port != n->nua_client->sut_port) {
    return Mismatch("nua_server", 0, 1);
  }
  if (n->nua_nta == nullptr) return Mismatch("nua_nta", 0, 1);
  auto* a = static_cast<AgentPrefix*>(n->nua_nta);
  // nta: created on nua's root, running with the timers we gave it.
  if (a->sa_root != n->nua_root) return Mismatch("sa_root", 0, 1);
  struct Field {
    const char* name;
    uint64_t found;
    uint64_t expected;
  };
  const unsigned sofia_timer_d = e.t1x64_ms > 32000 ? e.t1x64_ms : 32000;
  const unsigned found_d = a->sa_out.inv_completed->q_timeout;
  const Field fields[] = {
      {"sa_t1", a->sa_t1, e.t1_ms},
      {"sa_t2", a->sa_t2, e.t2_ms},
      {"sa_t4", a->sa_t4, e.t4_ms},
      {"sa_t1x64", a->sa_t1x64, e.t1x64_ms},
      {"sa_timer_c", a->sa_timer_c, e.timer_c_ms},
      {"sa_out.delayed", a->sa_out.delayed->q_timeout, 0},
      {"sa_out.resolving", a->sa_out.resolving->q_timeout, 0},
      {"sa_out.trying", a->sa_out.trying->q_timeout, e.t1x64_ms},
      {"sa_out.completed", a->sa_out.completed->q_timeout, e.t4_ms},
      {"sa_out.terminated", a->sa_out.terminated->q_timeout, 0},
      {"sa_out.inv_calling", a->sa_out.inv_calling->q_timeout, e.t1x64_ms},
      {"sa_out.inv_proceeding", a->sa_out.inv_proceeding->q_timeout, e.timer_c_ms},
      {"sa_out.inv_completed", found_d, found_d == ours ? ours : sofia_timer_d},
  };
  for (const Field& f : fields) {
    if (f.found != f.expected) return Mismatch(f.name, f.found, f.expected);
  }
  if (a->sa_out.re_t1 == nullptr) return Mismatch("sa_out.re_t1", 0, 1);
  const std::pair<const char*, const OutgoingQueue*> queues[] = {
      {"sa_out.delayed links", a->sa_out.delayed},
      {"sa_out.resolving links", a->sa_out.resolving},
      {"sa_out.trying links", a->sa_out.trying},
      {"sa_out.completed links", a->sa_out.completed},
      {"sa_out.terminated links", a->sa_out.terminated},
      {"sa_out.inv_calling links", a->sa_out.inv_calling},
      {"sa_out.inv_proceeding links", a->sa_out.inv_proceeding},
      {"sa_out.inv_completed links", a->sa_out.inv_completed},
  };
  for (const auto& [name, q] : queues) {
    if (absl::Status s = CheckLinks(name, *q); !s.ok()) return s;
  }
  return InviteClientTimerD(reinterpret_cast<Queue*>(a->sa_out.inv_completed),
                            static_cast<nta_agent_t*>(n->nua_nta));
}

// What outgoing_queue_adjust() does when it lengthens a queue or the queue is empty: the new
// timeout applies to transactions queued from now on. Those already waiting keep theirs; the
// queue is drained from its head in order, so a shorter entry behind a longer one is freed when
// the longer one is, never before its own time.
void InviteClientTimerD::Set(unsigned timer_d_ms) { queue_->q.q_timeout = timer_d_ms; }

unsigned InviteClientTimerD::timer_d_ms() const { return queue_->q.q_timeout; }

size_t InviteClientTimerD::completed_invites() const { return queue_->q.q_length; }

}  // namespace trunkroute::sip
