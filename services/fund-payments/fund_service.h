#ifndef ROOTED_SERVICES_FUND_PAYMENTS_FUND_SERVICE_H_
#define ROOTED_SERVICES_FUND_PAYMENTS_FUND_SERVICE_H_

#include <prometheus/counter.h>

#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "common/base/clock.h"
#include "common/base/metrics.h"
#include "common/referrals/referral_facts.h"
#include "common/server/guarded_service.h"
#include "rooted/fund/v1/fund.grpc.pb.h"
#include "rooted/fund/v1/fund_events.pb.h"
#include "services/fund-payments/fund_store.h"
#include "services/fund-payments/ledger.h"
#include "services/fund-payments/request_cache.h"
#include "services/fund-payments/worker_pool.h"

namespace rooted::fund {

struct FundServiceOptions {
  std::string producer_name = "fund-payments";
  std::string sharing_agreement = "local-pilot";
};

// Whose a record is, for the access rules that name one: a fund its
// council's; a referral (known from its events) its school's, council's and
// allocated partners'.
class FundOwners final : public RecordOwners {
 public:
  FundOwners(FundStore& store, ReferralFactsKeeper& referrals)
      : store_(store), referrals_(referrals) {}
  bool Keeps(absl::string_view kind) const override {
    return kind == "fund" || referrals_.Keeps(kind);
  }
  absl::StatusOr<RecordOwner> OwnerOf(absl::string_view kind, const std::string& id) const override;
  absl::Status Unseen(absl::string_view kind, absl::string_view field) const override;

 private:
  FundStore& store_;
  ReferralFactsOwners referrals_;
};

// The local response fund. Money moves only through the ledger, and each
// move lands in one atomic step with the request record, its events and
// audit entry. Who may do what:
// - council officers and finance officers of the fund's council set up funds,
//   allocations and the payee register, and see every request and report;
// - school staff and leads ask against their school's allocation, partners
//   against theirs, council officers against any;
// - approvals follow the fund's rules (CheckApprover): never the requester;
// - the payments adapter (a service account) or a finance officer records
//   payment outcomes.
// Bank details never leave this service: events carry ids and amounts only.
//
// The calls each fund request goes through (submit, approve, payment outcome)
// use gRPC's callback API: their transfer goes out on a shared pipelined Redis
// connection and the reply finishes the call, so no thread waits for Redis.
// The rarer turns that must wait (a first look-up, a retry's first answer, a
// refusal explained, a first of two approvals) run on a few worker threads.
class FundServiceImpl final {
 public:
  // Binds every RPC of FundService to its handler here.
  void Bind(GuardedService& service);

  FundServiceImpl(FundStore& store, Ledger& ledger, ReferralFactsKeeper& referrals,
                  const Clock& clock, Metrics& metrics, FundServiceOptions options);

  absl::Status CreateFund(const Principal& who, const v1::CreateFundRequest* request,
                          v1::CreateFundResponse* response);
  absl::Status AllocateFunds(const Principal& who, const v1::AllocateFundsRequest* request,
                             v1::AllocateFundsResponse* response);
  absl::Status RegisterPayee(const Principal& who, const v1::RegisterPayeeRequest* request,
                             v1::RegisterPayeeResponse* response);
  void SubmitFundRequest(const Principal& who, v1::SubmitFundRequestRequest* request,
                         v1::SubmitFundRequestResponse* response, RpcCompletion done);
  void ApproveFundRequest(const Principal& who, v1::ApproveFundRequestRequest* request,
                          v1::ApproveFundRequestResponse* response, RpcCompletion done);
  absl::Status RejectFundRequest(const Principal& who, const v1::RejectFundRequestRequest* request,
                                 v1::RejectFundRequestResponse* response);
  absl::Status ListFundRequests(const Principal& who, const v1::ListFundRequestsRequest* request,
                                v1::ListFundRequestsResponse* response);
  void RecordPaymentOutcome(const Principal& who, v1::RecordPaymentOutcomeRequest* request,
                            v1::RecordPaymentOutcomeResponse* response, RpcCompletion done);
  absl::Status ImportBankFile(const Principal& who, const v1::ImportBankFileRequest* request,
                              v1::ImportBankFileResponse* response);
  // The caller's council's funds, each with the allocations the caller may
  // see (all for the council's own staff, else only its own) and their
  // balances left to spend. The rule has admitted the caller; this filters.
  absl::Status ListFunds(const Principal& who, const v1::ListFundsRequest* request,
                         v1::ListFundsResponse* response);
  absl::Status GetFundReport(const Principal& who, const v1::GetFundReportRequest* request,
                             v1::GetFundReportResponse* response);
  absl::Status ExportLedger(const Principal& who, const v1::ExportLedgerRequest* request,
                            v1::ExportLedgerResponse* response);
  absl::Status RecordRefund(const Principal& who, const v1::RecordRefundRequest* request,
                            v1::RecordRefundResponse* response);

