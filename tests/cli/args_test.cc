#include "cli/args.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace trunkroute::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::Optional;

const std::vector<FlagSpec> kSpecs = {{"file", true, 'f'}, {"dry-run", false}, {"count"}};

TEST(ParseArgsTest, AcceptsLongShortAndInlineValuesAndKeepsPositionals) {
  ParsedArgs args;
  EXPECT_EQ(ParseArgs({"a", "-f", "x.json", "--count=3", "b", "--dry-run"}, kSpecs, &args),
            std::nullopt);
  EXPECT_THAT(args.positional, ElementsAre("a", "b"));
  EXPECT_THAT(args.Get("file"), Optional(std::string("x.json")));
  EXPECT_THAT(args.Get("count"), Optional(std::string("3")));
  EXPECT_TRUE(args.Has("dry-run"));
}

TEST(ParseArgsTest, NumbersThatLookLikeFlagsArePositionals) {
  ParsedArgs args;
  EXPECT_EQ(ParseArgs({"-5", "-", "--", "--count"}, kSpecs, &args), std::nullopt);
  EXPECT_THAT(args.positional, ElementsAre("-5", "-", "--count"));
}

TEST(ParseArgsTest, RejectsUnknownFlagsMissingValuesAndValuesOnSwitches) {
  ParsedArgs args;
  EXPECT_EQ(ParseArgs({"--bogus"}, kSpecs, &args), "unknown flag --bogus");
  EXPECT_EQ(ParseArgs({"-x"}, kSpecs, &args), "unknown flag -x");
  EXPECT_EQ(ParseArgs({"--count"}, kSpecs, &args), "flag --count needs a value");
  EXPECT_EQ(ParseArgs({"-f"}, kSpecs, &args), "flag -f needs a value");
  EXPECT_EQ(ParseArgs({"--dry-run=yes"}, kSpecs, &args), "flag --dry-run takes no value");
}

TEST(ValueParsersTest, NameTheFlagAndTheBadValue) {
  uint32_t u = 0;
  EXPECT_EQ(ParseUint32("max-attempts", "3", &u), std::nullopt);
  EXPECT_EQ(u, 3u);
  EXPECT_EQ(ParseUint32("max-attempts", "3x", &u),
            "--max-attempts: '3x' is not a non-negative integer");
  EXPECT_EQ(ParseUint32("max-attempts", "-1", &u),
            "--max-attempts: '-1' is not a non-negative integer");
  EXPECT_EQ(ParseUint32("max-attempts", "4294967296", &u),
            "--max-attempts: '4294967296' is too large");

  bool b = false;
  EXPECT_EQ(ParseOnOff("adaptive-timeout", "ON", &b), std::nullopt);
  EXPECT_TRUE(b);
  EXPECT_EQ(ParseOnOff("adaptive-timeout", "off", &b), std::nullopt);
  EXPECT_FALSE(b);
  EXPECT_EQ(ParseOnOff("adaptive-timeout", "maybe", &b),
            "--adaptive-timeout: 'maybe' is not on or off");

  std::vector<uint32_t> codes;
  EXPECT_EQ(ParseUintList("failover-codes", "503, 408,500", &codes), std::nullopt);
  EXPECT_THAT(codes, ElementsAre(503u, 408u, 500u));
  EXPECT_EQ(ParseUintList("failover-codes", "503,x", &codes),
            "--failover-codes: 'x' is not a non-negative integer");
  EXPECT_EQ(ParseUintList("failover-codes", ",", &codes),
            "--failover-codes: expected a comma-separated list");
}

}  // namespace
}  // namespace trunkroute::cli
