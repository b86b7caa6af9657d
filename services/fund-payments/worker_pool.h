#ifndef ROOTED_SERVICES_FUND_PAYMENTS_WORKER_POOL_H_
#define ROOTED_SERVICES_FUND_PAYMENTS_WORKER_POOL_H_

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "common/base/thread_name.h"

namespace rooted::fund {

// A few threads for the work that must block on Redis after a call's write
// came back without waiting: reading a first answer for a retry, explaining
// a refusal, starting again from Redis's copy. Such work is rare; the common
// case finishes on the Redis I/O thread, which must never block.
// Thread safety: Run may be called from any thread. The destructor runs what
// is queued, then joins.
class WorkerPool {
 public:
  explicit WorkerPool(int threads) {
    for (int i = 0; i < threads; ++i) {
      threads_.emplace_back([this] {
        NameThisThread("fund-worker");
        Work();
      });
    }
  }
  ~WorkerPool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    ready_.notify_all();
    for (std::thread& thread : threads_) thread.join();
  }
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void Run(absl::AnyInvocable<void() &&> work) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(std::move(work));
    }
    ready_.notify_one();
  }

 private:
  void Work() {
    while (true) {
      absl::AnyInvocable<void() &&> work;
      {
        std::unique_lock<std::mutex> lock(mu_);
        ready_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;
        work = std::move(queue_.front());
        queue_.pop_front();
      }
      std::move(work)();
    }
  }

  std::mutex mu_;
  std::condition_variable ready_;
  std::deque<absl::AnyInvocable<void() &&>> queue_;  // guarded by mu_
  bool stopping_ = false;                             // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace rooted::fund

#endif  // ROOTED_SERVICES_FUND_PAYMENTS_WORKER_POOL_H_
