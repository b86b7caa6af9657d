#ifndef ROOTED_SERVICES_DIRECTORY_TRIAGE_TRIAGE_H_
#define ROOTED_SERVICES_DIRECTORY_TRIAGE_TRIAGE_H_

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "rooted/directory/v1/directory.pb.h"
#include "services/directory-triage/directory_index.h"

namespace rooted::directory {

struct TriageInput {
  std::vector<rooted::common::v1::Need> needs;
  std::optional<int> age;
  std::optional<int> year_group;
  std::string area_code;
  std::optional<GeoPoint> location;
  bool free_only = false;
  std::string language;
  v1::Delivery delivery = v1::DELIVERY_UNSPECIFIED;
  absl::CivilDay today;
  int max_results = 10;
};

struct TriageResult {
  std::vector<v1::RankedService> ranked;
  // Services that meet a need but cannot take this child, with why; at most
  // kMaxExcluded, by service id.
  std::vector<v1::ExcludedService> excluded;
  int excluded_total = 0;
};

inline constexpr int kMaxExcluded = 100;

// Ranks the services that meet any of the child's needs. Points (at most
// 100): need coverage 50 (each need weighted by severity), distance 20,
// waiting time 15, capacity 15; eligibility is pass or fail. Services that
// are not quality assured, not eligible, full, charged when free is asked
// for, in another language or delivered elsewhere are excluded with the
// reason. Ties break by service id, so the same inputs and directory give
// the same answer.
TriageResult Triage(const DirectoryIndex& index, const TriageInput& input,
                    const std::function<std::string(const std::string&)>& term_label);

}  // namespace rooted::directory

#endif  // ROOTED_SERVICES_DIRECTORY_TRIAGE_TRIAGE_H_
