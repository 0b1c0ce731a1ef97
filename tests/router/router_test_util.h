#ifndef TRUNKROUTE_TESTS_ROUTER_ROUTER_TEST_UTIL_H_
#define TRUNKROUTE_TESTS_ROUTER_ROUTER_TEST_UTIL_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "trunkroute/v1/config.pb.h"

namespace trunkroute::router::testing {

// Configs are written inline in protobuf text format so that each test reads as its own spec.
inline v1::Config ParseConfig(const std::string& text) {
  v1::Config config;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &config)) << text;
  return config;
}

inline const absl::Status& GetStatus(const absl::Status& status) { return status; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

// StatusIs(code, message_matcher) for absl::Status and absl::StatusOr (this Abseil release has
// no status matchers of its own).
MATCHER_P2(StatusIs, code, message_matcher,
           absl::StrCat("has status ", absl::StatusCodeToString(code))) {
  const absl::Status& status = GetStatus(arg);
  if (status.code() != code) {
    *result_listener << "whose status is " << status.ToString();
    return false;
  }
  return ::testing::ExplainMatchResult(message_matcher, std::string(status.message()),
                                       result_listener);
}

}  // namespace trunkroute::router::testing

#endif  // TRUNKROUTE_TESTS_ROUTER_ROUTER_TEST_UTIL_H_
