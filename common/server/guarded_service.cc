#include "common/server/guarded_service.h"

#include <grpcpp/support/proto_buffer_writer.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/base/retry_later.h"
#include "common/base/status_macros.h"

namespace rooted {
namespace cv1 = rooted::common::v1;
namespace {

using google::protobuf::Message;

// Refusals a caller is told about; the shared path audits them for every
// rule that touches personal data, so who tried is on the trail. A record
// not known here yet (a retry hint) counts: it is also the answer for one
// the caller may not see.
bool IsRefusal(const absl::Status& status) {
  return absl::IsPermissionDenied(status) || absl::IsNotFound(status) ||
         absl::IsFailedPrecondition(status) || RetryAfterOf(status).has_value();
}

absl::Status Encode(const Message& message, grpc::ByteBuffer& out) {
  bool own_buffer = false;
  const grpc::Status encoded =
      grpc::SerializationTraits<Message>::Serialize(message, &out, &own_buffer);
  if (!encoded.ok()) return absl::InternalError("the answer could not be encoded");
  return absl::OkStatus();
}

}  // namespace

GuardedService::GuardedService(absl::string_view service, Options options)
    : name_(service),
      service_(google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(name_)),
      options_(std::move(options)) {}

const GuardedService::Route& GuardedService::AddRoute(absl::string_view method,
                                                      const google::protobuf::Descriptor& request,
                                                      const google::protobuf::Descriptor& response,
                                                      bool client_streaming,
                                                      grpc::internal::MethodHandler* handler,
                                                      bool callback) {
  auto route = std::make_unique<Route>();
  route->name = std::string(method);
  route->method = service_ == nullptr ? nullptr : service_->FindMethodByName(route->name);
  const bool matches = route->method != nullptr && route->method->input_type() == &request &&
                       route->method->output_type() == &response &&
                       route->method->client_streaming() == client_streaming &&
                       !route->method->server_streaming();
  if (matches) route->rule = route->method->options().GetExtension(cv1::access);
  // A mismatch leaves the route without its method: Complete() reports it
  // and the service does not start.
  route->path = absl::StrCat("/", name_, "/", method);
  auto* rpc = new grpc::internal::RpcServiceMethod(route->path.c_str(),
                                                   client_streaming
                                                       ? grpc::internal::RpcMethod::CLIENT_STREAMING
                                                       : grpc::internal::RpcMethod::NORMAL_RPC,
                                                   handler);
  routes_.push_back(std::move(route));
  if (callback) rpc->SetServerApiType(grpc::internal::RpcServiceMethod::ApiType::RAW_CALL_BACK);
  AddMethod(rpc);
  return *routes_.back();
}

absl::Status GuardedService::Complete() const {
  if (service_ == nullptr)
    return absl::FailedPreconditionError(absl::StrCat(name_, ": no such service"));
  for (int i = 0; i < service_->method_count(); ++i) {
    const google::protobuf::MethodDescriptor* method = service_->method(i);
    auto route = std::find_if(routes_.begin(), routes_.end(),
                              [&](const std::unique_ptr<Route>& r) { return r->method == method; });
    if (route == routes_.end()) {
      return absl::FailedPreconditionError(absl::StrCat(method->full_name(), ": no handler"));
    }
    if (!method->options().HasExtension(cv1::access)) {
      return absl::FailedPreconditionError(absl::StrCat(method->full_name(), ": no access rule"));
    }
    if (absl::Status whole = ValidateRule((*route)->rule); !whole.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat(method->full_name(), ": ", whole.message()));
    }
    const AccessRule& rule = (*route)->rule;
    if (!rule.record().kind().empty() &&
        (options_.owners == nullptr || !options_.owners->Keeps(rule.record().kind()))) {
      return absl::FailedPreconditionError(absl::StrCat(
          method->full_name(), ": nothing here says who owns a ", rule.record().kind()));
    }
    if (rule.personal_data() != cv1::PERSONAL_DATA_NONE && options_.audit == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat(method->full_name(), ": personal data with no audit trail"));
    }
  }
  for (const std::unique_ptr<Route>& route : routes_) {
    if (route->method == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat(name_, "/", route->name, ": no such method, or other message types"));
    }
  }
  if (options_.guard == nullptr || options_.clock == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(name_, ": no guard or clock"));
  }
  return absl::OkStatus();
}

absl::Status GuardedService::Admit(const Route& route, Caller& caller, const grpc::ByteBuffer* body,
                                   Message& request) const {
  const AccessRule& rule = route.rule;
  const Principal& who = caller.who;
  RETURN_IF_ERROR(CheckRoles(rule, who, route.name));
  if (body != nullptr) {
    RETURN_IF_ERROR(DecodeRequest(*body, request));
    RETURN_IF_ERROR(CheckTimestamps(request));
  }
  const std::string id =
      rule.record().kind().empty() ? "" : StringAt(request, rule.record().field());
  if (!rule.record().kind().empty() && id.empty() && !rule.record().optional()) {
    return absl::InvalidArgumentError(absl::StrCat(rule.record().field(), ": required"));
  }
  if (!id.empty()) {
    absl::StatusOr<RecordOwner> owner = options_.owners->OwnerOf(rule.record().kind(), id);
    // The child is named in the entry whether or not the call is let through.
    if (owner.ok()) caller.child = owner->pupil_ref;
    const absl::Status seen = owner.ok() ? CheckScope(rule, who, &*owner) : owner.status();
    if (absl::IsNotFound(seen)) {
      return options_.owners->Unseen(rule.record().kind(), rule.record().field());
    }
    return seen;
  }
  const std::string school =
      rule.school_field().empty() ? "" : StringAt(request, rule.school_field());
  if (!school.empty() && !IsSchoolUrn(school)) {
    return absl::InvalidArgumentError(
        absl::StrCat(rule.school_field(), ": is not a school URN (6 digits)"));
  }
  std::optional<absl::string_view> council;
  if (!school.empty() && options_.schools != nullptr) council = options_.schools->CouncilOf(school);
  return CheckScope(rule, who, nullptr, {school, council.value_or("")});
}

