// Directory and triage end to end: the gRPC APIs with their scopes against a
// real redis-server, referral events in and directory events out through the
// local broker, and a second replica kept current from the change feed.

#include <grpcpp/grpcpp.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "common/base/proto_date.h"
#include "common/kafka/event_consumer.h"
#include "common/kafka/event_metadata.h"
#include "common/kafka/kafka_producer.h"
#include "common/kafka/topics.h"
#include "common/outbox/outbox.h"
#include "common/server/service_runtime.h"
#include "rooted/directory/v1/directory_events.pb.h"
#include "rooted/referral/v1/referral_events.pb.h"
#include "services/directory-triage/directory_service.h"
#include "services/directory-triage/triage_service.h"
#include "tests/support/service_harness.h"

namespace rooted::directory {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
namespace cv1 = rooted::common::v1;
namespace rv1 = rooted::referral::v1;

absl::TimeZone London() {
  absl::TimeZone zone;
  (void)absl::LoadTimeZone("Europe/London", &zone);
  return zone;
}

struct DirectoryStack {
  DirectoryStack() {
    store = std::make_unique<DirectoryStore>(*h.redis, "ds");
    core = std::make_unique<DirectoryCore>(*store, index, h.clock, DirectoryOptions{.zone = London()});
    EXPECT_TRUE(core->Load().ok());
    referrals = std::make_unique<ReferralFactsKeeper>(*store);
    referral_owners = std::make_unique<ReferralFactsOwners>(*referrals);
    directory = std::make_unique<DirectoryServiceImpl>(*core, *referrals);
    triage = std::make_unique<TriageServiceImpl>(*core, *h.metrics);
    handler = std::make_unique<ReferralNeedsHandler>(*core, *referrals);
    consumer = *EventConsumer::Create(
        h.ConsumerOptions("directory-triage-test", {std::string(topics::kReferralEvents)}),
        *handler, *h.producer, *h.metrics, *h.logger);
    relay = h.Relay("ds");
    directory_api = rooted::testing::Guarded("rooted.directory.v1.DirectoryService", *directory,
                                             h.ServiceOptions("ds", referral_owners.get()));
    triage_api = rooted::testing::Guarded("rooted.directory.v1.TriageService", *triage,
                                          h.ServiceOptions("ds", referral_owners.get()));
    server = *GrpcServer::Start({.listen_address = "127.0.0.1:0", .service_names = {}},
                                {directory_api.get(), triage_api.get()},
                                {[this] { return h.redis->Ping(); }}, *h.logger);
    auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(server->port()),
                                       grpc::InsecureChannelCredentials());
    directory_stub = v1::DirectoryService::NewStub(channel);
    triage_stub = v1::TriageService::NewStub(channel);
    consumer->Start();
    relay->Start();
  }
  ~DirectoryStack() {
    server->Shutdown(absl::Seconds(1));
    consumer->Stop();
    relay->Stop(absl::Seconds(2));
  }

  rooted::testing::ServiceHarness h{
      "directory-triage", absl::FromCivil(absl::CivilSecond(2026, 11, 23, 10, 0, 0), London())};
  std::unique_ptr<DirectoryStore> store;
  DirectoryIndex index;
  std::unique_ptr<DirectoryCore> core;
  std::unique_ptr<ReferralFactsKeeper> referrals;
  std::unique_ptr<ReferralFactsOwners> referral_owners;
  std::unique_ptr<DirectoryServiceImpl> directory;
  std::unique_ptr<TriageServiceImpl> triage;
  std::unique_ptr<GuardedService> directory_api;
  std::unique_ptr<GuardedService> triage_api;
  std::unique_ptr<ReferralNeedsHandler> handler;
  std::unique_ptr<EventConsumer> consumer;
  std::unique_ptr<OutboxRelay> relay;
  std::unique_ptr<GrpcServer> server;
  std::unique_ptr<v1::DirectoryService::Stub> directory_stub;
  std::unique_ptr<v1::TriageService::Stub> triage_stub;
};

