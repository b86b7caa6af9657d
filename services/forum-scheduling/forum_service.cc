#include "services/forum-scheduling/forum_service.h"

#include <algorithm>
#include <optional>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/base/field_validation.h"
#include "common/base/ids.h"
#include "common/base/proto_date.h"
#include "common/base/proto_time.h"
#include "common/base/status_macros.h"
#include "common/identity/pupil_ref.h"
#include "common/kafka/event_metadata.h"
#include "common/kafka/topics.h"
#include "common/server/paging.h"
#include "services/forum-scheduling/agenda.h"
#include "services/forum-scheduling/cases.h"
#include "services/forum-scheduling/forum_rules.h"
#include "services/forum-scheduling/icalendar.h"

namespace rooted::forum {
namespace cv1 = rooted::common::v1;
namespace {

constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 500;
constexpr size_t kMaxNotFittedShown = 200;
constexpr int64_t kMaxFundPence = 1'000'000;  // £10,000: larger sums are a grant, not this fund

int64_t EpochDay(absl::CivilDay day) { return int64_t(day - absl::CivilDay(1970, 1, 1)); }

absl::Status ValidateDecision(const v1::Decision& d) {
  if (d.type() == v1::DECISION_TYPE_UNSPECIFIED || !v1::DecisionType_IsValid(d.type())) {
    return FieldError("decision.type", "is required");
  }
  RETURN_IF_ERROR(ValidateId("decision.case_id", d.case_id(), "a case id"));
  switch (d.type()) {
    case v1::DECISION_TYPE_ALLOCATE_PROGRAMME_LEAD:
    case v1::DECISION_TYPE_REFER_TO_SERVICE:
      if (!ValidateId("", d.target_id(), "").ok()) {
        return FieldError("decision.target_id",
                          d.type() == v1::DECISION_TYPE_REFER_TO_SERVICE
                              ? "name the directory service referred to"
                              : "name the partner whose programme lead takes the case");
      }
      break;
    case v1::DECISION_TYPE_REQUEST_FUND_SUPPORT:
      if (d.fund_amount().currency() != "GBP") {
        return FieldError("decision.fund_amount.currency", "must be GBP");
      }
      if (d.fund_amount().pence() <= 0 || d.fund_amount().pence() > kMaxFundPence) {
        return FieldError("decision.fund_amount.pence",
                          absl::StrCat("must be 1 to ", kMaxFundPence, " pence"));
      }
      break;
    case v1::DECISION_TYPE_REVIEW:
      if (!FromProtoDate(d.review_on()).ok()) {
        return FieldError("decision.review_on", "a review decision needs a review date");
      }
      break;
    default:
      break;
  }
  return absl::OkStatus();
}

// What a member organisation may see of an agenda item.
enum class Visibility { kFull, kRedacted, kHidden };

Visibility VisibilityFor(const Principal& who, bool runs_forum, const v1::ForumCase& c) {
  if (runs_forum || who.organisation_type == cv1::ORGANISATION_TYPE_COUNCIL) {
    return Visibility::kFull;
  }
  if (who.organisation_type == cv1::ORGANISATION_TYPE_SCHOOL) {
    return who.organisation_id == c.school_urn() ? Visibility::kFull : Visibility::kRedacted;
  }
  for (const std::string& partner : c.allocated_partner_ids()) {
    if (partner == who.organisation_id) return Visibility::kFull;
  }
  return Visibility::kHidden;
}

// The agenda pack's minimum for a member who needs to know only that a case
// is being heard: no referral id, no pupil reference, no school.
v1::ForumCase Redacted(const v1::ForumCase& c) {
  v1::ForumCase r;
  r.set_case_id(c.case_id());
  r.set_forum_id(c.forum_id());
  r.set_risk_band(c.risk_band());
  r.set_status(c.status());
  *r.mutable_hear_by() = c.hear_by();
  r.set_priority_reason(c.priority_reason());
  return r;
}

}  // namespace

ForumServiceImpl::ForumServiceImpl(ForumStore& store, const Clock& clock, Metrics& metrics,
                                   ForumServiceOptions options)
    : store_(store),
      clock_(clock),
      decisions_(prometheus::BuildCounter()
                     .Name("rooted_forum_decisions_total")
                     .Help("Forum decisions recorded, by type")
                     .Labels(metrics.service_labels())
                     .Register(*metrics.registry())),
      overdue_(prometheus::BuildCounter()
                   .Name("rooted_forum_actions_overdue_total")
                   .Help("Forum actions flagged overdue")
                   .Labels(metrics.service_labels())
                   .Register(*metrics.registry())),
      options_(std::move(options)) {
  // Every series starts at 0, so increase() sees the first of each.
  overdue_.Add({});
  for (int type = v1::DecisionType_MIN; type <= v1::DecisionType_MAX; ++type) {
    if (v1::DecisionType_IsValid(type) && type != 0) {
      decisions_.Add({{"type", v1::DecisionType_Name(static_cast<v1::DecisionType>(type))}});
    }
  }
}

// ---- shared steps -------------------------------------------------------

template <typename Request, typename Response>
absl::StatusOr<bool> ForumServiceImpl::Replayed(const Principal& who, absl::string_view method,
                                                const Request& request, Response* response) {
  return store_.Replayed(who.subject, method, request.request_id(), request, response);
}

template <typename Request>
absl::Status ForumServiceImpl::CommitCommand(const Principal& who, absl::string_view method,
                                             const Request& request,
                                             google::protobuf::Message* response,
                                             WriteBatch batch) {
  return store_.CommitCommand(who.subject, method, request.request_id(), request, response,
                              std::move(batch));
}

void ForumServiceImpl::AddEvent(WriteBatch& batch, const Principal& who, const std::string& key,
                                const std::string& correlation_id,
                                const std::string& causation_id, v1::ForumEvent event) const {
  FillEventMetadata(event.mutable_metadata(), options_.producer_name, correlation_id, causation_id,
                    PayloadTypeName(event), who, clock_.Now());
  store_.Publish(batch, ToOutboxEvent(topics::kForumEvents, key, event.metadata(), event));
}

AuditEntry ForumServiceImpl::Audit(const Principal& who, absl::string_view action,
                                   absl::string_view kind, const std::string& id,
                                   const std::string& request_id,
                                   const std::string& pupil_ref) const {
  AuditEntry entry = AuditOf(who, action, clock_.Now());
  entry.record_kind = std::string(kind);
  entry.record_id = id;
  entry.purpose = "multi-agency forum";
  entry.agreement = options_.sharing_agreement;
  entry.request_id = request_id;
  if (!pupil_ref.empty()) entry.pupil_refs = {pupil_ref};
  return entry;
}

absl::StatusOr<Versioned<v1::Forum>> ForumServiceImpl::LoadForum(const std::string& forum_id,
                                                                 absl::string_view field) {
  RETURN_IF_ERROR(ValidateId(field, forum_id, "a forum id"));
  return store_.Load<v1::Forum>(store_.ForumKey(forum_id), field);
}

absl::StatusOr<std::vector<v1::Meeting>> ForumServiceImpl::LoadMeetings(
    const std::string& forum_id) {
  ASSIGN_OR_RETURN(std::vector<std::string> ids,
                   store_.RangeByScore(store_.MeetingsKey(forum_id), "-inf", "+inf"));
  std::vector<std::string> keys;
  for (const std::string& id : ids) keys.push_back(store_.MeetingKey(id));
  ASSIGN_OR_RETURN(std::vector<Versioned<v1::Meeting>> loaded,
                   store_.LoadAll<v1::Meeting>(keys));
  std::vector<v1::Meeting> meetings;
  meetings.reserve(loaded.size());
  for (auto& m : loaded) meetings.push_back(std::move(m.record));
  return meetings;
}

absl::StatusOr<std::vector<v1::ForumCase>> ForumServiceImpl::LoadOpenCases(
    const std::string& forum_id) {
  ASSIGN_OR_RETURN(std::vector<std::string> ids, store_.SetMembers(store_.OpenCasesKey(forum_id)));
  std::vector<std::string> keys;
  keys.reserve(ids.size());
  for (const std::string& id : ids) keys.push_back(store_.CaseKey(id));
  ASSIGN_OR_RETURN(std::vector<Versioned<v1::ForumCase>> loaded,
                   store_.LoadAll<v1::ForumCase>(keys));
  std::vector<v1::ForumCase> cases;
  cases.reserve(loaded.size());
  for (auto& c : loaded) cases.push_back(std::move(c.record));
  return cases;
}

bool ForumServiceImpl::RunsForum(const Principal& who, const v1::Forum& forum) const {
  if (ActsForCouncil(who) && who.la_code == forum.la_code()) return true;
  return HoldsSeat(who, ForumSeats(forum), /*runs_forum=*/true);
}

absl::Status ForumServiceImpl::RequireRunsForum(const Principal& who, const v1::Forum& forum,
                                                absl::string_view method) const {
  if (RunsForum(who, forum)) return absl::OkStatus();
  return absl::PermissionDeniedError(
      absl::StrCat(method, ": only the forum's chair, coordinator or council may do this"));
}

absl::Status ForumServiceImpl::RequireSeesForum(const Principal& who, const v1::Forum& forum,
                                                absl::string_view method) const {
  if (RunsForum(who, forum) || HoldsSeat(who, ForumSeats(forum), /*runs_forum=*/false)) {
    return absl::OkStatus();
  }
  return absl::PermissionDeniedError(
      absl::StrCat(method, ": your organisation is not a member of this forum"));
}

// ---- forums and meetings ------------------------------------------------

absl::Status ForumServiceImpl::CreateForum(const Principal& who,
                                           const v1::CreateForumRequest* request,
                                           v1::CreateForumResponse* response) {
  if (!(ActsForCouncil(who) && who.la_code == request->forum().la_code())) {
    return absl::PermissionDeniedError(
        "forum.la_code: only this council's officers and coordinators create its forums");
  }
  ASSIGN_OR_RETURN(bool replayed, Replayed(who, "CreateForum", *request, response));
  if (replayed) return absl::OkStatus();
  const absl::Time now = clock_.Now();
  RETURN_IF_ERROR(ValidateForum(request->forum(), now));

  v1::Forum forum = request->forum();
  forum.set_forum_id(NewUuid());
  const std::vector<v1::Meeting> meetings = PlanMeetings(forum, CalendarOf(forum), options_.zone);
  if (meetings.empty()) {
    return FieldError("forum.cadence", "gives no meeting on a school day in the terms given");
  }
  WriteBatch batch;
  store_.Put(batch, store_.ForumKey(forum.forum_id()), forum, 0);
  batch.commands.push_back({"SADD", store_.ForumsOfCouncilKey(forum.la_code()), forum.forum_id()});
  for (int i = 0; i < forum.school_urns_size(); ++i) {
    // A school's referrals go to one forum.
    batch.preconditions.push_back({store_.SchoolForumKey(), forum.school_urns(i), ""});
    batch.commands.push_back(
        {"HSET", store_.SchoolForumKey(), forum.school_urns(i), forum.forum_id()});
  }
  for (const v1::Meeting& m : meetings) {
    store_.Put(batch, store_.MeetingKey(m.meeting_id()), m, 0);
    batch.commands.push_back({"ZADD", store_.MeetingsKey(forum.forum_id()),
                              std::to_string(m.starts_at().seconds()), m.meeting_id()});
    v1::ForumEvent event;
    *event.mutable_meeting_scheduled()->mutable_meeting() = m;
    AddEvent(batch, who, forum.forum_id(), forum.forum_id(), request->request_id(),
             std::move(event));
  }
  store_.Audit(batch, Audit(who, "CreateForum", "forum", forum.forum_id(), request->request_id()));
  *response->mutable_forum() = forum;
  absl::Status committed = CommitCommand(who, "CreateForum", *request, response, batch);
  if (absl::IsAborted(committed)) {
    // The only precondition a new forum can fail: a school already has one.
    for (int i = 0; i < forum.school_urns_size(); ++i) {
      ASSIGN_OR_RETURN(std::optional<std::string> other,
                       store_.HashField(store_.SchoolForumKey(), forum.school_urns(i)));
      if (other) {
        return absl::FailedPreconditionError(absl::StrCat(
            "forum.school_urns[", i, "]: the school already belongs to another forum"));
      }
    }
  }
  return committed;
}

absl::Status ForumServiceImpl::GetForum(const Principal& who, const v1::GetForumRequest* request,
                                        v1::GetForumResponse* response) {
  ASSIGN_OR_RETURN(auto forum, LoadForum(request->forum_id(), "forum_id"));
  RETURN_IF_ERROR(RequireSeesForum(who, forum.record, "GetForum"));
  *response->mutable_forum() = std::move(forum.record);
  return absl::OkStatus();
}

absl::Status ForumServiceImpl::ListForums(const Principal& who,
                                          const v1::ListForumsRequest* request,
                                          v1::ListForumsResponse* response) {
  ASSIGN_OR_RETURN(const Page page, ParsePage(request->page(), kDefaultPageSize, kMaxPageSize));
  ASSIGN_OR_RETURN(std::vector<std::string> ids,
                   store_.SetMembers(store_.ForumsOfCouncilKey(who.la_code)));
  std::sort(ids.begin(), ids.end());
  std::vector<std::string> keys;
  keys.reserve(ids.size());
  for (const std::string& id : ids) keys.push_back(store_.ForumKey(id));
  ASSIGN_OR_RETURN(std::vector<Versioned<v1::Forum>> forums, store_.LoadAll<v1::Forum>(keys));
  const bool council = ActsForCouncil(who);
  auto sees = [&](const v1::Forum& forum) {
    if (council && forum.la_code() == who.la_code) return true;
    if (HoldsSeat(who, ForumSeats(forum), /*runs_forum=*/false)) return true;
    return who.organisation_type == cv1::ORGANISATION_TYPE_SCHOOL &&
           std::find(forum.school_urns().begin(), forum.school_urns().end(), who.organisation_id) !=
               forum.school_urns().end();
  };
  size_t seen = 0;
  bool more = false;
  for (Versioned<v1::Forum>& forum : forums) {
    if (!sees(forum.record)) continue;
    if (seen++ < page.offset) continue;
    if (response->forums_size() == page.size) {
      more = true;
      break;
    }
    *response->add_forums() = std::move(forum.record);
  }
  response->mutable_page()->set_next_page_token(
      NextPageToken(page.offset + size_t(response->forums_size()), more));
  return absl::OkStatus();
}

absl::Status ForumServiceImpl::ListMeetings(const Principal& who,
                                            const v1::ListMeetingsRequest* request,
                                            v1::ListMeetingsResponse* response) {
  ASSIGN_OR_RETURN(auto forum, LoadForum(request->forum_id(), "forum_id"));
  RETURN_IF_ERROR(RequireSeesForum(who, forum.record, "ListMeetings"));
  ASSIGN_OR_RETURN(const Page page, ParsePage(request->page(), kDefaultPageSize, kMaxPageSize));
  const size_t offset = page.offset;
  const int page_size = page.size;
  ASSIGN_OR_RETURN(std::vector<v1::Meeting> meetings, LoadMeetings(request->forum_id()));
  std::vector<const v1::Meeting*> selected;
  for (const v1::Meeting& m : meetings) {
    if (request->has_from() && m.starts_at().seconds() < request->from().seconds()) continue;
    if (request->has_to() && m.starts_at().seconds() >= request->to().seconds()) continue;
    selected.push_back(&m);
  }
  size_t i = offset;
  for (; i < selected.size() && response->meetings_size() < page_size; ++i) {
    *response->add_meetings() = *selected[i];
  }
  response->mutable_page()->set_next_page_token(NextPageToken(i, i < selected.size()));
  return absl::OkStatus();
}

absl::Status ForumServiceImpl::CancelMeeting(const Principal& who,
                                             const v1::CancelMeetingRequest* request,
                                             v1::CancelMeetingResponse* response) {
  ASSIGN_OR_RETURN(bool replayed, Replayed(who, "CancelMeeting", *request, response));
  if (replayed) return absl::OkStatus();
  RETURN_IF_ERROR(ValidateId("meeting_id", request->meeting_id(), "a meeting id"));
  RETURN_IF_ERROR(ValidateText("reason", request->reason(), 500, true));
  ASSIGN_OR_RETURN(auto meeting, store_.Load<v1::Meeting>(store_.MeetingKey(request->meeting_id()),
                                                          "meeting_id"));
  ASSIGN_OR_RETURN(auto forum, LoadForum(meeting.record.forum_id(), "meeting_id"));
  RETURN_IF_ERROR(RequireRunsForum(who, forum.record, "CancelMeeting"));
  if (meeting.record.status() != v1::MEETING_STATUS_SCHEDULED) {
    return absl::FailedPreconditionError(
        "meeting_id: only a scheduled meeting can be cancelled (this one is held or cancelled)");
  }
  v1::Meeting& m = meeting.record;
  m.set_status(v1::MEETING_STATUS_CANCELLED);
  m.set_cancel_reason(request->reason());
  m.set_sequence(m.sequence() + 1);
  WriteBatch batch;
  store_.Put(batch, store_.MeetingKey(m.meeting_id()), m, meeting.version);
  v1::ForumEvent event;
  *event.mutable_meeting_cancelled()->mutable_meeting() = m;
  event.mutable_meeting_cancelled()->set_reason(request->reason());
  AddEvent(batch, who, m.forum_id(), m.forum_id(), request->request_id(), std::move(event));
  store_.Audit(batch,
               Audit(who, "CancelMeeting", "meeting", m.meeting_id(), request->request_id()));
  *response->mutable_meeting() = m;
  return CommitCommand(who, "CancelMeeting", *request, response, std::move(batch));
}

absl::Status ForumServiceImpl::MoveMeeting(const Principal& who,
                                           const v1::MoveMeetingRequest* request,
                                           v1::MoveMeetingResponse* response) {
  ASSIGN_OR_RETURN(bool replayed, Replayed(who, "MoveMeeting", *request, response));
  if (replayed) return absl::OkStatus();
  RETURN_IF_ERROR(ValidateId("meeting_id", request->meeting_id(), "a meeting id"));
  if (!request->has_new_starts_at()) return FieldError("new_starts_at", "is required");
  const absl::Time new_start = FromProtoTimestamp(request->new_starts_at());
  if (new_start <= clock_.Now()) return FieldError("new_starts_at", "must be in the future");
  ASSIGN_OR_RETURN(auto meeting, store_.Load<v1::Meeting>(store_.MeetingKey(request->meeting_id()),
                                                          "meeting_id"));
  ASSIGN_OR_RETURN(auto forum, LoadForum(meeting.record.forum_id(), "meeting_id"));
  RETURN_IF_ERROR(RequireRunsForum(who, forum.record, "MoveMeeting"));
  const std::string closed =
      CalendarOf(forum.record).WhyClosed(absl::ToCivilDay(new_start, options_.zone));
  if (!closed.empty()) {
    return FieldError("new_starts_at", absl::StrCat("is not a school day (", closed, ")"));
  }
  // The same hours CreateForum holds the cadence to, in the forum's time zone.
  const absl::CivilMinute local = absl::ToCivilMinute(new_start, options_.zone);
  RETURN_IF_ERROR(CheckMeetingHours("new_starts_at", local.hour() * 60 + local.minute(),
                                    meeting.record.duration_minutes()));
  if (meeting.record.status() != v1::MEETING_STATUS_SCHEDULED) {
    return absl::FailedPreconditionError(
        "meeting_id: only a scheduled meeting can be moved (this one is held or cancelled)");
  }
  v1::Meeting& m = meeting.record;
  *m.mutable_starts_at() = request->new_starts_at();
  m.set_sequence(m.sequence() + 1);
  WriteBatch batch;
  store_.Put(batch, store_.MeetingKey(m.meeting_id()), m, meeting.version);
  batch.commands.push_back({"ZADD", store_.MeetingsKey(m.forum_id()),
                            std::to_string(m.starts_at().seconds()), m.meeting_id()});
  v1::ForumEvent event;
  *event.mutable_meeting_scheduled()->mutable_meeting() = m;
  event.mutable_meeting_scheduled()->set_moved(true);
  AddEvent(batch, who, m.forum_id(), m.forum_id(), request->request_id(), std::move(event));
  store_.Audit(batch, Audit(who, "MoveMeeting", "meeting", m.meeting_id(), request->request_id()));
  *response->mutable_meeting() = m;
  return CommitCommand(who, "MoveMeeting", *request, response, std::move(batch));
}

absl::Status ForumServiceImpl::ExportCalendar(const Principal& who,
                                              const v1::ExportCalendarRequest* request,
                                              v1::ExportCalendarResponse* response) {
  ASSIGN_OR_RETURN(auto forum, LoadForum(request->forum_id(), "forum_id"));
  RETURN_IF_ERROR(RequireSeesForum(who, forum.record, "ExportCalendar"));
  ASSIGN_OR_RETURN(std::vector<v1::Meeting> meetings, LoadMeetings(request->forum_id()));
  response->set_ics(ExportICalendar(forum.record, meetings, clock_.Now()));
  return absl::OkStatus();
}

// ---- cases and agendas --------------------------------------------------

absl::Status ForumServiceImpl::ListCase(const Principal& who, const v1::ListCaseRequest* request,
                                        v1::ListCaseResponse* response) {
  ASSIGN_OR_RETURN(bool replayed, Replayed(who, "ListCase", *request, response));
  if (replayed) return absl::OkStatus();
  ASSIGN_OR_RETURN(auto forum, LoadForum(request->forum_id(), "forum_id"));
  RETURN_IF_ERROR(RequireRunsForum(who, forum.record, "ListCase"));
  RETURN_IF_ERROR(ValidateId("referral_id", request->referral_id(), "a referral id"));
  if (!PupilRefHasher::LooksLikeRef(request->pupil_ref().value())) {
    return FieldError("pupil_ref.value", "is not a pupil reference");
  }
  if (!IsSchoolUrn(request->school_urn())) return FieldError("school_urn", "a 6-digit URN");
  if (!cv1::RiskBand_IsValid(request->risk_band())) return FieldError("risk_band", "unknown band");
  const absl::Time now = clock_.Now();
  CaseSpec spec{.referral_id = request->referral_id(),
                .pupil_ref = request->pupil_ref().value(),
                .school_urn = request->school_urn(),
                .band = request->risk_band(),
                .hear_by = std::nullopt,
                .safeguarding_concern = false,
                .source = v1::CASE_SOURCE_COORDINATOR};
  if (request->has_hear_by()) {
    absl::StatusOr<absl::CivilDay> day = FromProtoDate(request->hear_by());
    if (!day.ok()) return FieldError("hear_by", "is not a calendar date");
    if (*day < absl::ToCivilDay(now, options_.zone)) return FieldError("hear_by", "is in the past");
    spec.hear_by = *day;
  }
  if (spec.band == cv1::RISK_BAND_UNSPECIFIED) {
    ASSIGN_OR_RETURN(std::optional<std::string> band,
                     store_.HashField(store_.PupilBandKey(), spec.pupil_ref));
    int value = 0;
    if (band && absl::SimpleAtoi(*band, &value) && cv1::RiskBand_IsValid(value)) {
      spec.band = cv1::RiskBand(value);
    }
  }
  v1::ForumCase c = NewCase(forum.record, spec, now, options_.zone);
  WriteBatch batch;
  // One case per referral, across forums.
  batch.preconditions.push_back({store_.ReferralCaseKey(), c.referral_id(), ""});
  c.set_version(1);
  store_.Put(batch, store_.CaseKey(c.case_id()), c, 0);
  AddCaseIndexes(store_, batch, c);
  v1::ForumEvent event;
  *event.mutable_case_listed()->mutable_forum_case() = c;
  AddEvent(batch, who, c.pupil_ref().value(), c.referral_id(), request->request_id(),
           std::move(event));
  store_.Audit(batch, Audit(who, "ListCase", "forum_case", c.case_id(), request->request_id(),
                            c.pupil_ref().value()));
  *response->mutable_forum_case() = c;
  absl::Status committed = CommitCommand(who, "ListCase", *request, response, std::move(batch));
  if (absl::IsAborted(committed)) {
    return absl::AlreadyExistsError("referral_id: the referral is already listed at a forum");
  }
  return committed;
}

absl::Status ForumServiceImpl::ListCases(const Principal& who, const v1::ListCasesRequest* request,
                                         v1::ListCasesResponse* response) {
  ASSIGN_OR_RETURN(auto forum, LoadForum(request->forum_id(), "forum_id"));
  RETURN_IF_ERROR(RequireRunsForum(who, forum.record, "ListCases"));
  ASSIGN_OR_RETURN(const Page page, ParsePage(request->page(), kDefaultPageSize, kMaxPageSize));
  const size_t offset = page.offset;
  const int page_size = page.size;
  ASSIGN_OR_RETURN(std::vector<v1::Meeting> meetings, LoadMeetings(request->forum_id()));
  ASSIGN_OR_RETURN(std::vector<v1::ForumCase> cases, LoadOpenCases(request->forum_id()));
  const AgendaPlan plan = PlanAgendas(forum.record, meetings, cases, clock_.Now(), options_.zone);
  // Agenda order: meeting by meeting, then the cases no meeting has room for.
  std::vector<size_t> order;
  for (size_t m : plan.planned_meetings) {
    order.insert(order.end(), plan.agendas[m].begin(), plan.agendas[m].end());
  }
  std::vector<size_t> unplaced;
  for (size_t i = 0; i < cases.size(); ++i) {
    if (plan.expected_meeting[i] < 0) unplaced.push_back(i);
  }
  std::sort(unplaced.begin(), unplaced.end(), [&](size_t a, size_t b) {
    return cases[a].listed_at().seconds() < cases[b].listed_at().seconds();
  });
  order.insert(order.end(), unplaced.begin(), unplaced.end());
  size_t i = offset;
  for (; i < order.size() && response->cases_size() < page_size; ++i) {
    const size_t c = order[i];
    v1::ScheduledCase* out = response->add_cases();
    *out->mutable_forum_case() = cases[c];
    if (plan.expected_meeting[c] >= 0) {
      const v1::Meeting& m = meetings[size_t(plan.expected_meeting[c])];
      out->set_expected_meeting_id(m.meeting_id());
      *out->mutable_expected_at() = m.starts_at();
    }
    out->set_misses_deadline(plan.misses_deadline[c]);
  }
  response->mutable_page()->set_next_page_token(NextPageToken(i, i < order.size()));
  return absl::OkStatus();
}

absl::Status ForumServiceImpl::GetAgenda(const Principal& who, const v1::GetAgendaRequest* request,
                                         v1::GetAgendaResponse* response) {
  RETURN_IF_ERROR(ValidateId("meeting_id", request->meeting_id(), "a meeting id"));
  ASSIGN_OR_RETURN(auto meeting, store_.Load<v1::Meeting>(store_.MeetingKey(request->meeting_id()),
                                                          "meeting_id"));
  ASSIGN_OR_RETURN(auto forum, LoadForum(meeting.record.forum_id(), "meeting_id"));
  RETURN_IF_ERROR(RequireSeesForum(who, forum.record, "GetAgenda"));
  const bool runs = RunsForum(who, forum.record);
  const int capacity = CaseCapacity(forum.record, meeting.record);
  *response->mutable_meeting() = meeting.record;

  std::vector<v1::ForumCase> items;
  std::vector<bool> late;
  std::vector<std::pair<v1::ForumCase, std::string>> not_fitted;
  if (meeting.record.status() == v1::MEETING_STATUS_HELD) {
    // A held meeting's agenda is what it heard.
    std::vector<std::string> keys;
    for (const std::string& id : meeting.record.heard_case_ids())
      keys.push_back(store_.CaseKey(id));
    ASSIGN_OR_RETURN(auto heard, store_.LoadAll<v1::ForumCase>(keys));
    for (auto& c : heard) {
      items.push_back(std::move(c.record));
      late.push_back(false);
    }
  } else if (meeting.record.status() == v1::MEETING_STATUS_SCHEDULED) {
    ASSIGN_OR_RETURN(std::vector<v1::Meeting> meetings, LoadMeetings(forum.record.forum_id()));
    ASSIGN_OR_RETURN(std::vector<v1::ForumCase> cases, LoadOpenCases(forum.record.forum_id()));
    // Plan from this meeting's start, so a meeting under way keeps its agenda.
    const absl::Time from = std::min(clock_.Now(), FromProtoTimestamp(meeting.record.starts_at()));
    const AgendaPlan plan = PlanAgendas(forum.record, meetings, cases, from, options_.zone);
    size_t index = 0;
    while (index < meetings.size() && meetings[index].meeting_id() != meeting.record.meeting_id()) {
      ++index;
    }
    if (index == meetings.size()) {
      return absl::InternalError("meeting_id: the meeting is missing from its forum's calendar");
    }
    for (size_t c : plan.agendas[index]) {
      items.push_back(cases[c]);
      late.push_back(plan.misses_deadline[c]);
    }
    // Left over: cases eligible for this meeting that later meetings (or
    // none) take, in the order they will be heard.
    std::vector<size_t> later;
    const auto here = std::find(plan.planned_meetings.begin(), plan.planned_meetings.end(), index);
    for (auto m = here == plan.planned_meetings.end() ? here : here + 1;
         m != plan.planned_meetings.end(); ++m) {
      later.insert(later.end(), plan.agendas[*m].begin(), plan.agendas[*m].end());
    }
    for (size_t c = 0; c < cases.size(); ++c) {
      if (plan.expected_meeting[c] < 0) later.push_back(c);
    }
    const absl::Time starts = FromProtoTimestamp(meeting.record.starts_at());
    for (size_t c : later) {
      if (cases[c].status() != v1::CASE_STATUS_OPEN ||
          !EligibleFor(cases[c], starts, options_.zone)) {
        continue;
      }
      not_fitted.emplace_back(cases[c],
                              NotFittedReason(plan, meetings, c, capacity, options_.zone));
    }
  }
  int order = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    const Visibility visibility = VisibilityFor(who, runs, items[i]);
    if (visibility == Visibility::kHidden) continue;
    v1::AgendaItem* item = response->add_items();
    item->set_order(++order);
    item->set_minutes(forum.record.minutes_per_case());
    item->set_misses_deadline(late[i]);
    item->set_redacted(visibility == Visibility::kRedacted);
    *item->mutable_forum_case() =
        visibility == Visibility::kRedacted ? Redacted(items[i]) : std::move(items[i]);
  }
  // Only those who run the forum plan around the cases left over.
  if (runs) {
    response->set_not_fitted_total(int32_t(not_fitted.size()));
    if (not_fitted.size() > kMaxNotFittedShown) not_fitted.resize(kMaxNotFittedShown);
    for (auto& [c, reason] : not_fitted) {
      v1::UnfittedCase* out = response->add_not_fitted();
      *out->mutable_forum_case() = std::move(c);
      out->set_reason(std::move(reason));
    }
  }
  return absl::OkStatus();
}

