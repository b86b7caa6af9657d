// Attendance and indicator arithmetic against hand-worked examples, register
// codes old and new, the cliff-edge rule, model validation, signal intake.

#include "services/risk-scoring/risk_model.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/identity/upn.h"
#include "services/risk-scoring/backtest.h"
#include "services/risk-scoring/evidence.h"
#include "services/risk-scoring/outcomes.h"
#include "services/risk-scoring/pupil_state.h"
#include "services/risk-scoring/register_codes.h"
#include "services/risk-scoring/signal_intake.h"
#include "tests/risk-scoring/risk_signals.h"
#include "tools/cohort/cohort.h"

namespace rooted::risk {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::MarkSession;

constexpr char kUpn[] = "H801200001001";
constexpr char kUrn[] = "100001";
constexpr absl::CivilDay kTermStart{2025, 9, 1};

// Folds signals into a fresh state, failing the test on any error.
PupilState Fold(const std::vector<v1::Signal>& signals) {
  PupilState state;
  for (const v1::Signal& signal : signals) {
    absl::StatusOr<bool> applied = ApplySignal(state, signal);
    EXPECT_TRUE(applied.ok()) << applied.status();
  }
  return state;
}

// `sessions` marks from kTermStart, each code chosen by `code_of(index)`.
std::vector<v1::Signal> Register(int sessions, const std::function<std::string(int)>& code_of) {
  std::vector<v1::Signal> out;
  for (int i = 0; i < sessions; ++i)
    out.push_back(MarkSession(kUpn, kUrn, kTermStart, i, code_of(i)));
  return out;
}

std::vector<std::string> Indicators(const Assessment& a) {
  std::vector<std::string> out;
  for (const auto& reason : a.reasons) out.push_back(reason.indicator());
  return out;
}

const RiskModel& Model() {
  static const RiskModel model = *RiskModel::Create(DefaultModelConfig());
  return model;
}

TEST(RegisterCodesTest, EachCodeFromAugust2024MeansWhatTheDfESays) {
  const absl::CivilDay day{2025, 1, 6};
  const std::vector<std::pair<std::string, MarkCategory>> table = {
      {"/", MarkCategory::kPresent},
      {"\\", MarkCategory::kPresent},
      {"L", MarkCategory::kPresent},
      {"B", MarkCategory::kApprovedActivity},
      {"K", MarkCategory::kApprovedActivity},
      {"P", MarkCategory::kApprovedActivity},
      {"V", MarkCategory::kApprovedActivity},
      {"W", MarkCategory::kApprovedActivity},
      {"C", MarkCategory::kAuthorisedAbsence},
      {"C1", MarkCategory::kAuthorisedAbsence},
      {"C2", MarkCategory::kAuthorisedAbsence},
      {"E", MarkCategory::kAuthorisedAbsence},
      {"I", MarkCategory::kAuthorisedAbsence},
      {"J1", MarkCategory::kAuthorisedAbsence},
      {"M", MarkCategory::kAuthorisedAbsence},
      {"R", MarkCategory::kAuthorisedAbsence},
      {"S", MarkCategory::kAuthorisedAbsence},
      {"T", MarkCategory::kAuthorisedAbsence},
      {"G", MarkCategory::kUnauthorisedAbsence},
      {"N", MarkCategory::kUnauthorisedAbsence},
      {"O", MarkCategory::kUnauthorisedAbsence},
      {"U", MarkCategory::kUnauthorisedAbsence},
      {"D", MarkCategory::kNotCounted},
      {"Q", MarkCategory::kNotCounted},
      {"X", MarkCategory::kNotCounted},
      {"Y1", MarkCategory::kNotCounted},
      {"Y2", MarkCategory::kNotCounted},
      {"Y3", MarkCategory::kNotCounted},
      {"Y4", MarkCategory::kNotCounted},
      {"Y5", MarkCategory::kNotCounted},
      {"Y6", MarkCategory::kNotCounted},
      {"Y7", MarkCategory::kNotCounted},
      {"Z", MarkCategory::kNotCounted},
      {"#", MarkCategory::kNotCounted},
  };
  for (const auto& [code, category] : table) {
    absl::StatusOr<MarkCategory> got = ClassifyRegisterCode(code, day);
    ASSERT_TRUE(got.ok()) << code << ": " << got.status();
    EXPECT_EQ(*got, category) << code;
  }
}

TEST(RegisterCodesTest, HistoryBeforeTheChangeUsesTheOldSet) {
  const absl::CivilDay before{2024, 8, 18};
  EXPECT_EQ(*ClassifyRegisterCode("J", before), MarkCategory::kApprovedActivity);
  EXPECT_EQ(*ClassifyRegisterCode("Y", before), MarkCategory::kNotCounted);
  EXPECT_EQ(*ClassifyRegisterCode("H", before), MarkCategory::kAuthorisedAbsence);
  EXPECT_EQ(*ClassifyRegisterCode("/", before), MarkCategory::kPresent);
  // New codes did not exist yet; old ones are withdrawn after.
  EXPECT_THAT(std::string(ClassifyRegisterCode("C1", before).status().message()),
              HasSubstr("not in use before 19 August 2024"));
  EXPECT_THAT(std::string(ClassifyRegisterCode("Y", kCodesChangedOn).status().message()),
              HasSubstr("not in use from 19 August 2024"));
  EXPECT_THAT(std::string(ClassifyRegisterCode("J", kCodesChangedOn).status().message()),
              HasSubstr("not in use"));
  EXPECT_THAT(std::string(ClassifyRegisterCode("A", kCodesChangedOn).status().message()),
              HasSubstr("unknown register code"));
}

TEST(AttendanceTest, CountsPossibleSessionsOnlyAndRoundsToTheBasisPoint) {
  // 22 sessions: 16 present, 1 late (present), 1 approved off-site, 1 illness
  // (authorised), 1 no reason (unauthorised), 2 not counted (X, Y1).
  // Possible = 20, attended = 18: 90.00%.
  const std::vector<std::string> codes = {"/", "\\", "/", "\\", "/", "\\", "/", "\\",
                                          "/", "\\", "/", "\\", "/", "\\", "/", "\\",
                                          "L", "B",  "I", "N",  "X", "Y1"};
  const PupilState state = Fold(Register(22, [&](int i) { return codes[size_t(i)]; }));
  const AttendanceSummary summary = SummariseAttendance(state);
  EXPECT_EQ(summary.year.possible, 20);
  EXPECT_EQ(summary.year.attended, 18);
  EXPECT_EQ(summary.year.unauthorised, 1);
  EXPECT_EQ(summary.year.AttendanceBp(), 9000);
  EXPECT_EQ(*summary.as_of, kTermStart + 10);

  SessionCounts two_of_three{3, 2, 0};
  EXPECT_EQ(two_of_three.AttendanceBp(), 6667);  // 66.666...% rounds up
  EXPECT_EQ(SessionCounts{}.AttendanceBp(), std::nullopt);
}

TEST(AttendanceTest, AReplayedMarkChangesNothingAndACorrectionReplaces) {
  PupilState state = Fold(Register(4, [](int) { return "/"; }));
  EXPECT_FALSE(*ApplySignal(state, MarkSession(kUpn, kUrn, kTermStart, 1, "/")));
  EXPECT_TRUE(*ApplySignal(state, MarkSession(kUpn, kUrn, kTermStart, 1, "N")));
  const AttendanceSummary summary = SummariseAttendance(state);
  EXPECT_EQ(summary.year.possible, 4);
  EXPECT_EQ(summary.year.attended, 3);
}

TEST(AttendanceTest, ANewAcademicYearKeepsLastYearsFigureAndStartsAfresh) {
  PupilState state = Fold(Register(10, [](int i) { return i < 8 ? "/" : "N"; }));  // 80%
  ASSERT_TRUE(*ApplySignal(
      state, testing::Mark(kUpn, kUrn, absl::CivilDay(2026, 9, 2), v1::SESSION_AM, "/")));
  EXPECT_EQ(state.academic_year(), 2026);
  EXPECT_EQ(state.previous_attendance_bp(), 8000);
  EXPECT_EQ(SummariseAttendance(state).year.possible, 1);
  // A late mark for the finished year is ignored, not folded into this one.
  EXPECT_FALSE(*ApplySignal(state, MarkSession(kUpn, kUrn, kTermStart, 11, "N")));
}

TEST(RiskModelTest, AttendanceBelowNinetyPercentIsExplainedInWords) {
  // 126 sessions: the last not counted; 17 illness absences spread evenly
  // (sessions 0, 7, ... 112). 108 of 125 = 86.40%.
  const PupilState state = Fold(Register(126, [](int i) {
    if (i == 125) return "X";
    return i % 7 == 0 && i <= 112 ? "I" : "/";
  }));
  const Assessment a = Model().Assess(state);
  EXPECT_EQ(a.attendance.year.AttendanceBp(), 8640);
  ASSERT_THAT(Indicators(a), ElementsAre("attendance"));
  EXPECT_EQ(a.reasons[0].text(), "attendance 86.4% this year, below 90%");
  EXPECT_EQ(a.score, 25);
  EXPECT_EQ(a.band, common::v1::RISK_BAND_MEDIUM);
  EXPECT_FALSE(a.cliff_edge);
}

TEST(RiskModelTest, AFallOverTheLastFourWeeksIsMeasuredAgainstTheRestOfTheYear) {
  // 70 days. Days 0-41 (84 sessions) all present: 100%. The last 28 days
  // (56 sessions) have 4 unauthorised absences: 52/56 = 92.86%. Fall 7.14
  // points. Year: 136/140 = 97.14%, so attendance itself is no concern.
  const PupilState state = Fold(Register(
      140, [](int i) { return (i == 100 || i == 110 || i == 120 || i == 130) ? "N" : "/"; }));
  const Assessment a = Model().Assess(state);
  EXPECT_EQ(a.attendance.recent.AttendanceBp(), 9286);
  EXPECT_EQ(a.attendance.before_recent.AttendanceBp(), 10000);
  ASSERT_THAT(Indicators(a), ElementsAre("attendance_fall"));
  EXPECT_EQ(a.reasons[0].text(),
            "attendance fell 7.1 points over the last 4 weeks (92.9% against 100.0%)");
  EXPECT_EQ(a.score, 15);
  EXPECT_EQ(a.band, common::v1::RISK_BAND_LOW);
}

TEST(RiskModelTest, CliffEdgeWhenSeveralIndicatorsAreNearButNoneCrossed) {
  // 100 sessions, absences at sessions 0, 11, ... 88 (9): 6 unauthorised, 3 authorised.
  // Attendance 91.00% (near: under 91.5%), 6 unauthorised (near: 6 to 9).
  const PupilState state = Fold(Register(100, [](int i) {
    if (i % 11 != 0 || i > 88) return "/";
    return i <= 55 ? "N" : "I";
  }));
  const Assessment a = Model().Assess(state);
  EXPECT_EQ(a.attendance.year.AttendanceBp(), 9100);
  EXPECT_EQ(a.attendance.year.unauthorised, 6);
  EXPECT_TRUE(a.reasons.empty());
  EXPECT_THAT(a.near_indicators, ElementsAre("attendance", "unauthorised_absence"));
  EXPECT_TRUE(a.cliff_edge);
  EXPECT_EQ(a.band, common::v1::RISK_BAND_LOW);

  // One indicator crossed: no longer cliff-edge, the pupil meets a threshold.
  PupilState worse = state;
  for (int i : {1, 2, 3, 4})
    ASSERT_TRUE(*ApplySignal(worse, MarkSession(kUpn, kUrn, kTermStart, i, "N")));
  EXPECT_FALSE(Model().Assess(worse).cliff_edge);
}

TEST(RiskModelTest, SuspensionsContextAndBandsAddUp) {
  std::vector<v1::Signal> signals = Register(40, [](int) { return "/"; });
  signals.push_back(testing::SuspensionSignal(kUpn, kUrn, kTermStart + 5, 2));
  signals.push_back(testing::SuspensionSignal(kUpn, kUrn, kTermStart + 12, 3));
  signals.push_back(testing::ContextSignal(kUpn, kUrn, kTermStart, v1::SEN_PROVISION_SEN_SUPPORT,
                                           "SEMH", v1::SOCIAL_CARE_STATUS_CHILD_IN_NEED));
  PupilState state = Fold(signals);
  // Replaying the suspension changes nothing.
  EXPECT_FALSE(*ApplySignal(state, testing::SuspensionSignal(kUpn, kUrn, kTermStart + 5, 2)));

  const Assessment a = Model().Assess(state);
  EXPECT_THAT(Indicators(a), ElementsAre("suspensions", "semh_without_ehcp", "social_care"));
  EXPECT_EQ(a.reasons[0].text(), "2 suspensions this year (2.5 days)");
  EXPECT_EQ(a.reasons[1].text(), "SEMH need on SEN support, without an EHCP");
  EXPECT_EQ(a.reasons[2].text(), "child in need");
  EXPECT_EQ(a.score, 60);
  EXPECT_EQ(a.band, common::v1::RISK_BAND_VERY_HIGH);
}

TEST(ModelConfigTest, BadConfigurationsNameTheirField) {
  auto message = [](const v1::ModelConfig& c) {
    return std::string(ValidateModelConfig(c, "config").message());
  };
  v1::ModelConfig config = DefaultModelConfig();
  EXPECT_TRUE(ValidateModelConfig(config, "config").ok());

  v1::ModelConfig twice = config;
  *twice.add_rules() = config.rules(0);
  EXPECT_THAT(message(twice), HasSubstr("config.rules[14].indicator: given twice"));
  v1::ModelConfig unknown = config;
  unknown.mutable_rules(2)->set_indicator("star_sign");
  EXPECT_THAT(message(unknown), HasSubstr("config.rules[2].indicator"));
  v1::ModelConfig bands = config;
  bands.set_high_from(10);
  EXPECT_THAT(message(bands), HasSubstr("config.high_from"));
  v1::ModelConfig version = config;
  version.set_version("");
  EXPECT_THAT(message(version), HasSubstr("config.version"));
  v1::ModelConfig negative = config;
  negative.mutable_rules(0)->set_points(-5);
  EXPECT_THAT(message(negative), HasSubstr("config.rules[0].points"));
}

TEST(OutcomeReportTest, AttendanceBeforeAfterAndATermLaterPerIntervention) {
  PupilInterventions measured{
      Fold(Register(testing::kOutcomeRegisterSessions, testing::OutcomeRegisterCode)),
      {{"forum_decision", kTermStart + testing::kOutcomeInterventionDay},
       // Measurable before and after, too recent for a term-later figure.
       {"fund_payment", kTermStart + 150},
       // After the last register: nothing to measure yet.
       {"service_referral", kTermStart + 400}}};
  const v1::GetOutcomeReportResponse report = BuildOutcomeReport({measured});
  ASSERT_EQ(report.outcomes_size(), 4);  // every kind, even with no cases
  for (const v1::InterventionOutcome& outcome : report.outcomes()) {
    if (outcome.intervention() == "forum_decision") {
      EXPECT_EQ(outcome.cases(), 1);
      EXPECT_EQ(outcome.attendance_before_bp(), 7976);
      EXPECT_EQ(outcome.attendance_after_bp(), 9405);
      EXPECT_EQ(outcome.attendance_term_later_bp(), 8929);
      EXPECT_EQ(outcome.term_later_cases(), 1);
      EXPECT_EQ(outcome.sustained_cases(), 1);
    } else if (outcome.intervention() == "fund_payment") {
      EXPECT_EQ(outcome.cases(), 1);
      EXPECT_EQ(outcome.term_later_cases(), 0);
      EXPECT_EQ(outcome.attendance_term_later_bp(), 0);
      EXPECT_EQ(outcome.sustained_cases(), 0);
      EXPECT_EQ(outcome.pending_cases(), 0);
    } else if (outcome.intervention() == "service_referral") {
      EXPECT_EQ(outcome.cases(), 0);
      EXPECT_EQ(outcome.pending_cases(), 1);
    } else {
      EXPECT_EQ(outcome.cases() + outcome.pending_cases(), 0) << outcome.intervention();
    }
  }
  EXPECT_EQ(InterventionOf("rooted.referral.v1.ReferralSubmitted"), "referral");
  EXPECT_EQ(InterventionOf("rooted.referral.v1.ReferralUpdated"), std::nullopt);
}

TEST(BacktestTest, PrecisionRecallAndAucOnASmallLabelledSetWorkedByHand) {
  // Scores 90..40; outcomes for 90, 70 and 40.
  const std::vector<BacktestCase> cases = {{90, true},  {80, false}, {70, true},
                                           {60, false}, {50, false}, {40, true}};
  const BacktestResult top2 = Evaluate(cases, 2);
  EXPECT_EQ(top2.positives, 3);
  EXPECT_DOUBLE_EQ(top2.precision_at_k, 0.5);     // 90 yes, 80 no
  EXPECT_DOUBLE_EQ(top2.recall_at_k, 1.0 / 3.0);  // one of three outcomes listed
  // Positive above negative: 90 beats 3, 70 beats 2, 40 beats none: 5 of 9 pairs.
  EXPECT_DOUBLE_EQ(top2.auc, 5.0 / 9.0);

  // Ties count half: one positive and one negative at the same score.
  EXPECT_DOUBLE_EQ(Evaluate({{10, true}, {10, false}}, 1).auc, 0.5);
  EXPECT_DOUBLE_EQ(Evaluate({{10, true}, {5, false}, {1, false}}, 1).auc, 1.0);
  // A list longer than the cohort is the cohort.
  EXPECT_EQ(Evaluate(cases, 100).list_size, 6);
}

class SignalIntakeTest : public ::testing::Test {
 protected:
  absl::StatusOr<PseudonymisedSignal> Prepare(const v1::Signal& signal) {
    return PrepareSignal(signal, "signals[0]", school_, "801", hasher_, today_);
  }
  Principal school_{"teacher",
                    {common::v1::ROLE_SCHOOL_STAFF},
                    common::v1::ORGANISATION_TYPE_SCHOOL,
                    kUrn,
                    "801"};
  PupilRefHasher hasher_ = *PupilRefHasher::Create(std::string(40, 'p'));
  absl::CivilDay today_{2025, 11, 20};
};

TEST_F(SignalIntakeTest, AGoodMarkLeavesWithoutItsUpnOrId) {
  absl::StatusOr<PseudonymisedSignal> prepared =
      Prepare(testing::Mark(kUpn, kUrn, absl::CivilDay(2025, 11, 19), v1::SESSION_PM, "\\"));
  ASSERT_TRUE(prepared.ok()) << prepared.status();
  EXPECT_EQ(prepared->pupil_ref, hasher_.RefFor(*ParseUpn(kUpn)));
  EXPECT_TRUE(prepared->signal.attendance().upn().empty());
  EXPECT_TRUE(prepared->signal.signal_id().empty());
  EXPECT_EQ(prepared->signal.SerializeAsString().find(kUpn), std::string::npos);
}

TEST_F(SignalIntakeTest, BadSignalsAreRejectedNamingTheField) {
  struct Case {
    v1::Signal signal;
    absl::StatusCode code;
    std::string field;
  };
  v1::Signal no_id = testing::Mark(kUpn, kUrn, absl::CivilDay(2025, 11, 19), v1::SESSION_AM, "/");
  no_id.clear_signal_id();
  v1::Signal no_session =
      testing::Mark(kUpn, kUrn, absl::CivilDay(2025, 11, 19), v1::SESSION_AM, "/");
  no_session.mutable_attendance()->set_session(v1::SESSION_UNSPECIFIED);
  v1::Signal bad_date =
      testing::Mark(kUpn, kUrn, absl::CivilDay(2025, 11, 19), v1::SESSION_AM, "/");
  bad_date.mutable_attendance()->mutable_date()->set_day(31);
  v1::Signal bad_context =
      testing::ContextSignal(kUpn, kUrn, absl::CivilDay(2025, 9, 1), v1::SEN_PROVISION_NONE,
                             "GRUMPY", v1::SOCIAL_CARE_STATUS_NONE);
  v1::Signal long_suspension =
      testing::SuspensionSignal(kUpn, kUrn, absl::CivilDay(2025, 10, 1), 91);
  const std::vector<Case> cases = {
      {no_id, absl::StatusCode::kInvalidArgument, "signals[0].signal_id"},
      {testing::Mark("Z801200001001", kUrn, absl::CivilDay(2025, 11, 19), v1::SESSION_AM, "/"),
       absl::StatusCode::kInvalidArgument, "signals[0].attendance.upn"},
      {testing::Mark(kUpn, kUrn, absl::CivilDay(2025, 11, 21), v1::SESSION_AM, "/"),
       absl::StatusCode::kInvalidArgument, "signals[0].attendance.date"},
      {bad_date, absl::StatusCode::kInvalidArgument, "signals[0].attendance.date"},
      {no_session, absl::StatusCode::kInvalidArgument, "signals[0].attendance.session"},
      {testing::Mark(kUpn, kUrn, absl::CivilDay(2025, 11, 19), v1::SESSION_AM, "A"),
       absl::StatusCode::kInvalidArgument, "signals[0].attendance.code"},
      {testing::Mark(kUpn, kUrn, absl::CivilDay(2024, 3, 4), v1::SESSION_AM, "Y3"),
       absl::StatusCode::kInvalidArgument, "signals[0].attendance.code"},
      {testing::Mark(kUpn, "100002", absl::CivilDay(2025, 11, 19), v1::SESSION_AM, "/"),
       absl::StatusCode::kPermissionDenied, "signals[0].attendance.school_urn"},
      {bad_context, absl::StatusCode::kInvalidArgument, "signals[0].context.primary_need"},
      {long_suspension, absl::StatusCode::kInvalidArgument, "signals[0].suspension.sessions"},
      {v1::Signal(), absl::StatusCode::kInvalidArgument, "signals[0].signal_id"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<PseudonymisedSignal> prepared = Prepare(c.signal);
    ASSERT_FALSE(prepared.ok()) << c.field;
    EXPECT_EQ(prepared.status().code(), c.code) << prepared.status();
    EXPECT_THAT(std::string(prepared.status().message()), ::testing::StartsWith(c.field + ": "));
  }
}

TEST(CohortTest, EverySignalOfAGeneratedCouncilPassesIntake) {
  const cohort::Cohort council({.la_code = "801", .schools = 6, .pupils = 300, .seed = 7});
  const Principal loader{
      "loader", {common::v1::ROLE_SERVICE}, common::v1::ORGANISATION_TYPE_COUNCIL, "801", "801"};
  const PupilRefHasher hasher = *PupilRefHasher::Create(std::string(40, 'p'));
  std::map<std::string, int> kinds;
  int64_t checked = 0;
  council.Generate([&](v1::Signal&& signal) {
    absl::StatusOr<PseudonymisedSignal> prepared =
        PrepareSignal(signal, "signal", loader, "801", hasher, absl::CivilDay(2026, 8, 31));
    EXPECT_TRUE(prepared.ok()) << prepared.status() << signal.DebugString();
    ++kinds[std::string(
        signal.GetDescriptor()->FindFieldByNumber(int(signal.kind_case()))->name())];
    return ++checked < 60'000 && prepared.ok();
  });
  EXPECT_EQ(kinds["context"], 300);
  EXPECT_GT(kinds["attendance"], 50'000);
  // Same seed, same council.
  const cohort::Cohort again({.la_code = "801", .schools = 6, .pupils = 300, .seed = 7});
  EXPECT_EQ(again.pupils()[42].upn, council.pupils()[42].upn);
  EXPECT_EQ(cohort::MakeUpn("801", 2000, 1, 1).size(), 13u);
}

}  // namespace
}  // namespace rooted::risk

namespace rooted::risk {
namespace {

// The evidence a programme screens on: week by week from the Monday on or
// before 1 September, weeks without sessions left out.
TEST(AttendanceEvidenceTest, WeekByWeekToTheLastMark) {
  EXPECT_FALSE(EvidenceOf(nullptr).known());
  PupilState state;
  const std::string upn = "H801200001001";
  // Mon 7 to Fri 11 Sept 2026: two sessions missed; the next week all present.
  for (int day = 0; day < 5; ++day) {
    for (v1::Session session : {v1::SESSION_AM, v1::SESSION_PM}) {
      const bool missed = day == 2;
      ASSERT_TRUE(ApplySignal(state, testing::Mark(upn, "100001", absl::CivilDay(2026, 9, 7) + day, session,
                                                   missed ? "N" : "/"))
                      .ok());
      ASSERT_TRUE(ApplySignal(state, testing::Mark(upn, "100001", absl::CivilDay(2026, 9, 14) + day, session, "/"))
                      .ok());
    }
  }
  ASSERT_TRUE(ApplySignal(state, testing::ContextSignal(upn, "100001", absl::CivilDay(2026, 9, 1),
                                                        v1::SEN_PROVISION_NONE, "",
                                                        v1::SOCIAL_CARE_STATUS_LOOKED_AFTER))
                  .ok());
  const v1::AttendanceEvidence e = EvidenceOf(&state);
  EXPECT_TRUE(e.known());
  EXPECT_TRUE(e.looked_after());
  EXPECT_EQ(e.as_of().day(), 18);
  ASSERT_EQ(e.weeks_size(), 2);
  EXPECT_EQ(e.weeks(0).week_start().day(), 7);
  EXPECT_EQ(e.weeks(0).possible_sessions(), 10);
  EXPECT_EQ(e.weeks(0).present_sessions(), 8);
  EXPECT_EQ(e.weeks(1).week_start().day(), 14);
  EXPECT_EQ(e.weeks(1).present_sessions(), 10);
}

}  // namespace
}  // namespace rooted::risk
