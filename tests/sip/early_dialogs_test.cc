// EarlyDialogs: which of the caller's dialogs each relayed provisional goes in.
#include "sip/early_dialogs.h"

#include <string>

#include "gtest/gtest.h"

namespace trunkroute::sip {
namespace {

class EarlyDialogsTest : public ::testing::Test {
 protected:
  int made_ = 0;
  EarlyDialogs dialogs_{[this] { return "t" + std::to_string(++made_); }};
};

TEST_F(EarlyDialogsTest, ProvisionalsWithoutSdpStayInTheMainDialog) {
  EXPECT_EQ(dialogs_.TagFor(0, /*carries_answer=*/false), "");
  EXPECT_EQ(dialogs_.TagFor(0, false), "");
  EXPECT_EQ(dialogs_.TagFor(1, false), "") << "a later attempt without SDP too";
  EXPECT_EQ(dialogs_.count(), 0);
  EXPECT_EQ(made_, 0);
}

TEST_F(EarlyDialogsTest, AnEarlyAnswerOpensItsAttemptsOwnDialogAndTheAttemptStaysThere) {
  EXPECT_EQ(dialogs_.TagFor(0, false), "") << "180 before the 183: nothing answered yet";
  const std::string first = dialogs_.TagFor(0, true);
  EXPECT_EQ(first, "t1");
  EXPECT_EQ(dialogs_.TagFor(0, true), first) << "the same trunk dialog, the same caller dialog";
  EXPECT_EQ(dialogs_.TagFor(0, false), first) << "a 180 after it belongs to that dialog";
  EXPECT_EQ(dialogs_.count(), 1);
}

TEST_F(EarlyDialogsTest, EachAttemptWithAnEarlyAnswerGetsADialogOfItsOwn) {
  const std::string a = dialogs_.TagFor(0, true);
  const std::string b = dialogs_.TagFor(1, true);
  EXPECT_NE(a, b);
  EXPECT_FALSE(b.empty());
  EXPECT_EQ(dialogs_.TagFor(2, false), "") << "an attempt without SDP: the main dialog";
  EXPECT_EQ(dialogs_.TagFor(0, false), a);
  EXPECT_EQ(dialogs_.count(), 2);
}

}  // namespace
}  // namespace trunkroute::sip
