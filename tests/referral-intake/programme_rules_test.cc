// Screening a referral against a programme's criteria, rule by rule: each
// in-scope criterion and out-of-scope rule with a case it accepts, declines
// and redirects; missing evidence sent for review; bad criteria named.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/base/proto_date.h"
#include "services/referral-intake/programme_rules.h"
#include "tests/referral-intake/referral_fixtures.h"

namespace rooted::referral {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
namespace kv1 = rooted::risk::v1;
namespace cv1 = rooted::common::v1;

// Ten weeks from Monday 7 Sept 2026, 10 sessions a week, `present` each.
kv1::AttendanceEvidence Weeks(const std::vector<int>& present, bool looked_after = false) {
  kv1::AttendanceEvidence e;
  e.set_known(true);
  e.set_looked_after(looked_after);
  absl::CivilDay monday(2026, 9, 7);
  for (int p : present) {
    kv1::WeekAttendance* w = e.add_weeks();
    *w->mutable_week_start() = ToProtoDate(monday);
    w->set_possible_sessions(10);
    w->set_present_sessions(p);
    monday += 7;
  }
  *e.mutable_as_of() = ToProtoDate(monday - 3);
  return e;
}

v1::ScopeRule AttendanceBelow70Before(absl::CivilDay before) {
  v1::ScopeRule r;
  r.set_rule_id("attendance-below-70");
  r.set_description("attendance below 70% before the half-term");
  r.mutable_attendance_below()->set_threshold_bp(7000);
  *r.mutable_attendance_below()->mutable_before() = ToProtoDate(before);
  return r;
}

v1::ScopeRule LittleContact(int max_present, int weeks) {
  v1::ScopeRule r;
  r.set_rule_id("little-contact");
  r.set_description("little or no meaningful contact with school");
  r.mutable_little_contact()->set_max_present_sessions(max_present);
  r.mutable_little_contact()->set_last_weeks(weeks);
  return r;
}

// The attendance recovery project of the issue: attendance below 70% before
// half-term and little contact lately; not for looked-after children (the
// virtual school's) nor those with an early-help worker already.
v1::Programme AttendanceRecovery() {
  v1::Programme p;
  p.set_programme_id("attendance-recovery");
  p.set_name("Attendance recovery project");
  p.set_version(3);
  *p.add_in_scope() = AttendanceBelow70Before(absl::CivilDay(2026, 10, 26));
  *p.add_in_scope() = LittleContact(4, 2);
  v1::ScopeRule* looked_after = p.add_out_of_scope();
  looked_after->set_rule_id("looked-after");
  looked_after->set_description("looked-after children");
  looked_after->set_looked_after(true);
  looked_after->set_redirect_pathway("virtual-school");
  v1::ScopeRule* early_help = p.add_out_of_scope();
  early_help->set_rule_id("early-help-allocated");
  early_help->set_description("already allocated an early-help worker");
  early_help->mutable_agency_involved()->set_agency_type(cv1::AGENCY_TYPE_EARLY_HELP);
  return p;
}

v1::ReferralDetails NoAgencies() {
  v1::ReferralDetails d = testing::GoodDetails("100001");
  d.clear_other_agencies();
  return d;
}

TEST(ProgrammeRulesTest, AcceptsAChildEveryInScopeCriterionHoldsFor) {
  // 6/10 for seven weeks (60%), then 2 and 1 of 10.
  const v1::Screening s = Screen(AttendanceRecovery(), NoAgencies(), Weeks({6, 6, 6, 6, 6, 6, 6, 2, 1, 2}));
  EXPECT_EQ(s.outcome(), v1::SCREENING_OUTCOME_ACCEPTED) << s.reason();
  EXPECT_EQ(s.programme_version(), 3);
  EXPECT_THAT(s.reason(), HasSubstr("below 70.0%"));
  EXPECT_THAT(s.reason(), HasSubstr("3 of 20 sessions present"));
}

TEST(ProgrammeRulesTest, DeclinesNamingTheInScopeCriterionThatFailed) {
  // 80% before half-term: not below 70%.
  v1::Screening s = Screen(AttendanceRecovery(), NoAgencies(), Weeks({8, 8, 8, 8, 8, 8, 8, 0, 0, 0}));
  EXPECT_EQ(s.outcome(), v1::SCREENING_OUTCOME_DECLINED);
  EXPECT_EQ(s.rule_id(), "attendance-below-70");
  EXPECT_THAT(s.reason(), HasSubstr("attendance 80.0% in the 7 weeks to the week of 2026-10-19, not below 70.0%"));
  // Low attendance, but back in school lately: 9 sessions in the last two weeks.
  s = Screen(AttendanceRecovery(), NoAgencies(), Weeks({5, 5, 5, 5, 5, 5, 5, 5, 4, 5}));
  EXPECT_EQ(s.outcome(), v1::SCREENING_OUTCOME_DECLINED);
  EXPECT_EQ(s.rule_id(), "little-contact");
  EXPECT_THAT(s.reason(), HasSubstr("9 of 20 sessions present"));
}

TEST(ProgrammeRulesTest, OutOfScopeRulesRedirectOrDecline) {
  const kv1::AttendanceEvidence low = Weeks({3, 3, 3, 3, 3, 3, 3, 0, 0, 0});
  v1::Screening s = Screen(AttendanceRecovery(), NoAgencies(), Weeks({3, 3, 3, 3, 3, 3, 3, 0, 0, 0}, true));
  EXPECT_EQ(s.outcome(), v1::SCREENING_OUTCOME_REDIRECTED);
  EXPECT_EQ(s.rule_id(), "looked-after");
  EXPECT_EQ(s.pathway(), "virtual-school");
  EXPECT_THAT(s.reason(), HasSubstr("redirected to virtual-school"));

  v1::ReferralDetails with_early_help = NoAgencies();
  with_early_help.add_other_agencies()->set_agency_type(cv1::AGENCY_TYPE_EARLY_HELP);
  s = Screen(AttendanceRecovery(), with_early_help, low);
  EXPECT_EQ(s.outcome(), v1::SCREENING_OUTCOME_DECLINED);
  EXPECT_EQ(s.rule_id(), "early-help-allocated");
  EXPECT_TRUE(s.pathway().empty());
  // The same child without the worker is in scope.
  EXPECT_EQ(Screen(AttendanceRecovery(), NoAgencies(), low).outcome(), v1::SCREENING_OUTCOME_ACCEPTED);
}

TEST(ProgrammeRulesTest, YearGroupsAndConcernsAreRulesToo) {
  v1::Programme p;
  p.set_programme_id("ks3-inclusion");
  p.set_name("Key stage 3 inclusion");
  v1::ScopeRule* years = p.add_in_scope();
  years->set_rule_id("key-stage-3");
  years->set_description("years 7 to 9");
  years->mutable_year_groups()->set_minimum(7);
  years->mutable_year_groups()->set_maximum(9);
  v1::ScopeRule* concern = p.add_out_of_scope();
  concern->set_rule_id("exploitation");
  concern->set_description("exploitation concerns");
  concern->mutable_concern_named()->set_category(v1::CONCERN_CATEGORY_EXPLOITATION);
  concern->set_redirect_pathway("safe-routes");
  v1::ReferralDetails d = NoAgencies();  // year 8
  EXPECT_EQ(Screen(p, d, {}).outcome(), v1::SCREENING_OUTCOME_ACCEPTED);
  d.mutable_child()->set_year_group(11);
  EXPECT_EQ(Screen(p, d, {}).outcome(), v1::SCREENING_OUTCOME_DECLINED);
  d.add_reasons_for_concern()->set_category(v1::CONCERN_CATEGORY_EXPLOITATION);
  EXPECT_EQ(Screen(p, d, {}).pathway(), "safe-routes");
}

TEST(ProgrammeRulesTest, MissingEvidenceGoesToAnOfficer) {
  v1::Screening s = Screen(AttendanceRecovery(), NoAgencies(), kv1::AttendanceEvidence{});
  EXPECT_EQ(s.outcome(), v1::SCREENING_OUTCOME_NEEDS_REVIEW);
  EXPECT_THAT(s.reason(), HasSubstr("no pupil context"));
  // Known, but nothing before the date the rule looks at.
  v1::Programme p = AttendanceRecovery();
  p.clear_out_of_scope();
  *p.mutable_in_scope(0)->mutable_attendance_below()->mutable_before() = ToProtoDate(absl::CivilDay(2026, 9, 1));
  s = Screen(p, NoAgencies(), Weeks({1, 1}));
  EXPECT_EQ(s.outcome(), v1::SCREENING_OUTCOME_NEEDS_REVIEW);
  EXPECT_EQ(s.rule_id(), "attendance-below-70");
}

TEST(ProgrammeRulesTest, BadCriteriaAreNamedByField) {
  EXPECT_TRUE(ValidateProgramme(AttendanceRecovery()).ok());
  const std::vector<std::pair<std::function<void(v1::Programme&)>, std::string>> bad = {
      {[](v1::Programme& p) { p.clear_name(); }, "programme.name:"},
      {[](v1::Programme& p) { p.mutable_in_scope(0)->mutable_attendance_below()->set_threshold_bp(0); },
       "programme.in_scope[0].attendance_below.threshold_bp:"},
      {[](v1::Programme& p) { p.mutable_in_scope(1)->mutable_little_contact()->set_last_weeks(0); },
       "programme.in_scope[1].little_contact.last_weeks:"},
      {[](v1::Programme& p) { p.mutable_in_scope(1)->set_rule_id("attendance-below-70"); },
       "programme.in_scope[1].rule_id:"},
      {[](v1::Programme& p) { p.mutable_in_scope(0)->set_redirect_pathway("elsewhere"); },
       "programme.in_scope[0].redirect_pathway:"},
      {[](v1::Programme& p) { p.mutable_out_of_scope(1)->mutable_agency_involved()->set_agency_type(
                                  cv1::AGENCY_TYPE_UNSPECIFIED); },
       "programme.out_of_scope[1].agency_involved.agency_type:"},
      {[](v1::Programme& p) { p.mutable_out_of_scope(0)->clear_looked_after(); },
       "programme.out_of_scope[0].condition:"},
  };
  for (const auto& [spoil, field] : bad) {
    v1::Programme p = AttendanceRecovery();
    spoil(p);
    const absl::Status status = ValidateProgramme(p);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << field;
    EXPECT_THAT(std::string(status.message()), StartsWith(field));
  }
}

}  // namespace
}  // namespace rooted::referral
