// fund_bench: fund requests submitted, approved and paid end to end through
// the real fund-payments binary, every step a ledger transfer, beside raw
// Redis EVAL of a comparable script measured in the same run; the ledger's
// invariants are checked afterwards. Two runs of --requests each: payments
// reported by the adapter's callback one by one, then by the bank's files.
//
//   fund_bench [--requests=20000] [--in_flight=64] [--channels=4] [--file_lines=1000] [--schools=20] [--threads=16]
//
// --in_flight requests go through at once from one client thread. The
// service's busy calls hold no thread while Redis works, so a deeper window
// fills its pipelined connection rather than adding threads. Raw EVAL is
// measured both ways: --threads blocking connections, and one pipelined
// connection with --in_flight x 4 transfers outstanding.

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <iomanip>
#include <iostream>
#include <memory>
#include <mutex>
#include <thread>

#include "common/base/config.h"
#include "common/base/ids.h"
#include "common/base/proto_date.h"
#include "common/base/proto_money.h"
#include "common/kafka/event_metadata.h"
#include "common/kafka/kafka_producer.h"
#include "common/kafka/topics.h"
#include "common/redis/redis_client.h"
#include "rooted/fund/v1/fund.grpc.pb.h"
#include "rooted/referral/v1/referral_events.pb.h"
#include "services/fund-payments/ledger.h"
#include "tests/support/auth.h"
#include "tests/support/service_harness.h"
#include "tools/bench/bench_help.h"
#include "tools/bench/cpu_account.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace v1 = rooted::fund::v1;
namespace cv1 = rooted::common::v1;
using rooted::Gbp;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Who asks, against what, and who approves and reports payment.
struct Actors {
  std::string fund_id;
  std::vector<std::string> allocations;  // one per school
  std::vector<std::string> staff;        // a requester's token per school
  std::vector<std::string> leads;        // an approver's token per school
  std::string adapter;                   // the payments adapter's token
  std::string finance;  // a finance officer's: the bank's files are theirs to import
};

struct RunTotals {
  int64_t paid = 0;
  int64_t failed = 0;
};

// One fund request's way through: submitted, approved, then paid, each step
// an async call started when the one before it answers, so one client thread
// keeps many requests in flight (a thread per request in flight would spend
// more of this machine's two cores than the service being measured).
// What a completion-queue tag points at: a request's chain or a bank file.
struct Outstanding {
  enum class Kind { kChain, kBankFile };
  explicit Outstanding(Kind k) : kind(k) {}
  Kind kind;
};

struct Chain : Outstanding {
  Chain() : Outstanding(Kind::kChain) {}
  enum class Step { kSubmit, kApprove, kSettle };
  int index = 0;
  Step step = Step::kSubmit;
  std::unique_ptr<grpc::ClientContext> context;
  grpc::Status status;
  v1::SubmitFundRequestResponse submitted;
  v1::ApproveFundRequestResponse approved;
  v1::RecordPaymentOutcomeResponse recorded;
  std::unique_ptr<grpc::ClientAsyncResponseReader<v1::SubmitFundRequestResponse>> submit_call;
  std::unique_ptr<grpc::ClientAsyncResponseReader<v1::ApproveFundRequestResponse>> approve_call;
  std::unique_ptr<grpc::ClientAsyncResponseReader<v1::RecordPaymentOutcomeResponse>> settle_call;
};

std::string ReferralId(int i) { return "bench-referral-" + std::to_string(i); }
std::string PupilRef(int i) {
  const std::string digits = std::to_string(i);
  return "pr_" + std::string(32 - digits.size(), '0') + digits;
}

