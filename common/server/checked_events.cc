#include "common/server/checked_events.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/kafka/topics.h"
#include "common/server/message_fields.h"
#include "rooted/directory/v1/directory_events.pb.h"
#include "rooted/forum/v1/forum_events.pb.h"
#include "rooted/fund/v1/fund_events.pb.h"
#include "rooted/referral/v1/referral_events.pb.h"
#include "rooted/risk/v1/risk_events.pb.h"

namespace rooted {

const google::protobuf::Message* EventEnvelopeOf(absl::string_view topic) {
  if (topic == topics::kReferralEvents)
    return &rooted::referral::v1::ReferralEvent::default_instance();
  if (topic == topics::kRiskEvents) return &rooted::risk::v1::RiskEvent::default_instance();
  if (topic == topics::kForumEvents) return &rooted::forum::v1::ForumEvent::default_instance();
  if (topic == topics::kDirectoryEvents)
    return &rooted::directory::v1::DirectoryEvent::default_instance();
  if (topic == topics::kFundEvents) return &rooted::fund::v1::FundEvent::default_instance();
  return nullptr;
}

absl::Status CheckEvent(const ConsumedEvent& event) {
  const google::protobuf::Message* envelope = EventEnvelopeOf(event.topic);
  if (envelope == nullptr) return absl::OkStatus();
  std::unique_ptr<google::protobuf::Message> parsed(envelope->New());
  if (!parsed->ParseFromString(event.payload)) {
    return absl::InvalidArgumentError(absl::StrCat("payload: is not a ",
                                                   envelope->GetDescriptor()->full_name(),
                                                   " (the event on ", event.topic, ")"));
  }
  return CheckEventValues(*parsed);
}

absl::StatusOr<ApplyResult> CheckedEventHandler::Apply(const ConsumedEvent& event) {
  RETURN_IF_ERROR(CheckEvent(event));
  return handler_.Apply(event);
}

absl::StatusOr<std::vector<ApplyResult>> CheckedEventHandler::ApplyBatch(
    std::span<const ConsumedEvent> events) {
  // One event at fault fails the batch; the consumer then goes one by one,
  // so only that event is dead-lettered.
  for (const ConsumedEvent& event : events) RETURN_IF_ERROR(CheckEvent(event));
  return handler_.ApplyBatch(events);
}

}  // namespace rooted
