#ifndef ROOTED_COMMON_BASE_IDS_H_
#define ROOTED_COMMON_BASE_IDS_H_

#include <string>

#include "absl/strings/string_view.h"

namespace rooted {

// A random (version 4) UUID in canonical lowercase form, from the OS CSPRNG.
std::string NewUuid();

// True when `text` is 8..64 characters of [A-Za-z0-9_-]: the shape we accept
// for client request ids and our own ids.
bool IsValidRequestId(absl::string_view text);

}  // namespace rooted

#endif  // ROOTED_COMMON_BASE_IDS_H_
