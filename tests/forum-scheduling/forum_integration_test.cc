// Forum scheduling end to end: the gRPC API with its scopes, a real
// redis-server, the local broker carrying referral and risk events in and
// forum events out through the outbox.

#include <grpcpp/grpcpp.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/base/proto_date.h"
#include "common/base/proto_time.h"
#include "common/kafka/event_consumer.h"
#include "common/kafka/event_metadata.h"
#include "common/kafka/kafka_producer.h"
#include "common/kafka/topics.h"
#include "common/outbox/outbox.h"
#include "common/server/service_runtime.h"
#include "rooted/forum/v1/forum_events.pb.h"
#include "rooted/referral/v1/referral_events.pb.h"
#include "rooted/risk/v1/risk_events.pb.h"
#include "services/forum-scheduling/forum_event_handler.h"
#include "services/forum-scheduling/forum_service.h"
#include "tests/forum-scheduling/forum_test_data.h"
#include "tests/support/service_harness.h"

namespace rooted::forum {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using testing::Day;
namespace cv1 = rooted::common::v1;
namespace rv1 = rooted::referral::v1;

absl::TimeZone London() {
  absl::TimeZone zone;
  (void)absl::LoadTimeZone("Europe/London", &zone);
  return zone;
}

absl::Time LondonTime(int y, int m, int d, int hour, int minute = 0) {
  return absl::FromCivil(absl::CivilMinute(y, m, d, hour, minute), London());
}

std::string Ref(int n) {
  std::string ref = "pr_" + std::string(32, '0');
  const std::string digits = std::to_string(n);
  ref.replace(ref.size() - digits.size(), digits.size(), digits);
  return ref;
}

struct ForumSchedulingStack {
  ForumSchedulingStack() {
    store = std::make_unique<ForumStore>(*h.redis, "fs");
    service = std::make_unique<ForumServiceImpl>(*store, h.clock, *h.metrics,
                                                 ForumServiceOptions{.zone = London()});
    referrals = std::make_unique<ReferralFactsKeeper>(*store);
    handler = std::make_unique<ForumEventHandler>(*store, *referrals, h.clock, London(),
                                                  "forum-scheduling");
    consumer = *EventConsumer::Create(
        h.ConsumerOptions("forum-scheduling-test", {std::string(topics::kReferralEvents),
                                                    std::string(topics::kRiskEvents)}),
        *handler, *h.producer, *h.metrics, *h.logger);
    relay = h.Relay("fs");
    owners = std::make_unique<ForumOwners>(*store);
    api = rooted::testing::Guarded("rooted.forum.v1.ForumService", *service,
                                   h.ServiceOptions("fs", owners.get()));
    server = *GrpcServer::Start({.listen_address = "127.0.0.1:0", .service_names = {}}, {api.get()},
                                {[this] { return h.redis->Ping(); }}, *h.logger);
    stub = v1::ForumService::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(server->port()), grpc::InsecureChannelCredentials()));
    consumer->Start();
    relay->Start();
  }
  ~ForumSchedulingStack() {
    server->Shutdown(absl::Seconds(1));
    consumer->Stop();
    relay->Stop(absl::Seconds(2));
  }

  rooted::testing::ServiceHarness h{"forum-scheduling", LondonTime(2026, 9, 1, 9)};
  std::unique_ptr<ForumStore> store;
  std::unique_ptr<ForumServiceImpl> service;
  std::unique_ptr<ForumOwners> owners;
  std::unique_ptr<GuardedService> api;
  std::unique_ptr<ReferralFactsKeeper> referrals;
  std::unique_ptr<ForumEventHandler> handler;
  std::unique_ptr<EventConsumer> consumer;
  std::unique_ptr<OutboxRelay> relay;
  std::unique_ptr<GrpcServer> server;
  std::unique_ptr<v1::ForumService::Stub> stub;
};

class ForumSchedulingTest : public rooted::testing::SharedStackTest<ForumSchedulingStack> {
 protected:
  void SetUp() override { stack_->h.clock.Set(LondonTime(2026, 9, 1, 9)); }

  v1::ForumService::Stub& stub() { return *stack_->stub; }
  std::unique_ptr<grpc::ClientContext> As(const std::string& token) {
    return rooted::testing::AuthedContext(token);
  }
  std::string Token(const std::string& subject, Role role, OrganisationType type,
                    const std::string& org, const std::string& la = "801") {
    return stack_->h.tokens.Mint(subject, role, type, org, la, stack_->h.clock.Now());
  }
  std::string Council() {
    return Token("officer-1", cv1::ROLE_COUNCIL_OFFICER, cv1::ORGANISATION_TYPE_COUNCIL, "801");
  }
  std::string Chair() {
    return Token("chair-1", cv1::ROLE_FORUM_MEMBER, cv1::ORGANISATION_TYPE_PARTNER, "nhs-north");
  }
  std::string Coordinator() {
    return Token("coordinator-1", cv1::ROLE_FORUM_COORDINATOR, cv1::ORGANISATION_TYPE_COUNCIL,
                 "801");
  }
  std::string School(const std::string& urn) {
    return Token("teacher-" + urn, cv1::ROLE_SCHOOL_STAFF, cv1::ORGANISATION_TYPE_SCHOOL, urn);
  }
  std::string Partner(const std::string& id) {
    return Token("worker-" + id, cv1::ROLE_PARTNER_WORKER, cv1::ORGANISATION_TYPE_PARTNER, id);
  }

