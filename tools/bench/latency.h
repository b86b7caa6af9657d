#ifndef ROOTED_TOOLS_BENCH_LATENCY_H_
#define ROOTED_TOOLS_BENCH_LATENCY_H_

#include <algorithm>
#include <chrono>
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

}  // namespace rooted::bench

#endif  // ROOTED_TOOLS_BENCH_LATENCY_H_
