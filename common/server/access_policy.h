#ifndef ROOTED_COMMON_SERVER_ACCESS_POLICY_H_
#define ROOTED_COMMON_SERVER_ACCESS_POLICY_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/auth/principal.h"
#include "rooted/common/v1/access.pb.h"

namespace rooted {

using AccessRule = rooted::common::v1::AccessRule;

// A seat on a forum, as the forum's own membership records hold it. A person
// holds it when the token's organisation is the seat's and one of the token's
// roles is among `roles`, and, for a named seat (chair, coordinator), the
// subject is the seat's too.
struct ForumSeat {
  std::string subject;  // empty: anyone of the organisation
  OrganisationType organisation_type = rooted::common::v1::ORGANISATION_TYPE_UNSPECIFIED;
  std::string organisation_id;
  std::vector<Role> roles;
  bool runs_forum = false;  // the chair's or the coordinator's seat
};

// Who owns a record, as the service that keeps it knows.
struct RecordOwner {
  std::string la_code;
  std::string school_urn;                // empty: no school owns it
  std::vector<std::string> partner_ids;  // partners it is allocated to, or that own it
  std::vector<ForumSeat> seats;          // for a forum's records
  // The lead its case is allocated to (subject, in partner `lead_partner_id`).
  std::string lead_subject;
  std::string lead_partner_id;
  // The child the record is about, when it is one child's: named in the
  // audit entry of every call on it, refused or not.
  std::string pupil_ref;
};

// The one small interface through which the shared RPC path asks a service
// who owns the record a call names. Thread safety: called from any thread.
class RecordOwners {
 public:
  virtual ~RecordOwners() = default;
  // Whether this service keeps records of `kind`.
  virtual bool Keeps(absl::string_view kind) const = 0;
  // NOT_FOUND when there is no such record.
  virtual absl::StatusOr<RecordOwner> OwnerOf(absl::string_view kind,
                                              const std::string& id) const = 0;
  // The answer for a record (named by `field`) that does not exist or that
  // the caller may not see: one answer for both, so a guessed id is not
  // confirmed. NOT_FOUND unless a kind says otherwise (one learnt from
  // events may just not have arrived yet).
  virtual absl::Status Unseen(absl::string_view kind, absl::string_view field) const;
};

// Whether the caller holds one of `seats` (with `runs_forum`, the chair's or
// the coordinator's).
bool HoldsSeat(const Principal& who, const std::vector<ForumSeat>& seats, bool runs_forum);

// The rule's grants have a role the caller holds: else PERMISSION_DENIED
// naming the method.
absl::Status CheckRoles(const AccessRule& rule, const Principal& who, absl::string_view method);

// The school a request names (empty when the rule names no school field or
// the request leaves it empty) and its council as the register of schools
// lists it (empty when the school is not listed or no register is kept).
struct NamedSchool {
  absl::string_view urn;
  absl::string_view council;
};

// Whether a grant the caller holds a role of lets them act. With `owner`
// (the record the call names) a refusal is NOT_FOUND naming `record_field`,
// the answer for a record that does not exist. Otherwise `school` is the
// school the request names: another school is PERMISSION_DENIED naming
// `school_field`, and a council officer acts only for a school the register
// lists under their own council (an unlisted school is not theirs).
absl::Status CheckScope(const AccessRule& rule, const Principal& who, const RecordOwner* owner,
                        NamedSchool school = {});

// The rule is whole: at least one grant, each with roles and a scope, forum
// scopes only with a record, and personal data declared.
absl::Status ValidateRule(const AccessRule& rule);

// "school_staff, school_lead: own school; council_officer: own council", for
// the README's table and error messages.
std::string DescribeGrants(const AccessRule& rule);

}  // namespace rooted

#endif  // ROOTED_COMMON_SERVER_ACCESS_POLICY_H_
