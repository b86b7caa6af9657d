#ifndef ROOTED_COMMON_AUTH_PRINCIPAL_H_
#define ROOTED_COMMON_AUTH_PRINCIPAL_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "rooted/common/v1/common.pb.h"

namespace rooted {

using Role = rooted::common::v1::Role;
using OrganisationType = rooted::common::v1::OrganisationType;

// Who is calling, as their verified token says.
struct Principal {
  std::string subject;
  std::vector<Role> roles;
  OrganisationType organisation_type = rooted::common::v1::ORGANISATION_TYPE_UNSPECIFIED;
  std::string organisation_id;
  // The council the caller's organisation belongs to.
  std::string la_code;

  bool HasRole(Role role) const;
  bool HasAnyRole(std::initializer_list<Role> roles) const;
  bool IsSchool(absl::string_view urn) const {
    return organisation_type == rooted::common::v1::ORGANISATION_TYPE_SCHOOL &&
           organisation_id == urn;
  }
  // The actor recorded on events and audit entries (the first role given).
  rooted::common::v1::Actor ToActor() const;
};

// "school_staff" <-> ROLE_SCHOOL_STAFF, the spelling used in tokens.
std::string RoleName(Role role);
absl::StatusOr<Role> ParseRoleName(absl::string_view name);

// "school:100001" <-> (ORGANISATION_TYPE_SCHOOL, "100001"). School ids are
// 6-digit URNs, council ids 3-digit LA codes, partner ids [a-z0-9-]{2,64}.
std::string OrganisationName(OrganisationType type, absl::string_view id);
absl::Status ParseOrganisationName(absl::string_view text, OrganisationType* type, std::string* id);

bool IsSchoolUrn(absl::string_view text);
bool IsLaCode(absl::string_view text);

// School staff or leads speaking for their school (organisation_id is its URN).
bool ActsForSchool(const Principal& principal);
// Council officers or forum coordinators speaking for their council.
bool ActsForCouncil(const Principal& principal);

// PERMISSION_DENIED naming the method unless the principal has one of `roles`.
absl::Status RequireAnyRole(const Principal& principal, absl::string_view method,
                            std::initializer_list<Role> roles);

}  // namespace rooted

#endif  // ROOTED_COMMON_AUTH_PRINCIPAL_H_
