// What a service keeps of a referral it does not own, folded from the
// referral's events, and the checks made on it before it is acted on.

#include "common/referrals/referral_facts.h"

#include <gtest/gtest.h>

#include "common/base/retry_later.h"

namespace rooted {
namespace {

namespace rv1 = rooted::referral::v1;

rv1::ReferralEvent Submitted(std::vector<rv1::ConsentScope> consented) {
  rv1::ReferralEvent event;
  rv1::ReferralSubmitted* e = event.mutable_referral_submitted();
  e->set_referral_id("referral-000001");
  e->mutable_pupil_ref()->set_value("pr_" + std::string(32, '1'));
  e->set_school_urn("100001");
  e->set_la_code("801");
  for (rv1::ConsentScope scope : consented) e->add_consent_scopes(scope);
  return event;
}

rv1::ReferralFacts Fold(const std::vector<rv1::ReferralEvent>& events) {
  rv1::ReferralFacts facts;
  for (const rv1::ReferralEvent& event : events) FoldReferralEvent(event, facts);
  return facts;
}

TEST(ReferralFacts, KeepWhoseItIsAndWhatWasConsentedTo) {
  rv1::ReferralFacts facts;
  EXPECT_TRUE(
      FoldReferralEvent(Submitted({rv1::CONSENT_SCOPE_FUND, rv1::CONSENT_SCOPE_FORUM}), facts));
  EXPECT_EQ(facts.referral_id(), "referral-000001");
  EXPECT_EQ(facts.school_urn(), "100001");
  EXPECT_EQ(facts.la_code(), "801");
  EXPECT_EQ(facts.consented_size(), 2);
  // The same event again changes nothing, so nothing need be written.
  EXPECT_FALSE(
      FoldReferralEvent(Submitted({rv1::CONSENT_SCOPE_FORUM, rv1::CONSENT_SCOPE_FUND}), facts));
  EXPECT_TRUE(CheckReferralUse(facts, rv1::CONSENT_SCOPE_FUND, "referral_id").ok());

  const RecordOwner owner = OwnerOfReferral(facts);
  EXPECT_EQ(owner.school_urn, "100001");
  EXPECT_EQ(owner.la_code, "801");
  EXPECT_TRUE(owner.partner_ids.empty());
}

TEST(ReferralFacts, FollowConsentWithdrawalAndClosure) {
  rv1::ReferralEvent refused;
  refused.mutable_consent_recorded()->set_referral_id("referral-000001");
  refused.mutable_consent_recorded()->set_status(rv1::CONSENT_STATUS_WITHDRAWN);
  refused.mutable_consent_recorded()->add_scopes(
      rv1::CONSENT_SCOPE_FUND);  // not given: counts for nothing
  rv1::ReferralFacts facts = Fold({Submitted({rv1::CONSENT_SCOPE_FUND}), refused});
  EXPECT_EQ(facts.consented_size(), 0);
  const absl::Status fund =
      CheckReferralUse(facts, rv1::CONSENT_SCOPE_FUND, "fund_request.referral_id");
  EXPECT_EQ(fund.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(fund.message(),
            "fund_request.referral_id: the family's consent does not cover the local response fund "
            "(record it with RecordConsent)");

  rv1::ReferralEvent closed;
  closed.mutable_case_closed()->set_referral_id("referral-000001");
  facts = Fold({Submitted({rv1::CONSENT_SCOPE_SERVICES}), closed});
  EXPECT_EQ(CheckReferralUse(facts, rv1::CONSENT_SCOPE_SERVICES, "referral_id").message(),
            "referral_id: the case is closed");

  rv1::ReferralEvent withdrawn;
  withdrawn.mutable_referral_withdrawn()->set_referral_id("referral-000001");
  facts = Fold({Submitted({rv1::CONSENT_SCOPE_SERVICES}), withdrawn});
  EXPECT_EQ(CheckReferralUse(facts, rv1::CONSENT_SCOPE_SERVICES, "referral_id").message(),
            "referral_id: the referral was withdrawn");
}

TEST(ReferralFacts, FollowTheChildToANewSchoolAndItsPartners) {
  rv1::ReferralEvent moved;
  moved.mutable_referral_updated()->set_referral_id("referral-000001");
  moved.mutable_referral_updated()->set_school_urn("100002");
  rv1::ReferralEvent allocated;
  allocated.mutable_lead_allocated()->set_referral_id("referral-000001");
  allocated.mutable_lead_allocated()->set_partner_id("partner-a");
  rv1::ReferralFacts facts = Fold({Submitted({}), moved, allocated, allocated});
  EXPECT_EQ(facts.school_urn(), "100002");
  ASSERT_EQ(facts.partner_ids_size(), 1);
  EXPECT_EQ(OwnerOfReferral(facts).partner_ids, std::vector<std::string>{"partner-a"});
  // A screening says nothing kept here.
  rv1::ReferralEvent screened;
  screened.mutable_referral_screened()->set_referral_id("referral-000001");
  EXPECT_FALSE(FoldReferralEvent(screened, facts));
}

TEST(ReferralFacts, AReferralNotKnownHereIsARetryHintNamingTheField) {
  const absl::Status status = ReferralNotKnownHere("referral_id");
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(status.message().rfind("referral_id: no referral of yours", 0), 0u);
  EXPECT_TRUE(RetryAfterOf(status).has_value());
}

}  // namespace
}  // namespace rooted