// Referral-intake's ReferralSubmitted for each child the bench asks for, with
// consent to the fund, and the wait until fund payments knows every one: a
// request on a referral it has not heard of is told to retry.
bool Refer(const std::string& bootstrap, rooted::RedisClient& redis, int children, int schools) {
  rooted::KafkaProducerOptions options;
  options.bootstrap_servers = bootstrap;
  options.client_id = "fund-bench";
  absl::StatusOr<std::unique_ptr<rooted::KafkaProducer>> producer =
      rooted::KafkaProducer::Create(std::move(options));
  if (!producer.ok()) {
    std::cerr << producer.status() << "\n";
    return false;
  }
  constexpr int kLot = 1000;
  for (int first = 0; first < children; first += kLot) {
    std::vector<rooted::OutgoingMessage> lot;
    for (int i = first; i < std::min(children, first + kLot); ++i) {
      rooted::referral::v1::ReferralEvent event;
      auto* submitted = event.mutable_referral_submitted();
      submitted->set_referral_id(ReferralId(i));
      submitted->mutable_pupil_ref()->set_value(PupilRef(i));
      submitted->set_school_urn(std::to_string(100001 + i % schools));
      submitted->set_la_code("801");
      submitted->add_consent_scopes(rooted::referral::v1::CONSENT_SCOPE_FUND);
      event.mutable_metadata()->set_event_id(rooted::NewUuid());
      event.mutable_metadata()->set_event_type(rooted::PayloadTypeName(event));
      lot.push_back(rooted::ToOutgoingMessage(rooted::topics::kReferralEvents, PupilRef(i),
                                              event.metadata(), event));
    }
    for (const absl::Status& delivered : (*producer)->Deliver(lot, absl::Seconds(30))) {
      if (!delivered.ok()) {
        std::cerr << "referral events: " << delivered << "\n";
        return false;
      }
    }
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  for (int known = 0; std::chrono::steady_clock::now() < deadline;) {
    std::vector<std::string> exists = {"EXISTS"};
    for (int i = known; i < std::min(children, known + kLot); ++i) {
      exists.push_back("fp:referral-facts:" + ReferralId(i));
    }
    absl::StatusOr<rooted::RedisReply> reply = redis.Command(exists);
    if (reply.ok() && reply->integer == int64_t(exists.size() - 1)) {
      known += int(exists.size() - 1);
      if (known == children) return true;
      continue;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::cerr << "fund payments did not learn every referral within 120 s\n";
  return false;
}

void StartSubmit(v1::FundService::Stub& stub, grpc::CompletionQueue& cq, const Actors& actors,
                 Chain& chain, int i) {
  const size_t school = size_t(i) % actors.allocations.size();
  v1::SubmitFundRequestRequest submit;
  submit.set_client_request_id("bench-submit-" + std::to_string(i));
  v1::FundRequest* r = submit.mutable_fund_request();
  r->set_fund_id(actors.fund_id);
  r->set_allocation_id(actors.allocations[school]);
  r->set_referral_id(ReferralId(i));
  r->mutable_pupil_ref()->set_value(PupilRef(i));
  r->set_category(v1::CATEGORY_TRANSPORT);
  *r->mutable_amount() = Gbp(1'000 + i % 9'000);
  r->set_payee_type(v1::PAYEE_TYPE_FAMILY);
  r->mutable_family_bank()->set_account_name("A Parent");
  r->mutable_family_bank()->set_sort_code("112233");
  r->mutable_family_bank()->set_account_number("87654321");
  r->set_justification("Bus pass for the term");
  r->set_evidence_reference("bench");
  chain.index = i;
  chain.step = Chain::Step::kSubmit;
  chain.context = rooted::testing::AuthedContext(actors.staff[school]);
  chain.submit_call = stub.AsyncSubmitFundRequest(chain.context.get(), submit, &cq);
  chain.submit_call->Finish(&chain.submitted, &chain.status, static_cast<Outstanding*>(&chain));
}

void StartApprove(v1::FundService::Stub& stub, grpc::CompletionQueue& cq, const Actors& actors,
                  Chain& chain) {
  v1::ApproveFundRequestRequest approve;
  approve.set_client_request_id("bench-approve-" + std::to_string(chain.index));
  approve.set_fund_request_id(chain.submitted.fund_request().request_id());
  chain.step = Chain::Step::kApprove;
  chain.context = rooted::testing::AuthedContext(actors.leads[size_t(chain.index) % actors.leads.size()]);
  chain.approve_call = stub.AsyncApproveFundRequest(chain.context.get(), approve, &cq);
  chain.approve_call->Finish(&chain.approved, &chain.status, static_cast<Outstanding*>(&chain));
}

void StartSettle(v1::FundService::Stub& stub, grpc::CompletionQueue& cq, const Actors& actors,
                 Chain& chain) {
  v1::RecordPaymentOutcomeRequest outcome;
  outcome.set_client_request_id("bench-outcome-" + std::to_string(chain.index));
  outcome.set_payment_id(chain.approved.fund_request().payment_id());
  outcome.set_outcome(v1::PAYMENT_OUTCOME_SETTLED);
  chain.step = Chain::Step::kSettle;
  chain.context = rooted::testing::AuthedContext(actors.adapter);
  chain.settle_call = stub.AsyncRecordPaymentOutcome(chain.context.get(), outcome, &cq);
  chain.settle_call->Finish(&chain.recorded, &chain.status, static_cast<Outstanding*>(&chain));
}

// Calls the service refuses before any I/O (an approval naming a malformed
// request id): what the gRPC server, token check and metrics cost a call,
// the floor under every figure above it.
// Transfers through the ledger's pipelined form, `window` outstanding at a
// time. The state is shared with the callbacks, which run on the pipe's I/O
// thread and may still be returning when the last one has been counted.
class PipelinedTransfers : public std::enable_shared_from_this<PipelinedTransfers> {
 public:
  PipelinedTransfers(rooted::fund::Ledger& ledger, int count, absl::Time at)
      : ledger_(ledger), count_(count), at_(at) {}

  double Run(int window) {
    const auto start = Clock::now();
    for (int w = 0; w < window; ++w) SendNext();
    std::unique_lock<std::mutex> lock(mu_);
    finished_.wait(lock, [&] { return done_ == count_; });
    return count_ / Seconds(Clock::now() - start);
  }

 private:
  void SendNext() {
    int i = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (sent_ == count_) return;
      i = sent_++;
    }
    ledger_.Apply({"pipelined-" + std::to_string(i), "raw", "", {{"alloc:raw", "paid:raw", 1}}}, at_, {},
                  [self = shared_from_this()](absl::StatusOr<rooted::fund::TransferResult>) {
                    self->SendNext();
                    std::lock_guard<std::mutex> lock(self->mu_);
                    if (++self->done_ == self->count_) self->finished_.notify_all();
                  });
  }

  rooted::fund::Ledger& ledger_;
  const int count_;
  const absl::Time at_;
  std::mutex mu_;
  std::condition_variable finished_;
  int sent_ = 0;  // guarded by mu_
  int done_ = 0;  // guarded by mu_
};

int64_t RunRefusals(v1::FundService::Stub& stub, const std::string& token, int count, int in_flight) {
  struct Refusal {
    std::unique_ptr<grpc::ClientContext> context;
    grpc::Status status;
    v1::ApproveFundRequestResponse response;
    std::unique_ptr<grpc::ClientAsyncResponseReader<v1::ApproveFundRequestResponse>> call;
  };
  grpc::CompletionQueue cq;
  v1::ApproveFundRequestRequest request;
  request.set_client_request_id("bench-refusal-0001");
  request.set_fund_request_id("not an id");
  std::vector<Refusal> calls(size_t(std::min(in_flight, count)));
  auto start = [&](Refusal& r) {
    r.context = rooted::testing::AuthedContext(token);
    r.call = stub.AsyncApproveFundRequest(r.context.get(), request, &cq);
    r.call->Finish(&r.response, &r.status, &r);
  };
  int started = 0, active = 0;
  int64_t refused = 0;
  for (Refusal& r : calls) {
    start(r);
    ++started;
    ++active;
  }
  void* tag = nullptr;
  bool ok = false;
  while (active > 0 && cq.Next(&tag, &ok)) {
    auto& r = *static_cast<Refusal*>(tag);
    refused += ok && r.status.error_code() == grpc::INVALID_ARGUMENT;
    if (started < count) {
      start(r);
      ++started;
    } else {
      --active;
    }
  }
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  return refused;
}

// The bank's report on a batch of payments, as a file the service imports.
struct BankFile : Outstanding {
  BankFile() : Outstanding(Kind::kBankFile) {}
  int lines = 0;
  std::unique_ptr<grpc::ClientContext> context;
  grpc::Status status;
  v1::ImportBankFileResponse imported;
  std::unique_ptr<grpc::ClientAsyncResponseReader<v1::ImportBankFileResponse>> call;
};

BankFile* StartBankFile(v1::FundService::Stub& stub, grpc::CompletionQueue& cq, const Actors& actors,
                        int number, const std::vector<std::string>& payment_ids) {
  v1::ImportBankFileRequest request;
  request.set_client_request_id("bench-bank-file-" + std::to_string(number));
  std::string csv = "payment_id,status,reason\n";
  for (const std::string& id : payment_ids) csv += id + ",settled,\n";
  request.set_csv(std::move(csv));
  auto* file = new BankFile;
  file->lines = int(payment_ids.size());
  file->context = rooted::testing::AuthedContext(actors.finance);
  file->call = stub.AsyncImportBankFile(file->context.get(), request, &cq);
  file->call->Finish(&file->imported, &file->status, static_cast<Outstanding*>(file));
  return file;
}

// How payments are reported back: one callback each, or the bank's files of
// `file_lines` payments (sent as soon as that many are approved).
struct Settlement {
  bool by_bank_file = false;
  int file_lines = 1000;
};

// Takes requests numbered [first, first + count) through submission,
// approval and payment with `in_flight` chains going at once.
RunTotals RunChains(const std::vector<std::unique_ptr<v1::FundService::Stub>>& stubs, const Actors& actors,
                    int first, int count, int in_flight, Settlement settlement) {
  grpc::CompletionQueue cq;
  std::vector<Chain> chains(size_t(std::min(in_flight, count)));
  // Each chain keeps to one connection; chains are spread over them all.
  auto stub_of = [&](const Chain& chain) -> v1::FundService::Stub& {
    return *stubs[size_t(&chain - chains.data()) % stubs.size()];
  };
  const int requests = first + count;
  int next = first;
  int active = 0;
  for (Chain& chain : chains) {
    StartSubmit(stub_of(chain), cq, actors, chain, next++);
    ++active;
  }
  RunTotals totals;
  std::vector<std::string> approved;  // awaiting the bank's file
  int files_sent = 0;
  int files_active = 0;
  auto fail = [&](const grpc::Status& status, int64_t lost) {
    if (totals.failed == 0) std::cerr << "request failed: " << status.error_message() << "\n";
    totals.failed += lost;
  };
  void* tag = nullptr;
  bool ok = false;
  while ((active > 0 || files_active > 0) && cq.Next(&tag, &ok)) {
    auto* outstanding = static_cast<Outstanding*>(tag);
    if (outstanding->kind == Outstanding::Kind::kBankFile) {
      std::unique_ptr<BankFile> file(static_cast<BankFile*>(outstanding));
      --files_active;
      if (!ok || !file->status.ok()) {
        fail(file->status, file->lines);
        continue;
      }
      totals.paid += file->imported.settled();
      if (file->imported.settled() != file->lines) {
        fail(grpc::Status(grpc::StatusCode::INTERNAL,
                          file->imported.problems().empty() ? "lines not settled" : file->imported.problems(0)),
             file->lines - file->imported.settled());
      }
      continue;
    }
    Chain& chain = *static_cast<Chain*>(outstanding);
    bool finished = true;
    if (!ok || !chain.status.ok()) {
      fail(chain.status, 1);
    } else if (chain.step == Chain::Step::kSubmit) {
      StartApprove(stub_of(chain), cq, actors, chain);
      finished = false;
    } else if (chain.step == Chain::Step::kApprove && !settlement.by_bank_file) {
      StartSettle(stub_of(chain), cq, actors, chain);
      finished = false;
    } else if (chain.step == Chain::Step::kApprove) {
      approved.push_back(chain.approved.fund_request().payment_id());
    } else {
      ++totals.paid;
    }
    if (finished) {
      if (next < requests) {
        StartSubmit(stub_of(chain), cq, actors, chain, next++);
      } else {
        --active;
      }
    }
    if (!approved.empty() && (int(approved.size()) >= settlement.file_lines || active == 0)) {
      StartBankFile(*stubs[size_t(files_sent) % stubs.size()], cq, actors, files_sent, approved);
      ++files_sent;
      ++files_active;
      approved.clear();
    }
  }
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  return totals;
}

}  // namespace

int main(int argc, char** argv) {
  if (rooted::bench::AnsweredHelp(
          argc, argv,
          R"(usage: fund_bench [--requests=20000] [--threads=16] [--schools=20] [--in_flight=64] [--file_lines=1000] [--channels=4]
  Fund requests submitted, approved and paid beside raw Redis EVAL; checks the ledger afterwards.
)"))
    return 0;
  auto config = rooted::Config::Parse(argc, argv);
  if (!config.ok()) {
    std::cerr << config.status().message() << "\n";
    return 2;
  }
  const int requests = int(*config->Int("requests", 20'000, 100, 10'000'000));
  const int threads = int(*config->Int("threads", 16, 1, 256));
  const int schools = int(*config->Int("schools", 20, 1, 1000));
  const int in_flight = int(*config->Int("in_flight", 64, 1, 4096));
  const int file_lines = int(*config->Int("file_lines", 1000, 1, 100'000));
  const int channels = int(*config->Int("channels", 4, 1, 64));
  const std::string secret(40, 'b');

  rooted::testing::LocalService service("fund-payments", secret);
  rooted::RedisOptions redis_options;
  redis_options.port = service.redis().port();
  rooted::RedisClient redis(redis_options);
  absl::StatusOr<std::unique_ptr<rooted::PipelinedRedis>> started_pipe = rooted::PipelinedRedis::Start(redis_options);
  if (!started_pipe.ok()) {
    std::cerr << started_pipe.status() << "\n";
    return 1;
  }
  rooted::PipelinedRedis& pipe = **started_pipe;
  const rooted::testing::TestTokens tokens(secret);
  const absl::Time now = absl::Now();
  const std::string finance = tokens.Mint("finance-bench", cv1::ROLE_FINANCE_OFFICER,
                                          cv1::ORGANISATION_TYPE_COUNCIL, "801", "801", now);
  const std::string adapter = tokens.Mint("payments-adapter", cv1::ROLE_SERVICE,
                                          cv1::ORGANISATION_TYPE_COUNCIL, "801", "801", now);
  // Schools, the council and the payments adapter each come on their own
  // connections; one shared connection would pass every call through one
  // HTTP/2 transport, a queue of its own.
  std::vector<std::unique_ptr<v1::FundService::Stub>> stubs;
  for (int i = 0; i < channels; ++i) {
    grpc::ChannelArguments args;
    args.SetInt("rooted.channel", i);  // distinct channels, not one shared subchannel
    stubs.push_back(
        v1::FundService::NewStub(grpc::CreateCustomChannel(service.target(), grpc::InsecureChannelCredentials(), args)));
  }
  v1::FundService::Stub* const stub = stubs.front().get();

  // Raw ceiling: EVAL of a script doing a transfer's work (check, two
  // HINCRBYs, two XADDs, a guard) on the same Redis.
  rooted::fund::Ledger raw_ledger(redis, pipe, "raw");
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
  const double raw_pipelined_rate =
      std::make_shared<PipelinedTransfers>(raw_ledger, raw_count, now)->Run(4 * in_flight);

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
  *f->mutable_total_budget() = Gbp(2 * int64_t(requests) * 10'000 + 1'000'000);
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
    *allocate.mutable_allocation()->mutable_amount() = Gbp(int64_t(2 * requests / schools + 1) * 10'000);
    v1::AllocateFundsResponse allocated;
    auto context = rooted::testing::AuthedContext(finance);
    (void)stub->AllocateFunds(context.get(), allocate, &allocated);
    allocations.push_back(allocated.allocation().allocation_id());
  }
  if (!Refer(service.broker().bootstrap(), redis, 2 * requests, schools)) return 1;
  std::vector<std::string> staff, leads;
  for (int s = 0; s < schools; ++s) {
    const std::string urn = std::to_string(100001 + s);
    staff.push_back(tokens.Mint("teacher-" + urn, cv1::ROLE_SCHOOL_STAFF, cv1::ORGANISATION_TYPE_SCHOOL, urn, "801", now));
    leads.push_back(tokens.Mint("head-" + urn, cv1::ROLE_SCHOOL_LEAD, cv1::ORGANISATION_TYPE_SCHOOL, urn, "801", now));
  }

  std::cout << "fund_bench: " << requests << " requests from " << schools << " schools, " << in_flight
            << " in flight, " << std::thread::hardware_concurrency() << " cores\n";
  std::cout << "raw: Redis EVAL of a ledger transfer   " << int64_t(raw_rate) << " transfers/s over " << threads
            << " blocking connections, " << int64_t(raw_pipelined_rate) << "/s over one pipelined connection\n";
  rooted::bench::CpuAccount cpu;
  cpu.Add("fund-payments", service.pid());
  cpu.Add("redis-server", service.redis().pid());
  cpu.Add("rooted-broker", service.broker().pid());
  cpu.Add("this client", getpid());
  cpu.BreakDownByThread(service.pid());
  const Actors actors{fund_id, allocations, staff, leads, adapter, finance};
  bool all_paid = true;
  auto run = [&](const std::string& name, int first, Settlement settlement) {
    cpu.Start();
    const auto start = Clock::now();
    const RunTotals totals = RunChains(stubs, actors, first, requests, in_flight, settlement);
    const double elapsed = Seconds(Clock::now() - start);
    const double rate = double(totals.paid) / elapsed;
    std::cout << std::left << std::setw(44) << name << std::right << std::setw(6) << int64_t(rate)
              << " requests/s (" << totals.paid << " in " << std::setprecision(3) << elapsed << " s, "
              << totals.failed << " failed)\n";
    cpu.Report(std::cout, double(totals.paid), elapsed, "paid request");
    all_paid = all_paid && totals.failed == 0 && totals.paid == requests;
  };
  {
    const int calls = 3 * requests;
    cpu.Start();
    const auto start = Clock::now();
    const int64_t refused = RunRefusals(*stub, leads[0], calls, in_flight);
    const double elapsed = Seconds(Clock::now() - start);
    std::cout << std::left << std::setw(44) << "refused before any I/O (the floor per call)" << std::right
              << std::setw(6) << int64_t(double(refused) / elapsed) << " calls/s\n";
    cpu.Report(std::cout, double(refused), elapsed, "call");
    all_paid = all_paid && refused == calls;
  }
  run("paid by callback (3 RPCs a request)", 0, {});
  run("paid by bank files of " + std::to_string(file_lines) + " (2 RPCs a request)", requests,
      {true, file_lines});
  rooted::fund::Ledger ledger(redis, pipe, "fp");
  const absl::Status invariants = ledger.CheckInvariants();
  std::cout << "ledger invariants after both runs: " << (invariants.ok() ? "intact" : invariants.ToString())
            << "\n";
  return invariants.ok() && all_paid ? 0 : 1;
}
