#ifndef ROOTED_SERVICES_RISK_SCORING_MOVEMENTS_H_
#define ROOTED_SERVICES_RISK_SCORING_MOVEMENTS_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "rooted/risk/v1/risk.pb.h"
#include "rooted/risk/v1/risk_events.pb.h"

namespace rooted::risk {

// The movement a signal reports (a move or a permanent exclusion), if any.
std::optional<v1::PupilMovement> MovementOf(const std::string& pupil_ref, const v1::Signal& signal);

struct MovementReportScope {
  // Empty: every establishment (the council's view).
  std::string school_urn;
  bool include_pupils = false;
};

// Counts per establishment and for the council, from the period's
// movements and what kind each establishment is (mainstream if unknown).
// With a school in scope, only its row, and only movements it took part in.
v1::GetMovementReportResponse BuildMovementReport(const std::vector<v1::PupilMovement>& movements,
                                                  const std::map<std::string, v1::EstablishmentKind>& kinds,
                                                  const MovementReportScope& scope);

}  // namespace rooted::risk

#endif  // ROOTED_SERVICES_RISK_SCORING_MOVEMENTS_H_
