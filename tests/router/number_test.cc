#include "router/number.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/router/router_test_util.h"

namespace trunkroute::router {
namespace {

using ::testing::HasSubstr;
using testing::StatusIs;

TEST(NormalizeNumberTest, KeepsE164AsIs) {
  EXPECT_EQ(*NormalizeNumber("+15551234567"), "+15551234567");
}

TEST(NormalizeNumberTest, DropsVisualSeparators) {
  EXPECT_EQ(*NormalizeNumber("+1 (555) 123-4567"), "+15551234567");
  EXPECT_EQ(*NormalizeNumber("020.7946.0000"), "02079460000");
}

TEST(NormalizeNumberTest, TakesUserPartOfSipUriAndDropsParameters) {
  EXPECT_EQ(*NormalizeNumber("sip:+1 (555) 123-4567@host;user=phone"), "+15551234567");
  EXPECT_EQ(*NormalizeNumber("sips:+15551234567@carrier.example.com:5061"), "+15551234567");
  EXPECT_EQ(*NormalizeNumber("<sip:+15551234567;npdi@gw.example.com>"), "+15551234567");
  EXPECT_EQ(*NormalizeNumber("SIP:5551234@10.0.0.1"), "5551234");
}

TEST(NormalizeNumberTest, TakesNumberOfTelUri) {
  EXPECT_EQ(*NormalizeNumber("tel:+442079460000"), "+442079460000");
  EXPECT_EQ(*NormalizeNumber("tel:+44-20-7946-0000;phone-context=example.com"), "+442079460000");
}

TEST(NormalizeNumberTest, DecodesPercentEscapesInUris) {
  EXPECT_EQ(*NormalizeNumber("sip:*67%23@host"), "*67#");
}

TEST(NormalizeNumberTest, KeepsStarAndHash) { EXPECT_EQ(*NormalizeNumber("*72#"), "*72#"); }

TEST(NormalizeNumberTest, DoesNotRewriteInternationalPrefixes) {
  EXPECT_EQ(*NormalizeNumber("011 44 20 7946 0000"), "011442079460000");
  EXPECT_EQ(*NormalizeNumber("00442079460000"), "00442079460000");
}

TEST(NormalizeNumberTest, RejectsLettersNamingTheNumber) {
  EXPECT_THAT(NormalizeNumber("call-me-maybe"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("number 'call-me-maybe': not a phone number (unexpected 'c'")));
}

TEST(NormalizeNumberTest, RejectsEmptyAndSeparatorOnlyInput) {
  EXPECT_THAT(NormalizeNumber(""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("number '': no digits")));
  EXPECT_THAT(NormalizeNumber(" - "),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no digits")));
  EXPECT_THAT(NormalizeNumber("sip:@host"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no digits")));
}

TEST(NormalizeNumberTest, RejectsPlusAfterTheStart) {
  EXPECT_THAT(NormalizeNumber("1+5551234"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("'+' is allowed only at the start")));
}

TEST(NormalizeNumberTest, RejectsMoreThan32Characters) {
  EXPECT_EQ(NormalizeNumber(std::string(32, '5')).status(), absl::OkStatus());
  EXPECT_THAT(NormalizeNumber(std::string(33, '5')),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("33 characters, at most 32 allowed")));
}

TEST(NormalizeNumberTest, EscapesControlCharactersInTheError) {
  EXPECT_THAT(NormalizeNumber("555\n1234"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("number '555\\n1234'")));
}

TEST(NormalizeNumberTest, RejectsBadPercentEscape) {
  EXPECT_THAT(NormalizeNumber("sip:555%2@host"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("bad percent-escape")));
}

v1::NumberTransform Transform(uint32_t strip, std::string prepend, bool e164 = false,
                              std::string cc = "") {
  v1::NumberTransform t;
  t.set_strip_digits(strip);
  t.set_prepend(std::move(prepend));
  t.set_e164(e164);
  t.set_default_country_code(std::move(cc));
  return t;
}

TEST(ApplyTransformTest, EmptyTransformKeepsTheNumber) {
  EXPECT_EQ(*ApplyTransform("+15551234567", v1::NumberTransform()), "+15551234567");
}

TEST(ApplyTransformTest, StripsThenPrepends) {
  // An outside-line "9" replaced by the carrier's "1".
  EXPECT_EQ(*ApplyTransform("95551234567", Transform(1, "1")), "15551234567");
  EXPECT_EQ(*ApplyTransform("+15551234567", Transform(2, "")), "5551234567");
}

TEST(ApplyTransformTest, E164FromNationalNumberUsesCountryCode) {
  EXPECT_EQ(*ApplyTransform("2125551234", Transform(0, "", true, "1")), "+12125551234");
  // NANP long-distance "1" is already the country code.
  EXPECT_EQ(*ApplyTransform("12125551234", Transform(0, "", true, "1")), "+12125551234");
  // The national trunk prefix "0" is not part of the E.164 number.
  EXPECT_EQ(*ApplyTransform("02079460000", Transform(0, "", true, "44")), "+442079460000");
}

TEST(ApplyTransformTest, E164FromInternationalPrefixes) {
  EXPECT_EQ(*ApplyTransform("00442079460000", Transform(0, "", true, "1")), "+442079460000");
  EXPECT_EQ(*ApplyTransform("011442079460000", Transform(0, "", true, "1")), "+442079460000");
  EXPECT_EQ(*ApplyTransform("+442079460000", Transform(0, "", true, "")), "+442079460000");
}

TEST(ApplyTransformTest, UkNationalNumberStartingWith011IsNotInternational) {
  // Leeds: 0113 496 0000. "011" is an international prefix only in NANP.
  EXPECT_EQ(*ApplyTransform("01134960000", Transform(0, "", true, "44")), "+441134960000");
}

TEST(ApplyTransformTest, E164WithoutCountryCodeRejectsNationalNumbers) {
  EXPECT_THAT(ApplyTransform("2125551234", Transform(0, "", true, "")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("number '2125551234': cannot make it E.164: a national number "
                                 "and no default country code")));
}

TEST(ApplyTransformTest, E164RejectsTooFewDigitsAndFeatureCodes) {
  EXPECT_THAT(ApplyTransform("+1234", Transform(0, "", true, "")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("4 digits, E.164 has 8–15")));
  EXPECT_THAT(ApplyTransform("*72#", Transform(0, "", true, "1")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("only digits")));
}

TEST(ApplyTransformTest, StrippingEverythingIsAnError) {
  EXPECT_THAT(ApplyTransform("123", Transform(5, "")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("number '123': strip_digits 5 leaves nothing to dial")));
}

TEST(ApplyTransformTest, ResultLongerThan32IsAnError) {
  EXPECT_THAT(ApplyTransform(std::string(30, '1'), Transform(0, "+4420")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("35 characters")));
}

TEST(ToE164Test, NormalisesCallerNumbers) {
  EXPECT_EQ(*ToE164("+15551234567", ""), "+15551234567");
  EXPECT_EQ(*ToE164("5551234567", "1"), "+15551234567");
  EXPECT_EQ(*ToE164("0612345678", "33"), "+33612345678");
  // Italy keeps the leading 0 of fixed-line numbers.
  EXPECT_EQ(*ToE164("0612345678", "39"), "+390612345678");
}

TEST(ToE164Test, RejectsMoreThan15Digits) {
  EXPECT_THAT(ToE164("+1234567890123456", ""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("16 digits")));
}

}  // namespace
}  // namespace trunkroute::router
