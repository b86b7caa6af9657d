#include "common/redis/pipelined_redis.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <thread>

#include "absl/strings/match.h"
#include "tests/support/local_stack.h"
#include "tests/support/metric_totals.h"

namespace rooted {
namespace {

// A reply the test thread can wait for.
class Awaited {
 public:
  RedisCallback Callback() {
    return [this](absl::StatusOr<RedisReply> reply) { promise_.set_value(std::move(reply)); };
  }
  absl::StatusOr<RedisReply> Get() {
    std::future<absl::StatusOr<RedisReply>> future = promise_.get_future();
    if (future.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
      return absl::DeadlineExceededError("test: no callback within 10 s");
    }
    return future.get();
  }

 private:
  std::promise<absl::StatusOr<RedisReply>> promise_;
};

class PipelinedRedisTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { redis_server_ = new testing::RedisServer(); }
  static void TearDownTestSuite() { delete redis_server_; }
  void SetUp() override {
    options_.port = redis_server_->port();
    client_ = std::make_unique<RedisClient>(options_);
    ASSERT_TRUE(client_->Command({"FLUSHALL"}).ok());
  }

  std::unique_ptr<PipelinedRedis> Start(RedisOptions options) {
    absl::StatusOr<std::unique_ptr<PipelinedRedis>> pipe = PipelinedRedis::Start(std::move(options));
    EXPECT_TRUE(pipe.ok()) << pipe.status();
    return pipe.ok() ? *std::move(pipe) : nullptr;
  }

  static absl::StatusOr<RedisReply> Run(PipelinedRedis& pipe, const std::vector<std::string>& args) {
    Awaited reply;
    pipe.Command(args, reply.Callback());
    return reply.Get();
  }

  static testing::RedisServer* redis_server_;
  RedisOptions options_;
  std::unique_ptr<RedisClient> client_;
};
testing::RedisServer* PipelinedRedisTest::redis_server_ = nullptr;

// Replies are matched to callers by position: with many threads sending at
// once, every caller still gets the reply to its own command.
TEST_F(PipelinedRedisTest, EveryCallerGetsTheReplyToItsOwnCommand) {
  std::unique_ptr<PipelinedRedis> pipe = Start(options_);
  constexpr int kThreads = 8;
  constexpr int kPerThread = 2000;
  std::atomic<int> completed{0};
  std::atomic<int> wrong{0};
  std::mutex mu;
  std::condition_variable all_done;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string key = "k:" + std::to_string(t) + ":" + std::to_string(i);
        const std::string value = std::string(i % 300, 'v') + key;  // sizes vary, so reads split replies
        auto count_one = [&] {
          if (completed.fetch_add(1) + 1 == 2 * kThreads * kPerThread) {
            std::lock_guard<std::mutex> lock(mu);
            all_done.notify_all();
          }
        };
        pipe->Command({"SET", key, value}, [&, count_one](absl::StatusOr<RedisReply> reply) {
          if (!reply.ok() || reply->str != "OK") ++wrong;
          count_one();
        });
        pipe->Command({"GET", key}, [&, value, count_one](absl::StatusOr<RedisReply> reply) {
          if (!reply.ok() || reply->str != value) ++wrong;
          count_one();
        });
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  std::unique_lock<std::mutex> lock(mu);
  ASSERT_TRUE(all_done.wait_for(lock, std::chrono::seconds(30),
                                [&] { return completed.load() == 2 * kThreads * kPerThread; }));
  EXPECT_EQ(wrong.load(), 0);
}

TEST_F(PipelinedRedisTest, AnErrorReplyFailsOnlyItsOwnCommand) {
  std::unique_ptr<PipelinedRedis> pipe = Start(options_);
  Awaited before, failing, after;
  pipe->Command({"SET", "text", "not a number"}, before.Callback());
  pipe->Command({"INCR", "text"}, failing.Callback());
  pipe->Command({"GET", "text"}, after.Callback());
  EXPECT_TRUE(before.Get().ok());
  absl::StatusOr<RedisReply> error = failing.Get();
  EXPECT_EQ(error.status().code(), absl::StatusCode::kInternal);
  EXPECT_TRUE(absl::StrContains(error.status().message(), "not an integer")) << error.status();
  absl::StatusOr<RedisReply> value = after.Get();
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ(value->str, "not a number");
}

TEST_F(PipelinedRedisTest, AScriptFlushedFromRedisIsSentAgainInFull) {
  std::unique_ptr<PipelinedRedis> pipe = Start(options_);
  const RedisScript script("return redis.call('INCRBY', KEYS[1], ARGV[1])");
  for (int round = 0; round < 2; ++round) {
    ASSERT_TRUE(client_->Command({"SCRIPT", "FLUSH"}).ok());
    Awaited reply;
    pipe->Eval(script, {"counter"}, {"5"}, reply.Callback());
    absl::StatusOr<RedisReply> result = reply.Get();
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->integer, 5 * (round + 1));
  }
  // Cached now: EVALSHA alone does it.
  Awaited cached;
  pipe->Eval(script, {"counter"}, {"1"}, cached.Callback());
  EXPECT_EQ(cached.Get()->integer, 11);
}

