#ifndef ROOTED_SERVICES_FORUM_SCHEDULING_FORUM_EVENT_HANDLER_H_
#define ROOTED_SERVICES_FORUM_SCHEDULING_FORUM_EVENT_HANDLER_H_

#include <string>

#include "common/base/clock.h"
#include "common/kafka/event_consumer.h"
#include "common/referrals/referral_facts.h"
#include "services/forum-scheduling/forum_store.h"

namespace rooted::forum {

// What the forum hears from the other services:
// - ReferralSubmitted (or ReferralUpdated) asking for the forum lists the case
//   at the forum serving the pupil's school, once per referral;
// - ReferralWithdrawn and CaseClosed take the case off the queue, and so does
//   consent to the forum withdrawn (unless the referral raised an immediate
//   safeguarding concern, when sharing without consent is lawful);
// - RiskBandChanged keeps the pupil's band, and a case whose pupil turns very
//   high risk is given a hear-by date.
// Each event changes state and is recorded as processed in one atomic step.
class ForumEventHandler final : public EventHandler {
 public:
  ForumEventHandler(ForumStore& store, ReferralFactsKeeper& referrals, const Clock& clock,
                    absl::TimeZone zone, std::string producer_name);

  absl::StatusOr<ApplyResult> Apply(const ConsumedEvent& event) override;

 private:
  struct Listing;
  absl::StatusOr<ApplyResult> ApplyReferral(const ConsumedEvent& event);
  absl::StatusOr<ApplyResult> ApplyRisk(const ConsumedEvent& event);
  // Each adds to `batch` (which holds the referral's facts as the event
  // leaves them) and commits it with the event's processed mark.
  absl::StatusOr<ApplyResult> ApplyReferralEvent(
      WriteBatch batch, const ConsumedEvent& event,
      const rooted::referral::v1::ReferralEvent& envelope,
      const rooted::referral::v1::ReferralFacts& facts);
  absl::StatusOr<ApplyResult> ListFromReferral(WriteBatch batch, const ConsumedEvent& event,
                                               const Listing& listing);
  absl::StatusOr<ApplyResult> EndCase(WriteBatch batch, const ConsumedEvent& event,
                                      const std::string& referral_id, bool withdrawn);
  absl::StatusOr<ApplyResult> Commit(WriteBatch batch, const ConsumedEvent& event);

  ForumStore& store_;
  ReferralFactsKeeper& referrals_;
  const Clock& clock_;
  const absl::TimeZone zone_;
  const std::string producer_name_;
};

}  // namespace rooted::forum

#endif  // ROOTED_SERVICES_FORUM_SCHEDULING_FORUM_EVENT_HANDLER_H_
