#include "common/redis/redis_client.h"

#include <hiredis/hiredis.h>
#include <openssl/sha.h>

#include <charconv>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace rooted {
namespace {

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
      for (size_t i = 0; i < reply->elements; ++i)
        out.elements.push_back(CopyReply(reply->element[i]));
      break;
    default:
      out.type = RedisReply::Type::kNil;
  }
  return out;
}

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

void AppendDecimal(std::string& out, size_t n) {
  char digits[24];
  const std::to_chars_result end = std::to_chars(digits, digits + sizeof(digits), n);
  out.append(digits, end.ptr);
}

// The command in Redis's wire protocol (RESP), in one buffer sized up front.
// hiredis's own formatter builds it an argument at a time through printf-style
// appends, which took about 6% of referral-intake's CPU under load.
void AppendCommand(std::string& out, const std::vector<std::string>& args) {
  size_t size = 16;
  for (const std::string& a : args) size += a.size() + 16;
  out.reserve(out.size() + size);
  out.push_back('*');
  AppendDecimal(out, args.size());
  out.append("\r\n");
  for (const std::string& a : args) {
    out.push_back('$');
    AppendDecimal(out, a.size());
    out.append("\r\n");
    out.append(a);
    out.append("\r\n");
  }
}

// Sends `count` commands already in wire form in one write, and reads their
// replies in order.
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

}  // namespace

RedisScript::RedisScript(std::string source) : source_(std::move(source)) {
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(source_.data()), source_.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned char b : digest) {
    sha1_.push_back(kHex[b >> 4]);
    sha1_.push_back(kHex[b & 0x0f]);
  }
}

struct RedisClient::Connection {
  explicit Connection(redisContext* c) : context(c) {}
  ~Connection() {
    if (context != nullptr) redisFree(context);
  }
  redisContext* context;
};

// Returns the connection to the pool, or drops it if an I/O error broke it.
class RedisClient::Lease {
 public:
  Lease(RedisClient& client, std::unique_ptr<Connection> c)
      : client_(client), connection_(std::move(c)) {}
  ~Lease() {
    const bool healthy = connection_->context->err == 0;
    client_.Release(std::move(connection_), healthy);
  }
  redisContext* context() { return connection_->context; }

 private:
  RedisClient& client_;
  std::unique_ptr<Connection> connection_;
};

RedisClient::RedisClient(RedisOptions options) : options_(std::move(options)) {}

RedisClient::~RedisClient() = default;

absl::StatusOr<std::unique_ptr<RedisClient::Connection>> RedisClient::Connect() const {
  redisContext* raw = redisConnectWithTimeout(options_.host.c_str(), options_.port,
                                              absl::ToTimeval(options_.connect_timeout));
  if (raw == nullptr) return absl::UnavailableError("redis: cannot allocate a connection");
  auto connection = std::make_unique<Connection>(raw);
  if (raw->err != 0) {
    return absl::UnavailableError(absl::StrCat("redis: connect to ", options_.host, ":",
                                               options_.port, " failed: ", raw->errstr));
  }
  redisSetTimeout(raw, absl::ToTimeval(options_.command_timeout));
  redisEnableKeepAlive(raw);
  auto run = [&](std::vector<std::string> args) -> absl::Status {
    std::string wire;
    AppendCommand(wire, args);
    absl::StatusOr<std::vector<ReplyPtr>> replies = RoundTrip(raw, wire, 1);
    if (!replies.ok()) return replies.status();
    const ReplyPtr& reply = replies->front();
    if (reply->type == REDIS_REPLY_ERROR) {
      // Said without the password.
      return absl::UnavailableError(
          absl::StrCat("redis: ", args[0], " refused: ", std::string(reply->str, reply->len)));
    }
    return absl::OkStatus();
  };
  if (!options_.password.empty()) {
    absl::Status auth = options_.user.empty() ? run({"AUTH", options_.password})
                                              : run({"AUTH", options_.user, options_.password});
    if (!auth.ok()) return auth;
  }
  if (options_.database != 0) {
    if (absl::Status s = run({"SELECT", std::to_string(options_.database)}); !s.ok()) return s;
  }
  return connection;
}

