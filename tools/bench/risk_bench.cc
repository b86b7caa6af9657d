// risk_bench: the signal path end to end (StreamSignals -> rooted.signals.v1
// -> scorer -> Redis) beside raw librdkafka produce+consume of the same bytes
// in the same run, Redis memory per pupil, and ListAtRisk latency.
//
//   risk_bench [--pupils=20000] [--days=10] [--streams=2] [--list-calls=300]
//              [--window=200000]   signals sent ahead of the scorer at most
//              [--probes=100]      band changes timed under a tenth of the load
//
// Starts redis-server, rooted-broker and the risk-scoring binary on free ports.

#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <librdkafka/rdkafkacpp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <iostream>
#include <map>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/auth/jwt.h"
#include "common/base/config.h"
#include "common/base/proto_date.h"
#include "common/redis/redis_client.h"
#include "rooted/risk/v1/risk.grpc.pb.h"
#include "rooted/risk/v1/risk_events.pb.h"
#include "tests/support/local_stack.h"
#include "tools/bench/bench_help.h"
#include "tools/cohort/cohort.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace v1 = rooted::risk::v1;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// GET /metrics and sum one counter's samples whose labels contain `filter`.
double Scrape(int port, absl::string_view name, absl::string_view filter) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(uint16_t(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return -1;
  }
  const std::string request = "GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n";
  (void)!write(fd, request.data(), request.size());
  std::string body;
  char buffer[65536];
  for (ssize_t n; (n = read(fd, buffer, sizeof(buffer))) > 0;) body.append(buffer, size_t(n));
  close(fd);
  double sum = 0;
  for (absl::string_view line : absl::StrSplit(body, '\n')) {
    if (!absl::StartsWith(line, name) || line.find(filter) == absl::string_view::npos) continue;
    double value = 0;
    if (absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &value)) sum += value;
  }
  return sum;
}

// Redis's total.allocated (MEMORY STATS), in bytes.
int64_t AllocatedBytes(rooted::RedisClient& redis) {
  absl::StatusOr<rooted::RedisReply> stats = redis.Command({"MEMORY", "STATS"});
  for (size_t i = 0; stats.ok() && i + 1 < stats->elements.size(); i += 2) {
    if (stats->elements[i].str == "total.allocated") return stats->elements[i + 1].integer;
  }
  return 0;
}