  // A forum like SchoolYearForum serving (and with members) the schools given.
  v1::Forum ForumFor(const std::string& a, const std::string& b) {
    v1::Forum forum = testing::SchoolYearForum();
    forum.clear_forum_id();
    forum.mutable_members(0)->mutable_organisation()->set_id(a);
    forum.mutable_members(1)->mutable_organisation()->set_id(b);
    forum.set_school_urns(0, a);
    forum.set_school_urns(1, b);
    return forum;
  }

  v1::Forum Create(const v1::Forum& forum, const std::string& request_id) {
    v1::CreateForumRequest request;
    request.set_request_id(request_id);
    *request.mutable_forum() = forum;
    v1::CreateForumResponse response;
    const grpc::Status status = stub().CreateForum(As(Council()).get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.forum();
  }

  grpc::Status ListCaseAs(const std::string& token, const std::string& forum_id,
                          const std::string& request_id, const std::string& referral_id,
                          const std::string& ref, const std::string& urn,
                          v1::ListCaseResponse* response) {
    v1::ListCaseRequest request;
    request.set_request_id(request_id);
    request.set_forum_id(forum_id);
    request.set_referral_id(referral_id);
    request.mutable_pupil_ref()->set_value(ref);
    request.set_school_urn(urn);
    return stub().ListCase(As(token).get(), request, response);
  }

  std::string ListCase(const std::string& forum_id, const std::string& referral_id,
                       const std::string& ref, const std::string& urn) {
    v1::ListCaseResponse response;
    const grpc::Status status = ListCaseAs(Coordinator(), forum_id, "list-" + referral_id,
                                           referral_id, ref, urn, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.forum_case().case_id();
  }

  v1::ListCasesResponse Cases(const std::string& forum_id) {
    v1::ListCasesRequest request;
    request.set_forum_id(forum_id);
    v1::ListCasesResponse response;
    EXPECT_TRUE(stub().ListCases(As(Coordinator()).get(), request, &response).ok());
    return response;
  }

  grpc::Status Agenda(const std::string& token, const std::string& meeting_id,
                      v1::GetAgendaResponse* response) {
    v1::GetAgendaRequest request;
    request.set_meeting_id(meeting_id);
    return stub().GetAgenda(As(token).get(), request, response);
  }

  grpc::Status Attend(const v1::Forum& forum, const std::string& meeting_id,
                      const std::string& request_id, std::vector<int> member_indexes,
                      v1::RecordAttendanceResponse* response) {
    v1::RecordAttendanceRequest request;
    request.set_request_id(request_id);
    request.set_meeting_id(meeting_id);
    for (int i : member_indexes) *request.add_present() = forum.members(i);
    return stub().RecordAttendance(As(Chair()).get(), request, response);
  }

  grpc::Status Decide(const std::string& meeting_id, const std::string& request_id,
                      const v1::Decision& decision, v1::RecordDecisionResponse* response) {
    v1::RecordDecisionRequest request;
    request.set_request_id(request_id);
    request.set_meeting_id(meeting_id);
    *request.mutable_decision() = decision;
    return stub().RecordDecision(As(Chair()).get(), request, response);
  }

  void Publish(absl::string_view topic, const std::string& key, const std::string& event_id,
               google::protobuf::Message& envelope, cv1::EventMetadata* metadata) {
    metadata->set_event_id(event_id);
    metadata->set_event_type(PayloadTypeName(envelope));
    const OutgoingMessage message = ToOutgoingMessage(topic, key, *metadata, envelope);
    ASSERT_TRUE(stack_->h.producer->Deliver({&message, 1}, absl::Seconds(10)).front().ok());
  }

  void Submitted(const std::string& event_id, const std::string& referral_id,
                 const std::string& ref, const std::string& urn, bool to_forum,
                 bool safeguarding) {
    rv1::ReferralEvent event;
    rv1::ReferralSubmitted* e = event.mutable_referral_submitted();
    e->set_referral_id(referral_id);
    e->mutable_pupil_ref()->set_value(ref);
    e->set_school_urn(urn);
    e->set_la_code("801");
    e->set_refer_to_forum(to_forum);
    e->set_immediate_safeguarding_concern(safeguarding);
    // As referral intake requires: to the forum with consent to it, unless
    // there is an immediate safeguarding concern.
    if (to_forum && !safeguarding) e->add_consent_scopes(rv1::CONSENT_SCOPE_FORUM);
    Publish(topics::kReferralEvents, ref, event_id, event, event.mutable_metadata());
  }

  void ConsentNow(const std::string& event_id, const std::string& referral_id,
                  const std::string& ref, std::vector<rv1::ConsentScope> scopes) {
    rv1::ReferralEvent event;
    rv1::ConsentRecorded* e = event.mutable_consent_recorded();
    e->set_referral_id(referral_id);
    e->mutable_pupil_ref()->set_value(ref);
    e->set_status(scopes.empty() ? rv1::CONSENT_STATUS_WITHDRAWN : rv1::CONSENT_STATUS_GIVEN);
    for (rv1::ConsentScope scope : scopes) e->add_scopes(scope);
    Publish(topics::kReferralEvents, ref, event_id, event, event.mutable_metadata());
  }

  std::vector<v1::ForumEvent> ForumEvents(const std::string& key, size_t expected) {
    return rooted::testing::ReadEvents<v1::ForumEvent>(stack_->h.broker.bootstrap(),
                                                       topics::kForumEvents, key, expected);
  }

};


TEST_F(ForumSchedulingTest, CreateForumSchedulesTheYearAndAnnouncesEachMeetingOnce) {
  const v1::Forum forum = Create(ForumFor("100001", "100002"), "create-forum-01");
  ASSERT_FALSE(forum.forum_id().empty());
  v1::ListMeetingsRequest list;
  list.set_forum_id(forum.forum_id());
  list.mutable_page()->set_page_size(10);
  v1::ListMeetingsResponse page1, page2;
  ASSERT_TRUE(stub().ListMeetings(As(School("100001")).get(), list, &page1).ok());
  list.mutable_page()->set_page_token(page1.page().next_page_token());
  ASSERT_TRUE(stub().ListMeetings(As(School("100001")).get(), list, &page2).ok());
  EXPECT_EQ(page1.meetings_size() + page2.meetings_size(), 19);
  EXPECT_TRUE(page2.page().next_page_token().empty());
  EXPECT_EQ(page1.meetings(0).meeting_id(), forum.forum_id() + "-20260908");

  // A retry with the same request id answers the same forum, creates nothing.
  EXPECT_EQ(Create(ForumFor("100001", "100002"), "create-forum-01").forum_id(), forum.forum_id());
  EXPECT_EQ(ForumEvents(forum.forum_id(), 19).size(), 19u);

  v1::GetForumRequest get;
  get.set_forum_id(forum.forum_id());
  v1::GetForumResponse got;
  EXPECT_EQ(stub().GetForum(As(School("100099")).get(), get, &got).error_code(), grpc::NOT_FOUND);
  EXPECT_EQ(stub().GetForum(As("").get(), get, &got).error_code(), grpc::UNAUTHENTICATED);
  get.set_forum_id("no-such-forum");
  EXPECT_EQ(stub().GetForum(As(Council()).get(), get, &got).error_code(), grpc::NOT_FOUND);

  // Forum roles come from the forum's own seats: the coordinator's subject on
  // another school's staff token, or another council's, is no one's seat.
  v1::ListCasesRequest cases;
  cases.set_forum_id(forum.forum_id());
  v1::ListCasesResponse listed;
  EXPECT_TRUE(stub().ListCases(As(Coordinator()).get(), cases, &listed).ok());
  // A role the rule grants no one is refused before the forum is looked at;
  // a granted role without the seat finds no forum.
  EXPECT_EQ(stub()
                .ListCases(As(Token("coordinator-1", cv1::ROLE_SCHOOL_STAFF,
                                    cv1::ORGANISATION_TYPE_SCHOOL, "100099"))
                               .get(),
                           cases, &listed)
                .error_code(),
            grpc::PERMISSION_DENIED);
  EXPECT_EQ(stub()
                .ListCases(As(Token("coordinator-1", cv1::ROLE_FORUM_COORDINATOR,
                                    cv1::ORGANISATION_TYPE_COUNCIL, "802", "802"))
                               .get(),
                           cases, &listed)
                .error_code(),
            grpc::NOT_FOUND);
  EXPECT_EQ(stub()
                .ListCases(As(Token("coordinator-1", cv1::ROLE_FORUM_MEMBER,
                                    cv1::ORGANISATION_TYPE_PARTNER, "youth-trust"))
                               .get(),
                           cases, &listed)
                .error_code(),
            grpc::NOT_FOUND);
  // The chair's seat is theirs at a member organisation.
  EXPECT_TRUE(stub().ListCases(As(Chair()).get(), cases, &listed).ok());

  v1::ExportCalendarRequest ics_request;
  ics_request.set_forum_id(forum.forum_id());
  v1::ExportCalendarResponse ics;
  ASSERT_TRUE(stub().ExportCalendar(As(Partner("youth-trust")).get(), ics_request, &ics).ok());
  size_t events = 0;
  for (size_t at = 0; (at = ics.ics().find("BEGIN:VEVENT", at)) != std::string::npos; ++at) ++events;
  EXPECT_EQ(events, 19u);
}

TEST_F(ForumSchedulingTest, ListForumsShowsTheCouncilAllItsForumsAndOthersTheirSeats) {
  // Council 803's own forums, so that other tests' forums of 801 stay out of the count.
  auto forum_of_803 = [&](const std::string& a, const std::string& b, const std::string& partner) {
    v1::Forum forum = ForumFor(a, b);
    forum.set_la_code("803");
    forum.mutable_members(2)->mutable_organisation()->set_id("803");
    forum.mutable_members(3)->mutable_organisation()->set_id(partner);
    return forum;
  };
  const std::string officer =
      Token("officer-3", cv1::ROLE_COUNCIL_OFFICER, cv1::ORGANISATION_TYPE_COUNCIL, "803", "803");
  auto create = [&](const v1::Forum& forum, const std::string& request_id) {
    v1::CreateForumRequest request;
    request.set_request_id(request_id);
    *request.mutable_forum() = forum;
    v1::CreateForumResponse response;
    const grpc::Status status = stub().CreateForum(As(officer).get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.forum().forum_id();
  };
  const std::string north =
      create(forum_of_803("100061", "100062", "youth-trust"), "create-803-01");
  const std::string south = create(forum_of_803("100063", "100064", "far-trust"), "create-803-02");
  // Schools 100065 and 100066 sit on the third forum; it serves 100067 alone.
  v1::Forum east_config = forum_of_803("100065", "100066", "youth-trust");
  east_config.clear_school_urns();
  east_config.add_school_urns("100067");
  const std::string east = create(east_config, "create-803-03");
  std::vector<std::string> all = {north, south, east};
  std::sort(all.begin(), all.end());

  auto list = [&](const std::string& token, int page_size, const std::string& page_token,
                  v1::ListForumsResponse* response) {
    v1::ListForumsRequest request;
    request.mutable_page()->set_page_size(page_size);
    request.mutable_page()->set_page_token(page_token);
    return stub().ListForums(As(token).get(), request, response);
  };
  auto ids_for = [&](const std::string& token) {
    v1::ListForumsResponse response;
    const grpc::Status status = list(token, 0, "", &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    std::vector<std::string> ids;
    for (const v1::Forum& f : response.forums()) ids.push_back(f.forum_id());
    return ids;
  };

  // The council's officers and coordinators: every forum, by id, page by page.
  v1::ListForumsResponse first, second;
  ASSERT_TRUE(list(officer, 2, "", &first).ok());
  ASSERT_EQ(first.forums_size(), 2);
  EXPECT_FALSE(first.page().next_page_token().empty());
  ASSERT_TRUE(list(officer, 2, first.page().next_page_token(), &second).ok());
  ASSERT_EQ(second.forums_size(), 1);
  EXPECT_TRUE(second.page().next_page_token().empty());
  EXPECT_EQ((std::vector<std::string>{first.forums(0).forum_id(), first.forums(1).forum_id(),
                                      second.forums(0).forum_id()}),
            all);
  EXPECT_EQ(first.forums(0).la_code(), "803");
  EXPECT_EQ(ids_for(Token("coordinator-1", cv1::ROLE_FORUM_COORDINATOR,
                          cv1::ORGANISATION_TYPE_COUNCIL, "803", "803")),
            all);

  // Everyone else: the forums where their organisation holds a seat; a
  // school also the forum serving it.
  auto sorted = [](std::vector<std::string> ids) {
    std::sort(ids.begin(), ids.end());
    return ids;
  };
  EXPECT_EQ(ids_for(Token("worker-1", cv1::ROLE_PARTNER_WORKER, cv1::ORGANISATION_TYPE_PARTNER,
                          "youth-trust", "803")),
            sorted({north, east}));
  EXPECT_EQ(ids_for(Token("chair-1", cv1::ROLE_FORUM_MEMBER, cv1::ORGANISATION_TYPE_PARTNER,
                          "nhs-north", "803")),
            all);
  EXPECT_EQ(ids_for(Token("teacher-1", cv1::ROLE_SCHOOL_STAFF, cv1::ORGANISATION_TYPE_SCHOOL,
                          "100063", "803")),
            std::vector<std::string>{south});
  EXPECT_EQ(ids_for(Token("teacher-1", cv1::ROLE_SCHOOL_LEAD, cv1::ORGANISATION_TYPE_SCHOOL,
                          "100067", "803")),
            std::vector<std::string>{east});
  EXPECT_TRUE(ids_for(Token("teacher-1", cv1::ROLE_SCHOOL_STAFF, cv1::ORGANISATION_TYPE_SCHOOL,
                            "100099", "803"))
                  .empty());
  // Another council's officer sees its own council's forums, none of these.
  for (const std::string& id : ids_for(Council())) {
    EXPECT_THAT(all, ::testing::Not(::testing::Contains(id)));
  }

  // A role the rule grants no one is refused; a bad page names its field.
  v1::ListForumsResponse refused;
  EXPECT_EQ(list(Token("finance-1", cv1::ROLE_FINANCE_OFFICER, cv1::ORGANISATION_TYPE_COUNCIL,
                       "803", "803"),
                 0, "", &refused)
                .error_code(),
            grpc::PERMISSION_DENIED);
  EXPECT_EQ(list("", 0, "", &refused).error_code(), grpc::UNAUTHENTICATED);
  grpc::Status bad = list(officer, 501, "", &refused);
  EXPECT_EQ(bad.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(bad.error_message(), StartsWith("page.page_size:"));
  bad = list(officer, 0, "not-a-token", &refused);
  EXPECT_EQ(bad.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(bad.error_message(), StartsWith("page.page_token:"));
}

TEST_F(ForumSchedulingTest, BadForumsAreRefusedNamingTheFieldAndNothingIsHalfWritten) {
  Create(ForumFor("100003", "100004"), "create-forum-02");
  const int64_t forums_before = stack_->h.redis->Command({"SCARD", "fs:forums:801"})->integer;
  auto create = [&](const std::string& token, const v1::Forum& forum, const std::string& id) {
    v1::CreateForumRequest request;
    request.set_request_id(id);
    *request.mutable_forum() = forum;
    v1::CreateForumResponse response;
    return stub().CreateForum(As(token).get(), request, &response);
  };
  EXPECT_EQ(create(School("100003"), ForumFor("100005", "100006"), "bad-forum-01").error_code(),
            grpc::PERMISSION_DENIED);
  EXPECT_EQ(create(Token("officer-2", cv1::ROLE_COUNCIL_OFFICER, cv1::ORGANISATION_TYPE_COUNCIL,
                         "802", "802"),
                   ForumFor("100005", "100006"), "bad-forum-02")
                .error_code(),
            grpc::PERMISSION_DENIED);
  v1::Forum no_slots = ForumFor("100005", "100006");
  no_slots.set_case_slots(0);
  grpc::Status status = create(Council(), no_slots, "bad-forum-03");
  EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), StartsWith("forum.case_slots:"));
  status = create(Council(), ForumFor("100005", "100006"), "");
  EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), StartsWith("request_id:"));
  // 100004 already has a forum: refused whole, the new school not taken either.
  status = create(Council(), ForumFor("100007", "100004"), "bad-forum-04");
  EXPECT_EQ(status.error_code(), grpc::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), StartsWith("forum.school_urns[1]:"));
  EXPECT_EQ(stack_->h.redis->Command({"SCARD", "fs:forums:801"})->integer, forums_before);
  EXPECT_TRUE(stack_->h.redis->Command({"HGET", "fs:school_forum", "100007"})->is_nil());
}

TEST_F(ForumSchedulingTest, ReferralEventsListACaseOnceAndWithdrawalTakesItOff) {
  const v1::Forum forum = Create(ForumFor("100011", "100012"), "create-forum-03");
  Submitted("event-0000-0001", "referral-00011", Ref(11), "100011", true, true);
  Submitted("event-0000-0001", "referral-00011", Ref(11), "100011", true, true);  // duplicate
  Submitted("event-0000-0002", "referral-00012", Ref(12), "100012", false, false);  // no forum
  ASSERT_TRUE(rooted::testing::Eventually([&] { return Cases(forum.forum_id()).cases_size() == 1; }));
  const v1::ForumCase listed = Cases(forum.forum_id()).cases(0).forum_case();
  EXPECT_EQ(listed.referral_id(), "referral-00011");
  EXPECT_EQ(listed.source(), v1::CASE_SOURCE_REFERRAL);
  // Safeguarding: heard within 10 school days of 1 Sep 2026 (term starts 2 Sep).
  EXPECT_EQ(FromProtoDate(listed.hear_by()).value(), Day(2026, 9, 15));
  EXPECT_THAT(listed.priority_reason(), HasSubstr("safeguarding"));
  const std::vector<v1::ForumEvent> events = ForumEvents(Ref(11), 1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].case_listed().forum_case().case_id(), listed.case_id());

