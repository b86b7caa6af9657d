#include "services/risk-scoring/risk_model.h"

#include <array>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace rooted::risk {
namespace {

using common::v1::RiskBand;

constexpr std::array<absl::string_view, 14> kKnownIndicators = {
    indicator::kAttendance,          indicator::kSevereAbsence, indicator::kAttendanceFall,
    indicator::kUnauthorisedAbsence, indicator::kSuspensions,   indicator::kPermanentExclusion,
    indicator::kManagedMove,         indicator::kSchoolMove,    indicator::kSemhWithoutEhcp,
    indicator::kSenSupport,          indicator::kSocialCare,    indicator::kPreviouslyLookedAfter,
    indicator::kDisadvantaged,       indicator::kYoungCarer};

void AddRule(v1::ModelConfig& config, absl::string_view name, int points, int64_t threshold = 1,
             int64_t near_margin = 0) {
  v1::IndicatorRule* rule = config.add_rules();
  rule->set_indicator(std::string(name));
  rule->set_points(points);
  rule->set_threshold(threshold);
  rule->set_near_margin(near_margin);
}

std::string Percent(int bp) { return absl::StrFormat("%.1f%%", bp / 100.0); }
// A threshold as people write it: "90%", "91.5%".
std::string Threshold(int64_t bp) {
  return bp % 100 == 0 ? absl::StrCat(bp / 100, "%") : absl::StrFormat("%.1f%%", bp / 100.0);
}
std::string Points(int bp) { return absl::StrFormat("%.1f", bp / 100.0); }
std::string Plural(int n, absl::string_view one, absl::string_view many) {
  return absl::StrCat(n, " ", n == 1 ? one : many);
}

bool IsValidVersion(const std::string& version) {
  if (version.empty() || version.size() > 64) return false;
  for (char c : version) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_') {
      return false;
    }
  }
  return true;
}

}  // namespace

v1::ModelConfig DefaultModelConfig() {
  v1::ModelConfig config;
  config.set_version("rooted-2026.1");
  // Basis points: below 90% is persistent absence, below 50% severe; within
  // 1.5 points of 90% is "near".
  AddRule(config, indicator::kAttendance, 25, 9000, 150);
  AddRule(config, indicator::kSevereAbsence, 20, 5000);
  // A fall of 5 points or more over four weeks against the rest of the year.
  AddRule(config, indicator::kAttendanceFall, 15, 500, 200);
  AddRule(config, indicator::kUnauthorisedAbsence, 10, 10, 4);
  AddRule(config, indicator::kSuspensions, 20, 1);
  AddRule(config, indicator::kPermanentExclusion, 40, 1);
  AddRule(config, indicator::kManagedMove, 15, 1);
  AddRule(config, indicator::kSchoolMove, 10, 1);
  AddRule(config, indicator::kSemhWithoutEhcp, 20);
  AddRule(config, indicator::kSenSupport, 10);
  AddRule(config, indicator::kSocialCare, 20);
  AddRule(config, indicator::kPreviouslyLookedAfter, 10);
  AddRule(config, indicator::kDisadvantaged, 10);
  AddRule(config, indicator::kYoungCarer, 10);
  config.set_medium_from(20);
  config.set_high_from(40);
  config.set_very_high_from(60);
  config.set_cliff_edge_min_near(2);
  config.set_minimum_sessions(20);
  return config;
}

absl::Status ValidateModelConfig(const v1::ModelConfig& config, absl::string_view prefix) {
  auto bad = [&](absl::string_view field, absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(prefix, ".", field, ": ", why));
  };
  if (!IsValidVersion(config.version())) {
    return bad("version", "1-64 letters, digits, '.', '-' or '_'");
  }
  absl::flat_hash_map<std::string, int> seen;
  for (int i = 0; i < config.rules_size(); ++i) {
    const v1::IndicatorRule& rule = config.rules(i);
    const std::string field = absl::StrCat("rules[", i, "]");
    if (std::find(kKnownIndicators.begin(), kKnownIndicators.end(), rule.indicator()) ==
        kKnownIndicators.end()) {
      return bad(field + ".indicator", "not a known indicator");
    }
    if (!seen.emplace(rule.indicator(), i).second) {
      return bad(field + ".indicator", "given twice");
    }
    if (rule.points() < 0 || rule.points() > 1000) return bad(field + ".points", "0 to 1000");
    if (rule.threshold() < 0 || rule.threshold() > 1'000'000) {
      return bad(field + ".threshold", "0 to 1000000");
    }
    if (rule.near_margin() < 0 || rule.near_margin() > 1'000'000) {
      return bad(field + ".near_margin", "0 to 1000000");
    }
  }
  if (config.medium_from() <= 0) return bad("medium_from", "must be positive");
  if (config.high_from() <= config.medium_from()) {
    return bad("high_from", "must be above medium_from");
  }
  if (config.very_high_from() <= config.high_from()) {
    return bad("very_high_from", "must be above high_from");
  }
  if (config.cliff_edge_min_near() < 1 || config.cliff_edge_min_near() > 10) {
    return bad("cliff_edge_min_near", "1 to 10");
  }
  if (config.minimum_sessions() < 1 || config.minimum_sessions() > 400) {
    return bad("minimum_sessions", "1 to 400");
  }
  return absl::OkStatus();
}

