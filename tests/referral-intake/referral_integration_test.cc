// Referral intake end to end: gRPC in, Redis state, outbox, Kafka out.
// Real redis-server and rooted-broker processes on free loopback ports.

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <signal.h>
#include <sys/wait.h>

#include <future>
#include <sstream>

#include "common/auth/jwt.h"
#include "common/base/proto_time.h"
#include "common/identity/upn.h"
#include "common/kafka/event_consumer.h"
#include "common/kafka/event_metadata.h"
#include "common/kafka/kafka_producer.h"
#include "common/kafka/topics.h"
#include "common/outbox/outbox.h"
#include "common/server/service_runtime.h"
#include "rooted/directory/v1/directory_events.pb.h"
#include "rooted/forum/v1/forum_events.pb.h"
#include "rooted/fund/v1/fund_events.pb.h"
#include "rooted/referral/v1/referral_events.pb.h"
#include "rooted/risk/v1/risk_events.pb.h"
#include "services/referral-intake/referral_owners.h"
#include "services/referral-intake/referral_service.h"
#include "tests/referral-intake/referral_fixtures.h"
#include "tests/support/local_stack.h"
#include "tests/support/metric_totals.h"
#include "tests/support/service_harness.h"

namespace rooted::referral {
namespace {

namespace cv1 = rooted::common::v1;
const std::string kTokenSecret(40, 't');
const std::string kPupilSecret(40, 'p');
const std::string kTopic(topics::kReferralEvents);

class ReferralIntakeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    redis_server_ = new rooted::testing::RedisServer();
    broker_ = new rooted::testing::Broker();
  }
  static void TearDownTestSuite() {
    delete broker_;
    delete redis_server_;
  }

  void SetUp() override {
    RedisOptions options;
    options.port = redis_server_->port();
    redis_ = std::make_unique<RedisClient>(options);
    redis_pipe_ = *PipelinedRedis::Start(options);
    ASSERT_TRUE(redis_->Command({"FLUSHALL"}).ok());
    logger_ = std::make_unique<Logger>("referral-intake", log_, LogLevel::kInfo, clock_);
    metrics_ =
        std::make_unique<Metrics>(std::make_shared<prometheus::Registry>(), "referral-intake");
    verifier_ = *JwtVerifier::Create({JwtAlgorithm::kHs256, kTokenSecret, "rooted-local", "rooted"},
                                     clock_);
    signer_ = *JwtSigner::Create(JwtAlgorithm::kHs256, kTokenSecret);
    hasher_ = std::make_unique<PupilRefHasher>(*PupilRefHasher::Create(kPupilSecret));
    producer_ = *KafkaProducer::Create({broker_->bootstrap(), "test", {}});
    store_ = std::make_unique<RedisReferralStore>(*redis_, *redis_pipe_, "ri");
    guard_ = std::make_unique<RpcGuard>(*verifier_, *metrics_, *logger_);
    timeline_ = std::make_unique<CaseTimelineHandler>(*redis_, *store_, "ri");
    service_ = std::make_unique<ReferralServiceImpl>(*store_, *timeline_, *hasher_, clock_,
                                                     *metrics_, IntakeOptions{});
    casework_store_ = std::make_unique<CaseworkStore>(*redis_, "ri");
    owners_ = std::make_unique<ReferralOwners>(*store_, *casework_store_);
    audit_ = std::make_unique<RedisAuditTrail>(*redis_pipe_, "ri:audit");
    api_ = rooted::testing::Guarded("rooted.referral.v1.ReferralService", *service_,
                                    {.guard = guard_.get(),
                                     .clock = &clock_,
                                     .audit = audit_.get(),
                                     .owners = owners_.get(),
                                     .sharing_agreement = "local-pilot",
                                     .schools = &schools_});
    server_ = *GrpcServer::Start({.listen_address = "127.0.0.1:0", .service_names = {}},
                                 {api_.get()}, {[this] { return redis_->Ping(); }}, *logger_);
    stub_ = v1::ReferralService::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(server_->port()), grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    if (relay_) relay_->Stop(absl::Seconds(2));
    server_->Shutdown(absl::Seconds(1));
  }

  void StartRelay() {
    relay_ = std::make_unique<OutboxRelay>(*redis_, *producer_,
                                           OutboxRelayOptions{.stream_key = "ri:outbox",
                                                              .lease_key = "ri:outbox:lease",
                                                              .producer_name = "referral-intake"},
                                           *metrics_, *logger_);
    relay_->Start();
  }

  std::string Token(Role role, OrganisationType type, const std::string& org,
                    const std::string& la = "801", const std::string& subject = "staff-1") {
    TokenRequest request;
    request.principal.subject = subject;
    request.principal.roles = {role};
    request.principal.organisation_type = type;
    request.principal.organisation_id = org;
    request.principal.la_code = la;
    request.issuer = "rooted-local";
    request.audience = "rooted";
    request.issued_at = clock_.Now();
    return *signer_->Sign(request);
  }
  std::string SchoolToken(const std::string& urn, const std::string& subject = "teacher-1") {
    return Token(cv1::ROLE_SCHOOL_STAFF, cv1::ORGANISATION_TYPE_SCHOOL, urn, "801", subject);
  }

