#ifndef ROOTED_SERVICES_REFERRAL_INTAKE_REFERRAL_OWNERS_H_
#define ROOTED_SERVICES_REFERRAL_INTAKE_REFERRAL_OWNERS_H_

#include "common/server/access_policy.h"
#include "services/referral-intake/referral_store.h"

namespace rooted::referral {

// Who owns a referral, for the access rules that name one ("referral"): its
// school, its council and the partners its case is allocated to. Casework and
// screening are the referral's, so their rules name the referral too.
class ReferralOwners final : public RecordOwners {
 public:
  explicit ReferralOwners(ReferralStore& store) : store_(store) {}
  bool Keeps(absl::string_view kind) const override { return kind == "referral"; }
  absl::StatusOr<RecordOwner> OwnerOf(absl::string_view kind, const std::string& id) const override;

 private:
  ReferralStore& store_;
};

}  // namespace rooted::referral

#endif  // ROOTED_SERVICES_REFERRAL_INTAKE_REFERRAL_OWNERS_H_
