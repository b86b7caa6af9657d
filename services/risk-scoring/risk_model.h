#ifndef ROOTED_SERVICES_RISK_SCORING_RISK_MODEL_H_
#define ROOTED_SERVICES_RISK_SCORING_RISK_MODEL_H_

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "rooted/risk/v1/risk.pb.h"
#include "services/risk-scoring/pupil_state.h"

namespace rooted::risk {

// The indicators a council can weigh. Measured ones have a threshold and a
// near margin (the cliff-edge rule); flags come from pupil context.
namespace indicator {
inline constexpr absl::string_view kAttendance = "attendance";
inline constexpr absl::string_view kSevereAbsence = "severe_absence";
inline constexpr absl::string_view kAttendanceFall = "attendance_fall";
inline constexpr absl::string_view kUnauthorisedAbsence = "unauthorised_absence";
inline constexpr absl::string_view kSuspensions = "suspensions";
inline constexpr absl::string_view kPermanentExclusion = "permanent_exclusion";
inline constexpr absl::string_view kManagedMove = "managed_move";
inline constexpr absl::string_view kSchoolMove = "school_move";
inline constexpr absl::string_view kSemhWithoutEhcp = "semh_without_ehcp";
inline constexpr absl::string_view kSenSupport = "sen_support";
inline constexpr absl::string_view kSocialCare = "social_care";
inline constexpr absl::string_view kPreviouslyLookedAfter = "previously_looked_after";
inline constexpr absl::string_view kDisadvantaged = "disadvantaged";
inline constexpr absl::string_view kYoungCarer = "young_carer";
}  // namespace indicator

// The model shipped with RootED, weighted from the evidence in DOMAIN.md
// (attendance, suspensions, SEMH and social-care contact, deprivation). A
// council tunes it on its own history with the backtest.
v1::ModelConfig DefaultModelConfig();

// INVALID_ARGUMENT naming the field ("config.rules[2].points") at fault.
absl::Status ValidateModelConfig(const v1::ModelConfig& config, absl::string_view field_prefix);

struct Assessment {
  int score = 0;
  common::v1::RiskBand band = common::v1::RISK_BAND_LOW;
  bool cliff_edge = false;
  std::vector<v1::RiskReason> reasons;
  std::vector<std::string> near_indicators;
  AttendanceSummary attendance;
};

// A transparent, rule-based score: each crossed indicator adds its points and
// says why in words a teacher can check against the register.
class RiskModel {
 public:
  static absl::StatusOr<RiskModel> Create(v1::ModelConfig config);

  Assessment Assess(const PupilState& state) const;
  const v1::ModelConfig& config() const { return config_; }
  const std::string& version() const { return config_.version(); }
  // The lowest score in `band` (0 for LOW).
  int BandFloor(common::v1::RiskBand band) const;

 private:
  explicit RiskModel(v1::ModelConfig config);
  const v1::IndicatorRule* Rule(absl::string_view name) const;

  v1::ModelConfig config_;
  absl::flat_hash_map<std::string, int> rule_index_;
};

// The API view of one pupil's assessment.
v1::RiskProfile ToProfile(const std::string& pupil_ref, const PupilState& state,
                          const Assessment& assessment, const std::string& model_version);

}  // namespace rooted::risk

#endif  // ROOTED_SERVICES_RISK_SCORING_RISK_MODEL_H_
