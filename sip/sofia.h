#ifndef TRUNKROUTE_SIP_SOFIA_H_
#define TRUNKROUTE_SIP_SOFIA_H_

// The one place Sofia-SIP is included from: its "magic" types must be defined before any of its
// headers, identically in every translation unit of trunkroute_sip.

namespace trunkroute::sip {
class EdgeCore;
struct LegRef;
struct PostedTask;
}  // namespace trunkroute::sip

// The magic types come first, then su.h before the other Sofia headers.
// clang-format off
#define SU_ROOT_MAGIC_T trunkroute::sip::EdgeCore
#define NUA_MAGIC_T trunkroute::sip::EdgeCore
#define NUA_HMAGIC_T trunkroute::sip::LegRef
#define SU_MSG_ARG_T trunkroute::sip::PostedTask
#define SU_TIMER_ARG_T void
// nta is used directly only for its default leg (EdgeCore::OnStackRequest: refusals before nua).
#define NTA_LEG_MAGIC_T trunkroute::sip::EdgeCore

#include <sofia-sip/su.h>
#include <sofia-sip/su_wait.h>
#include <sofia-sip/su_tag.h>
#include <sofia-sip/su_log.h>
#include <sofia-sip/su_string.h>
#include <sofia-sip/su_uniqueid.h>
#include <sofia-sip/msg.h>
#include <sofia-sip/msg_addr.h>
#include <sofia-sip/nua.h>
#include <sofia-sip/nta.h>
#include <sofia-sip/nua_tag.h>
#include <sofia-sip/nta_tag.h>
#include <sofia-sip/tport_tag.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/sip_util.h>
#include <sofia-sip/sip_tag.h>
#include <sofia-sip/sresolv.h>
// clang-format on

#endif  // TRUNKROUTE_SIP_SOFIA_H_
