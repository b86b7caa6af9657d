// referral_bench: SubmitReferral throughput and latency over loopback, beside
// a bare gRPC echo measured in the same run on the same machine.
//
//   referral_bench [--seconds=10] [--rate=5000] [--concurrency=64] [--channels=4] [--rounds=5]
//
// Starts redis-server, rooted-broker and the referral-intake binary on free
// ports. Closed-loop runs find each ceiling; an open-loop run at a fixed
// arrival rate measures latency from each call's intended send time, so a
// slow server cannot hide its queueing. The echo and SubmitReferral closed
// loops take turns in `rounds` short slices, so a shared machine's changes of
// speed fall on both alike; each round's ratio is printed with their median.
//
// The echo server runs in a process of its own, as referral-intake does, so
// both are measured across processes. (Served from the client's own process,
// gRPC's pollers there would read requests and answer them in one place: a
// figure no server in another process can reach.)

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <iomanip>
#include <iostream>
#include <thread>

#include "absl/strings/str_format.h"
#include "common/auth/jwt.h"
#include "common/base/config.h"
#include "common/base/mutex_mode.h"
#include "common/identity/upn.h"
#include "common/server/service_runtime.h"
#include "rooted/bench/v1/echo.grpc.pb.h"
#include "rooted/referral/v1/referral.grpc.pb.h"
#include "tests/referral-intake/referral_fixtures.h"
#include "tests/support/local_stack.h"
#include "tools/bench/bench_help.h"
#include "tools/bench/cpu_account.h"
#include "tools/bench/latency.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace rv1 = rooted::referral::v1;
namespace bv1 = rooted::bench::v1;

class EchoServiceImpl final : public bv1::EchoService::Service {
  grpc::Status Echo(grpc::ServerContext*, const bv1::EchoRequest* request,
                    bv1::EchoResponse* response) override {
    response->set_payload(request->payload());
    return grpc::Status::OK;
  }
};

// The echo server's process, started as a service is (ServiceProcess): it
// binds `address` (port 0: any free one), writes the port it bound to
// `port_file` and serves until SIGTERM.
int ServeEcho(const std::string& address, const std::string& port_file) {
  EchoServiceImpl echo_service;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&echo_service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::cerr << "referral_bench: cannot serve the echo on " << address << "\n";
    return 2;
  }
  if (absl::Status written = rooted::WritePortFile(port_file, port, 0); !written.ok()) {
    std::cerr << "referral_bench: " << written.message() << "\n";
    return 2;
  }
  server->Wait();
  return 0;
}

constexpr double kSlowMs = 20;

struct Result {
  double seconds = 0;
  int64_t ok = 0;
  int64_t failed = 0;
  std::vector<double> latencies_ms;
  // When each call slower than kSlowMs was meant to start, in ms from the
  // run's start: slow calls bunched together mean a pause, spread out a
  // queue.
  std::vector<double> slow_started_ms;
  std::string first_error;

  double Rate() const { return seconds > 0 ? double(ok) / seconds : 0; }
  void Add(Result&& other) {
    seconds += other.seconds;
    ok += other.ok;
    failed += other.failed;
    latencies_ms.insert(latencies_ms.end(), other.latencies_ms.begin(), other.latencies_ms.end());
    if (first_error.empty()) first_error = std::move(other.first_error);
  }
  double Percentile(double p) {
    if (latencies_ms.empty()) return 0;
    std::sort(latencies_ms.begin(), latencies_ms.end());
    return latencies_ms[std::min(latencies_ms.size() - 1, size_t(p * double(latencies_ms.size())))];
  }
};

// Issues one async call on `cq` tagged with `tag`; the driver owns pacing.
using Issue = std::function<void(int64_t seq, grpc::CompletionQueue* cq, void* tag)>;

struct Call {
  Clock::time_point intended;
  grpc::ClientContext context;
  grpc::Status status;
  std::unique_ptr<google::protobuf::Message> response;
  std::function<void()> start;
};