 private:
  // Applies `transfer` with the records in `with`, guarded by the caller's
  // request id: a retry (or a concurrent twin) gets the first answer.
  // `written`, when given, is the fund request `with` stores (at its
  // version), remembered once the transfer is applied.
  absl::Status MoveMoney(const Principal& who, absl::string_view method,
                         const std::string& client_request_id,
                         const google::protobuf::Message& request,
                         google::protobuf::Message* response, Transfer transfer, LedgerWrite with,
                         const v1::FundRequest* written = nullptr);
  // What MoveMoneyThen does once the transfer is known: gets the outcome (as
  // AfterMove gives it), whether it was applied by this call, and the request
  // as written; its status finishes the call.
  using AfterMoveFn =
      absl::AnyInvocable<absl::Status(absl::Status moved, bool applied_now, const v1::FundRequest& written) &&>;
  // Applies an already named `move` without waiting for Redis. `after` runs
  // on the Redis I/O thread when the transfer was applied now, else on a
  // worker, where it may block (a retry's first answer, a refusal explained).
  // `request`, `client_request_id` and `response` must live until `done`.
  void MoveMoneyThen(const Principal& who, absl::string_view method, const std::string& client_request_id,
                     const google::protobuf::Message& request, google::protobuf::Message* response,
                     Ledger::Move move, v1::FundRequest written, RpcCompletion done, AfterMoveFn after);
  // Runs the waiting form of a call on a worker, from this replica's copy
  // then, if that was behind, from Redis's (RememberedThenFresh).
  void FinishOnWorker(RpcCompletion done, google::protobuf::Message* response,
                      std::function<absl::Status(bool fresh)> attempt);
  // After a transfer: remembers `written` once applied; when the transfer had
  // been applied before, `response` becomes the first answer.
  absl::Status AfterMove(absl::StatusOr<TransferResult> result, const Principal& who, absl::string_view method,
                         const std::string& client_request_id, const google::protobuf::Message& request,
                         google::protobuf::Message* response, const v1::FundRequest* written);

  // Look-ups that may have to wait for Redis take `may_wait`: when false and
  // this replica has no copy, they answer nullopt (the caller then finishes
  // on a worker) instead of blocking.
  //
  // A request as this replica last wrote it, or from Redis when it has no
  // copy or `fresh` is asked for: NOT_FOUND naming `field`.
  absl::StatusOr<std::optional<Versioned<v1::FundRequest>>> LoadRequest(const std::string& request_id,
                                                                        absl::string_view field, bool fresh,
                                                                        bool may_wait);
  // Which request a payment pays: NOT_FOUND naming payment_id.
  absl::StatusOr<std::optional<std::string>> RequestOfPayment(const std::string& payment_id, bool may_wait);

  // A submission, checked, with its commitment named and its first answer in
  // the response.
  struct Submission {
    Ledger::Move move;
    v1::FundRequest record;
    v1::Fund fund;
  };
  // nullopt: it would have to wait, and may not. `fresh`: the referral's
  // facts as Redis has them, not this replica's copy.
  absl::StatusOr<std::optional<Submission>> PrepareSubmission(
      const Principal& who, const v1::SubmitFundRequestRequest& request,
      v1::SubmitFundRequestResponse* response, bool may_wait, bool fresh);
  // The whole submission, waiting for Redis where it must: a retry's first
  // answer, or a new submission checked against the referral's facts.
  absl::Status SubmitAndWait(const Principal& who, const v1::SubmitFundRequestRequest& request,
                             v1::SubmitFundRequestResponse* response, bool fresh);
  // The referral's facts (nullopt: it would have to wait, and may not), and
  // refusals for a referral not known here, not the fund's council's, not
  // consented to the fund, or whose pupil reference is not the request's.
  absl::StatusOr<std::optional<ReferralFactsKeeper::Facts>> ReferralFor(
      const v1::FundRequest& asked, const v1::Fund& fund, bool may_wait, bool fresh);
  // Counts what was committed, or says how far over the limit a refused
  // request was (which reads balances: may block).
  absl::Status AfterSubmission(absl::Status moved, bool applied_now, const v1::FundRequest& r,
                               const v1::Fund& fund);

