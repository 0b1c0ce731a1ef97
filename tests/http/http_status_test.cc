#include "http/http_status.h"

#include "gtest/gtest.h"

namespace trunkroute::http {
namespace {

TEST(HttpStatusFromCodeTest, MapsEveryCodeByWhatTheClientShouldDo) {
  EXPECT_EQ(HttpStatusFromCode(absl::StatusCode::kOk), 200);
  EXPECT_EQ(HttpStatusFromCode(absl::StatusCode::kInvalidArgument), 400);
  EXPECT_EQ(HttpStatusFromCode(absl::StatusCode::kOutOfRange), 400);
  EXPECT_EQ(HttpStatusFromCode(absl::StatusCode::kUnauthenticated), 401);
  EXPECT_EQ(HttpStatusFromCode(absl::StatusCode::kPermissionDenied), 403);
  EXPECT_EQ(HttpStatusFromCode(absl::StatusCode::kNotFound), 404);
  EXPECT_EQ(HttpStatusFromCode(absl::StatusCode::kAlreadyExists), 409);
  EXPECT_EQ(HttpStatusFromCode(absl::StatusCode::kAborted), 409);
  EXPECT_EQ(HttpStatusFromCode(absl::StatusCode::kFailedPrecondition), 409);
  EXPECT_EQ(HttpStatusFromCode(absl::StatusCode::kResourceExhausted), 429);
  EXPECT_EQ(HttpStatusFromCode(absl::StatusCode::kCancelled), 499);
  EXPECT_EQ(HttpStatusFromCode(absl::StatusCode::kUnknown), 500);
  EXPECT_EQ(HttpStatusFromCode(absl::StatusCode::kInternal), 500);
  EXPECT_EQ(HttpStatusFromCode(absl::StatusCode::kDataLoss), 500);
  EXPECT_EQ(HttpStatusFromCode(absl::StatusCode::kUnimplemented), 501);
  EXPECT_EQ(HttpStatusFromCode(absl::StatusCode::kUnavailable), 503);
  EXPECT_EQ(HttpStatusFromCode(absl::StatusCode::kDeadlineExceeded), 504);
}

TEST(ErrorJsonTest, ShapeAndEscaping) {
  EXPECT_EQ(ErrorJson(absl::NotFoundError("trunk 'a' not found")),
            R"({"error":{"code":"NOT_FOUND","http_status":404,"message":"trunk 'a' not found"}})");
  EXPECT_EQ(ErrorJson(absl::StatusCode::kInvalidArgument, 400, "a \"b\"\\c\nd\x01"),
            R"({"error":{"code":"INVALID_ARGUMENT","http_status":400,"message":"a \"b\"\\c\nd\u0001"}})");
}

}  // namespace
}  // namespace trunkroute::http
