#ifndef ROOTED_COMMON_REDIS_RECORD_STORE_H_
#define ROOTED_COMMON_REDIS_RECORD_STORE_H_

#include <google/protobuf/message.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/kafka/event_consumer.h"
#include "common/outbox/outbox.h"
#include "common/redis/atomic_write.h"
#include "common/redis/audit_trail.h"
#include "common/redis/redis_client.h"

namespace rooted {

// A stored record and the version it was read at (for optimistic writes).
template <typename T>
struct Versioned {
  T record;
  int64_t version = 0;
};

// A service's records in its own Redis, under one key prefix: each record a
// hash {record: protobuf bytes, version}, indexes beside them. Every change
// goes through one WriteBatch: the records with their expected versions, the
// indexes, the outbox events and the audit entry land together or not at all.
// Thread safety: safe to call concurrently (RedisClient is).
class RecordStore {
  struct Raw {
    std::string bytes;
    int64_t version = 0;
  };

 public:
  RecordStore(RedisClient& redis, std::string prefix);
  virtual ~RecordStore() = default;

  std::string OutboxKey() const { return prefix_ + ":outbox"; }
  std::string AuditKey() const { return prefix_ + ":audit"; }
  const std::string& prefix() const { return prefix_; }
  RedisClient& redis() { return redis_; }

  // NOT_FOUND naming `field` when the record is absent; DATA_LOSS if corrupt.
  template <typename T>
  absl::StatusOr<Versioned<T>> Load(const std::string& key, absl::string_view field) {
    absl::StatusOr<std::vector<std::optional<Raw>>> raw = LoadRaw({key});
    if (!raw.ok()) return raw.status();
    if (!raw->front()) return absl::NotFoundError(absl::StrCat(field, ": not found"));
    return Parse<T>(*raw->front());
  }
  // One slot per key, in order: the record, or nothing where it is absent.
  template <typename T>
  absl::StatusOr<std::vector<std::optional<Versioned<T>>>> LoadEach(const std::vector<std::string>& keys) {
    absl::StatusOr<std::vector<std::optional<Raw>>> raw = LoadRaw(keys);
    if (!raw.ok()) return raw.status();
    std::vector<std::optional<Versioned<T>>> out;
    out.reserve(raw->size());
    for (const auto& r : *raw) {
      if (!r) {
        out.emplace_back();
        continue;
      }
      absl::StatusOr<Versioned<T>> parsed = Parse<T>(*r);
      if (!parsed.ok()) return parsed.status();
      out.emplace_back(*std::move(parsed));
    }
    return out;
  }

  // The records that exist, in the order of `keys` (missing ones skipped).
  template <typename T>
  absl::StatusOr<std::vector<Versioned<T>>> LoadAll(const std::vector<std::string>& keys) {
    absl::StatusOr<std::vector<std::optional<Versioned<T>>>> each = LoadEach<T>(keys);
    if (!each.ok()) return each.status();
    std::vector<Versioned<T>> out;
    out.reserve(each->size());
    for (auto& record : *each) {
      if (record) out.push_back(*std::move(record));
    }
    return out;
  }

  absl::StatusOr<std::optional<std::string>> HashField(const std::string& key,
                                                       const std::string& field);
  // Several fields of one hash in one round trip: a slot per field, in order.
  absl::StatusOr<std::vector<std::optional<std::string>>> HashFields(const std::string& key,
                                                                     const std::vector<std::string>& fields);
  absl::StatusOr<std::vector<std::string>> SetMembers(const std::string& key);
  // Members of a sorted set with scores in [min, max] ("-inf"/"+inf" allowed).
  absl::StatusOr<std::vector<std::string>> RangeByScore(const std::string& key,
                                                        const std::string& min,
                                                        const std::string& max, int limit = -1);
  absl::StatusOr<std::optional<std::string>> FirstAnswer(const std::string& key);

  // Adds "record at version expected+1, only if still at `expected`" (0: new).
  void Put(WriteBatch& batch, const std::string& key, const google::protobuf::Message& record,
           int64_t expected_version) const;
  void Publish(WriteBatch& batch, const OutboxEvent& event) const;
  void Audit(WriteBatch& batch, const AuditEntry& entry) const;
  absl::StatusOr<WriteOutcome> Commit(WriteBatch batch);

  // Idempotent commands. A retry under the same request id (per caller and
  // method) gets the first answer: true, with `response` filled.
  // INVALID_ARGUMENT naming request_id for a malformed one; ALREADY_EXISTS
  // if it was used for a different request.
  absl::StatusOr<bool> Replayed(absl::string_view subject, absl::string_view method,
                                const std::string& request_id,
                                const google::protobuf::Message& request,
                                google::protobuf::Message* response);
  // Effectively-once consumers: commits `batch` guarded by the event id, so a
  // replayed or duplicated event changes nothing (kDuplicate). ABORTED when a
  // record's version moved meanwhile (the consumer retries).
  absl::StatusOr<ApplyResult> CommitConsumed(WriteBatch batch, const std::string& event_id);

  // Commits `batch` guarded by the request id, storing `response` as the
  // first answer; if another request with the id won the race, `response`
  // becomes its answer. ABORTED naming `method` when a record's version
  // moved meanwhile (the caller may retry).
  absl::Status CommitCommand(absl::string_view subject, absl::string_view method,
                             const std::string& request_id,
                             const google::protobuf::Message& request,
                             google::protobuf::Message* response, WriteBatch batch);

 protected:
  std::string Key(absl::string_view kind, const std::string& id) const {
    return absl::StrCat(prefix_, ":", kind, id);
  }

 private:
  absl::StatusOr<std::vector<std::optional<Raw>>> LoadRaw(const std::vector<std::string>& keys);
  template <typename T>
  static absl::StatusOr<Versioned<T>> Parse(const Raw& raw) {
    Versioned<T> v;
    if (!v.record.ParseFromString(raw.bytes)) return absl::DataLossError("stored record is corrupt");
    v.version = raw.version;
    return v;
  }

  RedisClient& redis_;
  const std::string prefix_;
};

}  // namespace rooted

#endif  // ROOTED_COMMON_REDIS_RECORD_STORE_H_
