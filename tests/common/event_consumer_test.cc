#include "common/kafka/event_consumer.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/kafka/kafka_producer.h"
#include "common/redis/atomic_write.h"
#include "tests/support/local_stack.h"
#include "tests/support/metric_totals.h"

namespace rooted {
namespace {

// Applies "payload" by appending it to a Redis list, once per event id.
// Payloads starting with "poison" always fail.
class ListAppender final : public EventHandler {
 public:
  explicit ListAppender(RedisClient& redis) : redis_(redis) {}
  absl::StatusOr<ApplyResult> Apply(const ConsumedEvent& event) override {
    ++calls;
    if (event.payload.rfind("poison", 0) == 0)
      return absl::InvalidArgumentError("payload: cannot be applied");
    WriteBatch batch;
    batch.guard_key = ProcessedEventKey("t", event.dedup_key());
    batch.guard_value = "1";
    batch.guard_ttl_seconds = kProcessedEventTtlSeconds;
    batch.commands = {{"RPUSH", "applied", event.payload}};
    absl::StatusOr<WriteOutcome> outcome = ApplyAtomically(redis_, batch);
    if (!outcome.ok()) return outcome.status();
    return outcome->kind == WriteOutcome::Kind::kApplied ? ApplyResult::kApplied
                                                         : ApplyResult::kDuplicate;
  }
  std::atomic<int> calls{0};

 private:
  RedisClient& redis_;
};

class EventConsumerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RedisOptions options;
    options.port = redis_server_.port();
    redis_ = std::make_unique<RedisClient>(options);
    producer_ = *KafkaProducer::Create({broker_.bootstrap(), "test", {}});
  }

  void Send(const std::string& event_id, const std::string& payload,
            std::vector<std::pair<std::string, std::string>> more_headers = {}) {
    OutgoingMessage m{kTopic, "pr_same_child", payload, {{"event_id", event_id}}};
    for (auto& header : more_headers) m.headers.push_back(std::move(header));
    ASSERT_TRUE(producer_->Deliver({&m, 1}, absl::Seconds(10)).front().ok());
  }

  std::unique_ptr<EventConsumer> Consumer(EventHandler& handler, size_t max_batch = 1,
                                          absl::Duration lag_interval = absl::Seconds(15)) {
    EventConsumerOptions options;
    options.max_batch = max_batch;
    options.lag_interval = lag_interval;
    options.bootstrap_servers = broker_.bootstrap();
    options.group_id = "test-group";
    options.topics = {kTopic};
    options.max_attempts = 3;
    options.initial_backoff = absl::Milliseconds(10);
    // The mock cluster's coordinator waits out a departed member's session
    // before it rebalances; keep that short for a test.
    options.overrides = {{"session.timeout.ms", "6000"}, {"heartbeat.interval.ms", "500"}};
    return *EventConsumer::Create(options, handler, *producer_, metrics_, logger_);
  }

  int64_t Applied() { return redis_->Command({"LLEN", "applied"})->integer; }

  // Polls until `condition` holds or 60 s pass.
  template <typename F>
  bool Eventually(F condition) {
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (absl::Now() < deadline) {
      if (condition()) return true;
      absl::SleepFor(absl::Milliseconds(20));
    }
    return condition();
  }

  const std::string kTopic = "rooted.forum.events.v1";
  testing::RedisServer redis_server_;
  testing::Broker broker_;
  std::unique_ptr<RedisClient> redis_;
  std::unique_ptr<KafkaProducer> producer_;
  std::ostringstream log_;
  SystemClock clock_;
  Logger logger_{"test", log_, LogLevel::kInfo, clock_};
  Metrics metrics_{std::make_shared<prometheus::Registry>(), "test"};
};

TEST_F(EventConsumerTest, DuplicatesChangeNothingAndPoisonGoesToTheDeadLetterTopic) {
  Send("event-1", "first");
  Send("event-1", "first");  // the same event twice, as a retrying producer may
  Send("event-2", "poison pill");
  Send("event-3", "after the poison");
  ListAppender handler(*redis_);
  auto consumer = Consumer(handler);
  consumer->Start();
  ASSERT_TRUE(Eventually([&] { return Applied() == 2; })) << "applied " << Applied();
  consumer->Stop();
  EXPECT_EQ(redis_->Command({"LRANGE", "applied", "0", "-1"})->elements[1].str, "after the poison");

  std::vector<testing::ReadMessage> dead =
      testing::ReadTopic(broker_.bootstrap(), kTopic + ".dlq", 1, absl::Seconds(20));
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].payload, "poison pill");
  EXPECT_EQ(dead[0].headers["event_id"], "event-2");
  EXPECT_EQ(dead[0].headers["dlq_attempts"], "3");
  EXPECT_NE(dead[0].headers["dlq_reason"].find("cannot be applied"), std::string::npos);
  EXPECT_EQ(dead[0].headers["dlq_consumer_group"], "test-group");
}

