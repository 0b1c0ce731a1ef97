// The --api-tokens-file format, the single-token placeholder checks and the secret-file mode
// rule: every malformed line reported with its number, nothing taken from a bad file, secrets
// never echoed.
#include "auth/token_set.h"

#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "common/secret_file.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_tokens.h"

namespace trunkroute::auth {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using trunkroute::testing::LongSecret;
using trunkroute::testing::TempDir;
using trunkroute::testing::TokensFileText;

std::string Hash(const std::string& secret) { return "sha256:" + DigestHex(Sha256(secret)); }

TEST(Sha256Test, MatchesSha256sum) {
  // printf %s abc | sha256sum
  EXPECT_EQ(DigestHex(Sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(TokenSetParseTest, ReadsNamesScopesAndHashes) {
  const std::string genesys = LongSecret("genesys");
  const std::string alice = LongSecret("alice");
  const std::string text =
      "# tokens for prod\n"
      "\n"
      "genesys-prod  route  " +
      Hash(genesys) +
      "   # the data action\n"
      "\tops-alice read,write,admin\t" +
      Hash(alice) + "\r\n";
  auto set = TokenSet::Parse(text, "tokens");
  ASSERT_TRUE(set.ok()) << set.status();
  ASSERT_EQ(set->size(), 2u);
  const TokenEntry* g = set->Find(genesys);
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->name, "genesys-prod");
  EXPECT_EQ(g->scopes, ScopeSet().With(Scope::kRoute));
  EXPECT_EQ(g->source, "tokens:3");
  const TokenEntry* a = set->Find(alice);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->scopes.ToString(), "read,write,admin");
  EXPECT_EQ(set->Find(genesys + "x"), nullptr);
  EXPECT_EQ(set->Find(""), nullptr);
}

TEST(TokenSetParseTest, HexIsCaseInsensitive) {
  std::string hash = DigestHex(Sha256(LongSecret("x")));
  for (char& c : hash) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  auto set = TokenSet::Parse("x read sha256:" + hash + "\n", "tokens");
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_NE(set->Find(LongSecret("x")), nullptr);
}

TEST(TokenSetParseTest, EveryMalformedLineIsReportedWithItsNumber) {
  const std::string pasted_token = "tok-e5b1c0ffee-this-is-the-secret-itself";
  const std::string text = "ok read " + Hash(LongSecret("ok")) +
                           "\n"                 // 1: fine
                           "two-fields read\n"  // 2
                           "bad/name read " +
                           Hash(LongSecret("a")) +
                           "\n"  // 3
                           "n1 wirte " +
                           Hash(LongSecret("b")) +
                           "\n"  // 4
                           "n2 read,,write " +
                           Hash(LongSecret("c")) +
                           "\n"  // 5
                           "n3 read,read " +
                           Hash(LongSecret("d")) +
                           "\n"  // 6
                           "n4 read " +
                           pasted_token +
                           "\n"                     // 7: the token instead of its hash
                           "n5 read sha256:abcd\n"  // 8
                           "n6 read sha256:" +
                           std::string(64, 'g') +
                           "\n"  // 9
                           "n7 read " +
                           Hash("change-me") +
                           "\n"  // 10
                           "n8 read " +
                           Hash("") +
                           "\n"  // 11
                           "ok write " +
                           Hash(LongSecret("e")) +
                           "\n"  // 12: duplicate name
                           "n9 admin " +
                           Hash(LongSecret("ok")) +
                           "\n"          // 13: duplicate hash
                           "a b c d\n";  // 14
  auto set = TokenSet::Parse(text, "/etc/trunkroute/tokens");
  ASSERT_FALSE(set.ok());
  EXPECT_EQ(set.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string m(set.status().message());
  EXPECT_THAT(m, HasSubstr("/etc/trunkroute/tokens:2: expected NAME SCOPE[,SCOPE...] sha256:HEX, "
                           "found 2 fields"));
  EXPECT_THAT(m, HasSubstr("tokens:3: name 'bad/name'"));
  EXPECT_THAT(m, HasSubstr("tokens:4: scope 'wirte' is not read, route, write or admin"));
  EXPECT_THAT(m, HasSubstr("tokens:5: empty scope in 'read,,write'"));
  EXPECT_THAT(m, HasSubstr("tokens:6: scope 'read' is listed twice"));
  EXPECT_THAT(m, HasSubstr("tokens:7: third field must be sha256:<64 hex digits>"));
  EXPECT_THAT(m, HasSubstr("tokens:8: sha256: must be followed by exactly 64 hex digits (4 "));
  EXPECT_THAT(m, HasSubstr("tokens:9: sha256: must be followed by exactly 64 hex digits"));
  EXPECT_THAT(m, HasSubstr("tokens:10: token 'n7' is the placeholder 'change-me'"));
  EXPECT_THAT(m, HasSubstr("tokens:11: token 'n8' is the empty string"));
  EXPECT_THAT(m, HasSubstr("tokens:12: name 'ok' is already used on line 1"));
  EXPECT_THAT(m, HasSubstr("tokens:13: token 'n9' has the same hash as 'ok' on line 1"));
  EXPECT_THAT(m, HasSubstr("tokens:14: expected NAME SCOPE[,SCOPE...] sha256:HEX, found 4"));
  // A pasted token is never repeated back (it would end up in logs).
  EXPECT_THAT(m, Not(HasSubstr(pasted_token)));
  EXPECT_THAT(m, Not(HasSubstr("tokens:1:")));
}

TEST(TokenSetParseTest, AFileWithoutTokensIsAnError) {
  auto set = TokenSet::Parse("# nothing yet\n\n", "tokens");
  ASSERT_FALSE(set.ok());
  EXPECT_THAT(set.status().message(), HasSubstr("tokens: no tokens"));
}

TEST(SecretStrengthTest, PlaceholdersAndShortSecretsAreRefusedNamingTheSource) {
  struct Case {
    std::string secret;
    std::string why;
  };
  for (const Case& c : {Case{"change-me-to-a-long-random-string-please-ok", "placeholder"},
                        Case{"CHANGEME-0123456789abcdef0123456789abcdef", "placeholder"},
                        Case{"short-but-real", "14 characters long; at least 32"},
                        Case{std::string(40, 'a'), "one character repeated"}}) {
    absl::Status st = CheckSecretStrength(c.secret, "--api-token-file /run/tok");
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << c.secret;
    EXPECT_THAT(st.message(), AllOf(HasSubstr("--api-token-file /run/tok"), HasSubstr(c.why),
                                    Not(HasSubstr(c.secret))));
  }
  EXPECT_TRUE(CheckSecretStrength(LongSecret("fine"), "x").ok());
}

TEST(TokenSetTest, FromSecretHasEveryScopeAndIsFoundByTheSecret) {
  auto set = TokenSet::FromSecret(LongSecret("single"), "api-token", ScopeSet::All(),
                                  "TRUNKROUTE_API_TOKEN");
  ASSERT_TRUE(set.ok()) << set.status();
  const TokenEntry* e = set->Find(LongSecret("single"));
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->scopes, ScopeSet::All());
  EXPECT_FALSE(TokenSet::FromSecret("change-me", "api-token", ScopeSet::All(), "X").ok());
}

TEST(TokenSetTest, MergeRefusesDuplicateNamesAndTokens) {
  auto file = TokenSet::Parse(
      TokensFileText({{"api-token", "read", LongSecret("a")}, {"b", "read", LongSecret("b")}}),
      "tokens");
  ASSERT_TRUE(file.ok());
  auto same_name = TokenSet::FromSecret(LongSecret("c"), "api-token", ScopeSet::All(), "FLAG");
  TokenSet merged = *file;
  absl::Status st = merged.Merge(*same_name);
  EXPECT_THAT(st.message(),
              HasSubstr("token name 'api-token' of FLAG is already used by tokens:2"));
  auto same_secret = TokenSet::FromSecret(LongSecret("b"), "other", ScopeSet::All(), "FLAG");
  st = merged.Merge(*same_secret);
  EXPECT_THAT(st.message(), HasSubstr("is the same token as 'b' of tokens:3"));
  EXPECT_EQ(merged.size(), 2u);
  auto fresh = TokenSet::FromSecret(LongSecret("d"), "single", ScopeSet::All(), "FLAG");
  ASSERT_TRUE(merged.Merge(*fresh).ok());
  EXPECT_EQ(merged.size(), 3u);
  EXPECT_NE(merged.Find(LongSecret("d")), nullptr);
}

TEST(TokenSetLoadTest, AWorldReadableFileIsRefusedNamingItAndItsMode) {
  TempDir tmp;
  const std::string path = tmp.Sub("tokens");
  trunkroute::testing::WriteFileBytes(path, TokensFileText({{"a", "read", LongSecret("a")}}));
  ::chmod(path.c_str(), 0644);
  auto set = TokenSet::LoadFile(path);
  ASSERT_FALSE(set.ok());
  EXPECT_EQ(set.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(set.status().message(),
              AllOf(HasSubstr("--api-tokens-file " + path), HasSubstr("mode 0644"),
                    HasSubstr("others"), HasSubstr("chmod 600 " + path)));
  ::chmod(path.c_str(), 0640);
  EXPECT_THAT(TokenSet::LoadFile(path).status().message(),
              AllOf(HasSubstr("mode 0640"), HasSubstr("its group")));
  ::chmod(path.c_str(), 0600);
  auto ok = TokenSet::LoadFile(path);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->size(), 1u);
  ::chmod(path.c_str(), 0400);
  EXPECT_TRUE(TokenSet::LoadFile(path).ok());
}

TEST(TokenSetLoadTest, AMissingFileNamesTheFlagAndTheFile) {
  auto set = TokenSet::LoadFile("/nonexistent/tokens");
  ASSERT_FALSE(set.ok());
  EXPECT_THAT(set.status().message(),
              HasSubstr("--api-tokens-file /nonexistent/tokens: No such file or directory"));
}

// PostgreSQL's rule for its key, on synthetic stat results (the suite may run as root, where
// the root-owned case is the own-user case).
TEST(SecretFileModeTest, OwnerOnlyOrRootOwnedGroupReadable) {
  struct Case {
    uid_t owner;
    mode_t mode;
    bool ok;
  };
  const uid_t me = 1000;
  for (const Case& c : {Case{me, 0600, true}, Case{me, 0400, true}, Case{me, 0640, false},
                        Case{me, 0604, false}, Case{me, 0660, false}, Case{0, 0640, true},
                        Case{0, 0440, true}, Case{0, 0600, true}, Case{0, 0644, false},
                        Case{0, 0660, false}, Case{0, 0650, false}, Case{4242, 0600, false}}) {
    struct stat st {};
    st.st_mode = S_IFREG | c.mode;
    st.st_uid = c.owner;
    absl::Status status = CheckSecretFileMode("/f", st, me);
    EXPECT_EQ(status.ok(), c.ok) << "owner " << c.owner << " mode " << std::oct << c.mode << ": "
                                 << status;
  }
  struct stat dir {};
  dir.st_mode = S_IFDIR | 0700;
  dir.st_uid = me;
  EXPECT_THAT(CheckSecretFileMode("/d", dir, me).message(), HasSubstr("not a regular file"));
  struct stat other {};
  other.st_mode = S_IFREG | 0600;
  other.st_uid = 4242;
  EXPECT_THAT(CheckSecretFileMode("/f", other, me).message(),
              HasSubstr("owned by uid 4242, neither the daemon's user (uid 1000) nor root"));
}

}  // namespace
}  // namespace trunkroute::auth
