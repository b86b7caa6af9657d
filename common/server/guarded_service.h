#ifndef ROOTED_COMMON_SERVER_GUARDED_SERVICE_H_
#define ROOTED_COMMON_SERVER_GUARDED_SERVICE_H_

#include <google/protobuf/descriptor.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/proto_utils.h>
#include <grpcpp/impl/codegen/server_callback_handlers.h>
#include <grpcpp/impl/rpc_service_method.h>
#include <grpcpp/impl/service_type.h>
#include <grpcpp/support/method_handler.h>
#include <grpcpp/support/sync_stream.h>

#include <chrono>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/auth/school_register.h"
#include "common/base/clock.h"
#include "common/redis/audit_trail.h"
#include "common/server/access_policy.h"
#include "common/server/message_fields.h"
#include "common/server/rpc_guard.h"

namespace rooted {

// The messages of a client stream, decoded one by one after the caller was
// admitted. Next is false at the stream's end; a message that does not decode
// is INVALID_ARGUMENT naming its number in the stream (from 1). Once the
// service drains for shutdown, the next message is UNAVAILABLE naming it:
// those before it are in, it and the rest are to be sent again.
template <typename Request>
class RequestStream {
 public:
  RequestStream(grpc::ServerReader<grpc::ByteBuffer>& reader, const RpcGuard& guard)
      : reader_(reader), guard_(guard) {}
  absl::StatusOr<bool> Next(Request& message) {
    grpc::ByteBuffer body;
    if (!reader_.Read(&body)) return false;
    ++count_;
    const std::string what = "message " + std::to_string(count_);
    if (guard_.draining()) return RpcGuard::ShuttingDown(what + " and those after it");
    if (absl::Status decoded = DecodeRequest(body, message, what); !decoded.ok()) return decoded;
    if (absl::Status in_range = CheckTimestamps(message); !in_range.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": ", in_range.message()));
    }
    return true;
  }
  // Messages read so far; the last one read is message number count().
  int64_t count() const { return count_; }

 private:
  grpc::ServerReader<grpc::ByteBuffer>& reader_;
  const RpcGuard& guard_;
  int64_t count_ = 0;
};

// A gRPC service whose every method passes the shared RPC path, built from
// the service's descriptor. Every method is registered raw, so the path can
// check the token before the body is parsed:
//
//   1. authenticate (UNAUTHENTICATED);
//   2. the method's access rule (proto/rooted/common/v1/access.proto): roles
//      (PERMISSION_DENIED);
//   3. decode the request (INVALID_ARGUMENT naming `request` or the field);
//   4. the rule's scope, against the record the request names (asked of the
//      service through RecordOwners: NOT_FOUND when the caller may not see
//      it) or the school it names;
//   5. the handler, its exceptions contained;
//   6. the audit entry the rule calls for, written before the answer is sent
//      (if it cannot be written, the call fails UNAVAILABLE);
//   7. the metric and one log line for every call, refused or not.
//
// Handlers are member functions of the service's implementation, bound by
// Handle; Complete() says whether every method has one. No handler checks
// roles or scope itself, or writes a read's audit entry.
class GuardedService final : public grpc::Service {
 public:
  struct Options {
    const RpcGuard* guard = nullptr;
    const Clock* clock = nullptr;
    // Where read and refusal audit entries go; required when a rule touches
    // personal data.
    AuditSink* audit = nullptr;
    // Who owns the records the rules name; required when a rule names one.
    const RecordOwners* owners = nullptr;
    // The information-sharing agreement audit entries name.
    std::string sharing_agreement;
    // Which council each school is in, for rules that let council officers
    // act for a school the request names; without it they may act for none.
    const SchoolRegister* schools = nullptr;
  };

  // `service` is the full name, e.g. "rooted.referral.v1.ReferralService".
  GuardedService(absl::string_view service, Options options);

