#ifndef ROOTED_COMMON_SERVER_RPC_GUARD_H_
#define ROOTED_COMMON_SERVER_RPC_GUARD_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <string_view>

#include "absl/functional/any_invocable.h"
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
class GuardedService;

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
  friend class GuardedService;
  struct Call;
  explicit RpcCompletion(std::shared_ptr<Call> call) : call_(std::move(call)) {}
  std::shared_ptr<Call> call_;
};

// A callback call in flight; shared by the copies of its completion.
struct RpcCompletion::Call {
  Call(const RpcGuard& g, absl::string_view m, grpc::CallbackServerContext& c)
      : guard(g),
        method(m),
        started(std::chrono::steady_clock::now()),
        context(c),
        reactor(c.DefaultReactor()) {}
  const RpcGuard& guard;
  const absl::string_view method;  // outlives the call: the route's name
  const std::chrono::steady_clock::time_point started;
  grpc::CallbackServerContext& context;
  grpc::ServerUnaryReactor* const reactor;
  std::atomic<bool> finished{false};
  // Set by the shared path: turns the handler's status into the answer (its
  // audit entry, the response's encoding) and then calls `answer` with the
  // status to send.
  absl::AnyInvocable<void(absl::Status, absl::AnyInvocable<void(absl::Status) &&>) &&> conclude;
  // The call's request and response, alive while any copy of the completion is.
  std::shared_ptr<void> state;
};

// What every call passes through, whichever service it is for: it
// authenticates the bearer token (for plaintext local runs and mTLS alike:
// gRPC's AuthMetadataProcessor only runs on secure credentials), records the
// RPC metric, logs each call once without request content, and turns any
// escaping exception into INTERNAL. GuardedService runs it, with the
// method's access rule, before any handler.
class RpcGuard {
 public:
  RpcGuard(const JwtVerifier& verifier, Metrics& metrics, Logger& logger)
      : verifier_(verifier), metrics_(metrics), logger_(logger) {}

  // UNAUTHENTICATED unless "authorization: Bearer <token>" verifies; while
  // draining, UNAVAILABLE before the token is read.
  absl::StatusOr<Principal> Authenticate(const grpc::ServerContextBase& context) const;

  // Shutdown. From here on every new call is answered UNAVAILABLE, which
  // clients retry (on another replica), and a client stream ends at its next
  // message the same way. What is still running when the drain time is up
  // (a unary call, or a stream waiting on a message that never comes) is
  // cancelled by gRPC: shutdown-drain is set to outlast any one call.
  void BeginDrain() { draining_.store(true); }
  bool draining() const { return draining_.load(std::memory_order_relaxed); }
  // The answer to a call that comes, or goes on, while draining.
  static absl::Status ShuttingDown(absl::string_view what_to_resend);

  // Runs `work`; an exception it throws is logged and becomes INTERNAL.
  absl::Status Contain(absl::string_view method, absl::FunctionRef<absl::Status()> work) const;

  // Records the metric and logs the call once (failures as errors, refusals
  // as information, the rest at debug); the status gRPC answers with, and
  // its retry hint (RetryLater) as the `grpc-retry-pushback-ms` trailer.
  grpc::Status Conclude(grpc::ServerContextBase& context, absl::string_view method,
                        std::chrono::steady_clock::time_point started,
                        const absl::Status& status) const;

 private:
  const JwtVerifier& verifier_;
  Metrics& metrics_;
  Logger& logger_;
  std::atomic<bool> draining_{false};
};

}  // namespace rooted

#endif  // ROOTED_COMMON_SERVER_RPC_GUARD_H_
