#include "common/base/retry_later.h"

#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace rooted {
namespace {

constexpr absl::string_view kRetryAfterPayload = "rooted.retry-after-ms";

}  // namespace

absl::Status RetryLater(absl::string_view message, absl::Duration after) {
  absl::Status status = absl::UnavailableError(message);
  status.SetPayload(kRetryAfterPayload,
                    absl::Cord(std::to_string(absl::ToInt64Milliseconds(after))));
  return status;
}

std::optional<absl::Duration> RetryAfterOf(const absl::Status& status) {
  const absl::optional<absl::Cord> payload = status.GetPayload(kRetryAfterPayload);
  int64_t ms = 0;
  if (!payload || !absl::SimpleAtoi(std::string(*payload), &ms) || ms < 0) return std::nullopt;
  return absl::Milliseconds(ms);
}

absl::Status RetryOnConflict(int attempts, absl::FunctionRef<absl::Status()> attempt) {
  absl::Status status;
  for (int i = 0; i < attempts; ++i) {
    status = attempt();
    if (!absl::IsAborted(status)) return status;
  }
  return RetryLater(absl::StrCat(status.message(), " (still changing: try again shortly)"),
                    absl::Milliseconds(200));
}

}  // namespace rooted
