#ifndef ROOTED_COMMON_KAFKA_KAFKA_CONFIG_H_
#define ROOTED_COMMON_KAFKA_KAFKA_CONFIG_H_

#include <librdkafka/rdkafkacpp.h>

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/base/log.h"

namespace rooted {

// librdkafka's own log lines and client errors, as the service's JSON log
// lines (librdkafka would otherwise print plain text to stderr). They name
// brokers and topics, never a record's content.
class KafkaLogBridge final : public RdKafka::EventCb {
 public:
  explicit KafkaLogBridge(Logger& logger) : logger_(logger) {}
  void event_cb(RdKafka::Event& event) override;

 private:
  Logger& logger_;
};

// A librdkafka global configuration from `defaults` overlaid with
// `overrides`; INVALID_ARGUMENT naming the property librdkafka refused.
// With `log`, librdkafka logs through it (it must outlive the client).
absl::StatusOr<std::unique_ptr<RdKafka::Conf>> MakeKafkaConf(
    std::map<std::string, std::string> defaults,
    const std::map<std::string, std::string>& overrides, KafkaLogBridge* log = nullptr);

}  // namespace rooted

#endif  // ROOTED_COMMON_KAFKA_KAFKA_CONFIG_H_
