// Retry hints: what is only not known yet is UNAVAILABLE with a hint, and a
// lost race is run again rather than handed back to the caller.

#include "common/base/retry_later.h"

#include <gtest/gtest.h>

namespace rooted {
namespace {

TEST(RetryLater, CarriesItsHint) {
  const absl::Status status = RetryLater("referral_id: not known here yet", absl::Seconds(1));
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(status.message(), "referral_id: not known here yet");
  ASSERT_TRUE(RetryAfterOf(status).has_value());
  EXPECT_EQ(*RetryAfterOf(status), absl::Seconds(1));
  EXPECT_FALSE(RetryAfterOf(absl::UnavailableError("redis is down")).has_value());
  EXPECT_FALSE(RetryAfterOf(absl::OkStatus()).has_value());
}

TEST(RetryOnConflict, RunsALostRaceAgain) {
  int runs = 0;
  const absl::Status status = RetryOnConflict(
      3, [&] { return ++runs < 3 ? absl::AbortedError("changed meanwhile") : absl::OkStatus(); });
  EXPECT_TRUE(status.ok());
  EXPECT_EQ(runs, 3);
}

TEST(RetryOnConflict, PassesARefusalStraightThrough) {
  int runs = 0;
  const absl::Status status = RetryOnConflict(3, [&] {
    ++runs;
    return absl::FailedPreconditionError("lead_subject: caseload full");
  });
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(runs, 1);
}

TEST(RetryOnConflict, ARaceThatOutlastsItsAttemptsIsARetryHint) {
  int runs = 0;
  const absl::Status status = RetryOnConflict(3, [&] {
    ++runs;
    return absl::AbortedError("referral_id: the referral changed while this request ran");
  });
  EXPECT_EQ(runs, 3);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(RetryAfterOf(status).has_value());
  EXPECT_EQ(status.message().rfind("referral_id: the referral changed", 0), 0u);
}

}  // namespace
}  // namespace rooted
