#ifndef ROOTED_COMMON_BASE_RETRY_LATER_H_
#define ROOTED_COMMON_BASE_RETRY_LATER_H_

#include <optional>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/time/time.h"

namespace rooted {

// UNAVAILABLE with a hint of when to try again: for an answer that is only
// not yet known (an event still on its way, a record changed under the call
// several times over), never for a refusal. The RPC path sends the hint as
// gRPC's `grpc-retry-pushback-ms` trailer, which clients with a retry policy
// follow.
absl::Status RetryLater(absl::string_view message, absl::Duration after);

// The hint RetryLater put on `status`, if any.
std::optional<absl::Duration> RetryAfterOf(const absl::Status& status);

// Runs a read-check-write `attempt` again while its version-guarded write
// finds the record changed (ABORTED) since it was read, at most `attempts`
// times; a conflict that outlasts them is UNAVAILABLE with a retry hint, so a
// caller never has to tell a lost race from a refusal.
absl::Status RetryOnConflict(int attempts, absl::FunctionRef<absl::Status()> attempt);

}  // namespace rooted

#endif  // ROOTED_COMMON_BASE_RETRY_LATER_H_
