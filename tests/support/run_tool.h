#ifndef ROOTED_TESTS_SUPPORT_RUN_TOOL_H_
#define ROOTED_TESTS_SUPPORT_RUN_TOOL_H_

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

#include "tests/support/local_stack.h"

namespace rooted::testing {

struct ToolResult {
  int exit_code = -1;
  std::string out;  // stdout and stderr together
};

// Runs `command` in a shell, as a user would.
inline ToolResult RunCommand(const std::string& command) {
  ToolResult result;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buffer;
  for (size_t n; (n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0;)
    result.out.append(buffer.data(), n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// Runs one of our tools (a path under the build directory, "tools/rootedctl")
// with `args`.
inline ToolResult RunTool(const std::string& tool, const std::string& args) {
  return RunCommand(BinaryDir() + "/" + tool + " " + args);
}

// A service process's /metrics page, as Prometheus reads it (empty when it
// does not answer).
inline std::string ScrapeMetrics(int metrics_port) {
  const ToolResult scraped = RunCommand(
      "curl --silent --max-time 5 http://127.0.0.1:" + std::to_string(metrics_port) + "/metrics");
  return scraped.exit_code == 0 ? scraped.out : "";
}

}  // namespace rooted::testing

#endif  // ROOTED_TESTS_SUPPORT_RUN_TOOL_H_
