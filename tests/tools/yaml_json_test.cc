// rootedctl's YAML input: the same document as JSON, types as a person
// writing YAML means them, errors with the line.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include <google/protobuf/util/json_util.h>

#include "rooted/referral/v1/referral.pb.h"
#include "tools/ctl/yaml_json.h"

namespace rooted::ctl {
namespace {

using ::testing::HasSubstr;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(YamlToJsonTest, ScalarsTakeTheTypesTheyReadAs) {
  absl::StatusOr<std::string> json = YamlToJson(
      "count: 12\nratio: 0.5\nyes: true\nurn: \"100001\"\nname: Amira\nlist: [1, two]\nempty:\n");
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ(*json, R"({"count":12,"empty":null,"list":[1,"two"],"name":"Amira","ratio":0.5,"urn":"100001","yes":true})");
}

TEST(YamlToJsonTest, BadYamlNamesTheLine) {
  absl::StatusOr<std::string> json = YamlToJson("child:\n  upn: [unclosed\n");
  ASSERT_FALSE(json.ok());
  EXPECT_THAT(json.status().message(), HasSubstr("line "));
}

TEST(YamlToJsonTest, TheYamlExampleIsTheJsonExample) {
  const std::string dir = std::string(ROOTED_SOURCE_DIR) + "/tools/ctl/examples/";
  absl::StatusOr<std::string> converted = YamlToJson(ReadFile(dir + "referral.yaml"));
  ASSERT_TRUE(converted.ok()) << converted.status();
  rooted::referral::v1::ReferralDetails from_yaml, from_json;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(*converted, &from_yaml).ok());
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(ReadFile(dir + "referral.json"), &from_json).ok());
  EXPECT_EQ(from_yaml.SerializeAsString(), from_json.SerializeAsString());
  EXPECT_TRUE(IsYamlFileName("a.yaml"));
  EXPECT_TRUE(IsYamlFileName("a.yml"));
  EXPECT_FALSE(IsYamlFileName("a.json"));
}

}  // namespace
}  // namespace rooted::ctl
