#ifndef ROOTED_COMMON_IDENTITY_NEEDS_TAXONOMY_H_
#define ROOTED_COMMON_IDENTITY_NEEDS_TAXONOMY_H_

#include <span>
#include <string_view>

#include "absl/strings/string_view.h"

namespace rooted {

struct NeedsTerm {
  absl::string_view id;
  absl::string_view label;
};

// The default needs vocabulary referral intake and the directory share. A
// council may extend it in the directory; referrals accept these terms and
// council terms with the "la-" prefix.
std::span<const NeedsTerm> DefaultNeedsTaxonomy();

// True for a default term id or a well-formed council term ("la-" + [a-z0-9-]).
bool IsKnownNeedsTerm(absl::string_view term_id);

}  // namespace rooted

#endif  // ROOTED_COMMON_IDENTITY_NEEDS_TAXONOMY_H_
