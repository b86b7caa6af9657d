#include "common/redis/atomic_write.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <future>
#include <set>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
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
  // The pipelined form, waited for.
  static absl::StatusOr<WriteOutcome> ApplyAndWait(PipelinedRedis& pipe, WriteBatch batch) {
    std::promise<absl::StatusOr<WriteOutcome>> outcome;
    ApplyAtomically(pipe, std::move(batch),
                    [&](absl::StatusOr<WriteOutcome> result) { outcome.set_value(std::move(result)); });
    return outcome.get_future().get();
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
  auto apply = [&](WriteBatch batch) { return ApplyAndWait(*pipe, std::move(batch)); };
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

// A batch runs in a script made for its form (its commands' names and
// sizes), with the names written into the script. Every form must do exactly
// what the generic script does, whatever the values, and after Redis loses
// its scripts (a restart, SCRIPT FLUSH) each form is sent again in full.
TEST_F(AtomicWriteTest, EachFormOfBatchWritesTheSameAndSurvivesRedisForgettingItsScripts) {
  auto pipe = *PipelinedRedis::Start(client_->options());
  auto apply_pipelined = [&](WriteBatch batch) { return ApplyAndWait(*pipe, std::move(batch)); };
  const std::string quote_and_lines("it's \\ 'quoted'\r\n]]--", 22);
  for (int round = 0; round < 2; ++round) {
    ASSERT_TRUE(client_->Command({"SCRIPT", "FLUSH"}).ok());
    for (const bool pipelined : {false, true}) {
      const std::string n = absl::StrCat(round, pipelined ? "p" : "b");
      WriteBatch batch;
      batch.guard_key = "guard:form:" + n;
      batch.guard_value = quote_and_lines;
      batch.preconditions = {{"form:" + n, "version", ""}};
      batch.commands = {{"HSET", "form:" + n, "version", "1", "body", quote_and_lines},
                        {"zadd", "forms", "1", n},
                        {"XADD", "form-log", "*", "field", quote_and_lines}};
      absl::StatusOr<WriteOutcome> outcome = pipelined ? apply_pipelined(batch) : ApplyAtomically(*client_, batch);
      ASSERT_TRUE(outcome.ok()) << outcome.status();
      EXPECT_EQ(outcome->kind, WriteOutcome::Kind::kApplied);
      EXPECT_EQ(client_->Command({"HGET", "form:" + n, "body"})->str, quote_and_lines);
      outcome = pipelined ? apply_pipelined(batch) : ApplyAtomically(*client_, batch);
      ASSERT_TRUE(outcome.ok()) << outcome.status();
      EXPECT_EQ(outcome->kind, WriteOutcome::Kind::kAlreadyApplied);
      EXPECT_EQ(outcome->guard_value, quote_and_lines);
      batch.guard_key += ":again";
      outcome = pipelined ? apply_pipelined(batch) : ApplyAtomically(*client_, batch);
      ASSERT_TRUE(outcome.ok()) << outcome.status();
      EXPECT_EQ(outcome->kind, WriteOutcome::Kind::kPreconditionFailed);
    }
  }
  EXPECT_EQ(client_->Command({"ZCARD", "forms"})->integer, 4);
  EXPECT_EQ(client_->Command({"XLEN", "form-log"})->integer, 4);

  // A name is written into the script as a literal: odd bytes in it reach
  // Redis as that name (unknown here), not as broken Lua.
  WriteBatch odd;
  odd.commands = {{"NO'SUCH\\\nCOMMAND", "key"}};
  absl::StatusOr<WriteOutcome> refused = ApplyAtomically(*client_, odd);
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "Unknown")) << refused.status();
}

// Forms are kept, in this process and in Redis, so they are bounded: large
// batches, commands too long for one Lua call and forms beyond the first few
// hundred use the generic script, and write just the same.
TEST_F(AtomicWriteTest, ManyFormsAndLargeBatchesStillWriteWithABoundedSetOfScripts) {
  ASSERT_TRUE(client_->Command({"SCRIPT", "FLUSH"}).ok());
  // 320 forms: 1 to 32 commands of 1 to 10 values each.
  for (int commands = 1; commands <= 32; ++commands) {
    for (int width = 1; width <= 10; ++width) {
      const std::string list = absl::StrCat("forms:", commands, ":", width);
      WriteBatch batch;
      for (int c = 0; c < commands; ++c) {
        batch.commands.push_back({"RPUSH", list});
        for (int v = 0; v < width; ++v) batch.commands.back().push_back("v");
      }
      absl::StatusOr<WriteOutcome> outcome = ApplyAtomically(*client_, std::move(batch));
      ASSERT_TRUE(outcome.ok()) << list << ": " << outcome.status();
      ASSERT_EQ(client_->Command({"LLEN", list})->integer, commands * width) << list;
    }
  }
  // One command of 601 arguments.
  WriteBatch wide;
  wide.commands.push_back({"HSET", "wide"});
  for (int f = 0; f < 300; ++f) {
    wide.commands.back().push_back("f" + std::to_string(f));
    wide.commands.back().push_back("v");
  }
  ASSERT_TRUE(ApplyAtomically(*client_, std::move(wide)).ok());
  EXPECT_EQ(client_->Command({"HLEN", "wide"})->integer, 300);
  WriteBatch large;
  for (int c = 0; c < 100; ++c) large.commands.push_back({"RPUSH", "long", std::to_string(c)});
  ASSERT_TRUE(ApplyAtomically(*client_, std::move(large)).ok());
  EXPECT_EQ(client_->Command({"LLEN", "long"})->integer, 100);

  absl::StatusOr<RedisReply> info = client_->Command({"INFO", "memory"});
  ASSERT_TRUE(info.ok());
  const size_t at = info->str.find("number_of_cached_scripts:");
  ASSERT_NE(at, std::string::npos);
  int64_t cached = 0;
  ASSERT_TRUE(absl::SimpleAtoi(
      info->str.substr(at + 25, info->str.find('\r', at) - at - 25), &cached));
  EXPECT_LE(cached, 257) << "at most 256 forms and the generic script";
  EXPECT_GE(cached, 2);
}

