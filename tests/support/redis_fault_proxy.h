#ifndef ROOTED_TESTS_SUPPORT_REDIS_FAULT_PROXY_H_
#define ROOTED_TESTS_SUPPORT_REDIS_FAULT_PROXY_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/string_view.h"

namespace rooted::testing {

// The length of the first whole RESP value in `bytes` (a command or a reply),
// or 0 while it is still incomplete.
size_t WholeRespValue(absl::string_view bytes);

// A loopback front for a real redis-server that can stand in for Redis in
// trouble: told to, it answers every command with one of Redis's own error
// replies ("LOADING Redis is loading the dataset in memory", "OOM ...")
// without passing it on, as a restarting or full Redis does. Commands are
// passed on one at a time, each reply read back before the next command goes,
// so injected and real replies never change places in a client's pipeline.
class RedisFaultProxy {
 public:
  // Listens on a free loopback port (bound to port 0, then read back).
  explicit RedisFaultProxy(int upstream_port);
  ~RedisFaultProxy();
  RedisFaultProxy(const RedisFaultProxy&) = delete;
  RedisFaultProxy& operator=(const RedisFaultProxy&) = delete;

  int port() const { return port_; }
  // From now on every command is answered with "-<error>"; empty: every
  // command is passed on again.
  void AnswerWith(std::string error);
  // Commands answered with an injected error so far.
  int64_t refused() const { return refused_.load(); }

 private:
  void Accept();
  void Serve(int client);
  std::string Fault();

  const int upstream_port_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> refused_{0};
  std::mutex mu_;
  std::string error_;                 // guarded by mu_
  std::vector<int> open_;             // guarded by mu_: sockets to shut at the end
  std::vector<std::thread> workers_;  // guarded by mu_
  std::thread acceptor_;
};

}  // namespace rooted::testing

#endif  // ROOTED_TESTS_SUPPORT_REDIS_FAULT_PROXY_H_
