#ifndef ROOTED_SERVICES_REFERRAL_INTAKE_INTAKE_OPTIONS_H_
#define ROOTED_SERVICES_REFERRAL_INTAKE_INTAKE_OPTIONS_H_

#include <string>

namespace rooted::referral {

// What every referral-intake API stamps on its events and audit entries.
struct IntakeOptions {
  // The information-sharing agreement recorded on audit entries.
  std::string sharing_agreement = "local-pilot";
  std::string producer_name = "referral-intake";
};

}  // namespace rooted::referral

#endif  // ROOTED_SERVICES_REFERRAL_INTAKE_INTAKE_OPTIONS_H_
