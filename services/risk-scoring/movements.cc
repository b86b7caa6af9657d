#include "services/risk-scoring/movements.h"

#include <algorithm>
#include <tuple>

namespace rooted::risk {

std::optional<v1::PupilMovement> MovementOf(const std::string& pupil_ref, const v1::Signal& signal) {
  v1::PupilMovement m;
  m.mutable_pupil_ref()->set_value(pupil_ref);
  if (signal.has_move()) {
    m.set_kind(v1::MOVEMENT_KIND_MOVE);
    *m.mutable_date() = signal.move().date();
    m.set_from_school_urn(signal.move().from_school_urn());
    m.set_to_school_urn(signal.move().to_school_urn());
    m.set_move_type(signal.move().move_type());
    return m;
  }
  if (signal.has_exclusion()) {
    m.set_kind(v1::MOVEMENT_KIND_PERMANENT_EXCLUSION);
    *m.mutable_date() = signal.exclusion().date();
    m.set_from_school_urn(signal.exclusion().school_urn());
    return m;
  }
  return std::nullopt;
}

v1::GetMovementReportResponse BuildMovementReport(const std::vector<v1::PupilMovement>& movements,
                                                  const std::map<std::string, v1::EstablishmentKind>& kinds,
                                                  const MovementReportScope& scope) {
  auto kind_of = [&](const std::string& urn) {
    const auto it = kinds.find(urn);
    return it == kinds.end() ? v1::ESTABLISHMENT_KIND_MAINSTREAM : it->second;
  };
  std::map<std::string, v1::SchoolMovements> rows;
  auto row = [&](const std::string& urn) -> v1::SchoolMovements& {
    v1::SchoolMovements& r = rows[urn];
    r.set_school_urn(urn);
    r.set_kind(kind_of(urn));
    return r;
  };
  v1::GetMovementReportResponse report;
  for (const v1::PupilMovement& m : movements) {
    const std::string& from = m.from_school_urn();
    const std::string& to = m.to_school_urn();
    if (!scope.school_urn.empty() && from != scope.school_urn && to != scope.school_urn) continue;
    if (m.kind() == v1::MOVEMENT_KIND_PERMANENT_EXCLUSION) {
      v1::SchoolMovements& r = row(from);
      r.set_permanent_exclusions(r.permanent_exclusions() + 1);
      r.set_left(r.left() + 1);
    } else {
      const bool managed = m.move_type() == v1::MOVE_TYPE_MANAGED_MOVE;
      v1::SchoolMovements& out = row(from);
      out.set_left(out.left() + 1);
      if (managed) out.set_managed_moves_out(out.managed_moves_out() + 1);
      if (kind_of(to) == v1::ESTABLISHMENT_KIND_ALTERNATIVE_PROVISION) {
        out.set_to_alternative_provision(out.to_alternative_provision() + 1);
      }
      if (kind_of(to) == v1::ESTABLISHMENT_KIND_PUPIL_REFERRAL_UNIT) {
        out.set_to_pupil_referral_unit(out.to_pupil_referral_unit() + 1);
      }
      v1::SchoolMovements& in = row(to);
      in.set_joined(in.joined() + 1);
      if (managed) in.set_managed_moves_in(in.managed_moves_in() + 1);
      if (kind_of(from) == v1::ESTABLISHMENT_KIND_ALTERNATIVE_PROVISION) {
        in.set_from_alternative_provision(in.from_alternative_provision() + 1);
      }
      if (kind_of(from) == v1::ESTABLISHMENT_KIND_PUPIL_REFERRAL_UNIT) {
        in.set_from_pupil_referral_unit(in.from_pupil_referral_unit() + 1);
      }
    }
    if (scope.include_pupils) *report.add_pupils() = m;
  }
  v1::SchoolMovements council;
  for (auto& [urn, r] : rows) {
    if (!scope.school_urn.empty() && urn != scope.school_urn) continue;
    council.set_joined(council.joined() + r.joined());
    council.set_left(council.left() + r.left());
    council.set_managed_moves_in(council.managed_moves_in() + r.managed_moves_in());
    council.set_managed_moves_out(council.managed_moves_out() + r.managed_moves_out());
    council.set_to_alternative_provision(council.to_alternative_provision() + r.to_alternative_provision());
    council.set_from_alternative_provision(council.from_alternative_provision() + r.from_alternative_provision());
    council.set_to_pupil_referral_unit(council.to_pupil_referral_unit() + r.to_pupil_referral_unit());
    council.set_from_pupil_referral_unit(council.from_pupil_referral_unit() + r.from_pupil_referral_unit());
    council.set_permanent_exclusions(council.permanent_exclusions() + r.permanent_exclusions());
    *report.add_schools() = std::move(r);
  }
  // The council's totals are for the council's view only.
  if (scope.school_urn.empty()) *report.mutable_council() = std::move(council);
  std::sort(report.mutable_pupils()->begin(), report.mutable_pupils()->end(),
            [](const v1::PupilMovement& a, const v1::PupilMovement& b) {
              return std::make_tuple(a.date().year(), a.date().month(), a.date().day(), a.pupil_ref().value()) <
                     std::make_tuple(b.date().year(), b.date().month(), b.date().day(), b.pupil_ref().value());
            });
  return report;
}

}  // namespace rooted::risk
