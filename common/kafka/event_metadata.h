#ifndef ROOTED_COMMON_KAFKA_EVENT_METADATA_H_
#define ROOTED_COMMON_KAFKA_EVENT_METADATA_H_

#include <google/protobuf/message.h>

#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/auth/principal.h"
#include "common/kafka/event_producer.h"
#include "common/outbox/outbox.h"
#include "rooted/common/v1/common.pb.h"

namespace rooted {

// Fills the metadata every event carries, with a fresh event id.
void FillEventMetadata(rooted::common::v1::EventMetadata* metadata, absl::string_view producer,
                       absl::string_view correlation_id, absl::string_view causation_id,
                       absl::string_view event_type, const Principal& actor, absl::Time now);

// The fully qualified name of the message set in an envelope's "payload"
// oneof (every domain's event envelope has one), for event metadata.
std::string PayloadTypeName(const google::protobuf::Message& envelope);

// The outbox entry for an envelope whose metadata is filled in, keyed by the
// pupil reference so one child's events stay in order.
OutboxEvent ToOutboxEvent(absl::string_view topic, absl::string_view key,
                          const rooted::common::v1::EventMetadata& metadata,
                          const google::protobuf::Message& envelope);

// The same, sent straight to Kafka without an outbox: for a producer that
// changes no state of its own (signal intake), so there is no dual write.
OutgoingMessage ToOutgoingMessage(absl::string_view topic, absl::string_view key,
                                  const rooted::common::v1::EventMetadata& metadata,
                                  const google::protobuf::Message& envelope);

}  // namespace rooted

#endif  // ROOTED_COMMON_KAFKA_EVENT_METADATA_H_
