#include "common/redis/pipelined_redis.h"

#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/base/thread_name.h"
#include "common/redis/redis_wire.h"

namespace rooted {
namespace {

constexpr auto kReconnectInterval = std::chrono::milliseconds(100);
constexpr size_t kReadChunk = 64 * 1024;
constexpr uint32_t kWakeTag = 0;
constexpr uint32_t kConnectionTag = 1;

template <typename Queue>
void FailAll(Queue& waiting, const absl::Status& status) {
  Queue failing;
  failing.swap(waiting);
  for (auto& w : failing) std::move(w.done)(status);
}

std::string EvalHead(size_t count, const char* verb, const std::string& script) {
  std::string head;
  redis_wire::AppendArrayHeader(head, count);
  redis_wire::AppendBulk(head, verb);
  redis_wire::AppendBulk(head, script);
  return head;
}

absl::Status ErrnoStatus(absl::string_view what) {
  return absl::UnavailableError(absl::StrCat("redis: ", what, ": ", std::strerror(errno)));
}

// Closes the descriptor unless released: for the error paths of set-up.
class OwnedFd {
 public:
  explicit OwnedFd(int fd) : fd_(fd) {}
  ~OwnedFd() {
    if (fd_ >= 0) close(fd_);
  }
  OwnedFd(const OwnedFd&) = delete;
  OwnedFd& operator=(const OwnedFd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

// Wakes the I/O thread's epoll when `fd` is readable, with `tag` to tell which.
absl::Status WatchReadable(int epoll_fd, int fd, uint32_t tag) {
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u32 = tag;
  return epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &event) == 0 ? absl::OkStatus() : ErrnoStatus("epoll_ctl");
}

}  // namespace

absl::StatusOr<std::unique_ptr<PipelinedRedis>> PipelinedRedis::Start(RedisOptions options, Metrics* metrics) {
  OwnedFd wake_fd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (wake_fd.get() < 0) return ErrnoStatus("eventfd");
  OwnedFd epoll_fd(epoll_create1(EPOLL_CLOEXEC));
  if (epoll_fd.get() < 0) return ErrnoStatus("epoll_create1");
  if (absl::Status s = WatchReadable(epoll_fd.get(), wake_fd.get(), kWakeTag); !s.ok()) return s;
  return std::unique_ptr<PipelinedRedis>(
      new PipelinedRedis(std::move(options), metrics, wake_fd.release(), epoll_fd.release()));
}

PipelinedRedis::PipelinedRedis(RedisOptions options, Metrics* metrics, int wake_fd, int epoll_fd)
    : options_(std::move(options)),
      metrics_(metrics),
      timeout_(absl::ToChronoMilliseconds(options_.command_timeout)),
      wake_fd_(wake_fd),
      epoll_fd_(epoll_fd),
      io_thread_([this] {
        NameThisThread("redis-pipe");
        Run();
      }) {}

PipelinedRedis::~PipelinedRedis() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  Wake();
  io_thread_.join();
  close(epoll_fd_);
  close(wake_fd_);
}

void PipelinedRedis::Wake() {
  const uint64_t one = 1;
  // Cannot fail but for an overflowing counter, which would still wake.
  (void)!write(wake_fd_, &one, sizeof(one));
}

void PipelinedRedis::Command(const std::vector<std::string>& args, RedisCallback done) {
  std::string wire;
  redis_wire::AppendCommand(wire, args);
  Send(std::move(wire), std::move(done));
}

void PipelinedRedis::Eval(const RedisScript& script, const std::vector<std::string>& keys,
                          const std::vector<std::string>& args, RedisCallback done) {
  // Everything after the script's name, the same for EVALSHA and EVAL: kept
  // for the EVAL a NOSCRIPT reply calls for.
  std::string tail;
  size_t size = 24;
  for (const std::string& k : keys) size += k.size() + 16;
  for (const std::string& a : args) size += a.size() + 16;
  tail.reserve(size);
  redis_wire::AppendBulk(tail, std::to_string(keys.size()));
  for (const std::string& k : keys) redis_wire::AppendBulk(tail, k);
  for (const std::string& a : args) redis_wire::AppendBulk(tail, a);
  const size_t count = 3 + keys.size() + args.size();

  std::string wire = EvalHead(count, "EVALSHA", script.sha1());
  wire.append(tail);
  Send(std::move(wire), [this, &script, count, tail = std::move(tail),
                         done = std::move(done)](absl::StatusOr<RedisReply> reply) mutable {
    if (reply.ok() || !absl::StrContains(reply.status().message(), "NOSCRIPT")) {
      std::move(done)(std::move(reply));
      return;
    }
    std::string again = EvalHead(count, "EVAL", script.source());
    again.append(tail);
    Send(std::move(again), std::move(done));
  });
}

void PipelinedRedis::Send(std::string wire, RedisCallback done) {
  const Clock::time_point deadline = Clock::now() + timeout_;
  bool wake = false;
  bool queued = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_) {
      queued = true;
      if (queued_wire_.empty()) {
        queued_wire_ = std::move(wire);
      } else {
        queued_wire_.append(wire);
      }
      queued_.push_back({std::move(done), deadline});
      wake = !wake_pending_;
      wake_pending_ = true;
    }
  }
  if (!queued) {
    std::move(done)(absl::UnavailableError("redis: the connection is shutting down"));
    return;
  }
  if (wake) Wake();
}