// Runs calls for `duration`: closed loop with `concurrency` in flight when
// rate == 0, otherwise open loop at `rate` calls a second.
template <typename MakeCall>
Result Drive(MakeCall make_call, double rate, int concurrency, Clock::duration duration) {
  grpc::CompletionQueue cq;
  Result result;
  std::atomic<int64_t> in_flight{0};
  std::atomic<bool> issuing{true};
  int64_t seq = 0;
  const Clock::time_point start = Clock::now();
  const Clock::time_point end = start + duration;
  auto launch = [&](Clock::time_point intended) {
    Call* call = make_call(seq++, &cq);
    call->intended = intended;
    ++in_flight;
    call->start();
  };
  // Closed loop: each call that ends starts the next, from the thread that
  // saw it end. (Polling a counter from another thread woke it tens of
  // thousands of times a second, a cost charged to the slower service most.)
  const bool closed = rate <= 0;
  if (closed) {
    for (int i = 0; i < concurrency; ++i) launch(start);
  }
  std::thread reaper([&] {
    void* tag;
    bool ok;
    while (cq.Next(&tag, &ok)) {
      auto* call = static_cast<Call*>(tag);
      const double ms =
          std::chrono::duration<double, std::milli>(Clock::now() - call->intended).count();
      if (call->status.ok()) {
        ++result.ok;
        result.latencies_ms.push_back(ms);
        if (ms > kSlowMs) {
          result.slow_started_ms.push_back(
              std::chrono::duration<double, std::milli>(call->intended - start).count());
        }
      } else {
        ++result.failed;
        if (result.first_error.empty()) result.first_error = call->status.error_message();
      }
      delete call;
      --in_flight;
      if (closed && issuing.load()) {
        const Clock::time_point now = Clock::now();
        if (now < end) {
          launch(now);
          continue;
        }
      }
      if (!issuing.load() && in_flight.load() == 0) break;
    }
  });
  if (closed) {
    std::this_thread::sleep_until(end);
  } else {
    const auto interval = std::chrono::duration<double>(1.0 / rate);
    int64_t n = 0;
    while (true) {
      const Clock::time_point intended =
          start + std::chrono::duration_cast<Clock::duration>(interval * double(n));
      if (intended >= end) break;
      std::this_thread::sleep_until(intended);
      launch(intended);
      ++n;
    }
  }
  issuing.store(false);
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (in_flight.load() == 0) cq.Shutdown();
  reaper.join();
  cq.Shutdown();
  void* tag;
  bool ok;
  while (cq.Next(&tag, &ok)) {
  }
  return result;
}

void Print(const std::string& name, Result r, double ceiling) {
  std::cout << std::left << std::setw(34) << name << std::right << std::fixed
            << std::setprecision(0) << std::setw(9) << r.Rate() << " /s" << std::setprecision(2)
            << "   p50 " << std::setw(7) << r.Percentile(0.50) << " ms   p99 " << std::setw(7)
            << r.Percentile(0.99) << " ms";
  if (ceiling > 0)
    std::cout << "   " << std::setprecision(0) << 100 * r.Rate() / ceiling << "% of echo";
  if (r.failed > 0) std::cout << "   failed " << r.failed << " (" << r.first_error << ")";
  std::cout << std::endl;
}

