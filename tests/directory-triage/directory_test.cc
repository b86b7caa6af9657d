// The directory's pure parts against hand-worked examples: postcodes and
// distances, eligibility bounds, QA expiry, validation naming fields, the
// Open Referral UK reader and writer, search and explained triage.

#include <google/protobuf/util/message_differencer.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "common/base/proto_date.h"
#include "common/identity/needs_taxonomy.h"
#include "services/directory-triage/directory_index.h"
#include "services/directory-triage/directory_model.h"
#include "services/directory-triage/open_referral.h"
#include "services/directory-triage/triage.h"

namespace rooted::directory {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;
namespace cv1 = rooted::common::v1;

const absl::CivilDay kToday(2026, 11, 23);

TEST(PostcodeTest, OutwardCodesOfFullPostcodesAndDistricts) {
  EXPECT_EQ(PostcodeDistrict("LS6 1AA"), "LS6");
  EXPECT_EQ(PostcodeDistrict("ls61aa"), "LS6");
  EXPECT_EQ(PostcodeDistrict("LS6"), "LS6");
  EXPECT_EQ(PostcodeDistrict("SW1A 1AA"), "SW1A");
  EXPECT_EQ(PostcodeDistrict("M1 1AE"), "M1");
  EXPECT_EQ(PostcodeDistrict("12345"), "");
  EXPECT_EQ(PostcodeDistrict("L"), "");
  EXPECT_EQ(PostcodeDistrict("LS6-1AA"), "");
}

TEST(DistanceTest, LeedsToYorkIsAbout35Kilometres) {
  const int64_t metres = DistanceMetres(53'799'700, -1'549'200, 53'959'000, -1'081'500);
  EXPECT_GT(metres, 34'000);
  EXPECT_LT(metres, 35'500);
  EXPECT_EQ(DistanceMetres(53'799'700, -1'549'200, 53'799'700, -1'549'200), 0);
}

v1::QualityAssurance Quality(v1::QaStatus status, absl::CivilDay review) {
  v1::QualityAssurance q;
  q.set_status(status);
  *q.mutable_review_date() = ToProtoDate(review);
  return q;
}

TEST(QualityTest, ApprovalLapsesTheDayAfterItsReviewDate) {
  EXPECT_EQ(EffectiveQaStatus(Quality(v1::QA_STATUS_APPROVED, kToday), kToday), v1::QA_STATUS_APPROVED);
  EXPECT_EQ(EffectiveQaStatus(Quality(v1::QA_STATUS_APPROVED, kToday - 1), kToday),
            v1::QA_STATUS_EXPIRED);
  EXPECT_EQ(EffectiveQaStatus(Quality(v1::QA_STATUS_SUSPENDED, kToday + 30), kToday),
            v1::QA_STATUS_SUSPENDED);
  EXPECT_EQ(EffectiveQaStatus(v1::QualityAssurance(), kToday), v1::QA_STATUS_PENDING);
  v1::Service s;
  *s.mutable_quality() = Quality(v1::QA_STATUS_APPROVED, absl::CivilDay(2026, 3, 31));
  EXPECT_EQ(NotRecommendableReason(s, kToday), "quality assurance expired on 2026-03-31");
}

TEST(EligibilityTest, AgeYearGroupAndAreaBoundsAreInclusive) {
  v1::Eligibility e;
  e.set_minimum_age(11);
  e.set_maximum_age(16);
  EXPECT_EQ(IneligibleReason(e, 11, std::nullopt, ""), "");
  EXPECT_EQ(IneligibleReason(e, 16, std::nullopt, ""), "");
  EXPECT_EQ(IneligibleReason(e, 10, std::nullopt, ""), "for ages 11 to 16; the child is 10");
  EXPECT_EQ(IneligibleReason(e, 17, std::nullopt, ""), "for ages 11 to 16; the child is 17");
  // By year group alone: Year 6 pupils are 10 to 11, so some are 11.
  EXPECT_EQ(IneligibleReason(e, std::nullopt, 6, ""), "");
  EXPECT_EQ(IneligibleReason(e, std::nullopt, 5, ""), "for ages 11 to 16; Year 5 pupils are 9 to 10");
  EXPECT_EQ(IneligibleReason(e, std::nullopt, 12, ""), "");  // 16 to 17
  EXPECT_THAT(IneligibleReason(e, std::nullopt, 13, ""), StartsWith("for ages 11 to 16"));

  v1::Eligibility years;
  years.set_minimum_year_group(7);
  years.set_maximum_year_group(11);
  EXPECT_EQ(IneligibleReason(years, std::nullopt, 7, ""), "");
  EXPECT_EQ(IneligibleReason(years, std::nullopt, 11, ""), "");
  EXPECT_EQ(IneligibleReason(years, std::nullopt, 12, ""), "for Years 7 to 11; the child is in Year 12");

  v1::Eligibility area;
  area.add_area_codes("E08000035");
  EXPECT_EQ(IneligibleReason(area, std::nullopt, std::nullopt, "e08000035"), "");
  EXPECT_EQ(IneligibleReason(area, std::nullopt, std::nullopt, ""), "");
  EXPECT_EQ(IneligibleReason(area, std::nullopt, std::nullopt, "E08000036"),
            "only for children living in its areas; not E08000036");
}

v1::Service GoodService(const std::string& id) {
  v1::Service s;
  s.set_id(id);
  s.set_organization_id("org-000001");
  s.set_name("Service " + id);
  s.add_taxonomy_term_ids("semh");
  s.mutable_eligibility()->set_minimum_age(11);
  s.mutable_eligibility()->set_maximum_age(16);
  *s.mutable_quality() = Quality(v1::QA_STATUS_APPROVED, kToday + 180);
  s.mutable_capacity()->set_maximum(10);
  s.mutable_capacity()->set_available(10);
  return s;
}

TEST(ValidateServiceTest, NamesTheFieldAtFault) {
  auto known = [](const std::string& term) { return IsKnownNeedsTerm(term) && term.rfind("la-", 0) != 0; };
  ASSERT_TRUE(ValidateService(GoodService("svc-000001"), known).ok());
  struct Case {
    std::string field;
    std::function<void(v1::Service&)> spoil;
  };
  const std::vector<Case> cases = {
      {"service.organization_id", [](v1::Service& s) { s.clear_organization_id(); }},
      {"service.name", [](v1::Service& s) { s.clear_name(); }},
      {"service.taxonomy_term_ids", [](v1::Service& s) { s.clear_taxonomy_term_ids(); }},
      {"service.taxonomy_term_ids[1]", [](v1::Service& s) { s.add_taxonomy_term_ids("astrology"); }},
      {"service.eligibility.maximum_age", [](v1::Service& s) { s.mutable_eligibility()->set_maximum_age(5); }},
      {"service.eligibility.minimum_age", [](v1::Service& s) { s.mutable_eligibility()->set_minimum_age(-1); }},
      {"service.eligibility.area_codes[0]", [](v1::Service& s) { s.mutable_eligibility()->add_area_codes("no spaces"); }},
      {"service.cost_options[0].amount", [](v1::Service& s) { s.add_cost_options()->mutable_amount()->set_pence(100); }},
      {"service.locations[0].postcode", [](v1::Service& s) { s.add_locations()->set_postcode("NOT A CODE"); }},
      {"service.locations[0].latitude_e6", [](v1::Service& s) { s.add_locations()->set_latitude_e6(91'000'000); }},
      {"service.languages[0]", [](v1::Service& s) { s.add_languages("English"); }},
      {"service.schedules[0].rrule", [](v1::Service& s) { s.add_schedules()->set_rrule("every tuesday"); }},
      {"service.capacity.available", [](v1::Service& s) { s.mutable_capacity()->set_available(11); }},
      {"service.capacity.waiting_time_days", [](v1::Service& s) { s.mutable_capacity()->set_waiting_time_days(-1); }},
      {"service.delivery[0]", [](v1::Service& s) { s.add_delivery(v1::DELIVERY_UNSPECIFIED); }},
  };
  for (const Case& c : cases) {
    v1::Service s = GoodService("svc-000001");
    c.spoil(s);
    const absl::Status status = ValidateService(s, known);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.field;
    EXPECT_THAT(std::string(status.message()), StartsWith(c.field + ":")) << status;
  }
}

std::string ReadSample() {
  std::ifstream in(std::string(ROOTED_TEST_DATA_DIR) + "/oruk_sample.json");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(OpenReferralTest, ReadsTheUkProfilesServiceObjects) {
  absl::StatusOr<OpenReferralImport> imported = ParseOpenReferral(ReadSample());
  ASSERT_TRUE(imported.ok()) << imported.status();
  ASSERT_EQ(imported->services.size(), 2u);
  ASSERT_EQ(imported->organizations.size(), 1u);  // two services, one provider
  EXPECT_THAT(imported->problems, ElementsAre("services[2]: id is missing"));
  const v1::Service& counselling = imported->services[0];
  EXPECT_EQ(counselling.organization_id(), "d9d5e0f5-d3ce-4f73-9a2f-4dd0ecc6c610");
  EXPECT_EQ(counselling.eligibility().minimum_age(), 11);
  EXPECT_EQ(counselling.eligibility().maximum_age(), 18);
  ASSERT_EQ(counselling.locations_size(), 1);
  EXPECT_EQ(counselling.locations(0).latitude_e6(), 53'814'300);
  EXPECT_EQ(counselling.locations(0).longitude_e6(), -1'564'900);
  EXPECT_EQ(counselling.locations(0).postcode(), "LS6 1AA");
  // Terms of other vocabularies (esd service types) are not needs terms.
  EXPECT_THAT(counselling.taxonomy_term_ids(), ElementsAre("anxiety-emotional-wellbeing", "semh"));
  EXPECT_THAT(counselling.languages(), ElementsAre("en", "pl"));
  EXPECT_TRUE(IsFree(counselling));
  EXPECT_EQ(counselling.schedules(0).rrule(), "FREQ=WEEKLY;INTERVAL=1;BYDAY=TU,TH");
  EXPECT_EQ(counselling.schedules(0).opens_at_minute(), 15 * 60 + 30);
  EXPECT_EQ(counselling.contacts(0).phone(), "0113 496 0000");
  EXPECT_EQ(FromProtoDate(counselling.quality().assured_date()).value(), absl::CivilDay(2026, 4, 1));
  const v1::Service& parenting = imported->services[1];
  EXPECT_FALSE(IsFree(parenting));
  EXPECT_EQ(parenting.cost_options(0).amount().pence(), 2550);

  EXPECT_EQ(ParseOpenReferral("{not json").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(ParseOpenReferral("42").status().message()), StartsWith("json:"));
}

TEST(OpenReferralTest, ExportThenImportGivesTheSameDirectory) {
  absl::StatusOr<OpenReferralImport> imported = ParseOpenReferral(ReadSample());
  ASSERT_TRUE(imported.ok());
  std::vector<v1::Service> services = imported->services;
  // RootED's own fields travel in the extension.
  services[0].mutable_eligibility()->set_minimum_year_group(7);
  services[0].mutable_eligibility()->set_maximum_year_group(13);
  services[0].mutable_eligibility()->add_area_codes("E08000035");
  services[0].add_delivery(v1::DELIVERY_IN_SCHOOL);
  services[0].add_delivery(v1::DELIVERY_ONLINE);
  services[0].mutable_capacity()->set_available(3);
  services[0].mutable_capacity()->set_maximum(12);
  services[0].mutable_capacity()->set_waiting_time_days(14);
  *services[0].mutable_quality() = Quality(v1::QA_STATUS_APPROVED, absl::CivilDay(2027, 4, 1));
  services[0].mutable_quality()->set_assessor_subject("officer-1");
  *services[0].mutable_quality()->mutable_assured_date() = ToProtoDate(absl::CivilDay(2026, 4, 1));
  services[0].set_referral_route("Referral form, school or self");
  services[1].set_withdrawn(true);
  services[1].mutable_quality()->set_status(v1::QA_STATUS_PENDING);
  services[0].mutable_quality()->set_status(v1::QA_STATUS_APPROVED);
  imported->organizations[0].mutable_ref()->set_type(cv1::ORGANISATION_TYPE_PARTNER);
  imported->organizations[0].mutable_ref()->set_id("north-youth-trust");

  const std::string json = ExportOpenReferral(services, imported->organizations);
  absl::StatusOr<OpenReferralImport> again = ParseOpenReferral(json);
  ASSERT_TRUE(again.ok()) << again.status();
  ASSERT_EQ(again->services.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    std::string diff;
    google::protobuf::util::MessageDifferencer differ;
    differ.ReportDifferencesToString(&diff);
    EXPECT_TRUE(differ.Compare(services[i], again->services[i])) << diff;
  }
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(imported->organizations[0],
                                                                again->organizations[0]));
  // A confidential site is published without its address or coordinates.
  services[0].mutable_locations(0)->set_confidential(true);
  const std::string hidden = ExportOpenReferral(services, imported->organizations);
  EXPECT_EQ(hidden.find("LS6 1AA"), std::string::npos);
  EXPECT_EQ(hidden.find("53.8143"), std::string::npos);
}

// ---- search and triage --------------------------------------------------

class TriageTest : public ::testing::Test {
 protected:
  // The child: at the LS6 district centroid, 13, anxiety (high) and SEMH (medium).
  TriageInput Child() {
    TriageInput in;
    cv1::Need anxiety;
    anxiety.set_term_id("anxiety-emotional-wellbeing");
    anxiety.set_severity(cv1::SEVERITY_HIGH);
    cv1::Need semh;
    semh.set_term_id("semh");
    semh.set_severity(cv1::SEVERITY_MEDIUM);
    in.needs = {anxiety, semh};
    in.age = 13;
    in.location = GeoPoint{53'820'000, -1'580'000};
    in.today = kToday;
    return in;
  }

  // A site `metres` due north of the child.
  static v1::Location North(int64_t metres) {
    v1::Location l;
    l.set_id("site");
    // One microdegree of latitude is about 0.111 metres.
    l.set_latitude_e6(53'820'000 + metres * 1'000'000 / 111'195);
    l.set_longitude_e6(-1'580'000);
    return l;
  }

  TriageResult Run(const TriageInput& in) {
    return Triage(index_, in, [](const std::string& term) { return term; });
  }

  DirectoryIndex index_;
};

TEST_F(TriageTest, RankingIsExplainedComponentByComponent) {
  v1::Service both = GoodService("svc-both");
  both.add_taxonomy_term_ids("anxiety-emotional-wellbeing");
  *both.add_locations() = North(1000);
  v1::Service one = GoodService("svc-one");
  one.clear_taxonomy_term_ids();
  one.add_taxonomy_term_ids("anxiety-emotional-wellbeing");
  one.mutable_capacity()->set_available(1);  // of 10: a quarter is 2
  one.mutable_capacity()->set_waiting_time_days(28);
  index_.Upsert(both);
  index_.Upsert(one);
  const TriageResult r = Run(Child());
  ASSERT_EQ(r.ranked.size(), 2u);
  const v1::RankedService& first = r.ranked[0];
  EXPECT_EQ(first.service().id(), "svc-both");
  // 50 coverage (5 of 5 weight) + 18 distance (1 km of 10) + 15 no wait + 15 capacity.
  ASSERT_EQ(first.components_size(), 5);
  EXPECT_EQ(first.components(0).points(), 50);
  EXPECT_EQ(first.components(1).name(), "eligibility");
  EXPECT_EQ(first.components(2).points(), 18);
  EXPECT_EQ(first.components(2).reason(), "1.0 km away");
  EXPECT_EQ(first.components(3).points(), 15);
  EXPECT_EQ(first.components(4).points(), 15);
  EXPECT_EQ(first.score(), 98);
  EXPECT_EQ(first.reason(),
            "meets anxiety-emotional-wellbeing and semh; 1.0 km away; no wait; 10 of 10 places free");
  // 30 coverage (3 of 5) + 5 (no site published) + 7 (28 of 56 days) + 7 (1 of a quarter of 2).
  const v1::RankedService& second = r.ranked[1];
  EXPECT_EQ(second.components(0).points(), 30);
  EXPECT_EQ(second.components(2).points(), 5);
  EXPECT_EQ(second.components(3).points(), 7);
  EXPECT_EQ(second.components(4).points(), 7);
  EXPECT_EQ(second.score(), 49);
}

TEST_F(TriageTest, ExcludedServicesSayWhy) {
  v1::Service full = GoodService("svc-full");
  full.mutable_capacity()->set_available(0);
  v1::Service expired = GoodService("svc-expired");
  *expired.mutable_quality() = Quality(v1::QA_STATUS_APPROVED, kToday - 1);
  v1::Service young = GoodService("svc-young");
  young.mutable_eligibility()->set_minimum_age(5);
  young.mutable_eligibility()->set_maximum_age(10);
  v1::Service charged = GoodService("svc-charged");
  charged.add_cost_options()->mutable_amount()->set_pence(500);
  v1::Service unrelated = GoodService("svc-unrelated");
  unrelated.clear_taxonomy_term_ids();
  unrelated.add_taxonomy_term_ids("housing");
  for (const auto& s : {full, expired, young, charged, unrelated}) index_.Upsert(s);
  TriageInput in = Child();
  in.free_only = true;
  const TriageResult r = Run(in);
  EXPECT_TRUE(r.ranked.empty());
  ASSERT_EQ(r.excluded.size(), 4u);  // the housing service meets no need: not listed
  EXPECT_EQ(r.excluded[0].service_id(), "svc-charged");
  EXPECT_EQ(r.excluded[0].reason(), "charges, and only free services were asked for");
  EXPECT_EQ(r.excluded[1].reason(), "quality assurance expired on 2026-11-22");
  EXPECT_EQ(r.excluded[2].reason(), "full: no places free");
  EXPECT_EQ(r.excluded[3].reason(), "not eligible: for ages 5 to 10; the child is 13");
}

TEST_F(TriageTest, TiesBreakByIdAndTheSameInputsGiveTheSameAnswer) {
  for (const std::string id : {"svc-c", "svc-a", "svc-b"}) index_.Upsert(GoodService(id));
  const TriageResult r1 = Run(Child());
  const TriageResult r2 = Run(Child());
  ASSERT_EQ(r1.ranked.size(), 3u);
  EXPECT_EQ(r1.ranked[0].service().id(), "svc-a");
  EXPECT_EQ(r1.ranked[2].service().id(), "svc-c");
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(r1.ranked[i].SerializeAsString(), r2.ranked[i].SerializeAsString());
  }
}

TEST_F(TriageTest, SearchFindsByWordPrefixTermAgeAndDistance) {
  v1::Service near = GoodService("svc-near");
  near.set_name("Counselling for teenagers");
  *near.add_locations() = North(2000);
  v1::Service far = GoodService("svc-far");
  far.set_name("Counselling drop-in");
  *far.add_locations() = North(9000);
  v1::Service pending = GoodService("svc-pending");
  pending.set_name("Counselling (new)");
  pending.mutable_quality()->set_status(v1::QA_STATUS_PENDING);
  for (const auto& s : {near, far, pending}) index_.Upsert(s);
  SearchQuery q;
  q.today = kToday;
  q.text = "couns";
  q.near = GeoPoint{53'820'000, -1'580'000};
  size_t total = 0;
  std::vector<SearchHit> hits = index_.Search(q, 0, 10, &total);
  ASSERT_EQ(total, 2u);  // the pending one is not published
  EXPECT_EQ(hits[0].service->id(), "svc-near");
  EXPECT_NEAR(double(hits[0].distance_metres), 2000, 5);
  q.proximity_metres = 5000;
  EXPECT_EQ(index_.Search(q, 0, 10, &total).size(), 1u);
  q.proximity_metres = 0;
  q.text = "counselling teen";
  EXPECT_EQ(index_.Search(q, 0, 10, &total).size(), 1u);
  q.text.clear();
  q.age = 17;
  EXPECT_TRUE(index_.Search(q, 0, 10, &total).empty());
  q.age.reset();
  q.include_unapproved = true;
  EXPECT_EQ(index_.Search(q, 0, 10, &total).size(), 3u);
  // Paged: the second page of one.
  hits = index_.Search(q, 1, 1, &total);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].service->id(), "svc-far");
  // Withdrawn: gone from search.
  v1::Service gone = near;
  gone.set_withdrawn(true);
  index_.Upsert(gone);
  q.include_unapproved = false;
  q.text = "couns";
  EXPECT_EQ(index_.Search(q, 0, 10, &total).size(), 1u);
}

}  // namespace
}  // namespace rooted::directory
