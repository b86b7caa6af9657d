#include "services/risk-scoring/pupil_state.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace rooted::risk {
namespace {

constexpr absl::CivilDay kEpoch{1970, 1, 1};
// 366 days of two sessions, 4 bits each.
constexpr int kMaxDays = 366;

MarkCategory MarkAt(const std::string& sessions, int index) {
  const size_t byte = size_t(index / 2);
  if (byte >= sessions.size()) return MarkCategory::kNone;
  const uint8_t value = uint8_t(sessions[byte]);
  return MarkCategory(index % 2 == 0 ? (value & 0x0F) : (value >> 4));
}

// Returns whether the stored value changed.
bool SetMark(std::string& sessions, int index, MarkCategory category) {
  const size_t byte = size_t(index / 2);
  if (byte >= sessions.size()) sessions.resize(byte + 1, '\0');
  const uint8_t old_value = uint8_t(sessions[byte]);
  const uint8_t nibble = uint8_t(category);
  const uint8_t new_value = index % 2 == 0 ? uint8_t((old_value & 0xF0) | nibble)
                                           : uint8_t((old_value & 0x0F) | (nibble << 4));
  sessions[byte] = char(new_value);
  return new_value != old_value;
}

void Count(SessionCounts& counts, MarkCategory category) {
  if (!IsPossible(category)) return;
  ++counts.possible;
  if (IsAttended(category)) ++counts.attended;
  if (category == MarkCategory::kUnauthorisedAbsence) ++counts.unauthorised;
}

bool InYear(const PupilState& state, int32_t epoch_day) {
  return AcademicYearOf(FromEpochDay(epoch_day)) == state.academic_year();
}

// Moves the state into the academic year of `day` if that is later: the
// finished year's attendance is kept as one figure, its marks are dropped.
// Returns false if `day` belongs to a year already finished.
bool AdvanceTo(PupilState& state, absl::CivilDay day, bool& changed) {
  const int year = AcademicYearOf(day);
  if (year < state.academic_year()) return false;
  if (year == state.academic_year()) return true;
  if (state.academic_year() != 0) {
    state.set_previous_attendance_bp(
        year == state.academic_year() + 1
            ? SummariseAttendance(state).year.AttendanceBp().value_or(-1)
            : -1);
  } else {
    state.set_previous_attendance_bp(-1);
  }
  state.set_academic_year(year);
  state.clear_sessions();
  const int32_t start = EpochDay(AcademicYearStart(year));
  auto suspensions = state.mutable_suspensions();
  suspensions->erase(std::remove_if(suspensions->begin(), suspensions->end(),
                                    [&](const auto& s) { return s.start_day() < start; }),
                     suspensions->end());
  auto moves = state.mutable_moves();
  moves->erase(
      std::remove_if(moves->begin(), moves->end(), [&](const auto& m) { return m.day() < start; }),
      moves->end());
  auto exclusions = state.mutable_exclusion_days();
  exclusions->erase(
      std::remove_if(exclusions->begin(), exclusions->end(), [&](int32_t d) { return d < start; }),
      exclusions->end());
  changed = true;
  return true;
}

absl::StatusOr<absl::CivilDay> DayOf(const common::v1::Date& date, absl::string_view field) {
  absl::StatusOr<absl::CivilDay> day = FromProtoDate(date);
  if (!day.ok())
    return absl::InvalidArgumentError(absl::StrCat(field, ": ", day.status().message()));
  return day;
}

bool SameContext(const v1::PupilContext& a, const v1::PupilContext& b) {
  return a.SerializeAsString() == b.SerializeAsString();
}

}  // namespace

int AcademicYearOf(absl::CivilDay day) {
  return int(day.month() >= 9 ? day.year() : day.year() - 1);
}

absl::CivilDay AcademicYearStart(int academic_year) { return absl::CivilDay(academic_year, 9, 1); }

int32_t EpochDay(absl::CivilDay day) { return int32_t(day - kEpoch); }
absl::CivilDay FromEpochDay(int32_t epoch_day) { return kEpoch + epoch_day; }

