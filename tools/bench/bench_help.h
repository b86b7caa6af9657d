#ifndef ROOTED_TOOLS_BENCH_BENCH_HELP_H_
#define ROOTED_TOOLS_BENCH_BENCH_HELP_H_

#include <iostream>
#include <string_view>

namespace rooted::bench {

// Every bench answers --help (or -h) with what it measures and its flags,
// without starting anything: true when it did.
inline bool AnsweredHelp(int argc, char** argv, std::string_view usage) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << usage;
      return true;
    }
  }
  return false;
}

}  // namespace rooted::bench

#endif  // ROOTED_TOOLS_BENCH_BENCH_HELP_H_
