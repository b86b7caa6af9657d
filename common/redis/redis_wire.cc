#include "common/redis/redis_wire.h"

#include <hiredis/hiredis.h>

#include <charconv>

#include "absl/strings/str_cat.h"

namespace rooted::redis_wire {
namespace {

void AppendDecimal(std::string& out, size_t n) {
  char digits[24];
  const std::to_chars_result end = std::to_chars(digits, digits + sizeof(digits), n);
  out.append(digits, end.ptr);
}

}  // namespace

void AppendArrayHeader(std::string& out, size_t count) {
  out.push_back('*');
  AppendDecimal(out, count);
  out.append("\r\n");
}

void AppendBulk(std::string& out, const std::string& arg) {
  out.push_back('$');
  AppendDecimal(out, arg.size());
  out.append("\r\n");
  out.append(arg);
  out.append("\r\n");
}

void AppendCommand(std::string& out, const std::vector<std::string>& args) {
  size_t size = 16;
  for (const std::string& a : args) size += a.size() + 16;
  out.reserve(out.size() + size);
  AppendArrayHeader(out, args.size());
  for (const std::string& a : args) AppendBulk(out, a);
}

RedisReply CopyReply(const redisReply* reply) {
  RedisReply out;
  switch (reply->type) {
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::kInteger;
      out.integer = reply->integer;
      break;
    case REDIS_REPLY_STRING:
      out.type = RedisReply::Type::kString;
      out.str.assign(reply->str, reply->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::Type::kStatus;
      out.str.assign(reply->str, reply->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = RedisReply::Type::kError;
      out.str.assign(reply->str, reply->len);
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::kArray;
      out.elements.reserve(reply->elements);
      for (size_t i = 0; i < reply->elements; ++i) out.elements.push_back(CopyReply(reply->element[i]));
      break;
    default:
      out.type = RedisReply::Type::kNil;
  }
  return out;
}

absl::Status ErrorReplyStatus(const std::string& message) {
  return absl::InternalError(absl::StrCat("redis: ", message));
}

void ReplyDeleter::operator()(redisReply* reply) const { freeReplyObject(reply); }

void ContextDeleter::operator()(redisContext* context) const { redisFree(context); }

absl::StatusOr<std::vector<ReplyPtr>> RoundTrip(redisContext* context, const std::string& wire, size_t count) {
  if (redisAppendFormattedCommand(context, wire.data(), wire.size()) != REDIS_OK) {
    return absl::UnavailableError(absl::StrCat("redis: ", context->errstr));
  }
  std::vector<ReplyPtr> replies;
  replies.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    void* raw = nullptr;
    if (redisGetReply(context, &raw) != REDIS_OK || raw == nullptr) {
      return absl::UnavailableError(absl::StrCat("redis: ", context->errstr));
    }
    replies.emplace_back(static_cast<redisReply*>(raw));
  }
  return replies;
}

absl::StatusOr<ContextPtr> Connect(const RedisOptions& options) {
  ContextPtr context(
      redisConnectWithTimeout(options.host.c_str(), options.port, absl::ToTimeval(options.connect_timeout)));
  if (context == nullptr) return absl::UnavailableError("redis: cannot allocate a connection");
  if (context->err != 0) {
    return absl::UnavailableError(
        absl::StrCat("redis: connect to ", options.host, ":", options.port, " failed: ", context->errstr));
  }
  redisSetTimeout(context.get(), absl::ToTimeval(options.command_timeout));
  redisEnableKeepAlive(context.get());
  auto run = [&](std::vector<std::string> args) -> absl::Status {
    std::string wire;
    AppendCommand(wire, args);
    absl::StatusOr<std::vector<ReplyPtr>> replies = RoundTrip(context.get(), wire, 1);
    if (!replies.ok()) return replies.status();
    const ReplyPtr& reply = replies->front();
    if (reply->type == REDIS_REPLY_ERROR) {
      // Said without the password.
      return absl::UnavailableError(
          absl::StrCat("redis: ", args[0], " refused: ", std::string(reply->str, reply->len)));
    }
    return absl::OkStatus();
  };
  if (!options.password.empty()) {
    absl::Status auth =
        options.user.empty() ? run({"AUTH", options.password}) : run({"AUTH", options.user, options.password});
    if (!auth.ok()) return auth;
  }
  if (options.database != 0) {
    if (absl::Status s = run({"SELECT", std::to_string(options.database)}); !s.ok()) return s;
  }
  return context;
}

}  // namespace rooted::redis_wire