  std::unique_ptr<grpc::ClientContext> Context(const std::string& token) {
    auto context = std::make_unique<grpc::ClientContext>();
    if (!token.empty()) context->AddMetadata("authorization", "Bearer " + token);
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return context;
  }

  grpc::Status Submit(const std::string& token, const std::string& request_id,
                      const v1::ReferralDetails& details, v1::SubmitReferralResponse* response) {
    v1::SubmitReferralRequest request;
    request.set_request_id(request_id);
    *request.mutable_details() = details;
    return stub_->SubmitReferral(Context(token).get(), request, response);
  }

  // The events on the topic that belong to `referral_id`.
  std::vector<v1::ReferralEvent> EventsFor(const std::string& referral_id, size_t expected) {
    std::vector<v1::ReferralEvent> out;
    for (const auto& m : rooted::testing::ReadTopic(
             broker_->bootstrap(), kTopic, expected, absl::Seconds(20), [&](const auto& message) {
               v1::ReferralEvent event;
               return event.ParseFromString(message.payload) &&
                      event.metadata().correlation_id() == referral_id;
             })) {
      out.emplace_back().ParseFromString(m.payload);
    }
    return out;
  }

  int64_t OutboxDepth() { return redis_->Command({"XLEN", "ri:outbox"})->integer; }

  // A case's timeline as school 100001 sees it: its number of entries, or -1
  // when the call fails.
  int ReadTimeline(const std::string& referral_id, v1::GetCaseTimelineResponse* timeline) {
    v1::GetCaseTimelineRequest request;
    request.set_referral_id(referral_id);
    request.set_purpose("case review");
    timeline->Clear();
    return stub_->GetCaseTimeline(Context(SchoolToken("100001")).get(), request, timeline).ok()
               ? timeline->entries_size()
               : -1;
  }

  static rooted::testing::RedisServer* redis_server_;
  static rooted::testing::Broker* broker_;
  FakeClock clock_{absl::FromCivil(absl::CivilSecond(2026, 11, 2, 9, 0, 0), absl::UTCTimeZone())};
  std::ostringstream log_;
  std::unique_ptr<RedisClient> redis_;
  std::unique_ptr<PipelinedRedis> redis_pipe_;
  std::unique_ptr<Logger> logger_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<JwtVerifier> verifier_;
  std::unique_ptr<JwtSigner> signer_;
  std::unique_ptr<PupilRefHasher> hasher_;
  std::unique_ptr<KafkaProducer> producer_;
  std::unique_ptr<RedisReferralStore> store_;
  std::unique_ptr<CaseTimelineHandler> timeline_;
  std::unique_ptr<RpcGuard> guard_;
  std::unique_ptr<ReferralServiceImpl> service_;
  std::unique_ptr<CaseworkStore> casework_store_;
  std::unique_ptr<ReferralOwners> owners_;
  const SchoolRegister schools_ = *SchoolRegister::Load(rooted::testing::TestSchoolRegister());
  std::unique_ptr<RedisAuditTrail> audit_;
  std::unique_ptr<GuardedService> api_;
  std::unique_ptr<GrpcServer> server_;
  std::unique_ptr<OutboxRelay> relay_;
  std::unique_ptr<v1::ReferralService::Stub> stub_;
};
rooted::testing::RedisServer* ReferralIntakeTest::redis_server_ = nullptr;
rooted::testing::Broker* ReferralIntakeTest::broker_ = nullptr;

