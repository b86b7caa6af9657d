#ifndef ROOTED_SERVICES_REFERRAL_INTAKE_REFERRAL_EVENTS_H_
#define ROOTED_SERVICES_REFERRAL_INTAKE_REFERRAL_EVENTS_H_

#include <string>
#include <vector>

#include "rooted/referral/v1/referral.pb.h"
#include "rooted/referral/v1/referral_events.pb.h"

namespace rooted::referral {

// The event payloads a referral's changes publish. They carry the pupil
// reference and coded facts only: no UPN, name, date of birth or free text.
v1::ReferralEvent ReferralSubmittedEvent(const v1::Referral& referral);
v1::ReferralEvent ReferralUpdatedEvent(const v1::Referral& referral,
                                       const std::vector<std::string>& changed_fields);
v1::ReferralEvent ReferralWithdrawnEvent(const v1::Referral& referral);
v1::ReferralEvent ConsentRecordedEvent(const v1::Referral& referral);
v1::ReferralEvent CaseClosedEvent(const v1::Referral& referral);


}  // namespace rooted::referral

#endif  // ROOTED_SERVICES_REFERRAL_INTAKE_REFERRAL_EVENTS_H_
