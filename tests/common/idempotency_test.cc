#include "common/redis/idempotency.h"

#include <google/protobuf/timestamp.pb.h>
#include <gtest/gtest.h>

#include "common/base/ids.h"

namespace rooted {
namespace {

TEST(IdForRequestTest, IsAVersion8UuidThatNeverChanges) {
  // Pinned: a changed derivation would give a retry after an upgrade a new
  // id, and so a second referral.
  EXPECT_EQ(IdForRequest("SubmitReferral", "teacher-1", "req-submit-0001"), "af91ef5e-48d9-82d1-bede-45fc6a9cad35");
  const std::string id = IdForRequest("SubmitReferral", "officer-7", "0d5a1c3e-retry");
  ASSERT_EQ(id.size(), 36u);
  EXPECT_EQ(id[14], '8');
  EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos) << id;
  EXPECT_TRUE(IsValidRequestId(id)) << id;
  EXPECT_EQ(id, IdForRequest("SubmitReferral", "officer-7", "0d5a1c3e-retry"));
}

TEST(IdForRequestTest, EachPartMakesItsOwnId) {
  const std::string id = IdForRequest("SubmitReferral", "teacher-1", "req-00000001");
  EXPECT_NE(id, IdForRequest("SubmitFundRequest", "teacher-1", "req-00000001"));
  EXPECT_NE(id, IdForRequest("SubmitReferral", "teacher-2", "req-00000001"));
  EXPECT_NE(id, IdForRequest("SubmitReferral", "teacher-1", "req-00000002"));
  // The same bytes split differently between subject and request id.
  EXPECT_NE(IdForRequest("m", "ab", "cdefghij"), IdForRequest("m", "abc", "defghij"));
}

TEST(FirstAnswerTest, ARetryGetsTheAnswerAndAnotherRequestIsRefused) {
  google::protobuf::Timestamp request;
  request.set_seconds(1700000000);
  google::protobuf::Timestamp response;
  response.set_seconds(42);
  const std::string stored = EncodeFirstAnswer(request, response);

  google::protobuf::Timestamp replayed;
  ASSERT_TRUE(DecodeFirstAnswer(stored, request, &replayed).ok());
  EXPECT_EQ(replayed.seconds(), 42);

  google::protobuf::Timestamp other = request;
  other.set_nanos(1);
  const absl::Status refused = DecodeFirstAnswer(stored, other, &replayed);
  EXPECT_EQ(refused.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(refused.message().find("request_id"), std::string::npos) << refused;
  EXPECT_EQ(StoredResponse("short", RequestFingerprint(request)).status().code(), absl::StatusCode::kInternal);
}

}  // namespace
}  // namespace rooted
