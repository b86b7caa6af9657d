#ifndef ROOTED_COMMON_SERVER_CHECKED_EVENTS_H_
#define ROOTED_COMMON_SERVER_CHECKED_EVENTS_H_

#include <google/protobuf/message.h>

#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/kafka/event_consumer.h"

namespace rooted {

// The envelope message a topic carries; null for a topic of no envelope we
// know. The signals topic is left out: risk scoring checks each signal
// itself, field by field, at a volume where a second parse would cost more
// than the scoring.
const google::protobuf::Message* EventEnvelopeOf(absl::string_view topic);

// Whether an event is one our producers could have sent: its payload parses
// as its topic's envelope, and CheckEventValues holds. INVALID_ARGUMENT
// naming the field ("payload", "case_listed.forum_case.pupil_ref") if not.
absl::Status CheckEvent(const ConsumedEvent& event);

// A service's handler behind CheckEvent: an event that fails it is refused
// before the handler sees it, so the consumer dead-letters it with the reason
// instead of a handler storing, listing or counting an impossible value.
// ServiceCore::Consumer puts every service's handlers behind one.
class CheckedEventHandler final : public EventHandler {
 public:
  explicit CheckedEventHandler(EventHandler& handler) : handler_(handler) {}
  absl::StatusOr<ApplyResult> Apply(const ConsumedEvent& event) override;
  absl::StatusOr<std::vector<ApplyResult>> ApplyBatch(
      std::span<const ConsumedEvent> events) override;

 private:
  EventHandler& handler_;
};

}  // namespace rooted

#endif  // ROOTED_COMMON_SERVER_CHECKED_EVENTS_H_
