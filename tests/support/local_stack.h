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
// Racy on a busy machine: another process may take it first. For services,
// use ServiceProcess, which lets the service bind port 0 itself.
int FreePort();

// A service binary that binds its own ports: gRPC and metrics on the ports
// given (0: any free one) and --port-file, which it writes once serving. The
// constructor returns when the ports are known; it throws when the process
// exits first or 60 s pass.
class ServiceProcess {
 public:
  // `flags`: every flag but the two addresses and the port file.
  ServiceProcess(const std::string& binary, const std::vector<std::string>& flags,
                 int grpc_port = 0, int metrics_port = 0);
  int grpc_port() const { return grpc_port_; }
  int metrics_port() const { return metrics_port_; }
  pid_t pid() const { return process_->pid(); }
  void Kill() { process_->Kill(); }
  // SIGTERM, then the exit code (as ChildProcess::Terminate).
  int Terminate(absl::Duration timeout = absl::Seconds(10)) { return process_->Terminate(timeout); }

 private:
  std::string dir_;
  int grpc_port_ = 0;
  int metrics_port_ = 0;
  std::unique_ptr<ChildProcess> process_;
};

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
  // `port`: broker 1's loopback port (0: any free one). A broker started on
  // the port of one that is gone takes its place for every client.
  explicit Broker(int port = 0);
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

// The path of a register of schools written once for this test process, for
// a service's --schools-file: the URNs tests use, 100001 to 100999 in council
// 801 and 200001 to 200999 in council 802.
std::string TestSchoolRegister();

}  // namespace rooted::testing

#endif  // ROOTED_TESTS_SUPPORT_LOCAL_STACK_H_
