#ifndef ROOTED_SERVICES_REFERRAL_INTAKE_REFERRAL_STORE_H_
#define ROOTED_SERVICES_REFERRAL_INTAKE_REFERRAL_STORE_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/outbox/outbox.h"
#include "common/redis/audit_trail.h"
#include "common/redis/atomic_write.h"
#include "common/redis/pipelined_redis.h"
#include "common/redis/redis_client.h"
#include "rooted/referral/v1/referral.pb.h"

namespace rooted::referral {

// One command's whole effect, saved atomically or not at all.
struct ReferralChange {
  // The new state, version already bumped. Not owned: the handler keeps it
  // (or its response does) until the commit is done, so it is not copied.
  const rooted::referral::v1::Referral* referral = nullptr;
  // `referral` encoded. The handler encodes it once: these bytes are stored
  // and, as the answer's one field, sent back and kept for retries.
  std::string record;
  int64_t expected_version = 0;             // 0: the referral must not exist yet
  OutboxEvent event;
  AuditEntry audit;
  // Commands on an existing referral: their first answer is stored under
  // this key, so a retry gets it back.
  std::string idempotency_key;
  std::string first_answer;
  // A submission: its request's fingerprint, kept with the new referral. Its
  // id comes from the request id (IdForRequest), so a retry finds the
  // referral already there; the fingerprint tells it from another request.
  std::string submission_fingerprint;
  // What the change's own event adds to the case's timeline, written with the
  // change rather than when the event is consumed back (see AppendTimeline).
  std::vector<rooted::referral::v1::TimelineEntry> timeline_entries;
};

struct CommitResult {
  enum class Kind { kCommitted, kReplayed, kVersionConflict };
  Kind kind = Kind::kCommitted;
  std::string first_answer;  // kReplayed: what was stored the first time
};

// What a submission left: the fingerprint of the request that submitted the
// referral, and the referral as submitted (encoded), whatever has changed since.
struct StoredSubmission {
  std::string fingerprint;
  std::string record;
};

// A case still being worked: submitted, triaged, listed or in support.
inline bool IsOpenReferral(rooted::referral::v1::ReferralStatus status) {
  namespace rv1 = rooted::referral::v1;
  return status == rv1::REFERRAL_STATUS_SUBMITTED || status == rv1::REFERRAL_STATUS_TRIAGED ||
         status == rv1::REFERRAL_STATUS_LISTED_FOR_FORUM || status == rv1::REFERRAL_STATUS_IN_SUPPORT;
}

enum class ReferralIndex { kSchool, kCouncil, kPartner };

struct ReferralQuery {
  ReferralIndex index = ReferralIndex::kSchool;
  std::string index_id;  // URN, LA code or partner id
  rooted::referral::v1::ReferralStatus status = rooted::referral::v1::REFERRAL_STATUS_UNSPECIFIED;
  std::optional<absl::Time> submitted_after;
  std::optional<absl::Time> submitted_before;
  // Rows outside this council are skipped (a URN index read by a council officer).
  std::string la_code;
  int page_size = 50;
  std::string page_token;
};

struct ReferralPage {
  std::vector<rooted::referral::v1::Referral> referrals;
  std::string next_page_token;
};

// Referral intake's keyspace. An interface so handlers can be tested with a
// fake; RedisReferralStore is the real one.
// Thread safety: implementations are safe to call concurrently.
class ReferralStore {
 public:
  virtual ~ReferralStore() = default;

