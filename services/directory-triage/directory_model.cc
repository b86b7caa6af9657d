#include "services/directory-triage/directory_model.h"

#include <cmath>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/auth/principal.h"
#include "common/base/field_validation.h"
#include "common/base/proto_date.h"
#include "common/base/status_macros.h"

namespace rooted::directory {
namespace {

constexpr int kMaxTerms = 20;
constexpr int kMaxLocations = 50;
constexpr int kMaxAreas = 50;

bool IsAreaCode(absl::string_view code) {
  if (code.empty() || code.size() > 20) return false;
  for (char c : code) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
  }
  return true;
}

bool IsLanguageCode(absl::string_view code) {
  if (code.size() < 2 || code.size() > 3) return false;
  for (char c : code) {
    if (!absl::ascii_islower(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

absl::Status ValidateEligibility(const v1::Eligibility& e) {
  if (e.minimum_age() < 0 || e.minimum_age() > 120) {
    return FieldError("service.eligibility.minimum_age", "0 to 120");
  }
  if (e.maximum_age() < 0 || e.maximum_age() > 120 ||
      (e.maximum_age() != 0 && e.maximum_age() < e.minimum_age())) {
    return FieldError("service.eligibility.maximum_age", "0 (none) or from minimum_age to 120");
  }
  // Reception is 0, Year 13 is 13; 0 and 0 means no year-group rule.
  if (e.minimum_year_group() < 0 || e.minimum_year_group() > 14) {
    return FieldError("service.eligibility.minimum_year_group", "0 (Reception) to 14");
  }
  if (e.maximum_year_group() < 0 || e.maximum_year_group() > 14 ||
      (e.maximum_year_group() != 0 && e.maximum_year_group() < e.minimum_year_group())) {
    return FieldError("service.eligibility.maximum_year_group",
                      "0 (none) or from minimum_year_group to 14");
  }
  if (e.area_codes_size() > kMaxAreas) {
    return FieldError("service.eligibility.area_codes", absl::StrCat("at most ", kMaxAreas));
  }
  for (int i = 0; i < e.area_codes_size(); ++i) {
    if (!IsAreaCode(e.area_codes(i))) {
      return FieldError(absl::StrCat("service.eligibility.area_codes[", i, "]"),
                        "1 to 20 letters, digits or '-'");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateLocation(const v1::Location& l, const std::string& path) {
  RETURN_IF_ERROR(ValidateText(path + ".name", l.name(), 200, false));
  if (!l.postcode().empty() && PostcodeDistrict(l.postcode()).empty()) {
    return FieldError(path + ".postcode", "not a UK postcode");
  }
  if (l.latitude_e6() < -90'000'000 || l.latitude_e6() > 90'000'000) {
    return FieldError(path + ".latitude_e6", "-90 to 90 degrees in microdegrees");
  }
  if (l.longitude_e6() < -180'000'000 || l.longitude_e6() > 180'000'000) {
    return FieldError(path + ".longitude_e6", "-180 to 180 degrees in microdegrees");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateRecordId(absl::string_view path, absl::string_view id) {
  bool ok = !id.empty() && id.size() <= 100;
  for (char c : id) {
    ok = ok && (absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' ||
                c == ':' || c == '-');
  }
  return ok ? absl::OkStatus() : FieldError(path, "1 to 100 letters, digits, '.', '_', ':' or '-'");
}

absl::Status ValidateOrganization(const v1::Organization& o) {
  RETURN_IF_ERROR(ValidateText("organization.name", o.name(), 200, true));
  RETURN_IF_ERROR(ValidateText("organization.description", o.description(), 4000, false, true));
  RETURN_IF_ERROR(ValidateText("organization.website", o.website(), 300, false));
  RETURN_IF_ERROR(ValidateText("organization.email", o.email(), 200, false));
  if (!o.email().empty() && o.email().find('@') == std::string::npos) {
    return FieldError("organization.email", "not an email address");
  }
  const rooted::common::v1::OrganisationRef& ref = o.ref();
  if (ref.type() != rooted::common::v1::ORGANISATION_TYPE_UNSPECIFIED) {
    const bool ok = (ref.type() == rooted::common::v1::ORGANISATION_TYPE_PARTNER &&
                     ValidateId("", ref.id(), "").ok()) ||
                    (ref.type() == rooted::common::v1::ORGANISATION_TYPE_COUNCIL && IsLaCode(ref.id())) ||
                    (ref.type() == rooted::common::v1::ORGANISATION_TYPE_SCHOOL && IsSchoolUrn(ref.id()));
    if (!ok) return FieldError("organization.ref", "a partner id, LA code or school URN");
  }
  return absl::OkStatus();
}

absl::Status ValidateCapacity(const v1::ServiceCapacity& c, absl::string_view path) {
  if (c.maximum() < 0 || c.maximum() > 100'000) {
    return FieldError(absl::StrCat(path, ".maximum"), "0 to 100,000");
  }
  if (c.available() < 0 || (c.maximum() > 0 && c.available() > c.maximum())) {
    return FieldError(absl::StrCat(path, ".available"), "0 to maximum");
  }
  if (c.waiting_time_days() < 0 || c.waiting_time_days() > 730) {
    return FieldError(absl::StrCat(path, ".waiting_time_days"), "0 to 730");
  }
  return absl::OkStatus();
}

absl::Status ValidateService(const v1::Service& s, const TermCheck& known_term) {
  RETURN_IF_ERROR(ValidateRecordId("service.organization_id", s.organization_id()));
  RETURN_IF_ERROR(ValidateText("service.name", s.name(), 200, true));
  RETURN_IF_ERROR(ValidateText("service.description", s.description(), 4000, false, true));
  RETURN_IF_ERROR(ValidateText("service.url", s.url(), 300, false));
  RETURN_IF_ERROR(ValidateText("service.email", s.email(), 200, false));
  if (s.taxonomy_term_ids().empty() || s.taxonomy_term_ids_size() > kMaxTerms) {
    return FieldError("service.taxonomy_term_ids",
                      absl::StrCat("name 1 to ", kMaxTerms, " needs the service meets"));
  }
  std::set<std::string> terms;
  for (int i = 0; i < s.taxonomy_term_ids_size(); ++i) {
    if (!known_term(s.taxonomy_term_ids(i)) || !terms.insert(s.taxonomy_term_ids(i)).second) {
      return FieldError(absl::StrCat("service.taxonomy_term_ids[", i, "]"),
                        "not a term of the needs taxonomy, or repeated");
    }
  }
  RETURN_IF_ERROR(ValidateEligibility(s.eligibility()));
  if (s.cost_options_size() > 10) return FieldError("service.cost_options", "at most 10");
  for (int i = 0; i < s.cost_options_size(); ++i) {
    const v1::CostOption& c = s.cost_options(i);
    const std::string path = absl::StrCat("service.cost_options[", i, "]");
    if (!c.free() && (c.amount().pence() <= 0 || c.amount().currency() != "GBP")) {
      return FieldError(path + ".amount", "a positive amount in GBP pence, or free");
    }
    RETURN_IF_ERROR(ValidateText(path + ".amount_description", c.amount_description(), 200, false));
  }
  if (s.locations_size() > kMaxLocations) {
    return FieldError("service.locations", absl::StrCat("at most ", kMaxLocations));
  }
  for (int i = 0; i < s.locations_size(); ++i) {
    RETURN_IF_ERROR(ValidateLocation(s.locations(i), absl::StrCat("service.locations[", i, "]")));
  }
  if (s.schedules_size() > 20) return FieldError("service.schedules", "at most 20");
  for (int i = 0; i < s.schedules_size(); ++i) {
    const v1::Schedule& sc = s.schedules(i);
    const std::string path = absl::StrCat("service.schedules[", i, "]");
    RETURN_IF_ERROR(ValidateText(path + ".rrule", sc.rrule(), 200, false));
    if (!sc.rrule().empty() && sc.rrule().rfind("FREQ=", 0) != 0) {
      return FieldError(path + ".rrule", "an RFC 5545 RRULE starting FREQ=");
    }
    if (sc.opens_at_minute() < 0 || sc.closes_at_minute() > 24 * 60 ||
        sc.closes_at_minute() < sc.opens_at_minute()) {
      return FieldError(path + ".closes_at_minute", "opening minutes within the day, closing after");
    }
  }
  if (s.languages_size() > 20) return FieldError("service.languages", "at most 20");
  for (int i = 0; i < s.languages_size(); ++i) {
    if (!IsLanguageCode(s.languages(i))) {
      return FieldError(absl::StrCat("service.languages[", i, "]"), "an ISO 639 code such as \"en\"");
    }
  }
  if (s.contacts_size() > 10) return FieldError("service.contacts", "at most 10");
  for (int i = 0; i < s.contacts_size(); ++i) {
    const std::string path = absl::StrCat("service.contacts[", i, "]");
    RETURN_IF_ERROR(ValidateText(path + ".name", s.contacts(i).name(), 100, false));
    RETURN_IF_ERROR(ValidateText(path + ".title", s.contacts(i).title(), 100, false));
    RETURN_IF_ERROR(ValidateText(path + ".email", s.contacts(i).email(), 200, false));
    RETURN_IF_ERROR(ValidateText(path + ".phone", s.contacts(i).phone(), 30, false));
  }
  RETURN_IF_ERROR(ValidateText("service.referral_route", s.referral_route(), 1000, false, true));
  RETURN_IF_ERROR(ValidateCapacity(s.capacity(), "service.capacity"));
  for (int i = 0; i < s.delivery_size(); ++i) {
    if (s.delivery(i) == v1::DELIVERY_UNSPECIFIED || !v1::Delivery_IsValid(s.delivery(i))) {
      return FieldError(absl::StrCat("service.delivery[", i, "]"), "in school, out of school or online");
    }
  }
  return absl::OkStatus();
}

v1::QaStatus EffectiveQaStatus(const v1::QualityAssurance& quality, absl::CivilDay today) {
  if (quality.status() != v1::QA_STATUS_APPROVED) {
    return quality.status() == v1::QA_STATUS_UNSPECIFIED ? v1::QA_STATUS_PENDING : quality.status();
  }
  absl::StatusOr<absl::CivilDay> review = FromProtoDate(quality.review_date());
  if (!review.ok() || *review < today) return v1::QA_STATUS_EXPIRED;
  return v1::QA_STATUS_APPROVED;
}

bool IsRecommendable(const v1::Service& service, absl::CivilDay today) {
  return !service.withdrawn() &&
         EffectiveQaStatus(service.quality(), today) == v1::QA_STATUS_APPROVED;
}

std::string NotRecommendableReason(const v1::Service& service, absl::CivilDay today) {
  if (service.withdrawn()) return "withdrawn from the directory";
  switch (EffectiveQaStatus(service.quality(), today)) {
    case v1::QA_STATUS_APPROVED:
      return "";
    case v1::QA_STATUS_EXPIRED: {
      absl::StatusOr<absl::CivilDay> review = FromProtoDate(service.quality().review_date());
      return review.ok() ? absl::StrCat("quality assurance expired on ", absl::FormatCivilTime(*review))
                         : "quality assurance expired";
    }
    case v1::QA_STATUS_SUSPENDED:
      return "quality assurance suspended";
    default:
      return "not yet quality assured";
  }
}

int YearGroupMinimumAge(int year_group) { return year_group + 4; }

bool IsEligible(const v1::Eligibility& e, std::optional<int> age, std::optional<int> year_group,
                const std::string& area_code, std::string* why) {
  // Words are built only when asked for: triage checks thousands of services.
  const int max_age = e.maximum_age() == 0 ? 200 : e.maximum_age();
  auto ages = [&] {
    return absl::StrCat("for ages ", e.minimum_age(), " to ",
                        max_age == 200 ? std::string("any") : absl::StrCat(max_age));
  };
  if (age) {
    if (*age < e.minimum_age() || *age > max_age) {
      if (why) *why = absl::StrCat(ages(), "; the child is ", *age);
      return false;
    }
  } else if (year_group) {
    // A pupil in Year N is N+4 at the start of the year and N+5 by its end.
    const int youngest = YearGroupMinimumAge(*year_group), oldest = youngest + 1;
    if (oldest < e.minimum_age() || youngest > max_age) {
      if (why) *why = absl::StrCat(ages(), "; Year ", *year_group, " pupils are ", youngest, " to ", oldest);
      return false;
    }
  }
  const bool year_rule = e.minimum_year_group() != 0 || e.maximum_year_group() != 0;
  if (year_group && year_rule) {
    const int max_year = e.maximum_year_group() == 0 ? 14 : e.maximum_year_group();
    if (*year_group < e.minimum_year_group() || *year_group > max_year) {
      if (why) {
        *why = absl::StrCat("for Years ", e.minimum_year_group(), " to ", max_year,
                            "; the child is in Year ", *year_group);
      }
      return false;
    }
  }
  // No area given: not ruled out.
  if (!e.area_codes().empty() && !area_code.empty()) {
    for (const std::string& a : e.area_codes()) {
      if (absl::EqualsIgnoreCase(a, area_code)) return true;
    }
    if (why) *why = absl::StrCat("only for children living in its areas; not ", area_code);
    return false;
  }
  return true;
}

std::string IneligibleReason(const v1::Eligibility& e, std::optional<int> age,
                             std::optional<int> year_group, const std::string& area_code) {
  std::string why;
  IsEligible(e, age, year_group, area_code, &why);
  return why;
}

int64_t DistanceMetres(int64_t lat1_e6, int64_t lon1_e6, int64_t lat2_e6, int64_t lon2_e6) {
  constexpr double kEarthRadiusMetres = 6'371'000;
  constexpr double kRadians = M_PI / 180.0 / 1e6;
  const double lat1 = double(lat1_e6) * kRadians, lat2 = double(lat2_e6) * kRadians;
  const double dlat = lat2 - lat1, dlon = double(lon2_e6 - lon1_e6) * kRadians;
  const double a = std::sin(dlat / 2) * std::sin(dlat / 2) +
                   std::cos(lat1) * std::cos(lat2) * std::sin(dlon / 2) * std::sin(dlon / 2);
  return int64_t(2 * kEarthRadiusMetres * std::asin(std::min(1.0, std::sqrt(a))) + 0.5);
}

std::string PostcodeDistrict(absl::string_view postcode) {
  std::string compact;
  for (char c : postcode) {
    if (c == ' ') continue;
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c))) return "";
    compact += char(absl::ascii_toupper(static_cast<unsigned char>(c)));
  }
  if (compact.size() < 2 || compact.size() > 7 || !absl::ascii_isalpha(compact[0])) return "";
  // A full postcode ends with the 3-character inward code (digit, letter, letter).
  std::string outward = compact;
  if (compact.size() >= 5 && absl::ascii_isdigit(compact[compact.size() - 3]) &&
      absl::ascii_isalpha(compact[compact.size() - 2]) &&
      absl::ascii_isalpha(compact[compact.size() - 1])) {
    outward = compact.substr(0, compact.size() - 3);
  }
  // Outward codes: A9, A99, AA9, AA99, A9A, AA9A.
  if (outward.size() < 2 || outward.size() > 4) return "";
  size_t letters = 0;
  while (letters < outward.size() && absl::ascii_isalpha(outward[letters])) ++letters;
  if (letters < 1 || letters > 2 || letters == outward.size() || !absl::ascii_isdigit(outward[letters])) {
    return "";
  }
  return outward;
}

bool IsFree(const v1::Service& service) {
  if (service.cost_options().empty()) return true;
  for (const v1::CostOption& c : service.cost_options()) {
    if (c.free()) return true;
  }
  return false;
}

}  // namespace rooted::directory
