#ifndef ROOTED_COMMON_SERVER_RPC_GUARD_H_
#define ROOTED_COMMON_SERVER_RPC_GUARD_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/auth/jwt.h"
#include "common/base/log.h"
#include "common/base/metrics.h"

namespace rooted {

// absl and gRPC share code numbers; this keeps the message.
grpc::Status ToGrpcStatus(const absl::Status& status);
absl::string_view CodeName(grpc::StatusCode code);

class RpcGuard;

// How a callback-API handler answers, from whichever thread its work ends
// on: the first Finish records the metric, logs a failure and completes the
// call; any later one does nothing. Copies share the one call.
class RpcCompletion {
 public:
  void Finish(const absl::Status& status) const;
  // Runs the rest of the call's work and finishes with its status; an
  // exception it throws becomes INTERNAL, as in RpcGuard::Run.
  void FinishWith(absl::FunctionRef<absl::Status()> work) const;

 private:
  friend class RpcGuard;
  struct Call;
  explicit RpcCompletion(std::shared_ptr<Call> call) : call_(std::move(call)) {}
  std::shared_ptr<Call> call_;
};

// The one place every handler passes through. It authenticates the bearer
// token (for plaintext local runs and mTLS alike: gRPC's AuthMetadataProcessor
// only runs on secure credentials), records the RPC metric, logs failures
// without request content, and turns any escaping exception into INTERNAL.
class RpcGuard {
 public:
  using Body = std::function<absl::Status(const Principal&)>;
  // Answers through `done`, now or later; must not block on I/O.
  using AsyncBody = absl::FunctionRef<void(const Principal&, RpcCompletion done)>;

  RpcGuard(const JwtVerifier& verifier, Metrics& metrics, Logger& logger)
      : verifier_(verifier), metrics_(metrics), logger_(logger) {}

  grpc::Status Run(const grpc::ServerContext& context, absl::string_view method,
                   const Body& body) const;
  // The callback API's form of Run: the call is answered when the body's work
  // calls `done`, without a thread held while it waits. The reactor is the
  // handler's return value. `method` must outlive the call: pass a literal.
  grpc::ServerUnaryReactor* RunAsync(grpc::CallbackServerContext* context, absl::string_view method,
                                     AsyncBody body) const;

  // UNAUTHENTICATED unless "authorization: Bearer <token>" verifies.
  absl::StatusOr<Principal> Authenticate(const grpc::ServerContextBase& context) const;

 private:
  friend class RpcCompletion;
  // Records the metric and logs a failure; the status gRPC answers with.
  grpc::Status Conclude(absl::string_view method, std::chrono::steady_clock::time_point started,
                        const absl::Status& status) const;

  const JwtVerifier& verifier_;
  Metrics& metrics_;
  Logger& logger_;
};

}  // namespace rooted

#endif  // ROOTED_COMMON_SERVER_RPC_GUARD_H_