// How many calls were slow, and over how many 100 ms windows they spread.
void PrintSlowCalls(const Result& r, const rooted::bench::PauseWatch& watch) {
  std::vector<int64_t> windows;
  for (double at : r.slow_started_ms) windows.push_back(int64_t(at / 100));
  std::sort(windows.begin(), windows.end());
  windows.erase(std::unique(windows.begin(), windows.end()), windows.end());
  std::cout << std::fixed << std::setprecision(2) << "  calls over " << int(kSlowMs)
            << " ms: " << r.slow_started_ms.size() << " ("
            << 100.0 * double(r.slow_started_ms.size()) / double(std::max<int64_t>(1, r.ok))
            << "%), started within " << windows.size()
            << " windows of 100 ms; a 1 ms sleeper overslept by up to " << std::setprecision(1)
            << watch.longest_ms() << " ms (" << watch.long_pauses() << " times over 10 ms)\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (rooted::bench::AnsweredHelp(
          argc, argv,
          R"(usage: referral_bench [--seconds=10] [--rounds=5] [--concurrency=64] [--channels=4] [--rate=5000]
  SubmitReferral closed and open loop beside a bare gRPC echo measured in the same run.
)"))
    return 0;
  // As every service does (ServiceMain), and so the echo server too.
  rooted::UseMutexesWithoutDeadlockGraph();
  auto config = rooted::Config::Parse(argc, argv);
  if (!config.ok()) {
    std::cerr << config.status().message() << "\n";
    return 2;
  }
  if (config->Bool("serve-echo", false).value_or(false)) {
    (void)config->String("metrics-address", "");  // an echo has no metrics
    return ServeEcho(config->String("grpc-address", "127.0.0.1:0"),
                     config->String("port-file", ""));
  }
  const auto seconds = std::chrono::seconds(*config->Int("seconds", 10, 1, 600));
  const double rate = double(*config->Int("rate", 5000, 1, 1'000'000));
  const int concurrency = int(*config->Int("concurrency", 64, 1, 10'000));
  const int channels = int(*config->Int("channels", 4, 1, 64));
  const int rounds = int(*config->Int("rounds", 5, 1, 100));
  const std::string secret(40, 'b');

  rooted::testing::RedisServer redis;
  rooted::testing::Broker broker;
  rooted::testing::ServiceProcess service(
      rooted::testing::BinaryDir() + "/services/referral-intake/referral-intake",
      {"--redis-port=" + std::to_string(redis.port()), "--kafka-bootstrap=" + broker.bootstrap(),
       "--token-secret=" + secret, "--pupil-ref-secret=" + secret, "--log-level=warn"});
  const int port = service.grpc_port();

  rooted::testing::ServiceProcess echo_server("/proc/self/exe", {"--serve-echo=true"});
  const int echo_port = echo_server.grpc_port();

  auto signer = *rooted::JwtSigner::Create(rooted::JwtAlgorithm::kHs256, secret);
  rooted::TokenRequest token_request;
  token_request.principal = {"bench",
                             {rooted::common::v1::ROLE_SCHOOL_STAFF},
                             rooted::common::v1::ORGANISATION_TYPE_SCHOOL,
                             "100001",
                             "801"};
  token_request.issuer = "rooted-local";
  token_request.audience = "rooted";
  token_request.issued_at = absl::Now();
  const std::string bearer = "Bearer " + *signer->Sign(token_request);

  std::vector<std::unique_ptr<rv1::ReferralService::Stub>> referral_stubs;
  std::vector<std::unique_ptr<bv1::EchoService::Stub>> echo_stubs;
  for (int i = 0; i < channels; ++i) {
    grpc::ChannelArguments args;
    args.SetInt("rooted.channel", i);  // distinct channels, not one shared subchannel
    referral_stubs.push_back(rv1::ReferralService::NewStub(grpc::CreateCustomChannel(
        "127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials(), args)));
    echo_stubs.push_back(bv1::EchoService::NewStub(grpc::CreateCustomChannel(
        "127.0.0.1:" + std::to_string(echo_port), grpc::InsecureChannelCredentials(), args)));
  }
  // Wait (up to 10 s each) for both servers to be up: a call that is not
  // UNAVAILABLE reached one (an unauthenticated one answers at once).
  auto wait_until_up = [](auto call) {
    for (int i = 0; i < 200; ++i) {
      grpc::ClientContext context;
      if (call(&context).error_code() != grpc::UNAVAILABLE) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  };
  wait_until_up([&](grpc::ClientContext* context) {
    rv1::GetReferralResponse r;
    return referral_stubs[0]->GetReferral(context, {}, &r);
  });
  wait_until_up([&](grpc::ClientContext* context) {
    bv1::EchoResponse r;
    return echo_stubs[0]->Echo(context, {}, &r);
  });

  const rv1::ReferralDetails details = rooted::referral::testing::GoodDetails("100001");
  bv1::EchoRequest echo_request;
  echo_request.set_payload(std::string(size_t(details.ByteSizeLong()), 'x'));
  const std::string run_id = std::to_string(getpid());

  auto echo_call = [&](int64_t seq, grpc::CompletionQueue* cq) {
    auto* call = new Call;
    auto* response = new bv1::EchoResponse;
    call->response.reset(response);
    call->start = [call, response, cq, seq, &echo_stubs, &echo_request] {
      auto reader =
          echo_stubs[size_t(seq) % echo_stubs.size()]->AsyncEcho(&call->context, echo_request, cq);
      reader->Finish(response, &call->status, call);
    };
    return call;
  };
  auto referral_call = [&](int64_t seq, grpc::CompletionQueue* cq) {
    auto* call = new Call;
    auto* response = new rv1::SubmitReferralResponse;
    call->response.reset(response);
    call->context.AddMetadata("authorization", bearer);
    call->start = [call, response, cq, seq, &details, &run_id, &referral_stubs] {
      // gRPC serialises the request while starting the call, so one request
      // per thread serves every call, as the echo's one request does: only
      // its id and the child's UPN change, and the client spends nothing
      // copying the form.
      thread_local rv1::SubmitReferralRequest request = [&] {
        rv1::SubmitReferralRequest r;
        *r.mutable_details() = details;
        return r;
      }();
      request.set_request_id("bench-" + run_id + "-" + std::to_string(seq) + "-" +
                             std::to_string(rand()));
      // A child of its own for each call, as a council's referrals mostly
      // are: one pupil with every referral would make that pupil's set of
      // cases, and the partition its events go to, unlike any real load.
      std::string upn = absl::StrFormat(" 801%09d", seq % 1'000'000'000);
      upn[0] = rooted::UpnCheckLetter(upn);
      request.mutable_details()->mutable_child()->set_upn(std::move(upn));
      auto reader = referral_stubs[size_t(seq) % referral_stubs.size()]->AsyncSubmitReferral(
          &call->context, request, cq);
      reader->Finish(response, &call->status, call);
    };
    return call;
  };

  std::cout << "referral_bench: " << seconds.count() << " s a run (closed loops in " << rounds
            << " turns), " << channels << " channels, "
            << std::thread::hardware_concurrency() << " cores, everything on this machine\n";
  // One account for the echo (and the open loop), one for the closed
  // SubmitReferral loop: their rounds alternate.
  auto every_process = [&] {
    rooted::bench::CpuAccount account;
    account.Add("referral-intake", service.pid());
    account.Add("redis-server", redis.pid());
    account.Add("rooted-broker", broker.pid());
    account.Add("echo server", echo_server.pid());
    account.Add("this client", getpid());
    return account;
  };
  rooted::bench::CpuAccount cpu = every_process();
  rooted::bench::CpuAccount referral_cpu = every_process();
  referral_cpu.BreakDownByThread(service.pid());
  cpu.Start();
  cpu.Pause();
  referral_cpu.Start();
  referral_cpu.Pause();
  const Clock::duration slice = std::chrono::duration_cast<Clock::duration>(seconds) / rounds;
  Result echo;
  Result closed;
  std::vector<double> ratios;
  for (int round = 0; round < rounds; ++round) {
    cpu.Resume();
    Result echo_round = Drive(echo_call, 0, concurrency, slice);
    cpu.Pause();
    referral_cpu.Resume();
    Result closed_round = Drive(referral_call, 0, concurrency, slice);
    referral_cpu.Pause();
    if (echo_round.Rate() > 0) ratios.push_back(closed_round.Rate() / echo_round.Rate());
    echo.Add(std::move(echo_round));
    closed.Add(std::move(closed_round));
  }
  Print("bare gRPC echo (closed, " + std::to_string(concurrency) + " in flight)", echo, 0);
  cpu.Report(std::cout, double(echo.ok), echo.seconds, "echo");
  Print("SubmitReferral (closed, " + std::to_string(concurrency) + " in flight)", closed,
        echo.Rate());
  referral_cpu.Report(std::cout, double(closed.ok), closed.seconds, "referral");
  if (!ratios.empty()) {
    std::cout << "  SubmitReferral / echo, round by round:";
    for (double ratio : ratios) std::cout << " " << std::fixed << std::setprecision(0) << 100 * ratio << "%";
    std::sort(ratios.begin(), ratios.end());
    const size_t mid = ratios.size() / 2;
    const double median = ratios.size() % 2 == 1 ? ratios[mid] : (ratios[mid - 1] + ratios[mid]) / 2;
    std::cout << "  (median " << 100 * median << "%)\n";
  }
  cpu.Start();
  rooted::bench::PauseWatch pauses;
  Result open = Drive(referral_call, rate, concurrency, seconds);
  pauses.Stop();
  Print("SubmitReferral (open, " + std::to_string(int(rate)) + "/s offered)", open, echo.Rate());
  cpu.Report(std::cout, double(open.ok), open.seconds, "referral");
  PrintSlowCalls(open, pauses);
  // A run whose calls failed measured something else: say so in the exit code
  // (the smoke test in tests/ relies on it).
  return echo.failed + closed.failed + open.failed == 0 ? 0 : 1;
}