TEST_F(ReferralIntakeTest, SubmitPublishesOnePseudonymousEvent) {
  StartRelay();
  v1::SubmitReferralResponse response;
  grpc::Status status =
      Submit(SchoolToken("100001"), "req-submit-0001", testing::GoodDetails("100001"), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  const v1::Referral& referral = response.referral();
  EXPECT_EQ(referral.status(), v1::REFERRAL_STATUS_SUBMITTED);
  EXPECT_EQ(referral.version(), 1);
  EXPECT_EQ(referral.la_code(), "801");
  EXPECT_TRUE(PupilRefHasher::LooksLikeRef(referral.pupil_ref().value()));

  std::vector<v1::ReferralEvent> events = EventsFor(referral.referral_id(), 1);
  ASSERT_EQ(events.size(), 1u);
  const v1::ReferralEvent& event = events[0];
  EXPECT_TRUE(event.has_referral_submitted());
  EXPECT_EQ(event.metadata().event_type(), "rooted.referral.v1.ReferralSubmitted");
  EXPECT_EQ(event.metadata().producer(), "referral-intake");
  EXPECT_EQ(event.metadata().causation_id(), "req-submit-0001");
  EXPECT_EQ(event.referral_submitted().pupil_ref().value(), referral.pupil_ref().value());
  const std::string bytes = event.SerializeAsString();
  for (const char* personal : {"H801200001001", "Amira", "Khan", "Patel"}) {
    EXPECT_EQ(bytes.find(personal), std::string::npos) << personal << " leaked onto Kafka";
  }
  EXPECT_EQ(log_.str().find("Amira"), std::string::npos);
}

TEST_F(ReferralIntakeTest, EventArrivesOnceWhenTheRelayRestartsBetweenWriteAndPublish) {
  v1::SubmitReferralResponse response;
  ASSERT_TRUE(
      Submit(SchoolToken("100001"), "req-restart-001", testing::GoodDetails("100001"), &response)
          .ok());
  // Written, not yet published: the relay was down.
  EXPECT_EQ(OutboxDepth(), 1);
  StartRelay();
  std::vector<v1::ReferralEvent> events = EventsFor(response.referral().referral_id(), 1);
  EXPECT_EQ(events.size(), 1u);
  relay_->Stop(absl::Seconds(2));
  relay_.reset();
  StartRelay();  // a second restart must not publish it again
  EXPECT_EQ(EventsFor(response.referral().referral_id(), 1).size(), 1u);
  EXPECT_EQ(OutboxDepth(), 0);
}

TEST_F(ReferralIntakeTest, DuplicateRequestIdReturnsFirstAnswer) {
  const std::string token = SchoolToken("100001");
  v1::SubmitReferralResponse first, second;
  ASSERT_TRUE(Submit(token, "req-dup-000001", testing::GoodDetails("100001"), &first).ok());
  ASSERT_TRUE(Submit(token, "req-dup-000001", testing::GoodDetails("100001"), &second).ok());
  EXPECT_EQ(first.referral().referral_id(), second.referral().referral_id());
  EXPECT_EQ(first.SerializeAsString(), second.SerializeAsString());
  EXPECT_EQ(OutboxDepth(), 1) << "a retry must not publish again";

  v1::ReferralDetails different = testing::GoodDetails("100001");
  different.mutable_child()->set_year_group(9);
  v1::SubmitReferralResponse third;
  grpc::Status reused = Submit(token, "req-dup-000001", different, &third);
  EXPECT_EQ(reused.error_code(), grpc::ALREADY_EXISTS);
  EXPECT_NE(reused.error_message().find("request_id"), std::string::npos);

  // The request id is the caller's own: another teacher's same id is another referral.
  v1::SubmitReferralResponse colleagues;
  ASSERT_TRUE(
      Submit(SchoolToken("100001", "teacher-2"), "req-dup-000001", testing::GoodDetails("100001"), &colleagues).ok());
  EXPECT_NE(colleagues.referral().referral_id(), first.referral().referral_id());
  EXPECT_EQ(OutboxDepth(), 2);
  // A submission keeps no guard key: the referral itself is what a retry finds.
  absl::StatusOr<RedisReply> guards = redis_->Command({"KEYS", "ri:idem:SubmitReferral:*"});
  ASSERT_TRUE(guards.ok());
  EXPECT_TRUE(guards->elements.empty());
}

TEST_F(ReferralIntakeTest, ALateRetryGetsTheFirstAnswerAfterTheReferralChanged) {
  const std::string token = SchoolToken("100001");
  v1::SubmitReferralResponse first;
  ASSERT_TRUE(Submit(token, "req-late-00001", testing::GoodDetails("100001"), &first).ok());
  v1::UpdateReferralRequest update;
  update.set_request_id("req-late-00002");
  update.set_referral_id(first.referral().referral_id());
  update.set_expected_version(1);
  update.mutable_details()->mutable_child()->set_year_group(9);
  update.mutable_update_mask()->add_paths("child.year_group");
  v1::UpdateReferralResponse updated;
  ASSERT_TRUE(stub_->UpdateReferral(Context(token).get(), update, &updated).ok());

  v1::SubmitReferralResponse retried;
  ASSERT_TRUE(Submit(token, "req-late-00001", testing::GoodDetails("100001"), &retried).ok());
  EXPECT_EQ(retried.SerializeAsString(), first.SerializeAsString());
  EXPECT_EQ(OutboxDepth(), 2) << "the submission and the update; the retry publishes nothing";
  // Readers see the referral as it now stands.
  v1::GetReferralRequest get;
  get.set_referral_id(first.referral().referral_id());
  get.set_purpose("check the update");
  v1::GetReferralResponse got;
  ASSERT_TRUE(stub_->GetReferral(Context(token).get(), get, &got).ok());
  EXPECT_EQ(got.referral().version(), 2);
  EXPECT_EQ(got.referral().details().child().year_group(), 9);
  v1::ListReferralsResponse listed;
  ASSERT_TRUE(stub_->ListReferrals(Context(token).get(), {}, &listed).ok());
  ASSERT_EQ(listed.referrals_size(), 1);
  EXPECT_EQ(listed.referrals(0).year_group(), 9);
}

TEST_F(ReferralIntakeTest, SchoolsSeeOnlyTheirOwnPupils) {
  v1::SubmitReferralResponse response;
  ASSERT_TRUE(
      Submit(SchoolToken("100001"), "req-scope-0001", testing::GoodDetails("100001"), &response)
          .ok());
  v1::GetReferralRequest get;
  get.set_referral_id(response.referral().referral_id());
  get.set_purpose("planning support");
  v1::GetReferralResponse got;

  EXPECT_EQ(stub_->GetReferral(Context(SchoolToken("100002")).get(), get, &got).error_code(),
            grpc::NOT_FOUND);
  EXPECT_EQ(stub_
                ->GetReferral(Context(Token(cv1::ROLE_COUNCIL_OFFICER,
                                            cv1::ORGANISATION_TYPE_COUNCIL, "802", "802"))
                                  .get(),
                              get, &got)
                .error_code(),
            grpc::NOT_FOUND);
  EXPECT_EQ(stub_
                ->GetReferral(Context(Token(cv1::ROLE_PARTNER_WORKER,
                                            cv1::ORGANISATION_TYPE_PARTNER, "youth-trust"))
                                  .get(),
                              get, &got)
                .error_code(),
            grpc::NOT_FOUND);
  ASSERT_TRUE(stub_->GetReferral(Context(SchoolToken("100001")).get(), get, &got).ok());
  EXPECT_EQ(got.referral().details().child().given_name(), "Amira");
  ASSERT_TRUE(stub_
                  ->GetReferral(Context(Token(cv1::ROLE_COUNCIL_OFFICER,
                                              cv1::ORGANISATION_TYPE_COUNCIL, "801"))
                                    .get(),
                                get, &got)
                  .ok());

  // A school may not refer another school's pupil, nor list another school.
  v1::SubmitReferralResponse other;
  EXPECT_EQ(Submit(SchoolToken("100002"), "req-scope-0002", testing::GoodDetails("100001"), &other)
                .error_code(),
            grpc::PERMISSION_DENIED);
  v1::ListReferralsRequest list;
  list.set_school_urn("100001");
  v1::ListReferralsResponse listed;
  EXPECT_EQ(stub_->ListReferrals(Context(SchoolToken("100002")).get(), list, &listed).error_code(),
            grpc::PERMISSION_DENIED);
  // Every read of personal data is in the audit trail.
  absl::StatusOr<RedisReply> audit = redis_->Command({"XLEN", "ri:audit"});
  EXPECT_GE(audit->integer, 3);
}

TEST_F(ReferralIntakeTest, MissingOrBadTokenIsUnauthenticated) {
  v1::SubmitReferralResponse response;
  EXPECT_EQ(Submit("", "req-auth-00001", testing::GoodDetails("100001"), &response).error_code(),
            grpc::UNAUTHENTICATED);
  EXPECT_EQ(
      Submit("garbage", "req-auth-00002", testing::GoodDetails("100001"), &response).error_code(),
      grpc::UNAUTHENTICATED);
  auto forger = *JwtSigner::Create(JwtAlgorithm::kHs256, std::string(40, 'x'));
  TokenRequest request;
  request.principal.subject = "intruder";
  request.principal.roles = {cv1::ROLE_COUNCIL_OFFICER};
  request.principal.organisation_type = cv1::ORGANISATION_TYPE_COUNCIL;
  request.principal.organisation_id = "801";
  request.principal.la_code = "801";
  request.issuer = "rooted-local";
  request.audience = "rooted";
  request.issued_at = clock_.Now();
  EXPECT_EQ(
      Submit(*forger->Sign(request), "req-auth-00003", testing::GoodDetails("100001"), &response)
          .error_code(),
      grpc::UNAUTHENTICATED);
  clock_.Advance(absl::Hours(24));
  EXPECT_EQ(
      Submit(SchoolToken("100001"), "req-auth-00004", testing::GoodDetails("100001"), &response)
          .error_code(),
      grpc::OK)
      << "a fresh token still works";
  EXPECT_EQ(OutboxDepth(), 1);
}

TEST_F(ReferralIntakeTest, EachBadInputIsInvalidArgumentNamingItsFieldAndStoresNothing) {
  const std::string token = SchoolToken("100001");
  int n = 0;
  for (const testing::BadInput& bad : testing::BadInputs()) {
    v1::ReferralDetails details = testing::GoodDetails("100001");
    bad.spoil(details);
    // Invalid UTF-8 cannot cross the wire in a proto3 string: gRPC refuses
    // it before our handler runs. The validator's unit test covers it.
    if (bad.field == "details.child.given_name" && details.child().given_name() == "\xc3\x28")
      continue;
    v1::SubmitReferralResponse response;
    grpc::Status status =
        Submit(token, "req-bad-" + std::to_string(100000 + n++), details, &response);
    EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT) << bad.field;
    EXPECT_EQ(status.error_message().rfind(bad.field, 0), 0u)
        << "expected " << bad.field << ": " << status.error_message();
  }
  v1::SubmitReferralResponse response;
  EXPECT_EQ(Submit(token, "short", testing::GoodDetails("100001"), &response)
                .error_message()
                .rfind("request_id", 0),
            0u);
  v1::SubmitReferralRequest no_details;
  no_details.set_request_id("req-bad-nodetails");
  EXPECT_EQ(stub_->SubmitReferral(Context(token).get(), no_details, &response).error_code(),
            grpc::INVALID_ARGUMENT);
  EXPECT_EQ(OutboxDepth(), 0);
  EXPECT_EQ(redis_->Command({"KEYS", "ri:referral:*"})->elements.size(), 0u);
}

