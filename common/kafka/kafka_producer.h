#ifndef ROOTED_COMMON_KAFKA_KAFKA_PRODUCER_H_
#define ROOTED_COMMON_KAFKA_KAFKA_PRODUCER_H_

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "common/kafka/event_producer.h"
#include "common/kafka/kafka_config.h"

namespace RdKafka {
class Producer;
class DeliveryReportCb;
}  // namespace RdKafka

namespace rooted {

struct KafkaProducerOptions {
  std::string bootstrap_servers;
  std::string client_id = "rooted";
  // Extra librdkafka properties, applied last (for example linger.ms).
  std::map<std::string, std::string> overrides = {};
  // Where librdkafka's log lines go (JSON); null: librdkafka's own stderr.
  Logger* logger = nullptr;
};

// librdkafka's producer with idempotence and acks=all. Deliver waits for
// every message's delivery report, never giving up while librdkafka may still
// deliver it: a caller that gave up and produced again put a second copy of
// the event on the log (seen after a 20 s broker outage, when the relay's
// wait was shorter than librdkafka's 30 s message timeout). message.timeout.ms
// is 5 s, within the outbox relay's wait and the shutdown's outbox stage, so
// the wait stays short. A thread serves
// delivery reports continuously; each report finds its batch through state
// that outlives the producer call, so a late report is harmless.
class KafkaProducer final : public EventProducer {
 public:
  static absl::StatusOr<std::unique_ptr<KafkaProducer>> Create(KafkaProducerOptions options);
  ~KafkaProducer() override;

  std::vector<absl::Status> Deliver(std::span<const OutgoingMessage> messages,
                                    absl::Duration timeout) override;
  absl::Status CheckConnected(absl::Duration timeout) override;

  // Waits for everything in flight, up to `timeout` (at shutdown).
  absl::Status Flush(absl::Duration timeout);

 private:
  class ReportHandler;
  KafkaProducer(std::unique_ptr<ReportHandler> handler, std::unique_ptr<KafkaLogBridge> log,
                std::unique_ptr<RdKafka::Producer> producer, absl::Duration message_timeout);

  std::unique_ptr<ReportHandler> handler_;
  std::unique_ptr<KafkaLogBridge> log_;
  std::unique_ptr<RdKafka::Producer> producer_;
  // librdkafka's message.timeout.ms: by then every message has its report.
  const absl::Duration message_timeout_;
  std::atomic<bool> running_{true};
  std::thread poller_;
};

}  // namespace rooted

#endif  // ROOTED_COMMON_KAFKA_KAFKA_PRODUCER_H_
