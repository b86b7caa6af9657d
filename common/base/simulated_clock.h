#ifndef ROOTED_COMMON_BASE_SIMULATED_CLOCK_H_
#define ROOTED_COMMON_BASE_SIMULATED_CLOCK_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/base/clock.h"

namespace rooted {

// The wall clock moved by an offset that several processes share through a
// small file: a rehearsal or demonstration plays weeks of a school term
// through the real services in minutes (registers day by day, a forum meeting
// after the referrals, payments after the decisions). One process moves the
// offset with AdvanceTo; every process reading the file sees the same time.
// Time still flows between moves, and never runs backwards: a move to an
// earlier time is ignored. Never configured in production; services log a
// warning when they run on one.
class SimulatedClock final : public Clock {
 public:
  // Maps `path` (created holding offset zero if missing). `writable`: this
  // process may move the clock.
  static absl::StatusOr<std::unique_ptr<SimulatedClock>> Open(const std::string& path, bool writable);
  ~SimulatedClock() override;
  SimulatedClock(const SimulatedClock&) = delete;
  SimulatedClock& operator=(const SimulatedClock&) = delete;

  absl::Time Now() const override;
  // Moves the clock on so that Now() reads `t` (no-op if it already reads later).
  absl::Status AdvanceTo(absl::Time t);
  // Sets the clock to `t`, earlier or later: only to begin a simulation,
  // before anything has happened in it.
  absl::Status StartAt(absl::Time t);
  // Back to the real time, if the simulation has not already passed it.
  absl::Status CatchUpWithRealTime() { return AdvanceTo(absl::Now()); }

 private:
  SimulatedClock(int64_t* offset_us, bool writable) : offset_us_(offset_us), writable_(writable) {}
  int64_t* offset_us_;  // in the shared mapping
  bool writable_;
};

}  // namespace rooted

#endif  // ROOTED_COMMON_BASE_SIMULATED_CLOCK_H_
