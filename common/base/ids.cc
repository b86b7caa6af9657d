#include "common/base/ids.h"

#include <openssl/rand.h>
#include <pthread.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>

#include "absl/strings/string_view.h"

namespace rooted {

namespace {

// Bumped in a forked child, so it never hands out bytes its parent also has.
std::atomic<uint64_t> fork_generation{0};

void AfterForkInChild() { fork_generation.fetch_add(1, std::memory_order_relaxed); }

// Each RAND_bytes call takes OpenSSL's DRBG lock and costs microseconds, far
// more than the 16 bytes it gives. Each thread draws a block at a time
// instead: still all from the CSPRNG, and every byte used once.
class RandomBlock {
 public:
  void Take(unsigned char* out, size_t n) {
    const uint64_t generation = fork_generation.load(std::memory_order_relaxed);
    if (used_ + n > bytes_.size() || generation != generation_) {
      if (RAND_bytes(bytes_.data(), static_cast<int>(bytes_.size())) != 1) {
        // Without randomness we cannot make unique ids; nothing sensible remains.
        std::abort();
      }
      used_ = 0;
      generation_ = generation;
    }
    std::memcpy(out, bytes_.data() + used_, n);
    // Bytes handed out are wiped, so a later look at this memory cannot
    // recover ids already issued.
    std::memset(bytes_.data() + used_, 0, n);
    used_ += n;
  }

 private:
  std::array<unsigned char, 1024> bytes_{};
  size_t used_ = bytes_.size();
  uint64_t generation_ = 0;
};

void RandomBytes(unsigned char* out, size_t n) {
  static const int registered = pthread_atfork(nullptr, nullptr, AfterForkInChild);
  (void)registered;
  thread_local RandomBlock block;
  block.Take(out, n);
}

}  // namespace

std::string NewUuid() {
  std::array<unsigned char, 16> bytes;
  RandomBytes(bytes.data(), bytes.size());
  bytes[6] = static_cast<unsigned char>((bytes[6] & 0x0f) | 0x40);
  bytes[8] = static_cast<unsigned char>((bytes[8] & 0x3f) | 0x80);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[bytes[i] >> 4]);
    out.push_back(kHex[bytes[i] & 0x0f]);
  }
  return out;
}

bool IsValidRequestId(absl::string_view text) {
  if (text.size() < 8 || text.size() > 64) return false;
  for (char c : text) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

}  // namespace rooted