  // The risk band follows the pupil.
  rooted::risk::v1::RiskEvent risk;
  risk.mutable_risk_band_changed()->mutable_pupil_ref()->set_value(Ref(11));
  risk.mutable_risk_band_changed()->set_band(cv1::RISK_BAND_HIGH);
  Publish(topics::kRiskEvents, Ref(11), "event-0000-0003", risk, risk.mutable_metadata());
  ASSERT_TRUE(rooted::testing::Eventually([&] {
    return Cases(forum.forum_id()).cases(0).forum_case().risk_band() == cv1::RISK_BAND_HIGH;
  }));

  rv1::ReferralEvent withdrawn;
  withdrawn.mutable_referral_withdrawn()->set_referral_id("referral-00011");
  Publish(topics::kReferralEvents, Ref(11), "event-0000-0004", withdrawn,
          withdrawn.mutable_metadata());
  ASSERT_TRUE(rooted::testing::Eventually([&] { return Cases(forum.forum_id()).cases_size() == 0; }));
}

// Finding 5 of the trust review: the forum hears a child only with the
// family's consent to it, or for an immediate safeguarding concern.
TEST_F(ForumSchedulingTest, ConsentToTheForumWithdrawnTakesTheCaseOffUnlessSafeguarding) {
  const v1::Forum forum = Create(ForumFor("100015", "100016"), "create-forum-15");
  Submitted("event-0000-0151", "referral-00151", Ref(151), "100015", true, false);
  Submitted("event-0000-0152", "referral-00152", Ref(152), "100016", true, true);
  ASSERT_TRUE(
      rooted::testing::Eventually([&] { return Cases(forum.forum_id()).cases_size() == 2; }));

  // The family of the first withdraws consent to the forum (keeping the fund's);
  // the second's concern is safeguarding, so its case stays whatever the consent.
  ConsentNow("event-0000-0153", "referral-00151", Ref(151), {rv1::CONSENT_SCOPE_FUND});
  ConsentNow("event-0000-0154", "referral-00152", Ref(152), {});
  ASSERT_TRUE(
      rooted::testing::Eventually([&] { return Cases(forum.forum_id()).cases_size() == 1; }));
  EXPECT_EQ(Cases(forum.forum_id()).cases(0).forum_case().referral_id(), "referral-00152");

  // Updated to go to the forum without consent to it: not listed.
  rv1::ReferralEvent updated;
  updated.mutable_referral_updated()->set_referral_id("referral-00151");
  updated.mutable_referral_updated()->mutable_pupil_ref()->set_value(Ref(151));
  updated.mutable_referral_updated()->set_school_urn("100015");
  updated.mutable_referral_updated()->set_refer_to_forum(true);
  Publish(topics::kReferralEvents, Ref(151), "event-0000-0155", updated,
          updated.mutable_metadata());
  ASSERT_TRUE(rooted::testing::Eventually([&] {  // the update has been applied
    return stack_->h.redis->Command({"EXISTS", ProcessedEventKey("fs", "event-0000-0155")})
               ->integer == 1;
  }));
  EXPECT_EQ(Cases(forum.forum_id()).cases_size(), 1);
}

