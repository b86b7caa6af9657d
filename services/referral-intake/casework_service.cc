#include "services/referral-intake/casework_service.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/base/field_validation.h"
#include "common/base/ids.h"
#include "common/base/proto_date.h"
#include "common/base/proto_time.h"
#include "common/base/retry_later.h"
#include "common/base/status_macros.h"
#include "common/kafka/event_metadata.h"
#include "common/kafka/topics.h"
#include "rooted/referral/v1/referral_events.pb.h"
#include "services/referral-intake/case_timeline.h"

namespace rooted::referral {
namespace {

namespace cv1 = rooted::common::v1;

constexpr int kMaxCaseloadLimit = 100;
constexpr int kMaxContacts = 1000;
constexpr int kMaxGoals = 50;
constexpr int kMaxProgressPerGoal = 200;
constexpr int kMaxFeedback = 100;

bool IsPartnerWorker(const Principal& who) {
  return who.organisation_type == cv1::ORGANISATION_TYPE_PARTNER &&
         who.HasAnyRole({cv1::ROLE_PROGRAMME_LEAD, cv1::ROLE_PARTNER_WORKER});
}

// Staff accounts and partner ids: 1 to 128 characters of [A-Za-z0-9._@:-].
absl::Status ValidateName(absl::string_view path, absl::string_view text, absl::string_view what) {
  const bool ok = !text.empty() && text.size() <= 128 && std::all_of(text.begin(), text.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '@' || c == ':' ||
           c == '-';
  });
  return ok ? absl::OkStatus() : FieldError(path, absl::StrCat("is not ", what));
}

// A day that has happened (contacts, progress and feedback are records of it).
absl::Status ValidatePastDay(absl::string_view path, const cv1::Date& date, absl::CivilDay today) {
  absl::StatusOr<absl::CivilDay> day = FromProtoDate(date);
  if (!day.ok()) return FieldError(path, "is not a date");
  if (*day > today) return FieldError(path, "is in the future");
  if (*day < today - 366) return FieldError(path, "is more than a year ago");
  return absl::OkStatus();
}

}  // namespace

CaseworkServiceImpl::CaseworkServiceImpl(CaseworkStore& store, ReferralStore& referrals,
                                         const Clock& clock, IntakeOptions options)
    : store_(store), referrals_(referrals), clock_(clock), options_(std::move(options)) {}

AuditEntry CaseworkServiceImpl::Audit(const Principal& who, absl::string_view action,
                                      const std::string& referral_id, const std::string& request_id) const {
  AuditEntry entry = AuditOf(who, action, clock_.Now());
  entry.record_kind = "casework";
  entry.record_id = referral_id;
  entry.agreement = options_.sharing_agreement;
  entry.request_id = request_id;
  return entry;
}

absl::Status CaseworkServiceImpl::RequireCoordinator(const Principal& who, const std::string& la_code,
                                                     absl::string_view method) const {
  if (ActsForCouncil(who) && (la_code.empty() || who.la_code == la_code)) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat(method, ": the council's coordinators only"));
}

absl::StatusOr<std::vector<std::string>> CaseworkServiceImpl::OpenCases(
    const google::protobuf::RepeatedPtrField<std::string>& ids, const std::string& except) {
  std::vector<std::string> open;
  for (const std::string& id : ids) {
    if (id == except) continue;
    absl::StatusOr<v1::Referral> referral = referrals_.Get(id);
    if (absl::IsNotFound(referral.status())) continue;
    if (!referral.ok()) return referral.status();
    if (IsOpenReferral(referral->status())) open.push_back(id);
  }
  return open;
}

