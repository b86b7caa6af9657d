#include "common/kafka/kafka_config.h"

#include "absl/strings/str_cat.h"

namespace rooted {

void KafkaLogBridge::event_cb(RdKafka::Event& event) {
  switch (event.type()) {
    case RdKafka::Event::EVENT_LOG: {
      // syslog severities: 0-3 errors, 4 warnings, 5-6 notices, 7 debug.
      const int severity = int(event.severity());
      const LogLevel level = severity <= 3 ? LogLevel::kError
                             : severity == 4 ? LogLevel::kWarn
                             : severity <= 6 ? LogLevel::kInfo
                                             : LogLevel::kDebug;
      logger_.Log(level, "kafka client", {{"facility", event.fac()}, {"detail", event.str()}});
      break;
    }
    case RdKafka::Event::EVENT_ERROR:
      // Mostly transient (a broker restarting); librdkafka retries itself.
      logger_.Log(event.fatal() ? LogLevel::kError : LogLevel::kWarn, "kafka client error",
                  {{"error", RdKafka::err2str(event.err())}, {"detail", event.str()}});
      break;
    default:
      break;
  }
}

absl::StatusOr<std::unique_ptr<RdKafka::Conf>> MakeKafkaConf(
    std::map<std::string, std::string> defaults,
    const std::map<std::string, std::string>& overrides, KafkaLogBridge* log) {
  for (const auto& [name, value] : overrides) defaults[name] = value;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string error;
  for (const auto& [name, value] : defaults) {
    if (conf->set(name, value, error) != RdKafka::Conf::CONF_OK) {
      return absl::InvalidArgumentError(absl::StrCat("kafka property ", name, ": ", error));
    }
  }
  if (log != nullptr && conf->set("event_cb", static_cast<RdKafka::EventCb*>(log), error) != RdKafka::Conf::CONF_OK) {
    return absl::InternalError(absl::StrCat("kafka event_cb: ", error));
  }
  return conf;
}

}  // namespace rooted
