#ifndef ROOTED_COMMON_BASE_MUTEX_MODE_H_
#define ROOTED_COMMON_BASE_MUTEX_MODE_H_

#include "absl/synchronization/mutex.h"

namespace rooted {

// Turns off Abseil's mutex deadlock detection for the whole process; call it
// first thing in main. Debian builds Abseil without NDEBUG, so otherwise every
// absl::Mutex (gRPC's own included) records lock order in one process-wide
// graph behind a global lock, on each lock and each mutex destroyed: 2-3% of
// referral-intake's CPU under load.
inline void UseMutexesWithoutDeadlockGraph() {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}

}  // namespace rooted

#endif  // ROOTED_COMMON_BASE_MUTEX_MODE_H_
