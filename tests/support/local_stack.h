#ifndef ROOTED_TESTS_SUPPORT_LOCAL_STACK_H_
#define ROOTED_TESTS_SUPPORT_LOCAL_STACK_H_

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace rooted::testing {

// A child process killed (SIGTERM, then SIGKILL) when this goes away.
class ChildProcess {
 public:
  // Starts argv[0] with stdout to `stdout_path` (empty: inherit).
  ChildProcess(const std::vector<std::string>& argv, const std::string& stdout_path);
  ~ChildProcess();
  pid_t pid() const { return pid_; }
  // Sends SIGTERM and waits; returns the exit status (or -signal).
  int Terminate(absl::Duration timeout = absl::Seconds(10));
  // Kills with SIGKILL, as a crash or an evicted pod would: no draining.
  void Kill();

 private:
  pid_t pid_ = -1;
};

// A free TCP port on 127.0.0.1 (bound and released; the caller binds it next).
int FreePort();

// A real redis-server on a free loopback port, with no persistence.
class RedisServer {
 public:
  RedisServer();
  int port() const { return port_; }
  pid_t pid() const { return process_->pid(); }

 private:
  int port_;
  std::unique_ptr<ChildProcess> process_;
};

// The project's rooted-broker (librdkafka's mock cluster) in its own process.
class Broker {
 public:
  Broker();
  const std::string& bootstrap() const { return bootstrap_; }
  pid_t pid() const { return process_->pid(); }

 private:
  std::string dir_;
  std::string bootstrap_;
  std::unique_ptr<ChildProcess> process_;
};

// A message read back from Kafka.
struct ReadMessage {
  std::string key;
  std::string payload;
  std::map<std::string, std::string> headers;
};

// Reads every message on `topic` from the beginning (all partitions assigned
// directly, no consumer group) until `expected` messages that `match` have
// arrived or `timeout` passes, then a short quiet period so extra copies show.
// Returns the matching messages.
std::vector<ReadMessage> ReadTopic(
    const std::string& bootstrap, const std::string& topic, size_t expected, absl::Duration timeout,
    const std::function<bool(const ReadMessage&)>& match = [](const ReadMessage&) { return true; });

// A temporary directory removed at exit of the test process.
std::string MakeTempDir();
// The build directory (from ROOTED_BIN_DIR, set by CTest).
std::string BinaryDir();

}  // namespace rooted::testing

#endif  // ROOTED_TESTS_SUPPORT_LOCAL_STACK_H_
