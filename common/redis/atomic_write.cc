#include "common/redis/atomic_write.h"

#include "absl/strings/numbers.h"

namespace rooted {
namespace {

// ARGV: guard_key, guard_value, ttl, n_preconditions, (key, field, expected)*,
//       n_commands, (argc, arg*)*
constexpr char kScript[] = R"lua(
local guard_key = ARGV[1]
if guard_key ~= '' then
  local existing = redis.call('GET', guard_key)
  if existing then return {1, existing} end
end
local i = 5
for p = 1, tonumber(ARGV[4]) do
  local actual = redis.call('HGET', ARGV[i], ARGV[i + 1])
  if actual == false then actual = '' end
  if actual ~= ARGV[i + 2] then return {2, tostring(p - 1)} end
  i = i + 3
end
local n_commands = tonumber(ARGV[i])
i = i + 1
for c = 1, n_commands do
  local argc = tonumber(ARGV[i])
  redis.call(unpack(ARGV, i + 1, i + argc))
  i = i + 1 + argc
end
if guard_key ~= '' then
  local ttl = tonumber(ARGV[3])
  if ttl > 0 then
    redis.call('SET', guard_key, ARGV[2], 'EX', ttl)
  else
    redis.call('SET', guard_key, ARGV[2])
  end
end
return {0}
)lua";

}  // namespace

absl::StatusOr<WriteOutcome> ApplyAtomically(RedisClient& redis, const WriteBatch& batch) {
  static const RedisScript script(kScript);
  std::vector<std::string> args = {batch.guard_key, batch.guard_value,
                                   std::to_string(batch.guard_ttl_seconds),
                                   std::to_string(batch.preconditions.size())};
  for (const Precondition& p : batch.preconditions) {
    args.push_back(p.key);
    args.push_back(p.field);
    args.push_back(p.expected);
  }
  args.push_back(std::to_string(batch.commands.size()));
  for (const auto& command : batch.commands) {
    args.push_back(std::to_string(command.size()));
    args.insert(args.end(), command.begin(), command.end());
  }
  absl::StatusOr<RedisReply> reply = redis.Eval(script, {}, args);
  if (!reply.ok()) return reply.status();
  if (reply->type != RedisReply::Type::kArray || reply->elements.empty() ||
      reply->elements[0].type != RedisReply::Type::kInteger) {
    return absl::InternalError("redis: unexpected reply from the atomic write script");
  }
  WriteOutcome outcome;
  switch (reply->elements[0].integer) {
    case 0:
      outcome.kind = WriteOutcome::Kind::kApplied;
      break;
    case 1:
      outcome.kind = WriteOutcome::Kind::kAlreadyApplied;
      outcome.guard_value = reply->elements.at(1).str;
      break;
    default: {
      outcome.kind = WriteOutcome::Kind::kPreconditionFailed;
      uint64_t index = 0;
      if (reply->elements.size() > 1) (void)absl::SimpleAtoi(reply->elements[1].str, &index);
      outcome.failed_precondition = index;
    }
  }
  return outcome;
}

}  // namespace rooted
