#ifndef ROOTED_SERVICES_FORUM_SCHEDULING_FORUM_RULES_H_
#define ROOTED_SERVICES_FORUM_SCHEDULING_FORUM_RULES_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/server/access_policy.h"
#include "rooted/forum/v1/forum.pb.h"
#include "services/forum-scheduling/school_calendar.h"

namespace rooted::forum {

namespace v1 = rooted::forum::v1;

// INVALID_ARGUMENT naming the field ("forum.cadence.every_weeks: ...") for
// anything a forum cannot run with. Terms must be real, ordered, and within a
// few years of `now`.
absl::Status ValidateForum(const v1::Forum& forum, absl::Time now);

// A meeting starting `start_minute` after local midnight and lasting
// `duration_minutes` falls between 07:00 and 20:00: else INVALID_ARGUMENT
// naming `path`. The cadence and every moved meeting keep to it.
absl::Status CheckMeetingHours(absl::string_view path, int start_minute, int duration_minutes);

// The forum's school calendar: its terms and closure days, plus England's
// bank holidays.
SchoolCalendar CalendarOf(const v1::Forum& forum);

// "<forum id>-<yyyymmdd>": a meeting keeps its id when moved.
std::string MeetingId(const std::string& forum_id, absl::CivilDay day);

// Every meeting the cadence gives over the forum's terms, on school days only
// (a cadence day in a holiday or on a closure day has no meeting), at the
// cadence's local time in `zone` (Europe/London).
std::vector<v1::Meeting> PlanMeetings(const v1::Forum& forum, const SchoolCalendar& calendar,
                                      absl::TimeZone zone);

// How many cases one meeting can hear: the case slots, or fewer if the
// meeting is too short to give each its minutes.
int CaseCapacity(const v1::Forum& forum, const v1::Meeting& meeting);

struct QuorumCheck {
  bool quorate = false;
  // Why not, in words ("2 agencies present, 3 needed"; "no one from health").
  std::string shortfall;
};

// `present` must already be members of the forum.
QuorumCheck CheckQuorum(const v1::Forum& forum, const std::vector<v1::ForumMember>& present);

// The member entry for an organisation, or nullptr.
// The forum's seats, from its own membership records: the coordinator's
// (their subject, at the forum's council), the chair's (their subject, at the
// council or a member organisation), and each member organisation's, which
// any of its staff holds. Access rules and handlers decide from these, never
// from a token's subject alone.
std::vector<ForumSeat> ForumSeats(const v1::Forum& forum);
// The forum as the owner of its records: its council and its seats.
RecordOwner ForumOwner(const v1::Forum& forum);

const v1::ForumMember* FindMember(const v1::Forum& forum,
                                  rooted::common::v1::OrganisationType type,
                                  absl::string_view id);

}  // namespace rooted::forum

#endif  // ROOTED_SERVICES_FORUM_SCHEDULING_FORUM_RULES_H_
