#include "common/server/rpc_guard.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace rooted {
namespace {

// No exception escapes a handler: it is logged (without request content) and
// the call fails INTERNAL.
absl::Status Contain(Logger& logger, absl::string_view method, absl::FunctionRef<absl::Status()> work) {
  try {
    return work();
  } catch (const std::exception& e) {
    logger.Error("handler threw", {{"method", method}, {"what", e.what()}});
  } catch (...) {
    logger.Error("handler threw", {{"method", method}});
  }
  return absl::InternalError("internal error");
}

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

absl::string_view CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::OK:
      return "OK";
    case grpc::CANCELLED:
      return "CANCELLED";
    case grpc::UNKNOWN:
      return "UNKNOWN";
    case grpc::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::ABORTED:
      return "ABORTED";
    case grpc::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::INTERNAL:
      return "INTERNAL";
    case grpc::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::DATA_LOSS:
      return "DATA_LOSS";
    case grpc::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      return "UNKNOWN";
  }
}

absl::StatusOr<Principal> RpcGuard::Authenticate(const grpc::ServerContextBase& context) const {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) {
    return absl::UnauthenticatedError("missing authorization: Bearer token");
  }
  const absl::string_view value(it->second.data(), it->second.size());
  constexpr absl::string_view kPrefix = "Bearer ";
  if (value.size() <= kPrefix.size() || !absl::StartsWithIgnoreCase(value, kPrefix)) {
    return absl::UnauthenticatedError("authorization must be: Bearer <token>");
  }
  return verifier_.Verify(value.substr(kPrefix.size()));
}

grpc::Status RpcGuard::Conclude(absl::string_view method, std::chrono::steady_clock::time_point started,
                               const absl::Status& status) const {
  grpc::Status result = ToGrpcStatus(status);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  metrics_.RecordRpc(method, CodeName(result.error_code()), seconds);
  if (result.error_code() == grpc::INTERNAL || result.error_code() == grpc::UNAVAILABLE) {
    // The message comes from our code and Redis/Kafka, never from request fields.
    logger_.Error("rpc failed", {{"method", method},
                                 {"code", CodeName(result.error_code())},
                                 {"error", result.error_message()}});
  }
  return result;
}

grpc::Status RpcGuard::Run(const grpc::ServerContext& context, absl::string_view method,
                           const Body& body) const {
  const auto started = std::chrono::steady_clock::now();
  const absl::Status status = Contain(logger_, method, [&] {
    absl::StatusOr<Principal> principal = Authenticate(context);
    return principal.ok() ? body(*principal) : principal.status();
  });
  return Conclude(method, started, status);
}

struct RpcCompletion::Call {
  Call(const RpcGuard& g, absl::string_view m, grpc::ServerUnaryReactor* r)
      : guard(g), method(m), started(std::chrono::steady_clock::now()), reactor(r) {}
  const RpcGuard& guard;
  const absl::string_view method;  // a literal at every call site
  const std::chrono::steady_clock::time_point started;
  grpc::ServerUnaryReactor* const reactor;
  std::atomic<bool> finished{false};
};

void RpcCompletion::Finish(const absl::Status& status) const {
  if (call_->finished.exchange(true)) return;
  call_->reactor->Finish(call_->guard.Conclude(call_->method, call_->started, status));
}

void RpcCompletion::FinishWith(absl::FunctionRef<absl::Status()> work) const {
  Finish(Contain(call_->guard.logger_, call_->method, work));
}

grpc::ServerUnaryReactor* RpcGuard::RunAsync(grpc::CallbackServerContext* context, absl::string_view method,
                                             AsyncBody body) const {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const RpcCompletion done(std::make_shared<RpcCompletion::Call>(*this, method, reactor));
  const absl::Status refused = Contain(logger_, method, [&] {
    absl::StatusOr<Principal> principal = Authenticate(*context);
    if (!principal.ok()) return principal.status();
    body(*principal, done);
    return absl::OkStatus();
  });
  // After the body's own Finish (an exception late in the body), this is a no-op.
  if (!refused.ok()) done.Finish(refused);
  return reactor;
}

}  // namespace rooted