// SubmitReferral parses its request itself (it answers with stored bytes),
// so bytes that are no SubmitReferralRequest are refused by our code, not
// gRPC's: the caller learns which part was wrong and nothing is stored.
TEST_F(ReferralIntakeTest, BytesThatAreNotASubmitReferralRequestAreInvalidArgument) {
  grpc::GenericStub generic(grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->port()),
                                                grpc::InsecureChannelCredentials()));
  const auto call = [&](const std::string& token, const std::string& bytes) {
    grpc::Slice slice(bytes);
    const grpc::ByteBuffer request(&slice, 1);
    grpc::ByteBuffer reply;
    std::unique_ptr<grpc::ClientContext> context = Context(token);
    std::promise<grpc::Status> answered;
    generic.UnaryCall(context.get(), "/rooted.referral.v1.ReferralService/SubmitReferral", grpc::StubOptions(),
                      &request, &reply, [&](grpc::Status status) { answered.set_value(std::move(status)); });
    return answered.get_future().get();
  };
  const std::string token = SchoolToken("100001");

  // Field 1 (request_id) says 100 bytes follow; 2 do.
  grpc::Status truncated = call(token, std::string("\x0a\x64" "ab"));
  EXPECT_EQ(truncated.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_EQ(truncated.error_message().rfind("request:", 0), 0u) << truncated.error_message();

  // A proto3 string must be UTF-8: request_id is 0xc3 0x28.
  grpc::Status not_utf8 = call(token, std::string("\x0a\x02\xc3\x28"));
  EXPECT_EQ(not_utf8.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_EQ(not_utf8.error_message().rfind("request:", 0), 0u) << not_utf8.error_message();

  // Who asks is checked before what is asked.
  EXPECT_EQ(call("", std::string("\x0a\x64" "ab")).error_code(), grpc::UNAUTHENTICATED);

  // A well-formed request sent as bytes is answered as any other.
  v1::SubmitReferralRequest good;
  good.set_request_id("req-raw-000001");
  *good.mutable_details() = testing::GoodDetails("100001");
  EXPECT_TRUE(call(token, good.SerializeAsString()).ok());
  EXPECT_EQ(OutboxDepth(), 1);
  EXPECT_EQ(redis_->Command({"KEYS", "ri:referral:*"})->elements.size(), 1u);
}

TEST_F(ReferralIntakeTest, UpdateWithdrawAndConsentFollowTheRules) {
  const std::string token = SchoolToken("100001");
  v1::SubmitReferralResponse submitted;
  ASSERT_TRUE(Submit(token, "req-life-00001", testing::GoodDetails("100001"), &submitted).ok());
  const std::string id = submitted.referral().referral_id();

  v1::UpdateReferralRequest update;
  update.set_request_id("req-life-00002");
  update.set_referral_id(id);
  update.set_expected_version(1);
  update.mutable_details()->mutable_child()->set_year_group(9);
  update.mutable_update_mask()->add_paths("child.year_group");
  v1::UpdateReferralResponse updated;
  ASSERT_TRUE(stub_->UpdateReferral(Context(token).get(), update, &updated).ok());
  EXPECT_EQ(updated.referral().version(), 2);
  EXPECT_EQ(updated.referral().details().child().year_group(), 9);
  EXPECT_EQ(updated.referral().details().child().given_name(), "Amira");

  update.set_request_id("req-life-00003");  // stale version
  EXPECT_EQ(stub_->UpdateReferral(Context(token).get(), update, &updated).error_code(),
            grpc::FAILED_PRECONDITION);
  update.set_request_id("req-life-00002");  // a retry of the first update
  ASSERT_TRUE(stub_->UpdateReferral(Context(token).get(), update, &updated).ok());
  EXPECT_EQ(updated.referral().version(), 2);

  v1::RecordConsentRequest consent;
  consent.set_request_id("req-life-00004");
  consent.set_referral_id(id);
  consent.mutable_consent()->set_status(v1::CONSENT_STATUS_WITHDRAWN);
  v1::RecordConsentResponse consented;
  ASSERT_TRUE(stub_->RecordConsent(Context(token).get(), consent, &consented).ok());
  EXPECT_EQ(consented.referral().details().consent().status(), v1::CONSENT_STATUS_WITHDRAWN);

  v1::WithdrawReferralRequest withdraw;
  withdraw.set_request_id("req-life-00005");
  withdraw.set_referral_id(id);
  v1::WithdrawReferralResponse withdrawn;
  EXPECT_EQ(stub_->WithdrawReferral(Context(token).get(), withdraw, &withdrawn)
                .error_message()
                .rfind("reason", 0),
            0u);
  withdraw.set_reason("Family moved out of the area");
  ASSERT_TRUE(stub_->WithdrawReferral(Context(token).get(), withdraw, &withdrawn).ok());
  EXPECT_EQ(withdrawn.referral().status(), v1::REFERRAL_STATUS_WITHDRAWN);

  update.set_request_id("req-life-00006");
  update.set_expected_version(withdrawn.referral().version());
  EXPECT_EQ(stub_->UpdateReferral(Context(token).get(), update, &updated).error_code(),
            grpc::FAILED_PRECONDITION);
  withdraw.set_referral_id("no-such-referral-id");
  withdraw.set_request_id("req-life-00007");
  EXPECT_EQ(stub_->WithdrawReferral(Context(token).get(), withdraw, &withdrawn).error_code(),
            grpc::NOT_FOUND);
  EXPECT_EQ(OutboxDepth(), 4) << "submitted, updated, consent, withdrawn";
}

TEST_F(ReferralIntakeTest, ListsArePagedFilteredAndScoped) {
  const std::string token = SchoolToken("100001");
  for (int i = 0; i < 7; ++i) {
    v1::SubmitReferralResponse r;
    ASSERT_TRUE(
        Submit(token, "req-list-" + std::to_string(100000 + i), testing::GoodDetails("100001"), &r)
            .ok());
    clock_.Advance(absl::Minutes(1));
  }
  v1::SubmitReferralResponse elsewhere;
  ASSERT_TRUE(Submit(SchoolToken("100002", "teacher-2"), "req-list-other",
                     testing::GoodDetails("100002", "B801200005001"), &elsewhere)
                  .ok());

  std::set<std::string> seen;
  v1::ListReferralsRequest list;
  list.mutable_page()->set_page_size(3);
  int pages = 0;
  do {
    v1::ListReferralsResponse page;
    ASSERT_TRUE(stub_->ListReferrals(Context(token).get(), list, &page).ok());
    for (const auto& row : page.referrals()) {
      EXPECT_EQ(row.school_urn(), "100001");
      EXPECT_EQ(row.child_initials(), "A.K.");
      seen.insert(row.referral_id());
    }
    list.mutable_page()->set_page_token(page.page().next_page_token());
    ++pages;
  } while (!list.page().page_token().empty() && pages < 10);
  EXPECT_EQ(seen.size(), 7u);

  v1::ListReferralsRequest council_list;
  v1::ListReferralsResponse all;
  ASSERT_TRUE(stub_
                  ->ListReferrals(Context(Token(cv1::ROLE_COUNCIL_OFFICER,
                                                cv1::ORGANISATION_TYPE_COUNCIL, "801"))
                                      .get(),
                                  council_list, &all)
                  .ok());
  EXPECT_EQ(all.referrals_size(), 8);

  v1::ListReferralsRequest bad_token;
  bad_token.mutable_page()->set_page_token("not-a-token");
  v1::ListReferralsResponse ignored;
  grpc::Status status = stub_->ListReferrals(Context(token).get(), bad_token, &ignored);
  EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message().rfind("page.page_token", 0), 0u);
}