TEST_F(EventConsumerTest, InBatchesAPoisonEventIsIsolatedAndTheRestApplied) {
  // A batch handler that counts whole batches; any poison fails the batch.
  class BatchAppender final : public EventHandler {
   public:
    explicit BatchAppender(ListAppender& one) : one_(one) {}
    absl::StatusOr<ApplyResult> Apply(const ConsumedEvent& event) override {
      return one_.Apply(event);
    }
    absl::StatusOr<std::vector<ApplyResult>> ApplyBatch(
        std::span<const ConsumedEvent> events) override {
      ++batches;
      largest = std::max(largest.load(), int(events.size()));
      return EventHandler::ApplyBatch(events);
    }
    std::atomic<int> batches{0};
    std::atomic<int> largest{0};

   private:
    ListAppender& one_;
  };
  for (int i = 0; i < 20; ++i) {
    Send("batch-" + std::to_string(i), i == 7 ? "poison in a batch" : "ok " + std::to_string(i));
  }
  ListAppender one(*redis_);
  BatchAppender handler(one);
  auto consumer = Consumer(handler, /*max_batch=*/50);
  consumer->Start();
  ASSERT_TRUE(Eventually([&] { return Applied() == 19; })) << "applied " << Applied();
  consumer->Stop();
  EXPECT_GT(handler.largest.load(), 1) << "events were handed over in batches";
  std::vector<testing::ReadMessage> dead =
      testing::ReadTopic(broker_.bootstrap(), kTopic + ".dlq", 1, absl::Seconds(20));
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].headers["event_id"], "batch-7");
}

TEST_F(EventConsumerTest, ARestartedConsumerCarriesOnFromTheCommittedOffset) {
  Send("event-a", "a");
  Send("event-b", "b");
  ListAppender first(*redis_);
  auto consumer = Consumer(first);
  consumer->Start();
  ASSERT_TRUE(Eventually([&] { return Applied() == 2; }));
  consumer->Stop();

  Send("event-c", "c");
  ListAppender second(*redis_);
  auto restarted = Consumer(second);
  restarted->Start();
  ASSERT_TRUE(Eventually([&] { return Applied() == 3; }));
  restarted->Stop();
  EXPECT_EQ(second.calls.load(), 1) << "only the new event is delivered to the new member";
}

TEST_F(EventConsumerTest, AnUnreachableStoreIsRetriedNotDeadLettered) {
  class FlakyStore final : public EventHandler {
   public:
    absl::StatusOr<ApplyResult> Apply(const ConsumedEvent&) override {
      return ++calls < 6 ? absl::StatusOr<ApplyResult>(absl::UnavailableError("redis down"))
                         : absl::StatusOr<ApplyResult>(ApplyResult::kApplied);
    }
    std::atomic<int> calls{0};
  } handler;
  Send("event-x", "x");
  auto consumer = Consumer(handler);
  consumer->Start();
  ASSERT_TRUE(Eventually([&] { return handler.calls.load() >= 6; }));
  consumer->Stop();
  EXPECT_TRUE(
      testing::ReadTopic(broker_.bootstrap(), kTopic + ".dlq", 0, absl::Seconds(3)).empty());
}

TEST_F(EventConsumerTest, EverySeriesOfAConsumedTopicStartsAtZero) {
  ListAppender handler(*redis_);
  auto consumer = Consumer(handler);
  const prometheus::Registry& registry = *metrics_.registry();
  EXPECT_FALSE(
      testing::SeriesValue(registry, "rooted_events_dead_lettered_total", {{"topic", kTopic}}));
  consumer->Start();
  // Exported before any event: the first dead letter is then an increase from 0.
  EXPECT_EQ(
      testing::SeriesValue(registry, "rooted_events_dead_lettered_total", {{"topic", kTopic}}), 0);
  for (const absl::string_view outcome : kConsumedOutcomes) {
    EXPECT_EQ(testing::SeriesValue(registry, "rooted_events_consumed_total",
                                   {{"topic", kTopic}, {"outcome", std::string(outcome)}}),
              0)
        << outcome;
  }
  consumer->Stop();
}