// Raw librdkafka: produce `payloads` to a fresh topic while a consumer reads
// them back, concurrently and at most 60,000 ahead (the mock broker keeps only
// ~5 MB a partition and drops older messages).
// Returns messages per second from first produce to last consume.
double RawKafka(const std::string& bootstrap, const std::vector<std::string>& payloads) {
  std::string error;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  conf->set("bootstrap.servers", bootstrap, error);
  conf->set("linger.ms", "5", error);
  conf->set("enable.idempotence", "true", error);
  conf->set("acks", "all", error);
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), error));
  const std::string topic = "bench.raw." + std::to_string(getpid());
  auto produce = [&](size_t i) {
    const std::string key = "pr_" + std::to_string(i % 20000);
    while (producer->produce(topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                             const_cast<char*>(payloads[i].data()), payloads[i].size(), key.data(),
                             key.size(), 0, nullptr) == RdKafka::ERR__QUEUE_FULL) {
      producer->poll(1);
    }
    producer->poll(0);
  };
  // The first message creates the topic, so its partitions can be assigned.
  produce(0);
  producer->flush(10'000);
  RdKafka::Metadata* metadata = nullptr;
  std::unique_ptr<RdKafka::Topic> handle(
      RdKafka::Topic::create(producer.get(), topic, nullptr, error));
  producer->metadata(false, handle.get(), &metadata, 5000);
  std::vector<RdKafka::TopicPartition*> partitions;
  for (const auto* p : *metadata->topics()->at(0)->partitions()) {
    partitions.push_back(
        RdKafka::TopicPartition::create(topic, p->id(), RdKafka::Topic::OFFSET_BEGINNING));
  }
  delete metadata;
  std::unique_ptr<RdKafka::Conf> cconf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  cconf->set("bootstrap.servers", bootstrap, error);
  cconf->set("group.id", "raw-bench", error);
  cconf->set("enable.auto.commit", "false", error);
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(
      RdKafka::KafkaConsumer::create(cconf.get(), error));
  consumer->assign(partitions);

  const auto start = Clock::now();
  std::atomic<size_t> received{0};
  std::thread reader([&] {
    while (received.load() < payloads.size() && Seconds(Clock::now() - start) < 300) {
      std::unique_ptr<RdKafka::Message> m(consumer->consume(100));
      if (m->err() == RdKafka::ERR_NO_ERROR) ++received;
    }
  });
  // Keep at most 60,000 messages in flight, well inside the broker's retention.
  for (size_t i = 1; i < payloads.size(); ++i) {
    while (i > received.load() + 60'000) producer->poll(0);
    produce(i);
  }
  producer->flush(60'000);
  reader.join();
  const double elapsed = Seconds(Clock::now() - start);
  RdKafka::TopicPartition::destroy(partitions);
  consumer->close();
  if (received.load() < payloads.size()) {
    std::cerr << "raw: only " << received.load() << " of " << payloads.size() << " came back\n";
  }
  return double(received.load()) / elapsed;
}

}  // namespace

int main(int argc, char** argv) {
  if (rooted::bench::AnsweredHelp(
          argc, argv,
          R"(usage: risk_bench [--pupils=20000] [--days=10] [--streams=2] [--list-calls=300] [--window=200000] [--probes=100]
  StreamSignals to scored profiles beside raw librdkafka, ListAtRisk latency, band-change delay.
)"))
    return 0;
  auto config = rooted::Config::Parse(argc, argv);
  if (!config.ok()) {
    std::cerr << config.status().message() << "\n";
    return 2;
  }
  const int pupils = int(*config->Int("pupils", 20000, 100, 2'000'000));
  const int days = int(*config->Int("days", 10, 1, 195));
  const int streams = int(*config->Int("streams", 2, 1, 64));
  const int list_calls = int(*config->Int("list-calls", 300, 10, 100'000));
  const std::string secret(40, 'b');

  // The signals first, so generating them is not timed.
  rooted::cohort::Cohort council(
      {.la_code = "801", .schools = std::max(1, pupils / 500), .pupils = pupils, .seed = 11});
  const absl::CivilDay last_day = council.SchoolDays()[size_t(days - 1)];
  std::vector<v1::StreamSignalsRequest> batches(1);
  int64_t signal_count = 0, mark_count = 0;
  std::map<std::string, std::string> school_of;  // UPN -> URN, from the marks
  council.Generate([&](v1::Signal&& s) {
    const std::optional<absl::CivilDay> day = rooted::cohort::SignalDay(s);
    if (day && *day > last_day) return false;
    if (s.has_attendance()) {
      ++mark_count;
      school_of.emplace(s.attendance().upn(), s.attendance().school_urn());
    }
    if (batches.back().signals_size() == 2000) batches.emplace_back();
    *batches.back().add_signals() = std::move(s);
    ++signal_count;
    return true;
  });

  rooted::testing::RedisServer redis_server;
  rooted::testing::Broker broker;
  rooted::testing::ServiceProcess service(
      rooted::testing::BinaryDir() + "/services/risk-scoring/risk-scoring",
      {"--redis-port=" + std::to_string(redis_server.port()),
       "--kafka-bootstrap=" + broker.bootstrap(), "--token-secret=" + secret,
       "--pupil-ref-secret=" + secret, "--la-code=801", "--log-level=warn"});
  const int port = service.grpc_port();
  const int metrics_port = service.metrics_port();
  rooted::RedisOptions redis_options;
  redis_options.port = redis_server.port();
  rooted::RedisClient redis(redis_options);

  auto signer = *rooted::JwtSigner::Create(rooted::JwtAlgorithm::kHs256, secret);
  rooted::TokenRequest token;
  token.principal = {"bench",
                     {rooted::common::v1::ROLE_SERVICE},
                     rooted::common::v1::ORGANISATION_TYPE_COUNCIL,
                     "801",
                     "801"};
  token.issuer = "rooted-local";
  token.audience = "rooted";
  token.issued_at = absl::Now();
  const std::string loader = "Bearer " + *signer->Sign(token);
  token.principal.roles = {rooted::common::v1::ROLE_COUNCIL_OFFICER};
  const std::string officer = "Bearer " + *signer->Sign(token);
  auto channel =
      grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials());
  auto stub = v1::RiskScoringService::NewStub(channel);
  for (int i = 0; i < 200; ++i) {
    grpc::ClientContext context;
    v1::GetModelConfigResponse r;
    if (stub->GetModelConfig(&context, {}, &r).error_code() != grpc::UNAVAILABLE) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const int64_t memory_before = AllocatedBytes(redis);

  // Raw ceiling: the same number of SignalEvent-sized payloads.
  std::vector<std::string> raw_payloads;
  raw_payloads.reserve(size_t(signal_count));
  for (const auto& batch : batches) {
    for (const auto& s : batch.signals()) {
      v1::SignalEvent event;
      event.mutable_metadata()->set_event_id("00000000-0000-4000-8000-000000000000");
      event.mutable_metadata()->set_event_type("rooted.risk.v1.SignalEvent");
      event.mutable_pupil_ref()->set_value("pr_0123456789abcdef0123456789abcdef");
      *event.mutable_signal() = s;
      raw_payloads.push_back(event.SerializeAsString());
    }
  }
  std::cout << "risk_bench: " << pupils << " pupils, " << days << " school days, " << signal_count
            << " signals (" << mark_count << " marks), " << streams << " streams, "
            << std::thread::hardware_concurrency() << " cores\n";
  const double raw_rate = RawKafka(broker.bootstrap(), raw_payloads);
  raw_payloads.clear();
  std::cout << "raw librdkafka produce+consume    " << int64_t(raw_rate) << " msgs/s\n";

  // End to end: from the first signal sent until the scorer has applied all.
  // Senders stay at most `window` signals ahead of the scorer: the sustained
  // rate is the figure, and the mock broker, which keeps ~5 MB a partition,
  // never has to drop what a lagging scorer has not read.
  const int64_t window = *config->Int("window", 200'000, 10'000, 10'000'000);
  std::atomic<double> consumed{0};
  std::atomic<int64_t> sent{0};
  std::atomic<bool> sending{true};
  std::thread monitor([&] {
    while (sending.load()) {
      consumed = Scrape(metrics_port, "rooted_events_consumed_total", "rooted.signals.v1");
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  const auto start = Clock::now();
  std::vector<std::thread> senders;
  std::atomic<int64_t> accepted{0};
  for (int s = 0; s < streams; ++s) {
    senders.emplace_back([&, s] {
      grpc::ClientContext context;
      context.AddMetadata("authorization", loader);
      v1::StreamSignalsResponse response;
      auto writer = stub->StreamSignals(&context, &response);
      for (size_t b = size_t(s); b < batches.size(); b += size_t(streams)) {
        while (double(sent.load()) - consumed.load() > double(window)) {
          std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
        if (!writer->Write(batches[b])) break;
        sent += batches[b].signals_size();
      }
      writer->WritesDone();
      grpc::Status status = writer->Finish();
      if (!status.ok()) std::cerr << "StreamSignals: " << status.error_message() << "\n";
      accepted += response.accepted();
    });
  }
  for (auto& t : senders) t.join();
  const double sent_at = Seconds(Clock::now() - start);
  // Done when all are applied; stalled (something lost) if nothing moves for 10 s.
  double last = -1;
  auto last_move = Clock::now();
  while (consumed.load() < double(accepted.load())) {
    if (consumed.load() != last) {
      last = consumed.load();
      last_move = Clock::now();
    } else if (Seconds(Clock::now() - last_move) > 10) {
      std::cerr << "stalled: " << int64_t(last) << " of " << accepted.load() << " applied\n";
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  sending = false;
  monitor.join();
  const double elapsed = Seconds(Clock::now() - start);
  const double rate = double(accepted.load()) / elapsed;
  std::cout << "StreamSignals -> topic -> scorer   " << int64_t(rate) << " signals/s end to end ("
            << accepted.load() << " accepted, RPCs done in " << sent_at << " s, all applied in "
            << elapsed << " s)   " << int(100 * rate / raw_rate) << "% of raw\n";

  const int64_t memory_after = AllocatedBytes(redis);
  const int64_t stored = redis.Command({"DBSIZE"})->integer;
  std::cout << "Redis memory                      " << (memory_after - memory_before) / pupils
            << " bytes per pupil (" << stored << " keys, " << days << " days of marks)\n";

  // ListAtRisk: the council's whole list, first pages, closed loop.
  std::vector<double> latencies;
  for (int i = 0; i < list_calls; ++i) {
    grpc::ClientContext context;
    context.AddMetadata("authorization", officer);
    v1::ListAtRiskRequest request;
    request.set_minimum_band(rooted::common::v1::RISK_BAND_MEDIUM);
    request.set_include_cliff_edge(true);
    request.mutable_page()->set_page_size(50);
    v1::ListAtRiskResponse response;
    const auto t0 = Clock::now();
    grpc::Status status = stub->ListAtRisk(&context, request, &response);
    latencies.push_back(Seconds(Clock::now() - t0) * 1000);
    if (!status.ok()) {
      std::cerr << "ListAtRisk: " << status.error_message() << "\n";
      break;
    }
  }
  std::sort(latencies.begin(), latencies.end());
  const int64_t ranked = redis.Command({"ZCARD", "rs:rank:all"})->integer;
  std::cout << "ListAtRisk (council, 50 a page)   p50 " << latencies[latencies.size() / 2]
            << " ms   p99 " << latencies[latencies.size() * 99 / 100] << " ms   (" << ranked
            << " pupils ranked of " << pupils << ")\n";

  // Band change latency: while the registers are replayed at a tenth of the
  // end-to-end rate, low-band pupils are excluded one at a time (+40 points,
  // so low -> high) and GetRiskProfile is polled from the moment the
  // exclusion is sent until it shows the new band.
  const int probes = int(*config->Int("probes", 100, 0, 10'000));
  std::atomic<bool> loading{true};
  std::thread background([&] {
    grpc::ClientContext context;
    context.AddMetadata("authorization", loader);
    v1::StreamSignalsResponse response;
    auto writer = stub->StreamSignals(&context, &response);
    const double paced_rate = rate / 10;
    const auto t0 = Clock::now();
    int64_t written = 0;
    for (size_t b = 0; loading.load(); b = (b + 1) % batches.size()) {
      const double due = double(written) / paced_rate;
      const double now = Seconds(Clock::now() - t0);
      if (due > now) std::this_thread::sleep_for(std::chrono::duration<double>(due - now));
      if (!writer->Write(batches[b])) break;
      written += batches[b].signals_size();
    }
    writer->WritesDone();
    (void)writer->Finish();
  });
  std::vector<double> band_latencies;
  for (auto it = school_of.begin(); it != school_of.end() && int(band_latencies.size()) < probes;
       ++it) {
    auto band_of = [&]() -> std::optional<rooted::common::v1::RiskBand> {
      grpc::ClientContext context;
      context.AddMetadata("authorization", officer);
      v1::GetRiskProfileRequest request;
      request.set_upn(it->first);
      v1::GetRiskProfileResponse response;
      if (!stub->GetRiskProfile(&context, request, &response).ok()) return std::nullopt;
      return response.profile().band();
    };
    if (band_of() != rooted::common::v1::RISK_BAND_LOW) continue;
    v1::StreamSignalsRequest exclusion;
    v1::Signal* signal = exclusion.add_signals();
    signal->set_signal_id("bench-exclusion-" + it->first);
    v1::PermanentExclusion* e = signal->mutable_exclusion();
    e->set_upn(it->first);
    e->set_school_urn(it->second);
    *e->mutable_date() = rooted::ToProtoDate(last_day);
    const auto t0 = Clock::now();
    {
      grpc::ClientContext context;
      context.AddMetadata("authorization", loader);
      v1::StreamSignalsResponse response;
      auto writer = stub->StreamSignals(&context, &response);
      writer->Write(exclusion);
      writer->WritesDone();
      grpc::Status status = writer->Finish();
      if (!status.ok() || response.accepted() != 1) {
        std::cerr << "exclusion not accepted: " << status.error_message() << " "
                  << response.ShortDebugString() << "\n";
        break;
      }
    }
    while (band_of() == rooted::common::v1::RISK_BAND_LOW && Seconds(Clock::now() - t0) < 30) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    band_latencies.push_back(Seconds(Clock::now() - t0) * 1000);
  }
  loading = false;
  background.join();
  if (!band_latencies.empty()) {
    std::sort(band_latencies.begin(), band_latencies.end());
    std::cout << "band change seen (at " << int64_t(rate / 10) << " signals/s)  p50 "
              << band_latencies[band_latencies.size() / 2] << " ms   p99 "
              << band_latencies[band_latencies.size() * 99 / 100] << " ms   max "
              << band_latencies.back() << " ms   (" << band_latencies.size() << " pupils)\n";
  }
  return 0;
}
