#include "services/risk-scoring/outcomes.h"

#include <algorithm>
#include <array>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "common/identity/pupil_ref.h"
#include "common/redis/atomic_write.h"
#include "rooted/referral/v1/referral_events.pb.h"

namespace rooted::risk {
namespace {

constexpr std::array<std::pair<absl::string_view, absl::string_view>, 4> kInterventions = {{
    {"rooted.referral.v1.ReferralSubmitted", "referral"},
    {"rooted.forum.v1.DecisionRecorded", "forum_decision"},
    {"rooted.directory.v1.ServiceReferralMade", "service_referral"},
    {"rooted.fund.v1.PaymentIssued", "fund_payment"},
}};

// Six weeks either side; "a term later" is weeks 13 to 18 after.
constexpr int kWindowDays = 42;
constexpr int kTermLaterFromDays = 84;
constexpr int kMinimumSessions = 10;

struct Totals {
  int cases = 0;
  int later_cases = 0;
  int pending = 0;
  int sustained = 0;
  int64_t before_bp = 0;
  int64_t after_bp = 0;
  int64_t later_bp = 0;
};

}  // namespace

std::optional<absl::string_view> InterventionOf(absl::string_view event_type) {
  for (const auto& [type, kind] : kInterventions) {
    if (type == event_type) return kind;
  }
  return std::nullopt;
}

v1::GetOutcomeReportResponse BuildOutcomeReport(const std::vector<PupilInterventions>& pupils) {
  std::map<std::string, Totals> totals;
  // Every kind is reported, with zero cases if none.
  for (const auto& entry : kInterventions) totals[std::string(entry.second)];
  for (const PupilInterventions& pupil : pupils) {
    for (const Intervention& intervention : pupil.interventions) {
      Totals& t = totals[intervention.kind];
      const absl::CivilDay day = intervention.day;
      const SessionCounts before = CountSessions(pupil.state, day - kWindowDays, day);
      const SessionCounts after = CountSessions(pupil.state, day, day + kWindowDays);
      const SessionCounts later = CountSessions(pupil.state, day + kTermLaterFromDays,
                                                day + kTermLaterFromDays + kWindowDays);
      if (before.possible < kMinimumSessions || after.possible < kMinimumSessions) {
        ++t.pending;
        continue;
      }
      ++t.cases;
      t.before_bp += *before.AttendanceBp();
      t.after_bp += *after.AttendanceBp();
      if (later.possible < kMinimumSessions) continue;  // not a term on yet
      ++t.later_cases;
      t.later_bp += *later.AttendanceBp();
      if (*later.AttendanceBp() > *before.AttendanceBp()) ++t.sustained;
    }
  }
  v1::GetOutcomeReportResponse report;
  for (const auto& [kind, t] : totals) {
    v1::InterventionOutcome* outcome = report.add_outcomes();
    outcome->set_intervention(kind);
    outcome->set_cases(t.cases);
    outcome->set_pending_cases(t.pending);
    outcome->set_sustained_cases(t.sustained);
    if (t.cases > 0) {
      outcome->set_attendance_before_bp(int32_t((t.before_bp + t.cases / 2) / t.cases));
      outcome->set_attendance_after_bp(int32_t((t.after_bp + t.cases / 2) / t.cases));
    }
    outcome->set_term_later_cases(t.later_cases);
    if (t.later_cases > 0) {
      outcome->set_attendance_term_later_bp(int32_t((t.later_bp + t.later_cases / 2) / t.later_cases));
    }
  }
  return report;
}

InterventionRecorder::InterventionRecorder(RedisClient& redis, RiskStore& store, std::string prefix)
    : redis_(redis), store_(store), prefix_(std::move(prefix)) {}

absl::StatusOr<ApplyResult> InterventionRecorder::Apply(const ConsumedEvent& event) {
  internal::EnvelopeHead head;
  if (!head.ParseFromString(event.payload)) {
    return absl::InvalidArgumentError("payload is not an event envelope");
  }
  if (head.metadata().event_type() == "rooted.referral.v1.CaseClosed") return RecordClosure(event);
  const std::optional<absl::string_view> kind = InterventionOf(head.metadata().event_type());
  // Events of other kinds, or about no pupil, are not interventions.
  if (!kind || !PupilRefHasher::LooksLikeRef(event.key)) return ApplyResult::kDuplicate;
  const absl::CivilDay day = absl::ToCivilDay(
      absl::FromUnixSeconds(head.metadata().occurred_at().seconds()), absl::LocalTimeZone());
  const WriteBatch batch{
      .guard_key = ProcessedEventKey(prefix_, event.dedup_key()),
      .guard_value = std::string(*kind),
      .guard_ttl_seconds = kProcessedEventTtlSeconds,
      .preconditions = {},
      .commands = {{"SADD", absl::StrCat(prefix_, ":interventions:", event.key),
                    absl::StrCat(*kind, ":", EpochDay(day))},
                   {"SADD", absl::StrCat(prefix_, ":intervention_pupils"), event.key}}};
  absl::StatusOr<WriteOutcome> outcome = ApplyAtomically(redis_, batch);
  if (!outcome.ok()) return outcome.status();
  return outcome->kind == WriteOutcome::Kind::kApplied ? ApplyResult::kApplied
                                                       : ApplyResult::kDuplicate;
}

absl::StatusOr<ApplyResult> InterventionRecorder::RecordClosure(const ConsumedEvent& event) {
  rooted::referral::v1::ReferralEvent envelope;
  if (!envelope.ParseFromString(event.payload) || !envelope.has_case_closed()) {
    return absl::InvalidArgumentError("payload is not a CaseClosed event");
  }
  std::string outcome = rooted::referral::v1::CaseOutcome_Name(envelope.case_closed().outcome());
  outcome = absl::AsciiStrToLower(absl::StripPrefix(outcome, "CASE_OUTCOME_"));
  const WriteBatch batch{
      .guard_key = ProcessedEventKey(prefix_, event.dedup_key()),
      .guard_value = "closure",
      .guard_ttl_seconds = kProcessedEventTtlSeconds,
      .preconditions = {},
      .commands = {{"HINCRBY", absl::StrCat(prefix_, ":closures"), outcome, "1"}}};
  absl::StatusOr<WriteOutcome> written = ApplyAtomically(redis_, batch);
  if (!written.ok()) return written.status();
  return written->kind == WriteOutcome::Kind::kApplied ? ApplyResult::kApplied : ApplyResult::kDuplicate;
}

absl::StatusOr<std::vector<v1::ClosureCount>> InterventionRecorder::LoadClosures() {
  absl::StatusOr<RedisReply> reply = redis_.Command({"HGETALL", absl::StrCat(prefix_, ":closures")});
  if (!reply.ok()) return reply.status();
  std::vector<v1::ClosureCount> closures;
  for (size_t i = 0; i + 1 < reply->elements.size(); i += 2) {
    int64_t cases = 0;
    if (!absl::SimpleAtoi(reply->elements[i + 1].str, &cases)) return absl::DataLossError("closure count is corrupt");
    v1::ClosureCount& c = closures.emplace_back();
    c.set_outcome(reply->elements[i].str);
    c.set_cases(int32_t(cases));
  }
  std::sort(closures.begin(), closures.end(),
            [](const v1::ClosureCount& a, const v1::ClosureCount& b) { return a.outcome() < b.outcome(); });
  return closures;
}

absl::StatusOr<std::vector<PupilInterventions>> InterventionRecorder::LoadPage(std::string& cursor,
                                                                               int count) {
  absl::StatusOr<RedisReply> scan =
      redis_.Command({"SSCAN", absl::StrCat(prefix_, ":intervention_pupils"), cursor, "COUNT",
                      std::to_string(count)});
  if (!scan.ok()) return scan.status();
  if (scan->is_error() || scan->elements.size() != 2) {
    return absl::InternalError("SSCAN: unexpected reply");
  }
  cursor = scan->elements[0].str;
  std::vector<std::string> refs;
  std::vector<std::vector<std::string>> commands;
  for (const RedisReply& ref : scan->elements[1].elements) {
    refs.push_back(ref.str);
    commands.push_back({"SMEMBERS", absl::StrCat(prefix_, ":interventions:", ref.str)});
  }
  std::vector<PupilInterventions> page;
  if (refs.empty()) return page;
  absl::StatusOr<std::vector<RedisReply>> members = redis_.Pipeline(commands);
  if (!members.ok()) return members.status();
  for (const RedisReply& member : *members) {
    if (member.is_error()) return RedisErrorStatus(member, "SMEMBERS");
  }
  absl::StatusOr<std::vector<std::optional<PupilState>>> states = store_.LoadPupils(refs);
  if (!states.ok()) return states.status();
  for (size_t i = 0; i < refs.size(); ++i) {
    if (!(*states)[i]) continue;  // no register for this pupil yet
    PupilInterventions& pupil = page.emplace_back();
    pupil.state = *std::move((*states)[i]);
    for (const RedisReply& member : (*members)[i].elements) {
      const absl::string_view text = member.str;
      const size_t colon = text.find(':');
      int32_t epoch_day = 0;
      if (colon == absl::string_view::npos ||
          !absl::SimpleAtoi(text.substr(colon + 1), &epoch_day)) {
        continue;
      }
      pupil.interventions.push_back({std::string(text.substr(0, colon)), FromEpochDay(epoch_day)});
    }
  }
  return page;
}

}  // namespace rooted::risk
