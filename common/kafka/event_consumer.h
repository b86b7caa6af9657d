#ifndef ROOTED_COMMON_KAFKA_EVENT_CONSUMER_H_
#define ROOTED_COMMON_KAFKA_EVENT_CONSUMER_H_

#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/base/log.h"
#include "common/base/metrics.h"
#include "common/kafka/event_producer.h"
#include "common/kafka/kafka_config.h"

namespace RdKafka {
class KafkaConsumer;
class Message;
}

namespace rooted {

struct ConsumedEvent {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  std::string key;
  std::string payload;
  std::map<std::string, std::string> headers;
  // True for a replay of a dead letter meant for this consumer's group.
  bool replay = false;

  // The producer's event id (the event_id header): what events caused by
  // this one name as their cause, and what logs show.
  std::string event_id() const;
  // What a handler's processed mark is keyed on: the event id, or for a
  // replay "<event id>:replay". A dead-lettered event was never applied by
  // its group, yet its processed mark may exist (written by a consumer that
  // swallowed it) or have expired, so a replay has a key of its own; every
  // replay of the event shares it (a dead letter replayed twice, or
  // dead-lettered again and that copy replayed too), so it applies once.
  std::string dedup_key() const;
};

// Headers of a replayed dead letter (rootedctl dlq replay): the consumer
// group that failed it, which alone applies it (every other group skips it),
// and the dead letter's place ("<dlq topic>:<partition>:<offset>").
inline constexpr absl::string_view kReplayForGroupHeader = "replay_for_group";
inline constexpr absl::string_view kReplayIdHeader = "replay_id";
// Headers the consumer adds to a dead letter: why, how often tried, by whom,
// and where it came from ("<topic>/<partition>@<offset>").
inline constexpr absl::string_view kDeadLetterReasonHeader = "dlq_reason";
inline constexpr absl::string_view kDeadLetterCodeHeader = "dlq_code";
inline constexpr absl::string_view kDeadLetterAttemptsHeader = "dlq_attempts";
inline constexpr absl::string_view kDeadLetterGroupHeader = "dlq_consumer_group";
inline constexpr absl::string_view kDeadLetterSourceHeader = "dlq_source";

enum class ApplyResult { kApplied, kDuplicate };

// A service's reaction to one event. Apply must change state and record the
// event id as processed in one atomic step (WriteBatch with the guard key
// ProcessedEventKey), and answer kDuplicate for an id already processed, so a
// replayed or duplicated event changes nothing.
//
// Errors: UNAVAILABLE means the store could not be reached; the consumer
// retries it without limit (it is not the event's fault). Any other error is
// retried a bounded number of times, then the event goes to the dead-letter
// topic with the reason.
class EventHandler {
 public:
  virtual ~EventHandler() = default;
  virtual absl::StatusOr<ApplyResult> Apply(const ConsumedEvent& event) = 0;

  // Applies several events at once, for a high-volume handler that can do a
  // batch in one store round trip. Must be all or nothing. The default applies
  // each in turn. On an error other than UNAVAILABLE the consumer falls back
  // to Apply one event at a time, so one poison event is isolated.
  virtual absl::StatusOr<std::vector<ApplyResult>> ApplyBatch(
      std::span<const ConsumedEvent> events);
};

// "<prefix>:processed:<event id>": the guard key that makes Apply happen once.
std::string ProcessedEventKey(absl::string_view prefix, absl::string_view event_id);

// A Kafka message's headers by name (a header without a value is left out).
std::map<std::string, std::string> HeadersOf(RdKafka::Message& message);
// How long processed ids are kept: longer than any redelivery window.
inline constexpr int64_t kProcessedEventTtlSeconds = 30 * 24 * 3600;

struct EventConsumerOptions {
  std::string bootstrap_servers;
  std::string group_id;
  std::vector<std::string> topics;
  std::string client_id = "rooted";
  int max_attempts = 5;
  // Events handed to ApplyBatch at once; 1 keeps to Apply.
  size_t max_batch = 1;
  absl::Duration initial_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(5);
  // How often rooted_consumer_lag is measured: committed offsets against each
  // assigned partition's high watermark, asked of the broker, so a consumer
  // stuck on one event shows its lag growing.
  absl::Duration lag_interval = absl::Seconds(15);
  std::map<std::string, std::string> overrides;
};

// The one consumer loop: a consumer group member that applies each event,
// stores its offset only after Apply succeeded (or the event was
// dead-lettered), and commits stored offsets in the background and at Stop.
// Poison never blocks: after max_attempts an event goes to "<topic>.dlq".
class EventConsumer {
 public:
  static absl::StatusOr<std::unique_ptr<EventConsumer>> Create(EventConsumerOptions options,
                                                               EventHandler& handler,
                                                               EventProducer& dead_letters,
                                                               Metrics& metrics, Logger& logger);
  ~EventConsumer();

  void Start();
  // Finishes the event in hand (or leaves it for redelivery), commits the
  // stored offsets and leaves the group.
  void Stop();

  // Measures and reports rooted_consumer_lag now (the timer calls it).
  void ReportLag();

 private:
  EventConsumer(EventConsumerOptions options, std::unique_ptr<KafkaLogBridge> log,
                std::unique_ptr<RdKafka::KafkaConsumer> consumer, EventHandler& handler,
                EventProducer& dead_letters, Metrics& metrics, Logger& logger);
  void Run();
  void RunLagTimer();
  // True for a replay meant for another group; marks one for ours a replay.
  bool IsReplayForAnotherGroup(ConsumedEvent& event) const;
  // True once the event is applied or dead-lettered; false if stopping first.
  bool Process(const ConsumedEvent& event);
  // True once every event is applied or dead-lettered.
  bool ProcessBatch(std::span<const ConsumedEvent> events);
  void StoreOffsets(std::span<const ConsumedEvent> events);
  bool DeadLetter(const ConsumedEvent& event, const absl::Status& reason, int attempts);
  void Backoff(absl::Duration& delay);

  const EventConsumerOptions options_;
  std::unique_ptr<KafkaLogBridge> log_;  // outlives consumer_
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  EventHandler& handler_;
  EventProducer& dead_letters_;
  Metrics& metrics_;
  Logger& logger_;
  std::atomic<bool> running_{false};
  std::thread thread_;
  absl::Mutex lag_mu_;
  bool lag_timer_stopping_ ABSL_GUARDED_BY(lag_mu_) = false;
  // Partitions assigned at the last measurement; one taken from this member
  // by a rebalance then reads 0 here (its new owner reports it).
  std::set<std::pair<std::string, int32_t>> lag_reported_ ABSL_GUARDED_BY(lag_mu_);
  std::thread lag_thread_;
};

}  // namespace rooted

#endif  // ROOTED_COMMON_KAFKA_EVENT_CONSUMER_H_
