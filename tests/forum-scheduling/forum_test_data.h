#ifndef ROOTED_TESTS_FORUM_SCHEDULING_FORUM_TEST_DATA_H_
#define ROOTED_TESTS_FORUM_SCHEDULING_FORUM_TEST_DATA_H_

#include "common/base/proto_date.h"
#include "rooted/forum/v1/forum.pb.h"

namespace rooted::forum::testing {

namespace cv1 = rooted::common::v1;

inline absl::CivilDay Day(int year, int month, int day) {
  return absl::CivilDay(year, month, day);
}

inline void AddTerm(v1::Forum& forum, absl::CivilDay first, absl::CivilDay last) {
  v1::TermDates* term = forum.add_terms();
  *term->mutable_start() = ToProtoDate(first);
  *term->mutable_end() = ToProtoDate(last);
}

inline void AddMember(v1::Forum& forum, cv1::OrganisationType type, const std::string& id,
                      cv1::AgencyType agency) {
  v1::ForumMember* m = forum.add_members();
  m->mutable_organisation()->set_type(type);
  m->mutable_organisation()->set_id(id);
  m->set_agency_type(agency);
}

// A locality forum of council 801 over the 2026/27 school year, as a council
// publishes it: six half-terms, and a closure (INSET) day on Tue 12 Jan 2027.
// Fortnightly on Tuesdays at 16:00, 90 minutes, 6 slots of 15 minutes.
inline v1::Forum SchoolYearForum() {
  v1::Forum forum;
  forum.set_forum_id("forum-north");
  forum.set_la_code("801");
  forum.set_locality("North locality");
  forum.set_name("North Multi-Agency Forum");
  forum.mutable_cadence()->set_weekday(v1::WEEKDAY_TUESDAY);
  forum.mutable_cadence()->set_every_weeks(2);
  forum.mutable_cadence()->set_start_minute(16 * 60);
  forum.mutable_cadence()->set_duration_minutes(90);
  AddTerm(forum, Day(2026, 9, 2), Day(2026, 10, 23));
  AddTerm(forum, Day(2026, 11, 2), Day(2026, 12, 18));
  AddTerm(forum, Day(2027, 1, 4), Day(2027, 2, 12));
  AddTerm(forum, Day(2027, 2, 22), Day(2027, 3, 25));
  AddTerm(forum, Day(2027, 4, 12), Day(2027, 5, 28));
  AddTerm(forum, Day(2027, 6, 7), Day(2027, 7, 21));
  *forum.add_closure_days() = ToProtoDate(Day(2027, 1, 12));
  AddMember(forum, cv1::ORGANISATION_TYPE_SCHOOL, "100001", cv1::AGENCY_TYPE_EDUCATION);
  AddMember(forum, cv1::ORGANISATION_TYPE_SCHOOL, "100002", cv1::AGENCY_TYPE_EDUCATION);
  AddMember(forum, cv1::ORGANISATION_TYPE_COUNCIL, "801", cv1::AGENCY_TYPE_COUNCIL_INCLUSION);
  AddMember(forum, cv1::ORGANISATION_TYPE_PARTNER, "youth-trust", cv1::AGENCY_TYPE_VOLUNTARY_SECTOR);
  AddMember(forum, cv1::ORGANISATION_TYPE_PARTNER, "nhs-north", cv1::AGENCY_TYPE_HEALTH);
  forum.mutable_quorum()->set_minimum_agencies(3);
  forum.mutable_quorum()->add_required_agencies(cv1::AGENCY_TYPE_EDUCATION);
  forum.mutable_quorum()->add_required_agencies(cv1::AGENCY_TYPE_COUNCIL_INCLUSION);
  forum.set_case_slots(6);
  forum.set_minutes_per_case(15);
  forum.set_chair_subject("chair-1");
  forum.set_coordinator_subject("coordinator-1");
  forum.set_priority_within_school_days(10);
  forum.add_school_urns("100001");
  forum.add_school_urns("100002");
  return forum;
}

}  // namespace rooted::forum::testing

#endif  // ROOTED_TESTS_FORUM_SCHEDULING_FORUM_TEST_DATA_H_
