#include "common/kafka/kafka_producer.h"

#include <librdkafka/rdkafkacpp.h>

#include <condition_variable>
#include <mutex>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/base/thread_name.h"
#include "common/kafka/kafka_config.h"

namespace rooted {
namespace {

// One Deliver call's messages. Shared between the caller and the delivery
// reports, so whichever finishes last frees it.
struct PendingBatch {
  std::mutex mu;
  std::condition_variable done;
  std::vector<absl::Status> results;
  size_t outstanding = 0;
};

struct PendingMessage {
  std::shared_ptr<PendingBatch> batch;
  size_t index;
};

}  // namespace

class KafkaProducer::ReportHandler final : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& message) override {
    auto* pending = static_cast<PendingMessage*>(message.msg_opaque());
    if (pending == nullptr) return;
    std::unique_ptr<PendingMessage> owned(pending);
    PendingBatch& batch = *owned->batch;
    std::lock_guard<std::mutex> lock(batch.mu);
    if (message.err() != RdKafka::ERR_NO_ERROR) {
      batch.results[owned->index] =
          absl::UnavailableError(absl::StrCat("kafka delivery failed: ", message.errstr()));
    } else {
      batch.results[owned->index] = absl::OkStatus();
    }
    if (--batch.outstanding == 0) batch.done.notify_all();
  }
};

absl::StatusOr<std::unique_ptr<KafkaProducer>> KafkaProducer::Create(KafkaProducerOptions options) {
  if (options.bootstrap_servers.empty()) {
    return absl::InvalidArgumentError("kafka bootstrap servers must be set");
  }
  auto handler = std::make_unique<ReportHandler>();
  auto log = options.logger != nullptr ? std::make_unique<KafkaLogBridge>(*options.logger) : nullptr;
  absl::StatusOr<std::unique_ptr<RdKafka::Conf>> conf = MakeKafkaConf(
      {
          {"bootstrap.servers", options.bootstrap_servers},
          {"client.id", options.client_id},
          {"enable.idempotence", "true"},
          {"acks", "all"},
          {"linger.ms", "2"},
          {"message.timeout.ms", "5000"},
          {"socket.keepalive.enable", "true"},
          // Topics are made by whoever runs Kafka (Strimzi's topic operator,
          // rooted-broker), with their partitions and replicas; a producer
          // asking first must not make one with the broker's defaults.
          {"allow.auto.create.topics", "false"},
          // Small requests go out at once rather than waiting on the
          // previous one's acknowledgement (Nagle against delayed ACK: 40 ms).
          {"socket.nagle.disable", "true"},
      },
      options.overrides, log.get());
  if (!conf.ok()) return conf.status();
  std::string error;
  if ((*conf)->set("dr_cb", handler.get(), error) != RdKafka::Conf::CONF_OK) {
    return absl::InternalError(absl::StrCat("kafka: ", error));
  }
  std::string timeout_ms;
  int64_t message_timeout_ms = 0;
  if ((*conf)->get("message.timeout.ms", timeout_ms) != RdKafka::Conf::CONF_OK ||
      !absl::SimpleAtoi(timeout_ms, &message_timeout_ms)) {
    return absl::InvalidArgumentError(
        "kafka property message.timeout.ms: not a number of milliseconds");
  }
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf->get(), error));
  if (!producer) return absl::InvalidArgumentError(absl::StrCat("kafka producer: ", error));
  return std::unique_ptr<KafkaProducer>(new KafkaProducer(std::move(handler), std::move(log),
                                                          std::move(producer),
                                                          absl::Milliseconds(message_timeout_ms)));
}

KafkaProducer::KafkaProducer(std::unique_ptr<ReportHandler> handler,
                             std::unique_ptr<KafkaLogBridge> log,
                             std::unique_ptr<RdKafka::Producer> producer,
                             absl::Duration message_timeout)
    : handler_(std::move(handler)),
      log_(std::move(log)),
      producer_(std::move(producer)),
      message_timeout_(message_timeout) {
  poller_ = std::thread([this] {
    NameThisThread("kafka-reports");
    while (running_.load()) producer_->poll(50);
  });
}

