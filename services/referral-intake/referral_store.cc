#include "services/referral-intake/referral_store.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/base/base64.h"
#include "common/base/proto_time.h"
#include "common/redis/atomic_write.h"
#include "common/redis/idempotency.h"

namespace rooted::referral {
namespace rv1 = rooted::referral::v1;
namespace {

int64_t Millis(const google::protobuf::Timestamp& t) { return absl::ToUnixMillis(FromProtoTimestamp(t)); }

int64_t CreatedMillis(const rv1::Referral& r) { return Millis(r.created_at()); }

// A timeline member: 'o', the order as 19 digits, '|', the entry. A serialized
// entry starts with its first field's tag, never this letter.
constexpr char kOrderedEntry = 'o';
constexpr size_t kOrderPrefixSize = 1 + 19 + 1;

// A referral's hash keeps the referral as submitted in one field, and, once
// it has changed, the referral as it now stands in another: the submitted
// one is the first answer to every retry of its submission, with no second
// key and no second copy written with it. Readers take the current one if
// there is one.
constexpr absl::string_view kSubmittedField = "submitted";
constexpr absl::string_view kCurrentField = "record";
// The fingerprint of the request that submitted it.
constexpr absl::string_view kSubmissionField = "submission";
// The referral hash's field that keeps the first entry of its case's
// timeline (what the change that created it added). In the hash, not the
// timeline's sorted set: most cases' timelines hold only that entry for a
// while, and a sorted set of one was a key of its own for every referral
// (about 3 µs of Redis's time a submission, a tenth of it).
constexpr absl::string_view kFirstEntryField = "first_entry";

// Page tokens hold where the previous page stopped: the score (creation
// millis) of its last row and how many rows with that score were returned.
std::string EncodeToken(int64_t score, int64_t skip) {
  return Base64UrlEncode(absl::StrCat("v1:", score, ":", skip));
}

absl::Status DecodeToken(const std::string& token, int64_t* score, int64_t* skip) {
  const absl::Status bad =
      absl::InvalidArgumentError("page.page_token: not a token from this service");
  absl::StatusOr<std::string> text = Base64UrlDecode(token);
  if (!text.ok()) return bad;
  std::vector<std::string> parts = absl::StrSplit(*text, ':');
  if (parts.size() != 3 || parts[0] != "v1" || !absl::SimpleAtoi(parts[1], score) ||
      !absl::SimpleAtoi(parts[2], skip) || *skip < 0) {
    return bad;
  }
  return absl::OkStatus();
}

absl::StatusOr<CommitResult> CommitResultOf(absl::StatusOr<WriteOutcome> outcome) {
  if (!outcome.ok()) return outcome.status();
  CommitResult result;
  switch (outcome->kind) {
    case WriteOutcome::Kind::kApplied:
      result.kind = CommitResult::Kind::kCommitted;
      break;
    case WriteOutcome::Kind::kAlreadyApplied:
      result.kind = CommitResult::Kind::kReplayed;
      result.first_answer = std::move(outcome->guard_value);
      break;
    case WriteOutcome::Kind::kPreconditionFailed:
      result.kind = CommitResult::Kind::kVersionConflict;
      break;
  }
  return result;
}

}  // namespace

RedisReferralStore::RedisReferralStore(RedisClient& redis, PipelinedRedis& pipe, std::string prefix)
    : redis_(redis), pipe_(pipe), prefix_(std::move(prefix)) {}

std::string RedisReferralStore::IndexKey(ReferralIndex index, const std::string& id) const {
  switch (index) {
    case ReferralIndex::kSchool:
      return absl::StrCat(prefix_, ":by_school:", id);
    case ReferralIndex::kCouncil:
      return absl::StrCat(prefix_, ":by_la:", id);
    case ReferralIndex::kPartner:
      return absl::StrCat(prefix_, ":by_partner:", id);
  }
  return "";
}

absl::StatusOr<std::optional<std::string>> RedisReferralStore::FirstAnswer(const std::string& key) {
  absl::StatusOr<RedisReply> reply = redis_.Command({"GET", key});
  if (!reply.ok()) return reply.status();
  if (reply->is_nil()) return std::nullopt;
  return reply->str;
}

void RedisReferralStore::AppendWrite(WriteBatch& batch, const rv1::Referral& r, int64_t expected_version) const {
  AppendEncodedWrite(batch, r, r.SerializeAsString(), expected_version);
}

void RedisReferralStore::AppendEncodedWrite(WriteBatch& batch, const rv1::Referral& r, std::string record,
                                            int64_t expected_version, NewReferralFields fields) const {
  const std::string key = ReferralKey(r.referral_id());
  batch.preconditions.push_back({key, "version", expected_version == 0 ? "" : std::to_string(expected_version)});
  std::vector<std::string> write = {"HSET", key, std::string(expected_version == 0 ? kSubmittedField : kCurrentField),
                                    std::move(record), "version",
                                    std::to_string(r.version()), "school", r.details().child().school_urn(),
                                    "la", r.la_code(), "status", std::to_string(r.status())};
  if (!fields.submission_fingerprint.empty()) {
    write.push_back(std::string(kSubmissionField));
    write.push_back(std::move(fields.submission_fingerprint));
  }
  if (!fields.first_entry.empty()) {
    write.push_back(std::string(kFirstEntryField));
    write.push_back(std::move(fields.first_entry));
  }
  batch.commands.push_back(std::move(write));
  const std::string score = std::to_string(CreatedMillis(r));
  batch.commands.push_back({"ZADD",
                            IndexKey(ReferralIndex::kSchool, r.details().child().school_urn()),
                            score, r.referral_id()});
  batch.commands.push_back(
      {"ZADD", IndexKey(ReferralIndex::kCouncil, r.la_code()), score, r.referral_id()});
  for (const std::string& partner : r.allocated_partner_ids()) {
    batch.commands.push_back(
        {"ZADD", IndexKey(ReferralIndex::kPartner, partner), score, r.referral_id()});
  }
  if (expected_version == 0) {
    // Indexed with the referral itself, not when its own event is consumed
    // back: another service's event about the pupil (a risk band change) may
    // be consumed first, as topics are not ordered with each other, and must
    // still find the case.
    batch.commands.push_back({"SADD", CasesOfPupilKey(r.pupil_ref().value()), r.referral_id()});
  }
}

// An entry as a member of the timeline's sorted set.
std::string TimelineMember(int64_t order, const rv1::TimelineEntry& entry) {
  return absl::StrFormat("%c%019d|", kOrderedEntry, order) + entry.SerializeAsString();
}

// Intake's own entries are ordered within their millisecond by its nanoseconds.
int64_t OwnEntryOrder(const rv1::TimelineEntry& entry) { return entry.occurred_at().nanos() % 1'000'000; }

std::vector<std::string> RedisReferralStore::TimelineAddCommand(const std::string& referral_id, int64_t order,
                                                                const rv1::TimelineEntry& entry) const {
  return {"ZADD", TimelineKey(referral_id), std::to_string(Millis(entry.occurred_at())), TimelineMember(order, entry)};
}

absl::StatusOr<std::vector<rv1::TimelineEntry>> RedisReferralStore::Timeline(const std::string& referral_id) {
  absl::StatusOr<std::vector<RedisReply>> replies =
      redis_.Pipeline({{"HGET", ReferralKey(referral_id), std::string(kFirstEntryField)},
                       {"ZRANGE", TimelineKey(referral_id), "0", "-1", "WITHSCORES"}});
  if (!replies.ok()) return replies.status();
  const RedisReply& kept = (*replies)[0];
  const RedisReply& set = (*replies)[1];
  if (kept.is_error()) return RedisErrorStatus(kept, "HGET");
  if (set.is_error()) return RedisErrorStatus(set, "ZRANGE");
  const absl::Status corrupt = absl::DataLossError("stored timeline entry is corrupt");
  // The kept entry goes where the sorted set would have put it, by score and
  // then member: events about the pupil may come before the case existed.
  std::optional<rv1::TimelineEntry> first;
  std::pair<double, absl::string_view> first_place;
  if (!kept.is_nil()) {
    const absl::string_view member = kept.str;
    first.emplace();
    if (member.size() <= kOrderPrefixSize ||
        !first->ParseFromArray(member.data() + kOrderPrefixSize, int(member.size() - kOrderPrefixSize))) {
      return corrupt;
    }
    first_place = {double(Millis(first->occurred_at())), member};
  }
  std::vector<rv1::TimelineEntry> entries;
  for (size_t i = 0; i + 1 < set.elements.size(); i += 2) {
    double score = 0;
    absl::string_view member = set.elements[i].str;
    if (!absl::SimpleAtod(set.elements[i + 1].str, &score)) return corrupt;
    if (first && std::make_pair(score, member) > first_place) {
      entries.push_back(*std::move(first));
      first.reset();
    }
    if (!member.empty() && member[0] == kOrderedEntry && member.size() > kOrderPrefixSize) {
      member.remove_prefix(kOrderPrefixSize);
    }
    if (!entries.emplace_back().ParseFromArray(member.data(), int(member.size()))) return corrupt;
  }
  if (first) entries.push_back(*std::move(first));
  return entries;
}

void RedisReferralStore::AppendTimeline(WriteBatch& batch, const std::string& referral_id,
                                        const rv1::TimelineEntry& entry) const {
  batch.commands.push_back(TimelineAddCommand(referral_id, OwnEntryOrder(entry), entry));
}

WriteBatch RedisReferralStore::CommitBatch(ReferralChange change) const {
  WriteBatch batch;
  batch.guard_key = std::move(change.idempotency_key);
  batch.guard_value = std::move(change.first_answer);
  batch.guard_ttl_seconds = kIdempotencyTtlSeconds;
  NewReferralFields fields;
  auto entry = change.timeline_entries.begin();
  if (change.expected_version == 0) {
    fields.submission_fingerprint = std::move(change.submission_fingerprint);
    if (entry != change.timeline_entries.end()) {
      fields.first_entry = TimelineMember(OwnEntryOrder(*entry), *entry);
      ++entry;
    }
  }
  AppendEncodedWrite(batch, *change.referral, std::move(change.record), change.expected_version, std::move(fields));
  for (; entry != change.timeline_entries.end(); ++entry) AppendTimeline(batch, change.referral->referral_id(), *entry);
  batch.commands.push_back(OutboxAppendCommand(OutboxKey(), change.event));
  batch.commands.push_back(AuditAppendCommand(AuditKey(), change.audit));
  return batch;
}

absl::StatusOr<CommitResult> RedisReferralStore::Commit(ReferralChange change) {
  return CommitResultOf(ApplyAtomically(redis_, CommitBatch(std::move(change))));
}

void RedisReferralStore::CommitAsync(ReferralChange change, CommitCallback done) {
  ApplyAtomically(pipe_, CommitBatch(std::move(change)),
                  [done = std::move(done)](absl::StatusOr<WriteOutcome> outcome) mutable {
                    std::move(done)(CommitResultOf(std::move(outcome)));
                  });
}

void RedisReferralStore::GetSubmissionAsync(const std::string& referral_id, SubmissionCallback done) {
  pipe_.Command({"HMGET", ReferralKey(referral_id), std::string(kSubmissionField), std::string(kSubmittedField)},
                [done = std::move(done)](absl::StatusOr<RedisReply> reply) mutable {
                  std::move(done)([&]() -> absl::StatusOr<StoredSubmission> {
                    if (!reply.ok()) return reply.status();
                    if (reply->elements.size() != 2) return absl::InternalError("redis: unexpected HMGET reply");
                    if (reply->elements[1].is_nil()) return absl::NotFoundError("referral_id: no such referral");
                    return StoredSubmission{std::move(reply->elements[0].str), std::move(reply->elements[1].str)};
                  }());
                });
}

std::vector<std::string> RedisReferralStore::ReadCommand(const std::string& referral_id) const {
  return {"HMGET", ReferralKey(referral_id), std::string(kCurrentField), std::string(kSubmittedField)};
}

const RedisReply* RedisReferralStore::RecordIn(const RedisReply& reply) {
  if (reply.type != RedisReply::Type::kArray || reply.elements.size() != 2) return nullptr;
  for (const RedisReply& field : reply.elements) {
    if (field.type == RedisReply::Type::kString) return &field;
  }
  return nullptr;
}

absl::StatusOr<rv1::Referral> RedisReferralStore::Get(const std::string& referral_id) {
  absl::StatusOr<RedisReply> reply = redis_.Command(ReadCommand(referral_id));
  if (!reply.ok()) return reply.status();
  const RedisReply* record = RecordIn(*reply);
  if (record == nullptr) return absl::NotFoundError("referral_id: no such referral");
  rv1::Referral referral;
  if (!referral.ParseFromString(record->str))
    return absl::DataLossError("stored referral is corrupt");
  return referral;
}

absl::StatusOr<ReferralPage> RedisReferralStore::List(const ReferralQuery& query) {
  int64_t max_score = query.submitted_before ? absl::ToUnixMillis(*query.submitted_before) - 1
                                             : std::numeric_limits<int64_t>::max();
  const int64_t min_score = query.submitted_after ? absl::ToUnixMillis(*query.submitted_after) : 0;
  int64_t skip = 0;
  if (!query.page_token.empty()) {
    int64_t token_score = 0;
    if (absl::Status s = DecodeToken(query.page_token, &token_score, &skip); !s.ok()) return s;
    max_score = std::min(max_score, token_score);
  }
  const std::string index = IndexKey(query.index, query.index_id);
  ReferralPage page;
  // Filters may discard rows, so read in chunks; stop after a bounded amount
  // of scanning and hand back a token to carry on from.
  constexpr int kChunk = 200;
  constexpr int kMaxChunks = 10;
  int64_t cursor_score = max_score;
  int64_t cursor_skip = skip;
  bool exhausted = false;
  for (int chunk = 0;
       chunk < kMaxChunks && static_cast<int>(page.referrals.size()) < query.page_size; ++chunk) {
    absl::StatusOr<RedisReply> ids = redis_.Command(
        {"ZREVRANGEBYSCORE", index, std::to_string(cursor_score), std::to_string(min_score),
         "WITHSCORES", "LIMIT", std::to_string(cursor_skip), std::to_string(kChunk)});
    if (!ids.ok()) return ids.status();
    const size_t rows = ids->elements.size() / 2;
    if (rows == 0) {
      exhausted = true;
      break;
    }
    std::vector<std::vector<std::string>> gets;
    for (size_t i = 0; i < rows; ++i) {
      gets.push_back(ReadCommand(ids->elements[2 * i].str));
    }
    absl::StatusOr<std::vector<RedisReply>> records = redis_.Pipeline(gets);
    if (!records.ok()) return records.status();
    for (const RedisReply& record : *records) {
      if (record.is_error()) return RedisErrorStatus(record, "reading a referral");
    }
    size_t consumed = 0;
    for (size_t i = 0; i < rows && static_cast<int>(page.referrals.size()) < query.page_size; ++i) {
      ++consumed;
      int64_t score = 0;
      (void)absl::SimpleAtoi(ids->elements[2 * i + 1].str, &score);
      if (score == cursor_score) {
        ++cursor_skip;
      } else {
        cursor_score = score;
        cursor_skip = 1;
      }
      const RedisReply* record = RecordIn((*records)[i]);
      if (record == nullptr) continue;
      rv1::Referral referral;
      if (!referral.ParseFromString(record->str)) continue;
      if (query.status != rv1::REFERRAL_STATUS_UNSPECIFIED && referral.status() != query.status)
        continue;
      if (!query.la_code.empty() && referral.la_code() != query.la_code) continue;
      page.referrals.push_back(std::move(referral));
    }
    if (consumed == rows && rows < static_cast<size_t>(kChunk)) {
      exhausted = true;
      break;
    }
  }
  if (!exhausted) page.next_page_token = EncodeToken(cursor_score, cursor_skip);
  return page;
}

}  // namespace rooted::referral
