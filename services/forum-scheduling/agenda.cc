#include "services/forum-scheduling/agenda.h"

#include <algorithm>
#include <queue>

#include "absl/strings/str_cat.h"
#include "common/base/proto_date.h"
#include "common/base/proto_time.h"
#include "services/forum-scheduling/forum_rules.h"

namespace rooted::forum {
namespace {

// hear_by as a day number for ordering; cases without one sort last.
int64_t HearByKey(const v1::ForumCase& c) {
  if (!c.has_hear_by()) return INT64_MAX;
  absl::StatusOr<absl::CivilDay> day = FromProtoDate(c.hear_by());
  return day.ok() ? int64_t(*day - absl::CivilDay(1970, 1, 1)) : INT64_MAX;
}

absl::CivilDay LocalDay(absl::Time t, absl::TimeZone zone) { return absl::ToCivilDay(t, zone); }

// When a case first becomes eligible: just after listing, or the start of
// its review day, whichever is later.
absl::Time EligibleFrom(const v1::ForumCase& c, absl::TimeZone zone) {
  absl::Time from = FromProtoTimestamp(c.listed_at()) + absl::Nanoseconds(1);
  if (c.has_hear_from()) {
    if (absl::StatusOr<absl::CivilDay> day = FromProtoDate(c.hear_from()); day.ok()) {
      from = std::max(from, absl::FromCivil(*day, zone));
    }
  }
  return from;
}

std::string DayText(absl::Time t, absl::TimeZone zone) {
  return absl::FormatTime("%A %e %B %Y", t, zone);
}

}  // namespace

bool EligibleFor(const v1::ForumCase& c, absl::Time starts_at, absl::TimeZone zone) {
  return EligibleFrom(c, zone) <= starts_at;
}

AgendaPlan PlanAgendas(const v1::Forum& forum, const std::vector<v1::Meeting>& meetings,
                       const std::vector<v1::ForumCase>& cases, absl::Time now,
                       absl::TimeZone zone) {
  AgendaPlan plan;
  plan.agendas.resize(meetings.size());
  plan.expected_meeting.assign(cases.size(), -1);
  plan.misses_deadline.assign(cases.size(), false);

  for (size_t i = 0; i < meetings.size(); ++i) {
    if (meetings[i].status() == v1::MEETING_STATUS_SCHEDULED &&
        FromProtoTimestamp(meetings[i].starts_at()) >= now) {
      plan.planned_meetings.push_back(i);
    }
  }
  std::sort(plan.planned_meetings.begin(), plan.planned_meetings.end(), [&](size_t a, size_t b) {
    return FromProtoTimestamp(meetings[a].starts_at()) < FromProtoTimestamp(meetings[b].starts_at());
  });

  // Open cases by the time they become eligible.
  struct Pending {
    absl::Time eligible_from;
    size_t index;
  };
  std::vector<Pending> pending;
  std::vector<int64_t> hear_by(cases.size());
  std::vector<absl::Time> listed(cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    if (cases[i].status() != v1::CASE_STATUS_OPEN) continue;
    pending.push_back({EligibleFrom(cases[i], zone), i});
    hear_by[i] = HearByKey(cases[i]);
    listed[i] = FromProtoTimestamp(cases[i].listed_at());
  }
  std::sort(pending.begin(), pending.end(),
            [](const Pending& a, const Pending& b) { return a.eligible_from < b.eligible_from; });

  // The heap's top is the case to hear next.
  auto after = [&](size_t a, size_t b) {
    if (hear_by[a] != hear_by[b]) return hear_by[a] > hear_by[b];
    if (listed[a] != listed[b]) return listed[a] > listed[b];
    return cases[a].case_id() > cases[b].case_id();
  };
  std::priority_queue<size_t, std::vector<size_t>, decltype(after)> waiting(after);
  size_t next_pending = 0;
  for (size_t m : plan.planned_meetings) {
    const absl::Time starts = FromProtoTimestamp(meetings[m].starts_at());
    while (next_pending < pending.size() && pending[next_pending].eligible_from <= starts) {
      waiting.push(pending[next_pending++].index);
    }
    const int capacity = CaseCapacity(forum, meetings[m]);
    const int64_t meeting_day = int64_t(LocalDay(starts, zone) - absl::CivilDay(1970, 1, 1));
    for (int slot = 0; slot < capacity && !waiting.empty(); ++slot) {
      const size_t c = waiting.top();
      waiting.pop();
      plan.agendas[m].push_back(c);
      plan.expected_meeting[c] = int(m);
      plan.misses_deadline[c] = hear_by[c] < meeting_day;
    }
  }
  for (size_t i = 0; i < cases.size(); ++i) {
    if (plan.expected_meeting[i] < 0 && hear_by[i] != INT64_MAX &&
        cases[i].status() == v1::CASE_STATUS_OPEN) {
      plan.misses_deadline[i] = true;
    }
  }
  return plan;
}

std::string NotFittedReason(const AgendaPlan& plan, const std::vector<v1::Meeting>& meetings,
                            size_t case_index, int capacity, absl::TimeZone zone) {
  std::string reason = absl::StrCat("all ", capacity,
                                    " places went to cases of higher priority or longer waiting");
  const int expected = plan.expected_meeting[case_index];
  if (expected >= 0) {
    absl::StrAppend(&reason, "; expected at the meeting on ",
                    DayText(FromProtoTimestamp(meetings[size_t(expected)].starts_at()), zone));
  } else {
    absl::StrAppend(&reason, "; no later meeting in the forum's calendar has room");
  }
  if (plan.misses_deadline[case_index]) absl::StrAppend(&reason, "; this misses its hear-by date");
  return reason;
}

}  // namespace rooted::forum
