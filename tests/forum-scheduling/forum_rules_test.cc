// The forum's pure rules, against hand-worked examples: England's bank
// holidays, the school calendar, meetings from a cadence over a real school
// year, quorum, forum validation, agenda planning and the iCalendar export.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/base/proto_time.h"
#include "services/forum-scheduling/agenda.h"
#include "services/forum-scheduling/forum_rules.h"
#include "services/forum-scheduling/icalendar.h"
#include "services/forum-scheduling/school_calendar.h"
#include "tests/forum-scheduling/forum_test_data.h"

namespace rooted::forum {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::Day;
using testing::SchoolYearForum;
namespace cv1 = rooted::common::v1;

absl::TimeZone London() {
  absl::TimeZone zone;
  EXPECT_TRUE(absl::LoadTimeZone("Europe/London", &zone));
  return zone;
}

std::vector<absl::CivilDay> Days(const std::vector<Holiday>& holidays) {
  std::vector<absl::CivilDay> days;
  for (const Holiday& h : holidays) days.push_back(h.day);
  return days;
}

TEST(BankHolidaysTest, MatchThePublishedDatesIncludingSubstituteDays) {
  EXPECT_THAT(Days(EnglandBankHolidays(2026)),
              ElementsAre(absl::CivilDay(2026, 1, 1), absl::CivilDay(2026, 4, 3),
                          absl::CivilDay(2026, 4, 6), absl::CivilDay(2026, 5, 4),
                          absl::CivilDay(2026, 5, 25), absl::CivilDay(2026, 8, 31),
                          absl::CivilDay(2026, 12, 25),
                          // Boxing Day is a Saturday: Monday 28th instead.
                          absl::CivilDay(2026, 12, 28)));
  // Christmas on a Saturday and Boxing Day on a Sunday: Monday and Tuesday.
  EXPECT_THAT(Days(EnglandBankHolidays(2027)),
              ElementsAre(absl::CivilDay(2027, 1, 1), absl::CivilDay(2027, 3, 26),
                          absl::CivilDay(2027, 3, 29), absl::CivilDay(2027, 5, 3),
                          absl::CivilDay(2027, 5, 31), absl::CivilDay(2027, 8, 30),
                          absl::CivilDay(2027, 12, 27), absl::CivilDay(2027, 12, 28)));
  // New Year's Day on a Saturday: Monday 3rd.
  EXPECT_EQ(EnglandBankHolidays(2022).front().day, absl::CivilDay(2022, 1, 3));
}

TEST(SchoolCalendarTest, KnowsWhySchoolIsShut) {
  const SchoolCalendar calendar = CalendarOf(SchoolYearForum());
  EXPECT_TRUE(calendar.IsSchoolDay(Day(2026, 9, 8)));
  EXPECT_EQ(calendar.WhyClosed(Day(2026, 9, 12)), "a Saturday");
  EXPECT_EQ(calendar.WhyClosed(Day(2026, 10, 27)), "outside term time");  // half-term
  EXPECT_EQ(calendar.WhyClosed(Day(2027, 1, 12)), "a closure day");
  EXPECT_EQ(calendar.WhyClosed(Day(2027, 5, 3)), "Early May bank holiday (bank holiday)");
}

TEST(SchoolCalendarTest, CountsSchoolDaysAcrossHalfTermAndBankHolidays) {
  const SchoolCalendar calendar = CalendarOf(SchoolYearForum());
  // Friday before half-term, plus one school day: the Monday after it.
  EXPECT_EQ(calendar.AddSchoolDays(Day(2026, 10, 23), 1), absl::CivilDay(2026, 11, 2));
  // Friday 30 April 2027 + 2: Monday 3 May is a bank holiday.
  EXPECT_EQ(calendar.AddSchoolDays(Day(2027, 4, 30), 2), absl::CivilDay(2027, 5, 5));
  // Ten school days from Monday 11 Jan 2027 skip the closure day on the 12th.
  EXPECT_EQ(calendar.AddSchoolDays(Day(2027, 1, 11), 10), absl::CivilDay(2027, 1, 26));
  EXPECT_EQ(calendar.AddSchoolDays(Day(2027, 7, 20), 5), std::nullopt);
}

TEST(PlanMeetingsTest, FortnightlyTuesdaysSkipHolidaysAndClosureDays) {
  const v1::Forum forum = SchoolYearForum();
  const std::vector<v1::Meeting> meetings = PlanMeetings(forum, CalendarOf(forum), London());
  std::vector<absl::CivilDay> days;
  for (const v1::Meeting& m : meetings) {
    days.push_back(absl::ToCivilDay(FromProtoTimestamp(m.starts_at()), London()));
  }
  // Not 29 Dec (Christmas holidays), 12 Jan (closure day), 6 Apr (Easter
  // holidays) or 1 Jun (half-term).
  EXPECT_THAT(days, ElementsAre(absl::CivilDay(2026, 9, 8), absl::CivilDay(2026, 9, 22),
                                absl::CivilDay(2026, 10, 6), absl::CivilDay(2026, 10, 20),
                                absl::CivilDay(2026, 11, 3), absl::CivilDay(2026, 11, 17),
                                absl::CivilDay(2026, 12, 1), absl::CivilDay(2026, 12, 15),
                                absl::CivilDay(2027, 1, 26), absl::CivilDay(2027, 2, 9),
                                absl::CivilDay(2027, 2, 23), absl::CivilDay(2027, 3, 9),
                                absl::CivilDay(2027, 3, 23), absl::CivilDay(2027, 4, 20),
                                absl::CivilDay(2027, 5, 4), absl::CivilDay(2027, 5, 18),
                                absl::CivilDay(2027, 6, 15), absl::CivilDay(2027, 6, 29),
                                absl::CivilDay(2027, 7, 13)));
  // 16:00 London: 15:00 UTC in summer time, 16:00 UTC in winter.
  EXPECT_EQ(absl::FormatTime("%H:%M", FromProtoTimestamp(meetings[0].starts_at()),
                             absl::UTCTimeZone()),
            "15:00");
  EXPECT_EQ(absl::FormatTime("%H:%M", FromProtoTimestamp(meetings[8].starts_at()),
                             absl::UTCTimeZone()),
            "16:00");
  EXPECT_EQ(meetings[0].meeting_id(), "forum-north-20260908");
  EXPECT_EQ(meetings[0].status(), v1::MEETING_STATUS_SCHEDULED);
}

TEST(PlanMeetingsTest, WeeklyMondaysSkipTheEarlyMayBankHoliday) {
  v1::Forum forum = SchoolYearForum();
  forum.mutable_cadence()->set_weekday(v1::WEEKDAY_MONDAY);
  forum.mutable_cadence()->set_every_weeks(1);
  const std::vector<v1::Meeting> meetings = PlanMeetings(forum, CalendarOf(forum), London());
  std::vector<std::string> ids;
  for (const v1::Meeting& m : meetings) ids.push_back(m.meeting_id());
  EXPECT_THAT(ids, ::testing::Contains("forum-north-20270426"));
  EXPECT_THAT(ids, ::testing::Not(::testing::Contains("forum-north-20270503")));
  EXPECT_THAT(ids, ::testing::Contains("forum-north-20270510"));
}

std::vector<v1::ForumMember> Present(std::initializer_list<cv1::AgencyType> agencies) {
  std::vector<v1::ForumMember> present;
  for (cv1::AgencyType a : agencies) present.emplace_back().set_agency_type(a);
  return present;
}

TEST(QuorumTest, NeedsTheRequiredAgenciesAndEnoughOfThem) {
  const v1::Forum forum = SchoolYearForum();  // 3 agencies incl. education and council
  EXPECT_TRUE(CheckQuorum(forum, Present({cv1::AGENCY_TYPE_EDUCATION,
                                          cv1::AGENCY_TYPE_COUNCIL_INCLUSION,
                                          cv1::AGENCY_TYPE_HEALTH}))
                  .quorate);
  const QuorumCheck two = CheckQuorum(
      forum, Present({cv1::AGENCY_TYPE_EDUCATION, cv1::AGENCY_TYPE_COUNCIL_INCLUSION,
                      cv1::AGENCY_TYPE_EDUCATION}));
  EXPECT_FALSE(two.quorate);
  EXPECT_EQ(two.shortfall, "2 agencies present, 3 needed");
  const QuorumCheck no_council = CheckQuorum(
      forum, Present({cv1::AGENCY_TYPE_EDUCATION, cv1::AGENCY_TYPE_HEALTH,
                      cv1::AGENCY_TYPE_VOLUNTARY_SECTOR}));
  EXPECT_FALSE(no_council.quorate);
  EXPECT_EQ(no_council.shortfall, "no one from council inclusion");
}

TEST(ValidateForumTest, NamesTheFieldAtFault) {
  const absl::Time now = absl::FromCivil(absl::CivilDay(2026, 8, 1), absl::UTCTimeZone());
  ASSERT_TRUE(ValidateForum(SchoolYearForum(), now).ok());
  struct Case {
    std::string field;
    std::function<void(v1::Forum&)> spoil;
  };
  const std::vector<Case> cases = {
      {"forum.la_code", [](v1::Forum& f) { f.set_la_code("80"); }},
      {"forum.locality", [](v1::Forum& f) { f.clear_locality(); }},
      {"forum.cadence.weekday", [](v1::Forum& f) { f.mutable_cadence()->clear_weekday(); }},
      {"forum.cadence.every_weeks", [](v1::Forum& f) { f.mutable_cadence()->set_every_weeks(0); }},
      {"forum.cadence.start_minute", [](v1::Forum& f) { f.mutable_cadence()->set_start_minute(23 * 60); }},
      {"forum.terms[1].end", [](v1::Forum& f) { f.mutable_terms(1)->mutable_end()->set_year(2025); }},
      {"forum.terms[2].start", [](v1::Forum& f) { *f.mutable_terms(2)->mutable_start() = ToProtoDate(Day(2026, 12, 1)); }},
      {"forum.terms[0].start", [](v1::Forum& f) { f.mutable_terms(0)->mutable_start()->set_month(13); }},
      {"forum.closure_days[0]", [](v1::Forum& f) { f.mutable_closure_days(0)->set_day(32); }},
      {"forum.members[1].organisation", [](v1::Forum& f) { f.mutable_members(1)->mutable_organisation()->set_id("12"); }},
      {"forum.members[1].organisation", [](v1::Forum& f) { f.mutable_members(1)->mutable_organisation()->set_id("100001"); }},
      {"forum.members[2].agency_type", [](v1::Forum& f) { f.mutable_members(2)->clear_agency_type(); }},
      {"forum.quorum.minimum_agencies", [](v1::Forum& f) { f.mutable_quorum()->set_minimum_agencies(9); }},
      {"forum.quorum.required_agencies[1]", [](v1::Forum& f) { f.mutable_quorum()->set_required_agencies(1, cv1::AGENCY_TYPE_POLICE); }},
      {"forum.case_slots", [](v1::Forum& f) { f.set_case_slots(0); }},
      {"forum.minutes_per_case", [](v1::Forum& f) { f.set_minutes_per_case(121); }},
      {"forum.chair_subject", [](v1::Forum& f) { f.clear_chair_subject(); }},
      {"forum.priority_within_school_days", [](v1::Forum& f) { f.set_priority_within_school_days(0); }},
      {"forum.school_urns[1]", [](v1::Forum& f) { f.set_school_urns(1, "100001"); }},
  };
  for (const Case& c : cases) {
    v1::Forum forum = SchoolYearForum();
    c.spoil(forum);
    const absl::Status status = ValidateForum(forum, now);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.field;
    EXPECT_THAT(std::string(status.message()), ::testing::StartsWith(c.field + ":")) << status;
  }
}

// ---- agenda planning ----------------------------------------------------

class AgendaTest : public ::testing::Test {
 protected:
  AgendaTest() : forum_(SchoolYearForum()), zone_(London()) {
    forum_.set_case_slots(3);
    meetings_ = PlanMeetings(forum_, CalendarOf(forum_), zone_);
  }