absl::StatusOr<std::unique_ptr<RedisClient::Connection>> RedisClient::Acquire() {
  {
    std::unique_lock<std::mutex> lock(mu_);
    const bool got =
        available_.wait_for(lock, absl::ToChronoMilliseconds(options_.command_timeout),
                            [&] { return !idle_.empty() || open_ < options_.pool_size; });
    if (!got) return absl::UnavailableError("redis: all pooled connections are busy");
    if (!idle_.empty()) {
      std::unique_ptr<Connection> c = std::move(idle_.back());
      idle_.pop_back();
      return c;
    }
    ++open_;
  }
  absl::StatusOr<std::unique_ptr<Connection>> connection = Connect();
  if (!connection.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    --open_;
    available_.notify_one();
  }
  return connection;
}

void RedisClient::Release(std::unique_ptr<Connection> connection, bool healthy) {
  std::lock_guard<std::mutex> lock(mu_);
  if (healthy) {
    idle_.push_back(std::move(connection));
  } else {
    --open_;
  }
  available_.notify_one();
}

absl::StatusOr<RedisReply> RedisClient::Command(const std::vector<std::string>& args) {
  std::string wire;
  AppendCommand(wire, args);
  absl::StatusOr<std::unique_ptr<Connection>> acquired = Acquire();
  if (!acquired.ok()) return acquired.status();
  Lease lease(*this, *std::move(acquired));
  absl::StatusOr<std::vector<ReplyPtr>> replies = RoundTrip(lease.context(), wire, 1);
  if (!replies.ok()) return replies.status();
  const ReplyPtr& reply = replies->front();
  if (reply->type == REDIS_REPLY_ERROR) {
    return absl::InternalError(absl::StrCat("redis: ", std::string(reply->str, reply->len)));
  }
  return CopyReply(reply.get());
}

absl::StatusOr<std::vector<RedisReply>> RedisClient::Pipeline(
    const std::vector<std::vector<std::string>>& commands) {
  std::string wire;
  for (const std::vector<std::string>& args : commands) AppendCommand(wire, args);
  absl::StatusOr<std::unique_ptr<Connection>> acquired = Acquire();
  if (!acquired.ok()) return acquired.status();
  Lease lease(*this, *std::move(acquired));
  absl::StatusOr<std::vector<ReplyPtr>> raw = RoundTrip(lease.context(), wire, commands.size());
  if (!raw.ok()) return raw.status();
  std::vector<RedisReply> replies;
  replies.reserve(raw->size());
  for (const ReplyPtr& reply : *raw) replies.push_back(CopyReply(reply.get()));
  return replies;
}

absl::StatusOr<RedisReply> RedisClient::Eval(const RedisScript& script, std::vector<std::string> keys,
                                             std::vector<std::string> args) {
  std::vector<std::string> command;
  command.reserve(3 + keys.size() + args.size());
  command.insert(command.end(), {"EVALSHA", script.sha1(), std::to_string(keys.size())});
  command.insert(command.end(), std::make_move_iterator(keys.begin()), std::make_move_iterator(keys.end()));
  command.insert(command.end(), std::make_move_iterator(args.begin()), std::make_move_iterator(args.end()));
  absl::StatusOr<RedisReply> reply = Command(command);
  if (!reply.ok() && absl::StrContains(reply.status().message(), "NOSCRIPT")) {
    command[0] = "EVAL";
    command[1] = script.source();
    reply = Command(command);
  }
  return reply;
}

absl::Status RedisClient::Ping() {
  absl::StatusOr<RedisReply> reply = Command({"PING"});
  return reply.ok() ? absl::OkStatus() : reply.status();
}

}  // namespace rooted
