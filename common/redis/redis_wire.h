#ifndef ROOTED_COMMON_REDIS_REDIS_WIRE_H_
#define ROOTED_COMMON_REDIS_REDIS_WIRE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/redis/redis_client.h"

struct redisContext;
struct redisReply;

// What the blocking pool (RedisClient) and the pipelined connection
// (PipelinedRedis) share: Redis's wire protocol and how a connection is
// opened. Internal to common/redis.
namespace rooted::redis_wire {

// Appends the command in RESP, in one buffer sized up front. hiredis's own
// formatter builds it an argument at a time through printf-style appends,
// which took about 6% of referral-intake's CPU under load.
void AppendCommand(std::string& out, const std::vector<std::string>& args);
// The pieces of a command written in parts: its array header, then each argument.
void AppendArrayHeader(std::string& out, size_t count);
void AppendBulk(std::string& out, const std::string& arg);

// A reply copied out of hiredis, so it outlives the connection.
RedisReply CopyReply(const redisReply* reply);

// The status a server error reply becomes: INTERNAL with Redis's message.
absl::Status ErrorReplyStatus(const std::string& message);

struct ReplyDeleter {
  void operator()(redisReply* reply) const;
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

struct ContextDeleter {
  void operator()(redisContext* context) const;
};
using ContextPtr = std::unique_ptr<redisContext, ContextDeleter>;

// A blocking connection with the command timeout set, authenticated and on
// the configured database. UNAVAILABLE (without the password) when Redis
// cannot be reached or refuses.
absl::StatusOr<ContextPtr> Connect(const RedisOptions& options);

// Sends `count` commands already in wire form in one write on a blocking
// connection, and reads their replies in order.
absl::StatusOr<std::vector<ReplyPtr>> RoundTrip(redisContext* context, const std::string& wire, size_t count);

}  // namespace rooted::redis_wire

#endif  // ROOTED_COMMON_REDIS_REDIS_WIRE_H_
