#include "cli/table.h"

#include <sstream>

#include "cli/display.h"
#include "cli/json.h"
#include "gtest/gtest.h"
#include "trunkroute/v1/health.pb.h"

namespace trunkroute::cli {
namespace {

TEST(TableTest, AlignsColumnsAndMarksEmptyCells) {
  Table table({"ID", "HOST", "NOTE"});
  table.AddRow({"a", "sip.example.com", "first"});
  table.AddRow({"long-id", "", "x"});
  table.AddRow({"short"});
  std::ostringstream out;
  table.Print(out);
  EXPECT_EQ(out.str(),
            "ID       HOST             NOTE\n"
            "a        sip.example.com  first\n"
            "long-id  -                x\n"
            "short    -                -\n");
}

TEST(KeyValueListTest, AlignsValues) {
  KeyValueList view;
  view.Add("id", "a");
  view.Add("max_concurrent_calls", "");
  std::ostringstream out;
  view.Print(out);
  EXPECT_EQ(out.str(), "id                    a\nmax_concurrent_calls  -\n");
}

TEST(DisplayTest, ShortEnumNamesAndEffectiveDefaults) {
  EXPECT_EQ(ShortEnum(v1::HEALTH_REASON_CONSECUTIVE_FAILURES), "consecutive_failures");
  EXPECT_EQ(ShortEnum(v1::ADMIN_STATE_FORCED_DOWN), "forced_down");
  EXPECT_EQ(TransportName(v1::TRANSPORT_UNSPECIFIED), "tls");
  v1::Trunk trunk;
  EXPECT_EQ(EffectivePort(trunk), 5061u);
  trunk.set_transport(v1::TRANSPORT_UDP);
  EXPECT_EQ(EffectivePort(trunk), 5060u);
  EXPECT_EQ(FormatUnixMs(1714564800123), "2024-05-01T12:00:00Z");
  EXPECT_EQ(FormatUnixMs(0), "");
  EXPECT_EQ(FormatRttUs(12345), "12.3ms");
}

TEST(DisplayTest, FlattenShowsSetFieldsOnly) {
  v1::FailoverPolicy policy;
  policy.set_setup_timeout_ms(1500);
  policy.add_failover_codes(503);
  policy.add_failover_codes(408);
  policy.set_adaptive_timeout(false);
  KeyValueList view;
  FlattenMessage(policy, "failover", &view);
  std::ostringstream out;
  view.Print(out);
  EXPECT_EQ(out.str(),
            "failover.setup_timeout_ms  1500\n"
            "failover.failover_codes    503,408\n"
            "failover.adaptive_timeout  off\n");
}

TEST(JsonDocumentTest, AcceptsOneObjectOrAList) {
  std::vector<v1::Trunk> trunks;
  EXPECT_EQ(ParseTrunksDocument(R"({"id": "a", "host": "h"})", "t.json", &trunks), std::nullopt);
  ASSERT_EQ(trunks.size(), 1u);
  EXPECT_EQ(trunks[0].id(), "a");

  EXPECT_EQ(ParseTrunksDocument(R"({"trunks": [{"id": "a", "port": 5070}, {"id": "b"}]})", "t.json",
                                &trunks),
            std::nullopt);
  ASSERT_EQ(trunks.size(), 2u);
  EXPECT_EQ(trunks[0].port(), 5070u);
  EXPECT_EQ(trunks[1].id(), "b");
}

TEST(JsonDocumentTest, ErrorsNameTheSourceAndElement) {
  std::vector<v1::Trunk> trunks;
  auto err = ParseTrunksDocument(R"({"trunks": [{"id": "a"}, {"idd": "b"}]})", "t.json", &trunks);
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->rfind("t.json: trunks[1]: not a valid Trunk", 0), 0u) << *err;
  err = ParseTrunksDocument(R"({"trunks": {}})", "t.json", &trunks);
  EXPECT_EQ(err, "t.json: \"trunks\" must be an array");
  err = ParseTrunksDocument("not json", "t.json", &trunks);
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->rfind("t.json: not valid JSON (", 0), 0u) << *err;
}

}  // namespace
}  // namespace trunkroute::cli