class DirectoryTest : public rooted::testing::SharedStackTest<DirectoryStack> {
 protected:
  v1::DirectoryService::Stub& dir() { return *stack_->directory_stub; }
  std::unique_ptr<grpc::ClientContext> As(const std::string& token) {
    return rooted::testing::AuthedContext(token);
  }
  std::string Token(const std::string& subject, Role role, OrganisationType type,
                    const std::string& org) {
    return stack_->h.tokens.Mint(subject, role, type, org, "801", stack_->h.clock.Now());
  }
  std::string Council() {
    return Token("officer-1", cv1::ROLE_COUNCIL_OFFICER, cv1::ORGANISATION_TYPE_COUNCIL, "801");
  }
  std::string Partner(const std::string& id) {
    return Token("worker-" + id, cv1::ROLE_PARTNER_WORKER, cv1::ORGANISATION_TYPE_PARTNER, id);
  }
  std::string School(const std::string& urn) {
    return Token("teacher-" + urn, cv1::ROLE_SCHOOL_STAFF, cv1::ORGANISATION_TYPE_SCHOOL, urn);
  }

  std::string Organization(const std::string& partner) {
    v1::UpsertOrganizationRequest request;
    request.set_request_id("org-" + partner);
    request.mutable_organization()->set_name("Trust " + partner);
    request.mutable_organization()->mutable_ref()->set_type(cv1::ORGANISATION_TYPE_PARTNER);
    request.mutable_organization()->mutable_ref()->set_id(partner);
    v1::UpsertOrganizationResponse response;
    const grpc::Status status = dir().UpsertOrganization(As(Council()).get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.organization().id();
  }

  v1::Service NewService(const std::string& org_id, const std::string& name,
                         const std::string& term) {
    v1::Service s;
    s.set_organization_id(org_id);
    s.set_name(name);
    s.set_description("For young people in the north of the city");
    s.add_taxonomy_term_ids(term);
    s.mutable_eligibility()->set_minimum_age(11);
    s.mutable_eligibility()->set_maximum_age(16);
    v1::Location* site = s.add_locations();
    site->set_id("site-1");
    site->set_postcode("LS6 1AA");
    site->set_latitude_e6(53'815'000);
    site->set_longitude_e6(-1'565'000);
    s.mutable_capacity()->set_maximum(10);
    s.mutable_capacity()->set_available(4);
    return s;
  }

  grpc::Status Upsert(const std::string& token, const std::string& request_id, const v1::Service& s,
                      v1::UpsertServiceResponse* response) {
    v1::UpsertServiceRequest request;
    request.set_request_id(request_id);
    *request.mutable_service() = s;
    return dir().UpsertService(As(token).get(), request, response);
  }

  grpc::Status Approve(const std::string& token, const std::string& request_id,
                       const std::string& service_id, absl::CivilDay review,
                       v1::SetQualityAssuranceResponse* response) {
    v1::SetQualityAssuranceRequest request;
    request.set_request_id(request_id);
    request.set_service_id(service_id);
    request.mutable_quality()->set_status(v1::QA_STATUS_APPROVED);
    *request.mutable_quality()->mutable_review_date() = ToProtoDate(review);
    return dir().SetQualityAssurance(As(token).get(), request, response);
  }

  // Published and approved: a service triage can recommend.
  std::string Published(const std::string& org_id, const std::string& name, const std::string& term) {
    std::string key = name;
    std::replace(key.begin(), key.end(), ' ', '-');
    v1::UpsertServiceResponse created;
    EXPECT_TRUE(Upsert(Council(), "create-" + key, NewService(org_id, name, term), &created).ok());
    v1::SetQualityAssuranceResponse approved;
    EXPECT_TRUE(Approve(Council(), "approve-" + key, created.service().id(),
                        absl::CivilDay(2027, 6, 30), &approved)
                    .ok());
    return created.service().id();
  }

  v1::SearchServicesResponse Search(const std::string& text) {
    v1::SearchServicesRequest request;
    request.set_text(text);
    v1::SearchServicesResponse response;
    EXPECT_TRUE(dir().SearchServices(As(School("100001")).get(), request, &response).ok());
    return response;
  }

  void Submitted(const std::string& event_id, const std::string& referral_id,
                 const std::string& ref, const std::string& urn, const std::string& need,
                 std::vector<rv1::ConsentScope> consented = {rv1::CONSENT_SCOPE_SERVICES}) {
    rv1::ReferralEvent event;
    rv1::ReferralSubmitted* e = event.mutable_referral_submitted();
    e->set_referral_id(referral_id);
    e->mutable_pupil_ref()->set_value(ref);
    e->set_school_urn(urn);
    e->set_la_code("801");
    for (rv1::ConsentScope scope : consented) e->add_consent_scopes(scope);
    e->set_year_group(8);
    cv1::Need* n = e->add_needs();
    n->set_term_id(need);
    n->set_severity(cv1::SEVERITY_HIGH);
    event.mutable_metadata()->set_event_id(event_id);
    event.mutable_metadata()->set_event_type(PayloadTypeName(event));
    const OutgoingMessage message =
        ToOutgoingMessage(topics::kReferralEvents, ref, event.metadata(), event);
    ASSERT_TRUE(stack_->h.producer->Deliver({&message, 1}, absl::Seconds(10)).front().ok());
  }

  std::vector<v1::DirectoryEvent> Events(const std::string& key, size_t expected) {
    return rooted::testing::ReadEvents<v1::DirectoryEvent>(stack_->h.broker.bootstrap(),
                                                           topics::kDirectoryEvents, key, expected);
  }

};


TEST_F(DirectoryTest, ProvidersEditTheirOwnServicesAndTheCouncilApproves) {
  const std::string org = Organization("youth-trust");
  v1::UpsertServiceResponse created;
  ASSERT_TRUE(Upsert(Partner("youth-trust"), "partner-create-01",
                     NewService(org, "Kickstart mentoring", "mentoring"), &created)
                  .ok());
  const std::string id = created.service().id();
  EXPECT_EQ(created.service().quality().status(), v1::QA_STATUS_PENDING);
  EXPECT_EQ(Search("kickstart").services_size(), 0);  // not approved yet

  // Another partner may not touch it; nor approve; a partner cannot approve at all.
  v1::UpsertServiceResponse refused;
  v1::Service edit = created.service();
  edit.set_name("Taken over");
  EXPECT_EQ(Upsert(Partner("other-trust"), "other-edit-0001", edit, &refused).error_code(),
            grpc::PERMISSION_DENIED);
  v1::SetQualityAssuranceResponse approved;
  EXPECT_EQ(Approve(Partner("youth-trust"), "self-approve-01", id, absl::CivilDay(2027, 6, 30), &approved)
                .error_code(),
            grpc::PERMISSION_DENIED);
  grpc::Status bad = Approve(Council(), "approve-past-01", id, absl::CivilDay(2026, 1, 1), &approved);
  EXPECT_EQ(bad.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(bad.error_message(), StartsWith("quality.review_date:"));

  ASSERT_TRUE(Approve(Council(), "approve-kick-01", id, absl::CivilDay(2027, 6, 30), &approved).ok());
  EXPECT_EQ(approved.service().quality().assessor_subject(), "officer-1");
  ASSERT_EQ(Search("kickstart").services_size(), 1);

  // Live capacity: no re-approval. A substantive edit: back to pending.
  v1::UpdateCapacityRequest capacity;
  capacity.set_request_id("capacity-kick-01");
  capacity.set_service_id(id);
  capacity.mutable_capacity()->set_maximum(10);
  capacity.mutable_capacity()->set_available(2);
  capacity.mutable_capacity()->set_waiting_time_days(21);
  v1::UpdateCapacityResponse updated;
  ASSERT_TRUE(dir().UpdateCapacity(As(Partner("youth-trust")).get(), capacity, &updated).ok());
  EXPECT_EQ(updated.service().quality().status(), v1::QA_STATUS_APPROVED);
  EXPECT_EQ(Search("kickstart").services(0).capacity().waiting_time_days(), 21);
  edit = updated.service();
  edit.set_description("Now also for Year 12");
  v1::UpsertServiceResponse edited;
  ASSERT_TRUE(Upsert(Partner("youth-trust"), "partner-edit-001", edit, &edited).ok());
  EXPECT_EQ(edited.service().quality().status(), v1::QA_STATUS_PENDING);
  EXPECT_EQ(Search("kickstart").services_size(), 0);

  // Published, quality changed, updated (capacity), updated (edit): in order.
  const std::vector<v1::DirectoryEvent> events = Events(id, 4);
  ASSERT_EQ(events.size(), 4u);
  EXPECT_TRUE(events[0].has_service_published());
  EXPECT_EQ(events[1].service_quality_changed().status(), v1::QA_STATUS_APPROVED);
  EXPECT_TRUE(events[2].has_service_updated());
  EXPECT_TRUE(events[3].has_service_updated());
}

TEST_F(DirectoryTest, BadInputIsRefusedNamingTheFieldAndNothingIsWritten) {
  const std::string org = Organization("bad-input-trust");
  const int64_t services_before = stack_->h.redis->Command({"SCARD", "ds:services"})->integer;
  v1::UpsertServiceResponse response;
  v1::Service s = NewService(org, "Bad", "mentoring");
  s.mutable_eligibility()->set_maximum_age(5);
  grpc::Status status = Upsert(Council(), "bad-service-01", s, &response);
  EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), StartsWith("service.eligibility.maximum_age:"));
  s = NewService("no-such-organisation", "Orphan", "mentoring");
  status = Upsert(Council(), "bad-service-02", s, &response);
  EXPECT_EQ(status.error_code(), grpc::NOT_FOUND);
  EXPECT_THAT(status.error_message(), StartsWith("service.organization_id:"));
  s = NewService(org, "No token", "mentoring");
  EXPECT_EQ(Upsert("", "bad-service-03", s, &response).error_code(), grpc::UNAUTHENTICATED);
  EXPECT_EQ(stack_->h.redis->Command({"SCARD", "ds:services"})->integer, services_before);

