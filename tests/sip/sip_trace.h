#ifndef TRUNKROUTE_TESTS_SIP_SIP_TRACE_H_
#define TRUNKROUTE_TESTS_SIP_SIP_TRACE_H_

// What a SIPp peer sent and received, read back from its -trace_msg file, so that tests can
// assert on the messages themselves (headers, tags, CSeq, bodies), not only on call completion.

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace trunkroute::sip::testing {

struct SipMessage {
  bool received = false;   // received by the peer that wrote the trace; false: it sent it
  std::string start_line;  // "INVITE sip:+1555@host SIP/2.0" or "SIP/2.0 200 OK"
  std::vector<std::pair<std::string, std::string>> headers;  // in order, values trimmed
  std::string body;                                          // CRLF turned into LF

  bool is_request() const { return start_line.rfind("SIP/2.0 ", 0) != 0; }
  // The request's method, or for a response the method of its CSeq.
  std::string method() const;
  int status() const;  // 0 for requests
  std::string request_uri() const;
  // The first header of that name (case-insensitive; compact forms f, t, i, v, m, l, c, k
  // understood); "" when absent.
  std::string header(std::string_view name) const;
  std::vector<std::string> all_headers(std::string_view name) const;
  uint32_t cseq() const;
  // The tag parameter of From or To; "" when none.
  std::string tag(std::string_view from_or_to) const;
  // A header value without its ;tag= parameter (name-addr part and other parameters kept).
  std::string without_tag(std::string_view from_or_to) const;
  // One line for failure messages: "recv INVITE sip:… (CSeq 2 INVITE)".
  std::string Summary() const;
};

// Parses a SIPp -trace_msg file.
std::vector<SipMessage> ParseSippTrace(std::string_view trace);

// The messages of `trace` that match: requests of `method`, or responses to `method` with
// `status` (0: any status), that the peer received (`received`) or sent.
std::vector<SipMessage> Requests(const std::vector<SipMessage>& trace, bool received,
                                 std::string_view method);
std::vector<SipMessage> Responses(const std::vector<SipMessage>& trace, bool received,
                                  std::string_view method, int status = 0);
// Every message, one Summary() per line.
std::string Describe(const std::vector<SipMessage>& trace);

// Digest parameters of an Authorization / Proxy-Authorization / *-Authenticate value:
// username, realm, nonce, uri, response, qop, nc, cnonce, algorithm, opaque (quotes removed).
std::map<std::string, std::string> DigestParams(std::string_view header_value);

// The RFC 2617 digest response a client must send for these credentials and parameters (MD5;
// with qop=auth when `params` has qop).
std::string ExpectedDigestResponse(std::string_view method, std::string_view username,
                                   std::string_view password,
                                   const std::map<std::string, std::string>& params);

}  // namespace trunkroute::sip::testing

#endif  // TRUNKROUTE_TESTS_SIP_SIP_TRACE_H_
