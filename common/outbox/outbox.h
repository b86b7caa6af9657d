#ifndef ROOTED_COMMON_OUTBOX_OUTBOX_H_
#define ROOTED_COMMON_OUTBOX_OUTBOX_H_

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "common/base/log.h"
#include "common/base/metrics.h"
#include "common/kafka/event_producer.h"
#include "common/redis/redis_client.h"

namespace rooted {

// An event waiting in a service's outbox stream.
struct OutboxEvent {
  std::string topic;
  std::string key;
  std::string payload;
  std::string event_id;
  std::string event_type;
};

// The XADD that appends `event` to the outbox stream. Put it in the same
// WriteBatch as the state change, so both land or neither does.
std::vector<std::string> OutboxAppendCommand(const std::string& stream_key,
                                             const OutboxEvent& event);

struct OutboxRelayOptions {
  std::string stream_key;
  // Only the replica holding this lease relays, so replicas do not race.
  std::string lease_key;
  std::string producer_name;
  // The topics its events go to, whose metrics start at 0.
  std::vector<std::string> topics = {};
  size_t batch_size = 500;
  absl::Duration idle_wait = absl::Milliseconds(20);
  absl::Duration delivery_timeout = absl::Seconds(10);
  absl::Duration lease_ttl = absl::Seconds(10);
};

// Publishes the outbox to Kafka: reads entries oldest first, delivers them,
// and deletes an entry only after its delivery report says the broker has it.
// A crash between delivery and delete publishes the entry again on restart;
// consumers dedup by event id, so that is harmless.
class OutboxRelay {
 public:
  OutboxRelay(RedisClient& redis, EventProducer& producer, OutboxRelayOptions options,
              Metrics& metrics, Logger& logger);
  ~OutboxRelay();

  void Start();
  // Stops taking new rounds, then relays what is left for up to `drain`.
  void Stop(absl::Duration drain);

  // One round: returns how many entries were delivered and removed.
  absl::StatusOr<size_t> RelayOnce();
  absl::StatusOr<int64_t> Depth();

 private:
  absl::StatusOr<bool> HoldLease();
  void Run();

  RedisClient& redis_;
  EventProducer& producer_;
  const OutboxRelayOptions options_;
  Metrics& metrics_;
  Logger& logger_;
  const std::string owner_;
  // When the lease next needs renewing (touched by the relaying thread only).
  absl::Time renew_after_ = absl::InfinitePast();
  std::atomic<bool> running_{false};
  std::thread thread_;
};

}  // namespace rooted

#endif  // ROOTED_COMMON_OUTBOX_OUTBOX_H_
