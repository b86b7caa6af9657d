#include "services/referral-intake/referral_validation.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "common/auth/principal.h"
#include "common/base/field_validation.h"
#include "common/base/ids.h"
#include "common/base/proto_date.h"
#include "common/base/status_macros.h"
#include "common/identity/needs_taxonomy.h"
#include "common/identity/upn.h"

namespace rooted::referral {
namespace rv1 = rooted::referral::v1;
namespace {

constexpr int kMaxListItems = 20;

absl::Status ValidateList(absl::string_view path,
                          const google::protobuf::RepeatedPtrField<std::string>& items,
                          size_t max_chars) {
  if (items.size() > kMaxListItems) {
    return FieldError(path, absl::StrCat("at most ", kMaxListItems, " items"));
  }
  for (int i = 0; i < items.size(); ++i) {
    RETURN_IF_ERROR(ValidateText(absl::StrCat(path, "[", i, "]"), items[i], max_chars, true));
  }
  return absl::OkStatus();
}

bool IsValidDate(const rooted::common::v1::Date& d) {
  return FromProtoDate(d).ok() && d.year() <= 2200;
}

absl::Status ValidateEmail(absl::string_view path, absl::string_view email) {
  RETURN_IF_ERROR(ValidateText(path, email, 254, true));
  const size_t at = email.find('@');
  if (at == absl::string_view::npos || at == 0 || at + 1 >= email.size() ||
      email.find('@', at + 1) != absl::string_view::npos ||
      email.find('.', at) == absl::string_view::npos ||
      email.find(' ') != absl::string_view::npos) {
    return FieldError(path, "is not an email address");
  }
  return absl::OkStatus();
}

absl::Status ValidatePhone(absl::string_view path, absl::string_view phone) {
  if (phone.empty()) return absl::OkStatus();
  if (phone.size() > 20) return FieldError(path, "at most 20 characters");
  for (char c : phone) {
    if (!((c >= '0' && c <= '9') || c == ' ' || c == '+' || c == '(' || c == ')' || c == '-')) {
      return FieldError(path, "may hold only digits, spaces and + ( ) -");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateChild(const rv1::Child& child, absl::Time now, absl::string_view path) {
  if (absl::StatusOr<Upn> upn = ParseUpn(child.upn()); !upn.ok()) {
    return FieldError(absl::StrCat(path, ".upn"), upn.status().message());
  }
  RETURN_IF_ERROR(ValidateText(absl::StrCat(path, ".given_name"), child.given_name(), 100, true));
  RETURN_IF_ERROR(ValidateText(absl::StrCat(path, ".family_name"), child.family_name(), 100, true));
  const std::string dob_path = absl::StrCat(path, ".date_of_birth");
  if (!child.has_date_of_birth()) return FieldError(dob_path, "is required");
  if (!IsValidDate(child.date_of_birth())) return FieldError(dob_path, "is not a calendar date");
  const absl::CivilDay today = absl::ToCivilDay(now, absl::UTCTimeZone());
  const absl::CivilDay born(child.date_of_birth().year(), child.date_of_birth().month(),
                            child.date_of_birth().day());
  const int64_t age_days = today - born;
  if (age_days < 2 * 365) return FieldError(dob_path, "child must be at least 2 years old");
  if (age_days > 25 * 366) return FieldError(dob_path, "child must be under 25");
  if (child.year_group() < 0 || child.year_group() > 14) {
    return FieldError(absl::StrCat(path, ".year_group"), "must be 0 (reception) to 14");
  }
  if (!IsSchoolUrn(child.school_urn())) {
    return FieldError(absl::StrCat(path, ".school_urn"), "must be a 6-digit URN");
  }
  return absl::OkStatus();
}

absl::Status ValidateRiskAssessment(const rv1::RiskAssessment& risk, absl::string_view path) {
  if (risk.level() == rv1::RISK_LEVEL_UNSPECIFIED || !rv1::RiskLevel_IsValid(risk.level())) {
    return FieldError(absl::StrCat(path, ".level"), "must be low, medium or high");
  }
  RETURN_IF_ERROR(ValidateList(absl::StrCat(path, ".risks"), risk.risks(), 500));
  return ValidateText(absl::StrCat(path, ".safety_plan"), risk.safety_plan(), 4000, false, true);
}

}  // namespace

absl::Status ValidateReferralId(absl::string_view field, absl::string_view referral_id) {
  return ValidateId(field, referral_id, "a referral id");
}

absl::Status ValidateConsent(const rv1::Consent& consent, absl::string_view path) {
  if (consent.status() == rv1::CONSENT_STATUS_UNSPECIFIED ||
      !rv1::ConsentStatus_IsValid(consent.status())) {
    return FieldError(absl::StrCat(path, ".status"), "must be given, refused or withdrawn");
  }
  RETURN_IF_ERROR(ValidateText(absl::StrCat(path, ".note"), consent.note(), 1000, false, true));
  if (consent.status() != rv1::CONSENT_STATUS_GIVEN) return absl::OkStatus();
  RETURN_IF_ERROR(
      ValidateText(absl::StrCat(path, ".given_by_name"), consent.given_by_name(), 100, true));
  if (consent.given_by_relationship() == rv1::RELATIONSHIP_UNSPECIFIED ||
      !rv1::Relationship_IsValid(consent.given_by_relationship())) {
    return FieldError(absl::StrCat(path, ".given_by_relationship"), "is required");
  }
  if (consent.scopes().empty()) {
    return FieldError(absl::StrCat(path, ".scopes"), "name at least one use consented to");
  }
  std::set<int> seen;
  for (int i = 0; i < consent.scopes_size(); ++i) {
    const int scope = consent.scopes(i);
    if (scope == rv1::CONSENT_SCOPE_UNSPECIFIED || !rv1::ConsentScope_IsValid(scope) ||
        !seen.insert(scope).second) {
      return FieldError(absl::StrCat(path, ".scopes[", i, "]"), "unknown or repeated scope");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateDetails(const rv1::ReferralDetails& d, absl::Time now,
                             absl::string_view path) {
  if (!d.has_child()) return FieldError(absl::StrCat(path, ".child"), "is required");
  RETURN_IF_ERROR(ValidateChild(d.child(), now, absl::StrCat(path, ".child")));
  const std::string referrer = absl::StrCat(path, ".referrer");
  RETURN_IF_ERROR(ValidateText(absl::StrCat(referrer, ".name"), d.referrer().name(), 100, true));
  RETURN_IF_ERROR(
      ValidateText(absl::StrCat(referrer, ".job_title"), d.referrer().job_title(), 100, true));
  RETURN_IF_ERROR(ValidateEmail(absl::StrCat(referrer, ".email"), d.referrer().email()));
  RETURN_IF_ERROR(ValidatePhone(absl::StrCat(referrer, ".phone"), d.referrer().phone()));

  const std::string reasons = absl::StrCat(path, ".reasons_for_concern");
  if (d.reasons_for_concern().empty()) return FieldError(reasons, "give at least one reason");
  if (d.reasons_for_concern_size() > kMaxListItems) {
    return FieldError(reasons, absl::StrCat("at most ", kMaxListItems, " items"));
  }
  for (int i = 0; i < d.reasons_for_concern_size(); ++i) {
    const rv1::ConcernReason& r = d.reasons_for_concern(i);
    const std::string item = absl::StrCat(reasons, "[", i, "]");
    if (r.category() == rv1::CONCERN_CATEGORY_UNSPECIFIED ||
        !rv1::ConcernCategory_IsValid(r.category())) {
      return FieldError(absl::StrCat(item, ".category"), "is required");
    }
    RETURN_IF_ERROR(ValidateText(absl::StrCat(item, ".detail"), r.detail(), 2000, true, true));
  }

  const std::string needs = absl::StrCat(path, ".needs");
  if (d.needs().empty()) return FieldError(needs, "name at least one need");
  if (d.needs_size() > kMaxListItems) {
    return FieldError(needs, absl::StrCat("at most ", kMaxListItems, " items"));
  }
  std::set<std::string> seen_terms;
  for (int i = 0; i < d.needs_size(); ++i) {
    const auto& need = d.needs(i);
    const std::string item = absl::StrCat(needs, "[", i, "]");
    if (!IsKnownNeedsTerm(need.term_id())) {
      return FieldError(absl::StrCat(item, ".term_id"), "is not a term of the needs taxonomy");
    }
    if (!seen_terms.insert(need.term_id()).second) {
      return FieldError(absl::StrCat(item, ".term_id"), "is listed twice");
    }
    if (need.severity() == rooted::common::v1::SEVERITY_UNSPECIFIED ||
        !rooted::common::v1::Severity_IsValid(need.severity())) {
      return FieldError(absl::StrCat(item, ".severity"), "is required");
    }
  }
  RETURN_IF_ERROR(ValidateList(absl::StrCat(path, ".strengths"), d.strengths(), 500));
  RETURN_IF_ERROR(
      ValidateList(absl::StrCat(path, ".strategies_that_worked"), d.strategies_that_worked(), 500));
  if (!d.has_risk_assessment()) {
    return FieldError(absl::StrCat(path, ".risk_assessment"), "is required");
  }
  RETURN_IF_ERROR(
      ValidateRiskAssessment(d.risk_assessment(), absl::StrCat(path, ".risk_assessment")));
  RETURN_IF_ERROR(
      ValidateList(absl::StrCat(path, ".resource_requirements"), d.resource_requirements(), 500));
  const std::string agencies = absl::StrCat(path, ".other_agencies");
  if (d.other_agencies_size() > kMaxListItems) {
    return FieldError(agencies, absl::StrCat("at most ", kMaxListItems, " items"));
  }
  for (int i = 0; i < d.other_agencies_size(); ++i) {
    const auto& a = d.other_agencies(i);
    const std::string item = absl::StrCat(agencies, "[", i, "]");
    if (a.agency_type() == rooted::common::v1::AGENCY_TYPE_UNSPECIFIED ||
        !rooted::common::v1::AgencyType_IsValid(a.agency_type())) {
      return FieldError(absl::StrCat(item, ".agency_type"), "is required");
    }
    RETURN_IF_ERROR(
        ValidateText(absl::StrCat(item, ".organisation_name"), a.organisation_name(), 200, false));
    RETURN_IF_ERROR(ValidateText(absl::StrCat(item, ".worker_role"), a.worker_role(), 100, false));
  }
  const std::string consent = absl::StrCat(path, ".consent");
  if (!d.has_consent()) return FieldError(consent, "is required");
  RETURN_IF_ERROR(ValidateConsent(d.consent(), consent));
  // Sharing with the forum needs consent for it, unless there is an immediate
  // safeguarding concern (sharing without consent is then lawful and expected).
  if (d.refer_to_forum() && !d.risk_assessment().immediate_safeguarding_concern()) {
    bool forum_consented = false;
    if (d.consent().status() == rv1::CONSENT_STATUS_GIVEN) {
      for (int scope : d.consent().scopes()) forum_consented |= scope == rv1::CONSENT_SCOPE_FORUM;
    }
    if (!forum_consented) {
      return FieldError(absl::StrCat(consent, ".scopes"),
                        "referring to the forum needs consent with the forum scope");
    }
  }
  if (!d.programme_id().empty()) {
    RETURN_IF_ERROR(ValidateId(absl::StrCat(path, ".programme_id"), d.programme_id(), "a programme id"));
  }
  return absl::OkStatus();
}

absl::Status ValidateUpdateMask(const google::protobuf::FieldMask& mask) {
  static const std::set<std::string> kUpdatable = {"child.given_name",
                                                   "child.family_name",
                                                   "child.date_of_birth",
                                                   "child.year_group",
                                                   "referrer",
                                                   "reasons_for_concern",
                                                   "needs",
                                                   "strengths",
                                                   "strategies_that_worked",
                                                   "risk_assessment",
                                                   "resource_requirements",
                                                   "other_agencies",
                                                   "refer_to_forum"};
  if (mask.paths().empty()) return FieldError("update_mask", "name at least one field to change");
  for (int i = 0; i < mask.paths_size(); ++i) {
    const std::string& p = mask.paths(i);
    if (p == "child.upn" || p == "child.school_urn" || p == "child") {
      return FieldError(absl::StrCat("update_mask.paths[", i, "]"),
                        "the child's UPN and school cannot change; withdraw and refer again");
    }
    if (p == "consent") {
      return FieldError(absl::StrCat("update_mask.paths[", i, "]"), "use RecordConsent");
    }
    if (!kUpdatable.contains(p)) {
      return FieldError(absl::StrCat("update_mask.paths[", i, "]"), "is not an updatable field");
    }
  }
  return absl::OkStatus();
}

std::string Initials(absl::string_view given_name, absl::string_view family_name) {
  auto first_character = [](absl::string_view name) -> std::string {
    const size_t start = name.find_first_not_of(' ');
    if (start == absl::string_view::npos) return "";
    const int length = Utf8SequenceLength(static_cast<unsigned char>(name[start]));
    if (length == 0) return "";
    std::string out(name.substr(start, static_cast<size_t>(length)));
    if (length == 1) out[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[0])));
    return out + ".";
  };
  return first_character(given_name) + first_character(family_name);
}

}  // namespace rooted::referral