// ---- at the meeting -----------------------------------------------------

absl::Status ForumServiceImpl::RecordAttendance(const Principal& who,
                                                const v1::RecordAttendanceRequest* request,
                                                v1::RecordAttendanceResponse* response) {
  ASSIGN_OR_RETURN(bool replayed, Replayed(who, "RecordAttendance", *request, response));
  if (replayed) return absl::OkStatus();
  RETURN_IF_ERROR(ValidateId("meeting_id", request->meeting_id(), "a meeting id"));
  ASSIGN_OR_RETURN(auto meeting, store_.Load<v1::Meeting>(store_.MeetingKey(request->meeting_id()),
                                                          "meeting_id"));
  ASSIGN_OR_RETURN(auto forum, LoadForum(meeting.record.forum_id(), "meeting_id"));
  RETURN_IF_ERROR(RequireRunsForum(who, forum.record, "RecordAttendance"));
  v1::Meeting& m = meeting.record;
  if (m.status() == v1::MEETING_STATUS_CANCELLED) {
    return absl::FailedPreconditionError("meeting_id: the meeting was cancelled");
  }
  const absl::Time now = clock_.Now();
  if (absl::ToCivilDay(now, options_.zone) <
      absl::ToCivilDay(FromProtoTimestamp(m.starts_at()), options_.zone)) {
    return absl::FailedPreconditionError("meeting_id: the meeting has not happened yet");
  }
  std::vector<v1::ForumMember> present;
  std::set<std::string> seen;
  for (int i = 0; i < request->present_size(); ++i) {
    const cv1::OrganisationRef& org = request->present(i).organisation();
    const v1::ForumMember* member = FindMember(forum.record, org.type(), org.id());
    if (member == nullptr) {
      return FieldError(absl::StrCat("present[", i, "].organisation"),
                        "is not a member of this forum");
    }
    if (seen.insert(OrganisationName(org.type(), org.id())).second) present.push_back(*member);
  }
  if (m.status() == v1::MEETING_STATUS_SCHEDULED) {
    // The agenda is fixed as it stood when the meeting opened.
    ASSIGN_OR_RETURN(std::vector<v1::Meeting> meetings, LoadMeetings(forum.record.forum_id()));
    ASSIGN_OR_RETURN(std::vector<v1::ForumCase> cases, LoadOpenCases(forum.record.forum_id()));
    const AgendaPlan plan = PlanAgendas(forum.record, meetings, cases,
                                        FromProtoTimestamp(m.starts_at()), options_.zone);
    for (size_t i = 0; i < meetings.size(); ++i) {
      if (meetings[i].meeting_id() != m.meeting_id()) continue;
      for (size_t c : plan.agendas[i]) m.add_heard_case_ids(cases[c].case_id());
    }
  }
  const QuorumCheck quorum = CheckQuorum(forum.record, present);
  m.set_status(v1::MEETING_STATUS_HELD);
  m.set_quorate(quorum.quorate);
  m.clear_present();
  for (v1::ForumMember& p : present) *m.add_present() = std::move(p);
  WriteBatch batch;
  store_.Put(batch, store_.MeetingKey(m.meeting_id()), m, meeting.version);
  store_.Audit(batch,
               Audit(who, "RecordAttendance", "meeting", m.meeting_id(), request->request_id()));
  *response->mutable_meeting() = m;
  return CommitCommand(who, "RecordAttendance", *request, response, std::move(batch));
}

