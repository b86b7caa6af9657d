#ifndef ROOTED_COMMON_AUTH_SCHOOL_REGISTER_H_
#define ROOTED_COMMON_AUTH_SCHOOL_REGISTER_H_

#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rooted {

// Which council each school is in: school URN -> local authority code, as
// the Department for Education's register of establishments (GIAS) lists
// them. A council officer acts for the schools of their own council only,
// and a token names the officer's council, not the school's: this is how a
// service tells the two apart.
//
// The text is CSV with a header row naming at least the URN column ("URN"
// or "urn") and the local authority's code ("LA (code)" or "la_code"), so
// a GIAS extract serves as it is; other columns are ignored, fields may be
// quoted. Blank lines are skipped; a URN listed twice must name one council.
class SchoolRegister {
 public:
  static absl::StatusOr<SchoolRegister> Parse(absl::string_view csv);
  // Parse of the file at `path`; errors name the file and the line.
  static absl::StatusOr<SchoolRegister> Load(const std::string& path);

  // The council of the school with this URN (valid while the register is);
  // nullopt when it is not listed.
  std::optional<absl::string_view> CouncilOf(absl::string_view school_urn) const;
  size_t size() const { return council_of_.size(); }

 private:
  absl::flat_hash_map<std::string, std::string> council_of_;
};

}  // namespace rooted

#endif  // ROOTED_COMMON_AUTH_SCHOOL_REGISTER_H_
