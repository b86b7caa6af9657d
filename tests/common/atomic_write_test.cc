#include "common/redis/atomic_write.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <future>
#include <sstream>

#include "common/kafka/kafka_producer.h"
#include "common/outbox/outbox.h"
#include "tests/support/local_stack.h"

namespace rooted {
namespace {

class AtomicWriteTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { redis_server_ = new testing::RedisServer(); }
  static void TearDownTestSuite() { delete redis_server_; }
  void SetUp() override {
    RedisOptions options;
    options.port = redis_server_->port();
    client_ = std::make_unique<RedisClient>(options);
    ASSERT_TRUE(client_->Command({"FLUSHALL"}).ok());
  }
  static testing::RedisServer* redis_server_;
  std::unique_ptr<RedisClient> client_;
};
testing::RedisServer* AtomicWriteTest::redis_server_ = nullptr;

TEST_F(AtomicWriteTest, AppliesEveryCommandOnceUnderAGuard) {
  WriteBatch batch;
  batch.guard_key = "guard:1";
  batch.guard_value = "first";
  batch.commands = {{"HSET", "record", "version", "1"}, {"RPUSH", "log", "a"}};
  auto first = ApplyAtomically(*client_, batch);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->kind, WriteOutcome::Kind::kApplied);
  batch.guard_value = "second";
  auto again = ApplyAtomically(*client_, batch);
  EXPECT_EQ(again->kind, WriteOutcome::Kind::kAlreadyApplied);
  EXPECT_EQ(again->guard_value, "first");
  EXPECT_EQ(client_->Command({"LLEN", "log"})->integer, 1);
}

// The pipelined form is the same step: guarded once, and its outcome comes
// to the callback.
TEST_F(AtomicWriteTest, ThePipelinedFormAppliesOnceUnderAGuardToo) {
  auto pipe = *PipelinedRedis::Start(client_->options());
  auto apply = [&](WriteBatch batch) {
    std::promise<absl::StatusOr<WriteOutcome>> outcome;
    ApplyAtomically(*pipe, std::move(batch),
                    [&](absl::StatusOr<WriteOutcome> result) { outcome.set_value(std::move(result)); });
    return outcome.get_future().get();
  };
  WriteBatch batch;
  batch.guard_key = "guard:async";
  batch.guard_value = "first";
  batch.preconditions = {{"record", "version", ""}};
  batch.commands = {{"HSET", "record", "version", "1"}, {"RPUSH", "log", "a"}};
  absl::StatusOr<WriteOutcome> first = apply(batch);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->kind, WriteOutcome::Kind::kApplied);
  batch.guard_value = "second";
  absl::StatusOr<WriteOutcome> again = apply(batch);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->kind, WriteOutcome::Kind::kAlreadyApplied);
  EXPECT_EQ(again->guard_value, "first");
  batch.guard_key = "guard:other";
  absl::StatusOr<WriteOutcome> stale = apply(batch);
  ASSERT_TRUE(stale.ok()) << stale.status();
  EXPECT_EQ(stale->kind, WriteOutcome::Kind::kPreconditionFailed);
  EXPECT_EQ(client_->Command({"LLEN", "log"})->integer, 1);
}

TEST_F(AtomicWriteTest, AFailedPreconditionWritesNothing) {
  ASSERT_TRUE(client_->Command({"HSET", "record", "version", "2"}).ok());
  WriteBatch batch;
  batch.guard_key = "guard:2";
  batch.preconditions = {{"record", "version", "1"}};
  batch.commands = {{"HSET", "record", "version", "3"}, {"RPUSH", "log", "a"}};
  auto outcome = ApplyAtomically(*client_, batch);
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(outcome->kind, WriteOutcome::Kind::kPreconditionFailed);
  EXPECT_EQ(client_->Command({"HGET", "record", "version"})->str, "2");
  EXPECT_EQ(client_->Command({"LLEN", "log"})->integer, 0);
  EXPECT_TRUE(client_->Command({"GET", "guard:2"})->is_nil());
}

TEST_F(AtomicWriteTest, BinaryValuesSurviveTheScript) {
  const std::string bytes("\0\x01\xff payload \0", 12);
  WriteBatch batch;
  batch.commands = {{"SET", "bin", bytes}};
  ASSERT_TRUE(ApplyAtomically(*client_, batch).ok());
  EXPECT_EQ(client_->Command({"GET", "bin"})->str, bytes);
}