absl::StatusOr<RiskModel> RiskModel::Create(v1::ModelConfig config) {
  absl::Status valid = ValidateModelConfig(config, "config");
  if (!valid.ok()) return valid;
  return RiskModel(std::move(config));
}

RiskModel::RiskModel(v1::ModelConfig config) : config_(std::move(config)) {
  for (int i = 0; i < config_.rules_size(); ++i) rule_index_[config_.rules(i).indicator()] = i;
}

const v1::IndicatorRule* RiskModel::Rule(absl::string_view name) const {
  auto it = rule_index_.find(name);
  return it == rule_index_.end() ? nullptr : &config_.rules(it->second);
}

int RiskModel::BandFloor(RiskBand band) const {
  switch (band) {
    case common::v1::RISK_BAND_VERY_HIGH:
      return config_.very_high_from();
    case common::v1::RISK_BAND_HIGH:
      return config_.high_from();
    case common::v1::RISK_BAND_MEDIUM:
      return config_.medium_from();
    default:
      return 0;
  }
}

Assessment RiskModel::Assess(const PupilState& state) const {
  Assessment out;
  out.attendance = SummariseAttendance(state);
  bool measured_crossed = false;

  auto add = [&](absl::string_view name, std::string text) {
    const v1::IndicatorRule* rule = Rule(name);
    if (rule == nullptr) return;
    v1::RiskReason& reason = out.reasons.emplace_back();
    reason.set_indicator(std::string(name));
    reason.set_points(rule->points());
    reason.set_text(std::move(text));
    out.score += rule->points();
  };
  // A measured indicator where higher is worse: crossed at threshold, near
  // within near_margin below it.
  auto measure_rising = [&](absl::string_view name, int64_t value, std::string text) {
    const v1::IndicatorRule* rule = Rule(name);
    if (rule == nullptr) return;
    if (value >= rule->threshold()) {
      measured_crossed = true;
      add(name, std::move(text));
    } else if (rule->near_margin() > 0 && value >= rule->threshold() - rule->near_margin()) {
      out.near_indicators.emplace_back(name);
    }
  };

  const SessionCounts& year = out.attendance.year;
  if (year.possible >= config_.minimum_sessions()) {
    const int bp = *year.AttendanceBp();
    if (const v1::IndicatorRule* rule = Rule(indicator::kAttendance)) {
      if (bp < rule->threshold()) {
        measured_crossed = true;
        add(indicator::kAttendance, absl::StrCat("attendance ", Percent(bp), " this year, below ",
                                                 Threshold(rule->threshold())));
      } else if (rule->near_margin() > 0 && bp < rule->threshold() + rule->near_margin()) {
        out.near_indicators.emplace_back(indicator::kAttendance);
      }
    }
    if (const v1::IndicatorRule* rule = Rule(indicator::kSevereAbsence)) {
      if (bp < rule->threshold()) {
        add(indicator::kSevereAbsence,
            absl::StrCat("attendance ", Percent(bp), " this year, below ",
                         Threshold(rule->threshold()), ": severe absence"));
      }
    }
  }
  const SessionCounts& recent = out.attendance.recent;
  const SessionCounts& before = out.attendance.before_recent;
  if (recent.possible >= config_.minimum_sessions() / 2 &&
      before.possible >= config_.minimum_sessions()) {
    const int fall = *before.AttendanceBp() - *recent.AttendanceBp();
    measure_rising(indicator::kAttendanceFall, fall,
                   absl::StrCat("attendance fell ", Points(fall), " points over the last ",
                                kRecentWindowDays / 7, " weeks (", Percent(*recent.AttendanceBp()),
                                " against ", Percent(*before.AttendanceBp()), ")"));
  }
  measure_rising(indicator::kUnauthorisedAbsence, year.unauthorised,
                 absl::StrCat(Plural(year.unauthorised, "session", "sessions"),
                              " of unauthorised absence this year"));

  const int suspensions = SuspensionsThisYear(state);
  if (suspensions > 0) {
    measure_rising(indicator::kSuspensions, suspensions,
                   absl::StrCat(Plural(suspensions, "suspension", "suspensions"), " this year (",
                                Points(SuspensionSessionsThisYear(state) * 50), " days)"));
  }
  const int exclusions = ExclusionsThisYear(state);
  if (exclusions > 0) {
    measure_rising(indicator::kPermanentExclusion, exclusions, "permanently excluded this year");
  }
  const int managed = MovesThisYear(state, v1::MOVE_TYPE_MANAGED_MOVE);
  if (managed > 0) {
    measure_rising(indicator::kManagedMove, managed,
                   absl::StrCat(Plural(managed, "managed move", "managed moves"), " this year"));
  }
  const int moves = MovesThisYear(state, v1::MOVE_TYPE_SCHOOL_MOVE);
  if (moves > 0) {
    measure_rising(indicator::kSchoolMove, moves,
                   moves == 1 ? std::string("moved school mid-year")
                              : absl::StrCat("moved school ", moves, " times this year"));
  }

  if (state.has_context()) {
    const v1::PupilContext& context = state.context();
    const bool semh = context.primary_need() == "SEMH";
    const bool ehcp = context.sen_provision() == v1::SEN_PROVISION_EHCP;
    if (semh && !ehcp && Rule(indicator::kSemhWithoutEhcp) != nullptr) {
      add(indicator::kSemhWithoutEhcp, context.sen_provision() == v1::SEN_PROVISION_SEN_SUPPORT
                                           ? "SEMH need on SEN support, without an EHCP"
                                           : "SEMH need without an EHCP");
    } else if (context.sen_provision() == v1::SEN_PROVISION_SEN_SUPPORT || ehcp) {
      add(indicator::kSenSupport,
          absl::StrCat(ehcp ? "EHCP" : "SEN support",
                       context.primary_need().empty()
                           ? ""
                           : absl::StrCat(", primary need ", context.primary_need())));
    }
    switch (context.social_care()) {
      case v1::SOCIAL_CARE_STATUS_CHILD_IN_NEED:
        add(indicator::kSocialCare, "child in need");
        break;
      case v1::SOCIAL_CARE_STATUS_CHILD_PROTECTION:
        add(indicator::kSocialCare, "child protection plan");
        break;
      case v1::SOCIAL_CARE_STATUS_LOOKED_AFTER:
        add(indicator::kSocialCare, "looked after");
        break;
      case v1::SOCIAL_CARE_STATUS_PREVIOUSLY_LOOKED_AFTER:
        add(indicator::kPreviouslyLookedAfter, "previously looked after");
        break;
      default:
        break;
    }
    if (context.free_school_meals()) {
      add(indicator::kDisadvantaged, "eligible for free school meals");
    } else if (context.disadvantaged()) {
      add(indicator::kDisadvantaged, "disadvantaged");
    }
    if (context.young_carer()) add(indicator::kYoungCarer, "young carer");
  }

  out.band = out.score >= config_.very_high_from() ? common::v1::RISK_BAND_VERY_HIGH
             : out.score >= config_.high_from()    ? common::v1::RISK_BAND_HIGH
             : out.score >= config_.medium_from()  ? common::v1::RISK_BAND_MEDIUM
                                                   : common::v1::RISK_BAND_LOW;
  out.cliff_edge =
      !measured_crossed && int(out.near_indicators.size()) >= config_.cliff_edge_min_near();
  return out;
}