// Redis holds the write past the command timeout: the call is UNAVAILABLE
// (whether the write ran is unknown), and its retry lands exactly once.
TEST_F(ReferralIntakeTest, ASubmissionRedisDoesNotAnswerInTimeIsUnavailableAndItsRetryLandsOnce) {
  ASSERT_TRUE(redis_->Command({"CLIENT", "PAUSE", "2500"}).ok());
  v1::SubmitReferralResponse stalled;
  const grpc::Status unanswered =
      Submit(SchoolToken("100001"), "req-paused-01", testing::GoodDetails("100001"), &stalled);
  EXPECT_EQ(unanswered.error_code(), grpc::UNAVAILABLE) << unanswered.error_message();
  absl::SleepFor(absl::Milliseconds(700));  // past the pause
  v1::SubmitReferralResponse retried, again;
  const grpc::Status retry = Submit(SchoolToken("100001"), "req-paused-01", testing::GoodDetails("100001"), &retried);
  ASSERT_TRUE(retry.ok()) << retry.error_message();
  ASSERT_TRUE(Submit(SchoolToken("100001"), "req-paused-01", testing::GoodDetails("100001"), &again).ok());
  EXPECT_EQ(again.referral().referral_id(), retried.referral().referral_id());
  EXPECT_EQ(redis_->Command({"ZCARD", "ri:by_school:100001"})->integer, 1);
  EXPECT_EQ(OutboxDepth(), 1);
}