absl::Status CaseworkServiceImpl::SetLeadCapacity(const Principal& who,
                                                  const v1::SetLeadCapacityRequest* request,
                                                  v1::SetLeadCapacityResponse* response) {
  RETURN_IF_ERROR(RequireCoordinator(who, "", "SetLeadCapacity"));
  ASSIGN_OR_RETURN(bool replayed, store_.Replayed(who.subject, "SetLeadCapacity",
                                                  request->request_id(), *request, response));
  if (replayed) return absl::OkStatus();
  RETURN_IF_ERROR(ValidateName("lead_subject", request->lead_subject(), "a staff account"));
  RETURN_IF_ERROR(ValidateName("partner_id", request->partner_id(), "a partner organisation id"));
  if (request->caseload_limit() < 1 || request->caseload_limit() > kMaxCaseloadLimit) {
    return FieldError("caseload_limit", absl::StrCat("1 to ", kMaxCaseloadLimit, " cases"));
  }
  const std::string key =
      store_.LeadKey(who.la_code, request->partner_id(), request->lead_subject());
  absl::StatusOr<Versioned<v1::LeadCaseload>> existing =
      store_.Load<v1::LeadCaseload>(key, "lead_subject");
  if (!existing.ok() && !absl::IsNotFound(existing.status())) return existing.status();
  v1::LeadCaseload lead = existing.ok() ? existing->record : v1::LeadCaseload{};
  const int64_t version = existing.ok() ? existing->version : 0;
  lead.set_lead_subject(request->lead_subject());
  lead.set_partner_id(request->partner_id());
  lead.set_caseload_limit(request->caseload_limit());
  lead.set_la_code(who.la_code);
  lead.set_version(version + 1);
  WriteBatch batch;
  store_.Put(batch, key, lead, version);
  batch.commands.push_back(
      {"SADD", store_.LeadsKey(),
       CaseworkStore::LeadMember(who.la_code, request->partner_id(), request->lead_subject())});
  store_.Audit(batch, Audit(who, "SetLeadCapacity", "", request->request_id()));
  *response->mutable_caseload() = lead;
  return store_.CommitCommand(who.subject, "SetLeadCapacity", request->request_id(), *request,
                              response, std::move(batch));
}

absl::Status CaseworkServiceImpl::AllocateLead(const Principal& who,
                                               const v1::AllocateLeadRequest* request,
                                               v1::AllocateLeadResponse* response) {
  RETURN_IF_ERROR(RequireCoordinator(who, "", "AllocateLead"));
  ASSIGN_OR_RETURN(bool replayed, store_.Replayed(who.subject, "AllocateLead",
                                                  request->request_id(), *request, response));
  if (replayed) return absl::OkStatus();
  RETURN_IF_ERROR(ValidateId("referral_id", request->referral_id(), "a referral id"));
  RETURN_IF_ERROR(ValidateName("lead_subject", request->lead_subject(), "a staff account"));
  RETURN_IF_ERROR(ValidateText("reason", request->reason(), 300, /*required=*/true));
  // The referral, the leads' caseloads and the casework may each change
  // between our reads and our write (another allocation, the case timeline):
  // read them again and redo, rather than hand the race back.
  return RetryOnConflict(3, [&] {
    response->Clear();
    return AllocateLeadOnce(who, request, response);
  });
}

