#ifndef ROOTED_COMMON_AUTH_JWT_H_
#define ROOTED_COMMON_AUTH_JWT_H_

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/auth/principal.h"
#include "common/base/base64.h"
#include "common/base/clock.h"

namespace rooted {

// Each key is bound to exactly one algorithm. A token whose header names any
// other algorithm ("none", HS256 where RS256 is configured, ...) is rejected
// before its signature is looked at: this is the algorithm-confusion defence.
enum class JwtAlgorithm { kHs256, kRs256 };

absl::StatusOr<JwtAlgorithm> ParseJwtAlgorithm(absl::string_view name);

struct JwtVerifierSettings {
  JwtAlgorithm algorithm = JwtAlgorithm::kHs256;
  // HS256: the shared secret (at least 32 bytes). RS256: a PEM public key
  // (RSA, at least 2048 bits).
  std::string key;
  std::string issuer;
  std::string audience;
  // Allowed clock skew for exp and nbf.
  absl::Duration leeway = absl::Seconds(30);
};

// Verifies bearer tokens: signature, then iss, aud, exp, nbf, sub, roles and
// organisation. Errors are UNAUTHENTICATED and never echo the token.
//
// A caller sends the same token with every call for hours, and checking it
// (base64, two JSON parses, an HMAC or RSA check) costs more than some whole
// handlers. So tokens that passed are remembered, by their exact bytes, with
// their validity window: a remembered token is still refused once it expires,
// and any other bytes, however close, are checked in full.
// Thread safety: Verify may be called concurrently.
class JwtVerifier {
 public:
  static absl::StatusOr<std::unique_ptr<JwtVerifier>> Create(JwtVerifierSettings settings,
                                                             const Clock& clock);
  ~JwtVerifier();
  JwtVerifier(const JwtVerifier&) = delete;
  JwtVerifier& operator=(const JwtVerifier&) = delete;

  absl::StatusOr<Principal> Verify(absl::string_view token) const;

  // Tokens remembered at most; when full the memory starts afresh, so a flood
  // of distinct tokens costs full checks, never unbounded memory.
  static constexpr size_t kRememberedTokens = 4096;

 private:
  struct Key;
  // A token that passed, and when it stops (and starts) being valid.
  struct Verified {
    Principal principal;
    absl::Time expires;
    std::optional<absl::Time> not_before;
  };
  JwtVerifier(JwtVerifierSettings settings, std::unique_ptr<Key> key, const Clock& clock);
  bool SignatureMatches(absl::string_view signed_part, absl::string_view signature) const;
  absl::StatusOr<Verified> VerifyInFull(absl::string_view token) const;
  absl::Status CheckWindow(absl::Time expires, std::optional<absl::Time> not_before) const;

  JwtVerifierSettings settings_;
  std::unique_ptr<Key> key_;
  const Clock& clock_;
  mutable std::mutex remembered_mu_;
  mutable absl::flat_hash_map<std::string, Verified> remembered_;
};

struct TokenRequest {
  Principal principal;
  std::string issuer;
  std::string audience;
  absl::Time issued_at;
  absl::Duration lifetime = absl::Hours(8);
};

// Mints tokens: for rootedctl's local tokens and for tests.
class JwtSigner {
 public:
  // HS256: the shared secret. RS256: a PEM private key.
  static absl::StatusOr<std::unique_ptr<JwtSigner>> Create(JwtAlgorithm algorithm, std::string key);
  ~JwtSigner();
  JwtSigner(const JwtSigner&) = delete;
  JwtSigner& operator=(const JwtSigner&) = delete;

  absl::StatusOr<std::string> Sign(const TokenRequest& request) const;
  // Signs an arbitrary header and payload, for tests of hostile tokens.
  absl::StatusOr<std::string> SignRaw(absl::string_view header_json,
                                      absl::string_view payload_json) const;

 private:
  struct Key;
  JwtSigner(JwtAlgorithm algorithm, std::unique_ptr<Key> key);
  JwtAlgorithm algorithm_;
  std::unique_ptr<Key> key_;
};

}  // namespace rooted

#endif  // ROOTED_COMMON_AUTH_JWT_H_
