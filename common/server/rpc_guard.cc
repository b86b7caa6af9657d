#include "common/server/rpc_guard.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/base/retry_later.h"

namespace rooted {

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

absl::Status RpcGuard::ShuttingDown(absl::string_view what_to_resend) {
  return absl::UnavailableError(
      absl::StrCat("the service is shutting down: send ", what_to_resend, " again"));
}

absl::StatusOr<Principal> RpcGuard::Authenticate(const grpc::ServerContextBase& context) const {
  if (draining()) return ShuttingDown("the call");
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

absl::Status RpcGuard::Contain(absl::string_view method,
                               absl::FunctionRef<absl::Status()> work) const {
  try {
    return work();
  } catch (const std::exception& e) {
    logger_.Error("handler threw", {{"method", method}, {"what", e.what()}});
  } catch (...) {
    logger_.Error("handler threw", {{"method", method}});
  }
  return absl::InternalError("internal error");
}

grpc::Status RpcGuard::Conclude(grpc::ServerContextBase& context, absl::string_view method,
                                std::chrono::steady_clock::time_point started,
                                const absl::Status& status) const {
  grpc::Status result = ToGrpcStatus(status);
  const std::optional<absl::Duration> retry_after = RetryAfterOf(status);
  if (retry_after) {
    context.AddTrailingMetadata("grpc-retry-pushback-ms",
                                std::to_string(absl::ToInt64Milliseconds(*retry_after)));
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const absl::string_view code = CodeName(result.error_code());
  metrics_.RecordRpc(method, code, seconds);
  // Messages come from our code, Redis and Kafka: field names and reasons,
  // never the request's values.
  switch (retry_after ? grpc::ABORTED : result.error_code()) {  // not yet: not a failure
    case grpc::OK:
      if (logger_.Enabled(LogLevel::kDebug)) {
        logger_.Log(LogLevel::kDebug, "rpc",
                    {{"method", method}, {"code", code}, {"seconds", seconds}});
      }
      break;
    case grpc::INTERNAL:
    case grpc::UNAVAILABLE:
    case grpc::UNKNOWN:
    case grpc::DATA_LOSS:
      logger_.Error("rpc failed",
                    {{"method", method}, {"code", code}, {"error", result.error_message()}});
      break;
    default:
      logger_.Info("rpc refused",
                   {{"method", method}, {"code", code}, {"error", result.error_message()}});
  }
  return result;
}

void RpcCompletion::Finish(const absl::Status& status) const {
  if (call_->finished.exchange(true)) return;
  std::shared_ptr<Call> call = call_;
  auto answer = [call](const absl::Status& final_status) {
    call->reactor->Finish(
        call->guard.Conclude(call->context, call->method, call->started, final_status));
  };
  if (!call->conclude) return answer(status);
  std::move(call->conclude)(status, std::move(answer));
}

void RpcCompletion::FinishWith(absl::FunctionRef<absl::Status()> work) const {
  Finish(call_->guard.Contain(call_->method, work));
}

}  // namespace rooted
