// fund_bench: fund requests submitted, approved and paid end to end through
// the real fund-payments binary (three RPCs each, every one a ledger step),
// beside raw Redis EVAL of a comparable script measured in the same run; the
// ledger's invariants are checked afterwards.
//
//   fund_bench [--requests=20000] [--threads=16] [--schools=20]

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <thread>

#include "common/base/config.h"
#include "common/base/proto_date.h"
#include "common/base/proto_money.h"
#include "common/redis/redis_client.h"
#include "rooted/fund/v1/fund.grpc.pb.h"
#include "services/fund-payments/ledger.h"
#include "tests/support/auth.h"
#include "tests/support/service_harness.h"
#include "tools/bench/cpu_account.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace v1 = rooted::fund::v1;
namespace cv1 = rooted::common::v1;
using rooted::Gbp;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

int main(int argc, char** argv) {
  auto config = rooted::Config::Parse(argc, argv);
  if (!config.ok()) {
    std::cerr << config.status().message() << "\n";
    return 2;
  }
  const int requests = int(*config->Int("requests", 20'000, 100, 10'000'000));
  const int threads = int(*config->Int("threads", 16, 1, 256));
  const int schools = int(*config->Int("schools", 20, 1, 1000));
  const std::string secret(40, 'b');

  rooted::testing::LocalService service("fund-payments", secret);
  rooted::RedisOptions redis_options;
  redis_options.port = service.redis().port();
  rooted::RedisClient redis(redis_options);
  const rooted::testing::TestTokens tokens(secret);
  const absl::Time now = absl::Now();
  const std::string finance = tokens.Mint("finance-bench", cv1::ROLE_FINANCE_OFFICER,
                                          cv1::ORGANISATION_TYPE_COUNCIL, "801", "801", now);
  const std::string adapter = tokens.Mint("payments-adapter", cv1::ROLE_SERVICE,
                                          cv1::ORGANISATION_TYPE_COUNCIL, "801", "801", now);
  auto channel =
      grpc::CreateChannel(service.target(), grpc::InsecureChannelCredentials());
  auto stub = v1::FundService::NewStub(channel);

  // Raw ceiling: EVAL of a script doing a transfer's work (check, two
  // HINCRBYs, two XADDs, a guard) on the same Redis.
  rooted::fund::Ledger raw_ledger(redis, "raw");
  (void)raw_ledger.Apply({"seed", "seed", "", {{"budget:raw", "alloc:raw", int64_t(1) << 50}}}, now);
  const int raw_count = 20'000;
  std::atomic<int> raw_next{0};
  auto raw_start = Clock::now();
  std::vector<std::thread> raw_threads;
  for (int t = 0; t < threads; ++t) {
    raw_threads.emplace_back([&] {
      for (int i; (i = raw_next++) < raw_count;) {
        (void)raw_ledger.Apply({"raw-" + std::to_string(i), "raw", "", {{"alloc:raw", "paid:raw", 1}}}, now);
      }
    });
  }
  for (auto& t : raw_threads) t.join();
  const double raw_rate = raw_count / Seconds(Clock::now() - raw_start);

  for (int i = 0; i < 200; ++i) {
    v1::GetFundReportRequest probe;
    probe.set_fund_id("not-yet-a-fund");
    v1::GetFundReportResponse r;
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer " + finance);
    if (stub->GetFundReport(&context, probe, &r).error_code() != grpc::UNAVAILABLE) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  v1::CreateFundRequest create;
  create.set_request_id("bench-fund-0001");
  v1::Fund* f = create.mutable_fund();
  f->set_la_code("801");
  f->set_name("Bench fund");
  *f->mutable_total_budget() = Gbp(int64_t(requests) * 10'000 + 1'000'000);
  const absl::CivilDay today = absl::ToCivilDay(now, absl::UTCTimeZone());
  *f->mutable_period_start() = rooted::ToProtoDate(today - 30);
  *f->mutable_period_end() = rooted::ToProtoDate(today + 300);
  f->add_categories(v1::CATEGORY_TRANSPORT);
  *f->mutable_per_request_limit() = Gbp(10'000);
  *f->mutable_per_child_limit() = Gbp(100'000);
  *f->mutable_approval()->mutable_school_lead_limit() = Gbp(10'000);
  *f->mutable_approval()->mutable_two_approver_threshold() = Gbp(10'000);
  v1::CreateFundResponse created;
  {
    auto context = rooted::testing::AuthedContext(finance);
    grpc::Status s = stub->CreateFund(context.get(), create, &created);
    if (!s.ok()) {
      std::cerr << "CreateFund: " << s.error_message() << "\n";
      return 1;
    }
  }
  const std::string fund_id = created.fund().fund_id();
  std::vector<std::string> allocations;
  for (int s = 0; s < schools; ++s) {
    v1::AllocateFundsRequest allocate;
    allocate.set_request_id("bench-allocate-" + std::to_string(s));
    allocate.mutable_allocation()->set_fund_id(fund_id);
    allocate.mutable_allocation()->mutable_holder()->set_type(cv1::ORGANISATION_TYPE_SCHOOL);
    allocate.mutable_allocation()->mutable_holder()->set_id(std::to_string(100001 + s));
    allocate.mutable_allocation()->set_term("autumn");
    *allocate.mutable_allocation()->mutable_amount() = Gbp(int64_t(requests / schools + 1) * 10'000);
    v1::AllocateFundsResponse allocated;
    auto context = rooted::testing::AuthedContext(finance);
    (void)stub->AllocateFunds(context.get(), allocate, &allocated);
    allocations.push_back(allocated.allocation().allocation_id());
  }
  std::vector<std::string> staff, leads;
  for (int s = 0; s < schools; ++s) {
    const std::string urn = std::to_string(100001 + s);
    staff.push_back(tokens.Mint("teacher-" + urn, cv1::ROLE_SCHOOL_STAFF, cv1::ORGANISATION_TYPE_SCHOOL, urn, "801", now));
    leads.push_back(tokens.Mint("head-" + urn, cv1::ROLE_SCHOOL_LEAD, cv1::ORGANISATION_TYPE_SCHOOL, urn, "801", now));
  }

  std::cout << "fund_bench: " << requests << " requests from " << schools << " schools, " << threads
            << " client threads, " << std::thread::hardware_concurrency() << " cores\n";
  std::cout << "raw: Redis EVAL of a ledger transfer   " << int64_t(raw_rate) << " transfers/s\n";
  std::atomic<int> next{0}, paid{0}, failed{0};
  rooted::bench::CpuAccount cpu;
  cpu.Add("fund-payments", service.pid());
  cpu.Add("redis-server", service.redis().pid());
  cpu.Add("rooted-broker", service.broker().pid());
  cpu.Add("this client", getpid());
  cpu.Start();
  const auto start = Clock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      for (int i; (i = next++) < requests;) {
        const int s = i % schools;
        v1::SubmitFundRequestRequest submit;
        submit.set_client_request_id("bench-submit-" + std::to_string(i));
        v1::FundRequest* r = submit.mutable_fund_request();
        r->set_fund_id(fund_id);
        r->set_allocation_id(allocations[size_t(s)]);
        r->set_referral_id("bench-referral-" + std::to_string(i));
        const std::string digits = std::to_string(i);
        r->mutable_pupil_ref()->set_value("pr_" + std::string(32 - digits.size(), '0') + digits);
        r->set_category(v1::CATEGORY_TRANSPORT);
        *r->mutable_amount() = Gbp(1'000 + i % 9'000);
        r->set_payee_type(v1::PAYEE_TYPE_FAMILY);
        r->mutable_family_bank()->set_account_name("A Parent");
        r->mutable_family_bank()->set_sort_code("112233");
        r->mutable_family_bank()->set_account_number("87654321");
        r->set_justification("Bus pass for the term");
        r->set_evidence_reference("bench");
        v1::SubmitFundRequestResponse submitted;
        grpc::Status status = stub->SubmitFundRequest(rooted::testing::AuthedContext(staff[size_t(s)]).get(),
                                                      submit, &submitted);
        v1::ApproveFundRequestRequest approve;
        approve.set_client_request_id("bench-approve-" + std::to_string(i));
        approve.set_fund_request_id(submitted.fund_request().request_id());
        v1::ApproveFundRequestResponse approved;
        if (status.ok()) {
          status = stub->ApproveFundRequest(rooted::testing::AuthedContext(leads[size_t(s)]).get(), approve,
                                            &approved);
        }
        v1::RecordPaymentOutcomeRequest outcome;
        outcome.set_client_request_id("bench-outcome-" + std::to_string(i));
        outcome.set_payment_id(approved.fund_request().payment_id());
        outcome.set_outcome(v1::PAYMENT_OUTCOME_SETTLED);
        v1::RecordPaymentOutcomeResponse recorded;
        if (status.ok()) {
          status = stub->RecordPaymentOutcome(rooted::testing::AuthedContext(adapter).get(), outcome,
                                              &recorded);
        }
        if (status.ok()) {
          ++paid;
        } else if (failed++ == 0) {
          std::cerr << "request failed: " << status.error_message() << "\n";
        }
      }
    });
  }
  for (auto& t : workers) t.join();
  const double elapsed = Seconds(Clock::now() - start);
  const double rate = paid.load() / elapsed;
  std::cout << "submitted, approved and paid   " << int64_t(rate) << " requests/s ("
            << paid.load() << " in " << elapsed << " s, " << failed.load() << " failed; "
            << int64_t(3 * rate) << " ledger RPCs/s, " << int(100 * 3 * rate / raw_rate)
            << "% of raw EVAL)\n";
  cpu.Report(std::cout, paid.load(), elapsed, "paid request");
  rooted::fund::Ledger ledger(redis, "fp");
  const absl::Status invariants = ledger.CheckInvariants();
  std::cout << "ledger invariants after the run: " << (invariants.ok() ? "intact" : invariants.ToString())
            << "\n";
  return invariants.ok() && failed.load() == 0 ? 0 : 1;
}
