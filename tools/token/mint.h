#ifndef ROOTED_TOOLS_TOKEN_MINT_H_
#define ROOTED_TOOLS_TOKEN_MINT_H_

#include <string>

#include "absl/status/statusor.h"
#include "common/base/config.h"

namespace rooted {

// A local bearer token from settings: --role=ROLE[,ROLE] --org=TYPE:ID --la=LA
// --subject=ID [--lifetime=8h], signed as the services are configured
// (token-algorithm, token-secret or token-signing-key, token-issuer,
// token-audience). Checks that every flag given was used.
absl::StatusOr<std::string> MintToken(const Config& config);

}  // namespace rooted

#endif  // ROOTED_TOOLS_TOKEN_MINT_H_
