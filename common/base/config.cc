#include "common/base/config.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace rooted {

Config::EnvLookup Config::ProcessEnvironment() {
  return [](const std::string& key) -> std::optional<std::string> {
    const char* value = std::getenv(key.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

absl::StatusOr<Config> Config::Parse(const std::vector<std::string>& args, EnvLookup env) {
  std::map<std::string, std::string, std::less<>> flags;
  for (const std::string& arg : args) {
    if (arg.size() < 3 || arg.compare(0, 2, "--") != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("unexpected argument \"", arg, "\": settings are given as --name=value"));
    }
    const size_t eq = arg.find('=');
    std::string name = arg.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
    std::string value = eq == std::string::npos ? "true" : arg.substr(eq + 1);
    flags[std::move(name)] = std::move(value);
  }
  return Config(std::move(flags), std::move(env));
}

absl::StatusOr<Config> Config::Parse(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return Parse(args, ProcessEnvironment());
}

std::string Config::EnvName(absl::string_view name) {
  std::string out = "ROOTED_";
  for (char c : name) out.push_back(c == '-' ? '_' : absl::ascii_toupper(c));
  return out;
}

std::string Config::Label(absl::string_view name) {
  return absl::StrCat("--", name, " / ", EnvName(name));
}

std::optional<std::string> Config::Lookup(absl::string_view name) const {
  used_.emplace(name);
  if (auto it = flags_.find(name); it != flags_.end()) return it->second;
  return env_(EnvName(name));
}

absl::StatusOr<std::string> Config::RequiredString(absl::string_view name) const {
  std::optional<std::string> value = Lookup(name);
  if (!value || value->empty()) {
    return absl::InvalidArgumentError(absl::StrCat(Label(name), ": required but not set"));
  }
  return *value;
}

std::string Config::String(absl::string_view name, absl::string_view fallback) const {
  std::optional<std::string> value = Lookup(name);
  return value ? *value : std::string(fallback);
}

absl::StatusOr<int64_t> Config::Int(absl::string_view name, int64_t fallback, int64_t min,
                                    int64_t max) const {
  std::optional<std::string> value = Lookup(name);
  if (!value) return fallback;
  int64_t parsed = 0;
  if (!absl::SimpleAtoi(*value, &parsed) || parsed < min || parsed > max) {
    return absl::InvalidArgumentError(absl::StrCat(Label(name), ": expected a whole number in ",
                                                   min, "..", max, ", got \"", *value, "\""));
  }
  return parsed;
}

absl::StatusOr<bool> Config::Bool(absl::string_view name, bool fallback) const {
  std::optional<std::string> value = Lookup(name);
  if (!value) return fallback;
  const std::string lower = absl::AsciiStrToLower(*value);
  if (lower == "true" || lower == "1" || lower == "yes") return true;
  if (lower == "false" || lower == "0" || lower == "no") return false;
  return absl::InvalidArgumentError(
      absl::StrCat(Label(name), ": expected true or false, got \"", *value, "\""));
}

absl::StatusOr<absl::Duration> Config::Duration(absl::string_view name,
                                                absl::Duration fallback) const {
  std::optional<std::string> value = Lookup(name);
  if (!value) return fallback;
  absl::Duration parsed;
  if (!absl::ParseDuration(*value, &parsed) || parsed < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        Label(name), ": expected a duration such as 500ms or 5s, got \"", *value, "\""));
  }
  return parsed;
}

absl::StatusOr<std::string> Config::Secret(absl::string_view name, size_t min_bytes) const {
  const std::string file_setting = absl::StrCat(name, "-file");
  std::optional<std::string> path = Lookup(file_setting);
  std::optional<std::string> value;
  if (path && !path->empty()) {
    std::ifstream in(*path, std::ios::binary);
    if (!in) {
      return absl::InvalidArgumentError(
          absl::StrCat(Label(file_setting), ": cannot read \"", *path, "\""));
    }
    std::stringstream buffer;
    buffer << in.rdbuf();
    value = buffer.str();
    // Files written by editors and `echo` end in a newline that is not part of the secret.
    while (!value->empty() && (value->back() == '\n' || value->back() == '\r')) value->pop_back();
  } else {
    value = Lookup(name);
  }
  if (!value || value->empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(Label(name), " (or ", Label(file_setting), "): required but not set"));
  }
  if (value->size() < min_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(Label(name), ": must be at least ", min_bytes, " bytes long"));
  }
  return *value;
}

absl::Status Config::CheckAllFlagsUsed() const {
  for (const auto& [name, value] : flags_) {
    if (!used_.contains(name)) {
      return absl::InvalidArgumentError(absl::StrCat("--", name, ": unknown setting"));
    }
  }
  return absl::OkStatus();
}

}  // namespace rooted
