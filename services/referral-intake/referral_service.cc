#include "services/referral-intake/referral_service.h"

#include <google/protobuf/io/coded_stream.h>
#include <grpcpp/support/proto_buffer_reader.h>

#include <algorithm>
#include <memory>

#include "absl/strings/str_cat.h"
#include "common/base/proto_time.h"
#include "common/base/retry_later.h"
#include "common/base/status_macros.h"
#include "common/kafka/event_metadata.h"
#include "common/kafka/topics.h"
#include "common/redis/idempotency.h"
#include "services/referral-intake/referral_events.h"
#include "services/referral-intake/referral_validation.h"

namespace rooted::referral {
namespace cv1 = rooted::common::v1;
namespace {

constexpr char kKeyPrefix[] = "ri";

bool IsPartnerRole(const Principal& who) {
  return who.HasAnyRole({cv1::ROLE_PARTNER_WORKER, cv1::ROLE_PROGRAMME_LEAD}) &&
         who.organisation_type == cv1::ORGANISATION_TYPE_PARTNER;
}

// Copies the fields named in the mask from `from` into `to`.
void ApplyMask(const google::protobuf::FieldMask& mask, const v1::ReferralDetails& from,
               v1::ReferralDetails* to) {
  for (const std::string& path : mask.paths()) {
    if (path == "child.given_name") to->mutable_child()->set_given_name(from.child().given_name());
    if (path == "child.family_name")
      to->mutable_child()->set_family_name(from.child().family_name());
    if (path == "child.date_of_birth")
      *to->mutable_child()->mutable_date_of_birth() = from.child().date_of_birth();
    if (path == "child.year_group") to->mutable_child()->set_year_group(from.child().year_group());
    if (path == "referrer") *to->mutable_referrer() = from.referrer();
    if (path == "reasons_for_concern")
      *to->mutable_reasons_for_concern() = from.reasons_for_concern();
    if (path == "needs") *to->mutable_needs() = from.needs();
    if (path == "strengths") *to->mutable_strengths() = from.strengths();
    if (path == "strategies_that_worked")
      *to->mutable_strategies_that_worked() = from.strategies_that_worked();
    if (path == "risk_assessment") *to->mutable_risk_assessment() = from.risk_assessment();
    if (path == "resource_requirements")
      *to->mutable_resource_requirements() = from.resource_requirements();
    if (path == "other_agencies") *to->mutable_other_agencies() = from.other_agencies();
    if (path == "refer_to_forum") to->set_refer_to_forum(from.refer_to_forum());
  }
}

absl::Status VersionConflict() {
  return absl::AbortedError("referral_id: the referral changed while this request ran; retry");
}

// Every answer to a change of a referral (SubmitReferralResponse,
// UpdateReferralResponse, ...) has one field, number 1, the referral. Its
// encoding is that field's key and length, then the referral's own bytes, so
// the bytes the store keeps serve as the answer without encoding it again.
constexpr int kAnswerReferralField = 1;
static_assert(v1::SubmitReferralResponse::kReferralFieldNumber == kAnswerReferralField &&
              v1::UpdateReferralResponse::kReferralFieldNumber == kAnswerReferralField &&
              v1::WithdrawReferralResponse::kReferralFieldNumber == kAnswerReferralField &&
              v1::RecordConsentResponse::kReferralFieldNumber == kAnswerReferralField &&
              v1::CloseCaseResponse::kReferralFieldNumber == kAnswerReferralField);

std::string ReferralAnswer(absl::string_view record) {
  constexpr uint32_t kLengthDelimited = 2;
  constexpr size_t kMaxVarint32Bytes = 5;
  uint8_t head[1 + kMaxVarint32Bytes];
  head[0] = uint8_t(kAnswerReferralField << 3 | kLengthDelimited);
  const uint8_t* end =
      google::protobuf::io::CodedOutputStream::WriteVarint32ToArray(uint32_t(record.size()), head + 1);
  std::string answer;
  answer.reserve(size_t(end - head) + record.size());
  answer.append(reinterpret_cast<const char*>(head), size_t(end - head));
  answer.append(record.data(), record.size());
  return answer;
}

void SetMessageBytes(absl::string_view bytes, grpc::ByteBuffer& out) {
  grpc::Slice slice(bytes.data(), bytes.size());
  grpc::ByteBuffer buffer(&slice, 1);
  out.Swap(&buffer);
}

}  // namespace

ReferralServiceImpl::ReferralServiceImpl(ReferralStore& store, CaseTimelineReader& timeline,
                                         const PupilRefHasher& hasher, const Clock& clock,
                                         Metrics& metrics, IntakeOptions options)
    : store_(store),
      timeline_(timeline),
      hasher_(hasher),
      clock_(clock),
      submitted_by_school_(prometheus::BuildCounter()
                               .Name("rooted_referrals_submitted_total")
                               .Help("Referrals submitted, by school URN")
                               .Labels(metrics.service_labels())
                               .Register(*metrics.registry()),
                           {"school_urn"}),
      options_(std::move(options)) {}

AuditEntry ReferralServiceImpl::Audit(const Principal& who, absl::string_view action,
                                      const std::string& referral_id, const std::string& purpose,
                                      const std::string& request_id) const {
  AuditEntry entry = AuditOf(who, action, clock_.Now());
  entry.record_kind = "referral";
  entry.record_id = referral_id;
  entry.purpose = purpose;
  entry.agreement = options_.sharing_agreement;
  entry.request_id = request_id;
  return entry;
}

absl::Status ReferralServiceImpl::CanRead(const Principal& who, const v1::Referral& r) const {
  if (ActsForSchool(who) && who.IsSchool(r.details().child().school_urn())) return absl::OkStatus();
  if (ActsForCouncil(who) && who.la_code == r.la_code()) return absl::OkStatus();
  if (IsPartnerRole(who) && who.la_code == r.la_code()) {
    for (const std::string& partner : r.allocated_partner_ids()) {
      if (partner == who.organisation_id) return absl::OkStatus();
    }
  }
  return absl::PermissionDeniedError("referral_id: you may not see this referral");
}

absl::Status ReferralServiceImpl::CanChange(const Principal& who, const v1::Referral& r,
                                           absl::string_view method) const {
  if (ActsForSchool(who) && who.IsSchool(r.details().child().school_urn())) return absl::OkStatus();
  // The programme lead's organisation closes the cases allocated to it.
  if (method == "CloseCase" && IsPartnerRole(who) && who.la_code == r.la_code() &&
      std::find(r.allocated_partner_ids().begin(), r.allocated_partner_ids().end(), who.organisation_id) !=
          r.allocated_partner_ids().end()) {
    return absl::OkStatus();
  }
  if (who.HasRole(cv1::ROLE_COUNCIL_OFFICER) &&
      who.organisation_type == cv1::ORGANISATION_TYPE_COUNCIL && who.la_code == r.la_code()) {
    return absl::OkStatus();
  }
  return absl::PermissionDeniedError("referral_id: you may not change this referral");
}

ReferralChange ReferralServiceImpl::BuildChange(const Principal& who, absl::string_view method,
                                                const std::string& request_id, const v1::Referral& referral,
                                                v1::ReferralEvent event,
                                                int64_t expected_version) const {
  FillEventMetadata(event.mutable_metadata(), options_.producer_name, referral.referral_id(),
                    request_id, PayloadTypeName(event), who, clock_.Now());

  ReferralChange change;
  change.referral = &referral;
  change.record = referral.SerializeAsString();
  change.expected_version = expected_version;
  change.event =
      ToOutboxEvent(topics::kReferralEvents, referral.pupil_ref().value(), event.metadata(), event);
  change.audit = Audit(who, method, referral.referral_id(), "", request_id);
  change.audit.pupil_refs = {referral.pupil_ref().value()};
  for (TimelineStep& step : DescribeReferralEvent(event)) change.timeline_entries.push_back(std::move(step.entry));
  return change;
}

absl::StatusOr<bool> ReferralServiceImpl::AnswerCommit(absl::StatusOr<CommitResult> result,
                                                       const google::protobuf::Message& request,
                                                       google::protobuf::Message* response) {
  if (!result.ok()) return result.status();
  switch (result->kind) {
    case CommitResult::Kind::kCommitted:
      return true;
    case CommitResult::Kind::kReplayed:
      response->Clear();
      RETURN_IF_ERROR(DecodeFirstAnswer(result->first_answer, request, response));
      return false;
    case CommitResult::Kind::kVersionConflict:
      return VersionConflict();
  }
  return absl::InternalError("unexpected commit result");
}

template <typename Request, typename Response, typename Mutate, typename EventFor>
absl::Status ReferralServiceImpl::ChangeReferral(const Principal& who, absl::string_view method,
                                                 const Request& request, Response* response,
                                                 Mutate mutate, EventFor event_for) {
  RETURN_IF_ERROR(ValidateRequestId(request.request_id()));
  RETURN_IF_ERROR(ValidateReferralId("referral_id", request.referral_id()));
  const std::string key = IdempotencyKey(kKeyPrefix, who.subject, method, request.request_id());
  ASSIGN_OR_RETURN(std::optional<std::string> first, store_.FirstAnswer(key));
  if (first) return DecodeFirstAnswer(*first, request, response);
  // A consumer (the case timeline) may change the referral between our read
  // and our write: read it again and redo, rather than hand the race back.
  return RetryOnConflict(3, [&]() -> absl::Status {
    response->Clear();
    return ChangeReferralOnce(who, method, request, response, key, mutate, event_for);
  });
}

template <typename Request, typename Response, typename Mutate, typename EventFor>
absl::Status ReferralServiceImpl::ChangeReferralOnce(const Principal& who, absl::string_view method,
                                                     const Request& request, Response* response,
                                                     const std::string& key, Mutate& mutate,
                                                     EventFor& event_for) {
  ASSIGN_OR_RETURN(v1::Referral referral, store_.Get(request.referral_id()));
  RETURN_IF_ERROR(CanChange(who, referral, method));
  if (!IsOpenReferral(referral.status())) {
    return absl::FailedPreconditionError(absl::StrCat("referral_id: the referral is ",
                                                      v1::ReferralStatus_Name(referral.status()),
                                                      " and can no longer change"));
  }
  const int64_t expected_version = referral.version();
  RETURN_IF_ERROR(mutate(referral));
  referral.set_version(expected_version + 1);
  *referral.mutable_updated_at() = ToProtoTimestamp(clock_.Now());
  v1::ReferralEvent event = event_for(referral);
  *response->mutable_referral() = std::move(referral);
  ReferralChange change =
      BuildChange(who, method, request.request_id(), response->referral(), std::move(event), expected_version);
  change.idempotency_key = key;
  change.first_answer = EncodeFirstAnswer(RequestFingerprint(request), ReferralAnswer(change.record));
  return AnswerCommit(store_.Commit(std::move(change)), request, response).status();
}

absl::StatusOr<ReferralChange> ReferralServiceImpl::PrepareSubmit(const Principal& who, Submission& submission) {
  // Who may refer, and for which school, the access rule has already decided.
  const v1::SubmitReferralRequest& request = submission.request;
  RETURN_IF_ERROR(ValidateRequestId(request.request_id()));
  if (!request.has_details()) return absl::InvalidArgumentError("details: is required");
  const absl::Time now = clock_.Now();
  RETURN_IF_ERROR(ValidateDetails(request.details(), now));

  // No look-up of the request id first: the referral's id comes from it, so
  // the write itself finds a retry (the referral is there already).
  ASSIGN_OR_RETURN(Upn upn, ParseUpn(request.details().child().upn()));
  submission.fingerprint = RequestFingerprint(request);
  v1::Referral& referral = submission.referral;
  referral.set_referral_id(IdForRequest("SubmitReferral", who.subject, request.request_id()));
  referral.set_status(v1::REFERRAL_STATUS_SUBMITTED);
  // Moved, not copied: once fingerprinted the request's details are needed
  // only as the referral's.
  referral.set_allocated_details(submission.request.release_details());
  referral.mutable_details()->mutable_child()->set_upn(upn.value());
  *referral.mutable_details()->mutable_consent()->mutable_recorded_at() = ToProtoTimestamp(now);
  referral.mutable_pupil_ref()->set_value(hasher_.RefFor(upn));
  referral.set_la_code(who.la_code);
  *referral.mutable_created_at() = ToProtoTimestamp(now);
  *referral.mutable_updated_at() = ToProtoTimestamp(now);
  referral.set_version(1);
  referral.set_submitted_by(who.subject);
  v1::ReferralEvent event = ReferralSubmittedEvent(referral);
  ReferralChange change =
      BuildChange(who, "SubmitReferral", submission.request.request_id(), referral, std::move(event), 0);
  change.submission_fingerprint = submission.fingerprint;
  return change;
}

void ReferralServiceImpl::AnswerRetriedSubmission(std::unique_ptr<Submission> submission, grpc::ByteBuffer* response,
                                                  RpcCompletion done) {
  // The request id's referral exists: this is a retry of its submission, or
  // another request reusing the id. A retry's answer is the first one: the
  // referral as submitted. (The retry passed the same checks as the first
  // call, on the same request, so the caller may see it.)
  const std::string referral_id = submission->referral.referral_id();
  store_.GetSubmissionAsync(referral_id, [submission = std::move(submission), response,
                                          done](absl::StatusOr<StoredSubmission> stored) {
    done.FinishWith([&]() -> absl::Status {
      if (!stored.ok()) return stored.status();
      if (stored->fingerprint != submission->fingerprint) return RequestIdReusedError();
      SetMessageBytes(ReferralAnswer(stored->record), *response);
      return absl::OkStatus();
    });
  });
}

absl::Status ReferralServiceImpl::DoGet(const Principal& who, const v1::GetReferralRequest& request,
                                        v1::GetReferralResponse* response) {
  RETURN_IF_ERROR(ValidateReferralId("referral_id", request.referral_id()));
  RETURN_IF_ERROR(ValidateText("purpose", request.purpose(), 200, true));
  ASSIGN_OR_RETURN(v1::Referral referral, store_.Get(request.referral_id()));
  RETURN_IF_ERROR(CanRead(who, referral));
  *response->mutable_referral() = std::move(referral);
  return absl::OkStatus();
}

absl::Status ReferralServiceImpl::DoList(const Principal& who,
                                         const v1::ListReferralsRequest& request,
                                         v1::ListReferralsResponse* response) {
  ReferralQuery query;
  const int page_size = request.page().page_size();
  if (page_size < 0 || page_size > 500) {
    return absl::InvalidArgumentError("page.page_size: must be 0 (default 50) to 500");
  }
  query.page_size = page_size == 0 ? 50 : page_size;
  query.page_token = request.page().page_token();
  if (!v1::ReferralStatus_IsValid(request.status())) {
    return absl::InvalidArgumentError("status: unknown status");
  }
  query.status = request.status();
  if (request.has_submitted_after())
    query.submitted_after = FromProtoTimestamp(request.submitted_after());
  if (request.has_submitted_before())
    query.submitted_before = FromProtoTimestamp(request.submitted_before());
  if (!request.school_urn().empty() && !IsSchoolUrn(request.school_urn())) {
    return absl::InvalidArgumentError("school_urn: must be a 6-digit URN");
  }
  if (ActsForSchool(who)) {
    if (!request.school_urn().empty() && !who.IsSchool(request.school_urn())) {
      return absl::PermissionDeniedError(
          "school_urn: you may list only your own school's referrals");
    }
    query.index = ReferralIndex::kSchool;
    query.index_id = who.organisation_id;
  } else if (ActsForCouncil(who)) {
    query.la_code = who.la_code;
    if (request.school_urn().empty()) {
      query.index = ReferralIndex::kCouncil;
      query.index_id = who.la_code;
    } else {
      query.index = ReferralIndex::kSchool;
      query.index_id = request.school_urn();
    }
  } else if (IsPartnerRole(who)) {
    query.index = ReferralIndex::kPartner;
    query.index_id = who.organisation_id;
    query.la_code = who.la_code;
  } else {
    return absl::PermissionDeniedError("ListReferrals: your role may not list referrals");
  }
  ASSIGN_OR_RETURN(ReferralPage page, store_.List(query));
  for (const v1::Referral& r : page.referrals) {
    v1::ReferralSummary* row = response->add_referrals();
    row->set_referral_id(r.referral_id());
    row->set_status(r.status());
    row->set_school_urn(r.details().child().school_urn());
    row->set_year_group(r.details().child().year_group());
    row->set_child_initials(
        Initials(r.details().child().given_name(), r.details().child().family_name()));
    *row->mutable_created_at() = r.created_at();
    row->set_refer_to_forum(r.details().refer_to_forum());
    row->set_risk_level(r.details().risk_assessment().level());
  }
  response->mutable_page()->set_next_page_token(page.next_page_token);
  return absl::OkStatus();
}

void ReferralServiceImpl::SubmitReferral(const Principal& who, v1::SubmitReferralRequest* request,
                                         grpc::ByteBuffer* response, RpcCompletion done) {
  auto submission = std::make_unique<Submission>();
  submission->request.Swap(request);
  absl::StatusOr<ReferralChange> change = PrepareSubmit(who, *submission);
  if (!change.ok()) return done.Finish(change.status());
  submission->answer = ReferralAnswer(change->record);
  // The response lives until the call finishes, after this.
  store_.CommitAsync(*std::move(change), [this, submission = std::move(submission), response,
                                          done](absl::StatusOr<CommitResult> result) mutable {
    if (result.ok() && result->kind == CommitResult::Kind::kVersionConflict) {
      return AnswerRetriedSubmission(std::move(submission), response, done);
    }
    done.FinishWith([&]() -> absl::Status {
      if (!result.ok()) return result.status();
      if (result->kind != CommitResult::Kind::kCommitted)
        return absl::InternalError("unexpected commit result");
      SetMessageBytes(submission->answer, *response);
      submitted_by_school_.Get({submission->referral.details().child().school_urn()}).Increment();
      return absl::OkStatus();
    });
  });
}

absl::Status ReferralServiceImpl::GetReferral(const Principal& who,
                                              const v1::GetReferralRequest* request,
                                              v1::GetReferralResponse* response) {
  return DoGet(who, *request, response);
}

absl::Status ReferralServiceImpl::ListReferrals(const Principal& who,
                                                const v1::ListReferralsRequest* request,
                                                v1::ListReferralsResponse* response) {
  return DoList(who, *request, response);
}

absl::Status ReferralServiceImpl::UpdateReferral(const Principal& who,
                                                 const v1::UpdateReferralRequest* request,
                                                 v1::UpdateReferralResponse* response) {
  RETURN_IF_ERROR(ValidateUpdateMask(request->update_mask()));
  return ChangeReferral(
      who, "UpdateReferral", *request, response,
      [&](v1::Referral& r) {
        if (request->expected_version() != r.version()) {
          return absl::FailedPreconditionError(absl::StrCat(
              "expected_version: the referral is at version ", r.version(), "; read it again"));
        }
        ApplyMask(request->update_mask(), request->details(), r.mutable_details());
        return ValidateDetails(r.details(), clock_.Now());
      },
      [&](const v1::Referral& r) {
        return ReferralUpdatedEvent(
            r, {request->update_mask().paths().begin(), request->update_mask().paths().end()});
      });
}

absl::Status ReferralServiceImpl::WithdrawReferral(const Principal& who,
                                                   const v1::WithdrawReferralRequest* request,
                                                   v1::WithdrawReferralResponse* response) {
  RETURN_IF_ERROR(ValidateText("reason", request->reason(), 500, true, true));
  return ChangeReferral(
      who, "WithdrawReferral", *request, response,
      [&](v1::Referral& r) {
        r.set_status(v1::REFERRAL_STATUS_WITHDRAWN);
        r.set_withdrawal_reason(request->reason());
        return absl::OkStatus();
      },
      ReferralWithdrawnEvent);
}

absl::Status ReferralServiceImpl::RecordConsent(const Principal& who,
                                                const v1::RecordConsentRequest* request,
                                                v1::RecordConsentResponse* response) {
  RETURN_IF_ERROR(ValidateConsent(request->consent(), "consent"));
  return ChangeReferral(
      who, "RecordConsent", *request, response,
      [&](v1::Referral& r) {
        *r.mutable_details()->mutable_consent() = request->consent();
        *r.mutable_details()->mutable_consent()->mutable_recorded_at() =
            ToProtoTimestamp(clock_.Now());
        return absl::OkStatus();
      },
      ConsentRecordedEvent);
}

absl::Status ReferralServiceImpl::GetCaseTimeline(const Principal& who,
                                                  const v1::GetCaseTimelineRequest* request,
                                                  v1::GetCaseTimelineResponse* response) {
  RETURN_IF_ERROR(ValidateReferralId("referral_id", request->referral_id()));
  RETURN_IF_ERROR(ValidateText("purpose", request->purpose(), 200, false));
  ASSIGN_OR_RETURN(v1::Referral referral, store_.Get(request->referral_id()));
  RETURN_IF_ERROR(CanRead(who, referral));
  ASSIGN_OR_RETURN(std::vector<v1::TimelineEntry> entries,
                   timeline_.Timeline(referral.referral_id()));
  for (v1::TimelineEntry& entry : entries) *response->add_entries() = std::move(entry);
  response->set_status(referral.status());
  return absl::OkStatus();
}

absl::Status ReferralServiceImpl::CloseCase(const Principal& who,
                                            const v1::CloseCaseRequest* request,
                                            v1::CloseCaseResponse* response) {
  if (request->outcome() == v1::CASE_OUTCOME_UNSPECIFIED ||
      !v1::CaseOutcome_IsValid(request->outcome())) {
    return absl::InvalidArgumentError("outcome: give the case's outcome");
  }
  RETURN_IF_ERROR(ValidateText("note", request->note(), 1000, false, true));
  return ChangeReferral(
      who, "CloseCase", *request, response,
      [&](v1::Referral& r) {
        r.set_status(v1::REFERRAL_STATUS_CLOSED);
        r.set_outcome(request->outcome());
        r.set_closure_note(request->note());
        return absl::OkStatus();
      },
      CaseClosedEvent);
}

void ReferralServiceImpl::Bind(GuardedService& service) {
  service.Handle("SubmitReferral", *this, &ReferralServiceImpl::SubmitReferral);
  service.Handle("GetReferral", *this, &ReferralServiceImpl::GetReferral);
  service.Handle("ListReferrals", *this, &ReferralServiceImpl::ListReferrals);
  service.Handle("UpdateReferral", *this, &ReferralServiceImpl::UpdateReferral);
  service.Handle("WithdrawReferral", *this, &ReferralServiceImpl::WithdrawReferral);
  service.Handle("RecordConsent", *this, &ReferralServiceImpl::RecordConsent);
  service.Handle("GetCaseTimeline", *this, &ReferralServiceImpl::GetCaseTimeline);
  service.Handle("CloseCase", *this, &ReferralServiceImpl::CloseCase);
}

}  // namespace rooted::referral
