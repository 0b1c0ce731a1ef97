// BadHeaderRejection (sip/incoming_invite.h) on requests parsed as nta parses a datagram: the
// headers the edge reads that nta lets through unparsed get a 400 naming them.
#include "sip/incoming_invite.h"

#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace trunkroute::sip {
namespace {

class BadHeaderTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (msg_ != nullptr) msg_destroy(msg_);
  }
  sip_t const* Parse(const std::string& extra) {
    text_ = absl::StrCat(
        "INVITE sip:+15551234567@127.0.0.1 SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1\r\n"
        "From: <sip:+15550001111@127.0.0.1>;tag=a\r\n"
        "To: <sip:+15551234567@127.0.0.1>\r\n"
        "Call-ID: c1@127.0.0.1\r\n"
        "CSeq: 1 INVITE\r\n",
        extra, "Content-Length: 0\r\n\r\n");
    msg_ = msg_make(sip_default_mclass(), 0, text_.data(), static_cast<isize_t>(text_.size()));
    return msg_ != nullptr ? sip_object(msg_) : nullptr;
  }
  std::string text_;
  msg_t* msg_ = nullptr;
};

TEST_F(BadHeaderTest, ParsedHeadersPass) {
  sip_t const* sip = Parse("Max-Forwards: 70\r\nPrivacy: id\r\nDate: someday\r\n");
  ASSERT_NE(sip, nullptr);
  EXPECT_FALSE(BadHeaderRejection(sip).has_value());
}

TEST_F(BadHeaderTest, GarbledMaxForwardsIs400NamingIt) {
  sip_t const* sip = Parse("Max-Forwards: seventy\r\n");
  ASSERT_NE(sip, nullptr);
  EXPECT_EQ(sip->sip_max_forwards, nullptr) << "what the edge would read as 70";
  const std::optional<EdgeRejection> r = BadHeaderRejection(sip);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 400);
  EXPECT_STREQ(r->phrase, "Bad Max-Forwards Header");
  EXPECT_EQ(r->reason_header, "SIP;cause=400;text=\"bad Max-Forwards header\"");
  EXPECT_EQ(r->metric_reason, "bad_request");
}

// A second value of a single-value header is kept in sip_error as a header of its own class,
// not as an msg_error_t (found by the SIP fuzz target: reading it as one crashed).
TEST_F(BadHeaderTest, SecondMaxForwardsIs400NamingIt) {
  sip_t const* sip = Parse("Max-Forwards: 70\r\nMax-Forwards: 69\r\n");
  ASSERT_NE(sip, nullptr);
  ASSERT_NE(sip->sip_error, nullptr);
  const std::optional<EdgeRejection> r = BadHeaderRejection(sip);
  ASSERT_TRUE(r.has_value());
  EXPECT_STREQ(r->phrase, "Bad Max-Forwards Header");
}

TEST_F(BadHeaderTest, GarbledPrivacyIs400NamingIt) {
  sip_t const* sip = Parse("Privacy: @@@\r\n");
  ASSERT_NE(sip, nullptr);
  const std::optional<EdgeRejection> r = BadHeaderRejection(sip);
  ASSERT_TRUE(r.has_value());
  EXPECT_STREQ(r->phrase, "Bad Privacy Header");
}

TEST_F(BadHeaderTest, AGarbledHeaderTheEdgeDoesNotReadIsNoReason) {
  sip_t const* sip = Parse("Date: not a date\r\n");
  ASSERT_NE(sip, nullptr);
  ASSERT_NE(sip->sip_error, nullptr) << "the bad Date is kept as an error header";
  EXPECT_FALSE(BadHeaderRejection(sip).has_value());
}

}  // namespace
}  // namespace trunkroute::sip
