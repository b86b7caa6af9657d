#include "services/forum-scheduling/forum_event_handler.h"

#include "absl/strings/numbers.h"
#include "common/auth/principal.h"
#include "common/base/status_macros.h"
#include "common/kafka/event_metadata.h"
#include "common/kafka/topics.h"
#include "rooted/forum/v1/forum_events.pb.h"
#include "rooted/referral/v1/referral_events.pb.h"
#include "rooted/risk/v1/risk_events.pb.h"
#include "services/forum-scheduling/cases.h"

namespace rooted::forum {
namespace cv1 = rooted::common::v1;
namespace rv1 = rooted::referral::v1;

struct ForumEventHandler::Listing {
  std::string referral_id;
  std::string pupil_ref;
  std::string school_urn;
  bool safeguarding_concern = false;
};

ForumEventHandler::ForumEventHandler(ForumStore& store, ReferralFactsKeeper& referrals,
                                     const Clock& clock, absl::TimeZone zone,
                                     std::string producer_name)
    : store_(store),
      referrals_(referrals),
      clock_(clock),
      zone_(zone),
      producer_name_(std::move(producer_name)) {}

namespace {

// Whether the forum may hear the child's case: the family consented to it,
// or the referral raised an immediate safeguarding concern (sharing without
// consent is then lawful and expected).
bool ForumMayHear(const rv1::ReferralFacts& facts) {
  return facts.immediate_safeguarding_concern() ||
         CheckReferralUse(facts, rv1::CONSENT_SCOPE_FORUM, "referral_id").ok();
}

}  // namespace

absl::StatusOr<ApplyResult> ForumEventHandler::Apply(const ConsumedEvent& event) {
  if (event.topic == topics::kReferralEvents) return ApplyReferral(event);
  if (event.topic == topics::kRiskEvents) return ApplyRisk(event);
  return ApplyResult::kDuplicate;
}

absl::StatusOr<ApplyResult> ForumEventHandler::Commit(WriteBatch batch,
                                                      const ConsumedEvent& event) {
  return store_.CommitConsumed(std::move(batch), event.dedup_key());
}

absl::StatusOr<ApplyResult> ForumEventHandler::ApplyReferral(const ConsumedEvent& event) {
  rv1::ReferralEvent envelope;
  if (!envelope.ParseFromString(event.payload)) {
    return absl::InvalidArgumentError("payload is not a ReferralEvent");
  }
  WriteBatch batch;
  ReferralFactsKeeper::Facts facts;
  ASSIGN_OR_RETURN(std::optional<ReferralFactsKeeper::Facts> changed,
                   referrals_.Stage(batch, envelope, &facts));
  absl::StatusOr<ApplyResult> applied =
      ApplyReferralEvent(std::move(batch), event, envelope, facts.record);
  if (changed && applied.ok() && *applied == ApplyResult::kApplied) referrals_.Remember(*changed);
  return applied;
}

absl::StatusOr<ApplyResult> ForumEventHandler::ApplyReferralEvent(
    WriteBatch batch, const ConsumedEvent& event, const rv1::ReferralEvent& envelope,
    const rv1::ReferralFacts& facts) {
  switch (envelope.payload_case()) {
    case rv1::ReferralEvent::kReferralSubmitted: {
      const rv1::ReferralSubmitted& e = envelope.referral_submitted();
      if (!e.refer_to_forum() || !ForumMayHear(facts)) return Commit(std::move(batch), event);
      return ListFromReferral(std::move(batch), event,
                              {e.referral_id(), e.pupil_ref().value(), e.school_urn(),
                               e.immediate_safeguarding_concern()});
    }
    case rv1::ReferralEvent::kReferralUpdated: {
      const rv1::ReferralUpdated& e = envelope.referral_updated();
      if (!e.refer_to_forum() || !ForumMayHear(facts)) return Commit(std::move(batch), event);
      return ListFromReferral(std::move(batch), event,
                              {e.referral_id(), e.pupil_ref().value(), e.school_urn(), false});
    }
    case rv1::ReferralEvent::kConsentRecorded:
      // Consent to the forum withdrawn: the case comes off its queue.
      if (ForumMayHear(facts)) return Commit(std::move(batch), event);
      return EndCase(std::move(batch), event, envelope.consent_recorded().referral_id(), true);
    case rv1::ReferralEvent::kReferralWithdrawn:
      return EndCase(std::move(batch), event, envelope.referral_withdrawn().referral_id(), true);
    case rv1::ReferralEvent::kCaseClosed:
      return EndCase(std::move(batch), event, envelope.case_closed().referral_id(), false);
    default:
      return Commit(std::move(batch), event);
  }
}

absl::StatusOr<ApplyResult> ForumEventHandler::ListFromReferral(WriteBatch batch,
                                                                const ConsumedEvent& event,
                                                                const Listing& listing) {
  ASSIGN_OR_RETURN(std::optional<std::string> existing,
                   store_.HashField(store_.ReferralCaseKey(), listing.referral_id));
  ASSIGN_OR_RETURN(std::optional<std::string> forum_id,
                   store_.HashField(store_.SchoolForumKey(), listing.school_urn));
  // Already listed, or no forum serves the school (the coordinator lists it by hand).
  if (existing || !forum_id) return Commit(std::move(batch), event);
  ASSIGN_OR_RETURN(auto forum, store_.Load<v1::Forum>(store_.ForumKey(*forum_id), "forum_id"));
  ASSIGN_OR_RETURN(std::optional<std::string> band_text,
                   store_.HashField(store_.PupilBandKey(), listing.pupil_ref));
  int band = 0;
  if (band_text) (void)absl::SimpleAtoi(*band_text, &band);
  const CaseSpec spec{.referral_id = listing.referral_id,
                      .pupil_ref = listing.pupil_ref,
                      .school_urn = listing.school_urn,
                      .band = cv1::RiskBand_IsValid(band) ? cv1::RiskBand(band)
                                                          : cv1::RISK_BAND_UNSPECIFIED,
                      .hear_by = std::nullopt,
                      .safeguarding_concern = listing.safeguarding_concern,
                      .source = v1::CASE_SOURCE_REFERRAL};
  v1::ForumCase c = NewCase(forum.record, spec, clock_.Now(), zone_);
  c.set_version(1);
  batch.preconditions.push_back({store_.ReferralCaseKey(), c.referral_id(), ""});
  store_.Put(batch, store_.CaseKey(c.case_id()), c, 0);
  AddCaseIndexes(store_, batch, c);
  v1::ForumEvent out;
  *out.mutable_case_listed()->mutable_forum_case() = c;
  const Principal system{producer_name_, {cv1::ROLE_SERVICE}, cv1::ORGANISATION_TYPE_COUNCIL,
                         forum.record.la_code(), forum.record.la_code()};
  FillEventMetadata(out.mutable_metadata(), producer_name_, c.referral_id(), event.event_id(),
                    PayloadTypeName(out), system, clock_.Now());
  store_.Publish(batch, ToOutboxEvent(topics::kForumEvents, c.pupil_ref().value(),
                                      out.metadata(), out));
  return Commit(std::move(batch), event);
}

absl::StatusOr<ApplyResult> ForumEventHandler::EndCase(WriteBatch batch, const ConsumedEvent& event,
                                                       const std::string& referral_id,
                                                       bool withdrawn) {
  ASSIGN_OR_RETURN(std::optional<std::string> case_id,
                   store_.HashField(store_.ReferralCaseKey(), referral_id));
  if (!case_id) return Commit(std::move(batch), event);
  ASSIGN_OR_RETURN(auto found, store_.Load<v1::ForumCase>(store_.CaseKey(*case_id), "case_id"));
  v1::ForumCase& c = found.record;
  if (c.status() != v1::CASE_STATUS_OPEN && c.status() != v1::CASE_STATUS_HEARD) {
    return Commit(std::move(batch), event);
  }
  c.set_status(withdrawn ? v1::CASE_STATUS_WITHDRAWN : v1::CASE_STATUS_CLOSED);
  c.set_version(found.version + 1);
  store_.Put(batch, store_.CaseKey(c.case_id()), c, found.version);
  AddCaseIndexes(store_, batch, c);
  v1::ForumEvent out;
  *out.mutable_case_withdrawn()->mutable_forum_case() = c;
  const Principal system{producer_name_, {cv1::ROLE_SERVICE}, cv1::ORGANISATION_TYPE_UNSPECIFIED,
                         "", ""};
  FillEventMetadata(out.mutable_metadata(), producer_name_, c.referral_id(), event.event_id(),
                    PayloadTypeName(out), system, clock_.Now());
  store_.Publish(batch, ToOutboxEvent(topics::kForumEvents, c.pupil_ref().value(),
                                      out.metadata(), out));
  return Commit(std::move(batch), event);
}

absl::StatusOr<ApplyResult> ForumEventHandler::ApplyRisk(const ConsumedEvent& event) {
  rooted::risk::v1::RiskEvent envelope;
  if (!envelope.ParseFromString(event.payload)) {
    return absl::InvalidArgumentError("payload is not a RiskEvent");
  }
  if (!envelope.has_risk_band_changed()) return Commit({}, event);
  const auto& changed = envelope.risk_band_changed();
  const std::string& ref = changed.pupil_ref().value();
  WriteBatch batch;
  batch.commands.push_back(
      {"HSET", store_.PupilBandKey(), ref, std::to_string(int(changed.band()))});
  ASSIGN_OR_RETURN(std::vector<std::string> case_ids, store_.SetMembers(store_.CasesOfPupilKey(ref)));
  for (const std::string& id : case_ids) {
    ASSIGN_OR_RETURN(auto found, store_.Load<v1::ForumCase>(store_.CaseKey(id), "case_id"));
    v1::ForumCase& c = found.record;
    if (c.status() != v1::CASE_STATUS_OPEN) continue;
    ASSIGN_OR_RETURN(auto forum, store_.Load<v1::Forum>(store_.ForumKey(c.forum_id()), "forum_id"));
    if (!ApplyRiskBand(forum.record, c, changed.band(), clock_.Now(), zone_)) continue;
    c.set_version(found.version + 1);
    store_.Put(batch, store_.CaseKey(c.case_id()), c, found.version);
  }
  return Commit(std::move(batch), event);
}

}  // namespace rooted::forum
