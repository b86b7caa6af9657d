#include "common/redis/atomic_write.h"

#include "absl/strings/numbers.h"

namespace rooted {
namespace {

// ARGV: guard_key, guard_value, ttl, n_preconditions, (key, field, expected)*,
//       n_commands, (argc, arg*)*
constexpr char kScript[] = R"lua(
-- Globals read once into locals: each global read in a Redis script costs a
-- guarded-table look-up.
local argv, call, tonumber, unpack = ARGV, redis.call, tonumber, unpack
local guard_key = argv[1]
if guard_key ~= '' then
  local existing = call('GET', guard_key)
  if existing then return {1, existing} end
end
local i = 5
for p = 1, tonumber(argv[4]) do
  local actual = call('HGET', argv[i], argv[i + 1])
  if actual == false then actual = '' end
  if actual ~= argv[i + 2] then return {2, tostring(p - 1)} end
  i = i + 3
end
local n_commands = tonumber(argv[i])
i = i + 1
for c = 1, n_commands do
  local argc = tonumber(argv[i])
  call(unpack(argv, i + 1, i + argc))
  i = i + 1 + argc
end
if guard_key ~= '' then
  local ttl = tonumber(argv[3])
  if ttl > 0 then
    call('SET', guard_key, argv[2], 'EX', ttl)
  else
    call('SET', guard_key, argv[2])
  end
end
return {0}
)lua";

// Moves the batch's strings into the arguments: records and events can be
// kilobytes, and each copy is an allocation and a memmove per call.
std::vector<std::string> ScriptArgs(WriteBatch&& batch) {
  size_t total = 5 + 3 * batch.preconditions.size();
  for (const auto& command : batch.commands) total += 1 + command.size();
  std::vector<std::string> args;
  args.reserve(total);
  args.insert(args.end(), {std::move(batch.guard_key), std::move(batch.guard_value),
                           std::to_string(batch.guard_ttl_seconds),
                           std::to_string(batch.preconditions.size())});
  for (Precondition& p : batch.preconditions) {
    args.push_back(std::move(p.key));
    args.push_back(std::move(p.field));
    args.push_back(std::move(p.expected));
  }
  args.push_back(std::to_string(batch.commands.size()));
  for (auto& command : batch.commands) {
    args.push_back(std::to_string(command.size()));
    args.insert(args.end(), std::make_move_iterator(command.begin()), std::make_move_iterator(command.end()));
  }
  return args;
}

absl::StatusOr<WriteOutcome> OutcomeOf(const RedisReply& reply) {
  if (reply.type != RedisReply::Type::kArray || reply.elements.empty() ||
      reply.elements[0].type != RedisReply::Type::kInteger) {
    return absl::InternalError(reply.is_error() ? "redis: " + reply.str
                                                : "redis: unexpected reply from the atomic write script");
  }
  WriteOutcome outcome;
  switch (reply.elements[0].integer) {
    case 0:
      outcome.kind = WriteOutcome::Kind::kApplied;
      break;
    case 1:
      outcome.kind = WriteOutcome::Kind::kAlreadyApplied;
      outcome.guard_value = reply.elements.at(1).str;
      break;
    default: {
      outcome.kind = WriteOutcome::Kind::kPreconditionFailed;
      uint64_t index = 0;
      if (reply.elements.size() > 1) (void)absl::SimpleAtoi(reply.elements[1].str, &index);
      outcome.failed_precondition = index;
    }
  }
  return outcome;
}

const RedisScript& Script() {
  static const RedisScript script(kScript);
  return script;
}

}  // namespace

absl::StatusOr<WriteOutcome> ApplyAtomically(RedisClient& redis, WriteBatch batch) {
  absl::StatusOr<RedisReply> reply = redis.Eval(Script(), {}, ScriptArgs(std::move(batch)));
  if (!reply.ok()) return reply.status();
  return OutcomeOf(*reply);
}

void ApplyAtomically(PipelinedRedis& redis, WriteBatch batch, WriteCallback done) {
  redis.Eval(Script(), {}, ScriptArgs(std::move(batch)),
             [done = std::move(done)](absl::StatusOr<RedisReply> reply) mutable {
               if (!reply.ok()) {
                 std::move(done)(reply.status());
               } else {
                 std::move(done)(OutcomeOf(*reply));
               }
             });
}

absl::StatusOr<std::vector<WriteOutcome>> ApplyEachAtomically(RedisClient& redis,
                                                              std::vector<WriteBatch> batches) {
  std::vector<WriteOutcome> outcomes;
  if (batches.empty()) return outcomes;
  std::vector<std::vector<std::string>> calls;
  calls.reserve(batches.size());
  for (WriteBatch& batch : batches) {
    std::vector<std::string> call = {"EVALSHA", Script().sha1(), "0"};
    std::vector<std::string> args = ScriptArgs(std::move(batch));
    call.insert(call.end(), std::make_move_iterator(args.begin()), std::make_move_iterator(args.end()));
    calls.push_back(std::move(call));
  }
  absl::StatusOr<std::vector<RedisReply>> replies = redis.Pipeline(calls);
  if (!replies.ok()) return replies.status();
  // After a Redis restart the script is gone: load it and send the lot again
  // (batches that did run are guarded, so they answer "already applied").
  if (!replies->empty() && replies->front().is_error() &&
      replies->front().str.rfind("NOSCRIPT", 0) == 0) {
    absl::StatusOr<RedisReply> loaded = redis.Command({"SCRIPT", "LOAD", Script().source()});
    if (!loaded.ok()) return loaded.status();
    replies = redis.Pipeline(calls);
    if (!replies.ok()) return replies.status();
  }
  for (const RedisReply& reply : *replies) {
    absl::StatusOr<WriteOutcome> outcome = OutcomeOf(reply);
    if (!outcome.ok()) return outcome.status();
    outcomes.push_back(*outcome);
  }
  return outcomes;
}

}  // namespace rooted
