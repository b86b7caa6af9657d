#include "services/forum-scheduling/forum_rules.h"

#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/auth/principal.h"
#include "common/base/field_validation.h"
#include "common/base/proto_date.h"
#include "common/base/proto_time.h"
#include "common/base/status_macros.h"

namespace rooted::forum {
namespace cv1 = rooted::common::v1;
namespace {

constexpr int kMaxTerms = 12;
constexpr int kMaxClosureDays = 60;
constexpr int kMaxMembers = 40;
constexpr int kMaxSchools = 500;

absl::StatusOr<absl::CivilDay> DateField(const std::string& path, const cv1::Date& date) {
  absl::StatusOr<absl::CivilDay> day = FromProtoDate(date);
  if (!day.ok()) return FieldError(path, "is not a calendar date");
  return *day;
}

std::string AgencyName(cv1::AgencyType type) {
  std::string name = cv1::AgencyType_Name(type);
  const std::string prefix = "AGENCY_TYPE_";
  if (name.rfind(prefix, 0) == 0) name = name.substr(prefix.size());
  for (char& c : name) c = c == '_' ? ' ' : char(absl::ascii_tolower(static_cast<unsigned char>(c)));
  return name;
}

absl::Weekday ToWeekday(v1::Weekday day) {
  switch (day) {
    case v1::WEEKDAY_MONDAY:
      return absl::Weekday::monday;
    case v1::WEEKDAY_TUESDAY:
      return absl::Weekday::tuesday;
    case v1::WEEKDAY_WEDNESDAY:
      return absl::Weekday::wednesday;
    case v1::WEEKDAY_THURSDAY:
      return absl::Weekday::thursday;
    default:
      return absl::Weekday::friday;
  }
}

absl::Status ValidateCadence(const v1::Cadence& c) {
  if (c.weekday() == v1::WEEKDAY_UNSPECIFIED || !v1::Weekday_IsValid(c.weekday())) {
    return FieldError("forum.cadence.weekday", "must be Monday to Friday");
  }
  if (c.every_weeks() < 1 || c.every_weeks() > 6) {
    return FieldError("forum.cadence.every_weeks", "must be 1 to 6");
  }
  if (c.duration_minutes() < 15 || c.duration_minutes() > 480) {
    return FieldError("forum.cadence.duration_minutes", "must be 15 to 480");
  }
  return CheckMeetingHours("forum.cadence.start_minute", c.start_minute(), c.duration_minutes());
}

absl::Status ValidateTerms(const v1::Forum& forum, absl::Time now) {
  if (forum.terms().empty() || forum.terms_size() > kMaxTerms) {
    return FieldError("forum.terms", absl::StrCat("give 1 to ", kMaxTerms, " terms"));
  }
  const absl::CivilDay today = absl::ToCivilDay(now, absl::UTCTimeZone());
  std::optional<absl::CivilDay> previous_end;
  for (int i = 0; i < forum.terms_size(); ++i) {
    const std::string path = absl::StrCat("forum.terms[", i, "]");
    ASSIGN_OR_RETURN(absl::CivilDay start, DateField(path + ".start", forum.terms(i).start()));
    ASSIGN_OR_RETURN(absl::CivilDay end, DateField(path + ".end", forum.terms(i).end()));
    if (end < start) return FieldError(path + ".end", "is before the term's start");
    if (end - start > 120) return FieldError(path + ".end", "a term is at most 120 days");
    if (start < today - 366 || end > today + 2 * 366) {
      return FieldError(path, "must fall within a year before and two years after today");
    }
    if (previous_end && start <= *previous_end) {
      return FieldError(path + ".start", "terms must be in order and must not overlap");
    }
    previous_end = end;
  }
  if (forum.closure_days_size() > kMaxClosureDays) {
    return FieldError("forum.closure_days", absl::StrCat("at most ", kMaxClosureDays));
  }
  for (int i = 0; i < forum.closure_days_size(); ++i) {
    RETURN_IF_ERROR(
        DateField(absl::StrCat("forum.closure_days[", i, "]"), forum.closure_days(i)).status());
  }
  return absl::OkStatus();
}

absl::Status ValidateMembers(const v1::Forum& forum) {
  if (forum.members().empty() || forum.members_size() > kMaxMembers) {
    return FieldError("forum.members", absl::StrCat("give 1 to ", kMaxMembers, " members"));
  }
  std::set<std::string> seen;
  for (int i = 0; i < forum.members_size(); ++i) {
    const std::string path = absl::StrCat("forum.members[", i, "]");
    const v1::ForumMember& m = forum.members(i);
    const cv1::OrganisationRef& org = m.organisation();
    const bool valid_id =
        (org.type() == cv1::ORGANISATION_TYPE_SCHOOL && IsSchoolUrn(org.id())) ||
        (org.type() == cv1::ORGANISATION_TYPE_COUNCIL && IsLaCode(org.id())) ||
        (org.type() == cv1::ORGANISATION_TYPE_PARTNER && ValidateId("", org.id(), "").ok());
    if (!valid_id) {
      return FieldError(path + ".organisation", "a school URN, council LA code or partner id");
    }
    if (m.agency_type() == cv1::AGENCY_TYPE_UNSPECIFIED || !cv1::AgencyType_IsValid(m.agency_type())) {
      return FieldError(path + ".agency_type", "is required");
    }
    if (!seen.insert(OrganisationName(org.type(), org.id())).second) {
      return FieldError(path + ".organisation", "is listed twice");
    }
  }
  std::set<int> agencies;
  for (const v1::ForumMember& m : forum.members()) agencies.insert(m.agency_type());
  const v1::QuorumRule& q = forum.quorum();
  if (q.minimum_agencies() < 1 || q.minimum_agencies() > int(agencies.size())) {
    return FieldError("forum.quorum.minimum_agencies",
                      absl::StrCat("must be 1 to the ", agencies.size(), " agencies among members"));
  }
  for (int i = 0; i < q.required_agencies_size(); ++i) {
    if (!agencies.contains(q.required_agencies(i))) {
      return FieldError(absl::StrCat("forum.quorum.required_agencies[", i, "]"),
                        "no member is of this agency, so the forum could never be quorate");
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckMeetingHours(absl::string_view path, int start_minute, int duration_minutes) {
  if (start_minute < 7 * 60 || start_minute + duration_minutes > 20 * 60) {
    return FieldError(path, "the meeting must fall between 07:00 and 20:00");
  }
  return absl::OkStatus();
}

absl::Status ValidateForum(const v1::Forum& forum, absl::Time now) {
  if (!IsLaCode(forum.la_code())) return FieldError("forum.la_code", "a 3-digit LA code");
  RETURN_IF_ERROR(ValidateText("forum.locality", forum.locality(), 100, true));
  RETURN_IF_ERROR(ValidateText("forum.name", forum.name(), 200, false));
  RETURN_IF_ERROR(ValidateCadence(forum.cadence()));
  RETURN_IF_ERROR(ValidateTerms(forum, now));
  RETURN_IF_ERROR(ValidateMembers(forum));
  if (forum.case_slots() < 1 || forum.case_slots() > 100) {
    return FieldError("forum.case_slots", "must be 1 to 100");
  }
  if (forum.minutes_per_case() < 5 || forum.minutes_per_case() > 120) {
    return FieldError("forum.minutes_per_case", "must be 5 to 120");
  }
  if (forum.minutes_per_case() > forum.cadence().duration_minutes()) {
    return FieldError("forum.minutes_per_case", "is longer than the meeting");
  }
  RETURN_IF_ERROR(ValidateText("forum.chair_subject", forum.chair_subject(), 128, true));
  RETURN_IF_ERROR(ValidateText("forum.coordinator_subject", forum.coordinator_subject(), 128, true));
  if (forum.priority_within_school_days() < 1 || forum.priority_within_school_days() > 60) {
    return FieldError("forum.priority_within_school_days", "must be 1 to 60");
  }
  if (forum.school_urns_size() > kMaxSchools) {
    return FieldError("forum.school_urns", absl::StrCat("at most ", kMaxSchools));
  }
  std::set<std::string> schools;
  for (int i = 0; i < forum.school_urns_size(); ++i) {
    if (!IsSchoolUrn(forum.school_urns(i)) || !schools.insert(forum.school_urns(i)).second) {
      return FieldError(absl::StrCat("forum.school_urns[", i, "]"), "a 6-digit URN, once");
    }
  }
  return absl::OkStatus();
}

SchoolCalendar CalendarOf(const v1::Forum& forum) {
  std::vector<Term> terms;
  for (const v1::TermDates& t : forum.terms()) {
    absl::StatusOr<absl::CivilDay> first = FromProtoDate(t.start());
    absl::StatusOr<absl::CivilDay> last = FromProtoDate(t.end());
    if (first.ok() && last.ok()) terms.push_back({*first, *last});
  }
  std::vector<absl::CivilDay> closures;
  for (const cv1::Date& d : forum.closure_days()) {
    if (absl::StatusOr<absl::CivilDay> day = FromProtoDate(d); day.ok()) closures.push_back(*day);
  }
  return SchoolCalendar(std::move(terms), std::move(closures));
}

std::string MeetingId(const std::string& forum_id, absl::CivilDay day) {
  return absl::StrFormat("%s-%04d%02d%02d", forum_id, day.year(), day.month(), day.day());
}

std::vector<v1::Meeting> PlanMeetings(const v1::Forum& forum, const SchoolCalendar& calendar,
                                      absl::TimeZone zone) {
  std::vector<v1::Meeting> meetings;
  if (calendar.terms().empty()) return meetings;
  const absl::Weekday weekday = ToWeekday(forum.cadence().weekday());
  // The cadence runs from the first such weekday of the first term, through
  // the holidays, so "fortnightly" stays on the same weeks all year.
  absl::CivilDay day = calendar.terms().front().first;
  while (absl::GetWeekday(day) != weekday) ++day;
  const int step = 7 * forum.cadence().every_weeks();
  for (; day <= calendar.terms().back().last; day += step) {
    if (!calendar.IsSchoolDay(day)) continue;
    v1::Meeting& m = meetings.emplace_back();
    m.set_meeting_id(MeetingId(forum.forum_id(), day));
    m.set_forum_id(forum.forum_id());
    const absl::CivilMinute start(day.year(), day.month(), day.day(),
                                  forum.cadence().start_minute() / 60,
                                  forum.cadence().start_minute() % 60);
    *m.mutable_starts_at() = ToProtoTimestamp(absl::FromCivil(start, zone));
    m.set_duration_minutes(forum.cadence().duration_minutes());
    m.set_status(v1::MEETING_STATUS_SCHEDULED);
  }
  return meetings;
}

int CaseCapacity(const v1::Forum& forum, const v1::Meeting& meeting) {
  if (forum.minutes_per_case() <= 0) return 0;
  return std::min(forum.case_slots(), meeting.duration_minutes() / forum.minutes_per_case());
}

QuorumCheck CheckQuorum(const v1::Forum& forum, const std::vector<v1::ForumMember>& present) {
  std::set<int> agencies;
  for (const v1::ForumMember& m : present) agencies.insert(m.agency_type());
  QuorumCheck check;
  for (int required : forum.quorum().required_agencies()) {
    if (!agencies.contains(required)) {
      check.shortfall = absl::StrCat("no one from ", AgencyName(cv1::AgencyType(required)));
      return check;
    }
  }
  if (int(agencies.size()) < forum.quorum().minimum_agencies()) {
    check.shortfall = absl::StrCat(agencies.size(), " agencies present, ",
                                   forum.quorum().minimum_agencies(), " needed");
    return check;
  }
  check.quorate = true;
  return check;
}

std::vector<ForumSeat> ForumSeats(const v1::Forum& forum) {
  const std::vector<Role> runner_roles = {cv1::ROLE_FORUM_COORDINATOR, cv1::ROLE_COUNCIL_OFFICER,
                                          cv1::ROLE_FORUM_MEMBER};
  const std::vector<Role> staff_roles = {cv1::ROLE_SCHOOL_STAFF,    cv1::ROLE_SCHOOL_LEAD,
                                         cv1::ROLE_COUNCIL_OFFICER, cv1::ROLE_FORUM_COORDINATOR,
                                         cv1::ROLE_FORUM_MEMBER,    cv1::ROLE_PARTNER_WORKER,
                                         cv1::ROLE_PROGRAMME_LEAD};
  std::vector<ForumSeat> seats;
  auto seat = [&](std::string subject, cv1::OrganisationType type, const std::string& id,
                  std::vector<Role> roles, bool runs) {
    seats.push_back({std::move(subject), type, id, std::move(roles), runs});
  };
  if (!forum.coordinator_subject().empty()) {
    seat(forum.coordinator_subject(), cv1::ORGANISATION_TYPE_COUNCIL, forum.la_code(),
         {cv1::ROLE_FORUM_COORDINATOR, cv1::ROLE_COUNCIL_OFFICER}, true);
  }
  if (!forum.chair_subject().empty()) {
    seat(forum.chair_subject(), cv1::ORGANISATION_TYPE_COUNCIL, forum.la_code(), runner_roles,
         true);
    for (const v1::ForumMember& m : forum.members()) {
      seat(forum.chair_subject(), m.organisation().type(), m.organisation().id(), runner_roles,
           true);
    }
  }
  for (const v1::ForumMember& m : forum.members()) {
    seat("", m.organisation().type(), m.organisation().id(), staff_roles, false);
  }
  return seats;
}

RecordOwner ForumOwner(const v1::Forum& forum) {
  RecordOwner owner;
  owner.la_code = forum.la_code();
  owner.seats = ForumSeats(forum);
  return owner;
}

const v1::ForumMember* FindMember(const v1::Forum& forum, cv1::OrganisationType type,
                                  absl::string_view id) {
  for (const v1::ForumMember& m : forum.members()) {
    if (m.organisation().type() == type && m.organisation().id() == id) return &m;
  }
  return nullptr;
}

}  // namespace rooted::forum