v1::RiskProfile ToProfile(const std::string& pupil_ref, const PupilState& state,
                          const Assessment& assessment, const std::string& model_version) {
  v1::RiskProfile profile;
  profile.mutable_pupil_ref()->set_value(pupil_ref);
  profile.set_school_urn(state.school_urn());
  profile.set_score(assessment.score);
  profile.set_band(assessment.band);
  profile.set_cliff_edge(assessment.cliff_edge);
  for (const v1::RiskReason& reason : assessment.reasons) *profile.add_reasons() = reason;
  for (const std::string& name : assessment.near_indicators) profile.add_near_indicators(name);
  const AttendanceSummary& attendance = assessment.attendance;
  profile.set_attendance_bp(attendance.year.AttendanceBp().value_or(-1));
  profile.set_recent_attendance_bp(attendance.recent.AttendanceBp().value_or(-1));
  if (attendance.recent.possible > 0 && attendance.before_recent.possible > 0) {
    profile.set_attendance_change_bp(*attendance.recent.AttendanceBp() -
                                     *attendance.before_recent.AttendanceBp());
  }
  if (attendance.as_of) *profile.mutable_as_of() = ToProtoDate(*attendance.as_of);
  profile.set_model_version(model_version);
  v1::SignalSummary* summary = profile.mutable_signals();
  summary->set_possible_sessions(attendance.year.possible);
  summary->set_attended_sessions(attendance.year.attended);
  summary->set_unauthorised_sessions(attendance.year.unauthorised);
  summary->set_suspensions(SuspensionsThisYear(state));
  summary->set_suspension_sessions(SuspensionSessionsThisYear(state));
  summary->set_permanent_exclusions(ExclusionsThisYear(state));
  summary->set_managed_moves(MovesThisYear(state, v1::MOVE_TYPE_MANAGED_MOVE));
  summary->set_school_moves(MovesThisYear(state, v1::MOVE_TYPE_SCHOOL_MOVE));
  summary->set_previous_attendance_bp(state.academic_year() == 0 ? -1
                                                                 : state.previous_attendance_bp());
  return profile;
}

}  // namespace rooted::risk
