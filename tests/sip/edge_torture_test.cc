// UDP torture at the SIP edge (issue 13 item 5, docs/testing.md "SIP torture"): the real
// trunkrouted binary gets malformed and hostile datagrams on its SIP port — the RFC 4475 torture
// categories plus truncated, oversized, NUL-laden and binary datagrams, huge header counts, wrong
// Content-Lengths, Max-Forwards 0, a request that comes back to the edge, responses that match no
// transaction. Each message has its expected answer (table below: the status, a word of its
// reason phrase, who gives it and why). After every message the edge must still answer OPTIONS
// (fresh Call-ID, bounded poll); every kCallEvery messages and at the end a normal call goes
// through it to a SIPp trunk. At the end the daemon's RSS and descriptors are compared with the
// start (loose bounds) and SIGTERM must stop it with exit code 0. Port slot 130.
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/sip/edge_test_fixture.h"
#include "tests/support/temp_dir.h"
#include "tests/support/trunkrouted_process.h"

namespace trunkroute::sip::testing {
namespace {

using ::testing::HasSubstr;

constexpr int kCallEvery = 10;  // a normal call after this many torture messages
constexpr int kDropped = 0;     // expected status: no answer at all
constexpr size_t kMaxUdpPayload = 65507;

// Who answers a message, for the table and the failure messages.
enum class By {
  kNta,    // Sofia's transaction layer, before nua: parse errors, sanity check, version
  kNua,    // Sofia's UA layer: methods, extensions, URI schemes, OPTIONS
  kEdge,   // the edge's own handling (sip::HandleIncomingInvite)
  kTrunk,  // routed: the SIPp trunk's answer relayed by the edge
  kNobody  // dropped silently
};

const char* ByName(By b) {
  switch (b) {
    case By::kNta:
      return "nta";
    case By::kNua:
      return "nua";
    case By::kEdge:
      return "edge";
    case By::kTrunk:
      return "trunk";
    case By::kNobody:
      return "nobody";
  }
  return "?";
}

struct TortureCase {
  std::string name;
  // "\n" becomes CRLF unless `raw`. $VIA: our Via (unique branch, rport); $CALLID: unique;
  // $TAG; $EDGE: the edge's host:port; $SDP: a PCMU offer; $CL: the body's length.
  std::string message;
  int status;          // expected final status, or kDropped
  std::string phrase;  // a word the reason phrase must contain ("" = any)
  By by;
  std::string why;
  bool raw = false;
};

// Numbers: +1555100xxxx is answered by the "answer" trunk (normal calls), +1555486xxxx by the
// "busy" trunk (486: a torture INVITE that goes through the whole edge), anything else no route.
constexpr char kBusy[] = "+15554860001";

constexpr char kSdp[] =
    "v=0\n"
    "o=- 1 1 IN IP4 127.0.0.1\n"
    "s=-\n"
    "c=IN IP4 127.0.0.1\n"
    "t=0 0\n"
    "m=audio 9 RTP/AVP 0\n"
    "a=rtpmap:0 PCMU/8000\n";

// An INVITE with `request_line`, `extra` headers and an SDP body; everything else well formed.
std::string Invite(const std::string& request_line, const std::string& extra = "",
                   const std::string& body = kSdp) {
  return absl::StrCat(request_line,
                      "\n"
                      "Via: $VIA\n"
                      "Max-Forwards: 70\n"
                      "From: <sip:+15550001111@127.0.0.1>;tag=$TAG\n"
                      "To: <sip:",
                      kBusy,
                      "@$EDGE>\n"
                      "Call-ID: $CALLID\n"
                      "CSeq: 1 INVITE\n"
                      "Contact: <sip:torture@127.0.0.1>\n",
                      extra,
                      "Content-Type: application/sdp\n"
                      "Content-Length: $CL\n"
                      "\n",
                      body);
}

std::string BusyInviteLine() { return absl::StrCat("INVITE sip:", kBusy, "@$EDGE SIP/2.0"); }

std::string Options(const std::string& extra = "") {
  return absl::StrCat(
      "OPTIONS sip:$EDGE SIP/2.0\n"
      "Via: $VIA\n"
      "Max-Forwards: 70\n"
      "From: <sip:torture@127.0.0.1>;tag=$TAG\n"
      "To: <sip:$EDGE>\n"
      "Call-ID: $CALLID\n"
      "CSeq: 1 OPTIONS\n",
      extra,
      "Content-Length: 0\n"
      "\n");
}

// A REGISTER (the edge is no registrar) with `contact`.
std::string Register(const std::string& contact) {
  return absl::StrCat(
      "REGISTER sip:$EDGE SIP/2.0\n"
      "Via: $VIA\n"
      "Max-Forwards: 70\n"
      "From: <sip:user@example.com>;tag=$TAG\n"
      "To: <sip:user@example.com>\n"
      "Call-ID: $CALLID\n"
      "CSeq: 1 REGISTER\n"
      "Contact: ",
      contact,
      "\n"
      "l: 0\n"
      "\n");
}

// A response to a transaction nobody has.
std::string StrayResponse(const std::string& status_line, const std::string& method) {
  return absl::StrCat(status_line,
                      "\n"
                      "Via: SIP/2.0/UDP $EDGE;branch=z9hG4bK-nosuchtransaction-$TAG\n"
                      "From: <sip:+15550001111@127.0.0.1>;tag=$TAG\n"
                      "To: <sip:",
                      kBusy, "@$EDGE>;tag=stray\n",
                      "Call-ID: $CALLID\n"
                      "CSeq: 1 ",
                      method,
                      "\n"
                      "Content-Length: 0\n"
                      "\n");
}

std::vector<TortureCase> Cases() {
  std::vector<TortureCase> c;
  // --- RFC 4475 §3.1.1: valid, if tortuous. The edge must take them like any other request.
  c.push_back({"wsinv (whitespace, folding, compact forms)",
               absl::StrCat("INVITE sip:", kBusy,
                            "@$EDGE;unknownparam SIP/2.0\n"
                            "TO :\n"
                            " sip:", kBusy, "@$EDGE ;   tag    = 1918181833n\n"
                            "from   : \"J Rosenberg \\\\\\\"\"       <sip:+15550001111@127.0.0.1>\n"
                            "  ;\n"
                            "  tag = 98asjd8\n"
                            "MaX-fOrWaRdS: 0068\n"
                            "Call-ID: $CALLID\n"
                            "Content-Length   : $CL\n"
                            "cseq: 0009\n"
                            "  INVITE\n"
                            "Via  : $VIA\n"
                            "s :\n"
                            "NewFangledHeader:   newfangled value\n"
                            " continued newfangled value\n"
                            "UnknownHeaderWithUnusualValue: ;;,,;;,;\n"
                            "Content-Type: application/sdp\n"
                            "Route:\n"
                            " <sip:services.example.com;lr;unknownwith=value;unknown-no-value>\n"
                            "v:  SIP  / 2.0  / TCP     spindle.example.com   ;\n"
                            "  branch  =   z9hG4bK9ikj8  ,\n"
                            " SIP  /    2.0   / UDP  192.168.255.111   ; branch=\n"
                            " z9hG4bK30239\n"
                            "m:\"Quoted string \\\"\\\"\" <sip:jdrosen@example.com> ; newparam =\n"
                            "      newvalue ;\n"
                            "  secondparam ; q = 0.33\n"
                            "\n",
                            kSdp),
               481, "Does Not Exist", By::kNua,
               "valid (§3.1.1.1) and parsed, but its To carries a tag: a request within a "
               "dialog that does not exist (the untagged variant below goes all the way)"});
  c.push_back({"wsinv without the To tag",
               absl::StrReplaceAll(c.back().message, {{";   tag    = 1918181833n", ""}}), 486,
               "Busy", By::kTrunk,
               "whitespace, folding, compact forms: parsed, routed, the busy trunk's 486 relayed"});
  c.push_back({"intmeth (unusual method token)",
               "!interesting-Method0123456789_*+`.%indeed'~ sip:+15554860001@$EDGE SIP/2.0\n"
               "Via: $VIA\n"
               "Max-Forwards: 70\n"
               "From: <sip:+15550001111@127.0.0.1>;tag=$TAG\n"
               "To: <sip:+15554860001@$EDGE>\n"
               "Call-ID: $CALLID\n"
               "CSeq: 139122385 !interesting-Method0123456789_*+`.%indeed'~\n"
               "Content-Length: 0\n"
               "\n",
               kDropped, "", By::kNta,
               "valid per RFC 4475, but Sofia's token parser does not take ` and ' in a method: "
               "nta logs \"received garbage\" and drops the datagram (the edge never sees it)"});
  c.push_back({"esc01 (escaped Request-URI user)",
               Invite("INVITE sip:sips%3Auser%40example.com@$EDGE;transport=udp SIP/2.0"), 400,
               "Request-URI Number", By::kEdge,
               "valid SIP, but the Request-URI's user is not a phone number: the edge's 400"});
  c.push_back({"escnull (escaped NUL in the user)",
               Invite("INVITE sip:null-%00-null@$EDGE SIP/2.0"), 400, "Request-URI Number",
               By::kEdge, "%00 in the user part: not a phone number"});
  c.push_back({"esc02 (% in a method that is not an escape)",
               "RE%47IST%45R sip:$EDGE SIP/2.0\n"
               "Via: $VIA\n"
               "Max-Forwards: 70\n"
               "From: <sip:torture@127.0.0.1>;tag=$TAG\n"
               "To: <sip:torture@127.0.0.1>\n"
               "Call-ID: $CALLID\n"
               "CSeq: 1 RE%47IST%45R\n"
               "Content-Length: 0\n"
               "\n",
               501, "Not Implemented", By::kNua, "an unknown method (not REGISTER)"});
  c.push_back({"lwsdisp (no LWS between display name and <)",
               "OPTIONS sip:$EDGE SIP/2.0\n"
               "Via: $VIA\n"
               "Max-Forwards: 70\n"
               "From: caller<sip:caller@example.com>;tag=$TAG\n"
               "To: <sip:$EDGE>\n"
               "Call-ID: $CALLID\n"
               "CSeq: 3882340 OPTIONS\n"
               "l: 0\n"
               "\n",
               200, "OK", By::kNua, "valid: OPTIONS is answered by the stack"});
  {
    const std::string longname(300, 'a');
    const std::string longtag(500, 'b');
    std::string vias;
    for (int i = 0; i < 30; ++i) {
      vias += absl::StrCat("Via: SIP/2.0/TCP sip", i, ".example.com;branch=z9hG4bK", longname.substr(0, 40), i, "\n");
    }
    c.push_back({"longreq (long values, many Vias)",
                 Invite(BusyInviteLine(),
                        absl::StrCat(vias, "X-", longname, ": ", longname, longname, "\n",
                                     "Subject: ", std::string(2000, 's'), "\n",
                                     "Organization: ", longtag, "\n")),
                 486, "Busy", By::kTrunk, "valid (§3.1.1.12): long is not wrong"});
  }
  c.push_back({"dblreq (two requests in one datagram)",
               absl::StrCat(Options(), "INVITE sip:", kBusy, "@$EDGE SIP/2.0\nVia: $VIA\n\n"),
               200, "OK", By::kNua,
               "one datagram is one message: the OPTIONS is answered, the bytes after its "
               "Content-Length are ignored"});
  c.push_back({"semiuri (semicolon in the user part)",
               Invite("INVITE sip:user;par=u%40example.net@$EDGE SIP/2.0"), 400,
               "Request-URI Number", By::kEdge, "valid SIP; the user is not a number"});
  c.push_back({"transports (Vias of every transport)",
               "OPTIONS sip:$EDGE SIP/2.0\n"
               "Via: $VIA\n"
               "Via: SIP/2.0/SCTP t2.example.com;branch=z9hG4bKklasjdhf\n"
               "Via: SIP/2.0/TLS t3.example.com;branch=z9hG4bK2980unddj\n"
               "Via: SIP/2.0/UNKNOWN t4.example.com;branch=z9hG4bKasd0f3en\n"
               "Via: SIP/2.0/TCP t5.example.com;branch=z9hG4bK0a9idfnee\n"
               "Max-Forwards: 70\n"
               "From: <sip:torture@127.0.0.1>;tag=$TAG\n"
               "To: <sip:$EDGE>\n"
               "Call-ID: $CALLID\n"
               "CSeq: 1 OPTIONS\n"
               "Content-Length: 0\n"
               "\n",
               200, "OK", By::kNua, "valid"});
  c.push_back({"mpart01 (multipart body)",
               absl::StrCat(BusyInviteLine(),
                            "\n"
                            "Via: $VIA\n"
                            "Max-Forwards: 70\n"
                            "From: <sip:+15550001111@127.0.0.1>;tag=$TAG\n"
                            "To: <sip:", kBusy, "@$EDGE>\n"
                            "Call-ID: $CALLID\n"
                            "CSeq: 1 INVITE\n"
                            "Contact: <sip:torture@127.0.0.1>\n"
                            "MIME-Version: 1.0\n"
                            "Content-Type: multipart/mixed;boundary=7a9cbec02ceef655\n"
                            "Content-Length: $CL\n"
                            "\n"
                            "--7a9cbec02ceef655\n"
                            "Content-Type: application/sdp\n"
                            "\n",
                            kSdp,
                            "\n"
                            "--7a9cbec02ceef655\n"
                            "Content-Type: image/gif\n"
                            "\n"
                            "GIF89a\n"
                            "--7a9cbec02ceef655--\n"),
               486, "Busy", By::kTrunk,
               "a body that is not SDP goes to the trunk as received (sip-edge.md)"});
  c.push_back({"unreason (odd reason phrase, stray response)",
               StrayResponse("SIP/2.0 200 = 2**3 * 5**2 \xd0\xbd\xd0\xbe \xd1\x81\xd1\x82\xd0\xbe", "INVITE"),
               kDropped, "", By::kNobody, "a response that matches no client transaction"});
  c.push_back({"noreason (empty reason phrase, stray response)",
               StrayResponse("SIP/2.0 100 ", "INVITE"), kDropped, "", By::kNobody,
               "stray provisional response"});
  c.push_back({"tel (tel: Request-URI)",
               Invite(absl::StrCat("INVITE tel:", kBusy, " SIP/2.0")), 486, "Busy", By::kTrunk,
               "valid: the number of a tel: URI is routed"});
  c.push_back({"unkscm (unknown Request-URI scheme)",
               Invite("INVITE nobodyKnowsThisScheme:totallyopaque SIP/2.0"), 416, "URI",
               By::kNta, "Unsupported URI Scheme, before the edge sees it"});
  c.push_back({"novelsc (novel scheme, OPTIONS)",
               absl::StrCat("OPTIONS soap.beep://192.0.2.103:3002 SIP/2.0\n",
                            Options().substr(Options().find('\n') + 1)),
               416, "URI", By::kNta, "as unkscm"});
  // --- RFC 4475 §3.1.2: invalid.
  c.push_back({"badinv01 (garbled Via list)",
               "INVITE sip:+15554860001@$EDGE SIP/2.0\n"
               "To: sip:j.user@example.com\n"
               "From: sip:caller@example.net;tag=$TAG\n"
               "Max-Forwards: 7\n"
               "Call-ID: $CALLID\n"
               "CSeq: 8 INVITE\n"
               "Via: SIP/2.0/UDP 127.0.0.1;;,;,,\n"
               "Content-Length: 0\n"
               "\n",
               kDropped, "", By::kNobody, "no parseable Via: nta cannot answer, drops it"});
  c.push_back({"clerr (Content-Length past the datagram)",
               Invite(BusyInviteLine(), "", kSdp) /* $CL replaced below */, 400, "",
               By::kNta, "body shorter than Content-Length on UDP: a truncated message"});
  c.back().message = absl::StrReplaceAll(c.back().message, {{"$CL", "9999"}});
  c.push_back({"body longer than Content-Length",
               absl::StrReplaceAll(Invite(BusyInviteLine()), {{"$CL", "20"}}), 488, "",
               By::kEdge,
               "UDP: the bytes after Content-Length are not part of the message (RFC 3261 "
               "18.3); the 20-byte SDP left is an offer the SDP policy cannot take"});
  c.push_back({"ncl (negative Content-Length)",
               absl::StrReplaceAll(Invite(BusyInviteLine()), {{"$CL", "-999"}}), 400, "",
               By::kNta, "bad Content-Length: nta's 400"});
  c.push_back({"scalar02 (Max-Forwards overflow)",
               absl::StrReplaceAll(Invite(BusyInviteLine()),
                                   {{"Max-Forwards: 70", "Max-Forwards: 4294967296"}}),
               400, "Max-Forwards", By::kEdge,
               "nta lets a bad Max-Forwards through (a proxy header, not in its mask); the "
               "edge reads it, so it answers 400 Bad Max-Forwards Header"});
  c.push_back({"Max-Forwards not a number",
               absl::StrReplaceAll(Invite(BusyInviteLine()),
                                   {{"Max-Forwards: 70", "Max-Forwards: seventy"}}),
               400, "Max-Forwards", By::kEdge, "as scalar02"});
  c.push_back({"scalarlg (huge CSeq number)",
               absl::StrReplaceAll(Invite(BusyInviteLine()),
                                   {{"CSeq: 1 INVITE", "CSeq: 36893488147419103232 INVITE"}}),
               400, "CSeq", By::kNta, "bad CSeq header: nta's 400 Bad CSeq Header"});
  c.push_back({"quotbal (unbalanced quotes in To)",
               absl::StrReplaceAll(Invite(BusyInviteLine()),
                                   {{"To: <sip:", "To: \"Mr. J. User <sip:"}}),
               400, "To", By::kNta, "bad To header"});
  c.push_back({"ltgtruri (<> around the Request-URI)",
               Invite(absl::StrCat("INVITE <sip:", kBusy, "@$EDGE> SIP/2.0")), 400, "",
               By::kNta, "bad request line"});
  c.push_back({"lwsruri (LWS inside the Request-URI)",
               Invite(absl::StrCat("INVITE sip:", kBusy, "@$EDGE;lr; transport=udp SIP/2.0")),
               kDropped, "", By::kNta,
               "a space inside the Request-URI breaks the request line into garbage: nta drops "
               "it without an answer (RFC 4475 asks for 400; the edge never sees it)"});
  c.push_back({"lwsstart (two spaces after the method)",
               Invite(absl::StrCat("INVITE  sip:", kBusy, "@$EDGE SIP/2.0")), 486, "Busy",
               By::kTrunk, "Sofia's parser accepts extra spaces in the request line"});
  c.push_back({"trws (trailing whitespace after the version)",
               Invite(absl::StrCat("OPTIONS sip:", kBusy, "@$EDGE SIP/2.0 ")), 400, "",
               By::kNta, "bad request line"});
  c.push_back({"escruri (headers in the Request-URI)",
               Invite(absl::StrCat("INVITE sip:", kBusy,
                                   "@$EDGE?Route=%3Csip:example.com%3E SIP/2.0")),
               486, "Busy", By::kTrunk, "the URI's headers are ignored; the number routes"});
  c.push_back({"baddate (non-GMT Date)",
               Invite(BusyInviteLine(), "Date: Fri, 01 Jan 2010 16:00:00 EST\n"), 486, "Busy",
               By::kTrunk, "Date is in no mask and the edge does not read it"});
  c.push_back({"regbadct (REGISTER with a bad Contact)",
               Register("sip:user@example.com?Route=%3Csip:sip.example.com%3E"),
               400, "Contact", By::kNta, "bad Contact header"});
  c.push_back({"badaspec (spaces inside <> of To)",
               absl::StrReplaceAll(Invite(BusyInviteLine()),
                                   {{absl::StrCat("To: <sip:", kBusy, "@$EDGE>"),
                                     absl::StrCat("To: \"Watson, Thomas\" < sip:", kBusy,
                                                  "@$EDGE >")}}),
               486, "Busy", By::kTrunk,
               "Sofia's name-addr parser skips LWS inside <>: a good To, the call goes on"});
  c.push_back({"baddn (unquoted comma in the display name)",
               absl::StrReplaceAll(Invite(BusyInviteLine()),
                                   {{"From: <sip:", "From: Bell, Alexander <sip:"}}),
               400, "From", By::kNta, "bad From header"});
  c.push_back({"badvers (SIP/7.0)",
               Invite(absl::StrCat("INVITE sip:", kBusy, "@$EDGE SIP/7.0")), 505, "Version",
               By::kNta, "SIP Version Not Supported"});
  c.push_back({"mismatch01 (CSeq method differs)",
               absl::StrReplaceAll(Options(), {{"CSeq: 1 OPTIONS", "CSeq: 1 INVITE"}}), 400, "",
               By::kNta, "sanity check: CSeq method must match the request's"});
  c.push_back({"mismatch02 (unknown method, CSeq INVITE)",
               Invite(absl::StrCat("NEWMETHOD sip:", kBusy, "@$EDGE SIP/2.0")),
               400, "", By::kNta, "as mismatch01"});
  c.push_back({"bigcode (status code 4294967301, stray)",
               StrayResponse("SIP/2.0 4294967301 better not break the receiver", "INVITE"),
               kDropped, "", By::kNobody, "unparseable response"});
  c.push_back({"insuf (no Call-ID, From, To, CSeq)",
               "INVITE sip:+15554860001@$EDGE SIP/2.0\n"
               "Via: $VIA\n"
               "Max-Forwards: 70\n"
               "l: 0\n"
               "\n",
               400, "", By::kNta, "sanity check: the essential headers are missing"});
  c.push_back({"bcast (broadcast sent-by in Via)",
               absl::StrReplaceAll(Options(), {{"Via: $VIA",
                                                "Via: SIP/2.0/UDP 255.255.255.255:5060;branch="
                                                "z9hG4bK-bcast-$TAG;rport"}}),
               200, "OK", By::kNua,
               "answered to the packet's source (rport, received), never to the broadcast "
               "address in the Via"});
  c.push_back({"zeromf (OPTIONS with Max-Forwards 0)",
               absl::StrReplaceAll(Options(), {{"Max-Forwards: 70", "Max-Forwards: 0"}}), 200,
               "OK", By::kNua, "addressed to the edge itself: answered, not forwarded"});
  c.push_back({"cparam01 (Contact parameters, REGISTER)",
               Register("sip:+19725552222@gw1.example.net;unknownparam"),
               405, "Not Allowed", By::kNua, "REGISTER: the edge is no registrar"});
  c.push_back({"multi01 (two To headers)",
               absl::StrReplaceAll(Invite(BusyInviteLine()),
                                   {{"Call-ID: $CALLID",
                                     "To: <sip:other@127.0.0.1>\nCall-ID: $CALLID"}}),
               400, "To", By::kNta, "a single-value header twice"});
  c.push_back({"invut (unknown body type)",
               absl::StrReplaceAll(Invite(BusyInviteLine(), "Accept: application/sdp\n",
                                          "<audio> <pcmu port=\"443\"/> </audio>\n"),
                                   {{"Content-Type: application/sdp",
                                     "Content-Type: application/unknownformat"}}),
               486, "Busy", By::kTrunk,
               "a body that is not SDP goes as received: the trunk judges it (sip-edge.md)"});
  c.push_back({"sdp01 (Accept without SDP)",
               Invite(BusyInviteLine(), "Accept: text/nobodyKnowsThis\n"), 486, "Busy",
               By::kTrunk, "Accept does not matter to the edge"});
  c.push_back({"inv2543 (RFC 2543 INVITE: no branch cookie, no Max-Forwards)",
               absl::StrCat("INVITE sip:", kBusy,
                            "@$EDGE SIP/2.0\n"
                            "Via: SIP/2.0/UDP 127.0.0.1:$PORT;rport\n"
                            "From: <sip:+15550001111@127.0.0.1>;tag=$TAG\n"
                            "To: <sip:", kBusy, "@$EDGE>\n"
                            "Call-ID: $CALLID\n"
                            "CSeq: 1 INVITE\n"
                            "Content-Type: application/sdp\n"
                            "Content-Length: $CL\n"
                            "\n",
                            kSdp),
               486, "Busy", By::kTrunk, "RFC 2543 transactions are still matched by nta"});
  c.push_back({"bext01 (Require an unknown extension)",
               Invite(BusyInviteLine(), "Require: nothingSupportsThis, nothingSupportsThisEither\n"),
               420, "Extension", By::kNua, "420 Bad Extension with Unsupported"});
  c.push_back({"badbranch (bare magic cookie)",
               absl::StrReplaceAll(Options(), {{"Via: $VIA",
                                                "Via: SIP/2.0/UDP 127.0.0.1:$PORT;branch="
                                                "z9hG4bK;rport;x=$TAG"}}),
               200, "OK", By::kNua, "valid, if useless, branch"});
  // --- The edge's own checks.
  c.push_back({"Max-Forwards 0", absl::StrReplaceAll(Invite(BusyInviteLine()),
                                                     {{"Max-Forwards: 70", "Max-Forwards: 0"}}),
               483, "Too Many Hops", By::kEdge, "admission"});
  c.push_back({"loop (our own address in a Via)",
               Invite(BusyInviteLine(), "Via: SIP/2.0/UDP $EDGE;branch=z9hG4bK-earlier\n"), 482,
               "Loop", By::kEdge, "admission: the request has been through this edge"});
  c.push_back({"Request-URI without a user", Invite("INVITE sip:$EDGE SIP/2.0"), 400,
               "Request-URI Number", By::kEdge, "no number to route"});
  c.push_back({"Request-URI user is a name", Invite("INVITE sip:alice@$EDGE SIP/2.0"), 400,
               "Request-URI Number", By::kEdge, "not a phone number"});
  c.push_back({"Request-URI number with '+' inside",
               Invite("INVITE sip:+1555+4860001@$EDGE SIP/2.0"), 400, "Request-URI Number",
               By::kEdge, "'+' only at the start"});
  c.push_back({"unroutable number", Invite("INVITE sip:+4930123456@$EDGE SIP/2.0"), 404,
               "Not Found", By::kEdge, "a number, but no route matches it"});
  c.push_back({"bad Privacy header", Invite(BusyInviteLine(), "Privacy: @@@\n"), 400,
               "Privacy", By::kEdge, "nta lets it through; the edge passes Privacy on"});
  c.push_back({"garbled SDP", Invite(BusyInviteLine(), "", "this is not SDP\n"), 488, "",
               By::kEdge, "the SDP policy: an offer it cannot read is not acceptable"});
  c.push_back({"caller number garbled (From user not a number)",
               absl::StrReplaceAll(Invite(BusyInviteLine()),
                                   {{"From: <sip:+15550001111@", "From: <sip:%7Bcaller%7D@"}}),
               486, "Busy", By::kTrunk,
               "a caller ID the router cannot read only matches no caller pattern (router rule)"});
  c.push_back({"Supported with empty items", Invite(BusyInviteLine(), "Supported: ,,,@\n"), 486,
               "Busy", By::kTrunk, "Sofia's list parser accepts it (no error): the call goes on"});
  c.push_back({"bad Require header", Invite(BusyInviteLine(), "Require: <100rel>\n"), 400,
               "Require", By::kNta, "a UA header in nta's mask: 400 Bad Require Header"});
  c.push_back({"bad Session-Expires", Invite(BusyInviteLine(), "Session-Expires: soon\n"), 400,
               "Session-Expires", By::kNta, "a timer header in nta's mask"});
  c.push_back({"NUL byte in a header",
               Invite(BusyInviteLine(), std::string("Subject: before\0after\n", 22)), 400, "",
               By::kNta, "a NUL inside a header line is a fatal parse error for Sofia: 400"});
  {
    std::string headers;
    for (int i = 0; i < 3000; ++i) headers += absl::StrCat("X-H", i, ": v\n");
    c.push_back({"3000 headers", Invite(BusyInviteLine(), headers), 486, "Busy", By::kTrunk,
                 "fits in a datagram: parsed and routed"});
  }
  c.push_back({"64 KiB datagram (65,507 bytes, the UDP maximum)", Options("X-Padding: $PAD\n"),
               200, "OK", By::kNua, "under nta's 2 MB maximum: parsed and answered"});
  c.push_back({"truncated in the headers",
               Invite(BusyInviteLine()).substr(0, 120), 400, "To", By::kNta,
               "on UDP the datagram is the whole message: the To header it cuts is bad"});
  c.push_back({"truncated request line", "INVITE sip:+1555", kDropped, "", By::kNobody,
               "not a message"});
  c.push_back({"empty datagram", "", kDropped, "", By::kNobody, "nothing"});
  c.push_back({"keep-alive CRLF", "\r\n\r\n", kDropped, "", By::kNobody,
               "RFC 5626 keep-alive", true});
  {
    std::mt19937 rng(4475);
    std::string garbage(1400, '\0');
    for (char& ch : garbage) ch = static_cast<char>(rng() & 0xff);
    c.push_back({"binary garbage", garbage, kDropped, "", By::kNobody, "not SIP", true});
  }
  c.push_back({"stray 200 OK to an INVITE", StrayResponse("SIP/2.0 200 OK", "INVITE"), kDropped,
               "", By::kNobody, "no such transaction: nta drops it"});
  c.push_back({"stray 180", StrayResponse("SIP/2.0 180 Ringing", "INVITE"), kDropped, "",
               By::kNobody, "as above"});
  c.push_back({"stray 487 to a BYE", StrayResponse("SIP/2.0 487 Request Terminated", "BYE"),
               kDropped, "", By::kNobody, "as above"});
  c.push_back({"ACK without a transaction",
               absl::StrReplaceAll(Options(), {{"OPTIONS sip:", "ACK sip:"},
                                               {"CSeq: 1 OPTIONS", "CSeq: 1 ACK"}}),
               kDropped, "", By::kNobody, "ACK is never answered"});
  c.push_back({"CANCEL without a transaction",
               absl::StrReplaceAll(Options(), {{"OPTIONS sip:", "CANCEL sip:"},
                                               {"CSeq: 1 OPTIONS", "CSeq: 1 CANCEL"}}),
               481, "", By::kNta, "Call/Transaction Does Not Exist"});
  c.push_back({"BYE without a dialog",
               absl::StrReplaceAll(Options(), {{"OPTIONS sip:", "BYE sip:"},
                                               {"CSeq: 1 OPTIONS", "CSeq: 1 BYE"},
                                               {"To: <sip:$EDGE>", "To: <sip:$EDGE>;tag=x"}}),
               481, "", By::kNua, "no such dialog"});
  c.push_back({"INVITE with a To tag (no such dialog)",
               absl::StrReplaceAll(Invite(BusyInviteLine()),
                                   {{absl::StrCat("@$EDGE>\nCall-ID"),
                                     absl::StrCat("@$EDGE>;tag=nosuchdialog\nCall-ID")}}),
               481, "", By::kNua, "a re-INVITE for a dialog that does not exist"});
  return c;
}

// One received datagram.
struct Response {
  int status = 0;
  std::string phrase;
  std::string text;
};

std::optional<Response> ParseResponse(const std::string& text) {
  if (text.rfind("SIP/2.0 ", 0) != 0) return std::nullopt;
  Response r;
  r.text = text;
  size_t end = text.find("\r\n");
  std::string line = text.substr(0, end);
  if (line.size() < 11) return std::nullopt;
  r.status = std::atoi(line.substr(8, 3).c_str());
  r.phrase = line.size() > 12 ? line.substr(12) : "";
  return r;
}

// The value of header `name` (full form) in `text`, or "".
std::string Header(const std::string& text, const std::string& name) {
  const std::string key = "\r\n" + name + ":";
  size_t p = text.find(key);
  if (p == std::string::npos) return {};
  p += key.size();
  while (p < text.size() && text[p] == ' ') ++p;
  return text.substr(p, text.find("\r\n", p) - p);
}

class UdpSocket {
 public:
  explicit UdpSocket(int port) {
    fd_ = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bound_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
    int big = 1 << 20;
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
  }
  ~UdpSocket() { ::close(fd_); }
  bool bound() const { return bound_; }

