#ifndef ROOTED_SERVICES_DIRECTORY_TRIAGE_OPEN_REFERRAL_H_
#define ROOTED_SERVICES_DIRECTORY_TRIAGE_OPEN_REFERRAL_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "rooted/directory/v1/directory.pb.h"

namespace rooted::directory {

namespace v1 = rooted::directory::v1;

// A directory read from Open Referral UK JSON (HSDS 3.0 service objects, as
// the UK profile's /services endpoint serves them).
struct OpenReferralImport {
  std::vector<v1::Organization> organizations;
  std::vector<v1::Service> services;
  // One line per service or field that could not be read ("services[3]:
  // id is missing"); the rest of the document still loads.
  std::vector<std::string> problems;
};

// Accepts one service object, an array of them, or a list envelope
// ({"contents": [...]}, the ORUK paging shape). Taxonomy terms come from
// attributes[].taxonomy_term.code; RootED's own fields (year groups, areas,
// delivery, capacity, quality assurance) from the "x_rooted" extension
// object, which an export writes. INVALID_ARGUMENT naming "json" when the
// document is not JSON or not of this shape.
absl::StatusOr<OpenReferralImport> ParseOpenReferral(const std::string& json);

// The services as an array of ORUK service objects, with their organisation,
// locations (confidential ones without address or coordinates) and taxonomy
// terms, plus the "x_rooted" extension.
std::string ExportOpenReferral(const std::vector<v1::Service>& services,
                               const std::vector<v1::Organization>& organizations);

}  // namespace rooted::directory

#endif  // ROOTED_SERVICES_DIRECTORY_TRIAGE_OPEN_REFERRAL_H_
