#ifndef ROOTED_COMMON_KAFKA_KAFKA_CONFIG_H_
#define ROOTED_COMMON_KAFKA_KAFKA_CONFIG_H_

#include <librdkafka/rdkafkacpp.h>

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace rooted {

// A librdkafka global configuration from `defaults` overlaid with
// `overrides`; INVALID_ARGUMENT naming the property librdkafka refused.
absl::StatusOr<std::unique_ptr<RdKafka::Conf>> MakeKafkaConf(
    std::map<std::string, std::string> defaults,
    const std::map<std::string, std::string>& overrides);

}  // namespace rooted

#endif  // ROOTED_COMMON_KAFKA_KAFKA_CONFIG_H_