// Many batches in one round trip: each applied on its own, in order, also
// right after Redis has lost its scripts, and a guarded batch sent again
// answers "already applied".
TEST_F(AtomicWriteTest, EachOfManyBatchesIsAppliedOnceAlsoAfterRedisForgetsItsScripts) {
  auto batch = [](const std::string& guard, const std::string& value) {
    WriteBatch b;
    b.guard_key = guard;
    b.guard_value = value;
    b.commands = {{"RPUSH", "each", value}};
    return b;
  };
  ASSERT_TRUE(client_->Command({"SCRIPT", "FLUSH"}).ok());
  std::vector<WriteBatch> first;
  first.push_back(batch("guard:each:1", "a"));
  first.push_back(batch("guard:each:2", "b"));
  absl::StatusOr<std::vector<WriteOutcome>> outcomes = ApplyEachAtomically(*client_, std::move(first));
  ASSERT_TRUE(outcomes.ok()) << outcomes.status();
  ASSERT_EQ(outcomes->size(), 2u);
  EXPECT_EQ((*outcomes)[0].kind, WriteOutcome::Kind::kApplied);
  EXPECT_EQ((*outcomes)[1].kind, WriteOutcome::Kind::kApplied);

  ASSERT_TRUE(client_->Command({"SCRIPT", "FLUSH"}).ok());
  std::vector<WriteBatch> again;
  again.push_back(batch("guard:each:2", "b-again"));
  again.push_back(batch("guard:each:3", "c"));
  outcomes = ApplyEachAtomically(*client_, std::move(again));
  ASSERT_TRUE(outcomes.ok()) << outcomes.status();
  EXPECT_EQ((*outcomes)[0].kind, WriteOutcome::Kind::kAlreadyApplied);
  EXPECT_EQ((*outcomes)[0].guard_value, "b");
  EXPECT_EQ((*outcomes)[1].kind, WriteOutcome::Kind::kApplied);
  const absl::StatusOr<RedisReply> list = client_->Command({"LRANGE", "each", "0", "-1"});
  ASSERT_EQ(list->elements.size(), 3u);
  EXPECT_EQ(list->elements[2].str, "c");
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

// Delivered entries leave the outbox, from the oldest on in one trim and
// after a gap one by one; an entry whose delivery failed stays where it is for
// the next round, and a malformed one stays for an operator.
TEST_F(AtomicWriteTest, OnlyDeliveredEntriesLeaveTheOutboxWhateverFailsAroundThem) {
  std::ostringstream sink;
  SystemClock clock;
  Logger logger("test", sink, LogLevel::kInfo, clock);
  Metrics metrics(std::make_shared<prometheus::Registry>(), "test");
  // Fails the payloads it is told to; records what it delivered.
  class Picky final : public EventProducer {
   public:
    std::vector<absl::Status> Deliver(std::span<const OutgoingMessage> messages, absl::Duration) override {
      std::vector<absl::Status> results;
      for (const OutgoingMessage& m : messages) {
        const bool fail = failing.count(m.payload) > 0;
        results.push_back(fail ? absl::UnavailableError("broker down") : absl::OkStatus());
        if (!fail) delivered.push_back(m.payload);
      }
      return results;
    }
    absl::Status CheckConnected(absl::Duration) override { return absl::OkStatus(); }
    std::set<std::string> failing;
    std::vector<std::string> delivered;
  } producer;
  auto append = [&](const std::string& payload) {
    WriteBatch batch;
    batch.commands = {OutboxAppendCommand("t:outbox", {"t", "k", payload, "id-" + payload, "x"})};
    ASSERT_TRUE(ApplyAtomically(*client_, batch).ok());
  };
  auto left = [&] {
    std::vector<std::string> payloads;
    const absl::StatusOr<RedisReply> range = client_->Command({"XRANGE", "t:outbox", "-", "+"});
    for (const RedisReply& entry : range->elements) {
      const std::vector<RedisReply>& fields = entry.elements[1].elements;
      payloads.push_back(fields.size() >= 6 ? fields[5].str : "(malformed)");
    }
    return payloads;
  };
  OutboxRelay relay(*client_, producer,
                    {.stream_key = "t:outbox", .lease_key = "t:lease", .producer_name = "test"},
                    metrics, logger);

  for (const char* payload : {"a", "b", "c", "d"}) append(payload);
  producer.failing = {"c"};
  EXPECT_EQ(*relay.RelayOnce(), 3u);
  EXPECT_EQ(left(), std::vector<std::string>{"c"});
  producer.failing = {};
  EXPECT_EQ(*relay.RelayOnce(), 1u);
  EXPECT_EQ(left(), std::vector<std::string>{});

  append("e");
  ASSERT_TRUE(client_->Command({"XADD", "t:outbox", "*", "junk", "1"}).ok());
  append("f");
  EXPECT_EQ(*relay.RelayOnce(), 2u);
  EXPECT_EQ(left(), std::vector<std::string>{"(malformed)"});
  EXPECT_EQ(producer.delivered, (std::vector<std::string>{"a", "b", "d", "c", "e", "f"}));
  append("g");
  EXPECT_EQ(*relay.RelayOnce(), 1u);
  EXPECT_EQ(left(), std::vector<std::string>{"(malformed)"});
  EXPECT_EQ(*relay.Depth(), 1);
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