// Arguments go out in Redis's wire format, length-prefixed: line ends, NULs,
// empty strings and large values arrive byte for byte, and a pipeline's
// replies (an error among them) come back in order.
TEST_F(AtomicWriteTest, AnyBytesTravelAsTheyAreAlsoInAPipeline) {
  const std::string line_ends("a\r\n*2\r\n$3\r\nbad\r\n\0z", 19);
  const std::string large(1 << 20, '\xab');
  ASSERT_TRUE(client_->Command({"SET", "ends", line_ends}).ok());
  ASSERT_TRUE(client_->Command({"SET", "empty", ""}).ok());
  ASSERT_TRUE(client_->Command({"SET", "large", large}).ok());
  EXPECT_EQ(client_->Command({"GET", "ends"})->str, line_ends);
  EXPECT_EQ(client_->Command({"STRLEN", "empty"})->integer, 0);
  EXPECT_EQ(client_->Command({"GET", "large"})->str, large);
  auto replies = client_->Pipeline({{"GET", "ends"}, {"HGET", "ends", "field"}, {"STRLEN", "large"}, {"GET", "none"}});
  ASSERT_TRUE(replies.ok()) << replies.status();
  ASSERT_EQ(replies->size(), 4u);
  EXPECT_EQ((*replies)[0].str, line_ends);
  EXPECT_TRUE((*replies)[1].is_error()) << "HGET of a string is WRONGTYPE";
  EXPECT_EQ((*replies)[2].integer, 1 << 20);
  EXPECT_TRUE((*replies)[3].is_nil());
  EXPECT_EQ(client_->Command({"PING"})->str, "PONG") << "the connection is still in step";
}

TEST_F(AtomicWriteTest, AnUnreachableRedisIsUnavailable) {
  RedisOptions options;
  options.port = testing::FreePort();
  options.connect_timeout = absl::Milliseconds(200);
  RedisClient nowhere(options);
  EXPECT_EQ(nowhere.Ping().code(), absl::StatusCode::kUnavailable);
}

TEST_F(AtomicWriteTest, OutboxRelayDeliversOnceAndRemovesOnlyDeliveredEntries) {
  testing::Broker broker;
  std::ostringstream sink;
  SystemClock clock;
  Logger logger("test", sink, LogLevel::kInfo, clock);
  Metrics metrics(std::make_shared<prometheus::Registry>(), "test");
  auto producer = *KafkaProducer::Create({broker.bootstrap(), "test", {}});
  const std::string topic = "rooted.referral.events.v1";
  for (int i = 0; i < 3; ++i) {
    WriteBatch batch;
    batch.commands = {
        OutboxAppendCommand("t:outbox", {topic, "pr_key", "payload-" + std::to_string(i),
                                         "event-" + std::to_string(i), "rooted.test.Event"})};
    ASSERT_TRUE(ApplyAtomically(*client_, batch).ok());
  }
  OutboxRelay relay(*client_, *producer,
                    {.stream_key = "t:outbox", .lease_key = "t:lease", .producer_name = "test"},
                    metrics, logger);
  absl::StatusOr<size_t> relayed = relay.RelayOnce();
  ASSERT_TRUE(relayed.ok()) << relayed.status();
  EXPECT_EQ(*relayed, 3u);
  EXPECT_EQ(*relay.Depth(), 0);
  EXPECT_EQ(*relay.RelayOnce(), 0u);
  std::vector<testing::ReadMessage> read =
      testing::ReadTopic(broker.bootstrap(), topic, 3, absl::Seconds(20));
  ASSERT_EQ(read.size(), 3u);
  EXPECT_EQ(read[0].headers["event_id"], "event-0");
  EXPECT_EQ(read[2].payload, "payload-2");
  EXPECT_EQ(read[1].key, "pr_key");
}

TEST_F(AtomicWriteTest, OnlyTheLeaseHolderRelays) {
  std::ostringstream sink;
  SystemClock clock;
  Logger logger("test", sink, LogLevel::kInfo, clock);
  Metrics metrics(std::make_shared<prometheus::Registry>(), "test");
  ASSERT_TRUE(client_->Command({"SET", "t:lease", "another-replica", "PX", "60000"}).ok());
  class NeverCalled final : public EventProducer {
   public:
    std::vector<absl::Status> Deliver(std::span<const OutgoingMessage> m, absl::Duration) override {
      ADD_FAILURE() << "a replica without the lease published";
      return std::vector<absl::Status>(m.size(), absl::OkStatus());
    }
    absl::Status CheckConnected(absl::Duration) override { return absl::OkStatus(); }
  } producer;
  WriteBatch batch;
  batch.commands = {OutboxAppendCommand("t:outbox", {"t", "k", "p", "e", "x"})};
  ASSERT_TRUE(ApplyAtomically(*client_, batch).ok());
  OutboxRelay relay(*client_, producer,
                    {.stream_key = "t:outbox", .lease_key = "t:lease", .producer_name = "test"},
                    metrics, logger);
  EXPECT_EQ(*relay.RelayOnce(), 0u);
  EXPECT_EQ(*relay.Depth(), 1);
}

}  // namespace
}  // namespace rooted