  v1::SearchServicesRequest search;
  search.set_postcode("not a postcode");
  v1::SearchServicesResponse found;
  status = dir().SearchServices(As(School("100001")).get(), search, &found);
  EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), StartsWith("postcode:"));
  search.Clear();
  search.set_include_unapproved(true);
  EXPECT_EQ(dir().SearchServices(As(School("100001")).get(), search, &found).error_code(),
            grpc::PERMISSION_DENIED);
  v1::TriageRequest triage;
  triage.mutable_profile()->add_needs()->set_term_id("astrology");
  v1::TriageResponse ranked;
  status = stack_->triage_stub->Triage(As(School("100001")).get(), triage, &ranked);
  EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), StartsWith("profile.needs[0].term_id:"));
}

TEST_F(DirectoryTest, ImportsAnOpenReferralDirectoryAndExportsItAgain) {
  std::ifstream in(std::string(ROOTED_TEST_DATA_DIR) + "/oruk_sample.json");
  std::stringstream json;
  json << in.rdbuf();
  v1::ImportOpenReferralRequest request;
  request.set_request_id("import-sample-01");
  request.set_json(json.str());
  v1::ImportOpenReferralResponse imported;
  EXPECT_EQ(dir().ImportOpenReferral(As(School("100001")).get(), request, &imported).error_code(),
            grpc::PERMISSION_DENIED);
  ASSERT_TRUE(dir().ImportOpenReferral(As(Council()).get(), request, &imported).ok());
  EXPECT_EQ(imported.organizations(), 1);
  EXPECT_EQ(imported.services(), 2);
  ASSERT_EQ(imported.problems_size(), 1);
  EXPECT_EQ(imported.problems(0), "services[2]: id is missing");
  // Retried: the same answer, nothing twice.
  v1::ImportOpenReferralResponse again;
  ASSERT_TRUE(dir().ImportOpenReferral(As(Council()).get(), request, &again).ok());
  EXPECT_EQ(again.SerializeAsString(), imported.SerializeAsString());

  v1::GetServiceRequest get;
  get.set_service_id("ac148810-d857-441c-9679-408f346de14b");
  v1::GetServiceResponse service;
  ASSERT_TRUE(dir().GetService(As(School("100001")).get(), get, &service).ok());
  EXPECT_EQ(service.service().name(), "Young Minds Counselling");
  EXPECT_EQ(service.service().quality().status(), v1::QA_STATUS_PENDING);

  v1::ExportOpenReferralRequest export_request;
  export_request.set_organization_id("d9d5e0f5-d3ce-4f73-9a2f-4dd0ecc6c610");
  v1::ExportOpenReferralResponse exported;
  ASSERT_TRUE(dir().ExportOpenReferral(As(Partner("anyone")).get(), export_request, &exported).ok());
  EXPECT_THAT(exported.json(), HasSubstr("\"Young Minds Counselling\""));
  EXPECT_THAT(exported.json(), HasSubstr("\"Parenting Together\""));
  EXPECT_THAT(exported.json(), HasSubstr("\"postal_code\": \"LS6 1AA\""));
}

