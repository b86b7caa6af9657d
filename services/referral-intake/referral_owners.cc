#include "services/referral-intake/referral_owners.h"

#include "common/base/status_macros.h"

namespace rooted::referral {

absl::StatusOr<RecordOwner> ReferralOwners::OwnerOf(absl::string_view kind,
                                                    const std::string& id) const {
  if (!Keeps(kind)) return absl::NotFoundError("no such record");
  ASSIGN_OR_RETURN(const v1::Referral referral, store_.Get(id));
  RecordOwner owner;
  owner.la_code = referral.la_code();
  owner.school_urn = referral.details().child().school_urn();
  owner.partner_ids.assign(referral.allocated_partner_ids().begin(),
                           referral.allocated_partner_ids().end());
  owner.pupil_ref = referral.pupil_ref().value();
  if (kind == "casework") {
    // No casework yet: no lead, so no one acts as its lead.
    absl::StatusOr<Versioned<v1::Casework>> casework =
        casework_.Load<v1::Casework>(casework_.CaseworkKey(id), "referral_id");
    if (!casework.ok() && !absl::IsNotFound(casework.status())) return casework.status();
    if (casework.ok()) {
      owner.lead_subject = casework->record.allocation().lead_subject();
      owner.lead_partner_id = casework->record.allocation().partner_id();
    }
  }
  return owner;
}

}  // namespace rooted::referral