  bool SendTo(int port, const std::string& bytes) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return ::sendto(fd_, bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&a),
                    sizeof(a)) == static_cast<ssize_t>(bytes.size());
  }

  // Datagrams until `done` says stop or `timeout` passes.
  std::optional<std::string> Receive(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return std::nullopt;
    std::string buf(70000, '\0');
    ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
    if (n < 0) return std::nullopt;
    buf.resize(static_cast<size_t>(n));
    return buf;
  }

 private:
  int fd_ = -1;
  bool bound_ = false;
};

// "03-esc01" from case 3 "esc01 (escaped Request-URI user)".
std::string SeedName(int index, const std::string& name) {
  std::string slug;
  for (char ch : name.substr(0, name.find(" ("))) {
    const bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
    if (alnum || (ch >= 'A' && ch <= 'Z')) {
      slug.push_back(static_cast<char>(ch | 0x20));
    } else if (!slug.empty() && slug.back() != '-') {
      slug.push_back('-');
    }
  }
  while (!slug.empty() && slug.back() == '-') slug.pop_back();
  char number[16];
  std::snprintf(number, sizeof(number), "%02d-", index);
  return number + slug;
}

long RssKb(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}

int OpenFds(pid_t pid) {
  DIR* d = ::opendir(absl::StrCat("/proc/", pid, "/fd").c_str());
  if (d == nullptr) return -1;
  int n = 0;
  while (dirent* e = ::readdir(d)) n += e->d_name[0] != '.';
  ::closedir(d);
  return n;
}

