#include "services/risk-scoring/evidence.h"

#include "common/base/proto_date.h"
#include "common/identity/pupil_ref.h"
#include "common/kafka/event_metadata.h"
#include "common/kafka/topics.h"
#include "common/redis/atomic_write.h"
#include "rooted/referral/v1/referral_events.pb.h"

namespace rooted::risk {
namespace {

constexpr char kProducer[] = "risk-scoring";

}  // namespace

v1::AttendanceEvidence EvidenceOf(const PupilState* state) {
  v1::AttendanceEvidence evidence;
  if (state == nullptr) return evidence;
  evidence.set_known(true);
  evidence.set_looked_after(state->context().social_care() == v1::SOCIAL_CARE_STATUS_LOOKED_AFTER);
  const AttendanceSummary summary = SummariseAttendance(*state);
  if (!summary.as_of) return evidence;
  *evidence.mutable_as_of() = ToProtoDate(*summary.as_of);
  const absl::CivilDay start = AcademicYearStart(state->academic_year());
  // Back to the Monday on or before the first of September.
  absl::CivilDay monday = start;
  while (absl::GetWeekday(monday) != absl::Weekday::monday) --monday;
  for (; monday <= *summary.as_of; monday += 7) {
    const SessionCounts week = CountSessions(*state, std::max(monday, start), monday + 7);
    if (week.possible == 0) continue;  // holidays
    v1::WeekAttendance* w = evidence.add_weeks();
    *w->mutable_week_start() = ToProtoDate(monday);
    w->set_possible_sessions(week.possible);
    w->set_present_sessions(week.attended);
  }
  return evidence;
}

EvidenceResponder::EvidenceResponder(RedisClient& redis, RiskStore& store, const Clock& clock, std::string prefix,
                                     std::string la_code)
    : redis_(redis), store_(store), clock_(clock), prefix_(std::move(prefix)), la_code_(std::move(la_code)) {}

absl::StatusOr<ApplyResult> EvidenceResponder::Apply(const ConsumedEvent& event) {
  rooted::referral::v1::ReferralEvent envelope;
  if (!envelope.ParseFromString(event.payload)) return absl::InvalidArgumentError("payload is not a ReferralEvent");
  if (!envelope.has_referral_submitted()) return ApplyResult::kDuplicate;
  const rooted::referral::v1::ReferralSubmitted& submitted = envelope.referral_submitted();
  if (submitted.programme_id().empty() || submitted.la_code() != la_code_) return ApplyResult::kDuplicate;
  const std::string& ref = submitted.pupil_ref().value();
  if (!PupilRefHasher::LooksLikeRef(ref)) return absl::InvalidArgumentError("pupil_ref: not a pupil reference");
  absl::StatusOr<std::vector<std::optional<PupilState>>> loaded = store_.LoadPupils({ref});
  if (!loaded.ok()) return loaded.status();
  const std::optional<PupilState>& state = loaded->front();

  v1::RiskEvent out;
  v1::AttendanceEvidenceTaken* taken = out.mutable_attendance_evidence_taken();
  taken->set_referral_id(submitted.referral_id());
  *taken->mutable_pupil_ref() = submitted.pupil_ref();
  taken->set_programme_id(submitted.programme_id());
  *taken->mutable_evidence() = EvidenceOf(state ? &*state : nullptr);
  const Principal self{kProducer, {common::v1::ROLE_SERVICE}, common::v1::ORGANISATION_TYPE_COUNCIL, la_code_,
                       la_code_};
  FillEventMetadata(out.mutable_metadata(), kProducer, submitted.referral_id(), event.event_id(),
                    PayloadTypeName(out), self, clock_.Now());
  const WriteBatch batch{
      .guard_key = ProcessedEventKey(prefix_ + ":evidence", event.dedup_key()),
      .guard_value = "answered",
      .guard_ttl_seconds = kProcessedEventTtlSeconds,
      .preconditions = {},
      .commands = {OutboxAppendCommand(
          store_.outbox_key(), ToOutboxEvent(topics::kRiskEvents, ref, out.metadata(), out))}};
  absl::StatusOr<WriteOutcome> written = ApplyAtomically(redis_, batch);
  if (!written.ok()) return written.status();
  return written->kind == WriteOutcome::Kind::kApplied ? ApplyResult::kApplied : ApplyResult::kDuplicate;
}

}  // namespace rooted::risk
