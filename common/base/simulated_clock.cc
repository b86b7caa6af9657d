#include "common/base/simulated_clock.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace rooted {

absl::StatusOr<std::unique_ptr<SimulatedClock>> SimulatedClock::Open(const std::string& path, bool writable) {
  const int fd = open(path.c_str(), (writable ? O_RDWR | O_CREAT : O_RDONLY) | O_CLOEXEC, 0600);
  if (fd < 0) return absl::InvalidArgumentError(absl::StrCat(path, ": ", std::strerror(errno)));
  struct stat st {};
  if (fstat(fd, &st) != 0 || (st.st_size < off_t(sizeof(int64_t)) &&
                              (!writable || ftruncate(fd, sizeof(int64_t)) != 0))) {
    close(fd);
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not a simulated clock (", sizeof(int64_t), " bytes expected)"));
  }
  void* mapped = mmap(nullptr, sizeof(int64_t), writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
  close(fd);  // the mapping keeps the file
  if (mapped == MAP_FAILED) return absl::InternalError(absl::StrCat(path, ": mmap: ", std::strerror(errno)));
  return std::unique_ptr<SimulatedClock>(new SimulatedClock(static_cast<int64_t*>(mapped), writable));
}

SimulatedClock::~SimulatedClock() { munmap(offset_us_, sizeof(int64_t)); }

absl::Time SimulatedClock::Now() const {
  const int64_t offset = std::atomic_ref<int64_t>(*offset_us_).load(std::memory_order_acquire);
  return absl::Now() + absl::Microseconds(offset);
}

absl::Status SimulatedClock::StartAt(absl::Time t) {
  if (!writable_) return absl::FailedPreconditionError("this process may only read the simulated clock");
  std::atomic_ref<int64_t>(*offset_us_).store(absl::ToInt64Microseconds(t - absl::Now()), std::memory_order_release);
  return absl::OkStatus();
}

absl::Status SimulatedClock::AdvanceTo(absl::Time t) {
  if (!writable_) return absl::FailedPreconditionError("this process may only read the simulated clock");
  std::atomic_ref<int64_t> offset(*offset_us_);
  int64_t current = offset.load(std::memory_order_acquire);
  for (;;) {
    const int64_t wanted = absl::ToInt64Microseconds(t - absl::Now());
    if (wanted <= current) return absl::OkStatus();
    if (offset.compare_exchange_weak(current, wanted, std::memory_order_acq_rel)) return absl::OkStatus();
  }
}

}  // namespace rooted
