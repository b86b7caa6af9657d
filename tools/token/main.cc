// rooted-token: mints a bearer token for local runs and tests.
//
//   rooted-token --role=school_staff --org=school:100001 --la=801
//                --subject=teacher-1 [--lifetime=8h]
//
// Reads the same settings as the services: ROOTED_TOKEN_ALGORITHM (HS256 or
// RS256), ROOTED_TOKEN_SECRET or ROOTED_TOKEN_SIGNING_KEY_FILE (RS256 private
// key), ROOTED_TOKEN_ISSUER, ROOTED_TOKEN_AUDIENCE.

#include <iostream>

#include "absl/strings/str_split.h"
#include "common/auth/jwt.h"
#include "common/base/config.h"

namespace {

absl::StatusOr<std::string> Mint(const rooted::Config& config) {
  absl::StatusOr<rooted::JwtAlgorithm> algorithm =
      rooted::ParseJwtAlgorithm(config.String("token-algorithm", "HS256"));
  if (!algorithm.ok()) return algorithm.status();
  absl::StatusOr<std::string> key = *algorithm == rooted::JwtAlgorithm::kHs256
                                        ? config.Secret("token-secret", 32)
                                        : config.Secret("token-signing-key", 1);
  if (!key.ok()) return key.status();
  rooted::TokenRequest request;
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
    absl::StatusOr<rooted::Role> role = rooted::ParseRoleName(name);
    if (!role.ok()) return role.status();
    request.principal.roles.push_back(*role);
  }
  if (absl::Status s = rooted::ParseOrganisationName(*org, &request.principal.organisation_type,
                                                     &request.principal.organisation_id);
      !s.ok()) {
    return s;
  }
  if (!rooted::IsLaCode(*la)) return absl::InvalidArgumentError("--la: must be a 3-digit LA code");
  request.principal.la_code = *la;
  if (absl::Status s = config.CheckAllFlagsUsed(); !s.ok()) return s;
  absl::StatusOr<std::unique_ptr<rooted::JwtSigner>> signer =
      rooted::JwtSigner::Create(*algorithm, *key);
  if (!signer.ok()) return signer.status();
  return (*signer)->Sign(request);
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--help") {
      std::cout << "usage: rooted-token --role=ROLE[,ROLE] --org=TYPE:ID --la=LA --subject=ID "
                   "[--lifetime=8h]\n";
      return 0;
    }
  }
  absl::StatusOr<rooted::Config> config = rooted::Config::Parse(argc, argv);
  absl::StatusOr<std::string> token = config.ok() ? Mint(*config) : config.status();
  if (!token.ok()) {
    std::cerr << "rooted-token: " << token.status().message() << "\n";
    return 2;
  }
  std::cout << *token << "\n";
  return 0;
}
