// Which term the local run plays: the current academic year's, unless it has
// barely begun; and how far ahead the demo forum's meetings go.

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

// What CreateForum accepts of a calendar: 1 to 12 terms in order, each at
// most 120 days.
void ExpectAForumCalendar(const std::vector<std::pair<absl::CivilDay, absl::CivilDay>>& terms) {
  ASSERT_FALSE(terms.empty());
  EXPECT_LE(terms.size(), 12u);
  for (size_t i = 0; i < terms.size(); ++i) {
    EXPECT_LE(terms[i].first, terms[i].second);
    EXPECT_LE(terms[i].second - terms[i].first, 120);
    if (i > 0) {
      EXPECT_LT(terms[i - 1].second, terms[i].first);
    }
  }
}

TEST(ForumTermsTest, TheDemoForumMeetsToTheEndOfTheSchoolYearNotJustTheTermPlayed) {
  // The local run on 23 November 2026: the term played ends on 20 November,
  // the forum goes on to the last day of the 2026/27 school year.
  const auto terms = ForumTerms(2026, absl::CivilDay(2026, 10, 14), absl::CivilDay(2026, 11, 23));
  ExpectAForumCalendar(terms);
  EXPECT_EQ(terms.front().first, absl::CivilDay(2026, 10, 14));
  EXPECT_EQ(terms.back().second, absl::CivilDay(2027, 7, 21));
  // The half-terms and holidays stay gaps between terms.
  EXPECT_EQ(terms.size(), 6u);
  EXPECT_EQ(terms[1].first, absl::CivilDay(2026, 11, 2));
}

TEST(ForumTermsTest, InTheSummerHolidaysOrEarlySeptemberTheNextSchoolYearIsCovered) {
  // The term played is last summer's; a referral made today is heard in the
  // school year ahead.
  for (const absl::CivilDay today : {absl::CivilDay(2026, 8, 10), absl::CivilDay(2026, 9, 10)}) {
    ASSERT_EQ(TermAcademicYear(today), 2025);
    const auto terms = ForumTerms(2025, absl::CivilDay(2026, 6, 15), today);
    ExpectAForumCalendar(terms);
    EXPECT_EQ(terms.front().first, absl::CivilDay(2026, 6, 15));
    EXPECT_EQ(terms.front().second, absl::CivilDay(2026, 7, 21));
    EXPECT_EQ(terms[1].first, absl::CivilDay(2026, 9, 3));
    EXPECT_EQ(terms.back().second, absl::CivilDay(2027, 7, 21)) << today;
  }
  // Late July, after the last school day: the next year too.
  EXPECT_EQ(
      ForumTerms(2025, absl::CivilDay(2026, 6, 15), absl::CivilDay(2026, 7, 25)).back().second,
      absl::CivilDay(2027, 7, 21));
}

}  // namespace
}  // namespace rooted::term