TEST(ReferralIntakeBinaryTest, ServesThenDrainsAndExitsCleanlyOnSigterm) {
  rooted::testing::RedisServer redis;
  rooted::testing::Broker broker;
  rooted::testing::ServiceProcess service(
      rooted::testing::BinaryDir() + "/services/referral-intake/referral-intake",
      {"--redis-port=" + std::to_string(redis.port()), "--kafka-bootstrap=" + broker.bootstrap(),
       "--token-secret=" + kTokenSecret, "--pupil-ref-secret=" + kPupilSecret});
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(service.grpc_port()),
                                     grpc::InsecureChannelCredentials());
  auto stub = v1::ReferralService::NewStub(channel);
  grpc::Status status;
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  do {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(1));
    v1::GetReferralResponse response;
    status = stub->GetReferral(&context, v1::GetReferralRequest(), &response);
    if (status.error_code() == grpc::UNAVAILABLE) absl::SleepFor(absl::Milliseconds(50));
  } while (status.error_code() == grpc::UNAVAILABLE && absl::Now() < deadline);
  EXPECT_EQ(status.error_code(), grpc::UNAUTHENTICATED) << "the binary serves and checks tokens";
  EXPECT_EQ(service.Terminate(absl::Seconds(20)), 0) << "SIGTERM drains and exits 0";
}

