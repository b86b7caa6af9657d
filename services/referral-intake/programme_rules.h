#ifndef ROOTED_SERVICES_REFERRAL_INTAKE_PROGRAMME_RULES_H_
#define ROOTED_SERVICES_REFERRAL_INTAKE_PROGRAMME_RULES_H_

#include <string>

#include "absl/status/status.h"
#include "rooted/referral/v1/programme.pb.h"
#include "rooted/risk/v1/risk_events.pb.h"

namespace rooted::referral {

// What one rule makes of a referral: it holds, it does not, or the evidence
// it needs is missing. `explanation` says why in words, with the figures.
struct RuleVerdict {
  enum class Kind { kHolds, kFails, kUnknown };
  Kind kind = Kind::kUnknown;
  std::string explanation;
};

RuleVerdict EvaluateRule(const v1::ScopeRule& rule, const v1::ReferralDetails& details,
                         const rooted::risk::v1::AttendanceEvidence& evidence);

// A referral screened against a programme: the first out-of-scope rule that
// holds redirects (or declines) the child; otherwise the first in-scope rule
// that fails declines them; a rule without its evidence sends the referral
// to a council officer; and if every in-scope rule holds, accepted.
// Fills outcome, rule_id, reason, pathway and programme version.
v1::Screening Screen(const v1::Programme& programme, const v1::ReferralDetails& details,
                     const rooted::risk::v1::AttendanceEvidence& evidence);

// INVALID_ARGUMENT naming the field (programme.in_scope[2].attendance_below.threshold_bp).
absl::Status ValidateProgramme(const v1::Programme& programme);

}  // namespace rooted::referral

#endif  // ROOTED_SERVICES_REFERRAL_INTAKE_PROGRAMME_RULES_H_