TEST_F(ForumSchedulingTest, AVeryHighBandGivesACaseADeadline) {
  const v1::Forum forum = Create(ForumFor("100013", "100014"), "create-forum-04");
  const std::string case_id = ListCase(forum.forum_id(), "referral-00013", Ref(13), "100013");
  EXPECT_FALSE(Cases(forum.forum_id()).cases(0).forum_case().has_hear_by());
  rooted::risk::v1::RiskEvent risk;
  risk.mutable_risk_band_changed()->mutable_pupil_ref()->set_value(Ref(13));
  risk.mutable_risk_band_changed()->set_band(cv1::RISK_BAND_VERY_HIGH);
  Publish(topics::kRiskEvents, Ref(13), "event-0000-0013", risk, risk.mutable_metadata());
  ASSERT_TRUE(rooted::testing::Eventually([&] { return Cases(forum.forum_id()).cases(0).forum_case().has_hear_by(); }));
  EXPECT_THAT(Cases(forum.forum_id()).cases(0).forum_case().priority_reason(),
              HasSubstr("very high"));
}

TEST_F(ForumSchedulingTest, AgendaFitsCapacityMovesCasesOnCancelAndShowsEachMemberTheirPart) {
  v1::Forum config = ForumFor("100021", "100022");
  config.set_case_slots(2);
  const v1::Forum forum = Create(config, "create-forum-05");
  const std::string first = ListCase(forum.forum_id(), "referral-00021", Ref(21), "100021");
  stack_->h.clock.Advance(absl::Minutes(1));
  const std::string second = ListCase(forum.forum_id(), "referral-00022", Ref(22), "100022");
  stack_->h.clock.Advance(absl::Minutes(1));
  const std::string third = ListCase(forum.forum_id(), "referral-00023", Ref(23), "100021");

  // The same request again is the same case; another request for the referral is refused.
  v1::ListCaseResponse again;
  ASSERT_TRUE(ListCaseAs(Coordinator(), forum.forum_id(), "list-referral-00021", "referral-00021",
                         Ref(21), "100021", &again)
                  .ok());
  EXPECT_EQ(again.forum_case().case_id(), first);
  EXPECT_EQ(ListCaseAs(Coordinator(), forum.forum_id(), "list-again-00021", "referral-00021",
                       Ref(21), "100021", &again)
                .error_code(),
            grpc::ALREADY_EXISTS);
  EXPECT_EQ(ListCaseAs(School("100021"), forum.forum_id(), "list-school-0001", "referral-00029",
                       Ref(29), "100021", &again)
                .error_code(),
            grpc::PERMISSION_DENIED);
  grpc::Status bad = ListCaseAs(Coordinator(), forum.forum_id(), "list-bad-00001", "referral-00028",
                                "not-a-ref", "100021", &again);
  EXPECT_EQ(bad.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(bad.error_message(), StartsWith("pupil_ref.value:"));

  const std::string meeting_1 = forum.forum_id() + "-20260908";
  const std::string meeting_2 = forum.forum_id() + "-20260922";
  v1::GetAgendaResponse agenda;
  ASSERT_TRUE(Agenda(Coordinator(), meeting_1, &agenda).ok());
  ASSERT_EQ(agenda.items_size(), 2);
  EXPECT_EQ(agenda.items(0).forum_case().case_id(), first);
  EXPECT_EQ(agenda.items(1).forum_case().case_id(), second);
  ASSERT_EQ(agenda.not_fitted_size(), 1);
  EXPECT_EQ(agenda.not_fitted_total(), 1);
  EXPECT_EQ(agenda.not_fitted(0).forum_case().case_id(), third);
  EXPECT_THAT(agenda.not_fitted(0).reason(), HasSubstr("Tuesday 22 September 2026"));

  // School 100021 sees its own case in full and the other school's redacted;
  // a partner with nothing allocated sees nothing; a non-member nothing at all.
  ASSERT_TRUE(Agenda(School("100021"), meeting_1, &agenda).ok());
  ASSERT_EQ(agenda.items_size(), 2);
  EXPECT_FALSE(agenda.items(0).redacted());
  EXPECT_EQ(agenda.items(0).forum_case().referral_id(), "referral-00021");
  EXPECT_TRUE(agenda.items(1).redacted());
  EXPECT_TRUE(agenda.items(1).forum_case().referral_id().empty());
  EXPECT_TRUE(agenda.items(1).forum_case().pupil_ref().value().empty());
  EXPECT_EQ(agenda.not_fitted_size(), 0);
  v1::GetAgendaResponse partner_view;
  ASSERT_TRUE(Agenda(Partner("youth-trust"), meeting_1, &partner_view).ok());
  EXPECT_EQ(partner_view.items_size(), 0);
  EXPECT_EQ(Agenda(School("100099"), meeting_1, &partner_view).error_code(), grpc::NOT_FOUND);

  // Cancelled: its cases go to the next meeting with room, oldest first.
  v1::CancelMeetingRequest cancel;
  cancel.set_request_id("cancel-meeting-1");
  cancel.set_meeting_id(meeting_1);
  cancel.set_reason("Chair unwell");
  v1::CancelMeetingResponse cancelled;
  EXPECT_EQ(stub().CancelMeeting(As(School("100021")).get(), cancel, &cancelled).error_code(),
            grpc::PERMISSION_DENIED);
  ASSERT_TRUE(stub().CancelMeeting(As(Coordinator()).get(), cancel, &cancelled).ok());
  EXPECT_EQ(cancelled.meeting().status(), v1::MEETING_STATUS_CANCELLED);
  EXPECT_EQ(cancelled.meeting().sequence(), 1);
  ASSERT_TRUE(Agenda(Coordinator(), meeting_2, &agenda).ok());
  ASSERT_EQ(agenda.items_size(), 2);
  EXPECT_EQ(agenda.items(0).forum_case().case_id(), first);
  EXPECT_EQ(agenda.not_fitted(0).forum_case().case_id(), third);
  cancel.set_request_id("cancel-meeting-2");
  EXPECT_EQ(stub().CancelMeeting(As(Coordinator()).get(), cancel, &cancelled).error_code(),
            grpc::FAILED_PRECONDITION);

  // Moved: only to a school day.
  v1::MoveMeetingRequest move;
  move.set_request_id("move-meeting-01");
  move.set_meeting_id(meeting_2);
  *move.mutable_new_starts_at() = ToProtoTimestamp(LondonTime(2026, 9, 26, 16));  // Saturday
  v1::MoveMeetingResponse moved;
  bad = stub().MoveMeeting(As(Coordinator()).get(), move, &moved);
  EXPECT_EQ(bad.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(bad.error_message(), HasSubstr("new_starts_at: is not a school day (a Saturday)"));
  // ...within the hours the forum's cadence keeps to, and with a time in range.
  *move.mutable_new_starts_at() = ToProtoTimestamp(LondonTime(2026, 9, 24, 21));
  bad = stub().MoveMeeting(As(Coordinator()).get(), move, &moved);
  EXPECT_EQ(bad.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(bad.error_message(),
              HasSubstr("new_starts_at: the meeting must fall between 07:00 and 20:00"));
  *move.mutable_new_starts_at() = ToProtoTimestamp(LondonTime(2026, 9, 24, 16));
  move.mutable_new_starts_at()->set_nanos(-5);
  bad = stub().MoveMeeting(As(Coordinator()).get(), move, &moved);
  EXPECT_EQ(bad.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(bad.error_message(), HasSubstr("new_starts_at: nanos must be 0 to 999,999,999"));
  move.mutable_new_starts_at()->set_nanos(0);
  move.mutable_new_starts_at()->set_seconds(253'402'300'799);  // 9999-12-31T23:59:59Z
  bad = stub().MoveMeeting(As(Coordinator()).get(), move, &moved);
  EXPECT_EQ(bad.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(bad.error_message(), HasSubstr("new_starts_at: must be in the years 1900 to 2200"));
  *move.mutable_new_starts_at() = ToProtoTimestamp(LondonTime(2026, 9, 24, 16));
  ASSERT_TRUE(stub().MoveMeeting(As(Coordinator()).get(), move, &moved).ok());
  EXPECT_EQ(moved.meeting().starts_at().seconds(), absl::ToUnixSeconds(LondonTime(2026, 9, 24, 16)));
  EXPECT_EQ(moved.meeting().meeting_id(), meeting_2);
}

TEST_F(ForumSchedulingTest, OnlyAQuorateMeetingDecidesAndEveryDecisionNamesItsMaker) {
  const v1::Forum forum = Create(ForumFor("100031", "100032"), "create-forum-06");
  const std::string allocated = ListCase(forum.forum_id(), "referral-00031", Ref(31), "100031");
  const std::string reviewed = ListCase(forum.forum_id(), "referral-00032", Ref(32), "100032");
  const std::string meeting = forum.forum_id() + "-20260908";

  v1::RecordAttendanceResponse attended;
  EXPECT_EQ(Attend(forum, meeting, "attend-early-01", {0, 2}, &attended).error_code(),
            grpc::FAILED_PRECONDITION);  // not yet the meeting's day
  stack_->h.clock.Set(LondonTime(2026, 9, 8, 16, 5));
  // Education and the council only: two agencies of the three needed.
  ASSERT_TRUE(Attend(forum, meeting, "attend-meeting-1", {0, 2}, &attended).ok());
  EXPECT_FALSE(attended.meeting().quorate());
  EXPECT_EQ(attended.meeting().heard_case_ids_size(), 2);
  v1::Decision decision;
  decision.set_case_id(allocated);
  decision.set_type(v1::DECISION_TYPE_ALLOCATE_PROGRAMME_LEAD);
  decision.set_target_id("youth-trust");
  v1::RecordDecisionResponse decided;
  grpc::Status status = Decide(meeting, "decide-0000-01", decision, &decided);
  EXPECT_EQ(status.error_code(), grpc::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("not quorate (2 agencies present, 3 needed)"));

  // Health arrives: quorate.
  ASSERT_TRUE(Attend(forum, meeting, "attend-meeting-2", {0, 2, 4}, &attended).ok());
  EXPECT_TRUE(attended.meeting().quorate());
  v1::RecordAttendanceRequest stranger;
  stranger.set_request_id("attend-stranger");
  stranger.set_meeting_id(meeting);
  stranger.add_present()->mutable_organisation()->set_type(cv1::ORGANISATION_TYPE_SCHOOL);
  stranger.mutable_present(0)->mutable_organisation()->set_id("100099");
  status = stub().RecordAttendance(As(Chair()).get(), stranger, &attended);
  EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), StartsWith("present[0].organisation:"));

  v1::Decision no_target = decision;
  no_target.clear_target_id();
  status = Decide(meeting, "decide-0000-02", no_target, &decided);
  EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), StartsWith("decision.target_id:"));
  v1::Decision elsewhere = decision;
  elsewhere.set_case_id("no-such-case-id");
  EXPECT_EQ(Decide(meeting, "decide-0000-03", elsewhere, &decided).error_code(), grpc::NOT_FOUND);

  ASSERT_TRUE(Decide(meeting, "decide-0000-04", decision, &decided).ok());
  EXPECT_EQ(decided.decision().decided_by().subject(), "chair-1");
  v1::Decision review;
  review.set_case_id(reviewed);
  review.set_type(v1::DECISION_TYPE_REVIEW);
  *review.mutable_review_on() = ToProtoDate(Day(2026, 10, 1));
  ASSERT_TRUE(Decide(meeting, "decide-0000-05", review, &decided).ok());

  // The allocated case is heard and off the queue; the reviewed one waits
  // for the first meeting after its review date.
  const v1::ListCasesResponse queue = Cases(forum.forum_id());
  ASSERT_EQ(queue.cases_size(), 1);
  EXPECT_EQ(queue.cases(0).forum_case().case_id(), reviewed);
  EXPECT_EQ(queue.cases(0).expected_meeting_id(), forum.forum_id() + "-20261006");

  // The partner now sees the case allocated to it in the held meeting's pack.
  v1::GetAgendaResponse partner_view;
  ASSERT_TRUE(Agenda(Partner("youth-trust"), meeting, &partner_view).ok());
  ASSERT_EQ(partner_view.items_size(), 1);
  EXPECT_EQ(partner_view.items(0).forum_case().case_id(), allocated);

  const std::vector<v1::ForumEvent> events = ForumEvents(Ref(31), 2);  // listed, decided
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].decision_recorded().decision().type(),
            v1::DECISION_TYPE_ALLOCATE_PROGRAMME_LEAD);
  EXPECT_EQ(events[1].decision_recorded().referral_id(), "referral-00031");
  EXPECT_EQ(events[1].metadata().actor().subject(), "chair-1");
}