std::optional<int> SessionCounts::AttendanceBp() const {
  if (possible == 0) return std::nullopt;
  // Rounded to the nearest basis point.
  return int((int64_t(attended) * 20000 + possible) / (2 * int64_t(possible)));
}

AttendanceSummary SummariseAttendance(const PupilState& state, int recent_days) {
  AttendanceSummary summary;
  const std::string& sessions = state.sessions();
  int last_day = -1;
  for (int index = int(sessions.size()) * 2 - 1; index >= 0; --index) {
    if (MarkAt(sessions, index) != MarkCategory::kNone) {
      last_day = index / 2;
      break;
    }
  }
  if (last_day < 0) return summary;
  summary.as_of = AcademicYearStart(state.academic_year()) + last_day;
  const int window_start = last_day - recent_days + 1;
  for (int index = 0; index <= last_day * 2 + 1; ++index) {
    const MarkCategory category = MarkAt(sessions, index);
    Count(summary.year, category);
    Count(index / 2 >= window_start ? summary.recent : summary.before_recent, category);
  }
  return summary;
}

SessionCounts CountSessions(const PupilState& state, absl::CivilDay from, absl::CivilDay to) {
  SessionCounts counts;
  const absl::CivilDay start = AcademicYearStart(state.academic_year());
  const int first = std::max<int>(0, int(from - start));
  const int end = std::min<int>(int(state.sessions().size()), int(to - start));
  for (int day = first; day < end; ++day) {
    Count(counts, MarkAt(state.sessions(), day * 2));
    Count(counts, MarkAt(state.sessions(), day * 2 + 1));
  }
  return counts;
}

PupilState StateBefore(const PupilState& state, absl::CivilDay cut) {
  PupilState before = state;
  const int32_t cut_day = EpochDay(cut);
  const int64_t days = cut - AcademicYearStart(state.academic_year());
  before.mutable_sessions()->resize(size_t(std::clamp<int64_t>(
      days, 0, int64_t(state.sessions().size()))));
  auto* suspensions = before.mutable_suspensions();
  suspensions->erase(std::remove_if(suspensions->begin(), suspensions->end(),
                                    [&](const auto& s) { return s.start_day() >= cut_day; }),
                     suspensions->end());
  auto* exclusions = before.mutable_exclusion_days();
  exclusions->erase(std::remove_if(exclusions->begin(), exclusions->end(),
                                   [&](int32_t day) { return day >= cut_day; }),
                    exclusions->end());
  auto* moves = before.mutable_moves();
  moves->erase(std::remove_if(moves->begin(), moves->end(),
                              [&](const auto& m) { return m.day() >= cut_day; }),
               moves->end());
  return before;
}

bool SuspendedOrExcludedBetween(const PupilState& state, absl::CivilDay from, absl::CivilDay to) {
  const int32_t first = EpochDay(from), end = EpochDay(to);
  for (const auto& s : state.suspensions()) {
    if (s.start_day() >= first && s.start_day() < end) return true;
  }
  for (int32_t day : state.exclusion_days()) {
    if (day >= first && day < end) return true;
  }
  return false;
}

int SuspensionsThisYear(const PupilState& state) {
  return int(std::count_if(state.suspensions().begin(), state.suspensions().end(),
                           [&](const auto& s) { return InYear(state, s.start_day()); }));
}

int SuspensionSessionsThisYear(const PupilState& state) {
  int sessions = 0;
  for (const auto& s : state.suspensions()) {
    if (InYear(state, s.start_day())) sessions += s.sessions();
  }
  return sessions;
}

int ExclusionsThisYear(const PupilState& state) {
  return int(std::count_if(state.exclusion_days().begin(), state.exclusion_days().end(),
                           [&](int32_t d) { return InYear(state, d); }));
}

int MovesThisYear(const PupilState& state, v1::MoveType type) {
  return int(std::count_if(state.moves().begin(), state.moves().end(), [&](const auto& m) {
    return m.move_type() == type && InYear(state, m.day());
  }));
}

