#include "common/base/field_validation.h"

#include "absl/strings/str_cat.h"
#include "common/base/ids.h"

namespace rooted {
int Utf8SequenceLength(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead >> 5) == 0x6) return 2;
  if ((lead >> 4) == 0xe) return 3;
  if ((lead >> 3) == 0x1e) return 4;
  return 0;
}

absl::Status FieldError(absl::string_view path, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", message));
}

absl::Status ValidateText(absl::string_view path, absl::string_view text, size_t max_chars,
                          bool required, bool multiline) {
  if (text.find_first_not_of(" \t\r\n") == absl::string_view::npos) {
    return required ? FieldError(path, "is required") : absl::OkStatus();
  }
  size_t chars = 0;
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    const int length = Utf8SequenceLength(c);
    if (length == 0 || i + static_cast<size_t>(length) > text.size()) {
      return FieldError(path, "is not valid UTF-8");
    }
    for (int k = 1; k < length; ++k) {
      if ((static_cast<unsigned char>(text[i + static_cast<size_t>(k)]) >> 6) != 0x2) {
        return FieldError(path, "is not valid UTF-8");
      }
    }
    if (length == 1 && (c < 0x20 || c == 0x7f) &&
        !(multiline && (c == '\n' || c == '\r' || c == '\t'))) {
      return FieldError(path, "contains control characters");
    }
    i += static_cast<size_t>(length);
    ++chars;
  }
  if (chars > max_chars)
    return FieldError(path, absl::StrCat("at most ", max_chars, " characters"));
  return absl::OkStatus();
}

absl::Status ValidateRequestId(absl::string_view request_id, absl::string_view field) {
  if (!IsValidRequestId(request_id)) {
    return FieldError(field, "must be 8 to 64 characters of A-Z a-z 0-9 _ -");
  }
  return absl::OkStatus();
}

absl::Status ValidateId(absl::string_view path, absl::string_view id, absl::string_view what) {
  if (!IsValidRequestId(id)) return FieldError(path, absl::StrCat("is not ", what));
  return absl::OkStatus();
}

}  // namespace rooted
