#include "services/forum-scheduling/school_calendar.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace rooted::forum {
namespace {

// Easter Sunday in the Gregorian calendar (the anonymous Gregorian algorithm,
// as in Meeus, Astronomical Algorithms).
absl::CivilDay EasterSunday(int year) {
  const int a = year % 19, b = year / 100, c = year % 100;
  const int d = b / 4, e = b % 4, f = (b + 8) / 25, g = (b - f + 1) / 3;
  const int h = (19 * a + b - d - g + 15) % 30;
  const int i = c / 4, k = c % 4;
  const int l = (32 + 2 * e + 2 * i - h - k) % 7;
  const int m = (a + 11 * h + 22 * l) / 451;
  const int month = (h + l - 7 * m + 114) / 31;
  const int day = (h + l - 7 * m + 114) % 31 + 1;
  return absl::CivilDay(year, month, day);
}

bool IsWeekend(absl::CivilDay day) {
  const absl::Weekday w = absl::GetWeekday(day);
  return w == absl::Weekday::saturday || w == absl::Weekday::sunday;
}

absl::CivilDay FirstMonday(int year, int month) {
  absl::CivilDay day(year, month, 1);
  while (absl::GetWeekday(day) != absl::Weekday::monday) ++day;
  return day;
}

absl::CivilDay LastMonday(int year, int month) {
  absl::CivilDay day = absl::CivilDay(absl::CivilMonth(year, month) + 1) - 1;
  while (absl::GetWeekday(day) != absl::Weekday::monday) --day;
  return day;
}

absl::CivilDay NextWeekday(absl::CivilDay day) {
  while (IsWeekend(day)) ++day;
  return day;
}

std::string WeekdayName(absl::Weekday w) {
  switch (w) {
    case absl::Weekday::saturday:
      return "a Saturday";
    case absl::Weekday::sunday:
      return "a Sunday";
    default:
      return "a weekday";
  }
}

}  // namespace

std::vector<Holiday> EnglandBankHolidays(int year) {
  std::vector<Holiday> days;
  days.push_back({NextWeekday(absl::CivilDay(year, 1, 1)), "New Year's Day"});
  const absl::CivilDay easter = EasterSunday(year);
  days.push_back({easter - 2, "Good Friday"});
  days.push_back({easter + 1, "Easter Monday"});
  days.push_back({FirstMonday(year, 5), "Early May bank holiday"});
  days.push_back({LastMonday(year, 5), "Spring bank holiday"});
  days.push_back({LastMonday(year, 8), "Summer bank holiday"});
  // Christmas and Boxing Day: a weekend day moves to the next free weekday.
  const absl::CivilDay christmas = NextWeekday(absl::CivilDay(year, 12, 25));
  absl::CivilDay boxing = NextWeekday(absl::CivilDay(year, 12, 26));
  if (boxing == christmas) boxing = NextWeekday(christmas + 1);
  days.push_back({christmas, "Christmas Day"});
  days.push_back({boxing, "Boxing Day"});
  std::sort(days.begin(), days.end(),
            [](const Holiday& a, const Holiday& b) { return a.day < b.day; });
  return days;
}

SchoolCalendar::SchoolCalendar(std::vector<Term> terms, std::vector<absl::CivilDay> closure_days)
    : terms_(std::move(terms)), closures_(std::move(closure_days)) {
  std::sort(terms_.begin(), terms_.end(),
            [](const Term& a, const Term& b) { return a.first < b.first; });
  std::sort(closures_.begin(), closures_.end());
  if (terms_.empty()) return;
  for (int year = int(terms_.front().first.year()); year <= int(terms_.back().last.year());
       ++year) {
    for (Holiday& h : EnglandBankHolidays(year)) bank_holidays_.push_back(std::move(h));
  }
}

std::string SchoolCalendar::WhyClosed(absl::CivilDay day) const {
  if (IsWeekend(day)) return WeekdayName(absl::GetWeekday(day));
  const bool in_term = std::any_of(terms_.begin(), terms_.end(), [&](const Term& t) {
    return t.first <= day && day <= t.last;
  });
  if (!in_term) return "outside term time";
  for (const Holiday& h : bank_holidays_) {
    if (h.day == day) return absl::StrCat(h.name, " (bank holiday)");
  }
  if (std::binary_search(closures_.begin(), closures_.end(), day)) return "a closure day";
  return "";
}

bool SchoolCalendar::IsSchoolDay(absl::CivilDay day) const { return WhyClosed(day).empty(); }

std::optional<absl::CivilDay> SchoolCalendar::NextSchoolDay(absl::CivilDay day) const {
  if (terms_.empty() || day > terms_.back().last) return std::nullopt;
  while (!IsSchoolDay(day)) {
    if (day > terms_.back().last) return std::nullopt;
    ++day;
  }
  return day;
}

std::optional<absl::CivilDay> SchoolCalendar::AddSchoolDays(absl::CivilDay day, int count) const {
  for (int i = 0; i < count; ++i) {
    std::optional<absl::CivilDay> next = NextSchoolDay(day + 1);
    if (!next) return std::nullopt;
    day = *next;
  }
  return day;
}

}  // namespace rooted::forum
