// rooted-token: mints a bearer token for local runs and tests.
//
//   rooted-token --role=school_staff --org=school:100001 --la=801
//                --subject=teacher-1 [--lifetime=8h]
//
// Reads the same settings as the services: ROOTED_TOKEN_ALGORITHM (HS256 or
// RS256), ROOTED_TOKEN_SECRET or ROOTED_TOKEN_SIGNING_KEY_FILE (RS256 private
// key), ROOTED_TOKEN_ISSUER, ROOTED_TOKEN_AUDIENCE.

#include <iostream>

#include "common/base/config.h"
#include "tools/token/mint.h"

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--help") {
      std::cout << "usage: rooted-token --role=ROLE[,ROLE] --org=TYPE:ID --la=LA --subject=ID "
                   "[--lifetime=8h]\n";
      return 0;
    }
  }
  absl::StatusOr<rooted::Config> config = rooted::Config::Parse(argc, argv);
  absl::StatusOr<std::string> token = config.ok() ? rooted::MintToken(*config) : config.status();
  if (!token.ok()) {
    std::cerr << "rooted-token: " << token.status().message() << "\n";
    return 2;
  }
  std::cout << *token << "\n";
  return 0;
}
