#ifndef ROOTED_COMMON_REDIS_REDIS_WIRE_H_
#define ROOTED_COMMON_REDIS_REDIS_WIRE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/redis/redis_client.h"

struct redisContext;
struct redisReader;

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

// A reader that parses replies straight into RedisReply, which
// redisReaderGetReply hands over as a heap RedisReply* (take it with
// TakeReply). hiredis's own reply objects were built and then copied: about a
// third of the outbox relay's CPU went to building, copying and freeing them.
redisReader* NewReplyReader();
RedisReply TakeReply(void* parsed);

struct ContextDeleter {
  void operator()(redisContext* context) const;
};
using ContextPtr = std::unique_ptr<redisContext, ContextDeleter>;

// A blocking connection with the command timeout set, authenticated and on
// the configured database, parsing replies into RedisReply. UNAVAILABLE (without the password) when Redis
// cannot be reached or refuses.
absl::StatusOr<ContextPtr> Connect(const RedisOptions& options);

// Sends `count` commands already in wire form in one write on a blocking
// connection, and reads their replies in order.
absl::StatusOr<std::vector<RedisReply>> RoundTrip(redisContext* context, const std::string& wire, size_t count);

}  // namespace rooted::redis_wire

#endif  // ROOTED_COMMON_REDIS_REDIS_WIRE_H_