  absl::Time At(absl::CivilDay day, int hour = 9) {
    return absl::FromCivil(absl::CivilHour(day.year(), day.month(), day.day(), hour), zone_);
  }

  v1::ForumCase& Add(const std::string& id, absl::CivilDay listed,
                     std::optional<absl::CivilDay> hear_by = std::nullopt) {
    v1::ForumCase& c = cases_.emplace_back();
    c.set_case_id(id);
    c.set_status(v1::CASE_STATUS_OPEN);
    *c.mutable_listed_at() = ToProtoTimestamp(At(listed));
    if (hear_by) *c.mutable_hear_by() = ToProtoDate(*hear_by);
    return c;
  }

  std::vector<std::string> AgendaOf(const AgendaPlan& plan, size_t meeting) {
    std::vector<std::string> ids;
    for (size_t c : plan.agendas[meeting]) ids.push_back(cases_[c].case_id());
    return ids;
  }

  v1::Forum forum_;
  absl::TimeZone zone_;
  std::vector<v1::Meeting> meetings_;
  std::vector<v1::ForumCase> cases_;
};

TEST_F(AgendaTest, PriorityFirstThenLongestWaitingWithinCapacity) {
  Add("routine-old", Day(2026, 9, 1));
  Add("routine-mid", Day(2026, 9, 2));
  Add("routine-new", Day(2026, 9, 3));
  Add("urgent-late", Day(2026, 9, 4), absl::CivilDay(2026, 9, 30));
  Add("urgent-soon", Day(2026, 9, 5), absl::CivilDay(2026, 9, 9));
  const AgendaPlan plan = PlanAgendas(forum_, meetings_, cases_, At(Day(2026, 9, 7)), zone_);
  // 3 slots on 8 Sep: both urgent cases, earliest deadline first, then the
  // longest waiting; the other two go to 22 Sep.
  EXPECT_THAT(AgendaOf(plan, 0), ElementsAre("urgent-soon", "urgent-late", "routine-old"));
  EXPECT_THAT(AgendaOf(plan, 1), ElementsAre("routine-mid", "routine-new"));
  EXPECT_FALSE(plan.misses_deadline[4]);
}

TEST_F(AgendaTest, CapacityIsTheSmallerOfSlotsAndMinutes) {
  forum_.set_case_slots(10);
  forum_.set_minutes_per_case(40);  // 90 minutes: two cases
  EXPECT_EQ(CaseCapacity(forum_, meetings_[0]), 2);
}

TEST_F(AgendaTest, CasesListedAfterAMeetingStartsWaitForTheNext) {
  Add("listed-during", Day(2026, 9, 8)).mutable_listed_at()->set_seconds(
      absl::ToUnixSeconds(At(Day(2026, 9, 8), 17)));
  const AgendaPlan plan = PlanAgendas(forum_, meetings_, cases_, At(Day(2026, 9, 7)), zone_);
  EXPECT_TRUE(plan.agendas[0].empty());
  EXPECT_THAT(AgendaOf(plan, 1), ElementsAre("listed-during"));
}

TEST_F(AgendaTest, ACancelledMeetingsCasesMoveToTheNextWithRoom) {
  for (int i = 0; i < 5; ++i) Add("case-" + std::to_string(i), Day(2026, 9, 1 + i));
  meetings_[0].set_status(v1::MEETING_STATUS_CANCELLED);
  const AgendaPlan plan = PlanAgendas(forum_, meetings_, cases_, At(Day(2026, 9, 7)), zone_);
  EXPECT_TRUE(plan.agendas[0].empty());
  EXPECT_THAT(AgendaOf(plan, 1), ElementsAre("case-0", "case-1", "case-2"));
  EXPECT_THAT(AgendaOf(plan, 2), ElementsAre("case-3", "case-4"));
  EXPECT_EQ(plan.expected_meeting[4], 2);
}

TEST_F(AgendaTest, AReviewWaitsForItsDate) {
  Add("review", Day(2026, 9, 1)).mutable_hear_from()->CopyFrom(ToProtoDate(Day(2026, 10, 1)));
  const AgendaPlan plan = PlanAgendas(forum_, meetings_, cases_, At(Day(2026, 9, 7)), zone_);
  EXPECT_EQ(plan.expected_meeting[0], 2);  // 6 Oct, the first meeting after 1 Oct
}

TEST_F(AgendaTest, DeadlinesThatCannotBeMetAreReported) {
  // Four urgent cases due by 8 Sep, three places: the latest listed misses.
  for (int i = 0; i < 4; ++i) Add("urgent-" + std::to_string(i), Day(2026, 9, 1 + i), absl::CivilDay(2026, 9, 8));
  const AgendaPlan plan = PlanAgendas(forum_, meetings_, cases_, At(Day(2026, 9, 7)), zone_);
  EXPECT_EQ(plan.expected_meeting[3], 1);
  EXPECT_TRUE(plan.misses_deadline[3]);
  EXPECT_FALSE(plan.misses_deadline[0]);
  EXPECT_THAT(NotFittedReason(plan, meetings_, 3, 3, zone_),
              HasSubstr("expected at the meeting on Tuesday 22 September 2026; this misses its hear-by date"));
}

TEST_F(AgendaTest, PastAndHeldMeetingsTakeNoCases) {
  Add("case", Day(2026, 9, 1));
  meetings_[1].set_status(v1::MEETING_STATUS_HELD);
  const AgendaPlan plan = PlanAgendas(forum_, meetings_, cases_, At(Day(2026, 9, 9)), zone_);
  EXPECT_TRUE(plan.agendas[0].empty());  // 8 Sep is past
  EXPECT_TRUE(plan.agendas[1].empty());  // 22 Sep is held
  EXPECT_EQ(plan.expected_meeting[0], 2);
}

TEST_F(AgendaTest, NoRoomAnywhereIsSaidPlainly) {
  forum_.clear_terms();
  testing::AddTerm(forum_, Day(2026, 9, 2), Day(2026, 9, 11));  // one meeting
  meetings_ = PlanMeetings(forum_, CalendarOf(forum_), zone_);
  for (int i = 0; i < 4; ++i) Add("case-" + std::to_string(i), Day(2026, 9, 1));
  const AgendaPlan plan = PlanAgendas(forum_, meetings_, cases_, At(Day(2026, 9, 7)), zone_);
  ASSERT_EQ(meetings_.size(), 1u);
  EXPECT_EQ(plan.expected_meeting[3], -1);
  EXPECT_THAT(NotFittedReason(plan, meetings_, 3, 3, zone_),
              HasSubstr("no later meeting in the forum's calendar has room"));
}

// ---- iCalendar ----------------------------------------------------------

TEST(ICalendarTest, OneEventPerMeetingInUtcWithCrlfAndFolding) {
  v1::Forum forum = SchoolYearForum();
  forum.set_name("North forum; schools, health\\council");
  std::vector<v1::Meeting> meetings = PlanMeetings(forum, CalendarOf(forum), London());
  meetings.resize(2);
  meetings[1].set_status(v1::MEETING_STATUS_CANCELLED);
  meetings[1].set_sequence(1);
  const std::string ics = ExportICalendar(
      forum, meetings, absl::FromCivil(absl::CivilSecond(2026, 9, 1, 12, 0, 0), absl::UTCTimeZone()));
  EXPECT_THAT(ics, ::testing::StartsWith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"));
  EXPECT_THAT(ics, HasSubstr("UID:forum-north-20260908@rooted\r\n"));
  EXPECT_THAT(ics, HasSubstr("DTSTART:20260908T150000Z\r\nDTEND:20260908T163000Z\r\n"));
  EXPECT_THAT(ics, HasSubstr("DTSTAMP:20260901T120000Z\r\n"));
  EXPECT_THAT(ics, HasSubstr("SUMMARY:North forum\\; schools\\, health\\\\council\r\n"));
  EXPECT_THAT(ics, HasSubstr("SEQUENCE:1\r\nSUMMARY"));
  EXPECT_THAT(ics, HasSubstr("STATUS:CANCELLED\r\n"));
  EXPECT_THAT(ics, ::testing::EndsWith("END:VCALENDAR\r\n"));
  // Every line at most 75 octets; longer ones folded with a leading space.
  forum.set_name(std::string(200, 'x'));
  const std::string folded = ExportICalendar(forum, meetings, absl::UnixEpoch());
  size_t start = 0;
  for (size_t end; (end = folded.find("\r\n", start)) != std::string::npos; start = end + 2) {
    EXPECT_LE(end - start, 75u);
  }
  EXPECT_THAT(folded, HasSubstr("\r\n x"));
}

}  // namespace
}  // namespace rooted::forum
