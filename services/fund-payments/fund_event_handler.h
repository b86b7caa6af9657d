#ifndef ROOTED_SERVICES_FUND_PAYMENTS_FUND_EVENT_HANDLER_H_
#define ROOTED_SERVICES_FUND_PAYMENTS_FUND_EVENT_HANDLER_H_

#include "common/base/clock.h"
#include "common/kafka/event_consumer.h"
#include "common/referrals/referral_facts.h"
#include "services/fund-payments/fund_store.h"

namespace rooted::fund {

// A forum decision that requests fund support opens a draft request, once
// per decision, with the case, the child's reference and the amount the
// forum agreed. A practitioner completes it (allocation, category, payee,
// evidence) and submits it naming the decision.
// Referral events keep each referral's facts (whose it is, the child's
// reference, what the family consented to), which every request is checked
// against.
class FundEventHandler final : public EventHandler {
 public:
  FundEventHandler(FundStore& store, ReferralFactsKeeper& referrals, const Clock& clock)
      : store_(store), referrals_(referrals), clock_(clock) {}
  absl::StatusOr<ApplyResult> Apply(const ConsumedEvent& event) override;

 private:
  absl::StatusOr<ApplyResult> ApplyReferral(const ConsumedEvent& event);
  absl::StatusOr<ApplyResult> ApplyForum(const ConsumedEvent& event);

  FundStore& store_;
  ReferralFactsKeeper& referrals_;
  const Clock& clock_;
};

}  // namespace rooted::fund

#endif  // ROOTED_SERVICES_FUND_PAYMENTS_FUND_EVENT_HANDLER_H_