TEST_F(ForumSchedulingTest, ActionsAreCompletedByTheirOwnerAndGoOverdueOnce) {
  const v1::Forum forum = Create(ForumFor("100041", "100042"), "create-forum-07");
  const std::string case_id = ListCase(forum.forum_id(), "referral-00041", Ref(41), "100041");
  auto assign = [&](const std::string& request_id, const std::string& owner, absl::CivilDay due,
                    v1::AssignActionResponse* response) {
    v1::AssignActionRequest request;
    request.set_request_id(request_id);
    request.mutable_action()->set_case_id(case_id);
    request.mutable_action()->set_description("Arrange a mentoring taster session");
    request.mutable_action()->mutable_owner()->set_type(cv1::ORGANISATION_TYPE_PARTNER);
    request.mutable_action()->mutable_owner()->set_id(owner);
    *request.mutable_action()->mutable_due() = ToProtoDate(due);
    return stub().AssignAction(As(Coordinator()).get(), request, response);
  };
  v1::AssignActionResponse soon, later, refused;
  grpc::Status status = assign("assign-action-0", "not-a-member", Day(2026, 9, 10), &refused);
  EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), StartsWith("action.owner:"));
  status = assign("assign-action-9", "youth-trust", Day(2026, 8, 10), &refused);
  EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), StartsWith("action.due:"));
  ASSERT_TRUE(assign("assign-action-1", "youth-trust", Day(2026, 9, 3), &soon).ok());
  ASSERT_TRUE(assign("assign-action-2", "youth-trust", Day(2026, 9, 30), &later).ok());

  v1::CompleteActionRequest complete;
  complete.set_request_id("complete-action-1");
  complete.set_action_id(later.action().action_id());
  v1::CompleteActionResponse completed;
  // Another organisation's action is answered as one that does not exist.
  EXPECT_EQ(stub().CompleteAction(As(School("100041")).get(), complete, &completed).error_code(),
            grpc::NOT_FOUND);
  ASSERT_TRUE(stub().CompleteAction(As(Partner("youth-trust")).get(), complete, &completed).ok());
  EXPECT_EQ(completed.action().status(), v1::ACTION_STATUS_DONE);
  complete.set_request_id("complete-action-2");
  EXPECT_EQ(stub().CompleteAction(As(Partner("youth-trust")).get(), complete, &completed).error_code(),
            grpc::FAILED_PRECONDITION);

  // Past its due day the open one is flagged, once.
  stack_->h.clock.Set(LondonTime(2026, 9, 5, 9));
  ASSERT_TRUE(stack_->service->FlagOverdueActions().ok());
  ASSERT_TRUE(stack_->service->FlagOverdueActions().ok());
  v1::ListOverdueActionsRequest overdue_request;
  overdue_request.set_forum_id(forum.forum_id());
  v1::ListOverdueActionsResponse overdue;
  ASSERT_TRUE(stub().ListOverdueActions(As(Coordinator()).get(), overdue_request, &overdue).ok());
  ASSERT_EQ(overdue.actions_size(), 1);
  EXPECT_EQ(overdue.actions(0).action_id(), soon.action().action_id());
  EXPECT_EQ(overdue.actions(0).status(), v1::ACTION_STATUS_OVERDUE);
  int overdue_events = 0;
  for (const v1::ForumEvent& e : ForumEvents(Ref(41), 5)) overdue_events += e.has_action_overdue();
  EXPECT_EQ(overdue_events, 1);
}

}  // namespace
}  // namespace rooted::forum
