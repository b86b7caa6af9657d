// The binaries are meant to run on tcmalloc (see ROOTED_TCMALLOC in the top
// CMakeLists.txt). Nothing calls it by name, so a toolchain that drops
// "unused" libraries would silently bring back glibc's allocator; this test
// is built the way every binary is and fails if that happens.

#include <dlfcn.h>

#include <cstdlib>
#include <string>

#include "gtest/gtest.h"

namespace {

TEST(AllocatorTest, MallocIsTcmallocWhenConfigured) {
#ifdef ROOTED_TCMALLOC
  Dl_info info{};
  void* (*resolved)(size_t) = &std::malloc;
  ASSERT_NE(dladdr(reinterpret_cast<void*>(resolved), &info), 0);
  ASSERT_NE(info.dli_fname, nullptr);
  EXPECT_NE(std::string(info.dli_fname).find("tcmalloc"), std::string::npos) << info.dli_fname;
#else
  GTEST_SKIP() << "built without ROOTED_TCMALLOC (sanitizer builds use ASan's allocator)";
#endif
}

}  // namespace
