#ifndef ROOTED_COMMON_REDIS_PIPELINED_REDIS_H_
#define ROOTED_COMMON_REDIS_PIPELINED_REDIS_H_

#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "common/base/metrics.h"
#include "common/redis/redis_client.h"

struct redisReader;

namespace rooted {

// Called once with the reply, or with the error that stopped it.
using RedisCallback = absl::AnyInvocable<void(absl::StatusOr<RedisReply>) &&>;

// One connection that many callers share without waiting for it: a command
// goes out as soon as the I/O thread can write it, behind whatever is already
// on the wire, and its reply completes the caller's callback. Redis answers a
// connection's commands in order, so replies are matched to callers by
// position.
//
// Why: with a blocking connection per call, each call in progress holds a
// thread asleep on its reply, and the sleeps and wake-ups cost more than the
// commands. Here no caller thread waits, and under load many commands go out
// in one write and many replies come back in one read.
//
// Errors, as RedisClient: a server error reply is INTERNAL with Redis's
// message; a lost connection, or no reply within `command_timeout`, is
// UNAVAILABLE for every command then waiting (the connection is dropped: a
// late reply could no longer be matched). Whether a command that failed so
// ran is unknown, so callers retry only what is idempotent. The connection is
// made again on the next command, at most every 100 ms.
//
// Callbacks run on the I/O thread: keep them short and never block in them.
// A callback may send further commands.
// Thread safety: Command and Eval may be called from any thread.
class PipelinedRedis {
 public:
  // Starts the I/O thread; the connection is made on the first command.
  // With `metrics`, reports rooted_redis_pipeline_waiting and
  // rooted_redis_pipeline_failures_total there; it must outlive this.
  static absl::StatusOr<std::unique_ptr<PipelinedRedis>> Start(RedisOptions options, Metrics* metrics = nullptr);
  // Commands still waiting fail with UNAVAILABLE.
  ~PipelinedRedis();
  PipelinedRedis(const PipelinedRedis&) = delete;
  PipelinedRedis& operator=(const PipelinedRedis&) = delete;

  void Command(const std::vector<std::string>& args, RedisCallback done);
  // EVALSHA, and EVAL once when Redis does not have the script cached (after
  // a restart or SCRIPT FLUSH). `script` must outlive the call.
  void Eval(const RedisScript& script, const std::vector<std::string>& keys,
            const std::vector<std::string>& args, RedisCallback done);

 private:
  using Clock = std::chrono::steady_clock;
  struct Waiting {
    RedisCallback done;
    Clock::time_point deadline;
  };

  PipelinedRedis(RedisOptions options, Metrics* metrics, int wake_fd, int epoll_fd);

  // Queues a command already in wire form for the I/O thread.
  void Send(std::string wire, RedisCallback done);
  void Wake();

  // The I/O thread.
  void Run();
  absl::Status Connect();
  // Closes the connection and fails every command sent on it with `why`;
  // `reason` labels the failure metric (empty: not a failure).
  void Drop(absl::string_view reason, const absl::Status& why);
  // Writes what the socket takes now; false when the connection failed.
  bool Flush();
  // Completes the callers whose replies have arrived; false when it dropped
  // the connection.
  bool ReadReplies();

  const RedisOptions options_;
  Metrics* const metrics_;
  const Clock::duration timeout_;
  const int wake_fd_;   // eventfd: callers wake the I/O thread through it
  const int epoll_fd_;

  std::mutex mu_;
  std::string queued_wire_;      // guarded by mu_
  std::deque<Waiting> queued_;   // guarded by mu_, in queued_wire_'s order
  bool wake_pending_ = false;    // guarded by mu_: wake_fd_ already signalled
  bool stopping_ = false;        // guarded by mu_

  // Only the I/O thread touches these.
  int fd_ = -1;
  redisReader* reader_ = nullptr;
  std::string out_;      // written up to out_sent_
  size_t out_sent_ = 0;
  bool watching_writable_ = false;
  std::deque<Waiting> in_flight_;  // sent, in the order their replies come

  std::thread io_thread_;
};

}  // namespace rooted

#endif  // ROOTED_COMMON_REDIS_PIPELINED_REDIS_H_
