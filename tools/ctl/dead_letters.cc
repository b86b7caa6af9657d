#include "tools/ctl/dead_letters.h"

#include <librdkafka/rdkafkacpp.h>

#include <memory>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/kafka/event_consumer.h"
#include "common/kafka/kafka_config.h"
#include "common/kafka/topics.h"

namespace rooted::ctl {

std::string DeadLetter::id() const { return absl::StrCat(dlq_topic, ":", partition, ":", offset); }

std::string DeadLetter::source_topic() const {
  absl::string_view topic = dlq_topic;
  absl::ConsumeSuffix(&topic, topics::kDeadLetterSuffix);
  return std::string(topic);
}

std::string DeadLetter::header(absl::string_view name) const {
  auto found = headers.find(std::string(name));
  return found == headers.end() ? std::string() : found->second;
}

absl::StatusOr<DeadLetterPlace> ParseDeadLetterId(absl::string_view id, absl::string_view field) {
  const std::vector<absl::string_view> parts = absl::StrSplit(id, ':');
  DeadLetterPlace place;
  if (parts.size() != 3 || !absl::EndsWith(parts[0], topics::kDeadLetterSuffix) ||
      !absl::SimpleAtoi(parts[1], &place.partition) || !absl::SimpleAtoi(parts[2], &place.offset) ||
      place.partition < 0 || place.offset < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": \"", id,
        "\" is not a dead letter's id (<topic>.dlq:<partition>:<offset>, as dlq list shows)"));
  }
  place.dlq_topic = std::string(parts[0]);
  return place;
}

namespace {

DeadLetter ToDeadLetter(RdKafka::Message& message) {
  DeadLetter letter;
  letter.dlq_topic = message.topic_name();
  letter.partition = message.partition();
  letter.offset = message.offset();
  letter.at = absl::FromUnixMillis(message.timestamp().timestamp);
  if (message.key() != nullptr) letter.key = *message.key();
  letter.payload.assign(static_cast<const char*>(message.payload()), message.len());
  letter.headers = HeadersOf(message);
  return letter;
}

}  // namespace

absl::StatusOr<std::vector<DeadLetter>> ReadDeadLetters(const std::string& bootstrap,
                                                        const std::vector<std::string>& dlq_topics,
                                                        absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  const auto ms_left = [&] {
    return static_cast<int>(
        std::max<int64_t>(0, absl::ToInt64Milliseconds(deadline - absl::Now())));
  };
  absl::StatusOr<std::unique_ptr<RdKafka::Conf>> conf = MakeKafkaConf(
      {
          {"bootstrap.servers", bootstrap},
          // Required by the consumer, never joined: partitions are assigned.
          {"group.id", "rootedctl-dlq-reader"},
          {"enable.auto.commit", "false"},
          {"enable.auto.offset.store", "false"},
          {"log_level", "3"},
      },
      {});
  if (!conf.ok()) return conf.status();
  std::string error;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(
      RdKafka::KafkaConsumer::create(conf->get(), error));
  if (!consumer) return absl::InvalidArgumentError(absl::StrCat("--kafka-bootstrap: ", error));

  RdKafka::Metadata* raw = nullptr;
  // All topics: asking for one by name could create it on a broker that
  // creates topics on demand.
  if (const RdKafka::ErrorCode err = consumer->metadata(true, nullptr, &raw, ms_left());
      err != RdKafka::ERR_NO_ERROR) {
    return absl::UnavailableError(
        absl::StrCat("kafka at ", bootstrap, " did not answer: ", RdKafka::err2str(err)));
  }
  std::unique_ptr<RdKafka::Metadata> metadata(raw);
  const std::set<std::string> wanted(dlq_topics.begin(), dlq_topics.end());
  // Each partition with something on it, and the offset it ends at now.
  std::map<std::pair<std::string, int32_t>, int64_t> ends;
  std::vector<RdKafka::TopicPartition*> assignment;
  for (const RdKafka::TopicMetadata* topic : *metadata->topics()) {
    if (!wanted.contains(topic->topic())) continue;
    for (const RdKafka::PartitionMetadata* partition : *topic->partitions()) {
      int64_t low = 0, high = 0;
      if (const RdKafka::ErrorCode err = consumer->query_watermark_offsets(
              topic->topic(), partition->id(), &low, &high, ms_left());
          err != RdKafka::ERR_NO_ERROR) {
        RdKafka::TopicPartition::destroy(assignment);
        return absl::UnavailableError(absl::StrCat("kafka: the end of ", topic->topic(),
                                                   " partition ", partition->id(),
                                                   " is unknown: ", RdKafka::err2str(err)));
      }
      if (high <= low) continue;
      ends[{topic->topic(), partition->id()}] = high;
      assignment.push_back(RdKafka::TopicPartition::create(topic->topic(), partition->id(), low));
    }
  }
  std::vector<DeadLetter> letters;
  if (assignment.empty()) return letters;
  consumer->assign(assignment);
  RdKafka::TopicPartition::destroy(assignment);
  while (!ends.empty()) {
    if (absl::Now() >= deadline) {
      consumer->close();
      return absl::UnavailableError(absl::StrCat(
          "kafka: reading the dead letters took longer than ", absl::FormatDuration(timeout)));
    }
    std::unique_ptr<RdKafka::Message> message(consumer->consume(std::min(ms_left(), 200)));
    if (message->err() == RdKafka::ERR__TIMED_OUT ||
        message->err() == RdKafka::ERR__PARTITION_EOF) {
      continue;
    }
    if (message->err() != RdKafka::ERR_NO_ERROR)
      continue;  // the client retries; the deadline bounds it
    const auto partition = std::pair(message->topic_name(), message->partition());
    auto end = ends.find(partition);
    if (end == ends.end()) continue;
    letters.push_back(ToDeadLetter(*message));
    if (message->offset() + 1 >= end->second) ends.erase(end);
  }
  consumer->close();
  return letters;
}

absl::StatusOr<OutgoingMessage> ReplayOf(const DeadLetter& letter) {
  const std::string group = letter.header(kDeadLetterGroupHeader);
  if (group.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("id: ", letter.id(), " names no consumer group (no ", kDeadLetterGroupHeader,
                     " header), so it cannot be replayed to the group that failed it"));
  }
  OutgoingMessage message{letter.source_topic(), letter.key, letter.payload, {}};
  for (const auto& [name, value] : letter.headers) {
    // The consumer's own notes, and an earlier replay's, stay behind.
    if (absl::StartsWith(name, "dlq_") || name == kReplayForGroupHeader ||
        name == kReplayIdHeader) {
      continue;
    }
    message.headers.emplace_back(name, value);
  }
  message.headers.emplace_back(kReplayForGroupHeader, group);
  message.headers.emplace_back(kReplayIdHeader, letter.id());
  return message;
}

}  // namespace rooted::ctl
