#include "services/fund-payments/fund_service.h"

#include <algorithm>
#include <functional>
#include <map>
#include <tuple>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/base/field_validation.h"
#include "common/base/ids.h"
#include "common/base/proto_money.h"
#include "common/base/proto_time.h"
#include "common/base/retry_later.h"
#include "common/base/status_macros.h"
#include "common/kafka/event_metadata.h"
#include "common/kafka/topics.h"
#include "common/redis/idempotency.h"
#include "common/server/paging.h"
#include "services/fund-payments/fund_rules.h"

namespace rooted::fund {
namespace cv1 = rooted::common::v1;
namespace {

std::string CategoryName(v1::Category c) {
  std::string name = v1::Category_Name(c);
  return name.rfind("CATEGORY_", 0) == 0 ? absl::AsciiStrToLower(name.substr(9)) : name;
}

std::string Reference(const v1::FundRequest& r) {
  return absl::StrCat(r.fund_id(), "|", r.request_id(), "|", CategoryName(r.category()));
}

// Who asks against an allocation: its school's staff, its partner's workers,
// or the council's officers.
bool MayRequestAgainst(const Principal& who, const v1::Allocation& a, const std::string& la_code) {
  if (ActsForCouncil(who) && who.la_code == la_code) return true;
  const cv1::OrganisationRef& holder = a.holder();
  if (holder.type() == cv1::ORGANISATION_TYPE_SCHOOL) return ActsForSchool(who) && who.IsSchool(holder.id());
  if (holder.type() == cv1::ORGANISATION_TYPE_PARTNER) {
    return who.organisation_type == cv1::ORGANISATION_TYPE_PARTNER &&
           who.organisation_id == holder.id() &&
           who.HasAnyRole({cv1::ROLE_PROGRAMME_LEAD, cv1::ROLE_PARTNER_WORKER});
  }
  return false;
}

}  // namespace

FundServiceImpl::FundServiceImpl(FundStore& store, Ledger& ledger, ReferralFactsKeeper& referrals,
                                 const Clock& clock, Metrics& metrics, FundServiceOptions options)
    : store_(store),
      ledger_(ledger),
      referrals_(referrals),
      clock_(clock),
      overspend_refused_(prometheus::BuildCounter()
                             .Name("rooted_fund_overspend_refused_total")
                             .Help("Fund requests refused because an allocation or a child's limit "
                                   "would be overspent")
                             .Labels(metrics.service_labels())
                             .Register(*metrics.registry())),
      pence_(prometheus::BuildCounter()
                 .Name("rooted_fund_pence_total")
                 .Help("Pence moved through the fund ledger, by stage (committed, paid, released)")
                 .Labels(metrics.service_labels())
                 .Register(*metrics.registry())),
      options_(std::move(options)) {
  // Every series starts at 0, so increase() sees the first refusal.
  overspend_refused_.Add({});
  for (const char* stage : {"committed", "paid", "released"}) pence_.Add({{"stage", stage}});
}

absl::StatusOr<std::optional<v1::Fund>> FundServiceImpl::FundOf(const std::string& fund_id, absl::string_view field,
                                                                 bool may_wait) {
  {
    std::lock_guard lock(cache_mu_);
    if (auto it = funds_.find(fund_id); it != funds_.end()) return it->second;
  }
  if (!may_wait) return std::nullopt;
  ASSIGN_OR_RETURN(auto stored, store_.Load<v1::Fund>(store_.FundKey(fund_id), field));
  std::lock_guard lock(cache_mu_);
  return funds_.emplace(fund_id, std::move(stored.record)).first->second;
}

absl::StatusOr<v1::Fund> FundServiceImpl::FundOf(const std::string& fund_id, absl::string_view field) {
  ASSIGN_OR_RETURN(std::optional<v1::Fund> fund, FundOf(fund_id, field, /*may_wait=*/true));
  return *std::move(fund);
}

absl::StatusOr<std::optional<v1::Allocation>> FundServiceImpl::AllocationOf(const std::string& allocation_id,
                                                                           absl::string_view field, bool may_wait) {
  {
    std::lock_guard lock(cache_mu_);
    if (auto it = allocations_.find(allocation_id); it != allocations_.end()) return it->second;
  }
  if (!may_wait) return std::nullopt;
  ASSIGN_OR_RETURN(auto stored, store_.Load<v1::Allocation>(store_.AllocationKey(allocation_id), field));
  std::lock_guard lock(cache_mu_);
  return allocations_.emplace(allocation_id, std::move(stored.record)).first->second;
}

absl::StatusOr<v1::Allocation> FundServiceImpl::AllocationOf(const std::string& allocation_id,
                                                            absl::string_view field) {
  ASSIGN_OR_RETURN(std::optional<v1::Allocation> allocation, AllocationOf(allocation_id, field, /*may_wait=*/true));
  return *std::move(allocation);
}

bool FundServiceImpl::IsFinance(const Principal& who, const std::string& la_code) const {
  return who.organisation_type == cv1::ORGANISATION_TYPE_COUNCIL && who.la_code == la_code &&
         who.HasAnyRole({cv1::ROLE_FINANCE_OFFICER, cv1::ROLE_COUNCIL_OFFICER});
}

v1::FundRequest FundServiceImpl::Shown(const Principal& who, const v1::FundRequest& r,
                                       const std::string& la_code) const {
  v1::FundRequest shown = r;
  const bool finance = who.HasRole(cv1::ROLE_FINANCE_OFFICER) &&
                       who.organisation_type == cv1::ORGANISATION_TYPE_COUNCIL &&
                       who.la_code == la_code;
  if (r.has_family_bank() && !finance) *shown.mutable_family_bank() = Masked(r.family_bank());
  return shown;
}

void FundServiceImpl::AddEvent(LedgerWrite& with, const Principal& who,
                               const v1::FundRequest& request, v1::FundEvent event) const {
  FillEventMetadata(event.mutable_metadata(), options_.producer_name, request.referral_id(),
                    request.request_id(), PayloadTypeName(event), who, clock_.Now());
  const std::string key =
      request.pupil_ref().value().empty() ? request.fund_id() : request.pupil_ref().value();
  with.commands.push_back(OutboxAppendCommand(
      store_.OutboxKey(), ToOutboxEvent(topics::kFundEvents, key, event.metadata(), event)));
}

void FundServiceImpl::AddAudit(LedgerWrite& with, const Principal& who, absl::string_view action,
                               absl::string_view kind, const std::string& id,
                               const std::string& request_id, const std::string& pupil_ref) const {
  AuditEntry entry = AuditOf(who, action, clock_.Now());
  entry.record_kind = std::string(kind);
  entry.record_id = id;
  entry.purpose = "local response fund";
  entry.agreement = options_.sharing_agreement;
  entry.request_id = request_id;
  if (!pupil_ref.empty()) entry.pupil_refs = {pupil_ref};
  with.commands.push_back(AuditAppendCommand(store_.AuditKey(), entry));
}

void FundServiceImpl::NameMove(const Principal& who, absl::string_view method,
                               const std::string& client_request_id,
                               const google::protobuf::Message& request,
                               const google::protobuf::Message& response, Ledger::Move& move) const {
  const std::string guard = IdempotencyKey(store_.prefix(), who.subject, method, client_request_id);
  move.with.commands.push_back({"SET", guard, EncodeFirstAnswer(request, response), "EX",
                                std::to_string(kIdempotencyTtlSeconds)});
  // The same caller, method and request id name one movement of money.
  move.transfer.transfer_id = absl::StrCat(method, ":", who.subject, ":", client_request_id);
}

absl::Status FundServiceImpl::MoveMoney(const Principal& who, absl::string_view method,
                                        const std::string& client_request_id,
                                        const google::protobuf::Message& request,
                                        google::protobuf::Message* response, Transfer transfer,
                                        LedgerWrite with, const v1::FundRequest* written) {
  Ledger::Move move{std::move(transfer), std::move(with)};
  NameMove(who, method, client_request_id, request, *response, move);
  return AfterMove(ledger_.Apply(move.transfer, clock_.Now(), std::move(move.with)), who, method, client_request_id,
                   request, response, written);
}

void FundServiceImpl::MoveMoneyThen(const Principal& who, absl::string_view method,
                                    const std::string& client_request_id, const google::protobuf::Message& request,
                                    google::protobuf::Message* response, Ledger::Move move,
                                    v1::FundRequest written, RpcCompletion done, AfterMoveFn after) {
  // The request, its client request id and the response live until `done` finishes the call.
  ledger_.Apply(
      move.transfer, clock_.Now(), std::move(move.with),
      [this, who, method, &client_request_id, &request, response, written = std::move(written), done,
       after = std::move(after)](absl::StatusOr<TransferResult> result) mutable {
        const bool applied_now = AppliedNow(result);
        auto finish = [this, who = std::move(who), method, &client_request_id, &request, response,
                       written = std::move(written), done, after = std::move(after), result = std::move(result),
                       applied_now]() mutable {
          done.FinishWith([&] {
            absl::Status moved =
                AfterMove(std::move(result), who, method, client_request_id, request, response, &written);
            return std::move(after)(std::move(moved), applied_now, written);
          });
        };
        if (applied_now) {
          finish();
        } else {
          workers_.Run(std::move(finish));
        }
      });
}

absl::Status FundServiceImpl::AfterMove(absl::StatusOr<TransferResult> result, const Principal& who,
                                        absl::string_view method, const std::string& client_request_id,
                                        const google::protobuf::Message& request,
                                        google::protobuf::Message* response, const v1::FundRequest* written) {
  if (!result.ok()) return result.status();
  if (*result == TransferResult::kApplied && written != nullptr) {
    recent_.RememberRequest(*written, written->version());
  }
  return AnswerAfter(*result, who, method, client_request_id, request, response);
}

absl::StatusOr<std::optional<Versioned<v1::FundRequest>>> FundServiceImpl::LoadRequest(
    const std::string& request_id, absl::string_view field, bool fresh, bool may_wait) {
  if (!fresh) {
    if (std::optional<Versioned<v1::FundRequest>> remembered = recent_.Request(request_id)) {
      return remembered;
    }
  }
  if (!may_wait) return std::nullopt;
  ASSIGN_OR_RETURN(auto found, store_.Load<v1::FundRequest>(store_.RequestKey(request_id), field));
  recent_.RememberRequest(found.record, found.version);
  return found;
}

absl::StatusOr<std::optional<std::string>> FundServiceImpl::RequestOfPayment(const std::string& payment_id,
                                                                             bool may_wait) {
  if (std::optional<std::string> remembered = recent_.RequestOfPayment(payment_id)) return remembered;
  if (!may_wait) return std::nullopt;
  ASSIGN_OR_RETURN(std::optional<std::string> request_id, store_.HashField(store_.PaymentsKey(), payment_id));
  if (!request_id) return absl::NotFoundError("payment_id: no such payment");
  recent_.RememberPayment(payment_id, *request_id);
  return request_id;
}

absl::Status FundServiceImpl::AnswerAfter(TransferResult result, const Principal& who,
                                          absl::string_view method, const std::string& client_request_id,
                                          const google::protobuf::Message& request,
                                          google::protobuf::Message* response) {
  if (result == TransferResult::kApplied) return absl::OkStatus();
  response->Clear();
  ASSIGN_OR_RETURN(bool replayed,
                   store_.Replayed(who.subject, method, client_request_id, request, response));
  // The ledger keeps a transfer's id for good, its first answer for
  // kIdempotencyTtlSeconds: the id was used, and the answer is gone.
  if (!replayed) {
    return absl::AlreadyExistsError(
        absl::StrCat(RequestIdFieldOf(request), ": already used, more than ",
                     kIdempotencyTtlSeconds / (24 * 3600),
                     " days ago (its first answer is no longer kept); use a new request id"));
  }
  return absl::OkStatus();
}

absl::Status FundServiceImpl::CreateFund(const Principal& who, const v1::CreateFundRequest* request,
                                         v1::CreateFundResponse* response) {
  if (!IsFinance(who, request->fund().la_code())) {
    return absl::PermissionDeniedError(
        "fund.la_code: only this council's officers create its funds");
  }
  ASSIGN_OR_RETURN(bool replayed, store_.Replayed(who.subject, "CreateFund", request->request_id(),
                                                  *request, response));
  if (replayed) return absl::OkStatus();
  RETURN_IF_ERROR(ValidateFund(request->fund(), clock_.Now()));
  v1::Fund fund = request->fund();
  fund.set_fund_id(NewUuid());
  LedgerWrite with;
  with.commands.push_back(
      {"HSET", store_.FundKey(fund.fund_id()), "record", fund.SerializeAsString(), "version", "1"});
  with.commands.push_back({"SADD", store_.FundsKey(), fund.fund_id()});
  AddAudit(with, who, "CreateFund", "fund", fund.fund_id(), request->request_id());
  *response->mutable_fund() = fund;
  Transfer budget{"",
                  "budget",
                  absl::StrCat(fund.fund_id(), "||"),
                  {{account::Budget(fund.fund_id()), account::Pool(fund.fund_id()),
                    fund.total_budget().pence()}}};
  return MoveMoney(who, "CreateFund", request->request_id(), *request, response, std::move(budget),
                   std::move(with));
}

absl::Status FundServiceImpl::AllocateFunds(const Principal& who,
                                            const v1::AllocateFundsRequest* request,
                                            v1::AllocateFundsResponse* response) {
  ASSIGN_OR_RETURN(bool replayed, store_.Replayed(who.subject, "AllocateFunds",
                                                  request->request_id(), *request, response));
  if (replayed) return absl::OkStatus();
  RETURN_IF_ERROR(ValidateAllocation(request->allocation()));
  ASSIGN_OR_RETURN(const v1::Fund fund,
                   FundOf(request->allocation().fund_id(), "allocation.fund_id"));
  if (!IsFinance(who, fund.la_code())) {
    return absl::PermissionDeniedError("allocation.fund_id: only the fund's council allocates it");
  }
  v1::Allocation allocation = request->allocation();
  allocation.set_allocation_id(NewUuid());
  LedgerWrite with;
  with.commands.push_back({"HSET", store_.AllocationKey(allocation.allocation_id()), "record",
                           allocation.SerializeAsString(), "version", "1"});
  with.commands.push_back(
      {"SADD", store_.AllocationsKey(fund.fund_id()), allocation.allocation_id()});
  AddAudit(with, who, "AllocateFunds", "allocation", allocation.allocation_id(),
           request->request_id());
  *response->mutable_allocation() = allocation;
  Transfer allocate{
      "",
      "allocate",
      absl::StrCat(fund.fund_id(), "|", allocation.allocation_id(), "|"),
      {{account::Pool(fund.fund_id()), account::Allocation(allocation.allocation_id()),
        allocation.amount().pence()}}};
  absl::Status moved = MoveMoney(who, "AllocateFunds", request->request_id(), *request, response,
                                 std::move(allocate), std::move(with));
  if (absl::IsFailedPrecondition(moved)) {
    ASSIGN_OR_RETURN(int64_t left, ledger_.Balance(account::Pool(fund.fund_id())));
    return absl::FailedPreconditionError(
        absl::StrCat("allocation.amount: the fund has only ", Pounds(left), " left to allocate"));
  }
  return moved;
}

absl::Status FundServiceImpl::RegisterPayee(const Principal& who,
                                            const v1::RegisterPayeeRequest* request,
                                            v1::RegisterPayeeResponse* response) {
  if (!IsFinance(who, who.la_code)) {
    return absl::PermissionDeniedError("RegisterPayee: council finance officers keep the register");
  }
  ASSIGN_OR_RETURN(bool replayed, store_.Replayed(who.subject, "RegisterPayee",
                                                  request->request_id(), *request, response));
  if (replayed) return absl::OkStatus();
  v1::Payee payee = request->payee();
  if (payee.payee_id().empty()) payee.set_payee_id(NewUuid());
  RETURN_IF_ERROR(ValidateId("payee.payee_id", payee.payee_id(), "a payee id"));
  RETURN_IF_ERROR(ValidateText("payee.name", payee.name(), 200, true));
  RETURN_IF_ERROR(ValidateBankDetails(payee.bank(), "payee.bank"));
  payee.set_la_code(who.la_code);
  absl::StatusOr<Versioned<v1::Payee>> existing =
      store_.Load<v1::Payee>(store_.PayeeKey(payee.payee_id()), "payee.payee_id");
  if (existing.ok() && existing->record.la_code() != who.la_code) {
    return absl::PermissionDeniedError(
        "payee.payee_id: another council's register holds this id; leave it empty for a new one");
  }
  if (!existing.ok() && !absl::IsNotFound(existing.status())) return existing.status();
  WriteBatch batch;
  store_.Put(batch, store_.PayeeKey(payee.payee_id()), payee,
             existing.ok() ? existing->version : 0);
  AuditEntry entry = AuditOf(who, "RegisterPayee", clock_.Now());
  entry.record_kind = "payee";
  entry.record_id = payee.payee_id();
  store_.Audit(batch, entry);
  *response->mutable_payee() = payee;
  response->mutable_payee()->clear_bank();
  *response->mutable_payee()->mutable_bank() = Masked(payee.bank());
  return store_.CommitCommand(who.subject, "RegisterPayee", request->request_id(), *request,
                              response, std::move(batch));
}

absl::StatusOr<std::optional<FundServiceImpl::Submission>> FundServiceImpl::PrepareSubmission(
    const Principal& who, const v1::SubmitFundRequestRequest& request,
    v1::SubmitFundRequestResponse* response, bool may_wait, bool fresh) {
  // No look-up of the request id first: the commitment's transfer id is
  // derived from it, so a retry finds the first answer there (AfterMove).
  RETURN_IF_ERROR(ValidateRequestId(request.client_request_id(), "client_request_id"));
  const v1::FundRequest& asked = request.fund_request();
  RETURN_IF_ERROR(ValidateId("fund_request.fund_id", asked.fund_id(), "a fund id"));
  ASSIGN_OR_RETURN(std::optional<v1::Fund> fund, FundOf(asked.fund_id(), "fund_request.fund_id", may_wait));
  if (!fund) return std::nullopt;
  RETURN_IF_ERROR(ValidateFundRequest(asked, *fund));
  ASSIGN_OR_RETURN(std::optional<v1::Allocation> allocation,
                   AllocationOf(asked.allocation_id(), "fund_request.allocation_id", may_wait));
  if (!allocation) return std::nullopt;
  if (allocation->fund_id() != fund->fund_id()) {
    return absl::NotFoundError("fund_request.allocation_id: not an allocation of this fund");
  }
  if (!MayRequestAgainst(who, *allocation, fund->la_code())) {
    return absl::PermissionDeniedError(
        "fund_request.allocation_id: you may ask only against your own organisation's allocation");
  }
  ASSIGN_OR_RETURN(std::optional<ReferralFactsKeeper::Facts> referral,
                   ReferralFor(asked, *fund, may_wait, fresh));
  if (!referral) return std::nullopt;
  if (asked.payee_type() == v1::PAYEE_TYPE_SUPPLIER) {
    if (!may_wait) return std::nullopt;
    ASSIGN_OR_RETURN(
        const Versioned<v1::Payee> payee,
        store_.Load<v1::Payee>(store_.PayeeKey(asked.payee_id()), "fund_request.payee_id"));
    if (payee.record.la_code() != fund->la_code()) {
      return absl::NotFoundError("fund_request.payee_id: not found");  // another council's register
    }
  }
  const absl::Time now = clock_.Now();
  v1::FundRequest r = asked;
  r.set_request_id(NewUuid());
  r.set_status(v1::REQUEST_STATUS_SUBMITTED);
  *r.mutable_requested_by() = who.ToActor();
  r.clear_approved_by();
  r.clear_rejection_reason();
  r.clear_payment_id();
  r.clear_payment_failure_reason();
  *r.mutable_submitted_at() = ToProtoTimestamp(now);
  r.set_version(1);
  if (r.payee_type() != v1::PAYEE_TYPE_FAMILY) r.clear_family_bank();
  // The child is the referral's, whatever the request says.
  *r.mutable_pupil_ref() = referral->record.pupil_ref();
  const std::string ref = r.pupil_ref().value();
  LedgerWrite with;
  // Lands only if the referral's facts are still those checked above.
  const ReferralFactsKeeper::Guard unchanged = referrals_.FactsUnchanged(*referral);
  with.preconditions.push_back({unchanged.key, unchanged.field, unchanged.expected});
  with.commands.push_back({"HSET", store_.RequestKey(r.request_id()), "record", r.SerializeAsString(),
                           "version", "1"});
  with.commands.push_back({"ZADD", store_.RequestsKey(r.fund_id()), std::to_string(absl::ToUnixMillis(now)),
                           r.request_id()});
  with.commands.push_back({"HINCRBY", store_.FiguresKey(r.fund_id()),
                           CategoryName(r.category()) + ":committed", std::to_string(r.amount().pence())});
  if (!r.decision_id().empty()) {
    // The forum's draft is now this request.
    with.commands.push_back({"DEL", store_.RequestKey(FundStore::DraftId(r.decision_id()))});
    with.commands.push_back({"ZREM", store_.DraftsKey(), FundStore::DraftId(r.decision_id())});
  }
  v1::FundEvent event;
  v1::FundRequestSubmitted* submitted = event.mutable_fund_request_submitted();
  submitted->set_fund_request_id(r.request_id());
  submitted->set_fund_id(r.fund_id());
  submitted->set_referral_id(r.referral_id());
  *submitted->mutable_pupil_ref() = r.pupil_ref();
  submitted->set_category(r.category());
  *submitted->mutable_amount() = r.amount();
  AddEvent(with, who, r, std::move(event));
  AddAudit(with, who, "SubmitFundRequest", "fund_request", r.request_id(),
           request.client_request_id(), r.pupil_ref().value());
  *response->mutable_fund_request() = Shown(who, r, fund->la_code());
  const int64_t pence = r.amount().pence();
  Transfer commit{"", "commit", Reference(r),
                  {{account::Allocation(r.allocation_id()), account::Committed(r.allocation_id()), pence},
                   {account::ChildCapsSource(r.fund_id()), account::ChildUsed(r.fund_id(), ref), pence}},
                  {{account::ChildUsed(r.fund_id(), ref), fund->per_child_limit().pence()}}};
  Submission submission{{std::move(commit), std::move(with)}, std::move(r), *std::move(fund)};
  NameMove(who, "SubmitFundRequest", request.client_request_id(), request, *response, submission.move);
  return submission;
}

absl::Status FundServiceImpl::AfterSubmission(absl::Status moved, bool applied_now, const v1::FundRequest& r,
                                              const v1::Fund& fund) {
  if (moved.ok()) {
    if (applied_now) pence_.Add({{"stage", "committed"}}).Increment(double(r.amount().pence()));
    return moved;
  }
  if (!absl::IsFailedPrecondition(moved)) return moved;
  overspend_refused_.Add({}).Increment();
  const std::string child = account::ChildUsed(r.fund_id(), r.pupil_ref().value());
  if (absl::StartsWith(moved.message(), child)) {
    ASSIGN_OR_RETURN(int64_t used, ledger_.Balance(child));
    const int64_t left = std::max<int64_t>(0, fund.per_child_limit().pence() - used);
    return absl::FailedPreconditionError(absl::StrCat("fund_request.amount: over this child's limit of ",
                                                      Pounds(fund.per_child_limit().pence()),
                                                      " for the period; ", Pounds(left), " is left"));
  }
  ASSIGN_OR_RETURN(int64_t left, ledger_.Balance(account::Allocation(r.allocation_id())));
  return absl::FailedPreconditionError(
      absl::StrCat("fund_request.amount: the allocation has only ", Pounds(left), " left"));
}

absl::StatusOr<std::optional<ReferralFactsKeeper::Facts>> FundServiceImpl::ReferralFor(
    const v1::FundRequest& asked, const v1::Fund& fund, bool may_wait, bool fresh) {
  constexpr absl::string_view kField = "fund_request.referral_id";
  std::optional<ReferralFactsKeeper::Facts> facts;
  if (!fresh) facts = referrals_.Remembered(asked.referral_id());
  if (!facts) {
    if (!may_wait) return std::nullopt;
    ASSIGN_OR_RETURN(facts, referrals_.Find(asked.referral_id(), fresh));
  }
  // Another council's referral is answered as one not known here.
  if (!facts || facts->record.la_code() != fund.la_code()) return ReferralNotKnownHere(kField);
  RETURN_IF_ERROR(
      CheckReferralUse(facts->record, rooted::referral::v1::CONSENT_SCOPE_FUND, kField));
  if (asked.pupil_ref().value() != facts->record.pupil_ref().value()) {
    return absl::InvalidArgumentError(
        "fund_request.pupil_ref: is not the pupil reference of the referral named");
  }
  return facts;
}

absl::Status FundServiceImpl::SubmitAndWait(const Principal& who,
                                            const v1::SubmitFundRequestRequest& request,
                                            v1::SubmitFundRequestResponse* response, bool fresh) {
  response->Clear();
  if (fresh) {
    // Checked again from Redis because something changed: a retry of a
    // submission applied before still gets its first answer.
    ASSIGN_OR_RETURN(bool replayed,
                     store_.Replayed(who.subject, "SubmitFundRequest", request.client_request_id(),
                                     request, response));
    if (replayed) return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(std::optional<Submission> submission,
                   PrepareSubmission(who, request, response, /*may_wait=*/true, fresh));
  if (!submission) return absl::InternalError("a submission that may wait did not");
  Ledger::Move& move = submission->move;
  absl::StatusOr<TransferResult> result =
      ledger_.Apply(move.transfer, clock_.Now(), std::move(move.with));
  const bool applied_now = AppliedNow(result);
  absl::Status moved =
      AfterMove(std::move(result), who, "SubmitFundRequest", request.client_request_id(), request,
                response, &submission->record);
  return AfterSubmission(std::move(moved), applied_now, submission->record, submission->fund);
}

void FundServiceImpl::SubmitFundRequest(const Principal& who, v1::SubmitFundRequestRequest* request,
                                        v1::SubmitFundRequestResponse* response,
                                        RpcCompletion done) {
  // A copy of the referral's facts that another replica has since changed
  // fails the write's guard (ABORTED): then once more from Redis's.
  auto submit_fresh = [this, who, request, response] {
    return RetryOnConflict(2,
                           [&] { return SubmitAndWait(who, *request, response, /*fresh=*/true); });
  };
  absl::StatusOr<std::optional<Submission>> prepared =
      PrepareSubmission(who, *request, response, /*may_wait=*/false, /*fresh=*/false);
  if (!prepared.ok()) return done.Finish(prepared.status());
  if (!*prepared) {
    // A look-up of a fund, allocation, referral or payee this replica has not read yet.
    response->Clear();
    return workers_.Run([this, who, request, response, done, submit_fresh] {
      done.FinishWith([&]() -> absl::Status {
        absl::Status submitted = SubmitAndWait(who, *request, response, /*fresh=*/false);
        return absl::IsAborted(submitted) ? submit_fresh() : submitted;
      });
    });
  }
  Submission& submission = **prepared;
  MoveMoneyThen(who, "SubmitFundRequest", request->client_request_id(), *request, response,
                std::move(submission.move), std::move(submission.record), done,
                [this, fund = std::move(submission.fund), submit_fresh](
                    absl::Status moved, bool applied_now, const v1::FundRequest& written) {
                  // Not applied now: this runs on a worker, where it may wait.
                  if (absl::IsAborted(moved)) return submit_fresh();
                  return AfterSubmission(std::move(moved), applied_now, written, fund);
                });
}

namespace {

// Runs `attempt` from the request as this replica remembers it and, when its
// version-guarded write finds that copy behind (ABORTED), once more from
// Redis with the response cleared.
absl::Status RememberedThenFresh(google::protobuf::Message* response,
                                 const std::function<absl::Status(bool fresh)>& attempt) {
  absl::Status status = attempt(/*fresh=*/false);
  if (!absl::IsAborted(status)) return status;
  response->Clear();
  return attempt(/*fresh=*/true);
}

}  // namespace

void FundServiceImpl::FinishOnWorker(RpcCompletion done, google::protobuf::Message* response,
                                     std::function<absl::Status(bool fresh)> attempt) {
  response->Clear();
  workers_.Run([done, response, attempt = std::move(attempt)] {
    done.FinishWith([&] { return RememberedThenFresh(response, attempt); });
  });
}

absl::StatusOr<FundServiceImpl::Approval> FundServiceImpl::PrepareApproval(
    const Principal& who, const v1::ApproveFundRequestRequest& request, v1::ApproveFundRequestResponse* response,
    bool fresh, bool may_wait) {
  RETURN_IF_ERROR(ValidateRequestId(request.client_request_id(), "client_request_id"));
  RETURN_IF_ERROR(ValidateId("fund_request_id", request.fund_request_id(), "a fund request id"));
  Approval approval;  // kMustWait until shown otherwise
  ASSIGN_OR_RETURN(std::optional<Versioned<v1::FundRequest>> found,
                   LoadRequest(request.fund_request_id(), "fund_request_id", fresh, may_wait));
  if (!found) return approval;
  v1::FundRequest& r = found->record;
  ASSIGN_OR_RETURN(std::optional<v1::Fund> fund, FundOf(r.fund_id(), "fund_request_id", may_wait));
  if (!fund) return approval;
  ASSIGN_OR_RETURN(std::optional<v1::Allocation> allocation,
                   AllocationOf(r.allocation_id(), "fund_request_id", may_wait));
  if (!allocation) return approval;
  absl::Status refused =
      r.status() != v1::REQUEST_STATUS_SUBMITTED
          ? absl::FailedPreconditionError("fund_request_id: only a submitted request can be approved")
          : CheckApprover(who, r, *fund, *allocation);
  if (!refused.ok()) {
    // No longer submitted, or "already approved by you": perhaps by this very
    // call, retried. Then its first answer.
    if (!absl::IsFailedPrecondition(refused)) return refused;
    if (!may_wait) return approval;
    ASSIGN_OR_RETURN(bool replayed, store_.Replayed(who.subject, "ApproveFundRequest", request.client_request_id(),
                                                    request, response));
    if (!replayed) return refused;
    approval.kind = Approval::Kind::kAnswered;
    return approval;
  }
  *r.add_approved_by() = who.ToActor();
  r.set_version(found->version + 1);
  const bool complete = r.approved_by_size() >= ApprovalsNeeded(RequiredApproval(*fund, r.amount().pence()));
  LedgerWrite& with = approval.move.with;
  with.preconditions.push_back({store_.RequestKey(r.request_id()), "version", std::to_string(found->version)});
  if (complete) {
    r.set_status(v1::REQUEST_STATUS_APPROVED);
    r.set_payment_id(NewUuid());
    with.commands.push_back({"HSET", store_.PaymentsKey(), r.payment_id(), r.request_id()});
    v1::FundEvent approved;
    approved.mutable_fund_request_approved()->set_fund_request_id(r.request_id());
    approved.mutable_fund_request_approved()->set_referral_id(r.referral_id());
    *approved.mutable_fund_request_approved()->mutable_approved_by() = who.ToActor();
    AddEvent(with, who, r, std::move(approved));
    v1::FundEvent issued;
    issued.mutable_payment_issued()->set_payment_id(r.payment_id());
    issued.mutable_payment_issued()->set_fund_request_id(r.request_id());
    *issued.mutable_payment_issued()->mutable_amount() = r.amount();
    AddEvent(with, who, r, std::move(issued));
  }
  with.commands.push_back({"HSET", store_.RequestKey(r.request_id()), "record", r.SerializeAsString(),
                           "version", std::to_string(r.version())});
  AddAudit(with, who, "ApproveFundRequest", "fund_request", r.request_id(),
           request.client_request_id(), r.pupil_ref().value());
  *response->mutable_fund_request() = Shown(who, r, fund->la_code());
  approval.kind = complete ? Approval::Kind::kComplete : Approval::Kind::kFirstOfTwo;
  approval.expected_version = found->version;
  if (complete) {
    approval.move.transfer = Transfer{"", "approve", Reference(r),
                                      {{account::Committed(r.allocation_id()), account::Payable(r.fund_id()),
                                        r.amount().pence()}}};
    NameMove(who, "ApproveFundRequest", request.client_request_id(), request, *response, approval.move);
  }
  approval.record = std::move(r);
  return approval;
}

absl::Status FundServiceImpl::Approve(const Principal& who, const v1::ApproveFundRequestRequest& request,
                                      v1::ApproveFundRequestResponse* response, bool fresh) {
  ASSIGN_OR_RETURN(Approval approval, PrepareApproval(who, request, response, fresh, /*may_wait=*/true));
  switch (approval.kind) {
    case Approval::Kind::kAnswered:
      return absl::OkStatus();
    case Approval::Kind::kMustWait:
      return absl::InternalError("an approval that may wait did not");
    case Approval::Kind::kFirstOfTwo: {
      // A first of two approvals moves no money, and a zero-sum movement
      // would be refused: the approval is a guarded write of its own.
      WriteBatch batch;
      batch.preconditions.push_back({store_.RequestKey(approval.record.request_id()), "version",
                                     std::to_string(approval.expected_version)});
      batch.commands = std::move(approval.move.with.commands);
      return store_.CommitCommand(who.subject, "ApproveFundRequest", request.client_request_id(), request,
                                  response, std::move(batch));
    }
    case Approval::Kind::kComplete:
      break;
  }
  Ledger::Move& move = approval.move;
  RETURN_IF_ERROR(AfterMove(ledger_.Apply(move.transfer, clock_.Now(), std::move(move.with)), who,
                            "ApproveFundRequest", request.client_request_id(), request, response, &approval.record));
  RememberPaymentOf(*response);
  return absl::OkStatus();
}

void FundServiceImpl::RememberPaymentOf(const v1::ApproveFundRequestResponse& response) {
  // From the answer, which is the first one when this call was a retry.
  recent_.RememberPayment(response.fund_request().payment_id(), response.fund_request().request_id());
}

void FundServiceImpl::ApproveFundRequest(const Principal& who,
                                         v1::ApproveFundRequestRequest* request,
                                         v1::ApproveFundRequestResponse* response,
                                         RpcCompletion done) {
  absl::StatusOr<Approval> approval =
      PrepareApproval(who, *request, response, /*fresh=*/false, /*may_wait=*/false);
  if (!approval.ok()) return done.Finish(approval.status());
  if (approval->kind != Approval::Kind::kComplete) {
    // A look-up, a replay check or a first of two approvals: done waiting.
    return FinishOnWorker(done, response, [this, who, request, response](bool fresh) {
      return Approve(who, *request, response, fresh);
    });
  }
  MoveMoneyThen(who, "ApproveFundRequest", request->client_request_id(), *request, response,
                std::move(approval->move), std::move(approval->record), done,
                [this, who, request, response](absl::Status moved, bool,
                                               const v1::FundRequest&) -> absl::Status {
                  if (absl::IsAborted(moved)) {
                    // This replica's copy was behind (on a worker: not applied now).
                    response->Clear();
                    return Approve(who, *request, response, /*fresh=*/true);
                  }
                  RETURN_IF_ERROR(moved);
                  RememberPaymentOf(*response);
                  return absl::OkStatus();
                });
}

absl::Status FundServiceImpl::RejectFundRequest(const Principal& who,
                                                const v1::RejectFundRequestRequest* request,
                                                v1::RejectFundRequestResponse* response) {
  ASSIGN_OR_RETURN(bool replayed,
                   store_.Replayed(who.subject, "RejectFundRequest", request->client_request_id(),
                                   *request, response));
  if (replayed) return absl::OkStatus();
  RETURN_IF_ERROR(ValidateId("fund_request_id", request->fund_request_id(), "a fund request id"));
  RETURN_IF_ERROR(ValidateText("reason", request->reason(), 500, true));
  ASSIGN_OR_RETURN(auto found,
                   store_.Load<v1::FundRequest>(store_.RequestKey(request->fund_request_id()),
                                                "fund_request_id"));
  v1::FundRequest& r = found.record;
  ASSIGN_OR_RETURN(const v1::Fund fund, FundOf(r.fund_id(), "fund_request_id"));
  ASSIGN_OR_RETURN(const v1::Allocation allocation,
                   AllocationOf(r.allocation_id(), "fund_request_id"));
  if (r.status() != v1::REQUEST_STATUS_SUBMITTED) {
    return absl::FailedPreconditionError(
        "fund_request_id: only a submitted request can be rejected");
  }
  // Those who may approve may refuse; a first approver may still refuse.
  absl::Status approver = CheckApprover(who, r, fund, allocation);
  if (!approver.ok() && !absl::IsFailedPrecondition(approver)) return approver;
  r.set_status(v1::REQUEST_STATUS_REJECTED);
  r.set_rejection_reason(request->reason());
  r.set_version(found.version + 1);
  LedgerWrite with;
  with.preconditions.push_back(
      {store_.RequestKey(r.request_id()), "version", std::to_string(found.version)});
  with.commands.push_back({"HSET", store_.RequestKey(r.request_id()), "record",
                           r.SerializeAsString(), "version", std::to_string(r.version())});
  with.commands.push_back({"HINCRBY", store_.FiguresKey(r.fund_id()),
                           CategoryName(r.category()) + ":committed",
                           std::to_string(-r.amount().pence())});
  v1::FundEvent event;
  event.mutable_fund_request_rejected()->set_fund_request_id(r.request_id());
  event.mutable_fund_request_rejected()->set_referral_id(r.referral_id());
  event.mutable_fund_request_rejected()->set_reason(request->reason());
  AddEvent(with, who, r, std::move(event));
  AddAudit(with, who, "RejectFundRequest", "fund_request", r.request_id(),
           request->client_request_id(), r.pupil_ref().value());
  *response->mutable_fund_request() = Shown(who, r, fund.la_code());
  const int64_t pence = r.amount().pence();
  const std::string ref = r.pupil_ref().value();
  Transfer release{
      "",
      "release",
      Reference(r),
      {{account::Committed(r.allocation_id()), account::Allocation(r.allocation_id()), pence},
       {account::ChildUsed(r.fund_id(), ref), account::ChildCapsSource(r.fund_id()), pence}}};
  RETURN_IF_ERROR(MoveMoney(who, "RejectFundRequest", request->client_request_id(), *request,
                            response, std::move(release), std::move(with)));
  pence_.Add({{"stage", "released"}}).Increment(double(pence));
  return absl::OkStatus();
}

namespace {

absl::Status CheckOutcomeFields(const std::string& payment_id, v1::PaymentOutcome outcome,
                                const std::string& failure_reason) {
  RETURN_IF_ERROR(ValidateId("payment_id", payment_id, "a payment id"));
  if (outcome != v1::PAYMENT_OUTCOME_SETTLED && outcome != v1::PAYMENT_OUTCOME_FAILED) {
    return FieldError("outcome", "settled or failed");
  }
  if (outcome == v1::PAYMENT_OUTCOME_FAILED) {
    RETURN_IF_ERROR(ValidateText("failure_reason", failure_reason, 500, true));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<FundServiceImpl::OutcomeMove> FundServiceImpl::PrepareOutcome(
    const Principal& who, const v1::RecordPaymentOutcomeRequest& asked, Versioned<v1::FundRequest> found,
    v1::RecordPaymentOutcomeResponse* response, bool may_wait) {
  OutcomeMove prepared;  // kMustWait until shown otherwise
  v1::FundRequest& r = found.record;
  ASSIGN_OR_RETURN(std::optional<v1::Fund> found_fund, FundOf(r.fund_id(), "payment_id", may_wait));
  if (!found_fund) return prepared;
  const v1::Fund& fund = *found_fund;
  const bool adapter = who.HasRole(cv1::ROLE_SERVICE) && who.la_code == fund.la_code();
  const bool finance = who.HasRole(cv1::ROLE_FINANCE_OFFICER) &&
                       who.organisation_type == cv1::ORGANISATION_TYPE_COUNCIL &&
                       who.la_code == fund.la_code();
  if (!adapter && !finance) {
    return absl::PermissionDeniedError("payment_id: the payments adapter or a finance officer reports payments");
  }
  if (r.status() != v1::REQUEST_STATUS_APPROVED) {
    // Perhaps this very call recorded it before: then its first answer.
    if (!may_wait) return prepared;
    ASSIGN_OR_RETURN(bool replayed, store_.Replayed(who.subject, "RecordPaymentOutcome",
                                                    asked.client_request_id(), asked, response));
    if (!replayed) return absl::FailedPreconditionError("payment_id: the payment has already been settled or failed");
    prepared.kind = OutcomeMove::Kind::kAnswered;
    return prepared;
  }
  prepared.kind = OutcomeMove::Kind::kReady;
  prepared.pence = r.amount().pence();
  prepared.settled = asked.outcome() == v1::PAYMENT_OUTCOME_SETTLED;
  const int64_t pence = prepared.pence;
  const std::string ref = r.pupil_ref().value();
  r.set_status(prepared.settled ? v1::REQUEST_STATUS_PAID : v1::REQUEST_STATUS_PAYMENT_FAILED);
  if (!prepared.settled) r.set_payment_failure_reason(asked.failure_reason());
  r.set_version(found.version + 1);
  LedgerWrite& with = prepared.move.with;
  with.preconditions.push_back({store_.RequestKey(r.request_id()), "version", std::to_string(found.version)});
  with.commands.push_back({"HSET", store_.RequestKey(r.request_id()), "record", r.SerializeAsString(),
                           "version", std::to_string(r.version())});
  with.commands.push_back({"HINCRBY", store_.FiguresKey(r.fund_id()), CategoryName(r.category()) + ":committed",
                           std::to_string(-pence)});
  v1::FundEvent event;
  if (prepared.settled) {
    with.commands.push_back({"HINCRBY", store_.FiguresKey(r.fund_id()), CategoryName(r.category()) + ":paid",
                             std::to_string(pence)});
    with.commands.push_back({"HINCRBY", store_.FiguresKey(r.fund_id()), r.allocation_id() + ":paid",
                             std::to_string(pence)});
    event.mutable_payment_settled()->set_payment_id(asked.payment_id());
    event.mutable_payment_settled()->set_fund_request_id(r.request_id());
    prepared.move.transfer = Transfer{"", "settle", Reference(r),
                                      {{account::Payable(r.fund_id()), account::Paid(r.fund_id()), pence}}};
  } else {
    event.mutable_payment_failed()->set_payment_id(asked.payment_id());
    event.mutable_payment_failed()->set_fund_request_id(r.request_id());
    event.mutable_payment_failed()->set_reason(asked.failure_reason());
    // A failed payment gives the money back to the allocation and the child's limit.
    prepared.move.transfer =
        Transfer{"", "payment_failed", Reference(r),
                 {{account::Payable(r.fund_id()), account::Allocation(r.allocation_id()), pence},
                  {account::ChildUsed(r.fund_id(), ref), account::ChildCapsSource(r.fund_id()), pence}}};
  }
  AddEvent(with, who, r, std::move(event));
  AddAudit(with, who, "RecordPaymentOutcome", "payment", asked.payment_id(),
           asked.client_request_id(), r.pupil_ref().value());
  *response->mutable_fund_request() = Shown(who, r, fund.la_code());
  NameMove(who, "RecordPaymentOutcome", asked.client_request_id(), asked, *response, prepared.move);
  prepared.record = std::move(r);
  return prepared;
}

void FundServiceImpl::CountOutcome(bool settled, int64_t pence) {
  pence_.Add({{"stage", settled ? "paid" : "released"}}).Increment(double(pence));
}

absl::StatusOr<FundServiceImpl::OutcomeMove> FundServiceImpl::PrepareReport(
    const Principal& who, const v1::RecordPaymentOutcomeRequest& request, v1::RecordPaymentOutcomeResponse* response,
    bool fresh, bool may_wait) {
  ASSIGN_OR_RETURN(std::optional<std::string> request_id, RequestOfPayment(request.payment_id(), may_wait));
  if (!request_id) return OutcomeMove{};
  ASSIGN_OR_RETURN(std::optional<Versioned<v1::FundRequest>> found,
                   LoadRequest(*request_id, "payment_id", fresh, may_wait));
  if (!found) return OutcomeMove{};
  return PrepareOutcome(who, request, *std::move(found), response, may_wait);
}

absl::Status FundServiceImpl::ReportPayment(const Principal& who, const v1::RecordPaymentOutcomeRequest& request,
                                            v1::RecordPaymentOutcomeResponse* response, bool fresh) {
  ASSIGN_OR_RETURN(OutcomeMove prepared, PrepareReport(who, request, response, fresh, /*may_wait=*/true));
  if (prepared.kind == OutcomeMove::Kind::kAnswered) return absl::OkStatus();
  if (prepared.kind == OutcomeMove::Kind::kMustWait) return absl::InternalError("a report that may wait did not");
  absl::StatusOr<TransferResult> result =
      ledger_.Apply(prepared.move.transfer, clock_.Now(), std::move(prepared.move.with));
  if (AppliedNow(result)) CountOutcome(prepared.settled, prepared.pence);
  return AfterMove(std::move(result), who, "RecordPaymentOutcome", request.client_request_id(), request, response,
                   &prepared.record);
}

void FundServiceImpl::RecordPaymentOutcome(const Principal& who,
                                           v1::RecordPaymentOutcomeRequest* request,
                                           v1::RecordPaymentOutcomeResponse* response,
                                           RpcCompletion done) {
  absl::Status fields = ValidateRequestId(request->client_request_id(), "client_request_id");
  if (fields.ok())
    fields =
        CheckOutcomeFields(request->payment_id(), request->outcome(), request->failure_reason());
  if (!fields.ok()) return done.Finish(fields);
  absl::StatusOr<OutcomeMove> prepared =
      PrepareReport(who, *request, response, /*fresh=*/false, /*may_wait=*/false);
  if (!prepared.ok()) return done.Finish(prepared.status());
  if (prepared->kind != OutcomeMove::Kind::kReady) {
    // A look-up or a replay check: done waiting.
    return FinishOnWorker(done, response, [this, who, request, response](bool fresh) {
      return ReportPayment(who, *request, response, fresh);
    });
  }
  const bool settled = prepared->settled;
  const int64_t pence = prepared->pence;
  MoveMoneyThen(who, "RecordPaymentOutcome", request->client_request_id(), *request, response,
                std::move(prepared->move), std::move(prepared->record), done,
                [this, who, request, response, settled, pence](
                    absl::Status moved, bool applied_now, const v1::FundRequest&) -> absl::Status {
                  if (absl::IsAborted(moved)) {
                    // This replica's copy was behind (on a worker: not applied now).
                    response->Clear();
                    return ReportPayment(who, *request, response, /*fresh=*/true);
                  }
                  if (moved.ok() && applied_now) CountOutcome(settled, pence);
                  return moved;
                });
}

absl::Status FundServiceImpl::ImportBankFile(const Principal& who,
                                             const v1::ImportBankFileRequest* request,
                                             v1::ImportBankFileResponse* response) {
  RETURN_IF_ERROR(ValidateRequestId(request->client_request_id(), "client_request_id"));
  if (request->csv().size() > (8 << 20)) return FieldError("csv", "at most 8 MiB");
  // payment_id,status,reason with a header line; status settled or failed.
  std::vector<absl::string_view> lines =
      absl::StrSplit(request->csv(), '\n', absl::SkipWhitespace());
  if (lines.empty() ||
      !absl::StartsWith(absl::StripAsciiWhitespace(lines[0]), "payment_id,status")) {
    return FieldError("csv", "the first line must be the header payment_id,status,reason");
  }
  std::vector<BankLine> chunk;
  for (size_t i = 1; i < lines.size(); ++i) {
    std::vector<std::string> cells =
        absl::StrSplit(absl::StripAsciiWhitespace(lines[i]), absl::MaxSplits(',', 2));
    if (cells.size() < 2) {
      response->add_problems(absl::StrCat("line ", i + 1, ": expected payment_id,status,reason"));
      continue;
    }
    BankLine line;
    line.number = i + 1;
    // Each line is its own idempotent step, keyed by its payment: a file
    // imported twice, or overlapping the callback, changes nothing twice.
    line.asked.set_client_request_id(cells[0]);
    line.asked.set_payment_id(cells[0]);
    line.asked.set_outcome(cells[1] == "settled"  ? v1::PAYMENT_OUTCOME_SETTLED
                           : cells[1] == "failed" ? v1::PAYMENT_OUTCOME_FAILED
                                                  : v1::PAYMENT_OUTCOME_UNSPECIFIED);
    line.asked.set_failure_reason(cells.size() > 2 ? cells[2] : "");
    chunk.push_back(std::move(line));
    if (chunk.size() == kBankLinesPerStep) {
      SettleBankLines(who, chunk, response);
      chunk.clear();
    }
  }
  SettleBankLines(who, chunk, response);
  return absl::OkStatus();
}

void FundServiceImpl::SettleBankLines(const Principal& who, std::vector<BankLine>& lines,
                                      v1::ImportBankFileResponse* response) {
  auto problem = [&](const BankLine& line, absl::string_view what) {
    response->add_problems(absl::StrCat("line ", line.number, ": ", what));
  };
  auto done = [&](const BankLine& line) {
    if (line.asked.outcome() == v1::PAYMENT_OUTCOME_SETTLED) {
      response->set_settled(response->settled() + 1);
    } else {
      response->set_failed(response->failed() + 1);
    }
  };
  // Three round trips for the lot: which request each payment is for, those
  // requests, then every line's transfer.
  std::vector<BankLine*> valid;
  std::vector<std::string> payment_ids;
  for (BankLine& line : lines) {
    const absl::Status fields =
        CheckOutcomeFields(line.asked.payment_id(), line.asked.outcome(), line.asked.failure_reason());
    if (!fields.ok()) {
      problem(line, fields.message());
      continue;
    }
    valid.push_back(&line);
    payment_ids.push_back(line.asked.payment_id());
  }
  if (valid.empty()) return;
  absl::StatusOr<std::vector<std::optional<std::string>>> request_ids =
      store_.HashFields(store_.PaymentsKey(), payment_ids);
  std::vector<std::string> keys;
  for (size_t i = 0; request_ids.ok() && i < valid.size(); ++i) {
    keys.push_back(store_.RequestKey((*request_ids)[i].value_or("")));
  }
  absl::StatusOr<std::vector<std::optional<Versioned<v1::FundRequest>>>> found =
      request_ids.ok() ? store_.LoadEach<v1::FundRequest>(keys) : request_ids.status();
  if (!found.ok()) {
    for (const BankLine* line : valid) problem(*line, found.status().message());
    return;
  }
  std::vector<Ledger::Move> moves;
  std::vector<std::pair<BankLine*, OutcomeMove>> pending;
  for (size_t i = 0; i < valid.size(); ++i) {
    BankLine& line = *valid[i];
    if (!(*request_ids)[i] || !(*found)[i]) {
      problem(line, "payment_id: no such payment");
      continue;
    }
    absl::StatusOr<OutcomeMove> prepared =
        PrepareOutcome(who, line.asked, *std::move((*found)[i]), &line.answer, /*may_wait=*/true);
    if (!prepared.ok()) {
      problem(line, prepared.status().message());
    } else if (prepared->kind == OutcomeMove::Kind::kAnswered) {
      done(line);  // imported before
    } else {
      moves.push_back(std::move(prepared->move));
      pending.emplace_back(&line, *std::move(prepared));  // its pence and outcome, for the count
    }
  }
  const std::vector<absl::StatusOr<TransferResult>> results = ledger_.ApplyEach(std::move(moves), clock_.Now());
  for (size_t i = 0; i < pending.size(); ++i) {
    const auto& [line, prepared] = pending[i];
    if (!results[i].ok()) {
      problem(*line, results[i].status().message());
      continue;
    }
    if (AppliedNow(results[i])) CountOutcome(prepared.settled, prepared.pence);
    done(*line);
  }
}

absl::Status FundServiceImpl::ListFundRequests(const Principal& who,
                                               const v1::ListFundRequestsRequest* request,
                                               v1::ListFundRequestsResponse* response) {
  if (request->status() == v1::REQUEST_STATUS_DRAFT) {
    // Drafts belong to no fund yet: the council's officers and coordinators complete them.
    if (!ActsForCouncil(who)) {
      return absl::PermissionDeniedError(
          "status: drafts from forum decisions are the council's to complete");
    }
    ASSIGN_OR_RETURN(const Page page, ParsePage(request->page(), 50, 500));
    ASSIGN_OR_RETURN(std::vector<std::string> ids,
                     store_.RangeByScore(store_.DraftsKey(), "-inf", "+inf"));
    std::vector<std::string> keys;
    for (size_t i = page.offset; i < ids.size() && keys.size() < size_t(page.size); ++i) {
      keys.push_back(store_.RequestKey(ids[i]));
    }
    ASSIGN_OR_RETURN(auto drafts, store_.LoadAll<v1::FundRequest>(keys));
    for (auto& d : drafts) *response->add_fund_requests() = std::move(d.record);
    const size_t next = page.offset + keys.size();
    response->mutable_page()->set_next_page_token(NextPageToken(next, next < ids.size()));
    return absl::OkStatus();
  }
  RETURN_IF_ERROR(ValidateId("fund_id", request->fund_id(), "a fund id"));
  ASSIGN_OR_RETURN(const v1::Fund fund, FundOf(request->fund_id(), "fund_id"));
  ASSIGN_OR_RETURN(const Page page, ParsePage(request->page(), 50, 500));
  ASSIGN_OR_RETURN(std::vector<std::string> ids,
                   store_.RangeByScore(store_.RequestsKey(request->fund_id()), "-inf", "+inf"));
  std::vector<std::string> keys;
  for (const std::string& id : ids) keys.push_back(store_.RequestKey(id));
  ASSIGN_OR_RETURN(auto requests, store_.LoadAll<v1::FundRequest>(keys));
  const bool council =
      IsFinance(who, fund.la_code()) || (ActsForCouncil(who) && who.la_code == fund.la_code());
  std::map<std::string, v1::Allocation> allocations;
  size_t seen = 0, shown = 0;
  bool more = false;
  for (const auto& r : requests) {
    if (request->status() != v1::REQUEST_STATUS_UNSPECIFIED &&
        r.record.status() != request->status())
      continue;
    if (!council) {
      if (!allocations.contains(r.record.allocation_id())) {
        ASSIGN_OR_RETURN(auto a,
                         store_.Load<v1::Allocation>(store_.AllocationKey(r.record.allocation_id()),
                                                     "allocation_id"));
        allocations[r.record.allocation_id()] = a.record;
      }
      if (!MayRequestAgainst(who, allocations[r.record.allocation_id()], fund.la_code())) continue;
    }
    if (seen++ < page.offset) continue;
    if (shown == size_t(page.size)) {
      more = true;
      break;
    }
    *response->add_fund_requests() = Shown(who, r.record, fund.la_code());
    ++shown;
  }
  response->mutable_page()->set_next_page_token(NextPageToken(page.offset + shown, more));
  return absl::OkStatus();
}

absl::Status FundServiceImpl::ListFunds(const Principal& who, const v1::ListFundsRequest* request,
                                        v1::ListFundsResponse* response) {
  ASSIGN_OR_RETURN(const Page page, ParsePage(request->page(), 50, 500));
  ASSIGN_OR_RETURN(std::vector<std::string> fund_ids, store_.SetMembers(store_.FundsKey()));
  std::vector<std::string> keys;
  keys.reserve(fund_ids.size());
  for (const std::string& id : fund_ids) keys.push_back(store_.FundKey(id));
  ASSIGN_OR_RETURN(std::vector<Versioned<v1::Fund>> stored, store_.LoadAll<v1::Fund>(keys));
  std::vector<v1::Fund> funds;
  for (Versioned<v1::Fund>& f : stored) {
    if (f.record.la_code() == who.la_code) funds.push_back(std::move(f.record));
  }
  auto starts = [](const v1::Fund& f) {
    return std::make_tuple(f.period_start().year(), f.period_start().month(),
                           f.period_start().day());
  };
  std::sort(funds.begin(), funds.end(), [&](const v1::Fund& a, const v1::Fund& b) {
    if (starts(a) != starts(b)) return starts(a) < starts(b);
    return std::tie(a.name(), a.fund_id()) < std::tie(b.name(), b.fund_id());
  });
  // The council's own staff see every allocation; a school or partner its own.
  const bool council = who.organisation_type == cv1::ORGANISATION_TYPE_COUNCIL;
  const size_t end = std::min(funds.size(), page.offset + size_t(page.size));
  for (size_t i = page.offset; i < end; ++i) {
    v1::ListedFund* listed = response->add_funds();
    *listed->mutable_fund() = funds[i];
    ASSIGN_OR_RETURN(std::vector<std::string> allocation_ids,
                     store_.SetMembers(store_.AllocationsKey(funds[i].fund_id())));
    std::sort(allocation_ids.begin(), allocation_ids.end());
    std::vector<std::string> allocation_keys;
    allocation_keys.reserve(allocation_ids.size());
    for (const std::string& id : allocation_ids)
      allocation_keys.push_back(store_.AllocationKey(id));
    ASSIGN_OR_RETURN(auto allocations, store_.LoadAll<v1::Allocation>(allocation_keys));
    std::vector<const v1::Allocation*> shown;
    std::vector<std::string> accounts;
    for (const auto& a : allocations) {
      const cv1::OrganisationRef& holder = a.record.holder();
      if (!council &&
          (holder.type() != who.organisation_type || holder.id() != who.organisation_id)) {
        continue;
      }
      shown.push_back(&a.record);
      accounts.push_back(account::Allocation(a.record.allocation_id()));
    }
    if (shown.empty()) continue;
    ASSIGN_OR_RETURN(auto balances, ledger_.BalancesOf(accounts));
    for (const v1::Allocation* a : shown) {
      v1::AllocationBalance* row = listed->add_allocations();
      *row->mutable_allocation() = *a;
      *row->mutable_remaining() = Gbp(balances[account::Allocation(a->allocation_id())]);
    }
  }
  response->mutable_page()->set_next_page_token(NextPageToken(end, end < funds.size()));
  return absl::OkStatus();
}

absl::Status FundServiceImpl::GetFundReport(const Principal& who,
                                            const v1::GetFundReportRequest* request,
                                            v1::GetFundReportResponse* response) {
  RETURN_IF_ERROR(ValidateId("fund_id", request->fund_id(), "a fund id"));
  ASSIGN_OR_RETURN(const v1::Fund fund, FundOf(request->fund_id(), "fund_id"));
  ASSIGN_OR_RETURN(std::vector<std::string> allocation_ids,
                   store_.SetMembers(store_.AllocationsKey(request->fund_id())));
  std::vector<std::string> keys;
  for (const std::string& id : allocation_ids) keys.push_back(store_.AllocationKey(id));
  ASSIGN_OR_RETURN(auto allocations, store_.LoadAll<v1::Allocation>(keys));
  const bool council = IsFinance(who, fund.la_code());
  // Only this fund's accounts: the ledger also holds every other fund and
  // every child's limit.
  const std::string& f = request->fund_id();
  std::vector<std::string> accounts = {account::Payable(f), account::Pool(f), account::Paid(f)};
  for (const auto& a : allocations) {
    accounts.push_back(account::Committed(a.record.allocation_id()));
    accounts.push_back(account::Allocation(a.record.allocation_id()));
  }
  ASSIGN_OR_RETURN(auto balances, ledger_.BalancesOf(accounts));
  ASSIGN_OR_RETURN(RedisReply figures_reply,
                   store_.redis().Command({"HGETALL", store_.FiguresKey(request->fund_id())}));
  std::map<std::string, int64_t> figures;
  for (size_t i = 0; i + 1 < figures_reply.elements.size(); i += 2) {
    int64_t v = 0;
    (void)absl::SimpleAtoi(figures_reply.elements[i + 1].str, &v);
    figures[figures_reply.elements[i].str] = v;
  }
  int64_t committed = balances[account::Payable(f)], remaining = balances[account::Pool(f)];
  for (const auto& a : allocations) {
    // A school sees its own statement; the council sees every allocation.
    const bool own = MayRequestAgainst(who, a.record, fund.la_code());
    const std::string id = a.record.allocation_id();
    committed += balances[account::Committed(id)];
    remaining += balances[account::Allocation(id)];
    if (!council && !own) continue;
    v1::FundFigures* row = response->add_by_allocation();
    row->set_key(absl::StrCat(OrganisationName(a.record.holder().type(), a.record.holder().id()),
                              " ", a.record.term(), " (", id, ")"));
    *row->mutable_committed() = Gbp(balances[account::Committed(id)]);
    *row->mutable_paid() = Gbp(figures[id + ":paid"]);
    *row->mutable_remaining() = Gbp(balances[account::Allocation(id)]);
  }
  if (!council && response->by_allocation().empty()) {
    return absl::PermissionDeniedError(
        "fund_id: only the fund's council and allocation holders see its figures");
  }
  if (council) {
    v1::FundFigures* total = response->mutable_fund();
    total->set_key(fund.name());
    *total->mutable_committed() = Gbp(committed);
    *total->mutable_paid() = Gbp(balances[account::Paid(f)]);
    *total->mutable_remaining() = Gbp(remaining);
    for (int c : fund.categories()) {
      const std::string name = CategoryName(v1::Category(c));
      v1::FundFigures* row = response->add_by_category();
      row->set_key(name);
      *row->mutable_committed() = Gbp(figures[name + ":committed"]);
      *row->mutable_paid() = Gbp(figures[name + ":paid"]);
    }
  }
  return absl::OkStatus();
}

absl::Status FundServiceImpl::ExportLedger(const Principal& who,
                                           const v1::ExportLedgerRequest* request,
                                           v1::ExportLedgerResponse* response) {
  RETURN_IF_ERROR(ValidateId("fund_id", request->fund_id(), "a fund id"));
  ASSIGN_OR_RETURN(const v1::Fund fund, FundOf(request->fund_id(), "fund_id"));
  if (!IsFinance(who, fund.la_code())) {
    return absl::PermissionDeniedError("fund_id: the finance export is for the fund's council");
  }
  // One line per journal entry: what the council's finance system imports.
  std::string csv =
      "entry_id,date_time,transfer_id,kind,account,debit_pence,credit_pence,fund_id,request_id,"
      "category\n";
  std::string after = "-";
  for (;;) {
    ASSIGN_OR_RETURN(auto page, ledger_.Journal(after, 10'000));
    if (page.empty()) break;
    for (const auto& [position, e] : page) {
      std::vector<std::string> reference = absl::StrSplit(e.reference, absl::MaxSplits('|', 2));
      reference.resize(3);
      if (reference[0] != request->fund_id()) continue;
      absl::StrAppend(&csv, e.entry_id, ",", e.at, ",", e.transfer_id, ",", e.kind, ",", e.account,
                      ",", e.delta < 0 ? std::to_string(-e.delta) : "", ",",
                      e.delta > 0 ? std::to_string(e.delta) : "", ",", reference[0], ",",
                      reference[1], ",", reference[2], "\n");
    }
    after = page.back().first;
  }
  response->set_csv(std::move(csv));
  return absl::OkStatus();
}

absl::Status FundServiceImpl::RecordRefund(const Principal& who,
                                           const v1::RecordRefundRequest* request,
                                           v1::RecordRefundResponse* response) {
  ASSIGN_OR_RETURN(bool replayed,
                   store_.Replayed(who.subject, "RecordRefund", request->client_request_id(),
                                   *request, response));
  if (replayed) return absl::OkStatus();
  RETURN_IF_ERROR(ValidateId("fund_request_id", request->fund_request_id(), "a fund request id"));
  RETURN_IF_ERROR(ValidateText("reason", request->reason(), 500, true));
  if (request->amount().currency() != "GBP") return FieldError("amount.currency", "must be GBP");
  ASSIGN_OR_RETURN(auto found,
                   store_.Load<v1::FundRequest>(store_.RequestKey(request->fund_request_id()),
                                                "fund_request_id"));
  v1::FundRequest& r = found.record;
  ASSIGN_OR_RETURN(const v1::Fund fund, FundOf(r.fund_id(), "fund_request_id"));
  if (!who.HasRole(cv1::ROLE_FINANCE_OFFICER) || !IsFinance(who, fund.la_code())) {
    return absl::PermissionDeniedError("fund_request_id: finance officers record refunds");
  }
  if (r.status() != v1::REQUEST_STATUS_PAID) {
    return absl::FailedPreconditionError("fund_request_id: only a paid request can be refunded");
  }
  const int64_t pence = request->amount().pence();
  if (pence <= 0 || pence > r.amount().pence() - r.refunded_pence()) {
    return FieldError("amount.pence",
                      absl::StrCat("1 to the ", Pounds(r.amount().pence() - r.refunded_pence()),
                                   " paid and not yet refunded"));
  }
  r.set_refunded_pence(r.refunded_pence() + pence);
  r.set_version(found.version + 1);
  LedgerWrite with;
  with.preconditions.push_back(
      {store_.RequestKey(r.request_id()), "version", std::to_string(found.version)});
  with.commands.push_back({"HSET", store_.RequestKey(r.request_id()), "record",
                           r.SerializeAsString(), "version", std::to_string(r.version())});
  with.commands.push_back({"HINCRBY", store_.FiguresKey(r.fund_id()),
                           CategoryName(r.category()) + ":paid", std::to_string(-pence)});
  with.commands.push_back({"HINCRBY", store_.FiguresKey(r.fund_id()), r.allocation_id() + ":paid",
                           std::to_string(-pence)});
  AddAudit(with, who, "RecordRefund", "fund_request", r.request_id(), request->client_request_id(),
           r.pupil_ref().value());
  *response->mutable_fund_request() = Shown(who, r, fund.la_code());
  const std::string ref = r.pupil_ref().value();
  // Back to the allocation, and to the child's limit for the period.
  Transfer refund{
      "",
      "refund",
      Reference(r),
      {{account::Paid(r.fund_id()), account::Allocation(r.allocation_id()), pence},
       {account::ChildUsed(r.fund_id(), ref), account::ChildCapsSource(r.fund_id()), pence}}};
  return MoveMoney(who, "RecordRefund", request->client_request_id(), *request, response,
                   std::move(refund), std::move(with));
}

absl::StatusOr<RecordOwner> FundOwners::OwnerOf(absl::string_view kind,
                                                const std::string& id) const {
  if (referrals_.Keeps(kind)) return referrals_.OwnerOf(kind, id);
  if (kind != "fund") return absl::NotFoundError("no such record");
  ASSIGN_OR_RETURN(const Versioned<v1::Fund> fund,
                   store_.Load<v1::Fund>(store_.FundKey(id), "fund_id"));
  RecordOwner owner;
  owner.la_code = fund.record.la_code();
  return owner;
}

absl::Status FundOwners::Unseen(absl::string_view kind, absl::string_view field) const {
  if (referrals_.Keeps(kind)) return referrals_.Unseen(kind, field);
  return RecordOwners::Unseen(kind, field);
}

void FundServiceImpl::Bind(GuardedService& service) {
  service.Handle("CreateFund", *this, &FundServiceImpl::CreateFund);
  service.Handle("AllocateFunds", *this, &FundServiceImpl::AllocateFunds);
  service.Handle("SubmitFundRequest", *this, &FundServiceImpl::SubmitFundRequest);
  service.Handle("ApproveFundRequest", *this, &FundServiceImpl::ApproveFundRequest);
  service.Handle("RejectFundRequest", *this, &FundServiceImpl::RejectFundRequest);
  service.Handle("ListFundRequests", *this, &FundServiceImpl::ListFundRequests);
  service.Handle("RecordPaymentOutcome", *this, &FundServiceImpl::RecordPaymentOutcome);
  service.Handle("ImportBankFile", *this, &FundServiceImpl::ImportBankFile);
  service.Handle("ListFunds", *this, &FundServiceImpl::ListFunds);
  service.Handle("GetFundReport", *this, &FundServiceImpl::GetFundReport);
  service.Handle("ExportLedger", *this, &FundServiceImpl::ExportLedger);
  service.Handle("RegisterPayee", *this, &FundServiceImpl::RegisterPayee);
  service.Handle("RecordRefund", *this, &FundServiceImpl::RecordRefund);
}

}  // namespace rooted::fund
