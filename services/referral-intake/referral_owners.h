#ifndef ROOTED_SERVICES_REFERRAL_INTAKE_REFERRAL_OWNERS_H_
#define ROOTED_SERVICES_REFERRAL_INTAKE_REFERRAL_OWNERS_H_

#include "common/server/access_policy.h"
#include "services/referral-intake/casework_service.h"
#include "services/referral-intake/referral_store.h"

namespace rooted::referral {

// Who owns a referral, for the access rules that name one ("referral"): its
// school, its council and the partners its case is allocated to. Screening
// is the referral's, so its rules name the referral too. A referral's
// casework ("casework", by referral id) is the referral's with the lead its
// case is allocated to, for the rules only that lead may act under.
class ReferralOwners final : public RecordOwners {
 public:
  ReferralOwners(ReferralStore& store, CaseworkStore& casework)
      : store_(store), casework_(casework) {}
  bool Keeps(absl::string_view kind) const override {
    return kind == "referral" || kind == "casework";
  }
  absl::StatusOr<RecordOwner> OwnerOf(absl::string_view kind, const std::string& id) const override;

 private:
  ReferralStore& store_;
  CaseworkStore& casework_;
};

}  // namespace rooted::referral

#endif  // ROOTED_SERVICES_REFERRAL_INTAKE_REFERRAL_OWNERS_H_
