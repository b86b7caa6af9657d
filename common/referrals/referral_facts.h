#ifndef ROOTED_COMMON_REFERRALS_REFERRAL_FACTS_H_
#define ROOTED_COMMON_REFERRALS_REFERRAL_FACTS_H_

#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/redis/record_store.h"
#include "common/server/access_policy.h"
#include "rooted/referral/v1/referral_events.pb.h"
#include "rooted/referral/v1/referral_facts.pb.h"

namespace rooted {

// Folds one referral event into what is kept of its referral: false when
// the event changes nothing kept (so nothing need be written).
bool FoldReferralEvent(const referral::v1::ReferralEvent& event,
                       referral::v1::ReferralFacts& facts);

// The referral an event is about ("" for none).
std::string ReferralIdOf(const referral::v1::ReferralEvent& event);

// Whose the referral is, for the access rules that name one: its school, its
// council and the partners it was allocated to.
RecordOwner OwnerOfReferral(const referral::v1::ReferralFacts& facts);

// FAILED_PRECONDITION naming `field` when the referral is withdrawn or its
// case closed, or when the family's consent does not cover `use`.
absl::Status CheckReferralUse(const referral::v1::ReferralFacts& facts,
                              referral::v1::ConsentScope use, absl::string_view field);

// The answer for a referral not known here, and (the same answer, so that
// nothing is learnt) for one the caller may not act on: its event may still
// be on its way, so UNAVAILABLE with a retry hint; a referral that does not
// exist stays unknown however often it is asked for.
absl::Status ReferralNotKnownHere(absl::string_view field);

// What a service keeps of the referrals it acts on without owning them: the
// facts in its own Redis ("<prefix>:referral-facts:<id>", versioned like any
// record) and a bounded copy in memory, so the busiest calls need no look-up.
// The copy may be behind another replica's writes: a change that depends on
// the facts guards its write with FactsUnchanged and, when that fails, reads
// them again with `fresh`.
// Thread safety: safe to call concurrently.
class ReferralFactsKeeper {
 public:
  using Facts = Versioned<referral::v1::ReferralFacts>;

  explicit ReferralFactsKeeper(RecordStore& store, size_t remembered = 100'000)
      : store_(store), capacity_(remembered) {}

  std::string Key(const std::string& referral_id) const;

  // nullopt when nothing is known of the referral.
  absl::StatusOr<std::optional<Facts>> Find(const std::string& referral_id, bool fresh = false);
  // From memory only: nullopt when not remembered.
  std::optional<Facts> Remembered(const std::string& referral_id) const;

  // Adds the facts as `event` leaves them to `batch` (a consumer's step, with
  // its processed mark): what is to be remembered once the batch commits, or
  // nullopt when the event changes nothing kept. `now`, when given, gets the
  // facts as the event leaves them, changed or not (empty when none).
  absl::StatusOr<std::optional<Facts>> Stage(WriteBatch& batch,
                                             const referral::v1::ReferralEvent& event,
                                             Facts* now = nullptr);
  void Remember(const Facts& facts);

  // The hash field and value a write may require, so that it lands only if
  // the facts are still those it was checked against.
  struct Guard {
    std::string key;
    std::string field;
    std::string expected;
  };
  Guard FactsUnchanged(const Facts& facts) const;

 private:
  RecordStore& store_;
  const size_t capacity_;
  mutable std::mutex mu_;
  absl::flat_hash_map<std::string, Facts> remembered_;
  std::deque<std::string> order_;  // oldest first, for eviction
};

// The owners of "referral" records in a service that keeps referral facts.
// A referral the caller may not act on is answered as one not known here.
class ReferralFactsOwners final : public RecordOwners {
 public:
  explicit ReferralFactsOwners(ReferralFactsKeeper& keeper) : keeper_(keeper) {}
  bool Keeps(absl::string_view kind) const override { return kind == "referral"; }
  absl::StatusOr<RecordOwner> OwnerOf(absl::string_view kind, const std::string& id) const override;
  absl::Status Unseen(absl::string_view kind, absl::string_view field) const override;

 private:
  ReferralFactsKeeper& keeper_;
};

}  // namespace rooted

#endif  // ROOTED_COMMON_REFERRALS_REFERRAL_FACTS_H_