TEST_F(ReferralIntakeTest, TheCaseTimelineGathersEveryServicesEventsInOrderAndTheCaseCloses) {
  StartRelay();
  v1::SubmitReferralResponse submitted;
  ASSERT_TRUE(Submit(SchoolToken("100001"), "req-timeline-01", testing::GoodDetails("100001"), &submitted).ok());
  const std::string id = submitted.referral().referral_id();
  const std::string ref = submitted.referral().pupil_ref().value();

  EventConsumerOptions options;
  options.bootstrap_servers = broker_->bootstrap();
  options.group_id = "referral-timeline-test";
  for (absl::string_view topic : topics::kAll) {
    if (topic != topics::kSignals) options.topics.emplace_back(topic);
  }
  options.overrides = {{"session.timeout.ms", "6000"}, {"heartbeat.interval.ms", "500"}};
  auto consumer = *EventConsumer::Create(options, *timeline_, *producer_, *metrics_, *logger_);
  consumer->Start();

  // The other services' events, as they publish them, a day apart.
  int day = 1;
  auto publish_at = [&](absl::string_view topic, auto envelope, const std::string& event_id, absl::Time at) {
    envelope.mutable_metadata()->set_event_id(event_id);
    envelope.mutable_metadata()->set_event_type(PayloadTypeName(envelope));
    *envelope.mutable_metadata()->mutable_occurred_at() = ToProtoTimestamp(at);
    const OutgoingMessage message = ToOutgoingMessage(topic, ref, envelope.metadata(), envelope);
    ASSERT_TRUE(producer_->Deliver({&message, 1}, absl::Seconds(10)).front().ok());
  };
  auto publish = [&](absl::string_view topic, auto envelope, const std::string& event_id) {
    publish_at(topic, envelope, event_id, clock_.Now() + absl::Hours(24 * day++));
  };
  // The pupil's band rose the day before the referral, and the event came
  // late: it still goes before the referral on the case's timeline.
  rooted::risk::v1::RiskEvent rose;
  rose.mutable_risk_band_changed()->mutable_pupil_ref()->set_value(ref);
  rose.mutable_risk_band_changed()->set_previous_band(cv1::RISK_BAND_MEDIUM);
  rose.mutable_risk_band_changed()->set_band(cv1::RISK_BAND_HIGH);
  publish_at(topics::kRiskEvents, rose, "timeline-event-00", clock_.Now() - absl::Hours(24));
  rooted::directory::v1::DirectoryEvent triaged;
  triaged.mutable_triage_recommended()->set_referral_id(id);
  triaged.mutable_triage_recommended()->add_service_ids("svc-calm-minds");
  publish(topics::kDirectoryEvents, triaged, "timeline-event-01");
  rooted::forum::v1::ForumEvent listed;
  listed.mutable_case_listed()->mutable_forum_case()->set_referral_id(id);
  publish(topics::kForumEvents, listed, "timeline-event-02");
  rooted::forum::v1::ForumEvent decided;
  decided.mutable_decision_recorded()->set_referral_id(id);
  decided.mutable_decision_recorded()->mutable_decision()->set_type(
      rooted::forum::v1::DECISION_TYPE_REQUEST_FUND_SUPPORT);
  decided.mutable_decision_recorded()->mutable_decision()->mutable_fund_amount()->set_pence(3'500);
  publish(topics::kForumEvents, decided, "timeline-event-03");
  rooted::fund::v1::FundEvent requested;
  requested.mutable_fund_request_submitted()->set_fund_request_id("fund-request-1");
  requested.mutable_fund_request_submitted()->set_referral_id(id);
  requested.mutable_fund_request_submitted()->mutable_amount()->set_pence(3'500);
  publish(topics::kFundEvents, requested, "timeline-event-04");
  rooted::fund::v1::FundEvent settled;
  settled.mutable_payment_settled()->set_fund_request_id("fund-request-1");
  publish(topics::kFundEvents, settled, "timeline-event-05");
  rooted::risk::v1::RiskEvent band;
  band.mutable_risk_band_changed()->mutable_pupil_ref()->set_value(ref);
  band.mutable_risk_band_changed()->set_previous_band(cv1::RISK_BAND_HIGH);
  band.mutable_risk_band_changed()->set_band(cv1::RISK_BAND_MEDIUM);
  publish(topics::kRiskEvents, band, "timeline-event-06");
  publish(topics::kRiskEvents, band, "timeline-event-06");  // a duplicate changes nothing

  v1::GetCaseTimelineRequest request;
  request.set_referral_id(id);
  request.set_purpose("case review");
  v1::GetCaseTimelineResponse timeline;
  auto entries = [&] { return ReadTimeline(id, &timeline); };
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (entries() < 8 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(100));
  absl::SleepFor(absl::Seconds(1));
  ASSERT_EQ(entries(), 8) << timeline.DebugString();
  const std::vector<std::string> expected = {
      "Risk band medium to high", "Referred", "Triage recommended 1 services", "Listed for the Multi-Agency Forum",
      "Forum decision: request fund support of £35.00", "Fund request of £35.00",
      "Payment settled", "Risk band high to medium"};
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(timeline.entries(int(i)).summary().rfind(expected[i], 0), 0u)
        << i << ": " << timeline.entries(int(i)).summary();
  }
  EXPECT_EQ(timeline.status(), v1::REFERRAL_STATUS_IN_SUPPORT);
  EXPECT_EQ(
      stub_->GetCaseTimeline(Context(SchoolToken("100002")).get(), request, &timeline).error_code(),
      grpc::NOT_FOUND);

  v1::CloseCaseRequest close;
  close.set_request_id("req-close-0001");
  close.set_referral_id(id);
  v1::CloseCaseResponse closed;
  grpc::Status status = stub_->CloseCase(Context(SchoolToken("100001")).get(), close, &closed);
  EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT);
  close.set_outcome(v1::CASE_OUTCOME_SUSTAINED_ATTENDANCE);
  clock_.Advance(absl::Hours(24 * 10));  // closed after the events above
  ASSERT_TRUE(stub_->CloseCase(Context(SchoolToken("100001")).get(), close, &closed).ok());
  EXPECT_EQ(closed.referral().status(), v1::REFERRAL_STATUS_CLOSED);
  EXPECT_EQ(closed.referral().outcome(), v1::CASE_OUTCOME_SUSTAINED_ATTENDANCE);
  while (entries() < 9 && absl::Now() < deadline + absl::Seconds(15)) absl::SleepFor(absl::Milliseconds(100));
  ASSERT_EQ(timeline.entries_size(), 9);
  EXPECT_EQ(timeline.entries(8).summary(), "Case closed: sustained attendance");
  close.set_request_id("req-close-0002");
  EXPECT_EQ(stub_->CloseCase(Context(SchoolToken("100001")).get(), close, &closed).error_code(),
            grpc::FAILED_PRECONDITION);
  consumer->Stop();
}

