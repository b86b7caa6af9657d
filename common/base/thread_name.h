#ifndef ROOTED_COMMON_BASE_THREAD_NAME_H_
#define ROOTED_COMMON_BASE_THREAD_NAME_H_

#include <pthread.h>

#include <string>
#include <string_view>

namespace rooted {

// Names the calling thread, as `top -H`, `perf` and /proc/<pid>/task show it:
// without a name every thread of ours shows as the program's own, and where a
// service spends its CPU cannot be told apart. Linux keeps 15 characters.
inline void NameThisThread(std::string_view name) {
  const std::string kept(name.substr(0, 15));
  pthread_setname_np(pthread_self(), kept.c_str());
}

}  // namespace rooted

#endif  // ROOTED_COMMON_BASE_THREAD_NAME_H_
