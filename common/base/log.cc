#include "common/base/log.h"

#include "absl/strings/str_cat.h"

namespace rooted {
namespace {

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

}  // namespace

Logger::Logger(std::string service, std::ostream& out, LogLevel min_level, const Clock& clock)
    : service_(std::move(service)), out_(out), min_level_(min_level), clock_(clock) {}

void Logger::Log(LogLevel level, std::string_view message, std::initializer_list<Field> fields) {
  if (level < min_level_) return;
  nlohmann::json line = {
      {"ts", absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", clock_.Now(), absl::UTCTimeZone())},
      {"level", LevelName(level)},
      {"service", service_},
      {"msg", message},
  };
  for (const auto& [key, value] : fields) line[std::string(key)] = value;
  // Invalid UTF-8 is replaced rather than thrown on: a log line must never
  // take a request down.
  std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::lock_guard<std::mutex> lock(mu_);
  out_ << text << '\n';
  out_.flush();
}

absl::StatusOr<LogLevel> Logger::ParseLevel(std::string_view text) {
  if (text == "debug") return LogLevel::kDebug;
  if (text == "info") return LogLevel::kInfo;
  if (text == "warn") return LogLevel::kWarn;
  if (text == "error") return LogLevel::kError;
  return absl::InvalidArgumentError(absl::StrCat(
      "log level: expected debug, info, warn or error, got \"", std::string(text), "\""));
}

}  // namespace rooted