// Events of `topic` this process's consumers have taken, whatever the outcome.
double ConsumedCount(absl::string_view topic, const prometheus::Registry& registry) {
  return rooted::testing::CounterTotal(registry, "rooted_events_consumed_total", "topic", topic);
}

TEST_F(ReferralIntakeTest, APupilsEventConsumedBeforeTheReferralsOwnStillReachesTheCase) {
  auto consumed = [&] { return ConsumedCount(topics::kReferralEvents, *metrics_->registry()); };
  // Topics are not ordered with each other: here the risk band change is
  // consumed while the referral's own event still waits in the outbox.
  v1::SubmitReferralResponse submitted;
  // A pupil of their own: the topics still hold the other tests' events.
  std::string upn = "A801200007001";
  upn[0] = UpnCheckLetter(upn);
  ASSERT_TRUE(Submit(SchoolToken("100001"), "req-timeline-02", testing::GoodDetails("100001", upn), &submitted).ok());
  const std::string id = submitted.referral().referral_id();
  EventConsumerOptions options;
  options.bootstrap_servers = broker_->bootstrap();
  options.group_id = "referral-timeline-order-test";
  options.topics = {std::string(topics::kReferralEvents), std::string(topics::kRiskEvents)};
  options.overrides = {{"session.timeout.ms", "6000"}, {"heartbeat.interval.ms", "500"}};
  auto consumer = *EventConsumer::Create(options, *timeline_, *producer_, *metrics_, *logger_);
  consumer->Start();
  rooted::risk::v1::RiskEvent band;
  band.mutable_metadata()->set_event_id("timeline-order-event-01");
  band.mutable_metadata()->set_event_type(PayloadTypeName(band));
  *band.mutable_metadata()->mutable_occurred_at() = ToProtoTimestamp(clock_.Now() + absl::Hours(1));
  band.mutable_risk_band_changed()->mutable_pupil_ref()->set_value(submitted.referral().pupil_ref().value());
  band.mutable_risk_band_changed()->set_previous_band(cv1::RISK_BAND_MEDIUM);
  band.mutable_risk_band_changed()->set_band(cv1::RISK_BAND_HIGH);
  const OutgoingMessage message =
      ToOutgoingMessage(topics::kRiskEvents, submitted.referral().pupil_ref().value(), band.metadata(), band);
  ASSERT_TRUE(producer_->Deliver({&message, 1}, absl::Seconds(10)).front().ok());
  const std::string processed = ProcessedEventKey("ri", "timeline-order-event-01");
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (redis_->Command({"EXISTS", processed})->integer == 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_EQ(redis_->Command({"EXISTS", processed})->integer, 1) << "the risk event was consumed";
  EXPECT_EQ(OutboxDepth(), 1) << "the referral's own event has not been published yet";

  // The submission wrote its own entry with the referral: both are there
  // before its event has even left the outbox.
  v1::GetCaseTimelineResponse timeline;
  auto check_entries = [&] {
    ASSERT_EQ(ReadTimeline(id, &timeline), 2) << timeline.DebugString();
    EXPECT_EQ(timeline.entries(0).summary().rfind("Referred", 0), 0u) << timeline.entries(0).summary();
    EXPECT_EQ(timeline.entries(1).summary().rfind("Risk band medium to high", 0), 0u)
        << timeline.entries(1).summary();
  };
  check_entries();

  // Consuming the submission's event back adds nothing twice.
  const double referral_events_before = consumed();
  StartRelay();
  while (consumed() <= referral_events_before && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(50));
  ASSERT_GT(consumed(), referral_events_before);
  check_entries();
  consumer->Stop();
}

}  // namespace
}  // namespace rooted::referral
