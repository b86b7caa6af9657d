#ifndef ROOTED_SERVICES_RISK_SCORING_REGISTER_CODES_H_
#define ROOTED_SERVICES_RISK_SCORING_REGISTER_CODES_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"

namespace rooted::risk {

// What a register mark means for attendance statistics. Values are stored, one
// per session, in pupil state: never renumber.
enum class MarkCategory : uint8_t {
  kNone = 0,  // no mark recorded for the session
  kPresent = 1,
  kApprovedActivity = 2,
  kAuthorisedAbsence = 3,
  kUnauthorisedAbsence = 4,
  kNotCounted = 5,  // not a possible session: not counted either way
};

// The day the DfE's August 2024 register codes ("Working together to improve
// school attendance") came into force. Marks before it use the earlier set.
inline constexpr absl::CivilDay kCodesChangedOn{2024, 8, 19};

// Interprets a DfE register code for a session on `date`, using the code set
// in force that day. INVALID_ARGUMENT for a code that set does not have.
absl::StatusOr<MarkCategory> ClassifyRegisterCode(absl::string_view code, absl::CivilDay date);

// Counts towards possible sessions (the denominator of attendance).
inline bool IsPossible(MarkCategory c) {
  return c >= MarkCategory::kPresent && c <= MarkCategory::kUnauthorisedAbsence;
}
// Counts as attending (the numerator): present or approved educational activity.
inline bool IsAttended(MarkCategory c) {
  return c == MarkCategory::kPresent || c == MarkCategory::kApprovedActivity;
}

}  // namespace rooted::risk

#endif  // ROOTED_SERVICES_RISK_SCORING_REGISTER_CODES_H_