void GuardedService::Audit(const Route& route, const Caller& caller, const Message& request,
                           const Message* response, absl::Status outcome,
                           absl::AnyInvocable<void(absl::Status) &&> done) const {
  const Principal& who = caller.who;
  const AccessRule& rule = route.rule;
  const bool owed = rule.personal_data() == cv1::PERSONAL_DATA_READS ||
                    (rule.personal_data() == cv1::PERSONAL_DATA_CHANGES && IsRefusal(outcome));
  if (!owed) return std::move(done)(std::move(outcome));
  AuditEntry entry = AuditOf(who, route.name, options_.clock->Now());
  entry.record_kind = rule.record().kind();
  if (!rule.record().field().empty()) entry.record_id = StringAt(request, rule.record().field());
  entry.purpose = rule.purpose_field().empty() ? "" : StringAt(request, rule.purpose_field());
  if (entry.purpose.empty()) entry.purpose = rule.purpose();
  entry.agreement = options_.sharing_agreement;
  entry.outcome = std::string(CodeName(ToGrpcStatus(outcome).error_code()));
  CollectPupilRefs(request, entry.pupil_refs);
  if (response != nullptr && outcome.ok()) CollectPupilRefs(*response, entry.pupil_refs);
  if (!caller.child.empty()) entry.pupil_refs.push_back(caller.child);
  std::sort(entry.pupil_refs.begin(), entry.pupil_refs.end());
  entry.pupil_refs.erase(std::unique(entry.pupil_refs.begin(), entry.pupil_refs.end()),
                         entry.pupil_refs.end());
  options_.audit->Append(
      entry, [outcome = std::move(outcome), done = std::move(done)](absl::Status written) mutable {
        // Nothing is answered that the trail does not hold.
        std::move(done)(written.ok() ? std::move(outcome) : std::move(written));
      });
}

absl::Status GuardedService::AuditNow(const Route& route, const Caller& caller,
                                      const Message& request, const Message* response,
                                      absl::Status outcome) const {
  absl::Notification written;
  absl::Status result;
  Audit(route, caller, request, response, std::move(outcome), [&](absl::Status status) {
    result = std::move(status);
    written.Notify();
  });
  written.WaitForNotification();
  return result;
}

grpc::Status GuardedService::Serve(
    const Route& route, grpc::ServerContext& context, const grpc::ByteBuffer* body,
    grpc::ByteBuffer& answer, Message& request, Message& response,
    absl::FunctionRef<absl::Status(const Principal&)> handler) const {
  const Started started = std::chrono::steady_clock::now();
  const absl::Status status = options_.guard->Contain(route.name, [&]() -> absl::Status {
    Caller caller;
    ASSIGN_OR_RETURN(caller.who, options_.guard->Authenticate(context));
    absl::Status outcome = Admit(route, caller, body, request);
    if (outcome.ok()) {
      outcome = options_.guard->Contain(route.name, [&] { return handler(caller.who); });
    }
    RETURN_IF_ERROR(AuditNow(route, caller, request, &response, std::move(outcome)));
    return Encode(response, answer);
  });
  return options_.guard->Conclude(context, route.name, started, status);
}

RpcCompletion GuardedService::StartAsync(const Route& route, grpc::CallbackServerContext& context,
                                         std::shared_ptr<void> state,
                                         std::shared_ptr<const Caller> caller, Message& request,
                                         Message* response, grpc::ByteBuffer* raw_answer,
                                         grpc::ByteBuffer* answer) const {
  auto call = std::make_shared<RpcCompletion::Call>(*options_.guard, route.name, context);
  call->state = std::move(state);
  call->conclude = [this, &route, caller = std::move(caller), &request, response, raw_answer,
                    answer](absl::Status outcome,
                            absl::AnyInvocable<void(absl::Status) &&> reply) mutable {
    auto encode_and_reply = [response, raw_answer, answer,
                             reply = std::move(reply)](absl::Status status) mutable {
      if (status.ok()) {
        if (raw_answer != nullptr) {
          answer->Swap(raw_answer);
        } else {
          status = Encode(*response, *answer);
        }
      }
      std::move(reply)(std::move(status));
    };
    // Not authenticated: there is no one to name, and nothing was read.
    if (caller->who.subject.empty()) return encode_and_reply(std::move(outcome));
    Audit(route, *caller, request, response, std::move(outcome), std::move(encode_and_reply));
  };
  return RpcCompletion(std::move(call));
}

}  // namespace rooted
