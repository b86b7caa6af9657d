// Which term the local run plays: the current academic year's, unless it has
// barely begun.

#include <gtest/gtest.h>

#include "tools/term/term.h"

namespace rooted::term {
namespace {

TEST(TermAcademicYearTest, TheCurrentYearOnceTwentySchoolDaysHavePassed) {
  EXPECT_EQ(TermAcademicYear(absl::CivilDay(2026, 11, 23)), 2026);
  EXPECT_EQ(TermAcademicYear(absl::CivilDay(2026, 10, 15)), 2026);
  EXPECT_EQ(TermAcademicYear(absl::CivilDay(2027, 3, 1)), 2026);
  // Early September: last year's summer term.
  EXPECT_EQ(TermAcademicYear(absl::CivilDay(2026, 9, 10)), 2025);
  // The summer holidays: the year that just ended.
  EXPECT_EQ(TermAcademicYear(absl::CivilDay(2026, 8, 10)), 2025);
}

}  // namespace
}  // namespace rooted::term
