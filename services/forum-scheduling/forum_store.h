#ifndef ROOTED_SERVICES_FORUM_SCHEDULING_FORUM_STORE_H_
#define ROOTED_SERVICES_FORUM_SCHEDULING_FORUM_STORE_H_

#include <google/protobuf/message.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/outbox/outbox.h"
#include "common/redis/atomic_write.h"
#include "common/redis/audit_trail.h"
#include "common/redis/redis_client.h"

namespace rooted::forum {

// A stored record and the version it was read at (for optimistic writes).
template <typename T>
struct Versioned {
  T record;
  int64_t version = 0;
};

// Forum scheduling's keyspace in its own Redis. Records (forums, meetings,
// cases, actions) are hashes {record: protobuf bytes, version}; indexes are
// sets and sorted sets beside them. Every change goes through one
// WriteBatch: the records with their expected versions, the indexes, the
// outbox events and the audit entry land together or not at all.
// Thread safety: safe to call concurrently (RedisClient is).
class ForumStore {
  struct Raw {
    std::string bytes;
    int64_t version = 0;
  };

 public:
  ForumStore(RedisClient& redis, std::string prefix);

  std::string ForumKey(const std::string& id) const { return Key("forum:", id); }
  std::string MeetingKey(const std::string& id) const { return Key("meeting:", id); }
  std::string CaseKey(const std::string& id) const { return Key("case:", id); }
  std::string ActionKey(const std::string& id) const { return Key("action:", id); }
  std::string DecisionKey(const std::string& id) const { return Key("decision:", id); }
  std::string ForumsOfCouncilKey(const std::string& la) const { return Key("forums:", la); }
  std::string MeetingsKey(const std::string& forum) const { return Key("meetings:", forum); }
  std::string OpenCasesKey(const std::string& forum) const { return Key("open_cases:", forum); }
  std::string CasesOfPupilKey(const std::string& ref) const { return Key("pupil_cases:", ref); }
  std::string DecisionsKey(const std::string& case_id) const { return Key("decisions:", case_id); }
  // Not-done actions of a forum, scored by due day (days since 1970).
  std::string ActionsKey(const std::string& forum) const { return Key("actions:", forum); }
  // Open actions not yet flagged overdue, scored by due day.
  std::string ActionsDueKey() const { return prefix_ + ":actions_due"; }
  std::string SchoolForumKey() const { return prefix_ + ":school_forum"; }      // urn -> forum
  std::string ReferralCaseKey() const { return prefix_ + ":referral_case"; }    // referral -> case
  std::string PupilBandKey() const { return prefix_ + ":pupil_band"; }          // ref -> band
  std::string OutboxKey() const { return prefix_ + ":outbox"; }
  std::string AuditKey() const { return prefix_ + ":audit"; }
  const std::string& prefix() const { return prefix_; }

  // NOT_FOUND naming `field` when the record is absent; DATA_LOSS if corrupt.
  template <typename T>
  absl::StatusOr<Versioned<T>> Load(const std::string& key, absl::string_view field) {
    absl::StatusOr<std::vector<std::optional<Raw>>> raw = LoadRaw({key});
    if (!raw.ok()) return raw.status();
    if (!raw->front()) return absl::NotFoundError(absl::StrCat(field, ": not found"));
    return Parse<T>(*raw->front());
  }
  // The records that exist, in the order of `keys` (missing ones skipped).
  template <typename T>
  absl::StatusOr<std::vector<Versioned<T>>> LoadAll(const std::vector<std::string>& keys) {
    absl::StatusOr<std::vector<std::optional<Raw>>> raw = LoadRaw(keys);
    if (!raw.ok()) return raw.status();
    std::vector<Versioned<T>> out;
    out.reserve(raw->size());
    for (const auto& r : *raw) {
      if (!r) continue;
      absl::StatusOr<Versioned<T>> parsed = Parse<T>(*r);
      if (!parsed.ok()) return parsed.status();
      out.push_back(*std::move(parsed));
    }
    return out;
  }

  absl::StatusOr<std::optional<std::string>> HashField(const std::string& key,
                                                       const std::string& field);
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
  absl::StatusOr<WriteOutcome> Commit(const WriteBatch& batch);

 private:
  std::string Key(absl::string_view kind, const std::string& id) const {
    return absl::StrCat(prefix_, ":", kind, id);
  }
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

}  // namespace rooted::forum

#endif  // ROOTED_SERVICES_FORUM_SCHEDULING_FORUM_STORE_H_
