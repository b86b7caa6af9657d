#include "services/referral-intake/programme_rules.h"

#include <optional>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/base/field_validation.h"
#include "common/base/proto_date.h"
#include "common/base/status_macros.h"

namespace rooted::referral {
namespace {

namespace kv1 = rooted::risk::v1;
namespace cv1 = rooted::common::v1;

constexpr int kMaxRules = 50;
constexpr int kMaxWeeks = 52;

struct Window {
  int64_t possible = 0;
  int64_t present = 0;
  int weeks = 0;
  std::string words;  // "the 6 weeks to 2026-10-16"
};

// The weeks a rule looks at: those starting before `before` (if set), and of
// them the last `last_weeks` (if set).
Window WindowOf(const kv1::AttendanceEvidence& evidence, const cv1::Date* before, int last_weeks) {
  std::vector<const kv1::WeekAttendance*> weeks;
  std::optional<absl::CivilDay> cut;
  if (before != nullptr) {
    if (absl::StatusOr<absl::CivilDay> day = FromProtoDate(*before); day.ok()) cut = *day;
  }
  for (const kv1::WeekAttendance& w : evidence.weeks()) {
    absl::StatusOr<absl::CivilDay> start = FromProtoDate(w.week_start());
    if (!start.ok() || (cut && *start >= *cut)) continue;
    weeks.push_back(&w);
  }
  if (last_weeks > 0 && int(weeks.size()) > last_weeks) weeks.erase(weeks.begin(), weeks.end() - last_weeks);
  Window window;
  for (const kv1::WeekAttendance* w : weeks) {
    window.possible += w->possible_sessions();
    window.present += w->present_sessions();
  }
  window.weeks = int(weeks.size());
  if (!weeks.empty()) {
    absl::StatusOr<absl::CivilDay> last = FromProtoDate(weeks.back()->week_start());
    window.words = absl::StrCat("the ", window.weeks, window.weeks == 1 ? " week" : " weeks", " to the week of ",
                                last.ok() ? absl::FormatCivilTime(*last) : "?");
  }
  return window;
}

std::string Percent(int64_t present, int64_t possible) {
  return absl::StrFormat("%.1f%%", possible == 0 ? 0.0 : 100.0 * double(present) / double(possible));
}

RuleVerdict Verdict(bool holds, std::string explanation) {
  return {holds ? RuleVerdict::Kind::kHolds : RuleVerdict::Kind::kFails, std::move(explanation)};
}

RuleVerdict Unknown(std::string explanation) { return {RuleVerdict::Kind::kUnknown, std::move(explanation)}; }

absl::Status ValidateRule(const v1::ScopeRule& rule, const std::string& path, bool out_of_scope,
                          std::set<std::string>& ids) {
  RETURN_IF_ERROR(ValidateText(path + ".rule_id", rule.rule_id(), 64, /*required=*/true));
  if (!ids.insert(rule.rule_id()).second) return FieldError(path + ".rule_id", "is used by another rule");
  RETURN_IF_ERROR(ValidateText(path + ".description", rule.description(), 300, /*required=*/true));
  switch (rule.condition_case()) {
    case v1::ScopeRule::kAttendanceBelow: {
      const v1::AttendanceBelow& a = rule.attendance_below();
      if (a.threshold_bp() <= 0 || a.threshold_bp() > 10000) {
        return FieldError(path + ".attendance_below.threshold_bp", "1 to 10000 (basis points: 7000 is 70%)");
      }
      if (a.has_before() && !FromProtoDate(a.before()).ok()) {
        return FieldError(path + ".attendance_below.before", "is not a date");
      }
      if (a.last_weeks() < 0 || a.last_weeks() > kMaxWeeks) {
        return FieldError(path + ".attendance_below.last_weeks", absl::StrCat("0 to ", kMaxWeeks));
      }
      break;
    }
    case v1::ScopeRule::kLittleContact: {
      const v1::LittleContact& c = rule.little_contact();
      if (c.max_present_sessions() < 0) return FieldError(path + ".little_contact.max_present_sessions", "0 or more");
      if (c.last_weeks() < 1 || c.last_weeks() > kMaxWeeks) {
        return FieldError(path + ".little_contact.last_weeks", absl::StrCat("1 to ", kMaxWeeks));
      }
      break;
    }
    case v1::ScopeRule::kLookedAfter:
      if (!rule.looked_after()) return FieldError(path + ".looked_after", "must be true when given");
      break;
    case v1::ScopeRule::kAgencyInvolved:
      if (rule.agency_involved().agency_type() == cv1::AGENCY_TYPE_UNSPECIFIED ||
          !cv1::AgencyType_IsValid(rule.agency_involved().agency_type())) {
        return FieldError(path + ".agency_involved.agency_type", "name an agency");
      }
      break;
    case v1::ScopeRule::kYearGroups:
      if (rule.year_groups().minimum() < 0 || rule.year_groups().maximum() > 14 ||
          rule.year_groups().minimum() > rule.year_groups().maximum()) {
        return FieldError(path + ".year_groups", "minimum to maximum, within reception (0) to year 14");
      }
      break;
    case v1::ScopeRule::kConcernNamed:
      if (rule.concern_named().category() == v1::CONCERN_CATEGORY_UNSPECIFIED ||
          !v1::ConcernCategory_IsValid(rule.concern_named().category())) {
        return FieldError(path + ".concern_named.category", "name a concern category");
      }
      break;
    default:
      return FieldError(path + ".condition", "give the rule's condition");
  }
  if (!out_of_scope && !rule.redirect_pathway().empty()) {
    return FieldError(path + ".redirect_pathway", "only out-of-scope rules redirect");
  }
  return ValidateText(path + ".redirect_pathway", rule.redirect_pathway(), 100, /*required=*/false);
}

}  // namespace

RuleVerdict EvaluateRule(const v1::ScopeRule& rule, const v1::ReferralDetails& details,
                         const kv1::AttendanceEvidence& evidence) {
  switch (rule.condition_case()) {
    case v1::ScopeRule::kAttendanceBelow: {
      const v1::AttendanceBelow& a = rule.attendance_below();
      if (!evidence.known()) return Unknown("no registers for this pupil");
      const Window w = WindowOf(evidence, a.has_before() ? &a.before() : nullptr, a.last_weeks());
      if (w.possible == 0) return Unknown("no sessions in the weeks the rule looks at");
      const bool below = w.present * 10000 < int64_t(a.threshold_bp()) * w.possible;
      return Verdict(below, absl::StrCat("attendance ", Percent(w.present, w.possible), " in ", w.words,
                                         below ? ", below " : ", not below ",
                                         absl::StrFormat("%.1f%%", a.threshold_bp() / 100.0)));
    }
    case v1::ScopeRule::kLittleContact: {
      const v1::LittleContact& c = rule.little_contact();
      if (!evidence.known()) return Unknown("no registers for this pupil");
      const Window w = WindowOf(evidence, nullptr, c.last_weeks());
      if (w.possible == 0) return Unknown("no sessions in the weeks the rule looks at");
      const bool little = w.present <= c.max_present_sessions();
      return Verdict(little, absl::StrCat(w.present, " of ", w.possible, " sessions present in ", w.words,
                                          little ? ", at most " : ", more than ", c.max_present_sessions()));
    }
    case v1::ScopeRule::kLookedAfter:
      if (!evidence.known()) return Unknown("no pupil context for this pupil");
      return Verdict(evidence.looked_after(), evidence.looked_after() ? "the child is looked after"
                                                                     : "the child is not looked after");
    case v1::ScopeRule::kAgencyInvolved: {
      const cv1::AgencyType wanted = rule.agency_involved().agency_type();
      for (const v1::AgencyInvolvement& agency : details.other_agencies()) {
        if (agency.agency_type() == wanted) {
          return Verdict(true, absl::StrCat("the referral names ", cv1::AgencyType_Name(wanted), " as involved"));
        }
      }
      return Verdict(false, absl::StrCat("the referral does not name ", cv1::AgencyType_Name(wanted)));
    }
    case v1::ScopeRule::kYearGroups: {
      const int year = details.child().year_group();
      const bool within = year >= rule.year_groups().minimum() && year <= rule.year_groups().maximum();
      return Verdict(within, absl::StrCat("year ", year, within ? " is within " : " is outside ", "years ",
                                          rule.year_groups().minimum(), " to ", rule.year_groups().maximum()));
    }
    case v1::ScopeRule::kConcernNamed: {
      for (const v1::ConcernReason& reason : details.reasons_for_concern()) {
        if (reason.category() == rule.concern_named().category()) return Verdict(true, "the concern is named");
      }
      return Verdict(false, "the concern is not named");
    }
    default:
      return Unknown("the rule has no condition");
  }
}

v1::Screening Screen(const v1::Programme& programme, const v1::ReferralDetails& details,
                     const kv1::AttendanceEvidence& evidence) {
  v1::Screening s;
  s.set_programme_id(programme.programme_id());
  s.set_programme_version(programme.version());
  auto decide = [&](v1::ScreeningOutcome outcome, const v1::ScopeRule* rule, const std::string& reason) {
    s.set_outcome(outcome);
    s.set_rules_outcome(outcome);
    if (rule != nullptr) s.set_rule_id(rule->rule_id());
    s.set_reason(reason);
    return s;
  };
  for (const v1::ScopeRule& rule : programme.out_of_scope()) {
    const RuleVerdict v = EvaluateRule(rule, details, evidence);
    if (v.kind == RuleVerdict::Kind::kUnknown) {
      return decide(v1::SCREENING_OUTCOME_NEEDS_REVIEW, &rule, absl::StrCat(rule.description(), ": ", v.explanation));
    }
    if (v.kind != RuleVerdict::Kind::kHolds) continue;
    if (!rule.redirect_pathway().empty()) {
      s.set_pathway(rule.redirect_pathway());
      return decide(v1::SCREENING_OUTCOME_REDIRECTED, &rule,
                    absl::StrCat("out of scope (", rule.description(), "): ", v.explanation, "; redirected to ",
                                 rule.redirect_pathway()));
    }
    return decide(v1::SCREENING_OUTCOME_DECLINED, &rule,
                  absl::StrCat("out of scope (", rule.description(), "): ", v.explanation));
  }
  std::vector<std::string> reasons;
  for (const v1::ScopeRule& rule : programme.in_scope()) {
    const RuleVerdict v = EvaluateRule(rule, details, evidence);
    if (v.kind == RuleVerdict::Kind::kUnknown) {
      return decide(v1::SCREENING_OUTCOME_NEEDS_REVIEW, &rule, absl::StrCat(rule.description(), ": ", v.explanation));
    }
    if (v.kind == RuleVerdict::Kind::kFails) {
      return decide(v1::SCREENING_OUTCOME_DECLINED, &rule,
                    absl::StrCat("not in scope (", rule.description(), "): ", v.explanation));
    }
    reasons.push_back(v.explanation);
  }
  return decide(v1::SCREENING_OUTCOME_ACCEPTED, nullptr,
                reasons.empty() ? "the programme has no in-scope rules" : absl::StrJoin(reasons, "; "));
}

absl::Status ValidateProgramme(const v1::Programme& programme) {
  RETURN_IF_ERROR(ValidateText("programme.name", programme.name(), 200, /*required=*/true));
  if (programme.in_scope_size() + programme.out_of_scope_size() > kMaxRules) {
    return FieldError("programme", absl::StrCat("at most ", kMaxRules, " rules"));
  }
  std::set<std::string> ids;
  for (int i = 0; i < programme.in_scope_size(); ++i) {
    RETURN_IF_ERROR(ValidateRule(programme.in_scope(i), absl::StrCat("programme.in_scope[", i, "]"), false, ids));
  }
  for (int i = 0; i < programme.out_of_scope_size(); ++i) {
    RETURN_IF_ERROR(
        ValidateRule(programme.out_of_scope(i), absl::StrCat("programme.out_of_scope[", i, "]"), true, ids));
  }
  return absl::OkStatus();
}

}  // namespace rooted::referral
