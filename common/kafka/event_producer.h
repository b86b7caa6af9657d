#ifndef ROOTED_COMMON_KAFKA_EVENT_PRODUCER_H_
#define ROOTED_COMMON_KAFKA_EVENT_PRODUCER_H_

#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace rooted {

struct OutgoingMessage {
  std::string topic;
  // The pseudonymous pupil reference (or another ordering key): all events of
  // one key land on one partition, in order.
  std::string key;
  std::string payload;
  std::vector<std::pair<std::string, std::string>> headers;
};

// Publishes to Kafka. An interface so the outbox relay and the dead-letter
// path can be tested with a fake, and the real one with the local broker.
//
// Thread safety: Deliver may be called concurrently.
// Idempotency: none here; callers dedup by event id on the consuming side.
class EventProducer {
 public:
  virtual ~EventProducer() = default;

  // Sends every message and waits up to `timeout` for the broker to
  // acknowledge each (acks=all). Returns one status per message, in order:
  // OK only for a message the broker confirmed. A message that timed out may
  // still arrive later, so a caller that retries must accept duplicates
  // (KafkaProducer waits for every delivery report however short `timeout`
  // is, so its failures are final: a retry never doubles a message).
  virtual std::vector<absl::Status> Deliver(std::span<const OutgoingMessage> messages,
                                            absl::Duration timeout) = 0;

  // OK once the cluster answers a metadata request (readiness).
  virtual absl::Status CheckConnected(absl::Duration timeout) = 0;
};

}  // namespace rooted

#endif  // ROOTED_COMMON_KAFKA_EVENT_PRODUCER_H_
