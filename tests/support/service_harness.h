#ifndef ROOTED_TESTS_SUPPORT_SERVICE_HARNESS_H_
#define ROOTED_TESTS_SUPPORT_SERVICE_HARNESS_H_

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "common/auth/jwt.h"
#include "common/base/clock.h"
#include "common/base/log.h"
#include "common/base/metrics.h"
#include "common/kafka/event_consumer.h"
#include "common/kafka/kafka_producer.h"
#include "common/outbox/outbox.h"
#include "common/redis/pipelined_redis.h"
#include "common/redis/redis_client.h"
#include "common/server/guarded_service.h"
#include "common/server/rpc_guard.h"
#include "tests/support/auth.h"
#include "tests/support/local_stack.h"
#include "tests/support/redis_fault_proxy.h"

namespace rooted::testing {

inline const std::string kTestTokenSecret(40, 't');

// What an in-process service test stands on: a real redis-server and the
// local broker on free ports, a clock the test moves, and the runtime pieces
// a service's main() would build (logger, metrics, verifier, producer, guard).
// With `faulty_redis`, the service reaches Redis through a RedisFaultProxy
// the test can turn to Redis's error replies (fault_proxy).
struct ServiceHarness {
  ServiceHarness(const std::string& service, absl::Time start, bool faulty_redis = false)
      : fault_proxy(faulty_redis ? std::make_unique<RedisFaultProxy>(redis_server.port())
                                 : nullptr),
        clock(start),
        tokens(kTestTokenSecret),
        redis(std::make_unique<RedisClient>([&] {
          RedisOptions options;
          options.port = fault_proxy != nullptr ? fault_proxy->port() : redis_server.port();
          return options;
        }())),
        redis_pipe(*PipelinedRedis::Start(redis->options())),
        logger(std::make_unique<Logger>(service, log, LogLevel::kInfo, clock)),
        metrics(std::make_unique<Metrics>(std::make_shared<prometheus::Registry>(), service)),
        verifier(*JwtVerifier::Create(
            {JwtAlgorithm::kHs256, kTestTokenSecret, "rooted-local", "rooted"}, clock)),
        producer(*KafkaProducer::Create({broker.bootstrap(), service + "-test", {}})),
        guard(std::make_unique<RpcGuard>(*verifier, *metrics, *logger)),
        schools(*SchoolRegister::Load(TestSchoolRegister())),
        service_name(service) {}

  // The relay of the outbox under `key_prefix`.
  std::unique_ptr<OutboxRelay> Relay(const std::string& key_prefix) {
    return std::make_unique<OutboxRelay>(*redis, *producer,
                                         OutboxRelayOptions{.stream_key = key_prefix + ":outbox",
                                                            .lease_key = key_prefix + ":outbox:lease",
                                                            .producer_name = service_name},
                                         *metrics, *logger);
  }

  // What a GuardedService of this service stands on, its audit trail under
  // "<key_prefix>:audit".
  GuardedService::Options ServiceOptions(const std::string& key_prefix,
                                         const RecordOwners* owners = nullptr) {
    audits.push_back(std::make_unique<RedisAuditTrail>(*redis_pipe, key_prefix + ":audit"));
    return {.guard = guard.get(),
            .clock = &clock,
            .audit = audits.back().get(),
            .owners = owners,
            .sharing_agreement = "local-pilot",
            .schools = &schools};
  }

  // A consumer group member that rebalances quickly enough for tests.
  EventConsumerOptions ConsumerOptions(std::string group, std::vector<std::string> topics) const {
    EventConsumerOptions options;
    options.bootstrap_servers = broker.bootstrap();
    options.group_id = std::move(group);
    options.topics = std::move(topics);
    options.overrides = {{"session.timeout.ms", "6000"}, {"heartbeat.interval.ms", "500"}};
    return options;
  }

  RedisServer redis_server;
  Broker broker;
  std::unique_ptr<RedisFaultProxy> fault_proxy;
  FakeClock clock;
  std::ostringstream log;
  TestTokens tokens;
  std::unique_ptr<RedisClient> redis;
  std::unique_ptr<PipelinedRedis> redis_pipe;
  std::unique_ptr<Logger> logger;
  std::unique_ptr<Metrics> metrics;
  std::unique_ptr<JwtVerifier> verifier;
  std::unique_ptr<KafkaProducer> producer;
  std::unique_ptr<RpcGuard> guard;
  // The test register: which council each test school is in.
  const SchoolRegister schools;
  std::vector<std::unique_ptr<RedisAuditTrail>> audits;
  const std::string service_name;
};

// `impl`'s RPCs on the shared RPC path, as main() binds them; the test fails
// when a method lacks its handler or rule.
template <typename Impl>
std::unique_ptr<GuardedService> Guarded(const std::string& service, Impl& impl,
                                        GuardedService::Options options) {
  auto api = std::make_unique<GuardedService>(service, std::move(options));
  impl.Bind(*api);
  const absl::Status complete = api->Complete();
  EXPECT_TRUE(complete.ok()) << complete;
  return api;
}

// A test suite sharing one stack across its tests: starting a broker and
// joining a consumer group take seconds, so once per suite. Tests keep to
// their own records (schools, pupils, ids) so they do not see each other's.
template <typename Stack>
class SharedStackTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { stack_ = new Stack(); }
  static void TearDownTestSuite() {
    delete stack_;
    stack_ = nullptr;
  }
  static inline Stack* stack_ = nullptr;
};

// A service binary on free loopback ports with a redis-server and local
// broker of its own, the way benchmarks drive it.
class LocalService {
 public:
  LocalService(const std::string& name, const std::string& token_secret,
               const std::vector<std::string>& extra_flags = {})
      : process_(std::make_unique<ServiceProcess>(BinaryDir() + "/services/" + name + "/" + name,
                                                  Flags(token_secret, extra_flags))) {}

  std::string target() const { return "127.0.0.1:" + std::to_string(process_->grpc_port()); }
  int metrics_port() const { return process_->metrics_port(); }
  pid_t pid() const { return process_->pid(); }
  const RedisServer& redis() const { return redis_; }
  const Broker& broker() const { return broker_; }

 private:
  std::vector<std::string> Flags(const std::string& token_secret,
                                 const std::vector<std::string>& extra) const {
    std::vector<std::string> flags = {"--redis-port=" + std::to_string(redis_.port()),
                                      "--kafka-bootstrap=" + broker_.bootstrap(),
                                      "--token-secret=" + token_secret, "--log-level=warn"};
    flags.insert(flags.end(), extra.begin(), extra.end());
    return flags;
  }

  RedisServer redis_;
  Broker broker_;
  std::unique_ptr<ServiceProcess> process_;
};

// Polls until `condition` holds or `timeout` passes.
template <typename F>
bool Eventually(F condition, absl::Duration timeout = absl::Seconds(30)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (condition()) return true;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return false;
}

// The envelopes on `topic` keyed `key`, once `expected` have arrived (or 20 s
// pass) and a quiet spell shows no extra copies.
template <typename Envelope>
std::vector<Envelope> ReadEvents(const std::string& bootstrap, absl::string_view topic,
                                 const std::string& key, size_t expected) {
  std::vector<Envelope> events;
  for (const ReadMessage& m : ReadTopic(bootstrap, std::string(topic), expected, absl::Seconds(20),
                                        [&](const ReadMessage& candidate) { return candidate.key == key; })) {
    events.emplace_back().ParseFromString(m.payload);
  }
  return events;
}

}  // namespace rooted::testing

#endif  // ROOTED_TESTS_SUPPORT_SERVICE_HARNESS_H_
