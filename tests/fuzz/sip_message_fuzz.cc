// Whole SIP messages from the network (untrusted) through the edge's own handling of an incoming
// request: Sofia's message parser (msg_make with sip_default_mclass, as nta parses a datagram),
// then sip::HandleIncomingInvite — the function the edge's nua_i_invite handler runs: header
// extraction (Via loop check, Max-Forwards, From/P-Asserted-Identity, Privacy, To, 100rel, body),
// admission, the headers nta lets through unparsed (BadHeaderRejection: 400 "Bad … Header"),
// the dialed and caller numbers through router::Decide (number parsing; 400 "Bad Request-URI
// Number" when there is none), the call
// plan (SDP codec filter per trunk) — then, per candidate, the caller-ID policy the edge applies
// to each attempt (IdentityForTrunk) and the tagless From it sends.
//
// The packet source is the top Via's host when it is an IP literal (else 127.0.0.1), so inputs
// reach every admission branch: loopback, a trunk's allow_cidrs (an ingress trunk), unknown.
//
// Seeds: tests/fuzz/corpus/sip, among them every message of the UDP torture test
// (tests/sip/edge_torture_test.cc, torture-*), which sends the same bytes to the real daemon.
//
// Properties: nothing crashes or leaks (ASan); a rejection is a 4xx-6xx with a metric word, a 400
// names the field in its phrase; an
// admitted call has one filtered offer per candidate and at least one candidate not skipped; a
// rewritten identity is never a bare number (IdentityForTrunk's contract).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config_store.h"
#include "router/decision.h"
#include "router/health_view.h"
#include "router/routing_table.h"
#include "sip/edge_util.h"
#include "sip/incoming_invite.h"
#include "sip/sofia.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using trunkroute::sip::CallCandidate;

// Three trunks, one per caller-ID mode and codec list; one trunk has allow_cidrs (calls from
// 192.0.2.0/24 come in from it); routes on E.164 and national numbers.
constexpr char kConfig[] = R"json({
  "trunks": [
    {"id": "carrier-a", "host": "127.0.0.1", "port": 5081, "transport": "TRANSPORT_UDP",
     "codecs": ["pcmu", "pcma", "telephone-event"]},
    {"id": "carrier-b", "host": "127.0.0.1", "port": 5082, "transport": "TRANSPORT_UDP",
     "codecs": ["g729", "pcmu"],
     "caller_id": {"mode": "CALLER_ID_MODE_E164", "domain": "b.example",
                   "default_country_code": "1"}},
    {"id": "carrier-c", "host": "127.0.0.1", "port": 5083, "transport": "TRANSPORT_UDP",
     "codecs": ["opus", "t38"], "max_concurrent_calls": 1,
     "caller_id": {"mode": "CALLER_ID_MODE_FIXED", "fixed_number": "+15550009999"}},
    {"id": "genesys", "host": "192.0.2.10", "port": 5060, "transport": "TRANSPORT_UDP",
     "allow_cidrs": ["192.0.2.0/24", "2001:db8::/32"]}
  ],
  "routes": [
    {"id": "nanp", "priority": 10, "pattern": "\\+1\\d{10}",
     "trunk_ids": ["carrier-a", "carrier-b", "carrier-c"]},
    {"id": "from-genesys", "priority": 5, "pattern": "\\+44\\d{6,12}",
     "ingress_trunk_id": "genesys", "trunk_ids": ["carrier-c", "carrier-b"]},
    {"id": "national", "priority": 20, "pattern": "\\d{10}",
     "transform": {"e164": true, "default_country_code": "1"},
     "trunk_ids": ["carrier-b", "carrier-a"]},
    {"id": "catch-all", "priority": 1000, "pattern": "\\+\\d{6,15}",
     "trunk_ids": ["carrier-c", "carrier-a"]}
  ],
  "failover_policy": {}, "health_policy": {}, "edge": {}
})json";

const trunkroute::router::RoutingTable* Table(std::shared_ptr<const trunkroute::router::RoutingTable>* out) {
  static const std::shared_ptr<const trunkroute::router::RoutingTable> table = [] {
    auto config = trunkroute::config::ParseConfigJson(kConfig, "fuzz");
    FUZZ_CHECK(config.ok());
    auto compiled = trunkroute::router::RoutingTable::Create(*config);
    FUZZ_CHECK(compiled.ok());
    return std::shared_ptr<const trunkroute::router::RoutingTable>(*std::move(compiled));
  }();
  *out = table;
  return table.get();
}

// carrier-a is DOWN (so the plan and panic ordering are exercised), the others UP.
class FuzzHealth final : public trunkroute::router::HealthView {
 public:
  trunkroute::router::TrunkAvailability Availability(std::string_view id) const override {
    trunkroute::router::TrunkAvailability a;
    if (id == "carrier-a") a.state = trunkroute::v1::HEALTH_STATE_DOWN;
    return a;
  }
};

