#ifndef ROOTED_SERVICES_FUND_PAYMENTS_LEDGER_H_
#define ROOTED_SERVICES_FUND_PAYMENTS_LEDGER_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/functional/any_invocable.h"
#include "common/redis/pipelined_redis.h"
#include "common/redis/redis_client.h"

namespace rooted::fund {

// Ledger accounts. Money only moves between accounts, in pence; the source
// account ("budget:<fund>") is where a fund's money comes from and may go
// negative, as an equity account does; every other account may not.
namespace account {
std::string Budget(const std::string& fund_id);           // the fund's source
std::string Pool(const std::string& fund_id);             // budget not yet allocated
std::string Allocation(const std::string& allocation_id);  // available to spend
std::string Committed(const std::string& allocation_id);  // held for submitted requests
std::string Payable(const std::string& fund_id);          // approved, awaiting payment
std::string Paid(const std::string& fund_id);             // paid out
// What a child has had from a fund in its period: fed from the fund's caps
// source by each request (under a ceiling, the per-child limit) and given
// back when one is rejected, fails or is refunded.
std::string ChildCapsSource(const std::string& fund_id);
std::string ChildUsed(const std::string& fund_id, const std::string& pupil_ref);
}  // namespace account

struct Leg {
  std::string from;
  std::string to;
  int64_t pence = 0;
};

// An account that may not end a transfer above `max_balance` (a child's limit
// for the period): checked in the same atomic step as the legs.
struct Ceiling {
  std::string account;
  int64_t max_balance = 0;
};

// One balanced movement of money: each leg takes from one account and gives
// to another, so a transfer can never create or lose a penny.
struct Transfer {
  // Unique; a transfer applied once is never applied again.
  std::string transfer_id;
  // What it is for ("commit", "approve", "settle", ...), and free metadata
  // such as the request id and category, kept with its entries for reports.
  std::string kind;
  std::string reference;
  std::vector<Leg> legs;
  std::vector<Ceiling> ceilings = {};
};

enum class TransferResult { kApplied, kAlreadyApplied };

// Whether this very call moved the money (not a replay, not a refusal).
inline bool AppliedNow(const absl::StatusOr<TransferResult>& result) {
  return result.ok() && *result == TransferResult::kApplied;
}

// What else changes with a transfer, in the same atomic step: the records
// and events that go with the money. Preconditions are checked first (a hash
// field holding a value; empty: absent), commands run only if the transfer
// is applied.
struct LedgerWrite {
  struct Precondition {
    std::string key;
    std::string field;
    std::string expected;
  };
  std::vector<Precondition> preconditions;
  std::vector<std::vector<std::string>> commands;
};

// The ledger: balances and an append-only journal in Redis, changed only by
// one Lua script, so each transfer is checked and applied atomically even
// with many writers. Nothing in the journal is ever edited or deleted.
// Thread safety: safe to call concurrently.
class Ledger {
 public:
  // Transfers applied without waiting go through `pipe`, everything else
  // through `redis`.
  Ledger(RedisClient& redis, PipelinedRedis& pipe, std::string prefix);

  // FAILED_PRECONDITION naming the account that would go below zero or above
  // its ceiling (and nothing is written); ABORTED when a precondition of `with` failed;
  // INVALID_ARGUMENT for a malformed transfer.
  // `with` is taken by value: pass it with std::move and its records are not
  // copied on their way to Redis.
  absl::StatusOr<TransferResult> Apply(const Transfer& transfer, absl::Time at, LedgerWrite with = {});
  using ApplyCallback = absl::AnyInvocable<void(absl::StatusOr<TransferResult>) &&>;
  // The same without waiting: `done` gets the result on the pipe's I/O thread.
  void Apply(const Transfer& transfer, absl::Time at, LedgerWrite with, ApplyCallback done);

  // Many transfers in one round trip, each applied or refused on its own as
  // Apply would (a bank file's lines): one result per move, in order.
  struct Move {
    Transfer transfer;
    LedgerWrite with;
  };
  std::vector<absl::StatusOr<TransferResult>> ApplyEach(std::vector<Move> moves, absl::Time at);

  absl::StatusOr<int64_t> Balance(const std::string& account);
  absl::StatusOr<std::map<std::string, int64_t>> Balances();
  // The balances of the accounts named (0 for one never used), in one round trip.
  absl::StatusOr<std::map<std::string, int64_t>> BalancesOf(const std::vector<std::string>& accounts);

  // One account's change in one transfer.
  struct Entry {
    std::string entry_id;  // unique: the transfer's journal position and the account's place in it
    std::string transfer_id;
    std::string account;
    int64_t delta = 0;
    std::string kind;
    std::string reference;
    std::string at;  // RFC 3339
  };
  // The journal in order, from `after` (a journal position, the first of each
  // pair; "-" for the start): each entry with its transfer's position, for at
  // most `count` transfers.
  absl::StatusOr<std::vector<std::pair<std::string, Entry>>> Journal(const std::string& after,
                                                                     size_t count);

  // Checks the ledger's invariants over the whole journal: every transfer's
  // entries sum to zero, each account's entries sum to its balance, and no
  // account but a budget is below zero. INTERNAL describing the first breach.
  absl::Status CheckInvariants();

  const std::string& prefix() const { return prefix_; }

 private:
  std::vector<std::string> Keys() const;

  RedisClient& redis_;
  PipelinedRedis& pipe_;
  const std::string prefix_;
};

}  // namespace rooted::fund

#endif  // ROOTED_SERVICES_FUND_PAYMENTS_LEDGER_H_
