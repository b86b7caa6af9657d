#ifndef ROOTED_SERVICES_RISK_SCORING_PUPIL_STATE_H_
#define ROOTED_SERVICES_RISK_SCORING_PUPIL_STATE_H_

#include <optional>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "common/base/proto_date.h"
#include "pupil_state.pb.h"
#include "rooted/risk/v1/risk.pb.h"
#include "services/risk-scoring/register_codes.h"

namespace rooted::risk {

using internal::PupilState;

// The academic year runs from 1 September to 31 August; it is named by the
// calendar year it starts in.
int AcademicYearOf(absl::CivilDay day);
absl::CivilDay AcademicYearStart(int academic_year);

int32_t EpochDay(absl::CivilDay day);
absl::CivilDay FromEpochDay(int32_t epoch_day);

// Session counts over some span of days.
struct SessionCounts {
  int possible = 0;
  int attended = 0;
  int unauthorised = 0;

  // Attendance in basis points (8640 = 86.40%); nullopt with no possible session.
  std::optional<int> AttendanceBp() const;
};

// What the scorer needs from a pupil's year, computed from the session marks.
struct AttendanceSummary {
  std::optional<absl::CivilDay> as_of;  // the last day with a mark
  SessionCounts year;                   // the academic year to date
  SessionCounts recent;                 // the last `recent_days` days up to as_of
  SessionCounts before_recent;          // the year before that window
};

// Sessions marked on days in [from, to) of the state's academic year.
SessionCounts CountSessions(const PupilState& state, absl::CivilDay from, absl::CivilDay to);

inline constexpr int kRecentWindowDays = 28;
AttendanceSummary SummariseAttendance(const PupilState& state, int recent_days = kRecentWindowDays);

// Folds one pseudonymised signal into the state. Marks, suspensions, moves and
// exclusions are keyed by their natural key (day and session, start day...),
// so a replayed signal changes nothing and a corrected one replaces the
// original. Returns whether anything changed. Signals older than the state's
// academic year are ignored (false); INVALID_ARGUMENT for a signal that could
// not have passed validation (bulk loaders write to the topic directly).
absl::StatusOr<bool> ApplySignal(PupilState& state, const v1::Signal& signal);

// Suspension sessions and counts within the state's academic year.
// The state as it stood before `cut`: marks, suspensions, exclusions and
// moves from `cut` on removed (context is kept: it carries no date). For
// backtests within the academic year the state holds.
PupilState StateBefore(const PupilState& state, absl::CivilDay cut);
// Whether a suspension began or an exclusion happened in [from, to).
bool SuspendedOrExcludedBetween(const PupilState& state, absl::CivilDay from, absl::CivilDay to);

int SuspensionsThisYear(const PupilState& state);
int SuspensionSessionsThisYear(const PupilState& state);
int ExclusionsThisYear(const PupilState& state);
int MovesThisYear(const PupilState& state, v1::MoveType type);

}  // namespace rooted::risk

#endif  // ROOTED_SERVICES_RISK_SCORING_PUPIL_STATE_H_
