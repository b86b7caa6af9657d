#ifndef ROOTED_TOOLS_COHORT_COHORT_H_
#define ROOTED_TOOLS_COHORT_COHORT_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "rooted/risk/v1/risk.pb.h"

namespace rooted::cohort {

namespace v1 = rooted::risk::v1;

struct CohortOptions {
  std::string la_code = "801";
  int schools = 20;
  int pupils = 5000;
  int academic_year = 2025;  // 2025/26
  uint64_t seed = 1;
};

struct School {
  std::string urn;
  bool secondary = false;
};

struct Pupil {
  std::string upn;
  int school = 0;  // index into schools
  int year_group = 0;
  // The hidden propensity that drives absence, suspensions and moves (0..1).
  double propensity = 0;
  v1::PupilContext context;
};

// A made-up council with the shape of a real one: primaries and secondaries,
// pupils with SEN, free school meals and social-care contact at about the
// national rates, absence that clusters in some pupils (and grows through the
// year for a few), and suspensions, moves and exclusions more likely for them.
// Deterministic for a seed. Nothing in it is a real child.
class Cohort {
 public:
  explicit Cohort(CohortOptions options);

  const std::vector<School>& schools() const { return schools_; }
  const std::vector<Pupil>& pupils() const { return pupils_; }
  const CohortOptions& options() const { return options_; }

  // School days of the academic year: weekdays outside the usual holidays.
  std::vector<absl::CivilDay> SchoolDays() const;

  // Every signal of the year in date order: each pupil's context first, then
  // each school day's AM and PM marks, suspensions, moves and exclusions as
  // they happen. Stops early if `emit` returns false.
  void Generate(const std::function<bool(v1::Signal&&)>& emit) const;

 private:
  CohortOptions options_;
  std::vector<School> schools_;
  std::vector<Pupil> pupils_;
};

// The day a signal speaks for (nullopt for pupil context) and its pupil's UPN:
// what the tools that read signal files sort and group by.
std::optional<absl::CivilDay> SignalDay(const v1::Signal& signal);
const std::string& SignalUpn(const v1::Signal& signal);

// A valid UPN (check letter computed) for LA code, establishment, year and serial.
std::string MakeUpn(const std::string& la_code, int establishment, int year, int serial);

}  // namespace rooted::cohort

#endif  // ROOTED_TOOLS_COHORT_COHORT_H_
