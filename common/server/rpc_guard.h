#ifndef ROOTED_COMMON_SERVER_RPC_GUARD_H_
#define ROOTED_COMMON_SERVER_RPC_GUARD_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <exception>
#include <functional>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/auth/jwt.h"
#include "common/base/log.h"
#include "common/base/metrics.h"

namespace rooted {

// absl and gRPC share code numbers; this keeps the message.
grpc::Status ToGrpcStatus(const absl::Status& status);
absl::string_view CodeName(grpc::StatusCode code);

// The one place every handler passes through. It authenticates the bearer
// token (for plaintext local runs and mTLS alike: gRPC's AuthMetadataProcessor
// only runs on secure credentials), records the RPC metric, logs failures
// without request content, and turns any escaping exception into INTERNAL.
class RpcGuard {
 public:
  using Body = std::function<absl::Status(const Principal&)>;

  RpcGuard(const JwtVerifier& verifier, Metrics& metrics, Logger& logger)
      : verifier_(verifier), metrics_(metrics), logger_(logger) {}

  grpc::Status Run(const grpc::ServerContext& context, absl::string_view method,
                   const Body& body) const;

  // UNAUTHENTICATED unless "authorization: Bearer <token>" verifies.
  absl::StatusOr<Principal> Authenticate(const grpc::ServerContext& context) const;

 private:
  const JwtVerifier& verifier_;
  Metrics& metrics_;
  Logger& logger_;
};

}  // namespace rooted

#endif  // ROOTED_COMMON_SERVER_RPC_GUARD_H_
