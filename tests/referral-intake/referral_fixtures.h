#ifndef ROOTED_TESTS_REFERRAL_INTAKE_REFERRAL_FIXTURES_H_
#define ROOTED_TESTS_REFERRAL_INTAKE_REFERRAL_FIXTURES_H_

#include <functional>
#include <string>
#include <vector>

#include "rooted/referral/v1/referral.pb.h"

namespace rooted::referral::testing {

// A complete, valid referral for a pupil of `school_urn`.
inline v1::ReferralDetails GoodDetails(const std::string& school_urn,
                                       const std::string& upn = "H801200001001") {
  v1::ReferralDetails d;
  v1::Child* child = d.mutable_child();
  child->set_upn(upn);
  child->set_given_name("Amira");
  child->set_family_name("Khan");
  child->mutable_date_of_birth()->set_year(2013);
  child->mutable_date_of_birth()->set_month(3);
  child->mutable_date_of_birth()->set_day(14);
  child->set_year_group(8);
  child->set_school_urn(school_urn);
  d.mutable_referrer()->set_name("J. Patel");
  d.mutable_referrer()->set_job_title("Head of Year 8");
  d.mutable_referrer()->set_email("j.patel@school.example.org");
  auto* reason = d.add_reasons_for_concern();
  reason->set_category(v1::CONCERN_CATEGORY_ATTENDANCE);
  reason->set_detail("Attendance fell from 94% to 81% this term.");
  auto* need = d.add_needs();
  need->set_term_id("attendance-engagement");
  need->set_severity(rooted::common::v1::SEVERITY_MEDIUM);
  d.add_strengths("Loves art and football");
  d.add_strategies_that_worked("Morning check-in with a trusted adult");
  d.mutable_risk_assessment()->set_level(v1::RISK_LEVEL_MEDIUM);
  d.add_resource_requirements("Mentoring twice a week");
  auto* agency = d.add_other_agencies();
  agency->set_agency_type(rooted::common::v1::AGENCY_TYPE_EARLY_HELP);
  d.mutable_consent()->set_status(v1::CONSENT_STATUS_GIVEN);
  d.mutable_consent()->set_given_by_name("S. Khan");
  d.mutable_consent()->set_given_by_relationship(v1::RELATIONSHIP_PARENT);
  d.mutable_consent()->add_scopes(v1::CONSENT_SCOPE_FORUM);
  d.mutable_consent()->add_scopes(v1::CONSENT_SCOPE_SERVICES);
  d.set_refer_to_forum(true);
  return d;
}

struct BadInput {
  std::string field;  // the path the error must start with
  std::function<void(v1::ReferralDetails&)> spoil;
};

// One spoilt field each; the error must name it.
inline std::vector<BadInput> BadInputs() {
  return {
      {"details.child.upn", [](auto& d) { d.mutable_child()->set_upn("Z801200001001"); }},
      {"details.child.upn", [](auto& d) { d.mutable_child()->set_upn("UN2"); }},
      {"details.child.given_name", [](auto& d) { d.mutable_child()->set_given_name(""); }},
      {"details.child.family_name",
       [](auto& d) { d.mutable_child()->set_family_name(std::string(101, 'x')); }},
      {"details.child.given_name", [](auto& d) { d.mutable_child()->set_given_name("A\x01"); }},
      {"details.child.given_name", [](auto& d) { d.mutable_child()->set_given_name("\xc3\x28"); }},
      {"details.child.date_of_birth",
       [](auto& d) { d.mutable_child()->mutable_date_of_birth()->set_month(13); }},
      {"details.child.date_of_birth",
       [](auto& d) { d.mutable_child()->mutable_date_of_birth()->set_year(2030); }},
      {"details.child.date_of_birth", [](auto& d) { d.mutable_child()->clear_date_of_birth(); }},
      {"details.child.year_group", [](auto& d) { d.mutable_child()->set_year_group(15); }},
      {"details.child.school_urn", [](auto& d) { d.mutable_child()->set_school_urn("12AB"); }},
      {"details.child", [](auto& d) { d.clear_child(); }},
      {"details.referrer.name", [](auto& d) { d.mutable_referrer()->set_name(" "); }},
      {"details.referrer.job_title", [](auto& d) { d.mutable_referrer()->clear_job_title(); }},
      {"details.referrer.email", [](auto& d) { d.mutable_referrer()->set_email("not-an-email"); }},
      {"details.referrer.phone", [](auto& d) { d.mutable_referrer()->set_phone("call me"); }},
      {"details.reasons_for_concern", [](auto& d) { d.clear_reasons_for_concern(); }},
      {"details.reasons_for_concern[0].category",
       [](auto& d) { d.mutable_reasons_for_concern(0)->clear_category(); }},
      {"details.reasons_for_concern[0].detail",
       [](auto& d) { d.mutable_reasons_for_concern(0)->set_detail(std::string(2001, 'x')); }},
      {"details.needs", [](auto& d) { d.clear_needs(); }},
      {"details.needs[0].term_id", [](auto& d) { d.mutable_needs(0)->set_term_id("astrology"); }},
      {"details.needs[0].severity", [](auto& d) { d.mutable_needs(0)->clear_severity(); }},
      {"details.needs[1].term_id", [](auto& d) { *d.add_needs() = d.needs(0); }},
      {"details.strengths",
       [](auto& d) {
         for (int i = 0; i < 21; ++i) d.add_strengths("x");
       }},
      {"details.strategies_that_worked[1]", [](auto& d) { d.add_strategies_that_worked(""); }},
      {"details.risk_assessment", [](auto& d) { d.clear_risk_assessment(); }},
      {"details.risk_assessment.level",
       [](auto& d) { d.mutable_risk_assessment()->set_level(static_cast<v1::RiskLevel>(99)); }},
      {"details.other_agencies[0].agency_type",
       [](auto& d) { d.mutable_other_agencies(0)->clear_agency_type(); }},
      {"details.consent", [](auto& d) { d.clear_consent(); }},
      {"details.consent.status", [](auto& d) { d.mutable_consent()->clear_status(); }},
      {"details.consent.given_by_name",
       [](auto& d) { d.mutable_consent()->clear_given_by_name(); }},
      {"details.consent.given_by_relationship",
       [](auto& d) { d.mutable_consent()->clear_given_by_relationship(); }},
      {"details.consent.scopes", [](auto& d) { d.mutable_consent()->clear_scopes(); }},
      {"details.consent.scopes",
       [](auto& d) { d.mutable_consent()->set_status(v1::CONSENT_STATUS_REFUSED); }},
  };
}

}  // namespace rooted::referral::testing

#endif  // ROOTED_TESTS_REFERRAL_INTAKE_REFERRAL_FIXTURES_H_
