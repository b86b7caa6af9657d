#include "common/kafka/event_metadata.h"

#include "common/base/ids.h"
#include "common/base/proto_time.h"

namespace rooted {

void FillEventMetadata(rooted::common::v1::EventMetadata* metadata, absl::string_view producer,
                       absl::string_view correlation_id, absl::string_view causation_id,
                       absl::string_view event_type, const Principal& actor, absl::Time now) {
  metadata->set_event_id(NewUuid());
  *metadata->mutable_occurred_at() = ToProtoTimestamp(now);
  metadata->set_producer(std::string(producer));
  metadata->set_correlation_id(std::string(correlation_id));
  metadata->set_causation_id(std::string(causation_id));
  metadata->set_event_type(std::string(event_type));
  metadata->set_la_code(actor.la_code);
  *metadata->mutable_actor() = actor.ToActor();
}

std::string PayloadTypeName(const google::protobuf::Message& envelope) {
  const google::protobuf::OneofDescriptor* oneof =
      envelope.GetDescriptor()->FindOneofByName("payload");
  if (oneof == nullptr) return "";
  const google::protobuf::FieldDescriptor* field =
      envelope.GetReflection()->GetOneofFieldDescriptor(envelope, oneof);
  return field == nullptr ? "" : field->message_type()->full_name();
}

OutboxEvent ToOutboxEvent(absl::string_view topic, absl::string_view key,
                          const rooted::common::v1::EventMetadata& metadata,
                          const google::protobuf::Message& envelope) {
  return OutboxEvent{std::string(topic), std::string(key), envelope.SerializeAsString(),
                     metadata.event_id(), metadata.event_type()};
}

OutgoingMessage ToOutgoingMessage(absl::string_view topic, absl::string_view key,
                                  const rooted::common::v1::EventMetadata& metadata,
                                  const google::protobuf::Message& envelope) {
  return OutgoingMessage{
      std::string(topic),
      std::string(key),
      envelope.SerializeAsString(),
      {{"event_id", metadata.event_id()}, {"event_type", metadata.event_type()}}};
}

}  // namespace rooted