absl::Status PipelinedRedis::Connect() {
  absl::StatusOr<redis_wire::ContextPtr> context = redis_wire::Connect(options_);
  if (!context.ok()) return context.status();
  // The socket is ours from here; hiredis only parses replies.
  OwnedFd fd(redisFreeKeepFd(context->release()));
  const int flags = fcntl(fd.get(), F_GETFL);
  if (flags < 0 || fcntl(fd.get(), F_SETFL, flags | O_NONBLOCK) != 0) return ErrnoStatus("fcntl");
  if (absl::Status s = WatchReadable(epoll_fd_, fd.get(), kConnectionTag); !s.ok()) return s;
  fd_ = fd.release();
  reader_ = redis_wire::NewReplyReader();
  if (reader_ == nullptr) return absl::UnavailableError("redis: cannot allocate a reply reader");
  return absl::OkStatus();
}

void PipelinedRedis::Drop(absl::string_view reason, const absl::Status& why) {
  if (metrics_ != nullptr && !reason.empty()) metrics_->RecordRedisPipelineFailure(reason);
  if (fd_ >= 0) {
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd_, nullptr);
    close(fd_);
    fd_ = -1;
  }
  if (reader_ != nullptr) {
    redisReaderFree(reader_);
    reader_ = nullptr;
  }
  out_.clear();
  out_sent_ = 0;
  watching_writable_ = false;
  FailAll(in_flight_, why);
}

bool PipelinedRedis::Flush() {
  while (out_sent_ < out_.size()) {
    const ssize_t n = send(fd_, out_.data() + out_sent_, out_.size() - out_sent_, MSG_NOSIGNAL);
    if (n > 0) {
      out_sent_ += static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      break;
    } else {
      return false;
    }
  }
  if (out_sent_ == out_.size()) {
    out_.clear();
    out_sent_ = 0;
  }
  // Woken when the socket can take more only while there is more to write.
  const bool want_writable = !out_.empty();
  if (want_writable != watching_writable_) {
    epoll_event event{};
    event.events = EPOLLIN | (want_writable ? EPOLLOUT : 0u);
    event.data.u32 = kConnectionTag;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd_, &event) != 0) return false;
    watching_writable_ = want_writable;
  }
  return true;
}

bool PipelinedRedis::ReadReplies() {
  char buffer[kReadChunk];
  while (true) {
    const ssize_t n = recv(fd_, buffer, sizeof(buffer), 0);
    if (n == 0) {
      Drop("lost", absl::UnavailableError("redis: the server closed the connection"));
      return false;
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
      Drop("lost", ErrnoStatus("connection lost"));
      return false;
    }
    redisReaderFeed(reader_, buffer, static_cast<size_t>(n));
    while (true) {
      void* raw = nullptr;
      if (redisReaderGetReply(reader_, &raw) != REDIS_OK) {
        Drop("unparsable", absl::UnavailableError("redis: a reply could not be parsed"));
        return false;
      }
      if (raw == nullptr) break;
      RedisReply reply = redis_wire::TakeReply(raw);
      if (in_flight_.empty()) {
        Drop("unparsable", absl::UnavailableError("redis: a reply no command waits for"));
        return false;
      }
      RedisCallback done = std::move(in_flight_.front().done);
      in_flight_.pop_front();
      if (reply.is_error()) {
        std::move(done)(RedisErrorStatus(reply));
      } else {
        std::move(done)(std::move(reply));
      }
    }
    if (static_cast<size_t>(n) < sizeof(buffer)) return true;
  }
}

void PipelinedRedis::Run() {
  std::string taken_wire;
  std::deque<Waiting> taken;
  Clock::time_point next_connect{};
  absl::Status connect_failure;
  while (true) {
    bool stop = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop = stopping_;
      taken_wire.swap(queued_wire_);
      taken.swap(queued_);
      wake_pending_ = false;
    }
    if (stop) {
      Drop("", absl::UnavailableError("redis: the connection is shutting down"));
      FailAll(taken, absl::UnavailableError("redis: the connection is shutting down"));
      return;
    }
    if (!taken.empty()) {
      if (fd_ < 0 && Clock::now() >= next_connect) {
        connect_failure = Connect();
        if (!connect_failure.ok()) {
          next_connect = Clock::now() + kReconnectInterval;
          if (metrics_ != nullptr) metrics_->RecordRedisPipelineFailure("connect");
        }
      }
      if (fd_ < 0) {
        FailAll(taken, connect_failure);
      } else {
        if (out_.empty()) {
          out_.swap(taken_wire);
        } else {
          out_.append(taken_wire);
        }
        for (Waiting& w : taken) in_flight_.push_back(std::move(w));
        taken.clear();
        if (!Flush()) Drop("lost", ErrnoStatus("connection lost while writing"));
      }
      taken_wire.clear();
    }

    if (metrics_ != nullptr) metrics_->SetRedisPipelineWaiting(double(in_flight_.size()));
    int timeout_ms = -1;
    if (!in_flight_.empty()) {
      const auto left = in_flight_.front().deadline - Clock::now();
      timeout_ms = static_cast<int>(
          std::max<int64_t>(0, std::chrono::ceil<std::chrono::milliseconds>(left).count()));
    }
    epoll_event events[2];
    const int ready = epoll_wait(epoll_fd_, events, 2, timeout_ms);
    for (int i = 0; i < ready; ++i) {
      if (events[i].data.u32 == kWakeTag) {
        uint64_t count = 0;
        (void)!read(wake_fd_, &count, sizeof(count));
        continue;
      }
      if (fd_ < 0) continue;
      if ((events[i].events & EPOLLOUT) != 0 && !Flush()) {
        Drop("lost", ErrnoStatus("connection lost while writing"));
        continue;
      }
      if ((events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0) ReadReplies();
    }
    if (!in_flight_.empty() && Clock::now() >= in_flight_.front().deadline) {
      Drop("timeout", absl::UnavailableError(absl::StrCat("redis: no reply within ",
                                               absl::FormatDuration(options_.command_timeout))));
    }
  }
}

}  // namespace rooted
