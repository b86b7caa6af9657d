#ifndef ROOTED_SERVICES_REFERRAL_INTAKE_REFERRAL_VALIDATION_H_
#define ROOTED_SERVICES_REFERRAL_INTAKE_REFERRAL_VALIDATION_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/base/field_validation.h"
#include "rooted/referral/v1/referral.pb.h"

namespace rooted::referral {

// Validation at the edge, once. Every error is INVALID_ARGUMENT and starts
// with the path of the field at fault ("details.child.upn: check letter does
// not match"). Messages never repeat the value given: it may be personal data.

absl::Status ValidateReferralId(absl::string_view field, absl::string_view referral_id);

// `path` is where the details sit in the request, normally "details".
absl::Status ValidateDetails(const rooted::referral::v1::ReferralDetails& details, absl::Time now,
                             absl::string_view path = "details");

absl::Status ValidateConsent(const rooted::referral::v1::Consent& consent, absl::string_view path);

// The paths UpdateReferral accepts in update_mask.
absl::Status ValidateUpdateMask(const google::protobuf::FieldMask& mask);

// Initials for list screens ("A.B."), first letters of the given and family names.
std::string Initials(absl::string_view given_name, absl::string_view family_name);

}  // namespace rooted::referral

#endif  // ROOTED_SERVICES_REFERRAL_INTAKE_REFERRAL_VALIDATION_H_
