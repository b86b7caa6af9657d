#include "tools/ctl/yaml_json.h"

#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>
#include <regex>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace rooted::ctl {
namespace {

nlohmann::json Convert(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      nlohmann::json object = nlohmann::json::object();
      for (const auto& entry : node) object[entry.first.Scalar()] = Convert(entry.second);
      return object;
    }
    case YAML::NodeType::Sequence: {
      nlohmann::json array = nlohmann::json::array();
      for (const auto& item : node) array.push_back(Convert(item));
      return array;
    }
    case YAML::NodeType::Scalar: {
      const std::string& text = node.Scalar();
      // A quoted scalar is a string whatever it looks like.
      if (node.Tag() == "!") return text;
      static const std::regex kInteger("[-+]?[0-9]+");
      static const std::regex kDecimal("[-+]?([0-9]+\\.[0-9]*|\\.[0-9]+)([eE][-+]?[0-9]+)?");
      if (text == "true" || text == "false") return text == "true";
      // Integers beyond a double's exact range stay text (protobuf reads int64 from strings).
      if (std::regex_match(text, kInteger) && text.size() <= 15) return std::stoll(text);
      if (std::regex_match(text, kDecimal)) return std::stod(text);
      return text;
    }
    default:
      return nullptr;
  }
}

}  // namespace

absl::StatusOr<std::string> YamlToJson(const std::string& yaml) {
  try {
    return Convert(YAML::Load(yaml)).dump();
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("not YAML: line ", e.mark.line + 1, ", column ", e.mark.column + 1, ": ", e.msg));
  }
}

bool IsYamlFileName(const std::string& path) {
  return absl::EndsWith(path, ".yaml") || absl::EndsWith(path, ".yml");
}

}  // namespace rooted::ctl
