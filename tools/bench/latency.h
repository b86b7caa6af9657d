#ifndef ROOTED_TOOLS_BENCH_LATENCY_H_
#define ROOTED_TOOLS_BENCH_LATENCY_H_

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace rooted::bench {

using Clock = std::chrono::steady_clock;

inline double Millis(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

struct Percentiles {
  double p50 = 0, p99 = 0, max = 0;
};

// The 50th and 99th percentiles and the worst of latency samples (ms).
inline Percentiles Summarise(std::vector<double> samples) {
  if (samples.empty()) return {};
  std::sort(samples.begin(), samples.end());
  return {samples[samples.size() / 2], samples[samples.size() * 99 / 100], samples.back()};
}

// Watches for the whole machine pausing: a thread asks to sleep 1 ms at a
// time and records by how much it overslept. On a shared VM a late p99 can
// come from the host taking the CPUs away; a watcher that overslept as long as
// the slow calls took says so, one that never overslept points at the code.
class PauseWatch {
 public:
  PauseWatch() : thread_([this] { Watch(); }) {}
  ~PauseWatch() { Stop(); }
  PauseWatch(const PauseWatch&) = delete;
  PauseWatch& operator=(const PauseWatch&) = delete;

  void Stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  double longest_ms() const { return longest_ms_; }
  // Pauses over 10 ms: each can make every call in flight late.
  int long_pauses() const { return long_pauses_; }

 private:
  void Watch() {
    constexpr auto kStep = std::chrono::milliseconds(1);
    while (!stop_.load()) {
      const Clock::time_point before = Clock::now();
      std::this_thread::sleep_for(kStep);
      const double late = Millis(Clock::now() - before - kStep);
      longest_ms_ = std::max(longest_ms_, late);
      if (late > 10) ++long_pauses_;
    }
  }

  std::atomic<bool> stop_{false};
  double longest_ms_ = 0;
  int long_pauses_ = 0;
  std::thread thread_;
};

}  // namespace rooted::bench

#endif  // ROOTED_TOOLS_BENCH_LATENCY_H_