TEST_F(EventConsumerTest, LagIsMeasuredOnATimerWhileTheConsumerIsStuck) {
  // A store that is down: the first event is retried for as long as it lasts.
  class DownStore final : public EventHandler {
   public:
    absl::StatusOr<ApplyResult> Apply(const ConsumedEvent&) override {
      ++calls;
      return down.load() ? absl::StatusOr<ApplyResult>(absl::UnavailableError("redis down"))
                         : absl::StatusOr<ApplyResult>(ApplyResult::kApplied);
    }
    std::atomic<bool> down{true};
    std::atomic<int> calls{0};
  } handler;
  for (int i = 0; i < 4; ++i) Send(absl::StrCat("stuck-", i), "x");
  auto consumer = Consumer(handler, 1, absl::Milliseconds(200));
  consumer->Start();
  const prometheus::Registry& registry = *metrics_.registry();
  // The events share a key, so one partition; which one is the broker's hash.
  auto lag = [&] {
    return testing::SeriesSum(registry, "rooted_consumer_lag", {{"topic", kTopic}});
  };
  // Nothing is committed, and the high watermark is 4: the lag says so while
  // no event completes.
  ASSERT_TRUE(Eventually([&] { return handler.calls.load() > 0 && lag() == 4; }))
      << "lag " << lag();
  handler.down.store(false);
  ASSERT_TRUE(Eventually([&] { return lag() == 0; })) << "lag " << lag();
  consumer->Stop();
}

TEST_F(EventConsumerTest, AReplayIsAppliedOnlyByTheGroupThatFailedItAndOnlyOnce) {
  ListAppender handler(*redis_);
  // The original was marked processed without its change (a consumer that
  // swallowed it), so it alone would be skipped as a duplicate.
  ASSERT_TRUE(redis_->Command({"SET", ProcessedEventKey("t", "event-lost"), "1"}).ok());
  Send("event-lost", "for another group",
       {{std::string(kReplayForGroupHeader), "another-group"},
        {std::string(kReplayIdHeader), "rooted.forum.events.v1.dlq:0:7"}});
  // The same dead letter replayed twice, then a copy of it dead-lettered
  // again (at another place) replayed too.
  for (const char* dead_letter :
       {"rooted.forum.events.v1.dlq:0:3", "rooted.forum.events.v1.dlq:0:3",
        "rooted.forum.events.v1.dlq:2:9"}) {
    Send("event-lost", "replayed",
         {{std::string(kReplayForGroupHeader), "test-group"},
          {std::string(kReplayIdHeader), dead_letter}});
  }
  Send("event-after", "after");
  auto consumer = Consumer(handler);
  consumer->Start();
  ASSERT_TRUE(Eventually([&] { return Applied() == 2; })) << "applied " << Applied();
  consumer->Stop();
  absl::StatusOr<RedisReply> listed = redis_->Command({"LRANGE", "applied", "0", "-1"});
  ASSERT_TRUE(listed.ok()) << listed.status();
  std::vector<std::string> applied;
  for (const RedisReply& element : listed->elements) applied.push_back(element.str);
  EXPECT_EQ(applied, (std::vector<std::string>{"replayed", "after"}));
  EXPECT_EQ(testing::CounterTotal(*metrics_.registry(), "rooted_events_consumed_total", "outcome",
                                  "skipped"),
            1);
  EXPECT_EQ(testing::CounterTotal(*metrics_.registry(), "rooted_events_consumed_total", "outcome",
                                  "duplicate"),
            2);
}

}  // namespace
}  // namespace rooted

namespace rooted {
namespace {

// librdkafka's own complaints (an unreachable broker here) come out as the
// service's JSON log lines, not librdkafka's plain text.
TEST(KafkaLogTest, ClientLogLinesAreJson) {
  std::ostringstream out;
  SystemClock clock;
  Logger logger("test", out, LogLevel::kInfo, clock);
  {
    absl::StatusOr<std::unique_ptr<KafkaProducer>> producer = KafkaProducer::Create(
        {.bootstrap_servers = "127.0.0.1:1", .client_id = "log-test", .overrides = {}, .logger = &logger});
    ASSERT_TRUE(producer.ok()) << producer.status();
    absl::SleepFor(absl::Milliseconds(500));
  }
  std::istringstream lines(out.str());
  int kafka_lines = 0;
  for (std::string line; std::getline(lines, line);) {
    const nlohmann::json parsed = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    ASSERT_FALSE(parsed.is_discarded()) << line;
    const std::string msg = parsed.value("msg", "");
    if (msg.rfind("kafka client", 0) == 0) ++kafka_lines;
  }
  EXPECT_GT(kafka_lines, 0) << out.str();
}

}  // namespace
}  // namespace rooted