absl::Status ForumServiceImpl::RecordDecision(const Principal& who,
                                              const v1::RecordDecisionRequest* request,
                                              v1::RecordDecisionResponse* response) {
  ASSIGN_OR_RETURN(bool replayed, Replayed(who, "RecordDecision", *request, response));
  if (replayed) return absl::OkStatus();
  RETURN_IF_ERROR(ValidateId("meeting_id", request->meeting_id(), "a meeting id"));
  RETURN_IF_ERROR(ValidateDecision(request->decision()));
  ASSIGN_OR_RETURN(auto meeting, store_.Load<v1::Meeting>(store_.MeetingKey(request->meeting_id()),
                                                          "meeting_id"));
  ASSIGN_OR_RETURN(auto forum, LoadForum(meeting.record.forum_id(), "meeting_id"));
  RETURN_IF_ERROR(RequireRunsForum(who, forum.record, "RecordDecision"));
  if (meeting.record.status() != v1::MEETING_STATUS_HELD) {
    return absl::FailedPreconditionError(
        "meeting_id: record the meeting's attendance before its decisions");
  }
  if (!meeting.record.quorate()) {
    const QuorumCheck quorum = CheckQuorum(
        forum.record, {meeting.record.present().begin(), meeting.record.present().end()});
    return absl::FailedPreconditionError(absl::StrCat("meeting_id: the meeting was not quorate (",
                                                      quorum.shortfall,
                                                      "), so it can record no decisions"));
  }
  ASSIGN_OR_RETURN(auto found,
                   store_.Load<v1::ForumCase>(store_.CaseKey(request->decision().case_id()),
                                              "decision.case_id"));
  v1::ForumCase& c = found.record;
  if (c.forum_id() != forum.record.forum_id()) {
    return absl::NotFoundError("decision.case_id: not a case of this forum");
  }
  const bool heard_here = c.heard_at_meeting_id() == meeting.record.meeting_id();
  if (c.status() != v1::CASE_STATUS_OPEN && !heard_here) {
    return absl::FailedPreconditionError(absl::StrCat(
        "decision.case_id: the case is ", CaseStatusName(c.status()), " and takes no decisions"));
  }
  const absl::Time now = clock_.Now();
  v1::Decision decision = request->decision();
  decision.set_decision_id(NewUuid());
  *decision.mutable_decided_by() = who.ToActor();
  *decision.mutable_decided_at() = ToProtoTimestamp(now);
  if (decision.type() != v1::DECISION_TYPE_REFER_TO_SERVICE &&
      decision.type() != v1::DECISION_TYPE_ALLOCATE_PROGRAMME_LEAD) {
    decision.clear_target_id();
  }
  if (decision.type() != v1::DECISION_TYPE_REQUEST_FUND_SUPPORT) decision.clear_fund_amount();
  if (decision.type() != v1::DECISION_TYPE_REVIEW) decision.clear_review_on();

  // Heard: off the queue, unless a decision at this meeting sets a review.
  if (!heard_here) {
    c.set_heard_at_meeting_id(meeting.record.meeting_id());
    c.set_status(v1::CASE_STATUS_HEARD);
    c.clear_hear_from();
    c.clear_hear_by();
    c.clear_priority_reason();
  }
  if (decision.type() == v1::DECISION_TYPE_REVIEW) {
    c.set_status(v1::CASE_STATUS_OPEN);
    c.set_source(v1::CASE_SOURCE_REVIEW);
    *c.mutable_hear_from() = decision.review_on();
  }
  if (decision.type() == v1::DECISION_TYPE_ALLOCATE_PROGRAMME_LEAD &&
      std::find(c.allocated_partner_ids().begin(), c.allocated_partner_ids().end(),
                decision.target_id()) == c.allocated_partner_ids().end()) {
    c.add_allocated_partner_ids(decision.target_id());
  }
  c.set_version(found.version + 1);
  WriteBatch batch;
  store_.Put(batch, store_.CaseKey(c.case_id()), c, found.version);
  AddCaseIndexes(store_, batch, c);
  batch.commands.push_back(
      {"SET", store_.DecisionKey(decision.decision_id()), decision.SerializeAsString()});
  batch.commands.push_back({"RPUSH", store_.DecisionsKey(c.case_id()), decision.decision_id()});
  v1::ForumEvent event;
  v1::DecisionRecorded* recorded = event.mutable_decision_recorded();
  *recorded->mutable_decision() = decision;
  recorded->set_referral_id(c.referral_id());
  *recorded->mutable_pupil_ref() = c.pupil_ref();
  AddEvent(batch, who, c.pupil_ref().value(), c.referral_id(), request->request_id(),
           std::move(event));
  store_.Audit(batch, Audit(who, "RecordDecision", "forum_case", c.case_id(), request->request_id(),
                            c.pupil_ref().value()));
  *response->mutable_decision() = decision;
  RETURN_IF_ERROR(CommitCommand(who, "RecordDecision", *request, response, std::move(batch)));
  decisions_.Add({{"type", v1::DecisionType_Name(decision.type())}}).Increment();
  return absl::OkStatus();
}