TEST_F(DirectoryTest, ReferralsAreTriagedOnceAndServiceReferralsAnnounced) {
  const std::string org = Organization("semh-trust");
  const std::string semh = Published(org, "Calm Minds group", "semh");
  const std::string ref = "pr_" + std::string(29, '0') + "777777";
  Submitted("referral-event-0001", "referral-000777", ref, "100007", "semh");
  Submitted("referral-event-0001", "referral-000777", ref, "100007", "semh");  // duplicate
  const std::vector<v1::DirectoryEvent> recommended = Events(ref, 1);
  ASSERT_EQ(recommended.size(), 1u);
  EXPECT_EQ(recommended[0].triage_recommended().referral_id(), "referral-000777");
  ASSERT_GE(recommended[0].triage_recommended().service_ids_size(), 1);
  EXPECT_EQ(recommended[0].triage_recommended().service_ids(0), semh);

  v1::TriageRequest triage;
  triage.set_referral_id("referral-000777");
  v1::TriageResponse ranked;
  // Another school's referral is answered as one not known here.
  EXPECT_EQ(stack_->triage_stub->Triage(As(School("100008")).get(), triage, &ranked).error_code(),
            grpc::UNAVAILABLE);
  ASSERT_TRUE(stack_->triage_stub->Triage(As(School("100007")).get(), triage, &ranked).ok());
  ASSERT_GE(ranked.ranked_size(), 1);
  EXPECT_EQ(ranked.ranked(0).service().id(), semh);
  EXPECT_THAT(ranked.ranked(0).reason(), HasSubstr("Social, emotional and mental health"));

  v1::MakeServiceReferralRequest make;
  make.set_request_id("service-referral-1");
  make.set_referral_id("referral-000777");
  make.set_service_id(semh);
  v1::MakeServiceReferralResponse made;
  // Another school's referral is answered as one not known here.
  EXPECT_EQ(dir().MakeServiceReferral(As(School("100008")).get(), make, &made).error_code(),
            grpc::UNAVAILABLE);
  ASSERT_TRUE(dir().MakeServiceReferral(As(School("100007")).get(), make, &made).ok());
  EXPECT_EQ(made.service_referral().made_by().subject(), "teacher-100007");
  make.set_request_id("service-referral-2");
  EXPECT_EQ(dir().MakeServiceReferral(As(School("100007")).get(), make, &made).error_code(),
            grpc::ALREADY_EXISTS);
  const std::vector<v1::DirectoryEvent> events = Events(ref, 2);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].service_referral_made().service_referral().service_id(), semh);
  EXPECT_EQ(events[1].service_referral_made().provider().id(), "semh-trust");
}

