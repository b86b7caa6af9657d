#include "common/redis/redis_client.h"

#include <hiredis/hiredis.h>
#include <openssl/sha.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/redis/redis_wire.h"

namespace rooted {

using redis_wire::AppendCommand;
using redis_wire::RoundTrip;

namespace {

constexpr absl::string_view kPassingConditions[] = {
    "LOADING", "BUSY", "MASTERDOWN", "READONLY", "NOREPLICAS", "TRYAGAIN", "CLUSTERDOWN", "OOM"};

// The error code of a reply: its first word, or for a script's failed call
// on Redis before 7 ("ERR Error running script ...: -OOM ..."), the code of
// the call inside it.
bool IsPassingCondition(absl::string_view message) {
  const absl::string_view code = message.substr(0, message.find(' '));
  for (const absl::string_view passing : kPassingConditions) {
    if (code == passing) return true;
    if (code == "ERR" && absl::StrContains(message, absl::StrCat(": -", passing, " "))) return true;
  }
  return false;
}

}  // namespace

absl::Status RedisErrorStatus(const RedisReply& reply, absl::string_view what) {
  const std::string message = what.empty() ? absl::StrCat("redis: ", reply.str)
                                           : absl::StrCat("redis: ", what, ": ", reply.str);
  return IsPassingCondition(reply.str) ? absl::UnavailableError(message)
                                       : absl::InternalError(message);
}

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
  explicit Connection(redis_wire::ContextPtr c) : context(std::move(c)) {}
  redis_wire::ContextPtr context;
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
  redisContext* context() { return connection_->context.get(); }

 private:
  RedisClient& client_;
  std::unique_ptr<Connection> connection_;
};

RedisClient::RedisClient(RedisOptions options) : options_(std::move(options)) {}

RedisClient::~RedisClient() = default;

absl::StatusOr<std::unique_ptr<RedisClient::Connection>> RedisClient::Connect() const {
  absl::StatusOr<redis_wire::ContextPtr> context = redis_wire::Connect(options_);
  if (!context.ok()) return context.status();
  return std::make_unique<Connection>(*std::move(context));
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
  absl::StatusOr<std::vector<RedisReply>> replies = RoundTrip(lease.context(), wire, 1);
  if (!replies.ok()) return replies.status();
  RedisReply& reply = replies->front();
  if (reply.is_error()) return RedisErrorStatus(reply);
  return std::move(reply);
}

absl::StatusOr<std::vector<RedisReply>> RedisClient::Pipeline(
    const std::vector<std::vector<std::string>>& commands) {
  std::string wire;
  for (const std::vector<std::string>& args : commands) AppendCommand(wire, args);
  absl::StatusOr<std::unique_ptr<Connection>> acquired = Acquire();
  if (!acquired.ok()) return acquired.status();
  Lease lease(*this, *std::move(acquired));
  absl::StatusOr<std::vector<RedisReply>> replies =
      RoundTrip(lease.context(), wire, commands.size());
  if (!replies.ok()) return replies;
  // A passing condition answers every command alike: nothing in the lot was
  // done, and the caller can only wait it out.
  for (const RedisReply& reply : *replies) {
    if (reply.is_error() && IsPassingCondition(reply.str)) return RedisErrorStatus(reply);
  }
  return replies;
}

absl::StatusOr<RedisReply> RedisClient::Eval(const RedisScript& script, std::vector<std::string> keys,
                                             std::vector<std::string> args) {
  std::vector<std::vector<std::string>> one;
  one.push_back(std::move(args));
  absl::StatusOr<std::vector<RedisReply>> replies = EvalEach(script, keys, std::move(one));
  if (!replies.ok()) return replies.status();
  RedisReply& reply = replies->front();
  if (reply.is_error()) return RedisErrorStatus(reply);
  return std::move(reply);
}

absl::StatusOr<std::vector<RedisReply>> RedisClient::EvalEach(const RedisScript& script,
                                                              const std::vector<std::string>& keys,
                                                              std::vector<std::vector<std::string>> args_of_each) {
  std::vector<std::vector<std::string>> calls;
  calls.reserve(args_of_each.size());
  for (std::vector<std::string>& args : args_of_each) {
    std::vector<std::string> call;
    call.reserve(3 + keys.size() + args.size());
    call.insert(call.end(), {"EVALSHA", script.sha1(), std::to_string(keys.size())});
    call.insert(call.end(), keys.begin(), keys.end());
    call.insert(call.end(), std::make_move_iterator(args.begin()), std::make_move_iterator(args.end()));
    calls.push_back(std::move(call));
  }
  absl::StatusOr<std::vector<RedisReply>> replies = Pipeline(calls);
  if (replies.ok() && !replies->empty() && replies->front().is_error() &&
      absl::StartsWith(replies->front().str, "NOSCRIPT")) {
    absl::StatusOr<RedisReply> loaded = Command({"SCRIPT", "LOAD", script.source()});
    if (!loaded.ok()) return loaded.status();
    replies = Pipeline(calls);
  }
  return replies;
}

absl::Status RedisClient::Ping() {
  absl::StatusOr<RedisReply> reply = Command({"PING"});
  return reply.ok() ? absl::OkStatus() : reply.status();
}

}  // namespace rooted
