#include "common/base/ids.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace rooted {
namespace {

bool IsCanonicalVersion4(const std::string& id) {
  if (id.size() != 36) return false;
  for (size_t i = 0; i < id.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash != (id[i] == '-')) return false;
    if (!dash && !((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f'))) return false;
  }
  return id[14] == '4' && (id[19] == '8' || id[19] == '9' || id[19] == 'a' || id[19] == 'b');
}

TEST(NewUuidTest, IsACanonicalVersion4Uuid) {
  for (int i = 0; i < 1000; ++i) {
    const std::string id = NewUuid();
    EXPECT_TRUE(IsCanonicalVersion4(id)) << id;
    EXPECT_TRUE(IsValidRequestId(id)) << id;
  }
}

TEST(NewUuidTest, ManyThreadsNeverRepeatAnId) {
  constexpr int kThreads = 8;
  constexpr int kEach = 5000;  // several refills of each thread's block
  std::mutex mu;
  std::set<std::string> seen;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      std::vector<std::string> mine;
      for (int i = 0; i < kEach; ++i) mine.push_back(NewUuid());
      std::lock_guard<std::mutex> lock(mu);
      seen.insert(mine.begin(), mine.end());
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(seen.size(), size_t{kThreads} * kEach);
}

// A forked child must not hand out the ids its parent's buffered randomness
// would give next.
TEST(NewUuidTest, AForkedChildDoesNotRepeatItsParentsNextIds) {
  (void)NewUuid();  // the parent's block is filled and partly used
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const std::string id = NewUuid();
    const ssize_t written = write(pipe_fds[1], id.data(), id.size());
    _exit(written == static_cast<ssize_t>(id.size()) ? 0 : 1);
  }
  close(pipe_fds[1]);
  const std::string parents_next = NewUuid();
  std::string childs(36, '\0');
  size_t got = 0;
  while (got < childs.size()) {
    const ssize_t n = read(pipe_fds[0], childs.data() + got, childs.size() - got);
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  close(pipe_fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT_EQ(got, childs.size());
  EXPECT_TRUE(IsCanonicalVersion4(childs)) << childs;
  EXPECT_NE(childs, parents_next);
}

TEST(IsValidRequestIdTest, AcceptsOnlyTheDocumentedShape) {
  EXPECT_TRUE(IsValidRequestId("abcd-123_XY"));
  EXPECT_FALSE(IsValidRequestId("short"));
  EXPECT_FALSE(IsValidRequestId(std::string(65, 'a')));
  EXPECT_FALSE(IsValidRequestId("has space in it"));
}

}  // namespace
}  // namespace rooted
