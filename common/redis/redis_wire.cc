#include "common/redis/redis_wire.h"

#include <hiredis/hiredis.h>

#include <algorithm>
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

namespace {

// hiredis calls these as it parses. A reply's top node is allocated here and
// owned by whoever takes it from the reader; every other node is an element
// of its parent, whose elements were sized when the parent array was read,
// so hiredis's pointers to them stay valid. hiredis only ever frees a top
// node (a reply it gives up on).
RedisReply* NodeFor(const redisReadTask* task) {
  if (task->parent == nullptr) return new RedisReply;
  auto* parent = static_cast<RedisReply*>(task->parent->obj);
  return &parent->elements[size_t(task->idx)];
}

void* BuildString(const redisReadTask* task, char* str, size_t len) {
  RedisReply* node = NodeFor(task);
  switch (task->type) {
    case REDIS_REPLY_STATUS:
      node->type = RedisReply::Type::kStatus;
      break;
    case REDIS_REPLY_ERROR:
      node->type = RedisReply::Type::kError;
      break;
    default:
      node->type = RedisReply::Type::kString;
  }
  node->str.assign(str, len);
  return node;
}

void* BuildArray(const redisReadTask* task, int elements) {
  RedisReply* node = NodeFor(task);
  node->type = RedisReply::Type::kArray;
  node->elements.resize(size_t(std::max(elements, 0)));
  return node;
}

void* BuildInteger(const redisReadTask* task, long long value) {
  RedisReply* node = NodeFor(task);
  node->type = RedisReply::Type::kInteger;
  node->integer = value;
  return node;
}

void* BuildNil(const redisReadTask* task) { return NodeFor(task); }

void FreeTopNode(void* node) { delete static_cast<RedisReply*>(node); }

redisReplyObjectFunctions reply_builder = {BuildString, BuildArray, BuildInteger, BuildNil, FreeTopNode};

}  // namespace

redisReader* NewReplyReader() { return redisReaderCreateWithFunctions(&reply_builder); }

RedisReply TakeReply(void* parsed) {
  std::unique_ptr<RedisReply> reply(static_cast<RedisReply*>(parsed));
  return std::move(*reply);
}

void ContextDeleter::operator()(redisContext* context) const { redisFree(context); }

absl::StatusOr<std::vector<RedisReply>> RoundTrip(redisContext* context, const std::string& wire, size_t count) {
  if (redisAppendFormattedCommand(context, wire.data(), wire.size()) != REDIS_OK) {
    return absl::UnavailableError(absl::StrCat("redis: ", context->errstr));
  }
  std::vector<RedisReply> replies;
  replies.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    void* raw = nullptr;
    if (redisGetReply(context, &raw) != REDIS_OK || raw == nullptr) {
      return absl::UnavailableError(absl::StrCat("redis: ", context->errstr));
    }
    replies.push_back(TakeReply(raw));
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
  redisReaderFree(context->reader);
  context->reader = NewReplyReader();
  if (context->reader == nullptr) return absl::UnavailableError("redis: cannot allocate a reply reader");
  redisSetTimeout(context.get(), absl::ToTimeval(options.command_timeout));
  redisEnableKeepAlive(context.get());
  auto run = [&](std::vector<std::string> args) -> absl::Status {
    std::string wire;
    AppendCommand(wire, args);
    absl::StatusOr<std::vector<RedisReply>> replies = RoundTrip(context.get(), wire, 1);
    if (!replies.ok()) return replies.status();
    const RedisReply& reply = replies->front();
    if (reply.is_error()) {
      // Said without the password.
      return absl::UnavailableError(absl::StrCat("redis: ", args[0], " refused: ", reply.str));
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
