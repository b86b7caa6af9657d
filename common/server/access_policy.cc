#include "common/server/access_policy.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace rooted {
namespace cv1 = rooted::common::v1;
namespace {

bool HoldsAnyRole(const Principal& who, const google::protobuf::RepeatedField<int>& roles) {
  return std::any_of(roles.begin(), roles.end(), [&](int role) { return who.HasRole(Role(role)); });
}

bool HoldsThisSeat(const Principal& who, const ForumSeat& seat, bool must_run_forum) {
  if (must_run_forum && !seat.runs_forum) return false;
  if (!seat.subject.empty() && seat.subject != who.subject) return false;
  if (seat.organisation_type != who.organisation_type ||
      seat.organisation_id != who.organisation_id)
    return false;
  return std::any_of(seat.roles.begin(), seat.roles.end(),
                     [&](Role role) { return who.HasRole(role); });
}

bool Contains(const std::vector<std::string>& ids, const std::string& id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

// Whether `scope` lets `who` act, on `owner`'s record when there is one.
bool InScope(cv1::AccessScope scope, const Principal& who, const RecordOwner* owner,
             NamedSchool school) {
  switch (scope) {
    case cv1::ACCESS_SCOPE_ANY_ORGANISATION:
      return true;
    case cv1::ACCESS_SCOPE_OWN_SCHOOL:
      if (who.organisation_type != cv1::ORGANISATION_TYPE_SCHOOL) return false;
      if (owner != nullptr) return owner->school_urn == who.organisation_id;
      // A token naming one council's school and another council is not
      // believed.
      return school.urn.empty() || (school.urn == who.organisation_id &&
                                    (school.council.empty() || school.council == who.la_code));
    case cv1::ACCESS_SCOPE_OWN_COUNCIL:
      if (who.organisation_type != cv1::ORGANISATION_TYPE_COUNCIL) return false;
      if (owner != nullptr) return owner->la_code == who.la_code;
      return school.urn.empty() || school.council == who.la_code;
    case cv1::ACCESS_SCOPE_ALLOCATED_PARTNER:
    case cv1::ACCESS_SCOPE_OWN_PARTNER:
      if (who.organisation_type != cv1::ORGANISATION_TYPE_PARTNER) return false;
      return owner == nullptr ||
             (owner->la_code == who.la_code && Contains(owner->partner_ids, who.organisation_id));
    case cv1::ACCESS_SCOPE_ALLOCATED_LEAD:
      return who.organisation_type == cv1::ORGANISATION_TYPE_PARTNER && owner != nullptr &&
             !owner->lead_subject.empty() && owner->la_code == who.la_code &&
             owner->lead_partner_id == who.organisation_id && owner->lead_subject == who.subject;
    case cv1::ACCESS_SCOPE_FORUM_MEMBER:
    case cv1::ACCESS_SCOPE_FORUM_RUNS:
      return owner != nullptr &&
             HoldsSeat(who, owner->seats, scope == cv1::ACCESS_SCOPE_FORUM_RUNS);
    default:
      return false;
  }
}

std::string ScopeName(cv1::AccessScope scope) {
  switch (scope) {
    case cv1::ACCESS_SCOPE_ANY_ORGANISATION:
      return "any organisation";
    case cv1::ACCESS_SCOPE_OWN_SCHOOL:
      return "own school";
    case cv1::ACCESS_SCOPE_OWN_COUNCIL:
      return "own council";
    case cv1::ACCESS_SCOPE_ALLOCATED_PARTNER:
      return "allocated partner";
    case cv1::ACCESS_SCOPE_OWN_PARTNER:
      return "own partner organisation";
    case cv1::ACCESS_SCOPE_FORUM_MEMBER:
      return "forum member";
    case cv1::ACCESS_SCOPE_FORUM_RUNS:
      return "forum chair or coordinator";
    case cv1::ACCESS_SCOPE_ALLOCATED_LEAD:
      return "the case's allocated lead";
    default:
      return "none";
  }
}

}  // namespace

absl::Status RecordOwners::Unseen(absl::string_view kind, absl::string_view field) const {
  return absl::NotFoundError(absl::StrCat(field, ": no such ", kind));
}

bool HoldsSeat(const Principal& who, const std::vector<ForumSeat>& seats, bool runs_forum) {
  return std::any_of(seats.begin(), seats.end(),
                     [&](const ForumSeat& seat) { return HoldsThisSeat(who, seat, runs_forum); });
}

absl::Status CheckRoles(const AccessRule& rule, const Principal& who, absl::string_view method) {
  for (const cv1::AccessGrant& grant : rule.grants()) {
    if (HoldsAnyRole(who, grant.roles())) return absl::OkStatus();
  }
  return absl::PermissionDeniedError(absl::StrCat(method, ": your role may not call this"));
}

absl::Status CheckScope(const AccessRule& rule, const Principal& who, const RecordOwner* owner,
                        NamedSchool school) {
  for (const cv1::AccessGrant& grant : rule.grants()) {
    if (HoldsAnyRole(who, grant.roles()) && InScope(grant.scope(), who, owner, school)) {
      return absl::OkStatus();
    }
  }
  if (owner != nullptr) {
    // The same answer as for a record that does not exist: a guessed id is not confirmed.
    return absl::NotFoundError(
        absl::StrCat(rule.record().field(), ": no such ", rule.record().kind()));
  }
  if (!rule.school_field().empty() && !school.urn.empty() &&
      who.organisation_type == cv1::ORGANISATION_TYPE_COUNCIL) {
    return absl::PermissionDeniedError(
        absl::StrCat(rule.school_field(), ": not a school of council ", who.la_code,
                     school.council.empty() ? " (the register of schools does not list it)" : ""));
  }
  if (!rule.school_field().empty() && !school.urn.empty()) {
    return absl::PermissionDeniedError(
        absl::StrCat(rule.school_field(), ": you may act only for your own school"));
  }
  return absl::PermissionDeniedError("your organisation may not call this");
}

absl::Status ValidateRule(const AccessRule& rule) {
  if (rule.grants().empty()) return absl::InvalidArgumentError("the rule grants no one");
  for (const cv1::AccessGrant& grant : rule.grants()) {
    if (grant.roles().empty()) return absl::InvalidArgumentError("a grant names no role");
    if (grant.scope() == cv1::ACCESS_SCOPE_UNSPECIFIED)
      return absl::InvalidArgumentError("a grant has no scope");
    const bool forum = grant.scope() == cv1::ACCESS_SCOPE_FORUM_MEMBER ||
                       grant.scope() == cv1::ACCESS_SCOPE_FORUM_RUNS;
    if (forum && rule.record().kind().empty()) {
      return absl::InvalidArgumentError("a forum scope needs the record it is a forum's seat for");
    }
    if (grant.scope() == cv1::ACCESS_SCOPE_ALLOCATED_LEAD && rule.record().kind().empty()) {
      return absl::InvalidArgumentError(
          "the allocated lead's scope needs the record whose lead it is");
    }
  }
  if (rule.record().kind().empty() != rule.record().field().empty()) {
    return absl::InvalidArgumentError("a record relation needs both its kind and its field");
  }
  if (rule.personal_data() == cv1::PERSONAL_DATA_UNSPECIFIED) {
    return absl::InvalidArgumentError(
        "the rule does not say whether the call touches personal data");
  }
  if (rule.personal_data() != cv1::PERSONAL_DATA_NONE && rule.purpose().empty()) {
    return absl::InvalidArgumentError("a call touching personal data needs its purpose");
  }
  return absl::OkStatus();
}

std::string DescribeGrants(const AccessRule& rule) {
  std::vector<std::string> grants;
  for (const cv1::AccessGrant& grant : rule.grants()) {
    std::vector<std::string> roles;
    for (int role : grant.roles()) roles.push_back(RoleName(Role(role)));
    grants.push_back(absl::StrCat(absl::StrJoin(roles, ", "), ": ", ScopeName(grant.scope())));
  }
  return absl::StrJoin(grants, "; ");
}

}  // namespace rooted
