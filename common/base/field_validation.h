#ifndef ROOTED_COMMON_BASE_FIELD_VALIDATION_H_
#define ROOTED_COMMON_BASE_FIELD_VALIDATION_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace rooted {

// Validation at the edge. Every error is INVALID_ARGUMENT and starts with the
// path of the field at fault ("forum.locality: is required"). Messages never
// repeat the value given: it may be personal data.

absl::Status FieldError(absl::string_view path, absl::string_view message);

// Length of the UTF-8 sequence `lead` starts, or 0 if `lead` cannot start one.
int Utf8SequenceLength(unsigned char lead);

// Text of 1..max_chars characters of valid UTF-8 without control characters
// (newlines allowed when multiline). Empty is an error only when required.
absl::Status ValidateText(absl::string_view path, absl::string_view text, size_t max_chars,
                          bool required, bool multiline = false);

// A client request id: 8..64 characters of [A-Za-z0-9_-]; an error names
// `field`, the request's own name for it (the fund's is client_request_id).
absl::Status ValidateRequestId(absl::string_view request_id,
                               absl::string_view field = "request_id");
// One of our own ids (the same shape as request ids), named `path`.
absl::Status ValidateId(absl::string_view path, absl::string_view id, absl::string_view what);

}  // namespace rooted

#endif  // ROOTED_COMMON_BASE_FIELD_VALIDATION_H_
