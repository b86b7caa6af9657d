// Fund payments end to end against a real redis-server and the local broker:
// the approval matrix, overspend refused, the payment outcomes, the bank
// file, reports and export, with the ledger's invariants checked after, and
// bank details kept out of every event and log.

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "common/base/ids.h"
#include "common/base/proto_date.h"
#include "common/base/proto_money.h"
#include "common/kafka/event_metadata.h"
#include "common/kafka/topics.h"
#include "common/outbox/outbox.h"
#include "common/redis/idempotency.h"
#include "common/server/service_runtime.h"
#include "rooted/forum/v1/forum_events.pb.h"
#include "rooted/fund/v1/fund_events.pb.h"
#include "rooted/referral/v1/referral_events.pb.h"
#include "services/fund-payments/fund_event_handler.h"
#include "services/fund-payments/fund_rules.h"
#include "services/fund-payments/fund_service.h"
#include "tests/support/service_harness.h"

namespace rooted::fund {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
namespace cv1 = rooted::common::v1;

std::string Ref(int n) {
  const std::string digits = std::to_string(n);
  return "pr_" + std::string(32 - digits.size(), '0') + digits;
}

struct FundStack {
  FundStack() {
    store = std::make_unique<FundStore>(*h.redis, "fp");
    ledger = std::make_unique<Ledger>(*h.redis, *h.redis_pipe, "fp");
    referrals = std::make_unique<ReferralFactsKeeper>(*store);
    service = std::make_unique<FundServiceImpl>(*store, *ledger, *referrals, h.clock, *h.metrics,
                                                FundServiceOptions{});
    handler = std::make_unique<FundEventHandler>(*store, *referrals, h.clock);
    consumer = *EventConsumer::Create(
        h.ConsumerOptions("fund-payments-test", {std::string(topics::kForumEvents),
                                                 std::string(topics::kReferralEvents)}),
        *handler, *h.producer, *h.metrics, *h.logger);
    relay = h.Relay("fp");
    owners = std::make_unique<FundOwners>(*store, *referrals);
    api = rooted::testing::Guarded("rooted.fund.v1.FundService", *service,
                                   h.ServiceOptions("fp", owners.get()));
    server = *GrpcServer::Start({.listen_address = "127.0.0.1:0", .service_names = {}}, {api.get()},
                                {[this] { return h.redis->Ping(); }}, *h.logger);
    stub = v1::FundService::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(server->port()), grpc::InsecureChannelCredentials()));
    consumer->Start();
    relay->Start();
  }
  ~FundStack() {
    server->Shutdown(absl::Seconds(1));
    consumer->Stop();
    relay->Stop(absl::Seconds(2));
  }
  rooted::testing::ServiceHarness h{"fund-payments",
                                    absl::FromCivil(absl::CivilSecond(2026, 11, 23, 10, 0, 0),
                                                    absl::UTCTimeZone())};
  std::unique_ptr<FundStore> store;
  std::unique_ptr<Ledger> ledger;
  std::unique_ptr<ReferralFactsKeeper> referrals;
  std::unique_ptr<FundServiceImpl> service;
  std::unique_ptr<FundOwners> owners;
  std::unique_ptr<GuardedService> api;
  std::unique_ptr<FundEventHandler> handler;
  std::unique_ptr<EventConsumer> consumer;
  std::unique_ptr<OutboxRelay> relay;
  std::unique_ptr<GrpcServer> server;
  std::unique_ptr<v1::FundService::Stub> stub;
};

class FundTest : public rooted::testing::SharedStackTest<FundStack> {
 protected:
  v1::FundService::Stub& fund() { return *stack_->stub; }
  std::unique_ptr<grpc::ClientContext> As(const std::string& token) {
    return rooted::testing::AuthedContext(token);
  }
  std::string Token(const std::string& subject, Role role, OrganisationType type, const std::string& org) {
    return stack_->h.tokens.Mint(subject, role, type, org, "801", stack_->h.clock.Now());
  }
  std::string Finance(const std::string& who = "finance-1") {
    return Token(who, cv1::ROLE_FINANCE_OFFICER, cv1::ORGANISATION_TYPE_COUNCIL, "801");
  }
  std::string Approver(const std::string& who) {
    return Token(who, cv1::ROLE_FUND_APPROVER, cv1::ORGANISATION_TYPE_COUNCIL, "801");
  }
  std::string Staff(const std::string& urn, const std::string& who = "teacher-1") {
    return Token(who, cv1::ROLE_SCHOOL_STAFF, cv1::ORGANISATION_TYPE_SCHOOL, urn);
  }
  std::string Lead(const std::string& urn, const std::string& who = "head-1") {
    return Token(who, cv1::ROLE_SCHOOL_LEAD, cv1::ORGANISATION_TYPE_SCHOOL, urn);
  }
  std::string Adapter() {
    return Token("payments-adapter", cv1::ROLE_SERVICE, cv1::ORGANISATION_TYPE_COUNCIL, "801");
  }

