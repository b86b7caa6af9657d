#ifndef ROOTED_SERVICES_DIRECTORY_TRIAGE_TRIAGE_SERVICE_H_
#define ROOTED_SERVICES_DIRECTORY_TRIAGE_TRIAGE_SERVICE_H_

#include <prometheus/counter.h>

#include "common/base/metrics.h"
#include "common/kafka/event_consumer.h"
#include "common/referrals/referral_facts.h"
#include "common/server/guarded_service.h"
#include "rooted/directory/v1/directory.grpc.pb.h"
#include "services/directory-triage/directory_core.h"

namespace rooted::directory {

// The child's needs as triage reads them; INVALID_ARGUMENT naming the field
// under `path` ("profile.needs[0].term_id: ...").
absl::StatusOr<TriageInput> TriageInputFrom(const DirectoryCore& core, const v1::NeedsProfile& profile,
                                            absl::string_view path);

// Triage for a referral (the referring school or its council) or an ad-hoc
// needs profile (anyone signed in: it names no child).
class TriageServiceImpl final {
 public:
  // Binds every RPC of TriageService to its handler here.
  void Bind(GuardedService& service);

  TriageServiceImpl(DirectoryCore& core, Metrics& metrics);

  absl::Status Triage(const Principal& who, const v1::TriageRequest* request,
                      v1::TriageResponse* response);

 private:
  DirectoryCore& core_;
  prometheus::Family<prometheus::Counter>& triaged_;
};

// Keeps what the directory needs of each referral (coded needs, year group,
// school) from referral-intake's events, triages each new or changed one and
// publishes TriageRecommended; a withdrawn referral's needs are deleted.
// Beside them it keeps each referral's facts (whose it is, what the family
// consented to) for the service referrals made on it. Each event is applied
// and recorded as processed in one atomic step.
class ReferralNeedsHandler final : public EventHandler {
 public:
  ReferralNeedsHandler(DirectoryCore& core, ReferralFactsKeeper& facts)
      : core_(core), facts_(facts) {}
  absl::StatusOr<ApplyResult> Apply(const ConsumedEvent& event) override;

 private:
  DirectoryCore& core_;
  ReferralFactsKeeper& facts_;
};

}  // namespace rooted::directory

#endif  // ROOTED_SERVICES_DIRECTORY_TRIAGE_TRIAGE_SERVICE_H_