KafkaProducer::~KafkaProducer() {
  running_.store(false);
  poller_.join();
  producer_->flush(5000);
  // Anything still queued is failed back to its batch, freeing its state.
  producer_->purge(RdKafka::Producer::PURGE_QUEUE | RdKafka::Producer::PURGE_INFLIGHT);
  producer_->poll(0);
}

std::vector<absl::Status> KafkaProducer::Deliver(std::span<const OutgoingMessage> messages,
                                                 absl::Duration timeout) {
  auto batch = std::make_shared<PendingBatch>();
  batch->results.assign(messages.size(), absl::DeadlineExceededError("kafka delivery timed out"));
  // Producing may wait `timeout` for room in the queue; the reports are
  // awaited until librdkafka's own timeout has passed for the last message
  // queued, and a little longer for its report to be served.
  const absl::Time deadline = absl::Now() + timeout;
  for (size_t i = 0; i < messages.size(); ++i) {
    const OutgoingMessage& m = messages[i];
    RdKafka::Headers* headers = RdKafka::Headers::create();
    for (const auto& [name, value] : m.headers) headers->add(name, value.data(), value.size());
    auto pending = std::make_unique<PendingMessage>(PendingMessage{batch, i});
    {
      std::lock_guard<std::mutex> lock(batch->mu);
      ++batch->outstanding;
    }
    RdKafka::ErrorCode err;
    while (true) {
      err =
          producer_->produce(m.topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                             const_cast<char*>(m.payload.data()), m.payload.size(), m.key.data(),
                             m.key.size(), 0, headers, pending.get());
      // A full local queue drains as reports are served: wait and try again.
      if (err != RdKafka::ERR__QUEUE_FULL || absl::Now() >= deadline) break;
      absl::SleepFor(absl::Milliseconds(5));
    }
    if (err == RdKafka::ERR_NO_ERROR) {
      (void)pending.release();  // owned by the delivery report now, and so are the headers
    } else {
      delete headers;
      std::lock_guard<std::mutex> lock(batch->mu);
      --batch->outstanding;
      batch->results[i] = absl::UnavailableError(
          absl::StrCat("kafka produce to ", m.topic, " failed: ", RdKafka::err2str(err)));
    }
  }
  const absl::Time reports_by =
      std::max(deadline, absl::Now() + message_timeout_ + absl::Seconds(1));
  std::unique_lock<std::mutex> lock(batch->mu);
  batch->done.wait_for(
      lock, absl::ToChronoMilliseconds(std::max(reports_by - absl::Now(), absl::ZeroDuration())),
      [&] { return batch->outstanding == 0; });
  return batch->results;
}

absl::Status KafkaProducer::CheckConnected(absl::Duration timeout) {
  RdKafka::Metadata* metadata = nullptr;
  const RdKafka::ErrorCode err = producer_->metadata(
      /*all_topics=*/false, nullptr, &metadata,
      static_cast<int>(absl::ToInt64Milliseconds(timeout)));
  std::unique_ptr<RdKafka::Metadata> owned(metadata);
  if (err != RdKafka::ERR_NO_ERROR) {
    return absl::UnavailableError(absl::StrCat("kafka: ", RdKafka::err2str(err)));
  }
  return absl::OkStatus();
}

absl::Status KafkaProducer::Flush(absl::Duration timeout) {
  const RdKafka::ErrorCode err =
      producer_->flush(static_cast<int>(absl::ToInt64Milliseconds(timeout)));
  if (err != RdKafka::ERR_NO_ERROR) {
    return absl::DeadlineExceededError(absl::StrCat("kafka flush: ", RdKafka::err2str(err)));
  }
  return absl::OkStatus();
}

}  // namespace rooted
