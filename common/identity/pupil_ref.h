#ifndef ROOTED_COMMON_IDENTITY_PUPIL_REF_H_
#define ROOTED_COMMON_IDENTITY_PUPIL_REF_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/identity/upn.h"

namespace rooted {

// Turns a UPN into the pseudonymous pupil reference that travels on Kafka:
// "pr_" + the first 128 bits of HMAC-SHA256(council secret, UPN), hex.
// The same UPN always gives the same reference under one secret; without the
// secret the reference reveals nothing. Thread safety: immutable, shareable;
// copies share one keyed HMAC state, and each thread hashes on its own copy.
class PupilRefHasher {
 public:
  static constexpr size_t kMinSecretBytes = 32;

  // Fails when the secret is shorter than kMinSecretBytes.
  static absl::StatusOr<PupilRefHasher> Create(std::string secret);

  std::string RefFor(const Upn& upn) const;

  // True for strings of the shape RefFor makes.
  static bool LooksLikeRef(absl::string_view text);

 private:
  struct KeyedMac;
  explicit PupilRefHasher(std::shared_ptr<const KeyedMac> keyed) : keyed_(std::move(keyed)) {}
  // Keyed once: OpenSSL 3's one-shot HMAC() fetches the algorithm and sets the
  // key on every call, under a global lock, which cost more than the hash.
  std::shared_ptr<const KeyedMac> keyed_;
};

}  // namespace rooted

#endif  // ROOTED_COMMON_IDENTITY_PUPIL_REF_H_