class EdgeTortureTest : public EdgeE2eTest {
 protected:
  std::string Fill(const TortureCase& c, int index, int local_port) {
    std::string text = c.message;
    if (!c.raw) text = absl::StrReplaceAll(text, {{"\r\n", "\n"}, {"\n", "\r\n"}});
    const std::string token = absl::StrCat("trt", index, "x", run_);
    text = absl::StrReplaceAll(
        text, {{"$VIA", absl::StrCat("SIP/2.0/UDP 127.0.0.1:", local_port, ";branch=z9hG4bK-",
                                     token, ";rport")},
               {"$CALLID", absl::StrCat(token, "@127.0.0.1")},
               {"$TAG", token},
               {"$PORT", std::to_string(local_port)},
               {"$EDGE", absl::StrCat("127.0.0.1:", edge_port())}});
    // $PAD: as many bytes as make the datagram the largest UDP payload (65,507 bytes).
    if (size_t pad = text.find("$PAD"); pad != std::string::npos) {
      text.replace(pad, 4, std::string(kMaxUdpPayload - (text.size() - 4), 'p'));
    }
    const size_t body = text.find("\r\n\r\n");
    if (body != std::string::npos) {
      text = absl::StrReplaceAll(
          text, {{"$CL", std::to_string(text.size() - body - 4)}});
    }
    return text;
  }

