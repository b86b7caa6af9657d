#include "common/kafka/event_consumer.h"

#include <librdkafka/rdkafkacpp.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/base/thread_name.h"
#include "common/kafka/kafka_config.h"
#include "common/kafka/topics.h"

namespace rooted {

std::string ConsumedEvent::event_id() const {
  auto it = headers.find("event_id");
  if (it == headers.end() || it->second.empty()) return std::string();
  return it->second;
}

std::string ConsumedEvent::dedup_key() const {
  std::string id = event_id();
  return replay && !id.empty() ? absl::StrCat(id, ":replay") : id;
}

std::map<std::string, std::string> HeadersOf(RdKafka::Message& message) {
  std::map<std::string, std::string> by_name;
  if (RdKafka::Headers* headers = message.headers()) {
    for (const RdKafka::Headers::Header& h : headers->get_all()) {
      if (h.value() != nullptr) {
        by_name[h.key()] = std::string(static_cast<const char*>(h.value()), h.value_size());
      }
    }
  }
  return by_name;
}

std::string ProcessedEventKey(absl::string_view prefix, absl::string_view event_id) {
  return absl::StrCat(prefix, ":processed:", event_id);
}

absl::StatusOr<std::unique_ptr<EventConsumer>> EventConsumer::Create(EventConsumerOptions options,
                                                                     EventHandler& handler,
                                                                     EventProducer& dead_letters,
                                                                     Metrics& metrics,
                                                                     Logger& logger) {
  if (options.group_id.empty()) return absl::InvalidArgumentError("consumer group id must be set");
  if (options.topics.empty())
    return absl::InvalidArgumentError("consumer needs at least one topic");
  auto log = std::make_unique<KafkaLogBridge>(logger);
  absl::StatusOr<std::unique_ptr<RdKafka::Conf>> conf = MakeKafkaConf(
      {
          {"bootstrap.servers", options.bootstrap_servers},
          {"group.id", options.group_id},
          {"client.id", options.client_id},
          // Offsets are stored by us after each event is applied, and
          // committed in the background from what was stored.
          {"enable.auto.commit", "true"},
          {"enable.auto.offset.store", "false"},
          {"auto.commit.interval.ms", "1000"},
          {"auto.offset.reset", "earliest"},
          // Small requests go out at once rather than waiting on the
          // previous one's acknowledgement (Nagle against delayed ACK: 40 ms).
          {"socket.nagle.disable", "true"},
          {"isolation.level", "read_committed"},
          // A broker that cannot wake a waiting fetch on new data (the local
          // mock cluster) would otherwise hold each event up to 500 ms; a real
          // broker answers as soon as data arrives either way.
          {"fetch.wait.max.ms", "50"},
      },
      options.overrides, log.get());
  if (!conf.ok()) return conf.status();
  std::string error;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(
      RdKafka::KafkaConsumer::create(conf->get(), error));
  if (!consumer) return absl::InvalidArgumentError(absl::StrCat("kafka consumer: ", error));
  return std::unique_ptr<EventConsumer>(new EventConsumer(std::move(options), std::move(log), std::move(consumer),
                                                          handler, dead_letters, metrics, logger));
}

EventConsumer::EventConsumer(EventConsumerOptions options, std::unique_ptr<KafkaLogBridge> log,
                             std::unique_ptr<RdKafka::KafkaConsumer> consumer,
                             EventHandler& handler, EventProducer& dead_letters, Metrics& metrics,
                             Logger& logger)
    : options_(std::move(options)),
      log_(std::move(log)),
      consumer_(std::move(consumer)),
      handler_(handler),
      dead_letters_(dead_letters),
      metrics_(metrics),
      logger_(logger) {}

EventConsumer::~EventConsumer() { Stop(); }

void EventConsumer::Start() {
  for (const std::string& topic : options_.topics) metrics_.DeclareConsumedTopic(topic);
  consumer_->subscribe(options_.topics);
  running_.store(true);
  thread_ = std::thread([this] {
    NameThisThread("kafka-consumer");
    Run();
  });
  lag_thread_ = std::thread([this] {
    NameThisThread("kafka-lag");
    RunLagTimer();
  });
}

void EventConsumer::Stop() {
  if (!thread_.joinable()) return;
  running_.store(false);
  {
    absl::MutexLock lock(&lag_mu_);
    lag_timer_stopping_ = true;
  }
  lag_thread_.join();
  thread_.join();
  consumer_->commitSync();
  consumer_->close();
}

void EventConsumer::RunLagTimer() {
  absl::MutexLock lock(&lag_mu_);
  while (!lag_mu_.AwaitWithTimeout(absl::Condition(&lag_timer_stopping_), options_.lag_interval)) {
    lag_mu_.Unlock();
    ReportLag();
    lag_mu_.Lock();
  }
}

void EventConsumer::ReportLag() {
  // Short broker waits, checked between partitions: Stop waits for a round
  // in progress, and the shutdown's consumer stage has seconds, not minutes.
  constexpr int kBrokerWaitMs = 500;
  const auto stopping = [this] {
    absl::MutexLock lock(&lag_mu_);
    return lag_timer_stopping_;
  };
  std::vector<RdKafka::TopicPartition*> assigned;
  if (consumer_->assignment(assigned) != RdKafka::ERR_NO_ERROR) return;
  std::set<std::pair<std::string, int32_t>> still_assigned;
  for (const RdKafka::TopicPartition* partition : assigned) {
    still_assigned.emplace(partition->topic(), partition->partition());
  }
  // A failed query leaves the last figure standing: a broker slow to
  // answer must not read as a consumer that caught up.
  if (!assigned.empty() && !stopping() &&
      consumer_->committed(assigned, kBrokerWaitMs) == RdKafka::ERR_NO_ERROR) {
    for (const RdKafka::TopicPartition* partition : assigned) {
      if (stopping()) break;
      int64_t low = 0, high = 0;
      if (consumer_->query_watermark_offsets(partition->topic(), partition->partition(), &low,
                                             &high, kBrokerWaitMs) != RdKafka::ERR_NO_ERROR) {
        continue;
      }
      // Nothing committed yet: the group starts at the earliest event.
      const int64_t committed = partition->offset() >= 0 ? partition->offset() : low;
      metrics_.SetConsumerLag(options_.group_id, partition->topic(), partition->partition(),
                              double(std::max<int64_t>(0, high - committed)));
    }
  }
  RdKafka::TopicPartition::destroy(assigned);
  absl::MutexLock lock(&lag_mu_);
  // A partition taken from this member is another member's to report.
  for (const auto& [topic, partition] : lag_reported_) {
    if (!still_assigned.contains({topic, partition})) {
      metrics_.SetConsumerLag(options_.group_id, topic, partition, 0);
    }
  }
  lag_reported_ = std::move(still_assigned);
}

void EventConsumer::Backoff(absl::Duration& delay) {
  const absl::Time until = absl::Now() + delay;
  while (running_.load() && absl::Now() < until) absl::SleepFor(absl::Milliseconds(10));
  delay = std::min(delay * 2, options_.max_backoff);
}

bool EventConsumer::DeadLetter(const ConsumedEvent& event, const absl::Status& reason,
                               int attempts) {
  OutgoingMessage message{
      event.topic + std::string(topics::kDeadLetterSuffix), event.key, event.payload, {}};
  for (const auto& [name, value] : event.headers) message.headers.emplace_back(name, value);
  message.headers.emplace_back(kDeadLetterReasonHeader, std::string(reason.message()));
  message.headers.emplace_back(kDeadLetterCodeHeader, absl::StatusCodeToString(reason.code()));
  message.headers.emplace_back(kDeadLetterAttemptsHeader, std::to_string(attempts));
  message.headers.emplace_back(kDeadLetterGroupHeader, options_.group_id);
  message.headers.emplace_back(kDeadLetterSourceHeader,
                               absl::StrCat(event.topic, "/", event.partition, "@", event.offset));
  absl::Duration delay = options_.initial_backoff;
  while (running_.load()) {
    std::vector<absl::Status> sent = dead_letters_.Deliver({&message, 1}, absl::Seconds(10));
    if (sent.front().ok()) {
      metrics_.RecordDeadLettered(event.topic);
      logger_.Error("event dead-lettered", {{"topic", event.topic},
                                            {"event_id", event.event_id()},
                                            {"attempts", attempts},
                                            {"reason", std::string(reason.message())}});
      return true;
    }
    logger_.Warn("dead-letter delivery failed; retrying",
                 {{"topic", event.topic}, {"error", std::string(sent.front().message())}});
    Backoff(delay);
  }
  return false;
}

bool EventConsumer::Process(const ConsumedEvent& event) {
  int attempts = 0;
  absl::Duration delay = options_.initial_backoff;
  while (running_.load()) {
    absl::StatusOr<ApplyResult> result =
        event.event_id().empty() ? absl::InvalidArgumentError("event has no event_id header")
                                 : handler_.Apply(event);
    if (result.ok()) {
      metrics_.RecordConsumed(event.topic,
                              *result == ApplyResult::kApplied ? "applied" : "duplicate");
      return true;
    }
    if (absl::IsUnavailable(result.status())) {
      logger_.Warn("store unavailable; will retry the event",
                   {{"topic", event.topic}, {"error", std::string(result.status().message())}});
      Backoff(delay);
      continue;
    }
    ++attempts;
    metrics_.RecordConsumed(event.topic, "retried");
    if (attempts >= options_.max_attempts) return DeadLetter(event, result.status(), attempts);
    Backoff(delay);
  }
  return false;
}

absl::StatusOr<std::vector<ApplyResult>> EventHandler::ApplyBatch(
    std::span<const ConsumedEvent> events) {
  std::vector<ApplyResult> results;
  results.reserve(events.size());
  for (const ConsumedEvent& event : events) {
    absl::StatusOr<ApplyResult> result = Apply(event);
    if (!result.ok()) return result.status();
    results.push_back(*result);
  }
  return results;
}

bool EventConsumer::ProcessBatch(std::span<const ConsumedEvent> events) {
  if (events.size() == 1) return Process(events.front());
  const bool all_have_ids = std::all_of(
      events.begin(), events.end(), [](const ConsumedEvent& e) { return !e.event_id().empty(); });
  absl::Duration delay = options_.initial_backoff;
  while (all_have_ids && running_.load()) {
    absl::StatusOr<std::vector<ApplyResult>> results = handler_.ApplyBatch(events);
    if (results.ok() && results->size() == events.size()) {
      // Counted per topic, not per event: batches are large.
      std::map<std::pair<std::string, bool>, int> counts;
      for (size_t i = 0; i < events.size(); ++i) {
        ++counts[{events[i].topic, (*results)[i] == ApplyResult::kApplied}];
      }
      for (const auto& [key, count] : counts) {
        metrics_.RecordConsumed(key.first, key.second ? "applied" : "duplicate", count);
      }
      return true;
    }
    if (!results.ok() && absl::IsUnavailable(results.status())) {
      logger_.Warn(
          "store unavailable; will retry the batch",
          {{"events", int64_t(events.size())}, {"error", std::string(results.status().message())}});
      Backoff(delay);
      continue;
    }
    break;  // some event in the batch is at fault: find it one by one
  }
  for (const ConsumedEvent& event : events) {
    if (!Process(event)) return false;
  }
  return true;
}

void EventConsumer::StoreOffsets(std::span<const ConsumedEvent> events) {
  // The next offset to read, per partition: the last event of each.
  std::map<std::pair<std::string, int32_t>, int64_t> next;
  for (const ConsumedEvent& event : events) {
    int64_t& offset = next[{event.topic, event.partition}];
    offset = std::max(offset, event.offset + 1);
  }
  std::vector<RdKafka::TopicPartition*> positions;
  for (const auto& [partition, offset] : next) {
    positions.push_back(RdKafka::TopicPartition::create(partition.first, partition.second, offset));
  }
  consumer_->offsets_store(positions);
  RdKafka::TopicPartition::destroy(positions);
}

bool EventConsumer::IsReplayForAnotherGroup(ConsumedEvent& event) const {
  auto group = event.headers.find(std::string(kReplayForGroupHeader));
  if (group == event.headers.end()) return false;
  if (group->second != options_.group_id) return true;
  event.replay = true;
  return false;
}

namespace {

ConsumedEvent ToConsumedEvent(RdKafka::Message& message) {
  ConsumedEvent event;
  event.topic = message.topic_name();
  event.partition = message.partition();
  event.offset = message.offset();
  if (message.key() != nullptr) event.key = *message.key();
  event.payload.assign(static_cast<const char*>(message.payload()), message.len());
  event.headers = HeadersOf(message);
  return event;
}

}  // namespace

void EventConsumer::Run() {
  std::vector<ConsumedEvent> batch;
  while (running_.load()) {
    batch.clear();
    // Wait for the first event, then take what is already fetched, up to
    // max_batch, without waiting further.
    int timeout_ms = 100;
    while (batch.size() < options_.max_batch) {
      std::unique_ptr<RdKafka::Message> message(consumer_->consume(timeout_ms));
      if (message->err() == RdKafka::ERR__TIMED_OUT) break;
      if (message->err() == RdKafka::ERR__PARTITION_EOF) continue;
      if (message->err() != RdKafka::ERR_NO_ERROR) {
        logger_.Warn("consume error", {{"error", message->errstr()}});
        break;
      }
      batch.push_back(ToConsumedEvent(*message));
      timeout_ms = 0;
    }
    if (batch.empty()) continue;
    // Replays meant for another group are skipped, their offsets stored
    // with the rest. Copied out only when there are any: they are rare.
    std::vector<bool> for_another_group(batch.size());
    size_t skipped = 0;
    for (size_t i = 0; i < batch.size(); ++i) {
      if (IsReplayForAnotherGroup(batch[i])) {
        for_another_group[i] = true;
        ++skipped;
        metrics_.RecordConsumed(batch[i].topic, "skipped");
      }
    }
    std::vector<ConsumedEvent> ours;
    if (skipped > 0) {
      for (size_t i = 0; i < batch.size(); ++i) {
        if (!for_another_group[i]) ours.push_back(batch[i]);
      }
    }
    const std::span<const ConsumedEvent> to_apply = skipped > 0 ? ours : batch;
    // Not stored when stopping mid-batch: the events are redelivered after restart.
    if (!to_apply.empty() && !ProcessBatch(to_apply)) break;
    StoreOffsets(batch);
  }
}

}  // namespace rooted
