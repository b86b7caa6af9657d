#ifndef ROOTED_COMMON_REDIS_REDIS_CLIENT_H_
#define ROOTED_COMMON_REDIS_REDIS_CLIENT_H_

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

struct redisContext;

namespace rooted {

// A reply copied out of hiredis, so it outlives the connection.
struct RedisReply {
  enum class Type { kNil, kInteger, kString, kStatus, kArray, kError };
  Type type = Type::kNil;
  int64_t integer = 0;
  std::string str;  // kString, kStatus, kError
  std::vector<RedisReply> elements;

  bool is_nil() const { return type == Type::kNil; }
  bool is_error() const { return type == Type::kError; }
};

// The status an error reply stands for. Redis's passing conditions are
// UNAVAILABLE, so callers retry them and event consumers wait them out rather
// than dead-letter the event: loading its dataset after a restart (LOADING),
// a script running long (BUSY), a replica cut off from its primary or read
// only (MASTERDOWN, READONLY, NOREPLICAS), a cluster moving slots (TRYAGAIN,
// CLUSTERDOWN) and a full memory under noeviction (OOM), which frees as
// entries expire or an operator acts. Every other error reply is a refusal of
// the command itself: INTERNAL, with `what` (the command) and Redis's message.
absl::Status RedisErrorStatus(const RedisReply& reply, absl::string_view what = {});

struct RedisOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  // ACL user and password; empty user means the password is for "default".
  std::string user;
  std::string password;
  int database = 0;
  absl::Duration connect_timeout = absl::Seconds(2);
  absl::Duration command_timeout = absl::Seconds(2);
  // Handlers block on Redis, one connection each: with fewer connections than
  // calls in progress, calls queue for a connection as well as for Redis,
  // which costs a second sleep and wake-up per call.
  int pool_size = 64;
};

// A Lua script sent by SHA1 (EVALSHA), falling back to EVAL once when the
// server does not have it cached (after a restart or SCRIPT FLUSH).
class RedisScript {
 public:
  explicit RedisScript(std::string source);
  const std::string& source() const { return source_; }
  const std::string& sha1() const { return sha1_; }

 private:
  std::string source_;
  std::string sha1_;
};

// A pool of blocking hiredis connections with connect and command timeouts.
// A connection that fails is dropped and a new one made on next use, so a
// restarted Redis is picked up without restarting the service.
//
// Error handling: connection failures and timeouts are UNAVAILABLE (safe to
// retry); error replies from the server are as RedisErrorStatus says.
// Thread safety: all methods may be called concurrently; each call holds one
// pooled connection for its duration.
class RedisClient {
 public:
  explicit RedisClient(RedisOptions options);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Binary-safe: arguments are passed with their lengths.
  absl::StatusOr<RedisReply> Command(const std::vector<std::string>& args);
  // Sends all commands, then reads all replies: one round trip. Server error
  // replies come back as kError elements rather than failing the whole call,
  // but for Redis's passing conditions (RedisErrorStatus), which fail it
  // with UNAVAILABLE.
  absl::StatusOr<std::vector<RedisReply>> Pipeline(
      const std::vector<std::vector<std::string>>& commands);
  // Keys and arguments are taken by value: pass them with std::move and a
  // script's (often large) arguments are not copied on their way out. An
  // error reply is a status; a lost script is loaded as EvalEach does.
  absl::StatusOr<RedisReply> Eval(const RedisScript& script, std::vector<std::string> keys,
                                  std::vector<std::string> args);
  // The script once for each argument list, in one round trip; the replies
  // in order. After Redis has lost its scripts (a restart), the script is
  // loaded and the lot sent again, so each call must be safe to repeat.
  absl::StatusOr<std::vector<RedisReply>> EvalEach(const RedisScript& script, const std::vector<std::string>& keys,
                                                   std::vector<std::vector<std::string>> args_of_each);
  absl::Status Ping();

  const RedisOptions& options() const { return options_; }

 private:
  struct Connection;
  class Lease;

  absl::StatusOr<std::unique_ptr<Connection>> Connect() const;
  absl::StatusOr<std::unique_ptr<Connection>> Acquire();
  void Release(std::unique_ptr<Connection> connection, bool healthy);

  const RedisOptions options_;
  std::mutex mu_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<Connection>> idle_;
  int open_ = 0;
};

}  // namespace rooted

#endif  // ROOTED_COMMON_REDIS_REDIS_CLIENT_H_
