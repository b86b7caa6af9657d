#include "common/identity/upn.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace rooted {
namespace {

constexpr absl::string_view kCheckAlphabet = "ABCDEFGHJKLMNPQRTUVWXYZ";

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// The value a character takes in the weighted sum, or -1.
int CharacterValue(char c) {
  if (IsDigit(c)) return c - '0';
  const size_t pos = kCheckAlphabet.find(c);
  return pos == absl::string_view::npos ? -1 : static_cast<int>(pos);
}

}  // namespace

char UpnCheckLetter(absl::string_view upn) {
  if (upn.size() != 13) return '?';
  int sum = 0;
  for (int i = 1; i < 13; ++i) {
    const int value = CharacterValue(upn[static_cast<size_t>(i)]);
    if (value < 0) return '?';
    sum += value * (i + 1);
  }
  return kCheckAlphabet[static_cast<size_t>(sum % 23)];
}

absl::StatusOr<Upn> ParseUpn(absl::string_view text) {
  std::string upn = absl::AsciiStrToUpper(text);
  if (upn.size() == 3 && upn.compare(0, 2, "UN") == 0 && upn[2] >= '1' && upn[2] <= '5') {
    return absl::InvalidArgumentError("is a placeholder for an unknown UPN, not a UPN");
  }
  if (upn.size() != 13) {
    return absl::InvalidArgumentError(absl::StrCat("must be 13 characters, got ", upn.size()));
  }
  if (kCheckAlphabet.find(upn[0]) == absl::string_view::npos) {
    return absl::InvalidArgumentError("must start with a check letter (A-Z without I, O or S)");
  }
  for (size_t i = 1; i < 12; ++i) {
    if (!IsDigit(upn[i])) {
      return absl::InvalidArgumentError(absl::StrCat("character ", i + 1, " must be a digit"));
    }
  }
  Upn::Kind kind = Upn::Kind::kPermanent;
  if (!IsDigit(upn[12])) {
    if (kCheckAlphabet.find(upn[12]) == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          "character 13 must be a digit, or a letter (not I, O or S) for a temporary UPN");
    }
    kind = Upn::Kind::kTemporary;
  }
  if (UpnCheckLetter(upn) != upn[0]) {
    return absl::InvalidArgumentError("check letter does not match");
  }
  return Upn(std::move(upn), kind);
}

}  // namespace rooted