std::string SourceOf(const sip_t* sip) {
  if (sip->sip_via != nullptr && sip->sip_via->v_host != nullptr) {
    const std::string host = sip->sip_via->v_host;
    auto hp = trunkroute::sip::ParseHostPort(host, 5060, "via");
    if (hp.ok() && !host.empty() &&
        (host.find_first_not_of("0123456789.") == std::string::npos ||
         host.find(':') != std::string::npos || host.front() == '[')) {
      return hp->host;
    }
  }
  return "127.0.0.1";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;  // nta's default maximum message size is far below this
  std::shared_ptr<const trunkroute::router::RoutingTable> table;
  Table(&table);
  static const FuzzHealth health;
  static const std::vector<trunkroute::sip::HostPort> own = {{"127.0.0.1", 5060},
                                                            {"edge.example", 5060}};

  // As nta does with a datagram: the whole buffer is one message (MSG_DO_EXTRACT_COPY).
  msg_t* msg = msg_make(sip_default_mclass(), 0, data, static_cast<isize_t>(size));
  if (msg == nullptr) return 0;
  sip_t* sip = sip_object(msg);
  // nta answers 400 (or, without a Via, drops) a request that fails these before nua sees it
  // (agent_recv_request: a fatal parse error; a bad header under its default NTATAG_BAD_REQ_MASK
  // — "400 Bad From Header"; sip_sanity_check: request line, From, To, Call-ID, CSeq, Via); the
  // edge runs only on requests that pass them. What nta lets through with a bad header
  // (Max-Forwards, Privacy) reaches the edge: BadHeaderRejection. tests/sip/edge_torture_test.cc
  // checks both sides on the wire.
  constexpr unsigned kNtaBadRequestMask = sip_mask_response | sip_mask_ua | sip_mask_100rel |
                                          sip_mask_events | sip_mask_timer | sip_mask_publish;
  if (sip == nullptr || sip->sip_request == nullptr || (sip->sip_flags & MSG_FLG_ERROR) != 0 ||
      (msg_extract_errors(msg) & kNtaBadRequestMask) != 0 || sip_sanity_check(sip) < 0) {
    msg_destroy(msg);
    return 0;
  }

  su_home_t* home = msg_home(msg);
  auto load = [](const std::string& id) { return id == "carrier-c" ? 1 : 0; };
  const trunkroute::sip::IncomingInvite in = trunkroute::sip::HandleIncomingInvite(
      home, sip,
      {.source = SourceOf(sip),
       .own_addresses = &own,
       .table = table,
       .health = &health,
       .edge = {.stopping = false, .calls_in_progress = 0},
       .entropy = static_cast<double>(size % 97) / 97.0,
       .trunk_load = load,
       .targets_of = nullptr,
       .decide_clock = nullptr});

  if (in.rejection) {
    FUZZ_CHECK(in.rejection->status >= 400 && in.rejection->status <= 699);
    FUZZ_CHECK(!in.rejection->metric_reason.empty());
    // A 400 names the field in its reason phrase ("Bad Request-URI Number", "Bad … Header").
    if (in.rejection->status == 400) {
      FUZZ_CHECK(in.rejection->phrase != nullptr &&
                 std::string_view(in.rejection->phrase).substr(0, 4) == "Bad ");
    }
  } else {
    FUZZ_CHECK(in.admitted);
    FUZZ_CHECK(in.decision.has_value() && in.decision->ok());
    FUZZ_CHECK(in.plan.offers.size() == in.plan.candidates.size());
    bool usable = false;
    for (size_t i = 0; i < in.plan.candidates.size(); ++i) {
      const CallCandidate& c = in.plan.candidates[i];
      if (c.skip != CallCandidate::Skip::kNone) continue;
      usable = true;
      const trunkroute::router::CompiledTrunk* trunk = table->FindTrunk(c.trunk_id);
      FUZZ_CHECK(trunk != nullptr);
      // The caller-ID policy for this attempt, as EdgeCall::SendInvite applies it.
      const trunkroute::sip::CallerIdentity id =
          trunkroute::sip::IdentityForTrunk(in.request.identity, *trunk, in.request.caller_number);
      if (id.from != in.request.identity.from) {
        FUZZ_CHECK(id.from.find("sip:") != std::string::npos);
      }
    }
    FUZZ_CHECK(usable);
  }
  if (sip->sip_from != nullptr) {
    // What the edge prints of a From (no crash, no leak: the home is the message's).
    (void)trunkroute::sip::FromWithoutTag(home, sip->sip_from);
  }
  msg_destroy(msg);
  return 0;
}
