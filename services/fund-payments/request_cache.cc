#include "services/fund-payments/request_cache.h"

namespace rooted::fund {

std::optional<Versioned<v1::FundRequest>> RequestCache::Request(const std::string& request_id) const {
  std::lock_guard lock(mu_);
  auto it = requests_.find(request_id);
  if (it == requests_.end()) return std::nullopt;
  return it->second;
}

// Taken by value: any copy is made by the caller, outside the lock.
void RequestCache::RememberRequest(v1::FundRequest request, int64_t version) {
  std::lock_guard lock(mu_);
  if (requests_.size() >= capacity_) requests_.clear();
  Versioned<v1::FundRequest>& entry = requests_[request.request_id()];
  // Never step back: a slower writer of an older version must not hide a newer one.
  if (entry.version > version) return;
  entry.record = std::move(request);
  entry.version = version;
}

std::optional<std::string> RequestCache::RequestOfPayment(const std::string& payment_id) const {
  std::lock_guard lock(mu_);
  auto it = payments_.find(payment_id);
  if (it == payments_.end()) return std::nullopt;
  return it->second;
}

void RequestCache::RememberPayment(const std::string& payment_id, const std::string& request_id) {
  std::lock_guard lock(mu_);
  if (payments_.size() >= capacity_) payments_.clear();
  payments_.insert_or_assign(payment_id, request_id);
}

}  // namespace rooted::fund
