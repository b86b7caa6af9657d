#ifndef ROOTED_COMMON_BASE_LOG_H_
#define ROOTED_COMMON_BASE_LOG_H_

#include <initializer_list>
#include <mutex>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/statusor.h"
#include "common/base/clock.h"

namespace rooted {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// One JSON object per line: ts, level, service, msg, then the given fields.
//
// Personal data must never be passed as a field: log ids (referral id,
// correlation id, event id), codes and counts, never names, UPNs, dates of
// birth or free text about a child. Thread safety: Log may be called from any
// thread; each line is written whole.
class Logger {
 public:
  using Field = std::pair<std::string_view, nlohmann::json>;

  Logger(std::string service, std::ostream& out, LogLevel min_level, const Clock& clock);

  void Log(LogLevel level, std::string_view message, std::initializer_list<Field> fields = {});
  // Whether a line at `level` is written: check before building costly fields.
  bool Enabled(LogLevel level) const { return level >= min_level_; }
  void Info(std::string_view message, std::initializer_list<Field> fields = {}) {
    Log(LogLevel::kInfo, message, fields);
  }
  void Warn(std::string_view message, std::initializer_list<Field> fields = {}) {
    Log(LogLevel::kWarn, message, fields);
  }
  void Error(std::string_view message, std::initializer_list<Field> fields = {}) {
    Log(LogLevel::kError, message, fields);
  }

  static absl::StatusOr<LogLevel> ParseLevel(std::string_view text);

 private:
  const std::string service_;
  std::ostream& out_;
  const LogLevel min_level_;
  const Clock& clock_;
  std::mutex mu_;
};

}  // namespace rooted

#endif  // ROOTED_COMMON_BASE_LOG_H_