// ---- actions ------------------------------------------------------------

absl::Status ForumServiceImpl::AssignAction(const Principal& who,
                                            const v1::AssignActionRequest* request,
                                            v1::AssignActionResponse* response) {
  ASSIGN_OR_RETURN(bool replayed, Replayed(who, "AssignAction", *request, response));
  if (replayed) return absl::OkStatus();
  const v1::Action& asked = request->action();
  RETURN_IF_ERROR(ValidateId("action.case_id", asked.case_id(), "a case id"));
  RETURN_IF_ERROR(ValidateText("action.description", asked.description(), 500, true));
  absl::StatusOr<absl::CivilDay> due = FromProtoDate(asked.due());
  if (!due.ok()) return FieldError("action.due", "is not a calendar date");
  const absl::Time now = clock_.Now();
  if (*due < absl::ToCivilDay(now, options_.zone))
    return FieldError("action.due", "is in the past");
  ASSIGN_OR_RETURN(auto found,
                   store_.Load<v1::ForumCase>(store_.CaseKey(asked.case_id()), "action.case_id"));
  const v1::ForumCase& c = found.record;
  // Who may assign (the forum's runners) the access rule has decided on the case's forum.
  ASSIGN_OR_RETURN(auto forum, LoadForum(c.forum_id(), "action.case_id"));
  if (FindMember(forum.record, asked.owner().type(), asked.owner().id()) == nullptr) {
    return FieldError("action.owner", "is not a member organisation of this forum");
  }
  if (!asked.meeting_id().empty()) {
    RETURN_IF_ERROR(ValidateId("action.meeting_id", asked.meeting_id(), "a meeting id"));
  }
  v1::Action action;
  action.set_action_id(NewUuid());
  action.set_case_id(c.case_id());
  action.set_description(asked.description());
  *action.mutable_owner() = asked.owner();
  *action.mutable_due() = asked.due();
  action.set_status(v1::ACTION_STATUS_OPEN);
  action.set_forum_id(forum.record.forum_id());
  action.set_meeting_id(asked.meeting_id());
  *action.mutable_assigned_by() = who.ToActor();
  WriteBatch batch;
  store_.Put(batch, store_.ActionKey(action.action_id()), action, 0);
  const std::string due_day = std::to_string(EpochDay(*due));
  batch.commands.push_back(
      {"ZADD", store_.ActionsKey(action.forum_id()), due_day, action.action_id()});
  batch.commands.push_back({"ZADD", store_.ActionsDueKey(), due_day, action.action_id()});
  v1::ForumEvent event;
  *event.mutable_action_assigned()->mutable_action() = action;
  event.mutable_action_assigned()->set_referral_id(c.referral_id());
  AddEvent(batch, who, c.pupil_ref().value(), c.referral_id(), request->request_id(),
           std::move(event));
  store_.Audit(batch, Audit(who, "AssignAction", "action", action.action_id(),
                            request->request_id(), c.pupil_ref().value()));
  *response->mutable_action() = action;
  return CommitCommand(who, "AssignAction", *request, response, std::move(batch));
}

