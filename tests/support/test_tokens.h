#ifndef TRUNKROUTE_TESTS_SUPPORT_TEST_TOKENS_H_
#define TRUNKROUTE_TESTS_SUPPORT_TEST_TOKENS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "auth/authorizer.h"
#include "auth/token_set.h"
#include "gtest/gtest.h"

namespace trunkroute::testing {

// One token as a test configures it: the token itself travels in requests, the file line holds
// its hash.
struct TestToken {
  std::string name;
  std::string scopes;  // "read,write"
  std::string secret;
};

// The --api-tokens-file text for `tokens`.
inline std::string TokensFileText(const std::vector<TestToken>& tokens) {
  std::string text = "# written by a test\n";
  for (const TestToken& t : tokens) {
    absl::StrAppend(&text, t.name, " ", t.scopes,
                    " sha256:", auth::DigestHex(auth::Sha256(t.secret)), "\n");
  }
  return text;
}

// The TokenSet for `tokens`, through the real parser.
inline std::shared_ptr<const auth::TokenSet> MakeTokenSet(const std::vector<TestToken>& tokens) {
  auto set = auth::TokenSet::Parse(TokensFileText(tokens), "test-tokens");
  EXPECT_TRUE(set.ok()) << set.status();
  if (!set.ok()) return nullptr;
  return std::make_shared<const auth::TokenSet>(*std::move(set));
}

// A secret of at least auth::kMinSecretLength characters derived from `seed`.
inline std::string LongSecret(const std::string& seed) {
  return absl::StrCat(seed, "-0123456789abcdef0123456789abcdef");
}

}  // namespace trunkroute::testing

#endif  // TRUNKROUTE_TESTS_SUPPORT_TEST_TOKENS_H_
