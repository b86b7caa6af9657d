#include "common/server/rpc_guard.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

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

absl::StatusOr<Principal> RpcGuard::Authenticate(const grpc::ServerContext& context) const {
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

grpc::Status RpcGuard::Run(const grpc::ServerContext& context, absl::string_view method,
                           const Body& body) const {
  const auto started = std::chrono::steady_clock::now();
  absl::Status status;
  try {
    absl::StatusOr<Principal> principal = Authenticate(context);
    status = principal.ok() ? body(*principal) : principal.status();
  } catch (const std::exception& e) {
    logger_.Error("handler threw", {{"method", method}, {"what", e.what()}});
    status = absl::InternalError("internal error");
  } catch (...) {
    logger_.Error("handler threw", {{"method", method}});
    status = absl::InternalError("internal error");
  }
  grpc::Status result = ToGrpcStatus(status);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  metrics_.RecordRpc(method, CodeName(result.error_code()), seconds);
  if (result.error_code() == grpc::INTERNAL || result.error_code() == grpc::UNAVAILABLE) {
    // The message comes from our code and Redis/Kafka, never from request fields.
    logger_.Error("rpc failed", {{"method", method},
                                 {"code", CodeName(result.error_code())},
                                 {"error", result.error_message()}});
  }
  return result;
}

}  // namespace rooted