absl::Status ForumServiceImpl::CompleteAction(const Principal& who,
                                              const v1::CompleteActionRequest* request,
                                              v1::CompleteActionResponse* response) {
  ASSIGN_OR_RETURN(bool replayed, Replayed(who, "CompleteAction", *request, response));
  if (replayed) return absl::OkStatus();
  RETURN_IF_ERROR(ValidateId("action_id", request->action_id(), "an action id"));
  ASSIGN_OR_RETURN(auto found,
                   store_.Load<v1::Action>(store_.ActionKey(request->action_id()), "action_id"));
  v1::Action& action = found.record;
  // Who may complete it (its owner organisation, the forum's runners) the
  // access rule has decided.
  if (action.status() == v1::ACTION_STATUS_DONE) {
    return absl::FailedPreconditionError("action_id: the action is already done");
  }
  ASSIGN_OR_RETURN(auto c,
                   store_.Load<v1::ForumCase>(store_.CaseKey(action.case_id()), "action_id"));
  action.set_status(v1::ACTION_STATUS_DONE);
  *action.mutable_completed_at() = ToProtoTimestamp(clock_.Now());
  WriteBatch batch;
  store_.Put(batch, store_.ActionKey(action.action_id()), action, found.version);
  batch.commands.push_back({"ZREM", store_.ActionsKey(action.forum_id()), action.action_id()});
  batch.commands.push_back({"ZREM", store_.ActionsDueKey(), action.action_id()});
  v1::ForumEvent event;
  *event.mutable_action_completed()->mutable_action() = action;
  event.mutable_action_completed()->set_referral_id(c.record.referral_id());
  AddEvent(batch, who, c.record.pupil_ref().value(), c.record.referral_id(), request->request_id(),
           std::move(event));
  store_.Audit(batch, Audit(who, "CompleteAction", "action", action.action_id(),
                            request->request_id(), c.record.pupil_ref().value()));
  *response->mutable_action() = action;
  return CommitCommand(who, "CompleteAction", *request, response, std::move(batch));
}

