#include "common/auth/principal.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace rooted {
namespace cv1 = rooted::common::v1;

bool Principal::HasRole(Role role) const {
  return std::find(roles.begin(), roles.end(), role) != roles.end();
}

bool Principal::HasAnyRole(std::initializer_list<Role> wanted) const {
  return std::any_of(wanted.begin(), wanted.end(), [&](Role r) { return HasRole(r); });
}

cv1::Actor Principal::ToActor() const {
  cv1::Actor actor;
  actor.set_subject(subject);
  actor.set_role(roles.empty() ? cv1::ROLE_UNSPECIFIED : roles.front());
  actor.mutable_organisation()->set_type(organisation_type);
  actor.mutable_organisation()->set_id(organisation_id);
  return actor;
}

std::string RoleName(Role role) {
  std::string name = cv1::Role_Name(role);
  if (name.rfind("ROLE_", 0) == 0) name = name.substr(5);
  return absl::AsciiStrToLower(name);
}

absl::StatusOr<Role> ParseRoleName(absl::string_view name) {
  Role role = cv1::ROLE_UNSPECIFIED;
  if (!cv1::Role_Parse(absl::StrCat("ROLE_", absl::AsciiStrToUpper(name)), &role) ||
      role == cv1::ROLE_UNSPECIFIED) {
    return absl::InvalidArgumentError(absl::StrCat("unknown role \"", name, "\""));
  }
  return role;
}

bool IsSchoolUrn(absl::string_view text) {
  return text.size() == 6 && std::all_of(text.begin(), text.end(), absl::ascii_isdigit) &&
         text[0] != '0';
}

bool IsLaCode(absl::string_view text) {
  return text.size() == 3 && std::all_of(text.begin(), text.end(), absl::ascii_isdigit);
}

namespace {
bool IsPartnerId(absl::string_view text) {
  return text.size() >= 2 && text.size() <= 64 && std::all_of(text.begin(), text.end(), [](char c) {
           return absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '-';
         });
}
}  // namespace

std::string OrganisationName(OrganisationType type, absl::string_view id) {
  switch (type) {
    case cv1::ORGANISATION_TYPE_SCHOOL:
      return absl::StrCat("school:", id);
    case cv1::ORGANISATION_TYPE_COUNCIL:
      return absl::StrCat("council:", id);
    case cv1::ORGANISATION_TYPE_PARTNER:
      return absl::StrCat("partner:", id);
    default:
      return absl::StrCat("unknown:", id);
  }
}

absl::Status ParseOrganisationName(absl::string_view text, OrganisationType* type,
                                   std::string* id) {
  const size_t colon = text.find(':');
  if (colon == absl::string_view::npos) {
    return absl::InvalidArgumentError("organisation must be type:id, e.g. school:100001");
  }
  const absl::string_view kind = text.substr(0, colon);
  const absl::string_view value = text.substr(colon + 1);
  if (kind == "school" && IsSchoolUrn(value)) {
    *type = cv1::ORGANISATION_TYPE_SCHOOL;
  } else if (kind == "council" && IsLaCode(value)) {
    *type = cv1::ORGANISATION_TYPE_COUNCIL;
  } else if (kind == "partner" && IsPartnerId(value)) {
    *type = cv1::ORGANISATION_TYPE_PARTNER;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("organisation \"", text,
                     "\" is not school:<6-digit URN>, council:<3-digit LA code> or partner:<id>"));
  }
  *id = std::string(value);
  return absl::OkStatus();
}

absl::Status RequireAnyRole(const Principal& principal, absl::string_view method,
                            std::initializer_list<Role> roles) {
  if (principal.HasAnyRole(roles)) return absl::OkStatus();
  std::string allowed;
  for (Role role : roles) absl::StrAppend(&allowed, allowed.empty() ? "" : ", ", RoleName(role));
  return absl::PermissionDeniedError(absl::StrCat(method, " needs one of the roles: ", allowed));
}

bool ActsForSchool(const Principal& principal) {
  return principal.HasAnyRole(
             {rooted::common::v1::ROLE_SCHOOL_STAFF, rooted::common::v1::ROLE_SCHOOL_LEAD}) &&
         principal.organisation_type == rooted::common::v1::ORGANISATION_TYPE_SCHOOL;
}

bool ActsForCouncil(const Principal& principal) {
  return principal.HasAnyRole({rooted::common::v1::ROLE_COUNCIL_OFFICER,
                               rooted::common::v1::ROLE_FORUM_COORDINATOR}) &&
         principal.organisation_type == rooted::common::v1::ORGANISATION_TYPE_COUNCIL;
}

}  // namespace rooted
