#ifndef ROOTED_COMMON_REDIS_ATOMIC_WRITE_H_
#define ROOTED_COMMON_REDIS_ATOMIC_WRITE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/functional/any_invocable.h"
#include "common/redis/pipelined_redis.h"
#include "common/redis/redis_client.h"

namespace rooted {

// A hash field that must hold `expected` (empty: must be absent) for the
// write to go ahead: optimistic concurrency on a record's version.
struct Precondition {
  std::string key;
  std::string field;
  std::string expected;
};

// Everything one command or one consumed event changes, applied in a single
// Lua script, so Redis holds all of it or none of it.
//
// The guard makes the write happen at most once: if guard_key already exists
// nothing is written and its value comes back. Commands use the request-id key
// (idempotent RPCs) or the processed-event key (effectively-once consumers).
//
// Why a script and not MULTI/EXEC: the guard and preconditions must be checked
// and the writes made without another client in between, and MULTI cannot
// branch. Redis does not roll a script back if a command inside it fails, so
// only commands that cannot fail on well-typed keys belong in a batch (HSET,
// ZADD, XADD, SET, DEL...): keys are ours and always of one type.
struct WriteBatch {
  std::string guard_key;
  std::string guard_value;
  int64_t guard_ttl_seconds = 0;  // 0: the guard never expires
  std::vector<Precondition> preconditions;
  std::vector<std::vector<std::string>> commands;
};

struct WriteOutcome {
  enum class Kind { kApplied, kAlreadyApplied, kPreconditionFailed };
  Kind kind = Kind::kApplied;
  // kAlreadyApplied: the guard's stored value.
  std::string guard_value;
  // kPreconditionFailed: index into WriteBatch::preconditions.
  size_t failed_precondition = 0;
};

// Batches are taken by value: pass them with std::move and their records and
// events are not copied on their way to Redis.
absl::StatusOr<WriteOutcome> ApplyAtomically(RedisClient& redis, WriteBatch batch);

using WriteCallback = absl::AnyInvocable<void(absl::StatusOr<WriteOutcome>) &&>;

// The same step without waiting for it: `done` runs on the pipe's I/O thread
// with the outcome.
void ApplyAtomically(PipelinedRedis& redis, WriteBatch batch, WriteCallback done);

// Many batches in one round trip (pipelined): each is applied atomically on
// its own, in order; together they are not one step. For consumers whose
// events are each guarded by their own id, so a partial run is safe to repeat.
absl::StatusOr<std::vector<WriteOutcome>> ApplyEachAtomically(RedisClient& redis,
                                                              std::vector<WriteBatch> batches);

}  // namespace rooted

#endif  // ROOTED_COMMON_REDIS_ATOMIC_WRITE_H_