absl::Status ForumServiceImpl::ListOverdueActions(const Principal& who,
                                                  const v1::ListOverdueActionsRequest* request,
                                                  v1::ListOverdueActionsResponse* response) {
  ASSIGN_OR_RETURN(auto forum, LoadForum(request->forum_id(), "forum_id"));
  RETURN_IF_ERROR(RequireRunsForum(who, forum.record, "ListOverdueActions"));
  ASSIGN_OR_RETURN(const Page page, ParsePage(request->page(), kDefaultPageSize, kMaxPageSize));
  const size_t offset = page.offset;
  const int page_size = page.size;
  const int64_t yesterday = EpochDay(absl::ToCivilDay(clock_.Now(), options_.zone)) - 1;
  ASSIGN_OR_RETURN(std::vector<std::string> ids,
                   store_.RangeByScore(store_.ActionsKey(request->forum_id()), "-inf",
                                       std::to_string(yesterday)));
  std::vector<std::string> keys;
  for (size_t i = offset; i < ids.size() && keys.size() < size_t(page_size); ++i) {
    keys.push_back(store_.ActionKey(ids[i]));
  }
  ASSIGN_OR_RETURN(auto actions, store_.LoadAll<v1::Action>(keys));
  for (auto& a : actions) {
    // Overdue by date even before the sweeper has flagged it.
    if (a.record.status() == v1::ACTION_STATUS_OPEN) a.record.set_status(v1::ACTION_STATUS_OVERDUE);
    *response->add_actions() = std::move(a.record);
  }
  response->mutable_page()->set_next_page_token(
      NextPageToken(offset + keys.size(), offset + keys.size() < ids.size()));
  return absl::OkStatus();
}

