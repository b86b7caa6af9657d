#ifndef ROOTED_SERVICES_RISK_SCORING_OUTCOMES_H_
#define ROOTED_SERVICES_RISK_SCORING_OUTCOMES_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "common/kafka/event_consumer.h"
#include "common/redis/redis_client.h"
#include "rooted/risk/v1/risk.pb.h"
#include "services/risk-scoring/pupil_state.h"
#include "services/risk-scoring/risk_store.h"

namespace rooted::risk {

// The interventions outcomes are measured for, by the event that records
// them: "referral", "forum_decision", "service_referral", "fund_payment".
std::optional<absl::string_view> InterventionOf(absl::string_view event_type);

struct Intervention {
  std::string kind;
  absl::CivilDay day;
};

// Everything the report needs about one pupil.
struct PupilInterventions {
  PupilState state;
  std::vector<Intervention> interventions;
};

// Outcome figures per intervention kind, from each pupil's register around
// the intervention day (see InterventionOutcome in risk.proto).
v1::GetOutcomeReportResponse BuildOutcomeReport(const std::vector<PupilInterventions>& pupils);

// Consumes other services' events and records, per pupil, the interventions
// among them. Kept apart from the pupil state (its own keys), so it never
// races the signal scorer; effectively once through the processed-event guard.
//   <p>:interventions:<ref>   set of "<kind>:<epoch day>"
//   <p>:intervention_pupils   set of pupil refs
class InterventionRecorder final : public EventHandler {
 public:
  // Pupil states are read through `store`; interventions live beside them
  // under the same prefix.
  InterventionRecorder(RedisClient& redis, RiskStore& store, std::string prefix);
  absl::StatusOr<ApplyResult> Apply(const ConsumedEvent& event) override;

  // Pages through the pupils with interventions ("0" starts and ends).
  absl::StatusOr<std::vector<PupilInterventions>> LoadPage(std::string& cursor, int count);
  // Closed cases by outcome, from CaseClosed events.
  absl::StatusOr<std::vector<v1::ClosureCount>> LoadClosures();

 private:
  absl::StatusOr<ApplyResult> RecordClosure(const ConsumedEvent& event);
  RedisClient& redis_;
  RiskStore& store_;
  const std::string prefix_;
};

}  // namespace rooted::risk

#endif  // ROOTED_SERVICES_RISK_SCORING_OUTCOMES_H_