  // The first final response carrying `token` on `socket` within `timeout` (1xx are skipped).
  std::optional<Response> AwaitFinal(UdpSocket& socket, const std::string& token,
                                     std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      std::optional<std::string> d = socket.Receive(left);
      if (!d) return std::nullopt;
      std::optional<Response> r = ParseResponse(*d);
      if (!r || d->find(token) == std::string::npos) {
        ++strays_;
        continue;
      }
      if (r->status >= 200) return r;
    }
  }

  // ACK for a non-2xx final to an INVITE (RFC 3261 17.1.1.3): stops the edge's retransmissions.
  void Ack(UdpSocket& socket, const std::string& request, const Response& r) {
    const std::string ruri = request.substr(0, request.find("\r\n"));
    const size_t sp1 = ruri.find(' ');
    const size_t sp2 = ruri.rfind(' ');
    if (sp1 == std::string::npos || sp2 <= sp1) return;
    const std::string cseq = Header(r.text, "CSeq");
    std::string ack = absl::StrCat(
        "ACK ", ruri.substr(sp1 + 1, sp2 - sp1 - 1), " SIP/2.0\r\n", "Via: ", Header(r.text, "Via"),
        "\r\n", "From: ", Header(r.text, "From"), "\r\n", "To: ", Header(r.text, "To"), "\r\n",
        "Call-ID: ", Header(r.text, "Call-ID"), "\r\n", "CSeq: ", cseq.substr(0, cseq.find(' ')),
        " ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n");
    socket.SendTo(edge_port(), ack);
  }

  // OPTIONS with a fresh Call-ID; whether a 200 came within a bounded wait (one retransmission
  // per 500 ms, as T1).
  bool EdgeAnswersOptions(UdpSocket& socket) {
    const int index = 100000 + ++options_sent_;
    TortureCase probe{"options", Options(), 200, "", By::kNua, ""};
    const std::string text = Fill(probe, index, options_port());
    const std::string token = absl::StrCat("trt", index, "x", run_);
    for (int attempt = 0; attempt < 8; ++attempt) {
      socket.SendTo(edge_port(), text);
      std::optional<Response> r = AwaitFinal(socket, token, std::chrono::milliseconds(500));
      if (r) return r->status == 200;
    }
    return false;
  }

  // One ordinary call through the edge: dialer → edge → the answer trunk, answered and hung up.
  bool NormalCallCompletes(std::string* why) {
    Sipp* d = RunDialer("uac_call.xml", {}, "+15551000001");
    const bool ok = dialer_status_ == 0 && Count(d->Log(), "ANSWERED;") == 1 &&
                    Count(d->Log(), "BYE;OK") == 1;
    if (!ok) *why = absl::StrCat("status ", dialer_status_, "\n", d->Log(), "\n", d->Messages());
    return ok;
  }

  int torture_port() const { return base_ + 4; }
  int options_port() const { return base_ + 5; }

  const std::string run_ = std::to_string(::getpid());
  int strays_ = 0;
  int options_sent_ = 0;
};

