#include "services/referral-intake/referral_owners.h"

#include "common/base/status_macros.h"

namespace rooted::referral {

absl::StatusOr<RecordOwner> ReferralOwners::OwnerOf(absl::string_view kind,
                                                    const std::string& id) const {
  if (kind != "referral") return absl::NotFoundError("no such record");
  ASSIGN_OR_RETURN(const v1::Referral referral, store_.Get(id));
  RecordOwner owner;
  owner.la_code = referral.la_code();
  owner.school_urn = referral.details().child().school_urn();
  owner.partner_ids.assign(referral.allocated_partner_ids().begin(),
                           referral.allocated_partner_ids().end());
  owner.pupil_ref = referral.pupil_ref().value();
  return owner;
}

}  // namespace rooted::referral