absl::StatusOr<int> ForumServiceImpl::FlagOverdueActions() {
  const absl::Time now = clock_.Now();
  const int64_t yesterday = EpochDay(absl::ToCivilDay(now, options_.zone)) - 1;
  ASSIGN_OR_RETURN(std::vector<std::string> ids,
                   store_.RangeByScore(store_.ActionsDueKey(), "-inf", std::to_string(yesterday),
                                       500));
  // The sweeper acts for the service itself.
  const Principal system{options_.producer_name, {cv1::ROLE_SERVICE}, cv1::ORGANISATION_TYPE_UNSPECIFIED, "", ""};
  int flagged = 0;
  for (const std::string& id : ids) {
    absl::StatusOr<Versioned<v1::Action>> found =
        store_.Load<v1::Action>(store_.ActionKey(id), "action_id");
    WriteBatch batch;
    batch.commands.push_back({"ZREM", store_.ActionsDueKey(), id});
    if (found.ok() && found->record.status() == v1::ACTION_STATUS_OPEN) {
      v1::Action& action = found->record;
      action.set_status(v1::ACTION_STATUS_OVERDUE);
      store_.Put(batch, store_.ActionKey(id), action, found->version);
      absl::StatusOr<Versioned<v1::ForumCase>> c =
          store_.Load<v1::ForumCase>(store_.CaseKey(action.case_id()), "case_id");
      const std::string ref = c.ok() ? c->record.pupil_ref().value() : action.forum_id();
      const std::string referral = c.ok() ? c->record.referral_id() : "";
      v1::ForumEvent event;
      *event.mutable_action_overdue()->mutable_action() = action;
      event.mutable_action_overdue()->set_referral_id(referral);
      AddEvent(batch, system, ref, referral, id, std::move(event));
    } else if (!found.ok() && !absl::IsNotFound(found.status())) {
      return found.status();
    }
    ASSIGN_OR_RETURN(WriteOutcome outcome, store_.Commit(batch));
    if (outcome.kind == WriteOutcome::Kind::kApplied && batch.commands.size() > 1) {
      ++flagged;
      overdue_.Add({}).Increment();
    }
  }
  return flagged;
}

