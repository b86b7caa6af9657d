#include "tools/token/mint.h"

#include "absl/strings/str_split.h"
#include "common/auth/jwt.h"

namespace rooted {

absl::StatusOr<std::string> MintToken(const Config& config) {
  absl::StatusOr<JwtAlgorithm> algorithm =
      ParseJwtAlgorithm(config.String("token-algorithm", "HS256"));
  if (!algorithm.ok()) return algorithm.status();
  absl::StatusOr<std::string> key = *algorithm == JwtAlgorithm::kHs256
                                        ? config.Secret("token-secret", 32)
                                        : config.Secret("token-signing-key", 1);
  if (!key.ok()) return key.status();
  TokenRequest request;
  request.issuer = config.String("token-issuer", "rooted-local");
  request.audience = config.String("token-audience", "rooted");
  request.issued_at = absl::Now();
  absl::StatusOr<absl::Duration> lifetime = config.Duration("lifetime", absl::Hours(8));
  if (!lifetime.ok()) return lifetime.status();
  request.lifetime = *lifetime;
  absl::StatusOr<std::string> subject = config.RequiredString("subject");
  absl::StatusOr<std::string> roles = config.RequiredString("role");
  absl::StatusOr<std::string> org = config.RequiredString("org");
  absl::StatusOr<std::string> la = config.RequiredString("la");
  for (const auto* s : {&subject, &roles, &org, &la}) {
    if (!s->ok()) return s->status();
  }
  request.principal.subject = *subject;
  for (absl::string_view name : absl::StrSplit(*roles, ',')) {
    absl::StatusOr<Role> role = ParseRoleName(name);
    if (!role.ok()) return role.status();
    request.principal.roles.push_back(*role);
  }
  if (absl::Status s = ParseOrganisationName(*org, &request.principal.organisation_type,
                                                     &request.principal.organisation_id);
      !s.ok()) {
    return s;
  }
  if (!IsLaCode(*la)) return absl::InvalidArgumentError("--la: must be a 3-digit LA code");
  request.principal.la_code = *la;
  if (absl::Status s = config.CheckAllFlagsUsed(); !s.ok()) return s;
  absl::StatusOr<std::unique_ptr<JwtSigner>> signer =
      JwtSigner::Create(*algorithm, *key);
  if (!signer.ok()) return signer.status();
  return (*signer)->Sign(request);
}


}  // namespace rooted
