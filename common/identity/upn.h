#ifndef ROOTED_COMMON_IDENTITY_UPN_H_
#define ROOTED_COMMON_IDENTITY_UPN_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rooted {

// A unique pupil number that passed the DfE format and check-letter rules.
// Only ParseUpn makes one, so holding a Upn means it is valid.
class Upn {
 public:
  enum class Kind { kPermanent, kTemporary };

  const std::string& value() const { return value_; }
  Kind kind() const { return kind_; }
  // The 3-digit code of the local authority that allocated the number.
  absl::string_view allocating_la_code() const { return absl::string_view(value_).substr(1, 3); }

 private:
  friend absl::StatusOr<Upn> ParseUpn(absl::string_view text);
  Upn(std::string value, Kind kind) : value_(std::move(value)), kind_(kind) {}

  std::string value_;
  Kind kind_;
};

// Validates a UPN: 13 characters; a check letter; 11 digits; then a digit
// (permanent) or a letter of the check alphabet (temporary). The check letter
// is the sum of characters 2..13 times weights 2..13, modulo 23, mapped onto
// "ABCDEFGHJKLMNPQRTUVWXYZ". Lower case is accepted and normalised.
// The error message says what is wrong without echoing the number.
absl::StatusOr<Upn> ParseUpn(absl::string_view text);

// The check letter characters 2..13 of `upn` call for; '?' if they are not
// digits or check-alphabet letters.
char UpnCheckLetter(absl::string_view upn);

}  // namespace rooted

#endif  // ROOTED_COMMON_IDENTITY_UPN_H_