  // A unary method answered on gRPC's handler thread, which the handler may block.
  template <typename Impl, typename Request, typename Response>
  void Handle(absl::string_view method, Impl& impl,
              absl::Status (Impl::*handler)(const Principal&, const Request*, Response*));
  // A unary method answered through `done`, from any thread, without a
  // thread held while it waits. Request and response live until the call
  // ends. With grpc::ByteBuffer as the response the handler gives the
  // answer's encoding itself.
  template <typename Impl, typename Request, typename Response>
  void Handle(absl::string_view method, Impl& impl,
              void (Impl::*handler)(const Principal&, Request*, Response*, RpcCompletion done));
  // A client-streaming method.
  template <typename Impl, typename Request, typename Response>
  void Handle(absl::string_view method, Impl& impl,
              absl::Status (Impl::*handler)(const Principal&, RequestStream<Request>&, Response*));

  // OK when every method of the service has a handler and a whole access
  // rule, and the options hold what the rules need; else the service must not start.
  absl::Status Complete() const;

  const std::string& name() const { return name_; }

 private:
  struct Route {
    const google::protobuf::MethodDescriptor* method = nullptr;
    AccessRule rule;
    std::string name;  // the short name, as metrics and logs label it
    std::string path;  // "/rooted.referral.v1.ReferralService/GetReferral"
  };
  using Started = std::chrono::steady_clock::time_point;
  // Who is calling, once authenticated, and the child the record their call
  // names is about (from its owner), for the call's audit entry.
  struct Caller {
    Principal who;
    std::string child;
  };

  // Finds the method, checks the handler's message types and adds the raw
  // method; the route lives as long as the service.
  const Route& AddRoute(absl::string_view method, const google::protobuf::Descriptor& request,
                        const google::protobuf::Descriptor& response, bool client_streaming,
                        grpc::internal::MethodHandler* handler, bool callback);

  // Steps 2-4 for a decoded (or not yet decoded, with `body`) request.
  absl::Status Admit(const Route& route, Caller& caller, const grpc::ByteBuffer* body,
                     google::protobuf::Message& request) const;
  // Step 6: the entry the rule asks for (or none); `done` gets the status to answer with.
  void Audit(const Route& route, const Caller& caller, const google::protobuf::Message& request,
             const google::protobuf::Message* response, absl::Status outcome,
             absl::AnyInvocable<void(absl::Status) &&> done) const;
  // Audit, waiting for the entry to be written.
  absl::Status AuditNow(const Route& route, const Caller& caller,
                        const google::protobuf::Message& request,
                        const google::protobuf::Message* response, absl::Status outcome) const;

  // A synchronous call, unary or streaming: `body` is the unary request's,
  // null for a stream (whose handler decodes each message).
  grpc::Status Serve(const Route& route, grpc::ServerContext& context, const grpc::ByteBuffer* body,
                     grpc::ByteBuffer& answer, google::protobuf::Message& request,
                     google::protobuf::Message& response,
                     absl::FunctionRef<absl::Status(const Principal&)> handler) const;
  // For a callback method: a completion whose Finish audits, encodes
  // `response` (unless `raw_answer`) into `answer` and answers.
  // `caller` is filled in once authenticated and admitted.
  RpcCompletion StartAsync(const Route& route, grpc::CallbackServerContext& context,
                           std::shared_ptr<void> state, std::shared_ptr<const Caller> caller,
                           google::protobuf::Message& request, google::protobuf::Message* response,
                           grpc::ByteBuffer* raw_answer, grpc::ByteBuffer* answer) const;

  const std::string name_;
  const google::protobuf::ServiceDescriptor* const service_;  // null when there is no such service
  const Options options_;
  std::vector<std::unique_ptr<Route>> routes_;
};

// ---- implementation of the templates -------------------------------------

template <typename Impl, typename Request, typename Response>
void GuardedService::Handle(absl::string_view method, Impl& impl,
                            absl::Status (Impl::*handler)(const Principal&, const Request*,
                                                          Response*)) {
  auto route = std::make_shared<const Route*>(nullptr);
  auto* method_handler =
      new grpc::internal::RpcMethodHandler<GuardedService, grpc::ByteBuffer, grpc::ByteBuffer>(
          [&impl, handler, route](GuardedService* self, grpc::ServerContext* context,
                                  const grpc::ByteBuffer* body, grpc::ByteBuffer* answer) {
            Request request;
            Response response;
            return self->Serve(
                **route, *context, body, *answer, request, response,
                [&](const Principal& who) { return (impl.*handler)(who, &request, &response); });
          },
          this);
  *route = &AddRoute(method, *Request::descriptor(), *Response::descriptor(), false, method_handler,
                     false);
}