TEST_F(EdgeTortureTest, EveryHostileDatagramGetsItsAnswerAndTheEdgeKeepsServing) {
  UseSlot(130);
  const std::string config = absl::StrCat(R"({
    "trunks": [
      {"id": "answer", "host": "127.0.0.1", "port": )", primary_port(), R"(, "transport": "TRANSPORT_UDP"},
      {"id": "busy", "host": "127.0.0.1", "port": )", backup_port(), R"(, "transport": "TRANSPORT_UDP"}],
    "routes": [
      {"id": "talk", "priority": 10, "pattern": "\\+1555100\\d+", "trunk_ids": ["answer"]},
      {"id": "busy", "priority": 20, "pattern": "\\+1555486\\d+", "trunk_ids": ["busy"]}],
    "failover_policy": {"setup_timeout_ms": 2000},
    "health_policy": {"probes_enabled": false}})");
  const std::string config_path = dir_ + "/config.json";
  trunkroute::testing::WriteFileBytes(config_path, config);
  // Long-lived trunks: SIPp's own -timeout would end them mid-run; TearDown kills them.
  for (auto [name, port, scenario] :
       {std::tuple{"answer", primary_port(), "uas_answer.xml"},
        std::tuple{"busy", backup_port(), "uas_486.xml"}}) {
    sipps_.push_back(Sipp::Start(name, dir_,
                                 {"-sf", Scenario(scenario), "-i", "127.0.0.1", "-p",
                                  std::to_string(port), "-mp",
                                  std::to_string(media_port(static_cast<int>(sipps_.size()))),
                                  "-m", "1000", "-timeout", "600s"}));
    ASSERT_TRUE(WaitUdpBound(port, std::chrono::seconds(5))) << name;
  }
  trunkroute::testing::TrunkroutedProcess daemon(
      TRUNKROUTED_PATH,
      {"--data-dir", dir_ + "/data", "--grpc-listen", "127.0.0.1:0", "--http-listen",
       "127.0.0.1:0", "--sip-listen", absl::StrCat("127.0.0.1:", edge_port()),
       "--bootstrap-config", config_path, "--log-level", "info"},
      dir_ + "/trunkrouted.log");
  ASSERT_TRUE(daemon.WaitServing(std::chrono::seconds(20))) << daemon.Output();
  ASSERT_TRUE(WaitUdpBound(edge_port(), std::chrono::seconds(5)));

  UdpSocket torture(torture_port());
  UdpSocket options(options_port());
  ASSERT_TRUE(torture.bound() && options.bound());
  ASSERT_TRUE(EdgeAnswersOptions(options)) << daemon.Output();
  std::string why;
  ASSERT_TRUE(NormalCallCompletes(&why)) << "before any torture: " << why;
  const long rss_start = RssKb(daemon.pid());
  const int fds_start = OpenFds(daemon.pid());

  const std::vector<TortureCase> cases = Cases();
  std::string table;
  int calls = 1;
  for (size_t i = 0; i < cases.size(); ++i) {
    const TortureCase& c = cases[i];
    const int index = static_cast<int>(i) + 1;
    const std::string text = Fill(c, index, torture_port());
    const std::string token = absl::StrCat("trt", index, "x", run_);
    ASSERT_TRUE(torture.SendTo(edge_port(), text)) << c.name << ": " << text.size() << " bytes";
    // TRUNKROUTE_TORTURE_SEEDS=DIR keeps each message (up to 4 KiB) as a fuzz seed: that is how
    // tests/fuzz/corpus/sip/torture-* were made, so the fuzz target starts from these very bytes.
    if (const char* seeds = std::getenv("TRUNKROUTE_TORTURE_SEEDS");
        seeds != nullptr && !text.empty() && text.size() <= 4096) {
      trunkroute::testing::WriteFileBytes(absl::StrCat(seeds, "/torture-", SeedName(index, c.name)),
                                          text);
    }
    // Silence is waited for 1.5 s; an answer for up to 6 s (a routed INVITE goes to a trunk).
    const std::optional<Response> r = AwaitFinal(
        torture, token,
        std::chrono::milliseconds(c.status == kDropped ? 1500 : 6000));
    const int got = r ? r->status : kDropped;
    absl::StrAppend(&table, index, ". ", c.name, ": ", got, " ", r ? r->phrase : "(nothing)",
                    " [expected ", c.status, " by ", ByName(c.by), "]\n");
    EXPECT_EQ(got, c.status) << c.name << " (" << ByName(c.by) << ": " << c.why << ")\n"
                             << (r ? r->text : std::string("no answer"));
    if (r && !c.phrase.empty()) {
      EXPECT_THAT(r->phrase, HasSubstr(c.phrase)) << c.name;
    }
    if (r && r->status >= 300 && Header(r->text, "CSeq").find("INVITE") != std::string::npos) {
      Ack(torture, text, *r);
    }
    ASSERT_FALSE(daemon.WaitExit(std::chrono::milliseconds(0)).has_value())
        << "trunkrouted died after " << c.name << "\n" << daemon.Output();
    ASSERT_TRUE(EdgeAnswersOptions(options))
        << "no 200 to OPTIONS after " << c.name << "\n" << table;
    if (index % kCallEvery == 0) {
      ++calls;
      ASSERT_TRUE(NormalCallCompletes(&why)) << "after " << c.name << ": " << why;
    }
  }
  ++calls;
  ASSERT_TRUE(NormalCallCompletes(&why)) << "after the torture: " << why;
  std::printf("%s", table.c_str());

  const long rss_end = RssKb(daemon.pid());
  const int fds_end = OpenFds(daemon.pid());
  std::printf("%zu messages, %d normal calls, %d stray datagrams; RSS %ld -> %ld kB, fds %d -> %d\n",
              cases.size(), calls, strays_, rss_start, rss_end, fds_start, fds_end);
  // Loose bounds: the point is "not unbounded" (a leak per message would show as more).
  EXPECT_LT(rss_end - rss_start, 64 * 1024) << "RSS grew by more than 64 MB";
  EXPECT_LE(fds_end, fds_start + 8) << "descriptors grew";

  daemon.Signal(SIGTERM);
  const std::optional<int> code = daemon.WaitExit(std::chrono::seconds(15));
  ASSERT_TRUE(code.has_value()) << "trunkrouted did not stop:\n" << daemon.Output();
  EXPECT_EQ(*code, 0) << daemon.Output();
}

}  // namespace
}  // namespace trunkroute::sip::testing
