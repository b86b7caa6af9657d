#include "common/redis/record_store.h"

#include "absl/strings/numbers.h"
#include "common/base/field_validation.h"
#include "common/redis/idempotency.h"

namespace rooted {

RecordStore::RecordStore(RedisClient& redis, std::string prefix)
    : redis_(redis), prefix_(std::move(prefix)) {}

absl::StatusOr<std::vector<std::optional<RecordStore::Raw>>> RecordStore::LoadRaw(
    const std::vector<std::string>& keys) {
  std::vector<std::optional<Raw>> out;
  if (keys.empty()) return out;
  std::vector<std::vector<std::string>> commands;
  commands.reserve(keys.size());
  for (const std::string& key : keys) commands.push_back({"HMGET", key, "record", "version"});
  absl::StatusOr<std::vector<RedisReply>> replies = redis_.Pipeline(commands);
  if (!replies.ok()) return replies.status();
  out.reserve(keys.size());
  for (const RedisReply& reply : *replies) {
    if (reply.is_error()) return RedisErrorStatus(reply, "HMGET");
    if (reply.elements.size() != 2 || reply.elements[0].is_nil()) {
      out.emplace_back();
      continue;
    }
    Raw raw;
    raw.bytes = reply.elements[0].str;
    if (!absl::SimpleAtoi(reply.elements[1].str, &raw.version)) {
      return absl::DataLossError("stored record has no version");
    }
    out.emplace_back(std::move(raw));
  }
  return out;
}

absl::StatusOr<std::optional<std::string>> RecordStore::HashField(const std::string& key,
                                                                 const std::string& field) {
  absl::StatusOr<RedisReply> reply = redis_.Command({"HGET", key, field});
  if (!reply.ok()) return reply.status();
  if (reply->is_nil()) return std::nullopt;
  return reply->str;
}

absl::StatusOr<std::vector<std::optional<std::string>>> RecordStore::HashFields(
    const std::string& key, const std::vector<std::string>& fields) {
  std::vector<std::optional<std::string>> out;
  if (fields.empty()) return out;
  std::vector<std::string> command = {"HMGET", key};
  command.insert(command.end(), fields.begin(), fields.end());
  absl::StatusOr<RedisReply> reply = redis_.Command(command);
  if (!reply.ok()) return reply.status();
  if (reply->elements.size() != fields.size()) return absl::InternalError("HMGET: short reply");
  out.reserve(fields.size());
  for (RedisReply& e : reply->elements) {
    if (e.is_nil()) {
      out.emplace_back();
    } else {
      out.emplace_back(std::move(e.str));
    }
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> RecordStore::SetMembers(const std::string& key) {
  absl::StatusOr<RedisReply> reply = redis_.Command({"SMEMBERS", key});
  if (!reply.ok()) return reply.status();
  std::vector<std::string> out;
  for (RedisReply& e : reply->elements) out.push_back(std::move(e.str));
  return out;
}

absl::StatusOr<std::vector<std::string>> RecordStore::RangeByScore(const std::string& key,
                                                                  const std::string& min,
                                                                  const std::string& max,
                                                                  int limit) {
  std::vector<std::string> command = {"ZRANGEBYSCORE", key, min, max};
  if (limit >= 0) {
    command.insert(command.end(), {"LIMIT", "0", std::to_string(limit)});
  }
  absl::StatusOr<RedisReply> reply = redis_.Command(command);
  if (!reply.ok()) return reply.status();
  std::vector<std::string> out;
  for (RedisReply& e : reply->elements) out.push_back(std::move(e.str));
  return out;
}

absl::StatusOr<std::optional<std::string>> RecordStore::FirstAnswer(const std::string& key) {
  absl::StatusOr<RedisReply> reply = redis_.Command({"GET", key});
  if (!reply.ok()) return reply.status();
  if (reply->is_nil()) return std::nullopt;
  return reply->str;
}

void RecordStore::Put(WriteBatch& batch, const std::string& key,
                     const google::protobuf::Message& record, int64_t expected_version) const {
  batch.preconditions.push_back(
      {key, "version", expected_version == 0 ? "" : std::to_string(expected_version)});
  batch.commands.push_back({"HSET", key, "record", record.SerializeAsString(), "version",
                            std::to_string(expected_version + 1)});
}

void RecordStore::Publish(WriteBatch& batch, const OutboxEvent& event) const {
  batch.commands.push_back(OutboxAppendCommand(OutboxKey(), event));
}

void RecordStore::Audit(WriteBatch& batch, const AuditEntry& entry) const {
  batch.commands.push_back(AuditAppendCommand(AuditKey(), entry));
}

absl::StatusOr<WriteOutcome> RecordStore::Commit(WriteBatch batch) {
  return ApplyAtomically(redis_, std::move(batch));
}

absl::StatusOr<bool> RecordStore::Replayed(absl::string_view subject, absl::string_view method,
                                           const std::string& request_id,
                                           const google::protobuf::Message& request,
                                           google::protobuf::Message* response) {
  if (absl::Status s = ValidateRequestId(request_id, RequestIdFieldOf(request)); !s.ok()) return s;
  absl::StatusOr<std::optional<std::string>> first =
      FirstAnswer(IdempotencyKey(prefix_, subject, method, request_id));
  if (!first.ok()) return first.status();
  if (!*first) return false;
  if (absl::Status s = DecodeFirstAnswer(**first, request, response); !s.ok()) return s;
  return true;
}

absl::StatusOr<ApplyResult> RecordStore::CommitConsumed(WriteBatch batch,
                                                        const std::string& event_id) {
  batch.guard_key = ProcessedEventKey(prefix_, event_id);
  batch.guard_value.assign(1, '1');
  batch.guard_ttl_seconds = kProcessedEventTtlSeconds;
  absl::StatusOr<WriteOutcome> outcome = Commit(std::move(batch));
  if (!outcome.ok()) return outcome.status();
  switch (outcome->kind) {
    case WriteOutcome::Kind::kApplied:
      return ApplyResult::kApplied;
    case WriteOutcome::Kind::kAlreadyApplied:
      return ApplyResult::kDuplicate;
    case WriteOutcome::Kind::kPreconditionFailed:
      break;
  }
  return absl::AbortedError("a record changed while the event was applied");
}

absl::Status RecordStore::CommitCommand(absl::string_view subject, absl::string_view method,
                                        const std::string& request_id,
                                        const google::protobuf::Message& request,
                                        google::protobuf::Message* response, WriteBatch batch) {
  batch.guard_key = IdempotencyKey(prefix_, subject, method, request_id);
  batch.guard_value = EncodeFirstAnswer(request, *response);
  batch.guard_ttl_seconds = kIdempotencyTtlSeconds;
  absl::StatusOr<WriteOutcome> outcome = Commit(std::move(batch));
  if (!outcome.ok()) return outcome.status();
  switch (outcome->kind) {
    case WriteOutcome::Kind::kApplied:
      return absl::OkStatus();
    case WriteOutcome::Kind::kAlreadyApplied:
      response->Clear();
      return DecodeFirstAnswer(outcome->guard_value, request, response);
    case WriteOutcome::Kind::kPreconditionFailed:
      break;
  }
  return absl::AbortedError(
      absl::StrCat(method, ": the record changed while this request ran; retry"));
}

}  // namespace rooted
