#include "common/base/config.h"

#include <gtest/gtest.h>

namespace rooted {
namespace {

Config::EnvLookup Env(std::map<std::string, std::string> values) {
  return [values](const std::string& key) -> std::optional<std::string> {
    auto it = values.find(key);
    return it == values.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
}

TEST(ConfigTest, FlagsWinOverEnvironmentWhichWinsOverDefaults) {
  auto config = Config::Parse({"--grpc-port=7000"},
                              Env({{"ROOTED_GRPC_PORT", "8000"}, {"ROOTED_METRICS_PORT", "9000"}}));
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(*config->Int("grpc-port", 1, 1, 65535), 7000);
  EXPECT_EQ(*config->Int("metrics-port", 1, 1, 65535), 9000);
  EXPECT_EQ(*config->Int("other-port", 42, 1, 65535), 42);
}

TEST(ConfigTest, BadValuesNameTheFlagAndTheVariable) {
  auto config = Config::Parse({"--grpc-port=abc", "--tls=maybe", "--wait=soon"}, Env({}));
  ASSERT_TRUE(config.ok());
  absl::Status port = config->Int("grpc-port", 1, 1, 65535).status();
  EXPECT_EQ(port.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(port.message().find("--grpc-port / ROOTED_GRPC_PORT"), absl::string_view::npos);
  EXPECT_FALSE(config->Bool("tls", false).ok());
  EXPECT_FALSE(config->Duration("wait", absl::Seconds(1)).ok());
  absl::Status missing = config->RequiredString("kafka-bootstrap").status();
  EXPECT_NE(missing.message().find("ROOTED_KAFKA_BOOTSTRAP: required"), absl::string_view::npos);
}

TEST(ConfigTest, UnknownFlagsAndStrayArgumentsAreErrors) {
  EXPECT_FALSE(Config::Parse({"positional"}, Env({})).ok());
  auto config = Config::Parse({"--grpc-prot=1"}, Env({}));
  ASSERT_TRUE(config.ok());
  (void)config->Int("grpc-port", 1, 1, 65535);
  absl::Status unused = config->CheckAllFlagsUsed();
  EXPECT_NE(unused.message().find("--grpc-prot"), absl::string_view::npos);
}

TEST(ConfigTest, SecretsMayComeFromFilesAndMustBeLongEnough) {
  const std::string path = ::testing::TempDir() + "/secret";
  FILE* f = fopen(path.c_str(), "w");
  fputs("0123456789abcdef0123456789abcdef\n", f);
  fclose(f);
  auto config = Config::Parse({"--token-secret-file=" + path, "--short=abc"}, Env({}));
  EXPECT_EQ(*config->Secret("token-secret", 32), "0123456789abcdef0123456789abcdef");
  EXPECT_FALSE(config->Secret("short", 32).ok());
  EXPECT_FALSE(config->Secret("absent", 1).ok());
}

}  // namespace
}  // namespace rooted
