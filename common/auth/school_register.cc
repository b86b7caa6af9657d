#include "common/auth/school_register.h"

#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/auth/principal.h"

namespace rooted {
namespace {

// One CSV record's fields: commas separate, double quotes enclose a field
// that holds commas, and "" within quotes is one quote. False when a quote
// is left open.
bool SplitCsvLine(absl::string_view line, std::vector<std::string>& fields) {
  fields.assign(1, "");
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c != '"') {
        fields.back().push_back(c);
      } else if (i + 1 < line.size() && line[i + 1] == '"') {
        fields.back().push_back('"');
        ++i;
      } else {
        quoted = false;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else {
      fields.back().push_back(c);
    }
  }
  return !quoted;
}

int ColumnNamed(const std::vector<std::string>& header,
                std::initializer_list<absl::string_view> names) {
  for (size_t i = 0; i < header.size(); ++i) {
    const std::string name = absl::AsciiStrToLower(absl::StripAsciiWhitespace(header[i]));
    for (absl::string_view wanted : names) {
      if (name == wanted) return int(i);
    }
  }
  return -1;
}

}  // namespace

absl::StatusOr<SchoolRegister> SchoolRegister::Parse(absl::string_view csv) {
  SchoolRegister reg;
  int urn_column = -1;
  int la_column = -1;
  int line_number = 0;
  std::vector<std::string> fields;
  for (absl::string_view line : absl::StrSplit(csv, '\n')) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    const std::string where = absl::StrCat("line ", line_number, ": ");
    if (!SplitCsvLine(line, fields))
      return absl::InvalidArgumentError(where + "a quote is not closed");
    if (urn_column < 0) {
      urn_column = ColumnNamed(fields, {"urn"});
      la_column = ColumnNamed(fields, {"la (code)", "la_code"});
      if (urn_column < 0 || la_column < 0) {
        return absl::InvalidArgumentError(
            where +
            "the header must name a URN column (URN) and the council's (LA (code) or la_code)");
      }
      continue;
    }
    if (size_t(std::max(urn_column, la_column)) >= fields.size()) {
      return absl::InvalidArgumentError(where + "too few columns");
    }
    const std::string urn(absl::StripAsciiWhitespace(fields[size_t(urn_column)]));
    const std::string la(absl::StripAsciiWhitespace(fields[size_t(la_column)]));
    if (!IsSchoolUrn(urn)) return absl::InvalidArgumentError(where + "the URN is not 6 digits");
    if (!IsLaCode(la)) return absl::InvalidArgumentError(where + "the LA code is not 3 digits");
    auto [it, added] = reg.council_of_.emplace(urn, la);
    if (!added && it->second != la) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "URN ", urn, " is listed under councils ", it->second, " and ", la));
    }
  }
  if (urn_column < 0) return absl::InvalidArgumentError("no header row");
  return reg;
}

absl::StatusOr<SchoolRegister> SchoolRegister::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat(path, ": cannot be read"));
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<SchoolRegister> reg = Parse(text.str());
  if (!reg.ok())
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", reg.status().message()));
  return reg;
}

std::optional<absl::string_view> SchoolRegister::CouncilOf(absl::string_view school_urn) const {
  auto it = council_of_.find(school_urn);
  if (it == council_of_.end()) return std::nullopt;
  return it->second;
}

}  // namespace rooted