  // The stored first answer for an idempotency key, if any.
  virtual absl::StatusOr<std::optional<std::string>> FirstAnswer(const std::string& key) = 0;
  // Saves the referral, its indexes, the outbox event, the audit entry and the
  // first answer in one atomic step.
  virtual absl::StatusOr<CommitResult> Commit(ReferralChange change) = 0;
  using CommitCallback = absl::AnyInvocable<void(absl::StatusOr<CommitResult>) &&>;
  // The same step without waiting for it: `done` gets the result on the
  // store's Redis I/O thread, so it must not block.
  virtual void CommitAsync(ReferralChange change, CommitCallback done) = 0;
  // A submission's fingerprint and the referral as submitted, read without
  // waiting, as CommitAsync: how a retried submission is answered with its
  // first answer. NOT_FOUND naming referral_id when absent.
  using SubmissionCallback = absl::AnyInvocable<void(absl::StatusOr<StoredSubmission>) &&>;
  virtual void GetSubmissionAsync(const std::string& referral_id, SubmissionCallback done) = 0;
  // NOT_FOUND naming referral_id when absent.
  virtual absl::StatusOr<rooted::referral::v1::Referral> Get(const std::string& referral_id) = 0;
  // INVALID_ARGUMENT naming page.page_token for a token we did not make.
  virtual absl::StatusOr<ReferralPage> List(const ReferralQuery& query) = 0;
  // Adds the referral's write (only if still at expected_version; 0: new) and
  // its indexes to a batch another record's change commits with it.
  virtual void AppendWrite(WriteBatch& batch, const rooted::referral::v1::Referral& referral,
                           int64_t expected_version) const = 0;
  // Adds an entry of intake's own events to a case's timeline in a batch.
  // Intake writes these with the change that raised the event and does not
  // read its own topic back: consuming every referral event again only to
  // file it cost about 7% of intake's CPU under load.
  virtual void AppendTimeline(WriteBatch& batch, const std::string& referral_id,
                              const rooted::referral::v1::TimelineEntry& entry) const = 0;
};

class RedisReferralStore final : public ReferralStore {
 public:
  // `prefix` namespaces every key (e.g. "ri"), so a shared Redis stays tidy.
  // Commits without waiting go through `pipe`, everything else through `redis`.
  RedisReferralStore(RedisClient& redis, PipelinedRedis& pipe, std::string prefix);

  absl::StatusOr<std::optional<std::string>> FirstAnswer(const std::string& key) override;
  absl::StatusOr<CommitResult> Commit(ReferralChange change) override;
  void CommitAsync(ReferralChange change, CommitCallback done) override;
  void GetSubmissionAsync(const std::string& referral_id, SubmissionCallback done) override;
  absl::StatusOr<rooted::referral::v1::Referral> Get(const std::string& referral_id) override;
  absl::StatusOr<ReferralPage> List(const ReferralQuery& query) override;
  void AppendWrite(WriteBatch& batch, const rooted::referral::v1::Referral& referral,
                   int64_t expected_version) const override;
  void AppendTimeline(WriteBatch& batch, const std::string& referral_id,
                      const rooted::referral::v1::TimelineEntry& entry) const override;

  std::string OutboxKey() const { return prefix_ + ":outbox"; }
  std::string AuditKey() const { return prefix_ + ":audit"; }
  std::string ReferralKey(const std::string& id) const { return prefix_ + ":referral:" + id; }
  // The cases of one pupil (by pupil reference): how events about a pupil,
  // not a case, find their cases' timelines.
  std::string CasesOfPupilKey(const std::string& pupil_ref) const { return prefix_ + ":pupil_cases:" + pupil_ref; }

  // A case's timeline is the entry its referral's hash keeps (see
  // kFirstEntryField) and a sorted set scored by each entry's time (ms).
  // Entries of one instant keep the order they happened in through `order`,
  // which leads the member (ties sort by member): a consumed event's offset
  // in its partition, or for intake's own events the nanoseconds within the
  // millisecond they happened in.
  std::vector<std::string> TimelineAddCommand(const std::string& referral_id, int64_t order,
                                              const rooted::referral::v1::TimelineEntry& entry) const;
  // Oldest first: the sorted set's entries and the one kept with the referral.
  absl::StatusOr<std::vector<rooted::referral::v1::TimelineEntry>> Timeline(const std::string& referral_id);

 private:
  std::string IndexKey(ReferralIndex index, const std::string& id) const;
  // Reads a referral's current and submitted records; RecordIn picks the
  // one that stands (null when the referral is absent).
  std::vector<std::string> ReadCommand(const std::string& referral_id) const;
  static const RedisReply* RecordIn(const RedisReply& reply);
  // What a new referral's hash keeps beside its record (empty: nothing).
  struct NewReferralFields {
    std::string submission_fingerprint;  // see ReferralChange
    std::string first_entry;             // its timeline's first entry, as a member of the set
  };
  void AppendEncodedWrite(WriteBatch& batch, const rooted::referral::v1::Referral& referral, std::string record,
                          int64_t expected_version, NewReferralFields fields = {}) const;
  WriteBatch CommitBatch(ReferralChange change) const;
  std::string TimelineKey(const std::string& referral_id) const { return prefix_ + ":timeline:" + referral_id; }

  RedisClient& redis_;
  PipelinedRedis& pipe_;
  const std::string prefix_;
};

}  // namespace rooted::referral

#endif  // ROOTED_SERVICES_REFERRAL_INTAKE_REFERRAL_STORE_H_
