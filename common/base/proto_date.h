#ifndef ROOTED_COMMON_BASE_PROTO_DATE_H_
#define ROOTED_COMMON_BASE_PROTO_DATE_H_

// rooted.common.v1.Date <-> absl::CivilDay. Header-only: rooted_base does not
// link the generated contracts; every user of a Date already does.

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "rooted/common/v1/common.pb.h"

namespace rooted {

inline rooted::common::v1::Date ToProtoDate(absl::CivilDay day) {
  rooted::common::v1::Date date;
  date.set_year(int32_t(day.year()));
  date.set_month(day.month());
  date.set_day(day.day());
  return date;
}

// INVALID_ARGUMENT unless `date` is a real calendar day from 1900 to 9999
// (absl would quietly normalise 31 November to 1 December).
inline absl::StatusOr<absl::CivilDay> FromProtoDate(const rooted::common::v1::Date& date) {
  const absl::CivilDay day(date.year(), date.month(), date.day());
  if (date.year() < 1900 || date.year() > 9999 || day.year() != date.year() ||
      day.month() != date.month() || day.day() != date.day()) {
    return absl::InvalidArgumentError("not a calendar date");
  }
  return day;
}

}  // namespace rooted

#endif  // ROOTED_COMMON_BASE_PROTO_DATE_H_
