#ifndef ROOTED_SERVICES_DIRECTORY_TRIAGE_DIRECTORY_MODEL_H_
#define ROOTED_SERVICES_DIRECTORY_TRIAGE_DIRECTORY_MODEL_H_

#include <functional>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/civil_time.h"
#include "rooted/directory/v1/directory.pb.h"

namespace rooted::directory {

namespace v1 = rooted::directory::v1;

// A needs-taxonomy term the directory accepts: the shared default terms and
// the council's own.
using TermCheck = std::function<bool(const std::string& term_id)>;

// Directory ids come from other directories too (UUIDs, council codes):
// 1 to 100 of [A-Za-z0-9._:-]. INVALID_ARGUMENT naming `path`.
absl::Status ValidateRecordId(absl::string_view path, absl::string_view id);

// INVALID_ARGUMENT naming the field ("service.eligibility.maximum_age: ...").
absl::Status ValidateOrganization(const v1::Organization& organization);
absl::Status ValidateService(const v1::Service& service, const TermCheck& known_term);
absl::Status ValidateCapacity(const v1::ServiceCapacity& capacity, absl::string_view path);

// The QA status that applies today: an approved service past its review
// date is expired, whatever is stored.
v1::QaStatus EffectiveQaStatus(const v1::QualityAssurance& quality, absl::CivilDay today);
// Approved, within its review date and not withdrawn: may be found and recommended.
bool IsRecommendable(const v1::Service& service, absl::CivilDay today);
// Why a service may not be recommended ("QA expired on 2026-03-31"), or "".
std::string NotRecommendableReason(const v1::Service& service, absl::CivilDay today);

// The child's age range in a year group: Year 7 pupils are 11 to 12.
int YearGroupMinimumAge(int year_group);

// Why the child is not eligible by age, year group or area ("for ages 11 to
// 16", ...), or "" when eligible. An unset age (0) or year group (-1 when
// the profile gives none) is not checked.
std::string IneligibleReason(const v1::Eligibility& eligibility, std::optional<int> age,
                             std::optional<int> year_group, const std::string& area_code);
// The same test; the reason is written to `why` only when asked for.
bool IsEligible(const v1::Eligibility& eligibility, std::optional<int> age,
                std::optional<int> year_group, const std::string& area_code, std::string* why);

// Great-circle distance in metres between two WGS84 points in microdegrees.
int64_t DistanceMetres(int64_t lat1_e6, int64_t lon1_e6, int64_t lat2_e6, int64_t lon2_e6);

// "LS6 3AB" / "ls63ab" / "LS6" -> "LS6": the outward code of a UK postcode,
// or "" when it is not one.
std::string PostcodeDistrict(absl::string_view postcode);

bool IsFree(const v1::Service& service);

}  // namespace rooted::directory

#endif  // ROOTED_SERVICES_DIRECTORY_TRIAGE_DIRECTORY_MODEL_H_