TEST_F(DirectoryTest, SearchByPostcodeDistrictMeasuresDistance) {
  const std::string org = Organization("distance-trust");
  const std::string id = Published(org, "Zebra youth club", "youth-work");
  v1::LoadPostcodeDistrictsRequest load;
  load.set_request_id("postcodes-load-01");
  v1::PostcodeDistrict* ls6 = load.add_districts();
  ls6->set_district("LS6");
  ls6->set_latitude_e6(53'820'000);
  ls6->set_longitude_e6(-1'580'000);
  v1::LoadPostcodeDistrictsResponse loaded;
  ASSERT_TRUE(dir().LoadPostcodeDistricts(As(Council()).get(), load, &loaded).ok());
  load.set_request_id("postcodes-load-02");
  load.mutable_districts(0)->set_district("ls6");
  grpc::Status bad = dir().LoadPostcodeDistricts(As(Council()).get(), load, &loaded);
  EXPECT_EQ(bad.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(bad.error_message(), StartsWith("districts[0].district:"));

  v1::SearchServicesRequest request;
  request.set_text("zebra");
  request.set_postcode("LS6 2XY");
  request.set_proximity_metres(3000);
  v1::SearchServicesResponse found;
  ASSERT_TRUE(dir().SearchServices(As(School("100001")).get(), request, &found).ok());
  ASSERT_EQ(found.services_size(), 1);
  EXPECT_EQ(found.services(0).id(), id);
  EXPECT_GT(found.distance_metres(0), 1000);
  EXPECT_LT(found.distance_metres(0), 1300);
  request.set_proximity_metres(500);
  ASSERT_TRUE(dir().SearchServices(As(School("100001")).get(), request, &found).ok());
  EXPECT_EQ(found.services_size(), 0);
  // Or from a point: the site itself.
  request.clear_postcode();
  request.set_latitude_e6(53'815'000);
  request.set_longitude_e6(-1'565'000);
  ASSERT_TRUE(dir().SearchServices(As(School("100001")).get(), request, &found).ok());
  ASSERT_EQ(found.services_size(), 1);
  EXPECT_EQ(found.distance_metres(0), 0);
  request.set_postcode("LS6");
  bad = dir().SearchServices(As(School("100001")).get(), request, &found);
  EXPECT_EQ(bad.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(bad.error_message(), StartsWith("postcode: give a postcode or coordinates"));
}

TEST_F(DirectoryTest, ApprovalsExpireOnceAndAnotherReplicaFollowsTheChanges) {
  const std::string org = Organization("expiry-trust");
  v1::UpsertServiceResponse created;
  ASSERT_TRUE(Upsert(Council(), "create-expiring", NewService(org, "Yak expiring", "bereavement"), &created).ok());
  const std::string id = created.service().id();
  v1::SetQualityAssuranceResponse approved;
  ASSERT_TRUE(Approve(Council(), "approve-expiring", id, absl::CivilDay(2026, 12, 31), &approved).ok());

  // A second replica: its own store handle and index, loaded, then following the feed.
  DirectoryStore other_store(*stack_->h.redis, "ds");
  DirectoryIndex other_index;
  DirectoryCore other(other_store, other_index, stack_->h.clock, DirectoryOptions{.zone = London()});
  ASSERT_TRUE(other.Load().ok());
  ASSERT_NE(other_index.Find(id), nullptr);
  v1::UpdateCapacityRequest capacity;
  capacity.set_request_id("capacity-expiring");
  capacity.set_service_id(id);
  capacity.mutable_capacity()->set_maximum(5);
  v1::UpdateCapacityResponse updated;
  ASSERT_TRUE(dir().UpdateCapacity(As(Council()).get(), capacity, &updated).ok());
  ASSERT_TRUE(other.Follow().ok());
  EXPECT_EQ(other_index.Find(id)->capacity().maximum(), 5);

  EXPECT_EQ(Search("yak").services_size(), 1);
  stack_->h.clock.Set(absl::FromCivil(absl::CivilSecond(2027, 1, 1, 9, 0, 0), London()));
  EXPECT_EQ(Search("yak").services_size(), 0);  // expired by date already
  absl::StatusOr<int> expired = stack_->core->ExpireQualityAssurance();
  ASSERT_TRUE(expired.ok());
  EXPECT_GE(*expired, 1);
  EXPECT_EQ(*stack_->core->ExpireQualityAssurance(), 0);
  v1::GetServiceRequest get;
  get.set_service_id(id);
  v1::GetServiceResponse got;
  ASSERT_TRUE(dir().GetService(As(Council()).get(), get, &got).ok());
  EXPECT_EQ(got.service().quality().status(), v1::QA_STATUS_EXPIRED);
  int expiries = 0;
  for (const v1::DirectoryEvent& e : Events(id, 4)) {
    expiries += e.service_quality_changed().status() == v1::QA_STATUS_EXPIRED;
  }
  EXPECT_EQ(expiries, 1);
  stack_->h.clock.Set(absl::FromCivil(absl::CivilSecond(2026, 11, 23, 10, 0, 0), London()));
}

// Finding 5 of the trust review: a child is referred to a service only with
// the family's consent to sharing with services.
TEST_F(DirectoryTest, AServiceReferralNeedsConsentToSharingWithServices) {
  const std::string org = Organization("consent-trust");
  const std::string service = Published(org, "Family mentoring", "semh");
  const std::string ref = "pr_" + std::string(29, '0') + "778778";
  Submitted("referral-event-0778", "referral-000778", ref, "100007", "semh",
            {rv1::CONSENT_SCOPE_FORUM});
  ASSERT_TRUE(rooted::testing::Eventually([&] {
    return stack_->referrals->Find("referral-000778", true).value_or(std::nullopt).has_value();
  }));
  v1::MakeServiceReferralRequest make;
  make.set_request_id("consent-referral-1");
  make.set_referral_id("referral-000778");
  make.set_service_id(service);
  v1::MakeServiceReferralResponse made;
  grpc::Status status = dir().MakeServiceReferral(As(School("100007")).get(), make, &made);
  EXPECT_EQ(status.error_code(), grpc::FAILED_PRECONDITION);
  EXPECT_THAT(
      status.error_message(),
      HasSubstr(
          "referral_id: the family's consent does not cover sharing with directory services"));

  // The family consents to services too: now it may be made.
  rv1::ReferralEvent consent;
  consent.mutable_consent_recorded()->set_referral_id("referral-000778");
  consent.mutable_consent_recorded()->mutable_pupil_ref()->set_value(ref);
  consent.mutable_consent_recorded()->set_status(rv1::CONSENT_STATUS_GIVEN);
  consent.mutable_consent_recorded()->add_scopes(rv1::CONSENT_SCOPE_FORUM);
  consent.mutable_consent_recorded()->add_scopes(rv1::CONSENT_SCOPE_SERVICES);
  consent.mutable_metadata()->set_event_id("consent-event-0778");
  consent.mutable_metadata()->set_event_type(PayloadTypeName(consent));
  const OutgoingMessage message =
      ToOutgoingMessage(topics::kReferralEvents, ref, consent.metadata(), consent);
  ASSERT_TRUE(stack_->h.producer->Deliver({&message, 1}, absl::Seconds(10)).front().ok());
  ASSERT_TRUE(rooted::testing::Eventually([&] {
    auto known = stack_->referrals->Find("referral-000778", true);
    return known.ok() && *known && (*known)->record.consented_size() == 2;
  }));
  made.Clear();
  status = dir().MakeServiceReferral(As(School("100007")).get(), make, &made);
  ASSERT_TRUE(status.ok()) << status.error_message();

  // A referral this service has never heard of: told to retry, with gRPC's hint.
  make.set_request_id("consent-referral-2");
  make.set_referral_id("referral-never-made");
  grpc::ClientContext context;
  context.AddMetadata("authorization", "Bearer " + School("100007"));
  status = dir().MakeServiceReferral(&context, make, &made);
  EXPECT_EQ(status.error_code(), grpc::UNAVAILABLE);
  EXPECT_EQ(context.GetServerTrailingMetadata().count("grpc-retry-pushback-ms"), 1u);
}

}  // namespace
}  // namespace rooted::directory
