#include "common/kafka/kafka_config.h"

#include "absl/strings/str_cat.h"

namespace rooted {

absl::StatusOr<std::unique_ptr<RdKafka::Conf>> MakeKafkaConf(
    std::map<std::string, std::string> defaults,
    const std::map<std::string, std::string>& overrides) {
  for (const auto& [name, value] : overrides) defaults[name] = value;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string error;
  for (const auto& [name, value] : defaults) {
    if (conf->set(name, value, error) != RdKafka::Conf::CONF_OK) {
      return absl::InvalidArgumentError(absl::StrCat("kafka property ", name, ": ", error));
    }
  }
  return conf;
}

}  // namespace rooted
