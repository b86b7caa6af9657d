#ifndef ROOTED_COMMON_BASE_CONFIG_H_
#define ROOTED_COMMON_BASE_CONFIG_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace rooted {

// Twelve-factor configuration: every setting `name` (kebab-case) is read from
// the flag --name=value, else the environment variable ROOTED_NAME
// (upper snake case), else a default. Flags win over the environment.
//
// Every error names both spellings, so an operator can fix whichever they set:
//   "--grpc-port / ROOTED_GRPC_PORT: expected a whole number in 1..65535, got "x""
class Config {
 public:
  using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

  // Reads the process environment.
  static EnvLookup ProcessEnvironment();

  // Fails on arguments that are not --name=value or --name (true).
  static absl::StatusOr<Config> Parse(const std::vector<std::string>& args, EnvLookup env);
  static absl::StatusOr<Config> Parse(int argc, char** argv);

  absl::StatusOr<std::string> RequiredString(absl::string_view name) const;
  std::string String(absl::string_view name, absl::string_view fallback) const;
  absl::StatusOr<int64_t> Int(absl::string_view name, int64_t fallback, int64_t min,
                              int64_t max) const;
  absl::StatusOr<bool> Bool(absl::string_view name, bool fallback) const;
  // Accepts absl duration syntax: "250ms", "5s", "1h30m".
  absl::StatusOr<absl::Duration> Duration(absl::string_view name, absl::Duration fallback) const;
  // A secret given directly or, preferably, as a file path in NAME-file
  // (Kubernetes mounts Secrets as files). Fails when shorter than min_bytes.
  absl::StatusOr<std::string> Secret(absl::string_view name, size_t min_bytes) const;

  // Fails naming any flag that no getter asked for: a typo must not silently
  // fall back to a default.
  absl::Status CheckAllFlagsUsed() const;

  static std::string EnvName(absl::string_view name);

 private:
  Config(std::map<std::string, std::string, std::less<>> flags, EnvLookup env)
      : flags_(std::move(flags)), env_(std::move(env)) {}

  std::optional<std::string> Lookup(absl::string_view name) const;
  static std::string Label(absl::string_view name);

  std::map<std::string, std::string, std::less<>> flags_;
  EnvLookup env_;
  mutable std::set<std::string, std::less<>> used_;
};

}  // namespace rooted

#endif  // ROOTED_COMMON_BASE_CONFIG_H_
