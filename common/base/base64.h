#ifndef ROOTED_COMMON_BASE_BASE64_H_
#define ROOTED_COMMON_BASE_BASE64_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rooted {

// Unpadded base64url (RFC 4648 section 5): tokens and opaque page tokens.
std::string Base64UrlEncode(absl::string_view data);
// Strict: unpadded base64url only, with zero trailing bits, so every value has
// exactly one encoding.
absl::StatusOr<std::string> Base64UrlDecode(absl::string_view text);

}  // namespace rooted

#endif  // ROOTED_COMMON_BASE_BASE64_H_