template <typename Impl, typename Request, typename Response>
void GuardedService::Handle(absl::string_view method, Impl& impl,
                            void (Impl::*handler)(const Principal&, Request*, Response*,
                                                  RpcCompletion done)) {
  constexpr bool kRawAnswer = std::is_same_v<Response, grpc::ByteBuffer>;
  struct State {
    Request request;
    Response response;
  };
  auto route = std::make_shared<const Route*>(nullptr);
  auto* method_handler =
      new grpc::internal::CallbackUnaryHandler<grpc::ByteBuffer, grpc::ByteBuffer>(
          [this, &impl, handler, route](grpc::CallbackServerContext* context,
                                        const grpc::ByteBuffer* body,
                                        grpc::ByteBuffer* answer) -> grpc::ServerUnaryReactor* {
            auto state = std::make_shared<State>();
            google::protobuf::Message* typed_response = nullptr;
            grpc::ByteBuffer* raw_answer = nullptr;
            if constexpr (kRawAnswer) {
              raw_answer = &state->response;
            } else {
              typed_response = &state->response;
            }
            const Route& r = **route;
            auto caller = std::make_shared<Caller>();
            RpcCompletion done = StartAsync(r, *context, state, caller, state->request,
                                            typed_response, raw_answer, answer);
            absl::StatusOr<Principal> authenticated = options_.guard->Authenticate(*context);
            absl::Status status = authenticated.status();
            if (status.ok()) {
              caller->who = *std::move(authenticated);
              status = Admit(r, *caller, body, state->request);
            }
            if (status.ok()) {
              status = options_.guard->Contain(r.name, [&] {
                (impl.*handler)(caller->who, &state->request, &state->response, done);
                return absl::OkStatus();
              });
            }
            // After the handler's own Finish (an exception late in it), a no-op.
            if (!status.ok()) done.Finish(status);
            return done.call_->reactor;
          });
  const google::protobuf::Descriptor* response_type = nullptr;
  if constexpr (kRawAnswer) {
    const google::protobuf::MethodDescriptor* found =
        service_ == nullptr ? nullptr : service_->FindMethodByName(std::string(method));
    response_type = found == nullptr ? Request::descriptor() : found->output_type();
  } else {
    response_type = Response::descriptor();
  }
  *route = &AddRoute(method, *Request::descriptor(), *response_type, false, method_handler, true);
}

template <typename Impl, typename Request, typename Response>
void GuardedService::Handle(absl::string_view method, Impl& impl,
                            absl::Status (Impl::*handler)(const Principal&, RequestStream<Request>&,
                                                          Response*)) {
  auto route = std::make_shared<const Route*>(nullptr);
  auto* method_handler =
      new grpc::internal::ClientStreamingHandler<GuardedService, grpc::ByteBuffer,
                                                 grpc::ByteBuffer>(
          [&impl, handler, route](GuardedService* self, grpc::ServerContext* context,
                                  grpc::ServerReader<grpc::ByteBuffer>* reader,
                                  grpc::ByteBuffer* answer) {
            // A stream's rule names no record: each message is checked by the handler as it comes.
            Request none;
            Response response;
            return self->Serve(**route, *context, nullptr, *answer, none, response,
                               [&](const Principal& who) {
                                 RequestStream<Request> stream(*reader, *self->options_.guard);
                                 return (impl.*handler)(who, stream, &response);
                               });
          },
          this);
  *route = &AddRoute(method, *Request::descriptor(), *Response::descriptor(), true, method_handler,
                     false);
}

}  // namespace rooted

#endif  // ROOTED_COMMON_SERVER_GUARDED_SERVICE_H_
