#include "tools/cohort/cohort.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/base/proto_date.h"

namespace rooted::cohort {
namespace {

constexpr char kCheckLetters[] = "ABCDEFGHJKLMNPQRTUVWXYZ";

bool Chance(std::mt19937_64& rng, double p) {
  return std::uniform_real_distribution<double>(0, 1)(rng) < p;
}

// A holiday week (or fortnight) starting on `monday`, as English schools keep them.
bool InHoliday(absl::CivilDay day, int year) {
  struct Span {
    absl::CivilDay from, to;
  };
  const Span holidays[] = {
      {absl::CivilDay(year, 10, 27), absl::CivilDay(year, 10, 31)},
      {absl::CivilDay(year, 12, 20), absl::CivilDay(year + 1, 1, 4)},
      {absl::CivilDay(year + 1, 2, 16), absl::CivilDay(year + 1, 2, 20)},
      {absl::CivilDay(year + 1, 3, 30), absl::CivilDay(year + 1, 4, 10)},
      {absl::CivilDay(year + 1, 5, 25), absl::CivilDay(year + 1, 5, 29)},
  };
  for (const Span& span : holidays) {
    if (day >= span.from && day <= span.to) return true;
  }
  return false;
}

}  // namespace

std::optional<absl::CivilDay> SignalDay(const v1::Signal& s) {
  const common::v1::Date* date = s.has_attendance()   ? &s.attendance().date()
                                 : s.has_suspension() ? &s.suspension().start_date()
                                 : s.has_exclusion()  ? &s.exclusion().date()
                                 : s.has_move()       ? &s.move().date()
                                                      : nullptr;
  if (date == nullptr) return std::nullopt;
  absl::StatusOr<absl::CivilDay> day = FromProtoDate(*date);
  if (!day.ok()) return std::nullopt;
  return *day;
}

const std::string& SignalUpn(const v1::Signal& s) {
  if (s.has_attendance()) return s.attendance().upn();
  if (s.has_suspension()) return s.suspension().upn();
  if (s.has_exclusion()) return s.exclusion().upn();
  if (s.has_move()) return s.move().upn();
  return s.context().upn();
}

std::string MakeUpn(const std::string& la_code, int establishment, int year, int serial) {
  const std::string body =
      absl::StrFormat("%s%04d%02d%03d", la_code, establishment % 10000, year % 100, serial % 1000);
  int sum = 0;
  for (size_t i = 0; i < body.size(); ++i) sum += (body[i] - '0') * int(i + 2);
  return std::string(1, kCheckLetters[sum % 23]) + body;
}

Cohort::Cohort(CohortOptions options) : options_(std::move(options)) {
  std::mt19937_64 rng(options_.seed);
  for (int s = 0; s < options_.schools; ++s) {
    // About one school in five is a secondary, but they hold about 40% of pupils.
    schools_.push_back({absl::StrFormat("%06d", 100000 + s + 1), s % 5 == 4});
  }
  std::vector<double> weights;
  for (const School& school : schools_) weights.push_back(school.secondary ? 4.0 : 1.5);
  std::discrete_distribution<int> pick_school(weights.begin(), weights.end());
  // Propensity: most pupils near zero, a long tail (beta-like, from two gammas).
  std::gamma_distribution<double> low(0.6, 1.0), high(5.0, 1.0);
  for (int p = 0; p < options_.pupils; ++p) {
    Pupil pupil;
    pupil.school = pick_school(rng);
    const bool secondary = schools_[size_t(pupil.school)].secondary;
    pupil.year_group = secondary ? 7 + int(rng() % 5) : int(rng() % 7);
    // Establishment and serial from the pupil's number: unique across the council.
    pupil.upn = MakeUpn(options_.la_code, 2000 + (p / 1000) % 8000,
                        options_.academic_year - pupil.year_group, p % 1000);
    const double a = low(rng), b = high(rng);
    pupil.propensity = a / (a + b);

    v1::PupilContext& context = pupil.context;
    context.set_school_urn(schools_[size_t(pupil.school)].urn);
    context.set_year_group(pupil.year_group);
    const double r = pupil.propensity;
    // National rates (DfE, 2024/25), tilted towards higher-propensity pupils.
    const bool ehcp = Chance(rng, 0.048 * (0.5 + 2 * r));
    const bool sen_support = !ehcp && Chance(rng, 0.136 * (0.6 + 2 * r));
    context.set_sen_provision(ehcp          ? v1::SEN_PROVISION_EHCP
                              : sen_support ? v1::SEN_PROVISION_SEN_SUPPORT
                                            : v1::SEN_PROVISION_NONE);
    if (ehcp || sen_support) {
      static const char* kNeeds[] = {"SEMH", "SLCN", "ASD", "MLD", "SPLD", "OTH"};
      context.set_primary_need(Chance(rng, 0.2 + r) ? "SEMH" : kNeeds[1 + rng() % 5]);
    }
    context.set_free_school_meals(Chance(rng, 0.25 * (0.6 + 2 * r)));
    context.set_disadvantaged(context.free_school_meals() || Chance(rng, 0.05));
    const double care = std::uniform_real_distribution<double>(0, 1)(rng) / (0.5 + 3 * r);
    context.set_social_care(care < 0.003   ? v1::SOCIAL_CARE_STATUS_LOOKED_AFTER
                            : care < 0.008 ? v1::SOCIAL_CARE_STATUS_CHILD_PROTECTION
                            : care < 0.035 ? v1::SOCIAL_CARE_STATUS_CHILD_IN_NEED
                            : care < 0.040 ? v1::SOCIAL_CARE_STATUS_PREVIOUSLY_LOOKED_AFTER
                                           : v1::SOCIAL_CARE_STATUS_NONE);
    context.set_young_carer(Chance(rng, 0.01 * (0.5 + 3 * r)));
    *context.mutable_as_of() = ToProtoDate(absl::CivilDay(options_.academic_year, 9, 1));
    pupils_.push_back(std::move(pupil));
  }
}

std::vector<absl::CivilDay> Cohort::SchoolDays() const {
  std::vector<absl::CivilDay> days;
  const int year = options_.academic_year;
  for (absl::CivilDay day(year, 9, 3); day <= absl::CivilDay(year + 1, 7, 21); ++day) {
    const absl::Weekday weekday = absl::GetWeekday(day);
    if (weekday == absl::Weekday::saturday || weekday == absl::Weekday::sunday) continue;
    if (InHoliday(day, year)) continue;
    days.push_back(day);
  }
  return days;
}

void Cohort::Generate(const std::function<bool(v1::Signal&&)>& emit) const {
  std::mt19937_64 rng(options_.seed ^ 0x5eed);
  int64_t next_id = 0;
  auto new_signal = [&] {
    v1::Signal signal;
    signal.set_signal_id(absl::StrCat("gen-", options_.seed, "-", next_id++));
    return signal;
  };
  for (const Pupil& pupil : pupils_) {
    v1::Signal signal = new_signal();
    *signal.mutable_context() = pupil.context;
    signal.mutable_context()->set_upn(pupil.upn);
    if (!emit(std::move(signal))) return;
  }
  const std::vector<absl::CivilDay> days = SchoolDays();
  // Where each pupil is now, and until when they are suspended or gone.
  std::vector<int> school(pupils_.size());
  std::vector<int> suspended_until(pupils_.size(), -1);
  std::vector<bool> excluded(pupils_.size(), false);
  for (size_t p = 0; p < pupils_.size(); ++p) school[p] = pupils_[p].school;

  for (size_t d = 0; d < days.size(); ++d) {
    const absl::CivilDay day = days[d];
    const double progress = double(d) / double(days.size());
    for (size_t p = 0; p < pupils_.size(); ++p) {
      if (excluded[p]) continue;
      const Pupil& pupil = pupils_[p];
      const double r = pupil.propensity;
      const std::string& urn = schools_[size_t(school[p])].urn;
      // A few pupils drift: their absence grows through the year.
      const double drift = r > 0.25 ? progress * r : 0;
      const double absence = std::min(0.95, 0.03 + 1.8 * r * r + drift * 0.5);
      const bool suspended = int(d) <= suspended_until[p];
      const bool ill_today = Chance(rng, absence);
      for (v1::Session session : {v1::SESSION_AM, v1::SESSION_PM}) {
        v1::Signal signal = new_signal();
        v1::AttendanceMark* mark = signal.mutable_attendance();
        mark->set_upn(pupil.upn);
        mark->set_school_urn(urn);
        *mark->mutable_date() = ToProtoDate(day);
        mark->set_session(session);
        std::string code = session == v1::SESSION_AM ? "/" : "\\";
        if (suspended) {
          code = "E";
        } else if (ill_today) {
          const double u = std::uniform_real_distribution<double>(0, 1)(rng);
          code = u < 0.55 ? "I" : u < 0.65 ? "M" : u < 0.72 ? "C" : u < 0.9 ? "O" : "N";
        } else if (Chance(rng, 0.02)) {
          code = Chance(rng, 0.5) ? "L" : "B";
        }
        mark->set_code(code);
        if (!emit(std::move(signal))) return;
      }
      if (suspended) continue;
      // About 10% of pupils are suspended in a year nationally, clustered.
      if (Chance(rng, 0.0006 * (0.2 + 30 * r * r))) {
        const int sessions = 2 * (1 + int(rng() % (r > 0.4 ? 5 : 2)));
        suspended_until[p] = int(d) + sessions / 2;
        v1::Signal signal = new_signal();
        v1::Suspension* suspension = signal.mutable_suspension();
        suspension->set_upn(pupil.upn);
        suspension->set_school_urn(urn);
        *suspension->mutable_start_date() = ToProtoDate(day);
        suspension->set_sessions(sessions);
        suspension->add_reason_codes(Chance(rng, 0.5) ? "PD" : "VP");
        if (!emit(std::move(signal))) return;
      }
      // Permanent exclusion: about 0.05% a year, almost all high-propensity.
      if (r > 0.4 && Chance(rng, 0.00025 * r)) {
        excluded[p] = true;
        v1::Signal signal = new_signal();
        v1::PermanentExclusion* exclusion = signal.mutable_exclusion();
        exclusion->set_upn(pupil.upn);
        exclusion->set_school_urn(urn);
        *exclusion->mutable_date() = ToProtoDate(day);
        exclusion->add_reason_codes("PP");
        if (!emit(std::move(signal))) return;
        continue;
      }
      // Moves: managed moves for some at risk, ordinary moves for anyone.
      const bool managed = Chance(rng, 0.00005 * r * 20);
      if (managed || Chance(rng, 0.00008)) {
        const int to = int(rng() % schools_.size());
        if (to == school[p]) continue;
        v1::Signal signal = new_signal();
        v1::SchoolMove* move = signal.mutable_move();
        move->set_upn(pupil.upn);
        move->set_from_school_urn(urn);
        move->set_to_school_urn(schools_[size_t(to)].urn);
        *move->mutable_date() = ToProtoDate(day);
        move->set_move_type(managed ? v1::MOVE_TYPE_MANAGED_MOVE : v1::MOVE_TYPE_SCHOOL_MOVE);
        school[p] = to;
        if (!emit(std::move(signal))) return;
      }
    }
  }
}

}  // namespace rooted::cohort
