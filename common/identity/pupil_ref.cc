#include "common/identity/pupil_ref.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace rooted {

absl::StatusOr<PupilRefHasher> PupilRefHasher::Create(std::string secret) {
  if (secret.size() < kMinSecretBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("pupil reference secret must be at least ", kMinSecretBytes, " bytes"));
  }
  return PupilRefHasher(std::move(secret));
}

std::string PupilRefHasher::RefFor(const Upn& upn) const {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()),
       reinterpret_cast<const unsigned char*>(upn.value().data()), upn.value().size(), digest,
       &length);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "pr_";
  for (unsigned int i = 0; i < 16; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0x0f]);
  }
  return out;
}

bool PupilRefHasher::LooksLikeRef(absl::string_view text) {
  if (text.size() != 35 || text.substr(0, 3) != "pr_") return false;
  for (char c : text.substr(3)) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace rooted