absl::Status CaseworkServiceImpl::AllocateLeadOnce(const Principal& who,
                                                   const v1::AllocateLeadRequest* request,
                                                   v1::AllocateLeadResponse* response) {
  ASSIGN_OR_RETURN(v1::Referral referral, referrals_.Get(request->referral_id()));
  RETURN_IF_ERROR(RequireCoordinator(who, referral.la_code(), "AllocateLead"));
  if (!IsOpenReferral(referral.status())) {
    return absl::FailedPreconditionError(absl::StrCat("referral_id: the case is ",
                                                      v1::ReferralStatus_Name(referral.status()),
                                                      " and takes no lead"));
  }
  // The lead, found among this council's partners' leads by subject.
  ASSIGN_OR_RETURN(std::vector<std::string> members, store_.SetMembers(store_.LeadsKey()));
  std::string partner_id;
  const std::string council = referral.la_code() + "|";
  const std::string subject = "|" + request->lead_subject();
  for (const std::string& member : members) {
    if (member.rfind(council, 0) != 0 || member.size() <= council.size() + subject.size() ||
        member.compare(member.size() - subject.size(), subject.size(), subject) != 0) {
      continue;
    }
    partner_id = member.substr(council.size(), member.size() - council.size() - subject.size());
  }
  if (partner_id.empty()) {
    return absl::FailedPreconditionError(
        "lead_subject: has no caseload limit yet; set one with SetLeadCapacity");
  }
  const std::string lead_key =
      store_.LeadKey(referral.la_code(), partner_id, request->lead_subject());
  ASSIGN_OR_RETURN(auto lead, store_.Load<v1::LeadCaseload>(lead_key, "lead_subject"));

  const std::string casework_key = store_.CaseworkKey(referral.referral_id());
  absl::StatusOr<Versioned<v1::Casework>> loaded =
      store_.Load<v1::Casework>(casework_key, "referral_id");
  if (!loaded.ok() && !absl::IsNotFound(loaded.status())) return loaded.status();
  v1::Casework casework = loaded.ok() ? loaded->record : v1::Casework{};
  const int64_t casework_version = loaded.ok() ? loaded->version : 0;
  if (casework.allocation().lead_subject() == request->lead_subject() &&
      casework.allocation().partner_id() == partner_id) {
    *response->mutable_casework() = casework;  // already theirs
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(std::vector<std::string> open,
                   OpenCases(lead.record.referral_ids(), referral.referral_id()));
  if (int(open.size()) >= lead.record.caseload_limit()) {
    return absl::FailedPreconditionError(absl::StrCat("lead_subject: caseload full (", open.size(),
                                                      " open cases of ",
                                                      lead.record.caseload_limit(), ")"));
  }
  WriteBatch batch;
  const absl::Time now = clock_.Now();
  // Off the previous lead's caseload.
  std::string previous_partner;
  if (casework.has_allocation()) {
    previous_partner = casework.allocation().partner_id();
    const std::string old_key =
        store_.LeadKey(referral.la_code(), previous_partner, casework.allocation().lead_subject());
    absl::StatusOr<Versioned<v1::LeadCaseload>> old =
        store_.Load<v1::LeadCaseload>(old_key, "lead_subject");
    if (old.ok()) {
      v1::LeadCaseload& record = old->record;
      auto* ids = record.mutable_referral_ids();
      ids->erase(std::remove(ids->begin(), ids->end(), referral.referral_id()), ids->end());
      record.set_version(old->version + 1);
      store_.Put(batch, old_key, record, old->version);
    }
    *casework.add_previous_allocations() = casework.allocation();
  }
  v1::LeadCaseload& record = lead.record;
  record.clear_referral_ids();
  for (const std::string& id : open) record.add_referral_ids(id);
  record.add_referral_ids(referral.referral_id());
  record.set_version(lead.version + 1);
  store_.Put(batch, lead_key, record, lead.version);

  casework.set_referral_id(referral.referral_id());
  *casework.mutable_pupil_ref() = referral.pupil_ref();
  casework.set_school_urn(referral.details().child().school_urn());
  casework.set_la_code(referral.la_code());
  v1::Allocation* allocation = casework.mutable_allocation();
  allocation->set_lead_subject(request->lead_subject());
  allocation->set_partner_id(partner_id);
  *allocation->mutable_allocated_at() = ToProtoTimestamp(now);
  *allocation->mutable_allocated_by() = who.ToActor();
  allocation->set_reason(request->reason());
  casework.set_version(casework_version + 1);
  store_.Put(batch, casework_key, casework, casework_version);

  // The partner may now read the referral (and close the case), and a case
  // with a lead is in support.
  const bool new_partner =
      std::find(referral.allocated_partner_ids().begin(), referral.allocated_partner_ids().end(),
                partner_id) == referral.allocated_partner_ids().end();
  const bool moves_on = MovesCaseOn(referral.status(), v1::REFERRAL_STATUS_IN_SUPPORT);
  if (new_partner || moves_on) {
    const int64_t referral_version = referral.version();
    if (new_partner) referral.add_allocated_partner_ids(partner_id);
    if (moves_on) referral.set_status(v1::REFERRAL_STATUS_IN_SUPPORT);
    referral.set_version(referral_version + 1);
    *referral.mutable_updated_at() = ToProtoTimestamp(now);
    referrals_.AppendWrite(batch, referral, referral_version);
  }
  v1::ReferralEvent event;
  v1::LeadAllocated* allocated = event.mutable_lead_allocated();
  allocated->set_referral_id(referral.referral_id());
  *allocated->mutable_pupil_ref() = referral.pupil_ref();
  allocated->set_partner_id(partner_id);
  allocated->set_lead_subject(request->lead_subject());
  allocated->set_previous_partner_id(previous_partner);
  FillEventMetadata(event.mutable_metadata(), options_.producer_name, referral.referral_id(),
                    request->request_id(), PayloadTypeName(event), who, now);
  store_.Publish(batch, ToOutboxEvent(topics::kReferralEvents, referral.pupil_ref().value(),
                                      event.metadata(), event));
  AppendToTimeline(referrals_, batch, event);
  AuditEntry entry = Audit(who, "AllocateLead", referral.referral_id(), request->request_id());
  entry.pupil_refs = {referral.pupil_ref().value()};
  store_.Audit(batch, entry);
  *response->mutable_casework() = casework;
  return store_.CommitCommand(who.subject, "AllocateLead", request->request_id(), *request,
                              response, std::move(batch));
}

absl::Status CaseworkServiceImpl::ListCaseloads(const Principal& who,
                                                const v1::ListCaseloadsRequest* request,
                                                v1::ListCaseloadsResponse* response) {
  std::string partner = request->partner_id();
  if (IsPartnerWorker(who)) {
    if (partner.empty()) partner = who.organisation_id;
    if (partner != who.organisation_id) {
      return absl::PermissionDeniedError(
          "partner_id: partners see their own organisation's caseloads");
    }
  } else {
    RETURN_IF_ERROR(RequireCoordinator(who, "", "ListCaseloads"));
  }
  if (!partner.empty())
    RETURN_IF_ERROR(ValidateName("partner_id", partner, "a partner organisation id"));
  ASSIGN_OR_RETURN(std::vector<std::string> members, store_.SetMembers(store_.LeadsKey()));
  std::sort(members.begin(), members.end());
  // This council's leads (of one partner, if asked).
  const std::string wanted =
      partner.empty() ? who.la_code + "|" : who.la_code + "|" + partner + "|";
  std::vector<std::string> keys;
  for (const std::string& member : members) {
    if (member.rfind(wanted, 0) == 0) keys.push_back(store_.LeadKeyOf(member));
  }
  ASSIGN_OR_RETURN(auto leads, store_.LoadAll<v1::LeadCaseload>(keys));
  for (auto& lead : leads) {
    ASSIGN_OR_RETURN(std::vector<std::string> open, OpenCases(lead.record.referral_ids(), ""));
    lead.record.clear_referral_ids();
    for (const std::string& id : open) lead.record.add_referral_ids(id);
    *response->add_caseloads() = std::move(lead.record);
  }
  return absl::OkStatus();
}

template <typename Request, typename Response>
absl::Status CaseworkServiceImpl::ChangeAsLead(
    const Principal& who, absl::string_view method, const Request& request, Response* response,
    const std::function<absl::Status(v1::Casework&, const Principal&)>& change) {
  ASSIGN_OR_RETURN(bool replayed, store_.Replayed(who.subject, method, request.request_id(), request, response));
  if (replayed) return absl::OkStatus();
  RETURN_IF_ERROR(ValidateId("referral_id", request.referral_id(), "a referral id"));
  ASSIGN_OR_RETURN(auto loaded, store_.Load<v1::Casework>(store_.CaseworkKey(request.referral_id()), "referral_id"));
  v1::Casework& casework = loaded.record;
  // The rule (the case's allocated lead) was decided on the casework as the
  // shared path read it; this catches only a reallocation since, with the
  // path's own answer.
  if (who.organisation_id != casework.allocation().partner_id() ||
      who.subject != casework.allocation().lead_subject()) {
    return absl::NotFoundError("referral_id: no such casework");
  }
  ASSIGN_OR_RETURN(v1::Referral referral, referrals_.Get(request.referral_id()));
  if (!IsOpenReferral(referral.status())) {
    return absl::FailedPreconditionError(
        absl::StrCat("referral_id: the case is ", v1::ReferralStatus_Name(referral.status())));
  }
  RETURN_IF_ERROR(change(casework, who));
  casework.set_version(loaded.version + 1);
  WriteBatch batch;
  store_.Put(batch, store_.CaseworkKey(request.referral_id()), casework, loaded.version);
  AuditEntry entry = Audit(who, method, request.referral_id(), request.request_id());
  entry.pupil_refs = {casework.pupil_ref().value()};
  store_.Audit(batch, entry);
  *response->mutable_casework() = casework;
  return store_.CommitCommand(who.subject, method, request.request_id(), request, response, std::move(batch));
}

absl::Status CaseworkServiceImpl::RecordContact(const Principal& who,
                                                const v1::RecordContactRequest* request,
                                                v1::RecordContactResponse* response) {
  const v1::Contact& c = request->contact();
  RETURN_IF_ERROR(ValidatePastDay("contact.date", c.date(),
                                  absl::ToCivilDay(clock_.Now(), absl::UTCTimeZone())));
  if (c.with() == v1::CONTACT_WITH_UNSPECIFIED || !v1::ContactWith_IsValid(c.with())) {
    return FieldError("contact.with", "the child, a parent or carer, the school or another agency");
  }
  if (c.type() == v1::CONTACT_TYPE_UNSPECIFIED || !v1::ContactType_IsValid(c.type())) {
    return FieldError("contact.type",
                      "face to face, home visit, phone, video, message or attempted");
  }
  if (c.duration_minutes() < 0 || c.duration_minutes() > 480) {
    return FieldError("contact.duration_minutes", "0 to 480 minutes");
  }
  RETURN_IF_ERROR(
      ValidateText("contact.note", c.note(), 500, /*required=*/false, /*multiline=*/true));
  return ChangeAsLead(who, "RecordContact", *request, response,
                      [&](v1::Casework& casework, const Principal& lead) {
                        if (casework.contacts_size() >= kMaxContacts)
                          return FieldError("contact", "the case has too many contacts");
                        v1::Contact* added = casework.add_contacts();
                        *added = c;
                        added->set_contact_id(NewUuid());
                        *added->mutable_recorded_by() = lead.ToActor();
                        return absl::OkStatus();
                      });
}

absl::Status CaseworkServiceImpl::SetGoal(const Principal& who, const v1::SetGoalRequest* request,
                                          v1::SetGoalResponse* response) {
  const v1::Goal& goal = request->goal();
  RETURN_IF_ERROR(ValidateText("goal.description", goal.description(), 300, /*required=*/true));
  if (!FromProtoDate(goal.target_date()).ok())
    return FieldError("goal.target_date", "is not a date");
  if (goal.progress_size() > 0)
    return FieldError("goal.progress", "is recorded with RecordGoalProgress");
  return ChangeAsLead(who, "SetGoal", *request, response,
                      [&](v1::Casework& casework, const Principal&) {
                        // A goal id names a goal to revise; none adds one.
                        if (!goal.goal_id().empty()) {
                          for (v1::Goal& existing : *casework.mutable_goals()) {
                            if (existing.goal_id() != goal.goal_id()) continue;
                            existing.set_description(goal.description());
                            *existing.mutable_target_date() = goal.target_date();
                            return absl::OkStatus();
                          }
                          return absl::NotFoundError("goal.goal_id: no such goal on this case");
                        }
                        if (casework.goals_size() >= kMaxGoals)
                          return FieldError("goal", "the case has too many goals");
                        v1::Goal* added = casework.add_goals();
                        *added = goal;
                        added->set_goal_id(NewUuid());
                        return absl::OkStatus();
                      });
}

absl::Status CaseworkServiceImpl::RecordGoalProgress(const Principal& who,
                                                     const v1::RecordGoalProgressRequest* request,
                                                     v1::RecordGoalProgressResponse* response) {
  const v1::GoalProgress& p = request->progress();
  RETURN_IF_ERROR(ValidatePastDay("progress.date", p.date(),
                                  absl::ToCivilDay(clock_.Now(), absl::UTCTimeZone())));
  if (p.scale() == v1::PROGRESS_SCALE_UNSPECIFIED || !v1::ProgressScale_IsValid(p.scale())) {
    return FieldError("progress.scale", "not started, a little, some, mostly or achieved");
  }
  RETURN_IF_ERROR(ValidateText("progress.note", p.note(), 300, /*required=*/false));
  return ChangeAsLead(who, "RecordGoalProgress", *request, response,
                      [&](v1::Casework& casework, const Principal& lead) -> absl::Status {
                        for (v1::Goal& goal : *casework.mutable_goals()) {
                          if (goal.goal_id() != request->goal_id()) continue;
                          if (goal.progress_size() >= kMaxProgressPerGoal) {
                            return FieldError("progress", "the goal has too many progress entries");
                          }
                          v1::GoalProgress* added = goal.add_progress();
                          *added = p;
                          *added->mutable_recorded_by() = lead.ToActor();
                          return absl::OkStatus();
                        }
                        return absl::NotFoundError("goal_id: no such goal on this case");
                      });
}

absl::Status CaseworkServiceImpl::RecordFeedback(const Principal& who,
                                                 const v1::RecordFeedbackRequest* request,
                                                 v1::RecordFeedbackResponse* response) {
  const v1::Feedback& f = request->feedback();
  if (f.from() == v1::FEEDBACK_FROM_UNSPECIFIED || !v1::FeedbackFrom_IsValid(f.from())) {
    return FieldError("feedback.from", "the child or a parent or carer");
  }
  RETURN_IF_ERROR(ValidatePastDay("feedback.date", f.date(),
                                  absl::ToCivilDay(clock_.Now(), absl::UTCTimeZone())));
  RETURN_IF_ERROR(ValidateText("feedback.what_helped", f.what_helped(), 1000, /*required=*/true,
                               /*multiline=*/true));
  if (f.rating() < 1 || f.rating() > 5)
    return FieldError("feedback.rating", "1 (did not help) to 5 (helped a lot)");
  return ChangeAsLead(who, "RecordFeedback", *request, response,
                      [&](v1::Casework& casework, const Principal&) {
                        if (casework.feedback_size() >= kMaxFeedback)
                          return FieldError("feedback", "the case has too much feedback");
                        *casework.add_feedback() = f;
                        return absl::OkStatus();
                      });
}

absl::Status CaseworkServiceImpl::GetCasework(const Principal& who,
                                              const v1::GetCaseworkRequest* request,
                                              v1::GetCaseworkResponse* response) {
  RETURN_IF_ERROR(ValidateId("referral_id", request->referral_id(), "a referral id"));
  ASSIGN_OR_RETURN(auto loaded, store_.Load<v1::Casework>(
                                    store_.CaseworkKey(request->referral_id()), "referral_id"));
  const v1::Casework& casework = loaded.record;
  const bool lead_organisation =
      IsPartnerWorker(who) && who.organisation_id == casework.allocation().partner_id();
  const bool coordinator = ActsForCouncil(who) && who.la_code == casework.la_code();
  if (!lead_organisation && !coordinator) {
    return absl::PermissionDeniedError(
        "referral_id: casework is for the lead's organisation and the council's coordinators");
  }
  *response->mutable_casework() = casework;
  return absl::OkStatus();
}

void CaseworkServiceImpl::Bind(GuardedService& service) {
  service.Handle("SetLeadCapacity", *this, &CaseworkServiceImpl::SetLeadCapacity);
  service.Handle("AllocateLead", *this, &CaseworkServiceImpl::AllocateLead);
  service.Handle("ListCaseloads", *this, &CaseworkServiceImpl::ListCaseloads);
  service.Handle("RecordContact", *this, &CaseworkServiceImpl::RecordContact);
  service.Handle("SetGoal", *this, &CaseworkServiceImpl::SetGoal);
  service.Handle("RecordGoalProgress", *this, &CaseworkServiceImpl::RecordGoalProgress);
  service.Handle("RecordFeedback", *this, &CaseworkServiceImpl::RecordFeedback);
  service.Handle("GetCasework", *this, &CaseworkServiceImpl::GetCasework);
}

}  // namespace rooted::referral
