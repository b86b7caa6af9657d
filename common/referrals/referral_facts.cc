#include "common/referrals/referral_facts.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/base/retry_later.h"
#include "common/base/status_macros.h"

namespace rooted {
namespace rv1 = rooted::referral::v1;
namespace {

bool SetIfChanged(std::string* kept, const std::string& told) {
  if (told.empty() || *kept == told) return false;
  *kept = told;
  return true;
}

template <typename Scopes>
bool SetConsented(rv1::ReferralFacts& facts, const Scopes& scopes) {
  std::vector<int> now(scopes.begin(), scopes.end());
  std::sort(now.begin(), now.end());
  now.erase(std::unique(now.begin(), now.end()), now.end());
  if (std::equal(now.begin(), now.end(), facts.consented().begin(), facts.consented().end())) {
    return false;
  }
  facts.clear_consented();
  for (int scope : now) facts.add_consented(static_cast<rv1::ConsentScope>(scope));
  return true;
}

std::string UseName(rv1::ConsentScope use) {
  switch (use) {
    case rv1::CONSENT_SCOPE_FORUM:
      return "sharing with the Multi-Agency Forum";
    case rv1::CONSENT_SCOPE_SERVICES:
      return "sharing with directory services";
    case rv1::CONSENT_SCOPE_FUND:
      return "the local response fund";
    case rv1::CONSENT_SCOPE_EVALUATION:
      return "evaluation";
    default:
      return rv1::ConsentScope_Name(use);
  }
}

}  // namespace

std::string ReferralIdOf(const rv1::ReferralEvent& event) {
  switch (event.payload_case()) {
    case rv1::ReferralEvent::kReferralSubmitted:
      return event.referral_submitted().referral_id();
    case rv1::ReferralEvent::kReferralUpdated:
      return event.referral_updated().referral_id();
    case rv1::ReferralEvent::kReferralWithdrawn:
      return event.referral_withdrawn().referral_id();
    case rv1::ReferralEvent::kConsentRecorded:
      return event.consent_recorded().referral_id();
    case rv1::ReferralEvent::kCaseClosed:
      return event.case_closed().referral_id();
    case rv1::ReferralEvent::kLeadAllocated:
      return event.lead_allocated().referral_id();
    case rv1::ReferralEvent::kReferralScreened:
      return event.referral_screened().referral_id();
    default:
      return "";
  }
}

bool FoldReferralEvent(const rv1::ReferralEvent& event, rv1::ReferralFacts& facts) {
  bool changed = SetIfChanged(facts.mutable_referral_id(), ReferralIdOf(event));
  switch (event.payload_case()) {
    case rv1::ReferralEvent::kReferralSubmitted: {
      const rv1::ReferralSubmitted& e = event.referral_submitted();
      changed |= SetIfChanged(facts.mutable_pupil_ref()->mutable_value(), e.pupil_ref().value());
      changed |= SetIfChanged(facts.mutable_school_urn(), e.school_urn());
      changed |= SetIfChanged(facts.mutable_la_code(), e.la_code());
      changed |= SetConsented(facts, e.consent_scopes());
      if (facts.immediate_safeguarding_concern() != e.immediate_safeguarding_concern()) {
        facts.set_immediate_safeguarding_concern(e.immediate_safeguarding_concern());
        changed = true;
      }
      return changed;
    }
    case rv1::ReferralEvent::kReferralUpdated: {
      const rv1::ReferralUpdated& e = event.referral_updated();
      changed |= SetIfChanged(facts.mutable_pupil_ref()->mutable_value(), e.pupil_ref().value());
      changed |= SetIfChanged(facts.mutable_school_urn(), e.school_urn());
      changed |= SetIfChanged(facts.mutable_la_code(), e.la_code());
      return changed;
    }
    case rv1::ReferralEvent::kReferralWithdrawn:
      changed |= !facts.withdrawn();
      facts.set_withdrawn(true);
      return changed;
    case rv1::ReferralEvent::kConsentRecorded: {
      const rv1::ConsentRecorded& e = event.consent_recorded();
      if (e.status() == rv1::CONSENT_STATUS_GIVEN)
        return SetConsented(facts, e.scopes()) || changed;
      return SetConsented(facts, std::vector<int>{}) || changed;
    }
    case rv1::ReferralEvent::kCaseClosed:
      changed |= !facts.closed();
      facts.set_closed(true);
      return changed;
    case rv1::ReferralEvent::kLeadAllocated: {
      const std::string& partner = event.lead_allocated().partner_id();
      const auto& known = facts.partner_ids();
      if (partner.empty() || std::find(known.begin(), known.end(), partner) != known.end()) {
        return changed;
      }
      facts.add_partner_ids(partner);
      return true;
    }
    default:
      return changed;
  }
}

RecordOwner OwnerOfReferral(const rv1::ReferralFacts& facts) {
  RecordOwner owner;
  owner.la_code = facts.la_code();
  owner.school_urn = facts.school_urn();
  owner.partner_ids.assign(facts.partner_ids().begin(), facts.partner_ids().end());
  owner.pupil_ref = facts.pupil_ref().value();
  return owner;
}

absl::Status CheckReferralUse(const rv1::ReferralFacts& facts, rv1::ConsentScope use,
                              absl::string_view field) {
  if (facts.withdrawn()) {
    return absl::FailedPreconditionError(absl::StrCat(field, ": the referral was withdrawn"));
  }
  if (facts.closed()) {
    return absl::FailedPreconditionError(absl::StrCat(field, ": the case is closed"));
  }
  const auto& consented = facts.consented();
  if (std::find(consented.begin(), consented.end(), use) == consented.end()) {
    return absl::FailedPreconditionError(
        absl::StrCat(field, ": the family's consent does not cover ", UseName(use),
                     " (record it with RecordConsent)"));
  }
  return absl::OkStatus();
}

absl::Status ReferralNotKnownHere(absl::string_view field) {
  return RetryLater(absl::StrCat(field,
                                 ": no referral of yours with this id is known here yet; one made "
                                 "moments ago arrives within seconds, so retry shortly"),
                    absl::Seconds(1));
}

std::string ReferralFactsKeeper::Key(const std::string& referral_id) const {
  return absl::StrCat(store_.prefix(), ":referral-facts:", referral_id);
}

std::optional<ReferralFactsKeeper::Facts> ReferralFactsKeeper::Remembered(
    const std::string& referral_id) const {
  std::lock_guard lock(mu_);
  auto it = remembered_.find(referral_id);
  if (it == remembered_.end()) return std::nullopt;
  return it->second;
}

absl::StatusOr<std::optional<ReferralFactsKeeper::Facts>> ReferralFactsKeeper::Find(
    const std::string& referral_id, bool fresh) {
  if (!fresh) {
    if (std::optional<Facts> remembered = Remembered(referral_id)) return remembered;
  }
  absl::StatusOr<Facts> loaded = store_.Load<rv1::ReferralFacts>(Key(referral_id), "referral_id");
  if (absl::IsNotFound(loaded.status())) return std::nullopt;
  if (!loaded.ok()) return loaded.status();
  Remember(*loaded);
  return *std::move(loaded);
}

absl::StatusOr<std::optional<ReferralFactsKeeper::Facts>> ReferralFactsKeeper::Stage(
    WriteBatch& batch, const rv1::ReferralEvent& event, Facts* now) {
  const std::string id = ReferralIdOf(event);
  if (id.empty()) return std::nullopt;
  ASSIGN_OR_RETURN(std::optional<Facts> known, Find(id, /*fresh=*/true));
  Facts facts = known.value_or(Facts{});
  const bool changed = FoldReferralEvent(event, facts.record);
  if (now != nullptr) *now = changed ? Facts{facts.record, facts.version + 1} : facts;
  if (!changed) return std::nullopt;
  store_.Put(batch, Key(id), facts.record, facts.version);
  ++facts.version;
  return facts;
}

void ReferralFactsKeeper::Remember(const Facts& facts) {
  std::lock_guard lock(mu_);
  const std::string& id = facts.record.referral_id();
  auto [it, added] = remembered_.insert_or_assign(id, facts);
  if (!added) return;
  order_.push_back(id);
  while (remembered_.size() > capacity_ && !order_.empty()) {
    remembered_.erase(order_.front());
    order_.pop_front();
  }
}

ReferralFactsKeeper::Guard ReferralFactsKeeper::FactsUnchanged(const Facts& facts) const {
  return {Key(facts.record.referral_id()), "version", std::to_string(facts.version)};
}

absl::StatusOr<RecordOwner> ReferralFactsOwners::OwnerOf(absl::string_view kind,
                                                         const std::string& id) const {
  if (kind != "referral") return absl::NotFoundError("no such record");
  ASSIGN_OR_RETURN(std::optional<ReferralFactsKeeper::Facts> facts, keeper_.Find(id));
  if (!facts) return absl::NotFoundError("no such referral");
  return OwnerOfReferral(facts->record);
}

absl::Status ReferralFactsOwners::Unseen(absl::string_view, absl::string_view field) const {
  return ReferralNotKnownHere(field);
}

}  // namespace rooted
