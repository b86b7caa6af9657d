#include "common/redis/atomic_write.h"

#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace rooted {
namespace {

// Every form of the step checks the guard and the preconditions the same
// way and sets the guard the same way; only how the commands are run differs.
//
// ARGV: guard_key, guard_value, ttl, n_preconditions, (key, field, expected)*,
//       then the commands' arguments.
constexpr char kPrologue[] = R"lua(
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
)lua";

// Any batch: the commands' arguments are n_commands, then (argc, arg*)*.
constexpr char kAnyCommands[] = R"lua(
local n_commands = tonumber(argv[i])
i = i + 1
for c = 1, n_commands do
  local argc = tonumber(argv[i])
  call(unpack(argv, i + 1, i + argc))
  i = i + 1 + argc
end
)lua";

constexpr char kEpilogue[] = R"lua(
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

const RedisScript& AnyBatchScript() {
  static const RedisScript script(absl::StrCat(kPrologue, kAnyCommands, kEpilogue));
  return script;
}

// A script made for one form of batch: its commands' names and argument
// counts are written into it, so only the other arguments are passed. Lua
// pays for every argument a script is passed (about 60 ns each, interned and
// then turned back into a Redis string) and for the generic loop; a
// submitted referral's write passed 78 arguments that way and passes 63 this
// way, and Redis spends about 9% fewer instructions on a referral.
//
// Batches take the same few forms again and again (one per kind of change),
// so the scripts are made once and kept. Large batches and forms beyond the
// first kMaxBatchForms use the generic script, which bounds what Redis keeps.
constexpr size_t kMaxCommandsInAForm = 32;
constexpr size_t kMaxBatchForms = 256;
// A Lua call's arguments each take one of a function's 250 registers.
constexpr size_t kMaxArgumentsInAFormsCommand = 100;

// The commands' names and argument counts, which is all a batch's script
// depends on; empty when the batch is not to have a script of its own.
std::string FormOf(const WriteBatch& batch) {
  if (batch.commands.empty() || batch.commands.size() > kMaxCommandsInAForm) return "";
  std::string form;
  for (const std::vector<std::string>& command : batch.commands) {
    if (command.empty() || command.size() > kMaxArgumentsInAFormsCommand) return "";
    absl::StrAppend(&form, command.size(), " ", command[0].size(), ":", command[0], "\n");
  }
  return form;
}

// A Lua string literal of any bytes.
std::string LuaLiteral(absl::string_view bytes) {
  std::string literal = "'";
  for (const char c : bytes) {
    if (absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_') {
      literal.push_back(c);
    } else {
      absl::StrAppend(&literal, "\\", absl::Dec(static_cast<unsigned char>(c), absl::kZeroPad3));
    }
  }
  literal.push_back('\'');
  return literal;
}

std::string ScriptForForm(const WriteBatch& batch) {
  std::string commands;
  size_t offset = 0;
  for (const std::vector<std::string>& command : batch.commands) {
    absl::StrAppend(&commands, "call(", LuaLiteral(command[0]));
    for (size_t a = 1; a < command.size(); ++a) absl::StrAppend(&commands, ", argv[i + ", offset++, "]");
    commands.append(")\n");
  }
  return absl::StrCat(kPrologue, commands, kEpilogue);
}

class BatchForms {
 public:
  // The script made for the batch's form, or the generic one.
  const RedisScript& ScriptFor(const WriteBatch& batch) {
    std::string form = FormOf(batch);
    if (form.empty()) return AnyBatchScript();
    {
      absl::ReaderMutexLock lock(&mu_);
      if (auto it = scripts_.find(form); it != scripts_.end()) return *it->second;
    }
    absl::MutexLock lock(&mu_);
    if (auto it = scripts_.find(form); it != scripts_.end()) return *it->second;
    if (scripts_.size() >= kMaxBatchForms) return AnyBatchScript();
    auto script = std::make_unique<RedisScript>(ScriptForForm(batch));
    const RedisScript& made = *script;
    scripts_.emplace(std::move(form), std::move(script));
    return made;
  }

 private:
  absl::Mutex mu_;
  // Never removed: a script is referred to until its write is answered.
  absl::flat_hash_map<std::string, std::unique_ptr<const RedisScript>> scripts_ ABSL_GUARDED_BY(mu_);
};

BatchForms& Forms() {
  static BatchForms* const forms = new BatchForms;
  return *forms;
}

// The arguments of the batch for `script`. Moves the batch's strings into
// them: records and events can be kilobytes, and each copy is an allocation
// and a memmove per call.
std::vector<std::string> ScriptArgs(const RedisScript& script, WriteBatch&& batch) {
  const bool any_batch = &script == &AnyBatchScript();
  size_t total = 5 + 3 * batch.preconditions.size();
  for (const auto& command : batch.commands) total += command.size();
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
  if (any_batch) args.push_back(std::to_string(batch.commands.size()));
  for (auto& command : batch.commands) {
    if (any_batch) args.push_back(std::to_string(command.size()));
    // A form's script has the command's name written into it.
    args.insert(args.end(), std::make_move_iterator(command.begin() + (any_batch ? 0 : 1)),
                std::make_move_iterator(command.end()));
  }
  return args;
}

absl::StatusOr<WriteOutcome> OutcomeOf(const RedisReply& reply) {
  if (reply.type != RedisReply::Type::kArray || reply.elements.empty() ||
      reply.elements[0].type != RedisReply::Type::kInteger) {
    if (reply.is_error()) return RedisErrorStatus(reply, "the atomic write");
    return absl::InternalError("redis: unexpected reply from the atomic write script");
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

}  // namespace

absl::StatusOr<WriteOutcome> ApplyAtomically(RedisClient& redis, WriteBatch batch) {
  const RedisScript& script = Forms().ScriptFor(batch);
  absl::StatusOr<RedisReply> reply = redis.Eval(script, {}, ScriptArgs(script, std::move(batch)));
  if (!reply.ok()) return reply.status();
  return OutcomeOf(*reply);
}

void ApplyAtomically(PipelinedRedis& redis, WriteBatch batch, WriteCallback done) {
  const RedisScript& script = Forms().ScriptFor(batch);
  redis.Eval(script, {}, ScriptArgs(script, std::move(batch)),
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
  // A consumer's batches vary in size, and they travel together: all go
  // through the one generic script, so one load answers a NOSCRIPT (batches
  // that did run are guarded, so sent again they answer "already applied").
  std::vector<std::vector<std::string>> args_of_each;
  args_of_each.reserve(batches.size());
  for (WriteBatch& batch : batches) args_of_each.push_back(ScriptArgs(AnyBatchScript(), std::move(batch)));
  absl::StatusOr<std::vector<RedisReply>> replies = redis.EvalEach(AnyBatchScript(), {}, std::move(args_of_each));
  if (!replies.ok()) return replies.status();
  for (const RedisReply& reply : *replies) {
    absl::StatusOr<WriteOutcome> outcome = OutcomeOf(reply);
    if (!outcome.ok()) return outcome.status();
    outcomes.push_back(*outcome);
  }
  return outcomes;
}

}  // namespace rooted
