#ifndef ROOTED_TOOLS_BENCH_CPU_ACCOUNT_H_
#define ROOTED_TOOLS_BENCH_CPU_ACCOUNT_H_

#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <map>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

namespace rooted::bench {

// CPU seconds (user + system) used so far by the process or thread whose
// stat file this is (/proc/<pid>/stat, /proc/<pid>/task/<tid>/stat), and its
// name; 0 when it cannot be read (not Linux, gone).
inline double StatCpuSeconds(const std::string& path, std::string* name = nullptr) {
  std::ifstream in(path);
  std::string stat;
  std::getline(in, stat);
  // The command name (field 2) may hold spaces; the fields after it do not.
  const size_t name_start = stat.find('(');
  const size_t name_end = stat.rfind(')');
  if (name_start == std::string::npos || name_end == std::string::npos) return 0;
  if (name != nullptr) *name = stat.substr(name_start + 1, name_end - name_start - 1);
  std::istringstream fields(stat.substr(name_end + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  // Fields 3..13 come before utime (14) and stime (15).
  for (int i = 3; i <= 13 && (fields >> field); ++i) {
  }
  fields >> utime >> stime;
  return double(utime + stime) / double(sysconf(_SC_CLK_TCK));
}

inline double ProcessCpuSeconds(pid_t pid) { return StatCpuSeconds("/proc/" + std::to_string(pid) + "/stat"); }

// Each thread of a process: its CPU seconds so far and its name, by thread id.
inline std::map<std::string, std::pair<std::string, double>> ThreadCpuSeconds(pid_t pid) {
  std::map<std::string, std::pair<std::string, double>> threads;
  std::error_code error;
  for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", error)) {
    std::string name;
    const double seconds = StatCpuSeconds(task.path().string() + "/stat", &name);
    threads[task.path().filename().string()] = {name, seconds};
  }
  return threads;
}

// The whole machine's CPU time so far, from /proc/stat's first line, in clock
// ticks: all of it, the idle part, and the part the hypervisor gave to other
// guests ("steal"). All 0 when it cannot be read.
struct MachineTicks {
  double total = 0;
  double idle = 0;
  double stolen = 0;

  static MachineTicks Now() {
    std::ifstream in("/proc/stat");
    std::string label;
    double user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
    in >> label >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal;
    if (label != "cpu") return {};
    return {user + nice + system + idle + iowait + irq + softirq + steal, idle + iowait, steal};
  }
  MachineTicks operator-(const MachineTicks& o) const { return {total - o.total, idle - o.idle, stolen - o.stolen}; }
  MachineTicks& operator+=(const MachineTicks& o) {
    total += o.total;
    idle += o.idle;
    stolen += o.stolen;
    return *this;
  }
};

// Where a benchmark phase's CPU went, process by process: what one request
// costs in each (so the one that sets the ceiling is plain) and what share of
// one core each used. Redis is single-threaded, so its share of one core is a
// hard limit on throughput however the rest is made faster.
class CpuAccount {
 public:
  void Add(std::string name, pid_t pid) { processes_.push_back({std::move(name), pid}); }
  // Also reports what share of this process's CPU each of its threads used
  // (threads of one name together): which part of a service a speed-up must
  // come from. Read from /proc, as a sampling profiler on a VM can charge a
  // waiting thread with time it did not run.
  void BreakDownByThread(pid_t pid) { broken_down_ = pid; }

  // Starts counting afresh.
  void Start() {
    for (Process& p : processes_) p.counted = 0;
    machine_counted_ = {};
    thread_counted_.clear();
    Resume();
  }
  // Pause() and Resume() leave out what runs in between (another phase of an
  // interleaved run).
  void Pause() {
    for (Process& p : processes_) p.counted += ProcessCpuSeconds(p.pid) - p.start;
    machine_counted_ += MachineTicks::Now() - machine_start_;
    CountThreads();
    running_ = false;
  }
  void Resume() {
    for (Process& p : processes_) p.start = ProcessCpuSeconds(p.pid);
    machine_start_ = MachineTicks::Now();
    if (broken_down_ != 0) thread_start_ = ThreadCpuSeconds(broken_down_);
    running_ = true;
  }

  // `requests` completed in `seconds` of counted time since Start().
  void Report(std::ostream& out, double requests, double seconds, const std::string& unit) const {
    if (requests <= 0 || seconds <= 0) return;
    out << "  CPU per " << unit << ":";
    double total = 0;
    for (const Process& p : processes_) {
      const double used = p.counted + (running_ ? ProcessCpuSeconds(p.pid) - p.start : 0);
      total += used;
      out << "  " << p.name << " " << std::fixed << std::setprecision(0) << 1e6 * used / requests
          << " us (" << 100 * used / seconds << "% of a core)";
    }
    out << "  = " << std::fixed << std::setprecision(0) << 1e6 * total / requests << " us; "
        << sysconf(_SC_NPROCESSORS_ONLN) << " cores allow at most "
        << double(sysconf(_SC_NPROCESSORS_ONLN)) * requests / total << "/s at this cost\n";
    ReportThreads(out);
    MachineTicks machine = machine_counted_;
    if (running_) machine += MachineTicks::Now() - machine_start_;
    if (machine.total > 0) {
      // Time the hypervisor gave to other guests is time none of these
      // processes could run: a run with much of it is slow for that alone.
      out << "  machine: " << std::fixed << std::setprecision(0) << 100 * machine.idle / machine.total
          << "% idle, " << 100 * machine.stolen / machine.total << "% stolen by the host\n";
    }
  }

 private:
  // Adds what each thread used since Resume() to `counted`, by thread name
  // (a thread started since then counts from zero).
  void AddThreadUse(std::map<std::string, double>& counted) const {
    for (const auto& [tid, now] : ThreadCpuSeconds(broken_down_)) {
      const auto start = thread_start_.find(tid);
      counted[now.first] += now.second - (start == thread_start_.end() ? 0 : start->second.second);
    }
  }

  void CountThreads() {
    if (broken_down_ != 0) AddThreadUse(thread_counted_);
  }

  void ReportThreads(std::ostream& out) const {
    if (broken_down_ == 0) return;
    std::map<std::string, double> counted = thread_counted_;
    if (running_) AddThreadUse(counted);
    std::vector<std::pair<double, std::string>> by_use;
    double total = 0;
    for (const auto& [name, used] : counted) {
      by_use.push_back({used, name});
      total += used;
    }
    if (total <= 0) return;
    std::sort(by_use.rbegin(), by_use.rend());
    std::string process = "pid " + std::to_string(broken_down_);
    for (const Process& p : processes_) {
      if (p.pid == broken_down_) process = p.name;
    }
    out << "    " << process << " by thread:";
    for (size_t i = 0; i < by_use.size() && i < 8 && by_use[i].first > 0; ++i) {
      out << (i == 0 ? " " : ", ") << by_use[i].second << " " << std::fixed << std::setprecision(0)
          << 100 * by_use[i].first / total << "%";
    }
    out << "\n";
  }

  struct Process {
    std::string name;
    pid_t pid;
    double start = 0;
    double counted = 0;
  };
  std::vector<Process> processes_;
  MachineTicks machine_start_;
  MachineTicks machine_counted_;
  pid_t broken_down_ = 0;
  std::map<std::string, std::pair<std::string, double>> thread_start_;
  std::map<std::string, double> thread_counted_;  // CPU seconds by thread name
  bool running_ = false;
};

}  // namespace rooted::bench

#endif  // ROOTED_TOOLS_BENCH_CPU_ACCOUNT_H_
