#include "services/referral-intake/referral_events.h"

namespace rooted::referral {

v1::ReferralEvent ReferralSubmittedEvent(const v1::Referral& r) {
  v1::ReferralEvent event;
  v1::ReferralSubmitted* e = event.mutable_referral_submitted();
  const v1::ReferralDetails& d = r.details();
  e->set_referral_id(r.referral_id());
  *e->mutable_pupil_ref() = r.pupil_ref();
  e->set_school_urn(d.child().school_urn());
  e->set_la_code(r.la_code());
  e->set_year_group(d.child().year_group());
  *e->mutable_needs() = d.needs();
  for (const auto& reason : d.reasons_for_concern()) e->add_concern_categories(reason.category());
  e->set_risk_level(d.risk_assessment().level());
  e->set_immediate_safeguarding_concern(d.risk_assessment().immediate_safeguarding_concern());
  e->set_refer_to_forum(d.refer_to_forum());
  e->set_programme_id(d.programme_id());
  if (d.consent().status() == v1::CONSENT_STATUS_GIVEN) {
    for (int scope : d.consent().scopes())
      e->add_consent_scopes(static_cast<v1::ConsentScope>(scope));
  }
  for (const auto& agency : d.other_agencies()) e->add_agencies_involved(agency.agency_type());
  return event;
}

v1::ReferralEvent ReferralUpdatedEvent(const v1::Referral& r,
                                       const std::vector<std::string>& changed_fields) {
  v1::ReferralEvent event;
  v1::ReferralUpdated* e = event.mutable_referral_updated();
  e->set_referral_id(r.referral_id());
  *e->mutable_pupil_ref() = r.pupil_ref();
  e->set_version(r.version());
  for (const std::string& field : changed_fields) e->add_changed_fields(field);
  *e->mutable_needs() = r.details().needs();
  e->set_risk_level(r.details().risk_assessment().level());
  e->set_refer_to_forum(r.details().refer_to_forum());
  e->set_year_group(r.details().child().year_group());
  e->set_school_urn(r.details().child().school_urn());
  e->set_la_code(r.la_code());
  return event;
}

v1::ReferralEvent ReferralWithdrawnEvent(const v1::Referral& r) {
  v1::ReferralEvent event;
  event.mutable_referral_withdrawn()->set_referral_id(r.referral_id());
  *event.mutable_referral_withdrawn()->mutable_pupil_ref() = r.pupil_ref();
  return event;
}

v1::ReferralEvent CaseClosedEvent(const v1::Referral& r) {
  v1::ReferralEvent event;
  event.mutable_case_closed()->set_referral_id(r.referral_id());
  *event.mutable_case_closed()->mutable_pupil_ref() = r.pupil_ref();
  event.mutable_case_closed()->set_outcome(r.outcome());
  return event;
}

v1::ReferralEvent ConsentRecordedEvent(const v1::Referral& r) {
  v1::ReferralEvent event;
  v1::ConsentRecorded* e = event.mutable_consent_recorded();
  e->set_referral_id(r.referral_id());
  *e->mutable_pupil_ref() = r.pupil_ref();
  e->set_status(r.details().consent().status());
  for (int scope : r.details().consent().scopes())
    e->add_scopes(static_cast<v1::ConsentScope>(scope));
  return event;
}

}  // namespace rooted::referral
