#ifndef ROOTED_TESTS_SUPPORT_AUTH_H_
#define ROOTED_TESTS_SUPPORT_AUTH_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>

#include "common/auth/jwt.h"

namespace rooted::testing {

// Mints the HS256 tokens integration tests call with (issuer "rooted-local",
// audience "rooted", the services' local defaults).
class TestTokens {
 public:
  explicit TestTokens(const std::string& secret)
      : signer_(*JwtSigner::Create(JwtAlgorithm::kHs256, secret)) {}

  std::string Mint(const std::string& subject, Role role, OrganisationType type,
                   const std::string& organisation, const std::string& la_code,
                   absl::Time issued_at) const {
    TokenRequest request;
    request.principal = {subject, {role}, type, organisation, la_code};
    request.issuer = "rooted-local";
    request.audience = "rooted";
    request.issued_at = issued_at;
    return *signer_->Sign(request);
  }

 private:
  std::unique_ptr<JwtSigner> signer_;
};

// A client context carrying "authorization: Bearer <token>" (none when the
// token is empty) and a 20 s deadline.
inline std::unique_ptr<grpc::ClientContext> AuthedContext(const std::string& token) {
  auto context = std::make_unique<grpc::ClientContext>();
  if (!token.empty()) context->AddMetadata("authorization", "Bearer " + token);
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  return context;
}

}  // namespace rooted::testing

#endif  // ROOTED_TESTS_SUPPORT_AUTH_H_
