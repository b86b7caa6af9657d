#ifndef ROOTED_TOOLS_CTL_YAML_JSON_H_
#define ROOTED_TOOLS_CTL_YAML_JSON_H_

#include <string>

#include "absl/status/statusor.h"

namespace rooted::ctl {

// A YAML document as JSON text, for the API's JSON parser: mappings become
// objects, sequences arrays; plain scalars that read as integers, decimals or
// true/false become numbers and booleans, and everything else (and anything
// quoted) a string. Anchors and aliases are expanded. An error names the line.
absl::StatusOr<std::string> YamlToJson(const std::string& yaml);

// Whether a file's text is meant as YAML (by its name), else JSON.
bool IsYamlFileName(const std::string& path);

}  // namespace rooted::ctl

#endif  // ROOTED_TOOLS_CTL_YAML_JSON_H_
