#ifndef ROOTED_SERVICES_FUND_PAYMENTS_REQUEST_CACHE_H_
#define ROOTED_SERVICES_FUND_PAYMENTS_REQUEST_CACHE_H_

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
  // Entries kept at most for each map; when full it starts afresh.
  explicit RequestCache(size_t capacity = 16384) : capacity_(capacity) {}

  std::optional<Versioned<v1::FundRequest>> Request(const std::string& request_id) const;
  // Kept only if no newer version of it is already remembered.
  void RememberRequest(v1::FundRequest request, int64_t version);

  std::optional<std::string> RequestOfPayment(const std::string& payment_id) const;
  void RememberPayment(const std::string& payment_id, const std::string& request_id);

 private:
  const size_t capacity_;
  mutable std::mutex mu_;
  absl::flat_hash_map<std::string, Versioned<v1::FundRequest>> requests_;
  absl::flat_hash_map<std::string, std::string> payments_;
};

}  // namespace rooted::fund

#endif  // ROOTED_SERVICES_FUND_PAYMENTS_REQUEST_CACHE_H_
