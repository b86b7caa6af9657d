#ifndef ROOTED_SERVICES_RISK_SCORING_EVIDENCE_H_
#define ROOTED_SERVICES_RISK_SCORING_EVIDENCE_H_

#include <string>

#include "common/base/clock.h"
#include "common/kafka/event_consumer.h"
#include "common/redis/redis_client.h"
#include "rooted/risk/v1/risk_events.pb.h"
#include "services/risk-scoring/pupil_state.h"
#include "services/risk-scoring/risk_store.h"

namespace rooted::risk {

// A pupil's register this academic year, week by week (Monday to Sunday),
// to the last day with a mark; unknown pupils give known = false.
v1::AttendanceEvidence EvidenceOf(const PupilState* state);

// Answers referrals into a programme (ReferralSubmitted naming a
// programme_id) with the pupil's AttendanceEvidenceTaken, once per referral
// event, through the outbox.
class EvidenceResponder final : public EventHandler {
 public:
  EvidenceResponder(RedisClient& redis, RiskStore& store, const Clock& clock, std::string prefix, std::string la_code);
  absl::StatusOr<ApplyResult> Apply(const ConsumedEvent& event) override;

 private:
  RedisClient& redis_;
  RiskStore& store_;
  const Clock& clock_;
  const std::string prefix_;
  const std::string la_code_;
};

}  // namespace rooted::risk

#endif  // ROOTED_SERVICES_RISK_SCORING_EVIDENCE_H_
