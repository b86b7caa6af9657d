#include "services/fund-payments/request_cache.h"

namespace rooted::fund {

std::optional<Versioned<v1::FundRequest>> RequestCache::Request(const std::string& request_id) const {
  std::lock_guard lock(mu_);
  const Versioned<v1::FundRequest>* found = requests_.Find(request_id);
  if (found == nullptr) return std::nullopt;
  return *found;
}

// Taken by value: any copy is made by the caller, outside the lock.
void RequestCache::RememberRequest(v1::FundRequest request, int64_t version) {
  std::lock_guard lock(mu_);
  // Never step back: a slower writer of an older version must not hide a newer one.
  if (const Versioned<v1::FundRequest>* known = requests_.Find(request.request_id());
      known != nullptr && known->version > version) {
    return;
  }
  Versioned<v1::FundRequest>& entry = requests_.Slot(request.request_id(), generation_size_);
  entry.record = std::move(request);
  entry.version = version;
}

std::optional<std::string> RequestCache::RequestOfPayment(const std::string& payment_id) const {
  std::lock_guard lock(mu_);
  const std::string* found = payments_.Find(payment_id);
  if (found == nullptr) return std::nullopt;
  return *found;
}

void RequestCache::RememberPayment(const std::string& payment_id, const std::string& request_id) {
  std::lock_guard lock(mu_);
  payments_.Slot(payment_id, generation_size_) = request_id;
}

}  // namespace rooted::fund
