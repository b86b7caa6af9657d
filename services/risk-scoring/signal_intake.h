#ifndef ROOTED_SERVICES_RISK_SCORING_SIGNAL_INTAKE_H_
#define ROOTED_SERVICES_RISK_SCORING_SIGNAL_INTAKE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "common/auth/principal.h"
#include "common/identity/pupil_ref.h"
#include "rooted/risk/v1/risk.pb.h"

namespace rooted::risk {

// A signal fit for Kafka: the UPN replaced by the pupil reference, the
// sender's free-text signal id dropped.
struct PseudonymisedSignal {
  std::string pupil_ref;
  std::string school_urn;
  v1::Signal signal;
};

// Who may send signals for `school_urn`: the school's own staff, or a
// service account of the council this deployment serves (bulk loaders).
absl::Status CheckMaySendFor(const Principal& principal, const std::string& la_code,
                             const std::string& school_urn, const std::string& field);

// Validates one signal from a school's system and pseudonymises it.
// INVALID_ARGUMENT or PERMISSION_DENIED with a message that starts with the
// field at fault under `field_prefix` ("signals[3].attendance.code: ...").
// `today` bounds dates: nothing from the future is accepted.
absl::StatusOr<PseudonymisedSignal> PrepareSignal(
    const v1::Signal& signal, const std::string& field_prefix, const Principal& principal,
    const std::string& la_code, const PupilRefHasher& hasher, absl::CivilDay today);

}  // namespace rooted::risk

#endif  // ROOTED_SERVICES_RISK_SCORING_SIGNAL_INTAKE_H_
