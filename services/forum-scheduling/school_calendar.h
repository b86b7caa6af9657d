#ifndef ROOTED_SERVICES_FORUM_SCHEDULING_SCHOOL_CALENDAR_H_
#define ROOTED_SERVICES_FORUM_SCHEDULING_SCHOOL_CALENDAR_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"

namespace rooted::forum {

struct Term {
  absl::CivilDay first;
  absl::CivilDay last;  // inclusive
};

struct Holiday {
  absl::CivilDay day;
  std::string name;
};

// The bank holidays of England and Wales in `year`, with the substitute days
// when one falls at a weekend. One-off holidays a government adds (a
// coronation, a jubilee) are a council's closure days.
std::vector<Holiday> EnglandBankHolidays(int year);

// When a council's schools are open: weekdays inside a term that are neither
// a bank holiday nor one of the council's closure days (INSET days and the
// like). Half-terms are the gaps between terms.
class SchoolCalendar {
 public:
  SchoolCalendar(std::vector<Term> terms, std::vector<absl::CivilDay> closure_days);

  bool IsSchoolDay(absl::CivilDay day) const;
  // Why `day` is not a school day ("a Saturday", "Good Friday", "a closure
  // day", "outside term time"); empty when it is one.
  std::string WhyClosed(absl::CivilDay day) const;
  // The first school day on or after `day`.
  std::optional<absl::CivilDay> NextSchoolDay(absl::CivilDay day) const;
  // The school day `count` school days after `day` (the next school day
  // counts as one); nullopt past the last term.
  std::optional<absl::CivilDay> AddSchoolDays(absl::CivilDay day, int count) const;

  const std::vector<Term>& terms() const { return terms_; }

 private:
  std::vector<Term> terms_;                 // sorted by first day
  std::vector<absl::CivilDay> closures_;    // sorted
  std::vector<Holiday> bank_holidays_;      // sorted, for the terms' years
};

}  // namespace rooted::forum

#endif  // ROOTED_SERVICES_FORUM_SCHEDULING_SCHOOL_CALENDAR_H_