  // An approval, checked and ready to write.
  struct Approval {
    enum class Kind {
      kMustWait,    // only when it may not wait: a look-up or a replay check needs Redis
      kAnswered,    // this very call was applied before: the response is its first answer
      kFirstOfTwo,  // an approval record only; no money moves yet
      kComplete,    // the commitment becomes a payment (move named)
    };
    Kind kind = Kind::kMustWait;
    Ledger::Move move;  // kFirstOfTwo: its writes only
    v1::FundRequest record;
    int64_t expected_version = 0;
  };
  absl::StatusOr<Approval> PrepareApproval(const Principal& who, const v1::ApproveFundRequestRequest& request,
                                           v1::ApproveFundRequestResponse* response, bool fresh, bool may_wait);
  absl::Status Approve(const Principal& who, const v1::ApproveFundRequestRequest& request,
                       v1::ApproveFundRequestResponse* response, bool fresh);
  void RememberPaymentOf(const v1::ApproveFundRequestResponse& response);
  absl::Status ReportPayment(const Principal& who, const v1::RecordPaymentOutcomeRequest& request,
                             v1::RecordPaymentOutcomeResponse* response, bool fresh);
  // Names the movement by caller, method and request id, and stores
  // `response` as the first answer in the same step as the money moves.
  void NameMove(const Principal& who, absl::string_view method, const std::string& client_request_id,
                const google::protobuf::Message& request, const google::protobuf::Message& response,
                Ledger::Move& move) const;
  // OK when the transfer was applied now; when it had been before, `response`
  // becomes the first answer.
  absl::Status AnswerAfter(TransferResult result, const Principal& who, absl::string_view method,
                           const std::string& client_request_id, const google::protobuf::Message& request,
                           google::protobuf::Message* response);
  void AddEvent(LedgerWrite& with, const Principal& who, const v1::FundRequest& request,
                v1::FundEvent event) const;
  // `pupil_ref`: the child the change is about, when there is one.
  void AddAudit(LedgerWrite& with, const Principal& who, absl::string_view action,
                absl::string_view kind, const std::string& id, const std::string& request_id,
                const std::string& pupil_ref = "") const;
  // A payment's outcome, checked and ready to apply.
  struct OutcomeMove {
    enum class Kind {
      kMustWait,  // only when it may not wait: a look-up or a replay check needs Redis
      kAnswered,  // this very report was applied before: the response is its first answer
      kReady,
    };
    Kind kind = Kind::kMustWait;
    Ledger::Move move;
    v1::FundRequest record;  // as stored once the move is applied
    int64_t pence = 0;
    bool settled = false;
  };
  // Checks that the caller may report on `found`'s payment and that it awaits
  // its outcome, and prepares the change (named, with its first answer in
  // `response`).
  absl::StatusOr<OutcomeMove> PrepareOutcome(const Principal& who, const v1::RecordPaymentOutcomeRequest& asked,
                                             Versioned<v1::FundRequest> found,
                                             v1::RecordPaymentOutcomeResponse* response, bool may_wait);
  // The payment's request, then PrepareOutcome.
  absl::StatusOr<OutcomeMove> PrepareReport(const Principal& who, const v1::RecordPaymentOutcomeRequest& request,
                                            v1::RecordPaymentOutcomeResponse* response, bool fresh, bool may_wait);
  void CountOutcome(bool settled, int64_t pence);
  // A bank file's line, reported as the callback would be.
  struct BankLine {
    size_t number = 0;
    v1::RecordPaymentOutcomeRequest asked;
    v1::RecordPaymentOutcomeResponse answer;
  };
  // Lines are settled this many at a time: a few round trips for each lot,
  // and a bounded share of Redis's time for each step.
  static constexpr size_t kBankLinesPerStep = 256;
  void SettleBankLines(const Principal& who, std::vector<BankLine>& lines,
                       v1::ImportBankFileResponse* response);
  // Funds and allocations never change once made: read once per process.
  absl::StatusOr<std::optional<v1::Fund>> FundOf(const std::string& fund_id, absl::string_view field,
                                                  bool may_wait);
  absl::StatusOr<v1::Fund> FundOf(const std::string& fund_id, absl::string_view field);
  absl::StatusOr<std::optional<v1::Allocation>> AllocationOf(const std::string& allocation_id,
                                                              absl::string_view field, bool may_wait);
  absl::StatusOr<v1::Allocation> AllocationOf(const std::string& allocation_id, absl::string_view field);
  bool IsFinance(const Principal& who, const std::string& la_code) const;
  // The request as this caller may see it (bank details masked unless finance).
  v1::FundRequest Shown(const Principal& who, const v1::FundRequest& request,
                        const std::string& la_code) const;

  FundStore& store_;
  Ledger& ledger_;
  ReferralFactsKeeper& referrals_;
  const Clock& clock_;
  prometheus::Family<prometheus::Counter>& overspend_refused_;
  prometheus::Family<prometheus::Counter>& pence_;
  const FundServiceOptions options_;
  std::mutex cache_mu_;
  std::map<std::string, v1::Fund> funds_;
  std::map<std::string, v1::Allocation> allocations_;
  RequestCache recent_;
  // Last: its threads may still finish calls that use the members above.
  WorkerPool workers_{4};
};

}  // namespace rooted::fund

#endif  // ROOTED_SERVICES_FUND_PAYMENTS_FUND_SERVICE_H_