  // A fund of £10,000 for 2026/27: school leads approve up to £100, council
  // approvers up to £300, two of them above; £500 a request, £600 a child.
  std::string CreateFund(const std::string& request_id) {
    v1::CreateFundRequest request;
    request.set_request_id(request_id);
    v1::Fund* f = request.mutable_fund();
    f->set_la_code("801");
    f->set_name("Local response fund 2026/27");
    *f->mutable_total_budget() = Gbp(1'000'000);
    *f->mutable_period_start() = ToProtoDate(absl::CivilDay(2026, 9, 1));
    *f->mutable_period_end() = ToProtoDate(absl::CivilDay(2027, 8, 31));
    f->add_categories(v1::CATEGORY_UNIFORM_CLOTHING);
    f->add_categories(v1::CATEGORY_TRANSPORT);
    f->add_categories(v1::CATEGORY_SPOT_PURCHASE);
    *f->mutable_per_request_limit() = Gbp(50'000);
    *f->mutable_per_child_limit() = Gbp(60'000);
    *f->mutable_approval()->mutable_school_lead_limit() = Gbp(10'000);
    *f->mutable_approval()->mutable_two_approver_threshold() = Gbp(30'000);
    v1::CreateFundResponse response;
    const grpc::Status status = fund().CreateFund(As(Finance()).get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.fund().fund_id();
  }

  std::string Allocate(const std::string& fund_id, const std::string& urn, int64_t pence,
                       const std::string& request_id) {
    v1::AllocateFundsRequest request;
    request.set_request_id(request_id);
    request.mutable_allocation()->set_fund_id(fund_id);
    request.mutable_allocation()->mutable_holder()->set_type(cv1::ORGANISATION_TYPE_SCHOOL);
    request.mutable_allocation()->mutable_holder()->set_id(urn);
    request.mutable_allocation()->set_term("autumn-2026");
    *request.mutable_allocation()->mutable_amount() = Gbp(pence);
    v1::AllocateFundsResponse response;
    const grpc::Status status = fund().AllocateFunds(As(Finance()).get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    school_of_[response.allocation().allocation_id()] = urn;
    return response.allocation().allocation_id();
  }

  // The referral of the child `ref` (one per child here).
  static std::string ReferralOf(const std::string& ref) {
    return "referral-" + ref.substr(ref.size() - 6);
  }

  // Publishes `event` on the referral topic as referral-intake would, keyed by the child.
  void PublishReferralEvent(rooted::referral::v1::ReferralEvent event, const std::string& ref) {
    event.mutable_metadata()->set_event_id(NewUuid());
    event.mutable_metadata()->set_event_type(PayloadTypeName(event));
    const OutgoingMessage message =
        ToOutgoingMessage(topics::kReferralEvents, ref, event.metadata(), event);
    ASSERT_TRUE(stack_->h.producer->Deliver({&message, 1}, absl::Seconds(10)).front().ok());
  }

  // What fund payments knows of a referral, as it is now in Redis.
  std::optional<ReferralFactsKeeper::Facts> Known(const std::string& referral_id) {
    absl::StatusOr<std::optional<ReferralFactsKeeper::Facts>> facts =
        stack_->referrals->Find(referral_id, /*fresh=*/true);
    return facts.ok() ? *facts : std::nullopt;
  }

  // Referral-intake's ReferralSubmitted for child `ref` of school `urn`, and
  // the wait until fund payments has it.
  void Refer(const std::string& urn, const std::string& ref,
             std::vector<rooted::referral::v1::ConsentScope> consented =
                 {rooted::referral::v1::CONSENT_SCOPE_FORUM,
                  rooted::referral::v1::CONSENT_SCOPE_FUND},
             const std::string& la = "801") {
    rooted::referral::v1::ReferralEvent event;
    auto* submitted = event.mutable_referral_submitted();
    submitted->set_referral_id(ReferralOf(ref));
    submitted->mutable_pupil_ref()->set_value(ref);
    submitted->set_school_urn(urn);
    submitted->set_la_code(la);
    for (auto scope : consented) submitted->add_consent_scopes(scope);
    PublishReferralEvent(std::move(event), ref);
    ASSERT_TRUE(rooted::testing::Eventually([&] { return Known(ReferralOf(ref)).has_value(); }));
    referred_.insert(ref);
  }

  // A request for child `ref`, on a referral the allocation's school made
  // (referred first, with consent to the fund, if it was not yet).
  v1::FundRequest NewRequest(const std::string& fund_id, const std::string& allocation_id,
                             int64_t pence, const std::string& ref) {
    if (!referred_.contains(ref) && school_of_.contains(allocation_id))
      Refer(school_of_[allocation_id], ref);
    v1::FundRequest r;
    r.set_fund_id(fund_id);
    r.set_allocation_id(allocation_id);
    r.set_referral_id(ReferralOf(ref));
    r.mutable_pupil_ref()->set_value(ref);
    r.set_category(v1::CATEGORY_UNIFORM_CLOTHING);
    *r.mutable_amount() = Gbp(pence);
    r.set_payee_type(v1::PAYEE_TYPE_FAMILY);
    r.mutable_family_bank()->set_account_name("A Parent");
    r.mutable_family_bank()->set_sort_code("112233");
    r.mutable_family_bank()->set_account_number("87654321");
    r.set_justification("Winter coat and school shoes; the family cannot afford them this month");
    r.set_evidence_reference("case-note-2026-11-20");
    return r;
  }

  grpc::Status Submit(const std::string& token, const std::string& client_id, const v1::FundRequest& r,
                      v1::SubmitFundRequestResponse* response) {
    v1::SubmitFundRequestRequest request;
    request.set_client_request_id(client_id);
    *request.mutable_fund_request() = r;
    return fund().SubmitFundRequest(As(token).get(), request, response);
  }

  grpc::Status Approve(const std::string& token, const std::string& client_id, const std::string& id,
                       v1::ApproveFundRequestResponse* response) {
    v1::ApproveFundRequestRequest request;
    request.set_client_request_id(client_id);
    request.set_fund_request_id(id);
    return fund().ApproveFundRequest(As(token).get(), request, response);
  }

  grpc::Status Outcome(const std::string& client_id, const std::string& payment_id, bool settled,
                       v1::RecordPaymentOutcomeResponse* response) {
    v1::RecordPaymentOutcomeRequest request;
    request.set_client_request_id(client_id);
    request.set_payment_id(payment_id);
    request.set_outcome(settled ? v1::PAYMENT_OUTCOME_SETTLED : v1::PAYMENT_OUTCOME_FAILED);
    if (!settled) request.set_failure_reason("account closed");
    return fund().RecordPaymentOutcome(As(Adapter()).get(), request, response);
  }

  int64_t Balance(const std::string& account) { return *stack_->ledger->Balance(account); }

 private:
  std::map<std::string, std::string> school_of_;  // allocation id -> its school
  std::set<std::string> referred_;
};

TEST_F(FundTest, ApprovalFollowsTheMatrixAndNeverTheRequester) {
  const std::string f = CreateFund("create-fund-01");
  const std::string a = Allocate(f, "100001", 200'000, "allocate-01");
  v1::SubmitFundRequestResponse small, medium, large;
  ASSERT_TRUE(Submit(Staff("100001"), "submit-small", NewRequest(f, a, 8'000, Ref(1)), &small).ok());
  ASSERT_TRUE(Submit(Staff("100001"), "submit-medium", NewRequest(f, a, 20'000, Ref(2)), &medium).ok());
  ASSERT_TRUE(Submit(Lead("100001", "head-1"), "submit-large", NewRequest(f, a, 45'000, Ref(3)), &large).ok());
  EXPECT_EQ(Balance(account::Allocation(a)), 200'000 - 73'000);
  EXPECT_EQ(Balance(account::Committed(a)), 73'000);
  // Bank details are masked for school staff.
  EXPECT_EQ(small.fund_request().family_bank().account_number(), "****4321");
  EXPECT_TRUE(small.fund_request().family_bank().sort_code().empty());

  v1::ApproveFundRequestResponse approved;
  // £80: the school's lead approves; another school's lead may not.
  EXPECT_EQ(Approve(Lead("100002"), "approve-s-0", small.fund_request().request_id(), &approved).error_code(),
            grpc::PERMISSION_DENIED);
  ASSERT_TRUE(Approve(Lead("100001"), "approve-s-1", small.fund_request().request_id(), &approved).ok());
  EXPECT_EQ(approved.fund_request().status(), v1::REQUEST_STATUS_APPROVED);
  const std::string payment = approved.fund_request().payment_id();
  ASSERT_TRUE(Approve(Lead("100001"), "approve-s-1", small.fund_request().request_id(), &approved).ok());
  EXPECT_EQ(approved.fund_request().payment_id(), payment);  // retried: the first answer
  EXPECT_FALSE(approved.fund_request().payment_id().empty());
  // £200: a school lead may not; a council approver may.
  EXPECT_EQ(Approve(Lead("100001"), "approve-m-0", medium.fund_request().request_id(), &approved).error_code(),
            grpc::PERMISSION_DENIED);
  ASSERT_TRUE(Approve(Approver("approver-1"), "approve-m-1", medium.fund_request().request_id(), &approved).ok());
  EXPECT_EQ(approved.fund_request().status(), v1::REQUEST_STATUS_APPROVED);
  // £450: two different council approvers; the same one twice is not two.
  ASSERT_TRUE(Approve(Approver("approver-1"), "approve-l-1", large.fund_request().request_id(), &approved).ok());
  EXPECT_EQ(approved.fund_request().status(), v1::REQUEST_STATUS_SUBMITTED);
  // The same call retried is the same answer, not a refusal.
  ASSERT_TRUE(Approve(Approver("approver-1"), "approve-l-1", large.fund_request().request_id(), &approved).ok());
  EXPECT_EQ(approved.fund_request().approved_by_size(), 1);
  EXPECT_EQ(Approve(Approver("approver-1"), "approve-l-2", large.fund_request().request_id(), &approved).error_code(),
            grpc::FAILED_PRECONDITION);
  // The requester may never approve their own, whatever their roles.
  const std::string requester_as_approver =
      stack_->h.tokens.Mint("head-1", cv1::ROLE_FUND_APPROVER, cv1::ORGANISATION_TYPE_COUNCIL, "801", "801",
                            stack_->h.clock.Now());
  grpc::Status self = Approve(requester_as_approver, "approve-l-3", large.fund_request().request_id(), &approved);
  EXPECT_EQ(self.error_code(), grpc::PERMISSION_DENIED);
  EXPECT_THAT(self.error_message(), HasSubstr("never approve their own"));
  ASSERT_TRUE(Approve(Approver("approver-2"), "approve-l-4", large.fund_request().request_id(), &approved).ok());
  EXPECT_EQ(approved.fund_request().status(), v1::REQUEST_STATUS_APPROVED);
  EXPECT_EQ(approved.fund_request().approved_by_size(), 2);
  EXPECT_EQ(Balance(account::Payable(f)), 73'000);
  EXPECT_EQ(Balance(account::Committed(a)), 0);
  EXPECT_TRUE(stack_->ledger->CheckInvariants().ok());
}

TEST_F(FundTest, RequestsNeverOverspendTheAllocationOrAChildsLimit) {
  const std::string f = CreateFund("create-fund-02");
  const std::string a = Allocate(f, "100003", 70'000, "allocate-02");
  v1::SubmitFundRequestResponse response;
  ASSERT_TRUE(Submit(Staff("100003"), "child-limit-1", NewRequest(f, a, 40'000, Ref(10)), &response).ok());
  // A retry is the same request, not a second one.
  ASSERT_TRUE(Submit(Staff("100003"), "child-limit-1", NewRequest(f, a, 40'000, Ref(10)), &response).ok());
  EXPECT_EQ(Balance(account::Committed(a)), 40'000);
  grpc::Status status = Submit(Staff("100003"), "child-limit-2", NewRequest(f, a, 25'000, Ref(10)), &response);
  EXPECT_EQ(status.error_code(), grpc::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), StartsWith("fund_request.amount: over this child's limit of £600.00"));
  status = Submit(Staff("100003"), "alloc-limit-1", NewRequest(f, a, 45'000, Ref(11)), &response);
  EXPECT_EQ(status.error_code(), grpc::FAILED_PRECONDITION);
  EXPECT_EQ(status.error_message(), "fund_request.amount: the allocation has only £300.00 left");
  EXPECT_EQ(Balance(account::Allocation(a)), 30'000);
  // Another school may not ask against this allocation, even for its own referral.
  Refer("100004", Ref(12));
  EXPECT_EQ(Submit(Staff("100004"), "other-school-1", NewRequest(f, a, 1'000, Ref(12)), &response).error_code(),
            grpc::PERMISSION_DENIED);
  EXPECT_TRUE(stack_->ledger->CheckInvariants().ok());
}

TEST_F(FundTest, PaymentsSettleOrFailAndAFailureGivesTheMoneyBack) {
  const std::string f = CreateFund("create-fund-03");
  const std::string a = Allocate(f, "100005", 100'000, "allocate-03");
  v1::SubmitFundRequestResponse one, two, three;
  ASSERT_TRUE(Submit(Staff("100005"), "pay-submit-1", NewRequest(f, a, 5'000, Ref(21)), &one).ok());
  ASSERT_TRUE(Submit(Staff("100005"), "pay-submit-2", NewRequest(f, a, 6'000, Ref(22)), &two).ok());
  ASSERT_TRUE(Submit(Staff("100005"), "pay-submit-3", NewRequest(f, a, 7'000, Ref(23)), &three).ok());
  v1::ApproveFundRequestResponse p1, p2, p3;
  ASSERT_TRUE(Approve(Lead("100005"), "pay-approve-1", one.fund_request().request_id(), &p1).ok());
  ASSERT_TRUE(Approve(Lead("100005"), "pay-approve-2", two.fund_request().request_id(), &p2).ok());
  ASSERT_TRUE(Approve(Lead("100005"), "pay-approve-3", three.fund_request().request_id(), &p3).ok());

  v1::RecordPaymentOutcomeResponse outcome;
  ASSERT_TRUE(Outcome("outcome-1", p1.fund_request().payment_id(), true, &outcome).ok());
  EXPECT_EQ(outcome.fund_request().status(), v1::REQUEST_STATUS_PAID);
  ASSERT_TRUE(Outcome("outcome-1", p1.fund_request().payment_id(), true, &outcome).ok());  // retried
  EXPECT_EQ(Balance(account::Paid(f)), 5'000);
  EXPECT_EQ(Outcome("outcome-1b", p1.fund_request().payment_id(), false, &outcome).error_code(),
            grpc::FAILED_PRECONDITION);
  ASSERT_TRUE(Outcome("outcome-2", p2.fund_request().payment_id(), false, &outcome).ok());
  EXPECT_EQ(outcome.fund_request().status(), v1::REQUEST_STATUS_PAYMENT_FAILED);
  // The failed £60 is back in the allocation and the child's limit.
  EXPECT_EQ(Balance(account::Allocation(a)), 100'000 - 5'000 - 7'000);
  EXPECT_EQ(Balance(account::ChildUsed(f, Ref(22))), 0);
  // A school may not report payments.
  v1::RecordPaymentOutcomeRequest forged;
  forged.set_client_request_id("forged-outcome");
  forged.set_payment_id(p3.fund_request().payment_id());
  forged.set_outcome(v1::PAYMENT_OUTCOME_SETTLED);
  EXPECT_EQ(fund().RecordPaymentOutcome(As(Staff("100005")).get(), forged, &outcome).error_code(),
            grpc::PERMISSION_DENIED);

  // The bank's file: the third settles; an unknown payment is a problem; the
  // first again changes nothing.
  v1::ImportBankFileRequest file;
  file.set_client_request_id("bank-file-2026-11-23");
  file.set_csv("payment_id,status,reason\n" + p3.fund_request().payment_id() +
               ",settled,\nno-such-payment-id,settled,\n" + p1.fund_request().payment_id() + ",settled,\n");
  v1::ImportBankFileResponse imported;
  // The bank's files are the finance officers' alone: not a school lead's, not the adapter's.
  EXPECT_EQ(fund().ImportBankFile(As(Lead("100005")).get(), file, &imported).error_code(),
            grpc::PERMISSION_DENIED);
  ASSERT_TRUE(fund().ImportBankFile(As(Finance()).get(), file, &imported).ok());
  EXPECT_EQ(imported.settled(), 1);
  ASSERT_EQ(imported.problems_size(), 2);
  EXPECT_THAT(imported.problems(0), StartsWith("line 3: payment_id: no such payment"));
  EXPECT_EQ(Balance(account::Paid(f)), 12'000);
  EXPECT_EQ(Balance(account::Payable(f)), 0);

  // A supplier refunds £20 of the first: an entry of its own.
  v1::RecordRefundRequest refund;
  refund.set_client_request_id("refund-0000-01");
  refund.set_fund_request_id(one.fund_request().request_id());
  *refund.mutable_amount() = Gbp(2'000);
  refund.set_reason("shoes returned");
  v1::RecordRefundResponse refunded;
  EXPECT_EQ(fund().RecordRefund(As(Staff("100005")).get(), refund, &refunded).error_code(),
            grpc::PERMISSION_DENIED);
  ASSERT_TRUE(fund().RecordRefund(As(Finance()).get(), refund, &refunded).ok());
  EXPECT_EQ(refunded.fund_request().refunded_pence(), 2'000);
  refund.set_client_request_id("refund-0000-02");
  *refund.mutable_amount() = Gbp(3'001);  // more than is left to refund
  grpc::Status too_much = fund().RecordRefund(As(Finance()).get(), refund, &refunded);
  EXPECT_EQ(too_much.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(too_much.error_message(), StartsWith("amount.pence:"));
  EXPECT_EQ(Balance(account::Paid(f)), 10'000);

  v1::GetFundReportRequest report_request;
  report_request.set_fund_id(f);
  v1::GetFundReportResponse report;
  ASSERT_TRUE(fund().GetFundReport(As(Finance()).get(), report_request, &report).ok());
  EXPECT_EQ(report.fund().paid().pence(), 10'000);
  EXPECT_EQ(report.fund().committed().pence(), 0);
  EXPECT_EQ(report.fund().remaining().pence(), 1'000'000 - 10'000);
  ASSERT_EQ(report.by_allocation_size(), 1);
  EXPECT_EQ(report.by_allocation(0).paid().pence(), 10'000);
  EXPECT_EQ(report.by_category(0).key(), "uniform_clothing");
  EXPECT_EQ(report.by_category(0).paid().pence(), 10'000);

  v1::ExportLedgerRequest export_request;
  export_request.set_fund_id(f);
  v1::ExportLedgerResponse exported;
  ASSERT_TRUE(fund().ExportLedger(As(Finance()).get(), export_request, &exported).ok());
  EXPECT_THAT(exported.csv(), StartsWith("entry_id,date_time,transfer_id,kind,account,debit_pence,credit_pence"));
  EXPECT_THAT(exported.csv(), HasSubstr(",settle,"));
  EXPECT_THAT(exported.csv(), HasSubstr(",payment_failed,"));
  EXPECT_THAT(exported.csv(), HasSubstr(",refund,"));
  EXPECT_EQ(fund().ExportLedger(As(Staff("100005")).get(), export_request, &exported).error_code(),
            grpc::PERMISSION_DENIED);
  EXPECT_TRUE(stack_->ledger->CheckInvariants().ok());
}

TEST_F(FundTest, ListFundsShowsEachCallerItsCouncilsFundsWithTheAllocationsItMaySee) {
  // Council 805's own funds, so that other tests' funds of 801 stay out of the list.
  auto as = [&](const std::string& subject, Role role, OrganisationType type,
                const std::string& org) {
    return stack_->h.tokens.Mint(subject, role, type, org, "805", stack_->h.clock.Now());
  };
  const std::string finance =
      as("finance-5", cv1::ROLE_FINANCE_OFFICER, cv1::ORGANISATION_TYPE_COUNCIL, "805");
  auto create = [&](const std::string& name, absl::CivilDay start, const std::string& request_id) {
    v1::CreateFundRequest request;
    request.set_request_id(request_id);
    v1::Fund* f = request.mutable_fund();
    f->set_la_code("805");
    f->set_name(name);
    *f->mutable_total_budget() = Gbp(500'000);
    *f->mutable_period_start() = ToProtoDate(start);
    *f->mutable_period_end() = ToProtoDate(start + 364);
    f->add_categories(v1::CATEGORY_UNIFORM_CLOTHING);
    *f->mutable_per_request_limit() = Gbp(50'000);
    *f->mutable_per_child_limit() = Gbp(60'000);
    *f->mutable_approval()->mutable_school_lead_limit() = Gbp(10'000);
    *f->mutable_approval()->mutable_two_approver_threshold() = Gbp(30'000);
    v1::CreateFundResponse response;
    const grpc::Status status = fund().CreateFund(As(finance).get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.fund().fund_id();
  };
  auto allocate = [&](const std::string& fund_id, OrganisationType type, const std::string& holder,
                      int64_t pence, const std::string& request_id) {
    v1::AllocateFundsRequest request;
    request.set_request_id(request_id);
    request.mutable_allocation()->set_fund_id(fund_id);
    request.mutable_allocation()->mutable_holder()->set_type(type);
    request.mutable_allocation()->mutable_holder()->set_id(holder);
    request.mutable_allocation()->set_term("2026-27");
    *request.mutable_allocation()->mutable_amount() = Gbp(pence);
    v1::AllocateFundsResponse response;
    const grpc::Status status = fund().AllocateFunds(As(finance).get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.allocation().allocation_id();
  };
  // Listed by period start: the spring fund first, though made second.
  const std::string autumn =
      create("Autumn response fund", absl::CivilDay(2026, 9, 1), "list-funds-create-1");
  const std::string spring =
      create("Spring response fund", absl::CivilDay(2026, 4, 1), "list-funds-create-2");
  const std::string school_a =
      allocate(autumn, cv1::ORGANISATION_TYPE_SCHOOL, "100071", 100'000, "list-funds-alloc-1");
  const std::string school_b =
      allocate(autumn, cv1::ORGANISATION_TYPE_SCHOOL, "100072", 50'000, "list-funds-alloc-2");
  const std::string partner =
      allocate(autumn, cv1::ORGANISATION_TYPE_PARTNER, "youth-trust", 30'000, "list-funds-alloc-3");
  const std::string spring_a =
      allocate(spring, cv1::ORGANISATION_TYPE_SCHOOL, "100071", 20'000, "list-funds-alloc-4");
  // £80 asked for against school A's autumn allocation: £920 left to spend.
  Refer("100071", Ref(805001), {rooted::referral::v1::CONSENT_SCOPE_FUND}, "805");
  v1::SubmitFundRequestResponse submitted;
  const std::string staff_a =
      as("teacher-5", cv1::ROLE_SCHOOL_STAFF, cv1::ORGANISATION_TYPE_SCHOOL, "100071");
  const grpc::Status asked = Submit(staff_a, "list-funds-submit-1",
                                    NewRequest(autumn, school_a, 8'000, Ref(805001)), &submitted);
  ASSERT_TRUE(asked.ok()) << asked.error_message();

  auto list = [&](const std::string& token, int page_size, const std::string& page_token,
                  v1::ListFundsResponse* response) {
    v1::ListFundsRequest request;
    request.mutable_page()->set_page_size(page_size);
    request.mutable_page()->set_page_token(page_token);
    return fund().ListFunds(As(token).get(), request, response);
  };
  // Each fund's id and, per allocation, its id and what is left (pence).
  using Listing = std::vector<std::pair<std::string, std::vector<std::pair<std::string, int64_t>>>>;
  auto listing = [&](const std::string& token) {
    v1::ListFundsResponse response;
    const grpc::Status status = list(token, 0, "", &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_TRUE(response.page().next_page_token().empty());
    Listing out;
    for (const v1::ListedFund& f : response.funds()) {
      EXPECT_EQ(f.fund().la_code(), "805");
      auto& row =
          out.emplace_back(f.fund().fund_id(), std::vector<std::pair<std::string, int64_t>>{});
      for (const v1::AllocationBalance& a : f.allocations()) {
        EXPECT_EQ(a.allocation().fund_id(), f.fund().fund_id());
        EXPECT_EQ(a.remaining().currency(), "GBP");
        row.second.emplace_back(a.allocation().allocation_id(), a.remaining().pence());
      }
    }
    return out;
  };
  auto by_id = [](std::vector<std::pair<std::string, int64_t>> rows) {
    std::sort(rows.begin(), rows.end());
    return rows;
  };

  // The council's own staff see every allocation.
  const Listing everything = {
      {spring, {{spring_a, 20'000}}},
      {autumn, by_id({{school_a, 92'000}, {school_b, 50'000}, {partner, 30'000}})}};
  EXPECT_EQ(listing(finance), everything);
  EXPECT_EQ(
      listing(as("officer-5", cv1::ROLE_COUNCIL_OFFICER, cv1::ORGANISATION_TYPE_COUNCIL, "805")),
      everything);
  EXPECT_EQ(
      listing(as("approver-5", cv1::ROLE_FUND_APPROVER, cv1::ORGANISATION_TYPE_COUNCIL, "805")),
      everything);
  // A school or a partner sees every fund of its council, but only its own allocations.
  EXPECT_EQ(listing(staff_a),
            (Listing{{spring, {{spring_a, 20'000}}}, {autumn, {{school_a, 92'000}}}}));
  EXPECT_EQ(listing(as("head-5", cv1::ROLE_SCHOOL_LEAD, cv1::ORGANISATION_TYPE_SCHOOL, "100072")),
            (Listing{{spring, {}}, {autumn, {{school_b, 50'000}}}}));
  EXPECT_EQ(listing(as("worker-5", cv1::ROLE_PARTNER_WORKER, cv1::ORGANISATION_TYPE_PARTNER,
                       "youth-trust")),
            (Listing{{spring, {}}, {autumn, {{partner, 30'000}}}}));
  // Council 801's staff see none of council 805's funds.
  v1::ListFundsResponse theirs;
  ASSERT_TRUE(list(Finance(), 500, "", &theirs).ok());
  for (const v1::ListedFund& f : theirs.funds()) {
    EXPECT_EQ(f.fund().la_code(), "801");
    EXPECT_NE(f.fund().fund_id(), autumn);
  }

  // Page by page.
  v1::ListFundsResponse first, second;
  ASSERT_TRUE(list(finance, 1, "", &first).ok());
  ASSERT_EQ(first.funds_size(), 1);
  EXPECT_EQ(first.funds(0).fund().fund_id(), spring);
  ASSERT_FALSE(first.page().next_page_token().empty());
  ASSERT_TRUE(list(finance, 1, first.page().next_page_token(), &second).ok());
  ASSERT_EQ(second.funds_size(), 1);
  EXPECT_EQ(second.funds(0).fund().fund_id(), autumn);
  EXPECT_TRUE(second.page().next_page_token().empty());

  // A role the rule grants no one is refused; a bad page names its field.
  v1::ListFundsResponse refused;
  EXPECT_EQ(list(as("adapter-5", cv1::ROLE_SERVICE, cv1::ORGANISATION_TYPE_COUNCIL, "805"), 0, "",
                 &refused)
                .error_code(),
            grpc::PERMISSION_DENIED);
  EXPECT_EQ(list("", 0, "", &refused).error_code(), grpc::UNAUTHENTICATED);
  const grpc::Status bad = list(finance, -1, "", &refused);
  EXPECT_EQ(bad.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(bad.error_message(), StartsWith("page.page_size:"));
}

TEST_F(FundTest, ABankFileOfManyLinesSettlesEachPaymentOnceEvenImportedTwice) {
  const std::string f = CreateFund("create-fund-07");
  const std::string a = Allocate(f, "100007", 400'000, "allocate-07");
  // More lines than the service settles in one step, so the file spans several.
  constexpr int kPayments = 300;
  std::vector<std::string> payment_ids;
  for (int i = 0; i < kPayments; ++i) {
    v1::SubmitFundRequestResponse submitted;
    ASSERT_TRUE(Submit(Staff("100007"), "file-submit-" + std::to_string(1000 + i),
                       NewRequest(f, a, 1'000, Ref(700 + i)), &submitted).ok());
    v1::ApproveFundRequestResponse approved;
    ASSERT_TRUE(Approve(Lead("100007"), "file-approve-" + std::to_string(1000 + i),
                        submitted.fund_request().request_id(), &approved).ok());
    payment_ids.push_back(approved.fund_request().payment_id());
  }
  // The last ten fail; the first appears twice; two lines are not payments.
  std::string csv = "payment_id,status,reason\n";
  for (int i = 0; i < kPayments; ++i) {
    csv += payment_ids[size_t(i)] + (i < kPayments - 10 ? ",settled,\n" : ",failed,account closed\n");
  }
  csv += payment_ids[0] + ",settled,\n";
  csv += "this line is not a payment\n";
  csv += payment_ids[1] + ",maybe,\n";
  v1::ImportBankFileRequest file;
  file.set_client_request_id("bank-file-2026-11-24");
  file.set_csv(csv);
  for (int import = 0; import < 2; ++import) {
    v1::ImportBankFileResponse imported;
    const grpc::Status status = fund().ImportBankFile(As(Finance()).get(), file, &imported);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(imported.settled(), kPayments - 10 + 1) << "import " << import;
    EXPECT_EQ(imported.failed(), 10) << "import " << import;
    ASSERT_EQ(imported.problems_size(), 2) << "import " << import;
    EXPECT_THAT(imported.problems(0), StartsWith("line 303: expected payment_id,status,reason"));
    EXPECT_THAT(imported.problems(1), StartsWith("line 304: outcome:"));
    // Paid once each, whichever import and however often a line appears.
    EXPECT_EQ(Balance(account::Paid(f)), (kPayments - 10) * 1'000);
    EXPECT_EQ(Balance(account::Payable(f)), 0);
    EXPECT_EQ(Balance(account::Allocation(a)), 400'000 - (kPayments - 10) * 1'000);
    EXPECT_EQ(Balance(account::ChildUsed(f, Ref(700 + kPayments - 1))), 0);
  }
  v1::ListFundRequestsRequest list;
  list.set_fund_id(f);
  list.mutable_page()->set_page_size(500);
  v1::ListFundRequestsResponse listed;
  ASSERT_TRUE(fund().ListFundRequests(As(Finance()).get(), list, &listed).ok());
  int paid = 0, failed = 0;
  for (const v1::FundRequest& r : listed.fund_requests()) {
    paid += r.status() == v1::REQUEST_STATUS_PAID;
    failed += r.status() == v1::REQUEST_STATUS_PAYMENT_FAILED;
  }
  EXPECT_EQ(paid, kPayments - 10);
  EXPECT_EQ(failed, 10);
  EXPECT_TRUE(stack_->ledger->CheckInvariants().ok());
}

TEST_F(FundTest, AStepTakenElsewhereIsNeverUndoneByAnOlderCopyOfTheRequest) {
  // The service remembers the requests it wrote; these steps move requests
  // on by paths that read Redis instead (a rejection, a bank file), so the
  // remembered copies fall behind, as they would with another replica.
  const std::string f = CreateFund("create-fund-08");
  const std::string a = Allocate(f, "100008", 100'000, "allocate-08");
  v1::SubmitFundRequestResponse rejected;
  ASSERT_TRUE(Submit(Staff("100008"), "stale-submit-1", NewRequest(f, a, 4'000, Ref(81)), &rejected).ok());
  v1::RejectFundRequestRequest reject;
  reject.set_client_request_id("stale-reject-1");
  reject.set_fund_request_id(rejected.fund_request().request_id());
  reject.set_reason("A uniform grant from the school covers this");
  v1::RejectFundRequestResponse reject_response;
  ASSERT_TRUE(fund().RejectFundRequest(As(Lead("100008")).get(), reject, &reject_response).ok());
  v1::ApproveFundRequestResponse approved;
  const grpc::Status late_approval =
      Approve(Lead("100008"), "stale-approve-1", rejected.fund_request().request_id(), &approved);
  EXPECT_EQ(late_approval.error_code(), grpc::FAILED_PRECONDITION) << late_approval.error_message();
  EXPECT_EQ(Balance(account::Allocation(a)), 100'000);
  EXPECT_EQ(Balance(account::Payable(f)), 0);

  v1::SubmitFundRequestResponse paid;
  ASSERT_TRUE(Submit(Staff("100008"), "stale-submit-2", NewRequest(f, a, 6'000, Ref(82)), &paid).ok());
  ASSERT_TRUE(Approve(Lead("100008"), "stale-approve-2", paid.fund_request().request_id(), &approved).ok());
  const std::string payment = approved.fund_request().payment_id();
  v1::ImportBankFileRequest file;
  file.set_client_request_id("bank-file-2026-11-25");
  file.set_csv("payment_id,status,reason\n" + payment + ",settled,\n");
  v1::ImportBankFileResponse imported;
  ASSERT_TRUE(fund().ImportBankFile(As(Finance()).get(), file, &imported).ok());
  ASSERT_EQ(imported.settled(), 1);
  // The adapter's late callback says the payment failed: the bank's file
  // already settled it, so nothing is given back.
  v1::RecordPaymentOutcomeResponse outcome;
  const grpc::Status late_failure = Outcome("stale-outcome-2", payment, false, &outcome);
  EXPECT_EQ(late_failure.error_code(), grpc::FAILED_PRECONDITION) << late_failure.error_message();
  EXPECT_EQ(Balance(account::Paid(f)), 6'000);
  EXPECT_EQ(Balance(account::Allocation(a)), 100'000 - 6'000);
  EXPECT_EQ(Balance(account::ChildUsed(f, Ref(82))), 6'000);
  EXPECT_TRUE(stack_->ledger->CheckInvariants().ok());
}

TEST_F(FundTest, BadInputIsRefusedNamingTheField) {
  const std::string f = CreateFund("create-fund-04");
  const std::string a = Allocate(f, "100006", 10'000, "allocate-04");
  struct Case {
    std::string field;
    std::function<void(v1::FundRequest&)> spoil;
  };
  const std::vector<Case> cases = {
      {"fund_request.category", [](v1::FundRequest& r) { r.set_category(v1::CATEGORY_ACTIVITIES); }},
      {"fund_request.amount.pence", [](v1::FundRequest& r) { r.mutable_amount()->set_pence(0); }},
      {"fund_request.amount.pence", [](v1::FundRequest& r) { r.mutable_amount()->set_pence(50'001); }},
      {"fund_request.amount.currency", [](v1::FundRequest& r) { r.mutable_amount()->set_currency("EUR"); }},
      {"fund_request.payee_type", [](v1::FundRequest& r) { r.clear_payee_type(); }},
      {"fund_request.family_bank.sort_code", [](v1::FundRequest& r) { r.mutable_family_bank()->set_sort_code("12-34"); }},
      {"fund_request.justification", [](v1::FundRequest& r) { r.clear_justification(); }},
      {"fund_request.pupil_ref.value", [](v1::FundRequest& r) { r.mutable_pupil_ref()->set_value("Jane Doe"); }},
  };
  int n = 0;
  for (const Case& c : cases) {
    v1::FundRequest r = NewRequest(f, a, 1'000, Ref(40));
    c.spoil(r);
    v1::SubmitFundRequestResponse response;
    const grpc::Status status = Submit(Staff("100006"), "bad-request-" + std::to_string(n++), r, &response);
    EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT) << c.field;
    EXPECT_THAT(status.error_message(), StartsWith(c.field + ":")) << c.field;
  }
  v1::FundRequest supplier = NewRequest(f, a, 1'000, Ref(41));
  supplier.set_payee_type(v1::PAYEE_TYPE_SUPPLIER);
  supplier.set_payee_id("no-such-supplier");
  v1::SubmitFundRequestResponse response;
  grpc::Status status = Submit(Staff("100006"), "bad-supplier-1", supplier, &response);
  EXPECT_EQ(status.error_code(), grpc::NOT_FOUND);
  EXPECT_THAT(status.error_message(), StartsWith("fund_request.payee_id:"));
  EXPECT_EQ(Balance(account::Committed(a)), 0);
  EXPECT_EQ(Submit("", "no-token-1", NewRequest(f, a, 1'000, Ref(42)), &response).error_code(),
            grpc::UNAUTHENTICATED);
  // The request id's errors name the fund's own field for it.
  status = Submit(Staff("100006"), "short", NewRequest(f, a, 1'000, Ref(43)), &response);
  EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), StartsWith("client_request_id:"));
  ASSERT_TRUE(
      Submit(Staff("100006"), "reused-id-1", NewRequest(f, a, 1'000, Ref(44)), &response).ok());
  status = Submit(Staff("100006"), "reused-id-1", NewRequest(f, a, 2'000, Ref(44)), &response);
  EXPECT_EQ(status.error_code(), grpc::ALREADY_EXISTS);
  EXPECT_THAT(status.error_message(), StartsWith("client_request_id:"));
  // Past its first answer's 7 days (the guard key expired) a reused id is
  // still ALREADY_EXISTS, never INTERNAL.
  ASSERT_TRUE(
      stack_->h.redis
          ->Command({"DEL", IdempotencyKey("fp", "teacher-1", "SubmitFundRequest", "reused-id-1")})
          .ok());
  status = Submit(Staff("100006"), "reused-id-1", NewRequest(f, a, 1'000, Ref(44)), &response);
  EXPECT_EQ(status.error_code(), grpc::ALREADY_EXISTS) << status.error_message();
  EXPECT_THAT(status.error_message(),
              StartsWith("client_request_id: already used, more than 7 days ago"));
}

TEST_F(FundTest, BankDetailsNeverLeaveTheService) {
  const std::string f = CreateFund("create-fund-05");
  const std::string a = Allocate(f, "100007", 10'000, "allocate-05");
  v1::SubmitFundRequestResponse submitted;
  ASSERT_TRUE(Submit(Staff("100007"), "bank-submit-1", NewRequest(f, a, 2'000, Ref(50)), &submitted).ok());
  v1::ApproveFundRequestResponse approved;
  ASSERT_TRUE(Approve(Lead("100007"), "bank-approve-1", submitted.fund_request().request_id(), &approved).ok());
  const auto events = rooted::testing::ReadEvents<v1::FundEvent>(stack_->h.broker.bootstrap(),
                                                                 topics::kFundEvents, Ref(50), 3);
  ASSERT_EQ(events.size(), 3u);  // submitted, approved, payment issued
  for (const v1::FundEvent& e : events) {
    const std::string bytes = e.SerializeAsString();
    EXPECT_EQ(bytes.find("87654321"), std::string::npos);
    EXPECT_EQ(bytes.find("112233"), std::string::npos);
    EXPECT_EQ(bytes.find("A Parent"), std::string::npos);
  }
  EXPECT_EQ(stack_->h.log.str().find("87654321"), std::string::npos);
  // Finance sees them in full.
  v1::ListFundRequestsRequest list;
  list.set_fund_id(f);
  v1::ListFundRequestsResponse listed;
  ASSERT_TRUE(fund().ListFundRequests(As(Finance()).get(), list, &listed).ok());
  ASSERT_EQ(listed.fund_requests_size(), 1);
  EXPECT_EQ(listed.fund_requests(0).family_bank().account_number(), "87654321");
}

TEST_F(FundTest, AForumDecisionOpensOneDraftThatASubmissionCompletes) {
  const std::string f = CreateFund("create-fund-06");
  const std::string a = Allocate(f, "100008", 10'000, "allocate-06");
  rooted::forum::v1::ForumEvent event;
  auto* recorded = event.mutable_decision_recorded();
  recorded->mutable_decision()->set_decision_id("decision-000060");
  recorded->mutable_decision()->set_type(rooted::forum::v1::DECISION_TYPE_REQUEST_FUND_SUPPORT);
  *recorded->mutable_decision()->mutable_fund_amount() = Gbp(3'500);
  recorded->mutable_decision()->mutable_decided_by()->set_subject("chair-1");
  recorded->set_referral_id("referral-000060");
  recorded->mutable_pupil_ref()->set_value(Ref(60));
  event.mutable_metadata()->set_event_id("forum-decision-event-60");
  event.mutable_metadata()->set_event_type(PayloadTypeName(event));
  const OutgoingMessage message = ToOutgoingMessage(topics::kForumEvents, Ref(60), event.metadata(), event);
  ASSERT_TRUE(stack_->h.producer->Deliver({&message, 1}, absl::Seconds(10)).front().ok());
  ASSERT_TRUE(stack_->h.producer->Deliver({&message, 1}, absl::Seconds(10)).front().ok());  // again

  const std::string council =
      Token("officer-1", cv1::ROLE_COUNCIL_OFFICER, cv1::ORGANISATION_TYPE_COUNCIL, "801");
  v1::ListFundRequestsRequest list;
  list.set_status(v1::REQUEST_STATUS_DRAFT);
  v1::ListFundRequestsResponse drafts;
  ASSERT_TRUE(rooted::testing::Eventually([&] {
    drafts.Clear();
    return fund().ListFundRequests(As(council).get(), list, &drafts).ok() && drafts.fund_requests_size() == 1;
  }));
  absl::SleepFor(absl::Seconds(1));  // the second copy has had its chance
  drafts.Clear();
  ASSERT_TRUE(fund().ListFundRequests(As(council).get(), list, &drafts).ok());
  ASSERT_EQ(drafts.fund_requests_size(), 1);
  EXPECT_EQ(drafts.fund_requests(0).amount().pence(), 3'500);
  EXPECT_EQ(drafts.fund_requests(0).referral_id(), "referral-000060");
  EXPECT_EQ(fund().ListFundRequests(As(Staff("100008")).get(), list, &drafts).error_code(),
            grpc::PERMISSION_DENIED);

  v1::FundRequest completed = NewRequest(f, a, 3'500, Ref(60));
  completed.set_decision_id("decision-000060");
  v1::SubmitFundRequestResponse submitted;
  ASSERT_TRUE(Submit(Staff("100008"), "draft-submit-1", completed, &submitted).ok());
  drafts.Clear();
  ASSERT_TRUE(fund().ListFundRequests(As(council).get(), list, &drafts).ok());
  EXPECT_EQ(drafts.fund_requests_size(), 0);
}

// Findings 2 and 3 of the trust review: a request names a referral fund
// payments knows from referral-intake's events, of the caller's own school,
// for the child that referral is about, with the family's consent.
TEST_F(FundTest, ARequestMustNameAReferralOfTheCallersOwnWithTheFamilysConsent) {
  namespace rv1 = rooted::referral::v1;
  const std::string f = CreateFund("create-fund-09");
  const std::string a = Allocate(f, "100011", 100'000, "allocate-09");
  const std::string b = Allocate(f, "100012", 100'000, "allocate-09b");
  v1::SubmitFundRequestResponse response;

  // Another school's referral, named against this school's own allocation:
  // answered exactly as a referral that does not exist.
  Refer("100012", Ref(90));
  v1::FundRequest theirs = NewRequest(f, a, 1'000, Ref(90));
  grpc::ClientContext other_school;
  other_school.AddMetadata("authorization", "Bearer " + Staff("100011"));
  v1::SubmitFundRequestRequest ask;
  ask.set_client_request_id("theirs-1");
  *ask.mutable_fund_request() = theirs;
  const grpc::Status hidden = fund().SubmitFundRequest(&other_school, ask, &response);
  EXPECT_EQ(hidden.error_code(), grpc::UNAVAILABLE);
  EXPECT_THAT(hidden.error_message(), StartsWith("fund_request.referral_id: no referral of yours"));
  // gRPC's own retry hint, for clients with a retry policy.
  EXPECT_EQ(other_school.GetServerTrailingMetadata().count("grpc-retry-pushback-ms"), 1u);

  // A made-up referral: the same answer, word for word.
  v1::FundRequest invented = NewRequest(f, a, 1'000, Ref(91));
  invented.set_referral_id("referral-made-up");
  grpc::Status status = Submit(Staff("100011"), "invented-1", invented, &response);
  EXPECT_EQ(status.error_code(), grpc::UNAVAILABLE);
  EXPECT_EQ(status.error_message(), hidden.error_message());

  // The right referral with another child's reference.
  Refer("100011", Ref(92));
  v1::FundRequest wrong_child = NewRequest(f, a, 1'000, Ref(92));
  wrong_child.mutable_pupil_ref()->set_value(Ref(93));
  status = Submit(Staff("100011"), "wrong-child-1", wrong_child, &response);
  EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), StartsWith("fund_request.pupil_ref:"));

  // Consent to the forum only: the fund is refused until the family consents to it.
  Refer("100011", Ref(94), {rv1::CONSENT_SCOPE_FORUM});
  status = Submit(Staff("100011"), "no-consent-1", NewRequest(f, a, 1'000, Ref(94)), &response);
  EXPECT_EQ(status.error_code(), grpc::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("consent does not cover the local response fund"));
  rv1::ReferralEvent consent;
  consent.mutable_consent_recorded()->set_referral_id(ReferralOf(Ref(94)));
  consent.mutable_consent_recorded()->mutable_pupil_ref()->set_value(Ref(94));
  consent.mutable_consent_recorded()->set_status(rv1::CONSENT_STATUS_GIVEN);
  consent.mutable_consent_recorded()->add_scopes(rv1::CONSENT_SCOPE_FUND);
  PublishReferralEvent(consent, Ref(94));
  ASSERT_TRUE(rooted::testing::Eventually([&] {
    auto known = Known(ReferralOf(Ref(94)));
    return known && known->record.consented_size() == 1 &&
           known->record.consented(0) == rv1::CONSENT_SCOPE_FUND;
  }));
  status = Submit(Staff("100011"), "no-consent-1", NewRequest(f, a, 1'000, Ref(94)), &response);
  EXPECT_TRUE(status.ok()) << status.error_message();

  // A withdrawn referral takes no more requests.
  rv1::ReferralEvent withdrawn;
  withdrawn.mutable_referral_withdrawn()->set_referral_id(ReferralOf(Ref(94)));
  withdrawn.mutable_referral_withdrawn()->mutable_pupil_ref()->set_value(Ref(94));
  PublishReferralEvent(withdrawn, Ref(94));
  ASSERT_TRUE(rooted::testing::Eventually([&] {
    auto known = Known(ReferralOf(Ref(94)));
    return known && known->record.withdrawn();
  }));
  status = Submit(Staff("100011"), "withdrawn-1", NewRequest(f, a, 1'000, Ref(94)), &response);
  EXPECT_EQ(status.error_code(), grpc::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("withdrawn"));

  // Nothing was committed but the one request with consent.
  EXPECT_EQ(Balance(account::Committed(a)), 1'000);
  EXPECT_EQ(Balance(account::Committed(b)), 0);
  EXPECT_TRUE(stack_->ledger->CheckInvariants().ok());
}

// Finding 3: the child's limit is the referral's child's, so two referrals
// of one child share it, whatever the requests say.
TEST_F(FundTest, TheChildsLimitIsCountedOnTheReferralsChild) {
  namespace rv1 = rooted::referral::v1;
  const std::string f = CreateFund("create-fund-10");
  const std::string a = Allocate(f, "100013", 200'000, "allocate-10");
  Refer("100013", Ref(95));
  // A second referral of the same child (a later term's).
  rv1::ReferralEvent again;
  auto* submitted = again.mutable_referral_submitted();
  submitted->set_referral_id("referral-second-95");
  submitted->mutable_pupil_ref()->set_value(Ref(95));
  submitted->set_school_urn("100013");
  submitted->set_la_code("801");
  submitted->add_consent_scopes(rv1::CONSENT_SCOPE_FUND);
  PublishReferralEvent(again, Ref(95));
  ASSERT_TRUE(rooted::testing::Eventually([&] { return Known("referral-second-95").has_value(); }));

  v1::SubmitFundRequestResponse response;
  ASSERT_TRUE(
      Submit(Staff("100013"), "limit-a-1", NewRequest(f, a, 40'000, Ref(95)), &response).ok());
  // The change's own audit entry names the child, so the officer's question finds it.
  absl::StatusOr<RedisReply> newest =
      stack_->h.redis->Command({"XREVRANGE", "fp:audit", "+", "-", "COUNT", "1"});
  ASSERT_TRUE(newest.ok());
  ASSERT_EQ(newest->elements.size(), 1u);
  std::map<std::string, std::string> fields;
  const std::vector<RedisReply>& kv = newest->elements[0].elements[1].elements;
  for (size_t i = 0; i + 1 < kv.size(); i += 2) fields[kv[i].str] = kv[i + 1].str;
  EXPECT_EQ(fields["action"], "SubmitFundRequest");
  EXPECT_EQ(fields["pupil_refs"], Ref(95));
  v1::FundRequest second = NewRequest(f, a, 40'000, Ref(95));
  second.set_referral_id("referral-second-95");
  const grpc::Status status = Submit(Staff("100013"), "limit-b-1", second, &response);
  EXPECT_EQ(status.error_code(), grpc::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(),
              StartsWith("fund_request.amount: over this child's limit of £600.00"));
  EXPECT_EQ(Balance(account::ChildUsed(f, Ref(95))), 40'000);
}

// The reply to a request made before the referral's event arrived is a
// retry hint, and the same call retried once it has arrived goes through.
TEST_F(FundTest, ARequestAheadOfItsReferralsEventIsToldToRetry) {
  const std::string f = CreateFund("create-fund-11");
  const std::string a = Allocate(f, "100014", 100'000, "allocate-11");
  v1::FundRequest early = NewRequest(f, "", 2'000, Ref(96));  // not referred yet
  early.set_allocation_id(a);
  v1::SubmitFundRequestResponse response;
  grpc::Status status = Submit(Staff("100014"), "early-submit-1", early, &response);
  EXPECT_EQ(status.error_code(), grpc::UNAVAILABLE);
  Refer("100014", Ref(96));
  status = Submit(Staff("100014"), "early-submit-1", early, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.fund_request().pupil_ref().value(), Ref(96));
  EXPECT_EQ(Balance(account::Committed(a)), 2'000);
}

// A replica's copy of a referral's facts may be behind another's write: the
// submission's write is guarded by the facts' version, so a family's
// withdrawn consent holds even against a stale copy.
TEST_F(FundTest, AStaleCopyOfAReferralNeverOutlivesAWithdrawnConsent) {
  namespace rv1 = rooted::referral::v1;
  const std::string f = CreateFund("create-fund-12");
  const std::string a = Allocate(f, "100015", 100'000, "allocate-12");
  Refer("100015", Ref(97));
  ASSERT_TRUE(stack_->referrals->Remembered(ReferralOf(Ref(97))).has_value());
  // Another replica applies the withdrawal of consent; this one's copy is untouched.
  ReferralFactsKeeper elsewhere(*stack_->store);
  rv1::ReferralEvent consent;
  consent.mutable_consent_recorded()->set_referral_id(ReferralOf(Ref(97)));
  consent.mutable_consent_recorded()->mutable_pupil_ref()->set_value(Ref(97));
  consent.mutable_consent_recorded()->set_status(rv1::CONSENT_STATUS_WITHDRAWN);
  WriteBatch batch;
  ASSERT_TRUE(elsewhere.Stage(batch, consent).ok());
  ASSERT_TRUE(stack_->store->Commit(std::move(batch)).ok());
  EXPECT_EQ(stack_->referrals->Remembered(ReferralOf(Ref(97)))->record.consented_size(), 2);

  v1::SubmitFundRequestResponse response;
  const grpc::Status status =
      Submit(Staff("100015"), "stale-facts-submit-1", NewRequest(f, a, 1'000, Ref(97)), &response);
  EXPECT_EQ(status.error_code(), grpc::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("consent does not cover"));
  EXPECT_EQ(Balance(account::Committed(a)), 0);
}

}  // namespace
}  // namespace rooted::fund