absl::StatusOr<bool> ApplySignal(PupilState& state, const v1::Signal& signal) {
  bool changed = false;
  switch (signal.kind_case()) {
    case v1::Signal::kAttendance: {
      const v1::AttendanceMark& mark = signal.attendance();
      absl::StatusOr<absl::CivilDay> day = DayOf(mark.date(), "attendance.date");
      if (!day.ok()) return day.status();
      absl::StatusOr<MarkCategory> category = ClassifyRegisterCode(mark.code(), *day);
      if (!category.ok()) return category.status();
      if (mark.session() != v1::SESSION_AM && mark.session() != v1::SESSION_PM) {
        return absl::InvalidArgumentError("attendance.session: must be AM or PM");
      }
      if (!AdvanceTo(state, *day, changed)) return false;
      const int day_index = int(*day - AcademicYearStart(state.academic_year()));
      if (day_index >= kMaxDays) return absl::InternalError("day outside the academic year");
      changed |= SetMark(*state.mutable_sessions(),
                         day_index * 2 + (mark.session() == v1::SESSION_PM ? 1 : 0), *category);
      if (!mark.school_urn().empty() && state.school_urn() != mark.school_urn()) {
        state.set_school_urn(mark.school_urn());
        changed = true;
      }
      return changed;
    }
    case v1::Signal::kSuspension: {
      const v1::Suspension& suspension = signal.suspension();
      absl::StatusOr<absl::CivilDay> day = DayOf(suspension.start_date(), "suspension.start_date");
      if (!day.ok()) return day.status();
      if (suspension.sessions() <= 0) {
        return absl::InvalidArgumentError("suspension.sessions: must be at least 1");
      }
      if (!AdvanceTo(state, *day, changed)) return false;
      const int32_t start = EpochDay(*day);
      for (auto& existing : *state.mutable_suspensions()) {
        if (existing.start_day() == start) {
          if (existing.sessions() == suspension.sessions()) return changed;
          existing.set_sessions(suspension.sessions());
          return true;
        }
      }
      internal::SuspensionRecord* record = state.add_suspensions();
      record->set_start_day(start);
      record->set_sessions(suspension.sessions());
      return true;
    }
    case v1::Signal::kExclusion: {
      absl::StatusOr<absl::CivilDay> day = DayOf(signal.exclusion().date(), "exclusion.date");
      if (!day.ok()) return day.status();
      if (!AdvanceTo(state, *day, changed)) return false;
      const int32_t epoch_day = EpochDay(*day);
      for (int32_t existing : state.exclusion_days()) {
        if (existing == epoch_day) return changed;
      }
      state.add_exclusion_days(epoch_day);
      return true;
    }
    case v1::Signal::kMove: {
      const v1::SchoolMove& move = signal.move();
      absl::StatusOr<absl::CivilDay> day = DayOf(move.date(), "move.date");
      if (!day.ok()) return day.status();
      if (move.move_type() == v1::MOVE_TYPE_UNSPECIFIED) {
        return absl::InvalidArgumentError("move.move_type: must be given");
      }
      if (!AdvanceTo(state, *day, changed)) return false;
      const int32_t epoch_day = EpochDay(*day);
      for (const auto& existing : state.moves()) {
        if (existing.day() == epoch_day && existing.move_type() == move.move_type()) return changed;
      }
      internal::MoveRecord* record = state.add_moves();
      record->set_day(epoch_day);
      record->set_move_type(move.move_type());
      if (!move.to_school_urn().empty() && move.move_type() == v1::MOVE_TYPE_SCHOOL_MOVE) {
        state.set_school_urn(move.to_school_urn());
      }
      return true;
    }
    case v1::Signal::kContext: {
      v1::PupilContext context = signal.context();
      context.clear_upn();
      absl::StatusOr<absl::CivilDay> day = DayOf(context.as_of(), "context.as_of");
      if (!day.ok()) return day.status();
      // The newest statement of a pupil's context wins; an older one arriving
      // late does not overwrite it.
      if (state.has_context()) {
        absl::StatusOr<absl::CivilDay> held = FromProtoDate(state.context().as_of());
        if (held.ok() && *held > *day) return false;
        if (SameContext(state.context(), context)) return false;
      }
      if (state.school_urn().empty()) state.set_school_urn(context.school_urn());
      *state.mutable_context() = std::move(context);
      return true;
    }
    case v1::Signal::KIND_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError("signal: no kind given");
}

}  // namespace rooted::risk
