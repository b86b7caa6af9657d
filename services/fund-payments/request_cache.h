#ifndef ROOTED_SERVICES_FUND_PAYMENTS_REQUEST_CACHE_H_
#define ROOTED_SERVICES_FUND_PAYMENTS_REQUEST_CACHE_H_

#include <algorithm>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "common/redis/record_store.h"
#include "rooted/fund/v1/fund.pb.h"

namespace rooted::fund {

// The fund requests this replica wrote last, at the version it wrote, and
// which request each payment is for. A request moves submitted, approved,
// paid within seconds, and reading it back from Redis before each step was a
// round trip each time.
//
// A remembered request may be behind Redis (another replica, or a path that
// reads Redis directly, moved it on), so it is only ever a starting point for
// a write guarded by its version: if the version has moved the write is
// refused (ABORTED) and the caller decides again from Redis. Nothing is decided finally from a remembered copy that
// Redis would contradict. A payment's request never changes.
// Thread safety: safe to call concurrently.
class RequestCache {
 public:
  // Entries kept at most for each map. The newer half is kept when it is
  // full: a request remembered just before then is still found after.
  explicit RequestCache(size_t capacity = 16384) : generation_size_(std::max<size_t>(1, capacity / 2)) {}

  std::optional<Versioned<v1::FundRequest>> Request(const std::string& request_id) const;
  // Kept only if no newer version of it is already remembered.
  void RememberRequest(v1::FundRequest request, int64_t version);

  std::optional<std::string> RequestOfPayment(const std::string& payment_id) const;
  void RememberPayment(const std::string& payment_id, const std::string& request_id);

 private:
  // Two generations of a map: entries go into the current one; when it is
  // full it becomes the previous one and the one before is dropped.
  template <typename Value>
  struct Generations {
    absl::flat_hash_map<std::string, Value> current;
    absl::flat_hash_map<std::string, Value> previous;

    const Value* Find(const std::string& key) const {
      if (auto it = current.find(key); it != current.end()) return &it->second;
      if (auto it = previous.find(key); it != previous.end()) return &it->second;
      return nullptr;
    }
    // The current generation's entry for `key`, turning over first if full.
    Value& Slot(const std::string& key, size_t generation_size) {
      if (current.size() >= generation_size && !current.contains(key)) {
        previous = std::move(current);
        current.clear();
      }
      return current[key];
    }
  };

  const size_t generation_size_;
  mutable std::mutex mu_;
  Generations<Versioned<v1::FundRequest>> requests_;
  Generations<std::string> payments_;
};

}  // namespace rooted::fund

#endif  // ROOTED_SERVICES_FUND_PAYMENTS_REQUEST_CACHE_H_
