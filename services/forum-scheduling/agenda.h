#ifndef ROOTED_SERVICES_FORUM_SCHEDULING_AGENDA_H_
#define ROOTED_SERVICES_FORUM_SCHEDULING_AGENDA_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "rooted/forum/v1/forum.pb.h"

namespace rooted::forum {

namespace v1 = rooted::forum::v1;

// Where every open case is expected to be heard, meeting by meeting.
struct AgendaPlan {
  // Indexes into the meetings given, of the meetings planned (scheduled and
  // not yet started), in time order.
  std::vector<size_t> planned_meetings;
  // For each meeting given: its cases (indexes into the cases given) in
  // agenda order. Empty for meetings not planned.
  std::vector<std::vector<size_t>> agendas;
  // For each case: the meeting it is expected at, or -1 when no meeting in
  // the calendar has room for it.
  std::vector<int> expected_meeting;
  // For each case: heard after its hear_by date, or not at all though it has one.
  std::vector<bool> misses_deadline;
};

// Fills the forum's upcoming meetings from its open cases the way a
// coordinator would: at each meeting, of the cases listed before it starts
// and not waiting for a later review date, the high-priority ones first
// (those with a hear-by date, earliest date first), then the longest
// waiting, up to the meeting's capacity. A cancelled meeting simply takes
// no cases, so its cases move to the next meeting with room.
//
// Meetings already started, held or cancelled take no cases. Cases not
// CASE_STATUS_OPEN are ignored. O((cases + meetings) log cases).
AgendaPlan PlanAgendas(const v1::Forum& forum, const std::vector<v1::Meeting>& meetings,
                       const std::vector<v1::ForumCase>& cases, absl::Time now,
                       absl::TimeZone zone);

// True when `c` is eligible for a meeting starting at `starts_at`: listed
// before it, and its review date (if any) is not after the meeting's day.
bool EligibleFor(const v1::ForumCase& c, absl::Time starts_at, absl::TimeZone zone);

// Why a case eligible for `meeting` was not fitted onto it, in words.
std::string NotFittedReason(const AgendaPlan& plan, const std::vector<v1::Meeting>& meetings,
                            size_t case_index, int capacity, absl::TimeZone zone);

}  // namespace rooted::forum

#endif  // ROOTED_SERVICES_FORUM_SCHEDULING_AGENDA_H_