// No reply in time: the command fails UNAVAILABLE, and the connection is
// made again for the next one (a late reply could not be matched).
// How many failures of `reason` the metrics counted.
double Failures(const Metrics& metrics, const std::string& reason) {
  return testing::CounterTotal(*metrics.registry(), "rooted_redis_pipeline_failures_total", "reason", reason);
}

TEST_F(PipelinedRedisTest, ACommandWithoutAReplyInTimeIsUnavailableAndTheNextOneWorks) {
  RedisOptions options = options_;
  options.command_timeout = absl::Milliseconds(200);
  Metrics metrics(std::make_shared<prometheus::Registry>(), "test");
  absl::StatusOr<std::unique_ptr<PipelinedRedis>> started = PipelinedRedis::Start(options, &metrics);
  ASSERT_TRUE(started.ok()) << started.status();
  std::unique_ptr<PipelinedRedis> pipe = *std::move(started);
  ASSERT_TRUE(Run(*pipe, {"PING"}).ok());
  ASSERT_TRUE(client_->Command({"CLIENT", "PAUSE", "700"}).ok());
  absl::StatusOr<RedisReply> stalled = Run(*pipe, {"SET", "after-pause", "1"});
  EXPECT_EQ(stalled.status().code(), absl::StatusCode::kUnavailable) << stalled.status();
  EXPECT_TRUE(absl::StrContains(stalled.status().message(), "no reply within")) << stalled.status();
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  absl::StatusOr<RedisReply> later = Run(*pipe, {"GET", "after-pause"});
  ASSERT_TRUE(later.ok()) << later.status();
  EXPECT_EQ(Failures(metrics, "timeout"), 1);
  EXPECT_EQ(Failures(metrics, "lost"), 0);
}

TEST_F(PipelinedRedisTest, AKilledConnectionIsMadeAgain) {
  std::unique_ptr<PipelinedRedis> pipe = Start(options_);
  ASSERT_TRUE(Run(*pipe, {"SET", "kept", "yes"}).ok());
  ASSERT_TRUE(client_->Command({"CLIENT", "KILL", "TYPE", "normal"}).ok());
  // The first command may still go out on the dead socket and fail; within
  // a reconnect interval or two a command gets through again.
  absl::StatusOr<RedisReply> reply;
  for (int attempt = 0; attempt < 20; ++attempt) {
    reply = Run(*pipe, {"GET", "kept"});
    if (reply.ok()) break;
    EXPECT_EQ(reply.status().code(), absl::StatusCode::kUnavailable) << reply.status();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->str, "yes");
}

TEST_F(PipelinedRedisTest, ALostServerFailsTheCommandsWaitingOnIt) {
  auto server = std::make_unique<testing::RedisServer>();
  RedisOptions options;
  options.port = server->port();
  options.command_timeout = absl::Seconds(60);
  std::unique_ptr<PipelinedRedis> pipe = Start(options);
  ASSERT_TRUE(Run(*pipe, {"PING"}).ok());
  Awaited blocked;
  pipe->Command({"BLPOP", "never-filled", "0"}, blocked.Callback());
  server.reset();
  absl::StatusOr<RedisReply> reply = blocked.Get();
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kUnavailable) << reply.status();
  EXPECT_FALSE(absl::StrContains(reply.status().message(), "no reply within")) << reply.status();
  absl::StatusOr<RedisReply> refused = Run(*pipe, {"PING"});
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable) << refused.status();
}

// BLPOP with no timeout never answers: only closing can complete it.
TEST_F(PipelinedRedisTest, ClosingFailsWhatIsStillWaiting) {
  RedisOptions options = options_;
  options.command_timeout = absl::Seconds(60);
  std::unique_ptr<PipelinedRedis> pipe = Start(options);
  Awaited blocked, behind;
  pipe->Command({"BLPOP", "never-filled", "0"}, blocked.Callback());
  pipe->Command({"PING"}, behind.Callback());
  pipe.reset();
  for (Awaited* waiting : {&blocked, &behind}) {
    absl::StatusOr<RedisReply> reply = waiting->Get();
    EXPECT_EQ(reply.status().code(), absl::StatusCode::kUnavailable) << reply.status();
    EXPECT_TRUE(absl::StrContains(reply.status().message(), "shutting down")) << reply.status();
  }
}

}  // namespace
}  // namespace rooted
