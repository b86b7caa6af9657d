#ifndef ROOTED_SERVICES_REFERRAL_INTAKE_CASE_TIMELINE_H_
#define ROOTED_SERVICES_REFERRAL_INTAKE_CASE_TIMELINE_H_

#include <functional>
#include <map>
#include <span>
#include <optional>
#include <string>
#include <vector>

#include "common/kafka/event_consumer.h"
#include "common/redis/atomic_write.h"
#include "common/redis/redis_client.h"
#include "rooted/referral/v1/referral.pb.h"
#include "rooted/referral/v1/referral_events.pb.h"
#include "services/referral-intake/referral_store.h"

namespace rooted::referral {

// One step in a case's history, derived from an event of any service.
struct TimelineStep {
  std::string referral_id;
  v1::TimelineEntry entry;
  // How far the case has come, when the event moves it on.
  std::optional<v1::ReferralStatus> reached;
};

// What a referral event says about its case. Intake files these with the
// change that raised the event (see ReferralStore::AppendTimeline).
std::vector<TimelineStep> DescribeReferralEvent(const v1::ReferralEvent& event);

// Files an event of intake's own on its case's timeline, in the batch that
// commits the change it reports.
void AppendToTimeline(const ReferralStore& store, WriteBatch& batch, const v1::ReferralEvent& event);

// Whether reaching `reached` moves a case on from `current`: cases only move
// forward, and declined, withdrawn or closed cases are not moved by events.
bool MovesCaseOn(v1::ReferralStatus current, v1::ReferralStatus reached);

// What an event says about which cases, in words without personal data.
// `referral_of_fund_request` resolves payments to their case (fund events
// name the request, not the referral; nothing when unknown);
// `referrals_of_pupil` finds the cases a pupil's risk band change belongs
// to. Events about no case give nothing. A payload that does not parse as
// its topic's event is INVALID_ARGUMENT, for the consumer to dead-letter; a
// look-up's error (Redis unavailable) is returned as it is, never taken for
// "no case", which would mark the event done with nothing written.
absl::StatusOr<std::vector<TimelineStep>> DescribeEvent(
    const ConsumedEvent& event,
    const std::function<absl::StatusOr<std::optional<std::string>>(const std::string&)>&
        referral_of_fund_request,
    const std::function<absl::StatusOr<std::vector<std::string>>(const std::string&)>&
        referrals_of_pupil);

// Reads a case's timeline, oldest first.
class CaseTimelineReader {
 public:
  virtual ~CaseTimelineReader() = default;
  virtual absl::StatusOr<std::vector<v1::TimelineEntry>> Timeline(const std::string& referral_id) = 0;
};

// Keeps every case's timeline from all five services' events, and moves the
// referral's status on (submitted, triaged, listed for forum, in support) as
// they arrive; never back, never past withdrawn or closed. Each event is
// applied once, with its processed mark, in one atomic step.
class CaseTimelineHandler final : public EventHandler, public CaseTimelineReader {
 public:
  CaseTimelineHandler(RedisClient& redis, RedisReferralStore& store, std::string prefix);
  absl::StatusOr<ApplyResult> Apply(const ConsumedEvent& event) override;
  // A consumer batch in one Redis round trip: each event still its own atomic,
  // guarded step, so a batch cut short is safe to apply again one by one.
  absl::StatusOr<std::vector<ApplyResult>> ApplyBatch(std::span<const ConsumedEvent> events) override;

  absl::StatusOr<std::vector<v1::TimelineEntry>> Timeline(const std::string& referral_id) override;

 private:
  // What earlier events of the same batch told us, before Redis has it.
  struct BatchContext {
    std::map<std::string, std::string> fund_request_case;
  };
  // Nothing when the event leaves nothing to write.
  absl::StatusOr<std::optional<WriteBatch>> Prepare(const ConsumedEvent& event, BatchContext& context);

  RedisClient& redis_;
  RedisReferralStore& store_;
  const std::string prefix_;
};

}  // namespace rooted::referral

#endif  // ROOTED_SERVICES_REFERRAL_INTAKE_CASE_TIMELINE_H_
