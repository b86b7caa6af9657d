#ifndef ROOTED_SERVICES_FUND_PAYMENTS_FUND_STORE_H_
#define ROOTED_SERVICES_FUND_PAYMENTS_FUND_STORE_H_

#include <string>

#include "common/redis/record_store.h"

namespace rooted::fund {

using rooted::Versioned;

// Fund payments' records beside its ledger, in one Redis under one prefix.
class FundStore final : public RecordStore {
 public:
  using RecordStore::RecordStore;

  std::string FundKey(const std::string& id) const { return Key("fund:", id); }
  std::string AllocationKey(const std::string& id) const { return Key("allocation:", id); }
  std::string RequestKey(const std::string& id) const { return Key("request:", id); }
  std::string PayeeKey(const std::string& id) const { return Key("payee:", id); }
  std::string FundsKey() const { return prefix() + ":funds"; }
  std::string AllocationsKey(const std::string& fund) const { return Key("allocations:", fund); }
  // Requests of a fund, scored by submission time (ms).
  std::string RequestsKey(const std::string& fund) const { return Key("requests:", fund); }
  std::string PaymentsKey() const { return prefix() + ":payments"; }  // payment id -> request id
  // Draft requests opened by forum decisions, by when they arrived (ms).
  std::string DraftsKey() const { return prefix() + ":drafts"; }
  static std::string DraftId(const std::string& decision_id) { return "draft-" + decision_id; }
  // Per fund: "<category>:committed|paid" and "<allocation>:paid" in pence.
  std::string FiguresKey(const std::string& fund) const { return Key("figures:", fund); }
};

}  // namespace rooted::fund

#endif  // ROOTED_SERVICES_FUND_PAYMENTS_FUND_STORE_H_