absl::StatusOr<RecordOwner> ForumOwners::OwnerOf(absl::string_view kind,
                                                 const std::string& id) const {
  std::string forum_id = id;
  std::string pupil_ref;
  std::optional<cv1::OrganisationRef> action_owner;
  if (kind == "meeting") {
    ASSIGN_OR_RETURN(const Versioned<v1::Meeting> meeting,
                     store_.Load<v1::Meeting>(store_.MeetingKey(id), "meeting_id"));
    forum_id = meeting.record.forum_id();
  } else if (kind == "case") {
    ASSIGN_OR_RETURN(const Versioned<v1::ForumCase> c,
                     store_.Load<v1::ForumCase>(store_.CaseKey(id), "case_id"));
    forum_id = c.record.forum_id();
    pupil_ref = c.record.pupil_ref().value();
  } else if (kind == "action") {
    ASSIGN_OR_RETURN(const Versioned<v1::Action> action,
                     store_.Load<v1::Action>(store_.ActionKey(id), "action_id"));
    forum_id = action.record.forum_id();
    action_owner = action.record.owner();
  } else if (kind != "forum") {
    return absl::NotFoundError("no such record");
  }
  ASSIGN_OR_RETURN(const Versioned<v1::Forum> forum,
                   store_.Load<v1::Forum>(store_.ForumKey(forum_id), "forum_id"));
  RecordOwner owner = ForumOwner(forum.record);
  owner.pupil_ref = pupil_ref;
  // An action is its owner organisation's as well as the forum's.
  if (action_owner && action_owner->type() == cv1::ORGANISATION_TYPE_SCHOOL) {
    owner.school_urn = action_owner->id();
  }
  if (action_owner && action_owner->type() == cv1::ORGANISATION_TYPE_PARTNER) {
    owner.partner_ids.push_back(action_owner->id());
  }
  return owner;
}

void ForumServiceImpl::Bind(GuardedService& service) {
  service.Handle("CreateForum", *this, &ForumServiceImpl::CreateForum);
  service.Handle("GetForum", *this, &ForumServiceImpl::GetForum);
  service.Handle("ListForums", *this, &ForumServiceImpl::ListForums);
  service.Handle("ListMeetings", *this, &ForumServiceImpl::ListMeetings);
  service.Handle("CancelMeeting", *this, &ForumServiceImpl::CancelMeeting);
  service.Handle("MoveMeeting", *this, &ForumServiceImpl::MoveMeeting);
  service.Handle("ListCase", *this, &ForumServiceImpl::ListCase);
  service.Handle("ListCases", *this, &ForumServiceImpl::ListCases);
  service.Handle("GetAgenda", *this, &ForumServiceImpl::GetAgenda);
  service.Handle("RecordAttendance", *this, &ForumServiceImpl::RecordAttendance);
  service.Handle("RecordDecision", *this, &ForumServiceImpl::RecordDecision);
  service.Handle("AssignAction", *this, &ForumServiceImpl::AssignAction);
  service.Handle("CompleteAction", *this, &ForumServiceImpl::CompleteAction);
  service.Handle("ListOverdueActions", *this, &ForumServiceImpl::ListOverdueActions);
  service.Handle("ExportCalendar", *this, &ForumServiceImpl::ExportCalendar);
}

}  // namespace rooted::forum
