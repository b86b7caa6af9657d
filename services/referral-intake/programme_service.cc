#include "services/referral-intake/programme_service.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/base/field_validation.h"
#include "common/base/proto_time.h"
#include "common/base/status_macros.h"
#include "common/kafka/event_metadata.h"
#include "common/kafka/topics.h"
#include "rooted/referral/v1/referral_events.pb.h"
#include "rooted/risk/v1/risk_events.pb.h"
#include "services/referral-intake/case_timeline.h"
#include "services/referral-intake/programme_rules.h"

namespace rooted::referral {
namespace {

namespace cv1 = rooted::common::v1;
namespace kv1 = rooted::risk::v1;

constexpr int kDefaultTestLimit = 200;
constexpr int kMaxTestLimit = 1000;

bool IsCouncilOfficer(const Principal& who) {
  return who.HasRole(cv1::ROLE_COUNCIL_OFFICER) && who.organisation_type == cv1::ORGANISATION_TYPE_COUNCIL;
}

// Those who may read the referral may read its screening.
absl::Status CanReadScreening(const Principal& who, const v1::Referral& r) {
  if (ActsForSchool(who) && who.IsSchool(r.details().child().school_urn())) return absl::OkStatus();
  if (ActsForCouncil(who) && who.la_code == r.la_code()) return absl::OkStatus();
  if (who.organisation_type == cv1::ORGANISATION_TYPE_PARTNER && who.la_code == r.la_code() &&
      std::find(r.allocated_partner_ids().begin(), r.allocated_partner_ids().end(), who.organisation_id) !=
          r.allocated_partner_ids().end()) {
    return absl::OkStatus();
  }
  return absl::PermissionDeniedError("referral_id: you may not see this referral");
}

v1::ReferralEvent ScreenedEvent(const v1::Screening& s, const cv1::PupilRef& pupil) {
  v1::ReferralEvent event;
  v1::ReferralScreened* e = event.mutable_referral_screened();
  e->set_referral_id(s.referral_id());
  *e->mutable_pupil_ref() = pupil;
  e->set_programme_id(s.programme_id());
  e->set_programme_version(s.programme_version());
  e->set_outcome(s.outcome());
  e->set_rule_id(s.rule_id());
  e->set_pathway(s.pathway());
  e->set_overridden(s.overridden());
  return event;
}

}  // namespace

ProgrammeServiceImpl::ProgrammeServiceImpl(ProgrammeStore& store, ReferralStore& referrals,
                                           const Clock& clock, IntakeOptions options)
    : store_(store), referrals_(referrals), clock_(clock), options_(std::move(options)) {}

AuditEntry ProgrammeServiceImpl::Audit(const Principal& who, absl::string_view action, absl::string_view kind,
                                       const std::string& id, const std::string& request_id) const {
  AuditEntry entry = AuditOf(who, action, clock_.Now());
  entry.record_kind = std::string(kind);
  entry.record_id = id;
  entry.agreement = options_.sharing_agreement;
  entry.request_id = request_id;
  return entry;
}

absl::Status ProgrammeServiceImpl::UpsertProgramme(const Principal& who,
                                                   const v1::UpsertProgrammeRequest* request,
                                                   v1::UpsertProgrammeResponse* response) {
  if (!IsCouncilOfficer(who))
    return absl::PermissionDeniedError("UpsertProgramme: council officers only");
  ASSIGN_OR_RETURN(bool replayed, store_.Replayed(who.subject, "UpsertProgramme",
                                                  request->request_id(), *request, response));
  if (replayed) return absl::OkStatus();
  v1::Programme programme = request->programme();
  RETURN_IF_ERROR(ValidateId("programme.programme_id", programme.programme_id(), "a programme id"));
  if (!programme.la_code().empty() && programme.la_code() != who.la_code) {
    return absl::PermissionDeniedError(
        "programme.la_code: a council keeps only its own programmes");
  }
  RETURN_IF_ERROR(ValidateProgramme(programme));
  const std::string key = store_.ProgrammeKey(programme.programme_id());
  absl::StatusOr<Versioned<v1::Programme>> current =
      store_.Load<v1::Programme>(key, "programme.programme_id");
  if (!current.ok() && !absl::IsNotFound(current.status())) return current.status();
  const int64_t version = current.ok() ? current->version : 0;
  if (current.ok() && current->record.la_code() != who.la_code) {
    return absl::PermissionDeniedError("programme.programme_id: another council's programme");
  }
  if (request->expected_version() != version) {
    return absl::FailedPreconditionError(
        version == 0 ? "expected_version: the programme does not exist yet; give 0 to create it"
                     : absl::StrCat("expected_version: the programme is at version ", version));
  }
  programme.set_la_code(who.la_code);
  programme.set_version(version + 1);
  *programme.mutable_updated_at() = ToProtoTimestamp(clock_.Now());
  *programme.mutable_updated_by() = who.ToActor();
  WriteBatch batch;
  store_.Put(batch, key, programme, version);
  store_.Put(batch, store_.ProgrammeVersionKey(programme.programme_id(), programme.version()),
             programme, 0);
  store_.Audit(batch, Audit(who, "UpsertProgramme", "programme", programme.programme_id(),
                            request->request_id()));
  *response->mutable_programme() = programme;
  return store_.CommitCommand(who.subject, "UpsertProgramme", request->request_id(), *request,
                              response, std::move(batch));
}

absl::Status ProgrammeServiceImpl::GetProgramme(const Principal& who,
                                                const v1::GetProgrammeRequest* request,
                                                v1::GetProgrammeResponse* response) {
  RETURN_IF_ERROR(ValidateId("programme_id", request->programme_id(), "a programme id"));
  if (request->version() < 0) return FieldError("version", "0 (current) or a version number");
  const std::string key =
      request->version() == 0
          ? store_.ProgrammeKey(request->programme_id())
          : store_.ProgrammeVersionKey(request->programme_id(), request->version());
  ASSIGN_OR_RETURN(auto programme, store_.Load<v1::Programme>(
                                       key, request->version() == 0 ? "programme_id" : "version"));
  if (programme.record.la_code() != who.la_code) {
    return absl::NotFoundError("programme_id: not a programme of your council");
  }
  *response->mutable_programme() = programme.record;
  return absl::OkStatus();
}

absl::Status ProgrammeServiceImpl::TestProgrammeCriteria(
    const Principal& who, const v1::TestProgrammeCriteriaRequest* request,
    v1::TestProgrammeCriteriaResponse* response) {
  if (!IsCouncilOfficer(who))
    return absl::PermissionDeniedError("TestProgrammeCriteria: council officers only");
  RETURN_IF_ERROR(ValidateId("programme_id", request->programme_id(), "a programme id"));
  if (request->limit() < 0 || request->limit() > kMaxTestLimit) {
    return FieldError("limit", absl::StrCat("0 (", kDefaultTestLimit, ") to ", kMaxTestLimit));
  }
  ASSIGN_OR_RETURN(auto current, store_.Load<v1::Programme>(
                                     store_.ProgrammeKey(request->programme_id()), "programme_id"));
  if (current.record.la_code() != who.la_code) {
    return absl::NotFoundError("programme_id: not a programme of your council");
  }
  v1::Programme criteria = current.record;
  if (request->has_candidate()) {
    v1::Programme candidate = request->candidate();
    if (candidate.name().empty()) candidate.set_name(criteria.name());
    absl::Status valid = ValidateProgramme(candidate);
    if (!valid.ok()) {
      // The candidate's fields, named as the request has them.
      std::string message(valid.message());
      if (message.rfind("programme", 0) == 0) message.replace(0, 9, "candidate");
      return absl::InvalidArgumentError(message);
    }
    *criteria.mutable_in_scope() = candidate.in_scope();
    *criteria.mutable_out_of_scope() = candidate.out_of_scope();
  }
  ASSIGN_OR_RETURN(
      std::vector<std::string> screened,
      store_.RangeByScore(store_.ScreeningsKey(request->programme_id()), "-inf", "+inf"));
  const size_t limit = size_t(request->limit() == 0 ? kDefaultTestLimit : request->limit());
  if (screened.size() > limit) screened.erase(screened.begin(), screened.end() - long(limit));
  for (const std::string& referral_id : screened) {
    ASSIGN_OR_RETURN(auto screening,
                     store_.Load<v1::Screening>(store_.ScreeningKey(referral_id), "referral_id"));
    absl::StatusOr<v1::Referral> referral = referrals_.Get(referral_id);
    if (absl::IsNotFound(referral.status())) continue;
    if (!referral.ok()) return referral.status();
    const v1::Screening tried = Screen(criteria, referral->details(), screening.record.evidence());
    v1::CriteriaTestResult* result = response->add_results();
    result->set_referral_id(referral_id);
    result->set_decided(screening.record.outcome());
    result->set_candidate(tried.outcome());
    result->set_rule_id(tried.rule_id());
    result->set_reason(tried.reason());
    switch (tried.outcome()) {
      case v1::SCREENING_OUTCOME_ACCEPTED:
        response->set_accepted(response->accepted() + 1);
        break;
      case v1::SCREENING_OUTCOME_DECLINED:
        response->set_declined(response->declined() + 1);
        break;
      case v1::SCREENING_OUTCOME_REDIRECTED:
        response->set_redirected(response->redirected() + 1);
        break;
      default:
        response->set_needs_review(response->needs_review() + 1);
        break;
    }
    if (tried.outcome() != screening.record.outcome())
      response->set_changed(response->changed() + 1);
  }
  return absl::OkStatus();
}

absl::Status ProgrammeServiceImpl::GetScreening(const Principal& who,
                                                const v1::GetScreeningRequest* request,
                                                v1::GetScreeningResponse* response) {
  RETURN_IF_ERROR(ValidateId("referral_id", request->referral_id(), "a referral id"));
  ASSIGN_OR_RETURN(v1::Referral referral, referrals_.Get(request->referral_id()));
  RETURN_IF_ERROR(CanReadScreening(who, referral));
  ASSIGN_OR_RETURN(auto screening, store_.Load<v1::Screening>(
                                       store_.ScreeningKey(request->referral_id()), "referral_id"));
  *response->mutable_screening() = screening.record;
  return absl::OkStatus();
}

absl::Status ProgrammeServiceImpl::OverrideScreening(const Principal& who,
                                                     const v1::OverrideScreeningRequest* request,
                                                     v1::OverrideScreeningResponse* response) {
  if (!IsCouncilOfficer(who))
    return absl::PermissionDeniedError("OverrideScreening: council officers only");
  ASSIGN_OR_RETURN(bool replayed, store_.Replayed(who.subject, "OverrideScreening",
                                                  request->request_id(), *request, response));
  if (replayed) return absl::OkStatus();
  RETURN_IF_ERROR(ValidateId("referral_id", request->referral_id(), "a referral id"));
  if (request->outcome() == v1::SCREENING_OUTCOME_UNSPECIFIED ||
      request->outcome() == v1::SCREENING_OUTCOME_NEEDS_REVIEW ||
      !v1::ScreeningOutcome_IsValid(request->outcome())) {
    return FieldError("outcome", "accepted, declined or redirected");
  }
  RETURN_IF_ERROR(
      ValidateText("reason", request->reason(), 500, /*required=*/true, /*multiline=*/true));
  if (request->outcome() == v1::SCREENING_OUTCOME_REDIRECTED) {
    RETURN_IF_ERROR(ValidateText("pathway", request->pathway(), 100, /*required=*/true));
  } else if (!request->pathway().empty()) {
    return FieldError("pathway", "only a redirection names a pathway");
  }
  ASSIGN_OR_RETURN(v1::Referral referral, referrals_.Get(request->referral_id()));
  if (referral.la_code() != who.la_code) {
    return absl::PermissionDeniedError("referral_id: another council's referral");
  }
  absl::StatusOr<Versioned<v1::Screening>> loaded =
      store_.Load<v1::Screening>(store_.ScreeningKey(request->referral_id()), "referral_id");
  if (absl::IsNotFound(loaded.status())) {
    return absl::FailedPreconditionError("referral_id: not screened yet; nothing to override");
  }
  if (!loaded.ok()) return loaded.status();
  v1::Screening& screening = loaded->record;
  screening.set_outcome(request->outcome());
  screening.set_pathway(request->pathway());
  screening.set_overridden(true);
  screening.set_override_reason(request->reason());
  *screening.mutable_overridden_by() = who.ToActor();
  screening.set_version(loaded->version + 1);
  WriteBatch batch;
  store_.Put(batch, store_.ScreeningKey(request->referral_id()), screening, loaded->version);
  v1::ReferralEvent event = ScreenedEvent(screening, referral.pupil_ref());
  FillEventMetadata(event.mutable_metadata(), options_.producer_name, referral.referral_id(),
                    request->request_id(), PayloadTypeName(event), who, clock_.Now());
  store_.Publish(batch, ToOutboxEvent(topics::kReferralEvents, referral.pupil_ref().value(),
                                      event.metadata(), event));
  AppendToTimeline(referrals_, batch, event);
  AuditEntry entry =
      Audit(who, "OverrideScreening", "referral", referral.referral_id(), request->request_id());
  entry.pupil_refs = {referral.pupil_ref().value()};
  store_.Audit(batch, entry);
  *response->mutable_screening() = screening;
  return store_.CommitCommand(who.subject, "OverrideScreening", request->request_id(), *request,
                              response, std::move(batch));
}

ScreeningHandler::ScreeningHandler(ProgrammeStore& store, ReferralStore& referrals, const Clock& clock,
                                   std::string producer_name)
    : store_(store), referrals_(referrals), clock_(clock), producer_name_(std::move(producer_name)) {}

absl::StatusOr<ApplyResult> ScreeningHandler::Apply(const ConsumedEvent& event) {
  kv1::RiskEvent envelope;
  if (!envelope.ParseFromString(event.payload)) return absl::InvalidArgumentError("payload is not a RiskEvent");
  if (!envelope.has_attendance_evidence_taken()) return ApplyResult::kDuplicate;  // not for us
  const kv1::AttendanceEvidenceTaken& taken = envelope.attendance_evidence_taken();
  absl::StatusOr<v1::Referral> referral = referrals_.Get(taken.referral_id());
  if (absl::IsNotFound(referral.status())) return ApplyResult::kDuplicate;  // another deployment's
  if (!referral.ok()) return referral.status();
  const std::string key = store_.ScreeningKey(taken.referral_id());
  absl::StatusOr<Versioned<v1::Screening>> existing = store_.Load<v1::Screening>(key, "referral_id");
  if (existing.ok()) return ApplyResult::kDuplicate;  // screened once only
  if (!absl::IsNotFound(existing.status())) return existing.status();

  v1::Screening screening;
  absl::StatusOr<Versioned<v1::Programme>> programme =
      store_.Load<v1::Programme>(store_.ProgrammeKey(taken.programme_id()), "programme_id");
  if (programme.ok() && programme->record.la_code() == referral->la_code()) {
    screening = Screen(programme->record, referral->details(), taken.evidence());
  } else if (programme.ok() || absl::IsNotFound(programme.status())) {
    screening.set_programme_id(taken.programme_id());
    screening.set_outcome(v1::SCREENING_OUTCOME_NEEDS_REVIEW);
    screening.set_rules_outcome(v1::SCREENING_OUTCOME_NEEDS_REVIEW);
    screening.set_reason("no such programme for this council");
  } else {
    return programme.status();
  }
  const absl::Time now = clock_.Now();
  screening.set_referral_id(taken.referral_id());
  *screening.mutable_screened_at() = ToProtoTimestamp(now);
  *screening.mutable_evidence() = taken.evidence();
  screening.set_version(1);

  const Principal system{producer_name_, {cv1::ROLE_SERVICE}, cv1::ORGANISATION_TYPE_COUNCIL, referral->la_code(),
                         referral->la_code()};
  WriteBatch batch;
  store_.Put(batch, key, screening, 0);
  batch.commands.push_back({"ZADD", store_.ScreeningsKey(taken.programme_id()),
                            std::to_string(absl::ToUnixMillis(now)), taken.referral_id()});
  v1::ReferralEvent out = ScreenedEvent(screening, referral->pupil_ref());
  FillEventMetadata(out.mutable_metadata(), producer_name_, referral->referral_id(), event.event_id(),
                    PayloadTypeName(out), system, now);
  store_.Publish(batch, ToOutboxEvent(topics::kReferralEvents, referral->pupil_ref().value(), out.metadata(), out));
  AppendToTimeline(referrals_, batch, out);
  AuditEntry audit = AuditOf(system, "ScreenReferral", now);
  audit.record_kind = "referral";
  audit.record_id = referral->referral_id();
  store_.Audit(batch, audit);
  // The case timeline consumes the same event under the same prefix: the
  // screening keeps a processed-event guard of its own.
  return store_.CommitConsumed(std::move(batch), "screening:" + event.dedup_key());
}

void ProgrammeServiceImpl::Bind(GuardedService& service) {
  service.Handle("UpsertProgramme", *this, &ProgrammeServiceImpl::UpsertProgramme);
  service.Handle("GetProgramme", *this, &ProgrammeServiceImpl::GetProgramme);
  service.Handle("TestProgrammeCriteria", *this, &ProgrammeServiceImpl::TestProgrammeCriteria);
  service.Handle("GetScreening", *this, &ProgrammeServiceImpl::GetScreening);
  service.Handle("OverrideScreening", *this, &ProgrammeServiceImpl::OverrideScreening);
}

}  // namespace rooted::referral
