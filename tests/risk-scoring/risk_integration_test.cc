// Risk scoring end to end: StreamSignals over gRPC, the signals topic on the
// local broker, the scorer into a real redis-server, risk events out through
// the outbox, and the read RPCs with their scopes.

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <sstream>

#include "common/auth/jwt.h"
#include "common/base/proto_date.h"
#include "common/base/proto_time.h"
#include "common/identity/upn.h"
#include "common/kafka/event_consumer.h"
#include "common/kafka/event_metadata.h"
#include "common/kafka/kafka_producer.h"
#include "common/kafka/topics.h"
#include "common/outbox/outbox.h"
#include "common/server/service_runtime.h"
#include "pupil_state.pb.h"
#include "rooted/referral/v1/referral_events.pb.h"
#include "rooted/risk/v1/risk_events.pb.h"
#include "services/risk-scoring/risk_service.h"
#include "tests/risk-scoring/risk_signals.h"
#include "tests/support/local_stack.h"
#include "tests/support/service_harness.h"
#include "tools/cohort/cohort.h"

namespace rooted::risk {
namespace {

namespace cv1 = rooted::common::v1;
const std::string kTokenSecret(40, 't');
const std::string kPupilSecret(40, 'p');
constexpr absl::CivilDay kTermStart{2025, 9, 1};

// The stack is started once: joining a consumer group on the mock broker
// takes seconds. Tests use distinct pupils and schools.
class RiskScoringTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { stack_ = new Stack(); }
  static void TearDownTestSuite() {
    delete stack_;
    stack_ = nullptr;
  }

  struct Stack {
    Stack() {
      RedisOptions redis_options;
      redis_options.port = redis_server.port();
      redis = std::make_unique<RedisClient>(redis_options);
      logger = std::make_unique<Logger>("risk-scoring", log, LogLevel::kInfo, clock);
      metrics = std::make_unique<Metrics>(std::make_shared<prometheus::Registry>(), "risk-scoring");
      verifier = *JwtVerifier::Create(
          {JwtAlgorithm::kHs256, kTokenSecret, "rooted-local", "rooted"}, clock);
      signer = *JwtSigner::Create(JwtAlgorithm::kHs256, kTokenSecret);
      hasher = std::make_unique<PupilRefHasher>(*PupilRefHasher::Create(kPupilSecret));
      producer = *KafkaProducer::Create({broker.bootstrap(), "risk-test", {}});
      store = std::make_unique<RiskStore>(*redis, "rs");
      models = std::make_unique<ModelHolder>(*store, clock, absl::ZeroDuration());
      scorer = std::make_unique<SignalScorer>(*store, *models, clock, "801");
      EventConsumerOptions options;
      options.bootstrap_servers = broker.bootstrap();
      options.group_id = "risk-scoring-test";
      options.topics = {std::string(topics::kSignals)};
      options.max_batch = 500;
      options.overrides = {{"session.timeout.ms", "6000"}, {"heartbeat.interval.ms", "500"}};
      consumer = *EventConsumer::Create(options, *scorer, *producer, *metrics, *logger);
      interventions = std::make_unique<InterventionRecorder>(*redis, *store, "rs");
      EventConsumerOptions intervention_options = options;
      intervention_options.group_id = "risk-scoring-test-outcomes";
      intervention_options.topics = {std::string(topics::kReferralEvents)};
      intervention_options.max_batch = 1;
      intervention_consumer = *EventConsumer::Create(intervention_options, *interventions,
                                                     *producer, *metrics, *logger);
      relay = std::make_unique<OutboxRelay>(*redis, *producer,
                                            OutboxRelayOptions{.stream_key = "rs:outbox",
                                                               .lease_key = "rs:outbox:lease",
                                                               .producer_name = "risk-scoring"},
                                            *metrics, *logger);
      guard = std::make_unique<RpcGuard>(*verifier, *metrics, *logger);
      service =
          std::make_unique<RiskServiceImpl>(*store, *models, *interventions, *producer, *hasher,
                                            clock, *metrics, RiskServiceOptions{.la_code = "801"});
      redis_pipe = *PipelinedRedis::Start(redis->options());
      audit = std::make_unique<RedisAuditTrail>(*redis_pipe, "rs:audit");
      api = rooted::testing::Guarded("rooted.risk.v1.RiskScoringService", *service,
                                     {.guard = guard.get(),
                                      .clock = &clock,
                                      .audit = audit.get(),
                                      .owners = nullptr,
                                      .sharing_agreement = "local-pilot",
                                      .schools = &schools});
      server = *GrpcServer::Start({.listen_address = "127.0.0.1:0", .service_names = {}},
                                  {api.get()}, {[this] { return redis->Ping(); }}, *logger);
      stub = v1::RiskScoringService::NewStub(grpc::CreateChannel(
          "127.0.0.1:" + std::to_string(server->port()), grpc::InsecureChannelCredentials()));
      consumer->Start();
      intervention_consumer->Start();
      relay->Start();
    }
    ~Stack() {
      server->Shutdown(absl::Seconds(1));
      consumer->Stop();
      intervention_consumer->Stop();
      relay->Stop(absl::Seconds(2));
    }

    rooted::testing::RedisServer redis_server;
    rooted::testing::Broker broker;
    // After the 2024 code change and after every mark the tests send.
    FakeClock clock{absl::FromCivil(absl::CivilSecond(2026, 6, 1, 9, 0, 0), absl::LocalTimeZone())};
    std::ostringstream log;
    std::unique_ptr<RedisClient> redis;
    std::unique_ptr<Logger> logger;
    std::unique_ptr<Metrics> metrics;
    std::unique_ptr<JwtVerifier> verifier;
    std::unique_ptr<JwtSigner> signer;
    std::unique_ptr<PupilRefHasher> hasher;
    std::unique_ptr<KafkaProducer> producer;
    std::unique_ptr<RiskStore> store;
    std::unique_ptr<ModelHolder> models;
    std::unique_ptr<SignalScorer> scorer;
    std::unique_ptr<EventConsumer> consumer;
    std::unique_ptr<EventConsumer> intervention_consumer;
    std::unique_ptr<OutboxRelay> relay;
    std::unique_ptr<InterventionRecorder> interventions;
    std::unique_ptr<RpcGuard> guard;
    const SchoolRegister schools = *SchoolRegister::Load(rooted::testing::TestSchoolRegister());
    std::unique_ptr<PipelinedRedis> redis_pipe;
    std::unique_ptr<RedisAuditTrail> audit;
    std::unique_ptr<GuardedService> api;
    std::unique_ptr<RiskServiceImpl> service;
    std::unique_ptr<GrpcServer> server;
    std::unique_ptr<v1::RiskScoringService::Stub> stub;
  };

  std::string Token(Role role, OrganisationType type, const std::string& org) {
    TokenRequest request;
    request.principal = {"user-1", {role}, type, org, "801"};
    request.issuer = "rooted-local";
    request.audience = "rooted";
    request.issued_at = stack_->clock.Now();
    return *stack_->signer->Sign(request);
  }
  std::string SchoolToken(const std::string& urn) {
    return Token(cv1::ROLE_SCHOOL_STAFF, cv1::ORGANISATION_TYPE_SCHOOL, urn);
  }
  std::string CouncilToken() {
    return Token(cv1::ROLE_COUNCIL_OFFICER, cv1::ORGANISATION_TYPE_COUNCIL, "801");
  }

  std::unique_ptr<grpc::ClientContext> Context(const std::string& token) {
    auto context = std::make_unique<grpc::ClientContext>();
    if (!token.empty()) context->AddMetadata("authorization", "Bearer " + token);
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    return context;
  }

  // Streams `signals` in messages of `per_message`.
  grpc::Status Stream(const std::string& token, const std::vector<v1::Signal>& signals,
                      v1::StreamSignalsResponse* response, size_t per_message = 50) {
    auto context = Context(token);
    auto writer = stack_->stub->StreamSignals(context.get(), response);
    for (size_t i = 0; i < signals.size(); i += per_message) {
      v1::StreamSignalsRequest request;
      for (size_t j = i; j < std::min(signals.size(), i + per_message); ++j) {
        *request.add_signals() = signals[j];
      }
      if (!writer->Write(request)) break;
    }
    writer->WritesDone();
    return writer->Finish();
  }

  grpc::Status Profile(const std::string& token, const std::string& upn,
                       v1::GetRiskProfileResponse* response) {
    v1::GetRiskProfileRequest request;
    request.set_upn(upn);
    return stack_->stub->GetRiskProfile(Context(token).get(), request, response);
  }

  // Polls until `condition` holds or 30 s pass.
  template <typename F>
  bool Eventually(F condition) {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (absl::Now() < deadline) {
      if (condition()) return true;
      absl::SleepFor(absl::Milliseconds(50));
    }
    return false;
  }

  // rooted_events_consumed_total for the signals topic and `outcome`.
  double Consumed(const std::string& outcome) {
    for (const auto& family : stack_->metrics->registry()->Collect()) {
      if (family.name != "rooted_events_consumed_total") continue;
      for (const auto& metric : family.metric) {
        bool topic = false, match = false;
        for (const auto& label : metric.label) {
          topic |= label.name == "topic" && label.value == topics::kSignals;
          match |= label.name == "outcome" && label.value == outcome;
        }
        if (topic && match) return metric.counter.value;
      }
    }
    return 0;
  }

  std::string RefOf(const std::string& upn) { return stack_->hasher->RefFor(*ParseUpn(upn)); }

  // The 86.4% register of the unit tests: 126 sessions, 17 illness absences.
  static std::vector<v1::Signal> Register864(const std::string& upn, const std::string& urn) {
    std::vector<v1::Signal> out;
    for (int i = 0; i < 126; ++i) {
      const char* code = i == 125 ? "X" : (i % 7 == 0 && i <= 112 ? "I" : "/");
      out.push_back(testing::MarkSession(upn, urn, kTermStart, i, code));
    }
    return out;
  }

  static Stack* stack_;
};
RiskScoringTest::Stack* RiskScoringTest::stack_ = nullptr;

TEST_F(RiskScoringTest, StreamedMarksBecomeAnExplainedProfileAndABandEvent) {
  const std::string upn = "H801200001001";
  std::vector<v1::Signal> signals = Register864(upn, "100001");
  // Two bad marks in the middle: the rest of the batch still lands.
  signals.insert(signals.begin() + 60,
                 testing::Mark(upn, "100001", kTermStart + 70, v1::SESSION_AM, "A"));
  signals.insert(signals.begin() + 61,
                 testing::Mark(upn, "100002", kTermStart + 70, v1::SESSION_AM, "/"));
  v1::StreamSignalsResponse response;
  grpc::Status status = Stream(SchoolToken("100001"), signals, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.accepted(), 126);
  EXPECT_EQ(response.rejected(), 2);
  ASSERT_EQ(response.rejections_size(), 2);
  EXPECT_EQ(response.rejections(0).field(), "signals[60].attendance.code");
  EXPECT_EQ(response.rejections(1).field(), "signals[61].attendance.school_urn");

  v1::GetRiskProfileResponse profile;
  ASSERT_TRUE(Eventually([&] {
    return Profile(SchoolToken("100001"), upn, &profile).ok() &&
           profile.profile().signals().possible_sessions() == 125;
  })) << profile.DebugString();
  const v1::RiskProfile& p = profile.profile();
  EXPECT_EQ(p.attendance_bp(), 8640);
  EXPECT_EQ(p.band(), cv1::RISK_BAND_MEDIUM);
  ASSERT_EQ(p.reasons_size(), 1);
  EXPECT_EQ(p.reasons(0).text(), "attendance 86.4% this year, below 90%");
  EXPECT_EQ(p.model_version(), "rooted-2026.1");
  EXPECT_EQ(p.pupil_ref().value(), RefOf(upn));

  // The band change reached the risk topic, keyed and identified only by the pupil reference.
  std::vector<rooted::testing::ReadMessage> events = rooted::testing::ReadTopic(
      stack_->broker.bootstrap(), std::string(topics::kRiskEvents), 1, absl::Seconds(20),
      [&](const rooted::testing::ReadMessage& m) { return m.key == RefOf(upn); });
  ASSERT_FALSE(events.empty());
  v1::RiskEvent last;
  ASSERT_TRUE(last.ParseFromString(events.back().payload));
  EXPECT_EQ(last.risk_band_changed().band(), cv1::RISK_BAND_MEDIUM);
  // No UPN on any topic.
  for (const std::string& topic :
       {std::string(topics::kSignals), std::string(topics::kRiskEvents)}) {
    for (const auto& m :
         rooted::testing::ReadTopic(stack_->broker.bootstrap(), topic, 1000000, absl::Seconds(2))) {
      EXPECT_EQ(m.payload.find(upn), std::string::npos) << "UPN on " << topic;
    }
  }
}

TEST_F(RiskScoringTest, AReplayedBatchChangesNothing) {
  const std::string upn = "B801200005001";
  const std::vector<v1::Signal> signals = Register864(upn, "100003");
  v1::StreamSignalsResponse first;
  ASSERT_TRUE(Stream(SchoolToken("100003"), signals, &first).ok());
  const std::string key = "rs:pupil:" + RefOf(upn);
  ASSERT_TRUE(Eventually([&] {
    v1::GetRiskProfileResponse profile;
    return Profile(SchoolToken("100003"), upn, &profile).ok() &&
           profile.profile().signals().possible_sessions() == 125;
  }));
  // Let the relay empty the outbox, then replay.
  ASSERT_TRUE(Eventually([&] {
    return stack_->redis->Command({"XLEN", "rs:outbox"})->integer == 0;
  }));
  const std::string before = stack_->redis->Command({"GET", key})->str;
  const double duplicates_before = Consumed("duplicate");

  v1::StreamSignalsResponse replay;
  ASSERT_TRUE(Stream(SchoolToken("100003"), signals, &replay).ok());
  EXPECT_EQ(replay.accepted(), 126);
  ASSERT_TRUE(Eventually([&] { return Consumed("duplicate") >= duplicates_before + 126; }));
  EXPECT_EQ(stack_->redis->Command({"GET", key})->str, before);
  EXPECT_EQ(stack_->redis->Command({"XLEN", "rs:outbox"})->integer, 0) << "no new risk event";
}

TEST_F(RiskScoringTest, SchoolsListOnlyTheirOwnPupils) {
  v1::StreamSignalsResponse streamed;
  ASSERT_TRUE(
      Stream(SchoolToken("100004"), Register864("G80120000101A", "100004"), &streamed).ok());
  ASSERT_TRUE(Eventually([&] {
    return stack_->redis->Command({"ZCARD", "rs:rank:school:100004"})->integer == 1;
  }));

  v1::ListAtRiskRequest own;
  v1::ListAtRiskResponse listed;
  ASSERT_TRUE(stack_->stub->ListAtRisk(Context(SchoolToken("100004")).get(), own, &listed).ok());
  ASSERT_EQ(listed.profiles_size(), 1);
  EXPECT_EQ(listed.profiles(0).school_urn(), "100004");
  EXPECT_EQ(listed.profiles(0).reasons(0).indicator(), "attendance");

  v1::ListAtRiskRequest other;
  other.set_school_urn("100004");
  v1::ListAtRiskResponse denied;
  grpc::Status status =
      stack_->stub->ListAtRisk(Context(SchoolToken("100005")).get(), other, &denied);
  EXPECT_EQ(status.error_code(), grpc::PERMISSION_DENIED);
  EXPECT_NE(status.error_message().find("school_urn"), std::string::npos);

  // Another school cannot read the profile either: it does not exist for them.
  v1::GetRiskProfileResponse profile;
  EXPECT_EQ(Profile(SchoolToken("100005"), "G80120000101A", &profile).error_code(),
            grpc::NOT_FOUND);

  // The council sees every school, sorted by score, paginated.
  v1::ListAtRiskRequest council;
  council.mutable_page()->set_page_size(1);
  v1::ListAtRiskResponse page;
  ASSERT_TRUE(stack_->stub->ListAtRisk(Context(CouncilToken()).get(), council, &page).ok());
  EXPECT_EQ(page.profiles_size(), 1);
}

TEST_F(RiskScoringTest, BadRequestsGetClearErrors) {
  v1::GetRiskProfileResponse profile;
  EXPECT_EQ(Profile("", "H801200001001", &profile).error_code(), grpc::UNAUTHENTICATED);
  grpc::Status bad_upn = Profile(SchoolToken("100001"), "Z801200001001", &profile);
  EXPECT_EQ(bad_upn.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_EQ(bad_upn.error_message().rfind("upn:", 0), 0u) << bad_upn.error_message();
  EXPECT_EQ(Profile(SchoolToken("100001"), "B801200005001", &profile).error_code(),
            grpc::NOT_FOUND);

  v1::ListAtRiskRequest list;
  list.mutable_page()->set_page_token("not-a-token");
  v1::ListAtRiskResponse listed;
  grpc::Status bad_token = stack_->stub->ListAtRisk(Context(CouncilToken()).get(), list, &listed);
  EXPECT_EQ(bad_token.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_NE(bad_token.error_message().find("page.page_token"), std::string::npos);

  // Partners do not send registers.
  v1::StreamSignalsResponse streamed;
  EXPECT_EQ(
      Stream(Token(cv1::ROLE_PARTNER_WORKER, cv1::ORGANISATION_TYPE_PARTNER, "charity-1"),
             {testing::Mark("H801200001001", "100001", kTermStart, v1::SESSION_AM, "/")}, &streamed)
          .error_code(),
      grpc::PERMISSION_DENIED);
}

TEST_F(RiskScoringTest, OnlyTheCouncilChangesTheModelAndVersionsNameOneConfiguration) {
  v1::UpdateModelConfigRequest request;
  request.set_request_id("model-change-0001");
  *request.mutable_config() = DefaultModelConfig();
  request.mutable_config()->set_version("801-2026.2");
  request.mutable_config()->set_medium_from(25);
  v1::UpdateModelConfigResponse response;

  EXPECT_EQ(
      stack_->stub->UpdateModelConfig(Context(SchoolToken("100001")).get(), request, &response)
          .error_code(),
      grpc::PERMISSION_DENIED);

  v1::UpdateModelConfigRequest bad = request;
  bad.mutable_config()->set_very_high_from(1);
  grpc::Status invalid =
      stack_->stub->UpdateModelConfig(Context(CouncilToken()).get(), bad, &response);
  EXPECT_EQ(invalid.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_NE(invalid.error_message().find("config.very_high_from"), std::string::npos);

  ASSERT_TRUE(
      stack_->stub->UpdateModelConfig(Context(CouncilToken()).get(), request, &response).ok());
  // Retried: the same answer.
  ASSERT_TRUE(
      stack_->stub->UpdateModelConfig(Context(CouncilToken()).get(), request, &response).ok());
  v1::UpdateModelConfigRequest reused = request;
  reused.mutable_config()->set_medium_from(30);
  EXPECT_EQ(stack_->stub->UpdateModelConfig(Context(CouncilToken()).get(), reused, &response)
                .error_code(),
            grpc::ALREADY_EXISTS);

  v1::GetModelConfigResponse current;
  ASSERT_TRUE(
      stack_->stub->GetModelConfig(Context(SchoolToken("100001")).get(), {}, &current).ok());
  EXPECT_EQ(current.config().version(), "801-2026.2");

  // Put the shipped model back for the other tests.
  request.set_request_id("model-change-0002");
  *request.mutable_config() = DefaultModelConfig();
  ASSERT_TRUE(
      stack_->stub->UpdateModelConfig(Context(CouncilToken()).get(), request, &response).ok());
}

TEST_F(RiskScoringTest, OutcomesFollowInterventionsFromOtherServices) {
  const std::string fresh = "X801200001002";
  std::vector<v1::Signal> signals;
  for (int i = 0; i < testing::kOutcomeRegisterSessions; ++i) {
    signals.push_back(
        testing::MarkSession(fresh, "100006", kTermStart, i, testing::OutcomeRegisterCode(i)));
  }
  v1::StreamSignalsResponse streamed;
  ASSERT_TRUE(Stream(SchoolToken("100006"), signals, &streamed, 200).ok());
  ASSERT_EQ(streamed.accepted(), testing::kOutcomeRegisterSessions);
  ASSERT_TRUE(Eventually([&] {
    v1::GetRiskProfileResponse profile;
    return Profile(SchoolToken("100006"), fresh, &profile).ok() &&
           profile.profile().signals().possible_sessions() == testing::kOutcomeRegisterSessions;
  }));

  // referral-intake's event, as it publishes it: keyed by the pupil reference.
  cv1::EventMetadata metadata;
  metadata.set_event_id("referral-event-outcome-1");
  metadata.set_event_type("rooted.referral.v1.ReferralSubmitted");
  *metadata.mutable_occurred_at() = ToProtoTimestamp(absl::FromCivil(
      absl::CivilSecond(kTermStart + testing::kOutcomeInterventionDay), absl::LocalTimeZone()));
  internal::EnvelopeHead envelope;
  *envelope.mutable_metadata() = metadata;
  OutgoingMessage message =
      ToOutgoingMessage(topics::kReferralEvents, RefOf(fresh), metadata, envelope);
  // Delivered twice: recorded once.
  ASSERT_TRUE(stack_->producer->Deliver({&message, 1}, absl::Seconds(10)).front().ok());
  ASSERT_TRUE(stack_->producer->Deliver({&message, 1}, absl::Seconds(10)).front().ok());
  // The case closes with its outcome (also delivered twice).
  rooted::referral::v1::ReferralEvent closed;
  closed.mutable_metadata()->set_event_id("referral-event-closed-1");
  closed.mutable_metadata()->set_event_type("rooted.referral.v1.CaseClosed");
  closed.mutable_case_closed()->set_referral_id("referral-outcome-1");
  closed.mutable_case_closed()->mutable_pupil_ref()->set_value(RefOf(fresh));
  closed.mutable_case_closed()->set_outcome(rooted::referral::v1::CASE_OUTCOME_SUSTAINED_ATTENDANCE);
  OutgoingMessage closure = ToOutgoingMessage(topics::kReferralEvents, RefOf(fresh), closed.metadata(), closed);
  ASSERT_TRUE(stack_->producer->Deliver({&closure, 1}, absl::Seconds(10)).front().ok());
  ASSERT_TRUE(stack_->producer->Deliver({&closure, 1}, absl::Seconds(10)).front().ok());

  v1::GetOutcomeReportResponse report;
  auto referral_outcome = [&]() -> const v1::InterventionOutcome* {
    for (const auto& outcome : report.outcomes()) {
      if (outcome.intervention() == "referral") return &outcome;
    }
    return nullptr;
  };
  ASSERT_TRUE(Eventually([&] {
    report.Clear();
    return stack_->stub->GetOutcomeReport(Context(CouncilToken()).get(), {}, &report).ok() &&
           referral_outcome() != nullptr && referral_outcome()->cases() >= 1;
  })) << report.DebugString();
  absl::SleepFor(absl::Seconds(1));  // the duplicate has had its chance
  report.Clear();
  ASSERT_TRUE(stack_->stub->GetOutcomeReport(Context(CouncilToken()).get(), {}, &report).ok());
  EXPECT_EQ(referral_outcome()->cases(), 1);
  EXPECT_EQ(referral_outcome()->attendance_before_bp(), 7976);
  EXPECT_EQ(referral_outcome()->attendance_after_bp(), 9405);
  EXPECT_EQ(referral_outcome()->sustained_cases(), 1);
  ASSERT_EQ(report.closures_size(), 1);
  EXPECT_EQ(report.closures(0).outcome(), "sustained_attendance");
  EXPECT_EQ(report.closures(0).cases(), 1);

  EXPECT_EQ(stack_->stub->GetOutcomeReport(Context(SchoolToken("100006")).get(), {}, &report)
                .error_code(),
            grpc::PERMISSION_DENIED);
}

TEST_F(RiskScoringTest, AModelChangeRescoresTheStoredListsWithoutWaitingForMarks) {
  // 34 of 40 sessions (illness otherwise): 85%, so 25 points, medium.
  const std::string upn = rooted::cohort::MakeUpn("801", 2009, 25, 950);
  std::vector<v1::Signal> signals;
  for (int i = 0; i < 40; ++i) {
    signals.push_back(testing::MarkSession(upn, "100008", kTermStart, i, i % 7 == 3 ? "I" : "/"));
  }
  v1::StreamSignalsResponse streamed;
  ASSERT_TRUE(Stream(SchoolToken("100008"), signals, &streamed, 200).ok());
  const std::string rank_key = "rs:rank:school:100008";
  ASSERT_TRUE(Eventually([&] {
    auto score = stack_->redis->Command({"ZSCORE", rank_key, RefOf(upn)});
    return score.ok() && score->str == "25";
  }));

  auto adopt = [&](v1::ModelConfig config, const std::string& request_id) {
    v1::UpdateModelConfigRequest request;
    request.set_request_id(request_id);
    *request.mutable_config() = std::move(config);
    v1::UpdateModelConfigResponse response;
    ASSERT_TRUE(
        stack_->stub->UpdateModelConfig(Context(CouncilToken()).get(), request, &response).ok());
    absl::StatusOr<SignalScorer::RescoreCounts> counts = stack_->scorer->RescoreAll();
    ASSERT_TRUE(counts.ok()) << counts.status();
    EXPECT_GE(counts->rescored, 1);
  };
  v1::ModelConfig heavier = DefaultModelConfig();
  heavier.set_version("801-2026.3");
  for (auto& rule : *heavier.mutable_rules()) {
    if (rule.indicator() == indicator::kAttendance) rule.set_points(45);
  }
  adopt(heavier, "model-change-0003");
  EXPECT_EQ(stack_->redis->Command({"ZSCORE", rank_key, RefOf(upn)})->str, "45");
  // The band it moved to is announced, naming the model that moved it.
  bool announced = false;
  for (const auto& m : rooted::testing::ReadTopic(
           stack_->broker.bootstrap(), std::string(topics::kRiskEvents), 2, absl::Seconds(20),
           [&](const rooted::testing::ReadMessage& m) { return m.key == RefOf(upn); })) {
    v1::RiskEvent event;
    ASSERT_TRUE(event.ParseFromString(m.payload));
    announced |= event.risk_band_changed().band() == cv1::RISK_BAND_HIGH &&
                 event.risk_band_changed().model_version() == "801-2026.3";
  }
  EXPECT_TRUE(announced);

  // A second pass finds nothing to do; then the shipped model goes back.
  EXPECT_EQ(stack_->scorer->RescoreAll()->rescored, 0);
  adopt(DefaultModelConfig(), "model-change-0004");
  EXPECT_EQ(stack_->redis->Command({"ZSCORE", rank_key, RefOf(upn)})->str, "25");
}

TEST_F(RiskScoringTest, ModelEvaluationBacktestsOnTheCouncilsOwnRegister) {
  // Three pupils in 2024/25 (no other test uses that year), 20 school days
  // before a 1 October cut-off: one absent every other session, two always
  // present. The absent one and one present one are suspended in the weeks after.
  const absl::CivilDay first_day(2024, 9, 2);
  std::vector<v1::Signal> signals;
  std::vector<std::string> upns;
  for (int p = 0; p < 3; ++p) {
    upns.push_back(rooted::cohort::MakeUpn("801", 2009, 24, 901 + p));
    for (int i = 0; i < 40; ++i) {
      const absl::CivilDay day = first_day + (i / 2) / 5 * 7 + (i / 2) % 5;  // weekdays
      signals.push_back(testing::Mark(upns[size_t(p)], "100007", day,
                                      i % 2 == 0 ? v1::SESSION_AM : v1::SESSION_PM,
                                      p == 0 && i % 2 == 1 ? "O" : "/"));
    }
  }
  signals.push_back(testing::SuspensionSignal(upns[0], "100007", absl::CivilDay(2024, 10, 7), 2));
  signals.push_back(testing::SuspensionSignal(upns[2], "100007", absl::CivilDay(2024, 10, 14), 2));
  v1::StreamSignalsResponse streamed;
  ASSERT_TRUE(Stream(SchoolToken("100007"), signals, &streamed, 200).ok());
  ASSERT_EQ(streamed.accepted(), 122);
  ASSERT_TRUE(Eventually([&] {
    v1::GetRiskProfileResponse profile;
    return Profile(SchoolToken("100007"), upns[2], &profile).ok() &&
           profile.profile().signals().suspensions() == 1;
  }));

  v1::GetModelEvaluationRequest request;
  *request.mutable_cut_off() = ToProtoDate(absl::CivilDay(2024, 10, 1));
  request.set_outcome_weeks(4);
  request.set_list_size(1);
  v1::GetModelEvaluationResponse evaluation;
  ASSERT_TRUE(
      stack_->stub->GetModelEvaluation(Context(CouncilToken()).get(), request, &evaluation).ok());
  EXPECT_EQ(evaluation.pupils(), 3);
  EXPECT_EQ(evaluation.pupils_with_outcome(), 2);
  // Top 1 is the absent pupil, suspended: precision 1, recall 1/2. AUC: the
  // absent pupil outranks the negative (1), the other positive ties it (1/2).
  EXPECT_EQ(evaluation.precision_bp(), 10000);
  EXPECT_EQ(evaluation.recall_bp(), 5000);
  EXPECT_EQ(evaluation.auc_bp(), 7500);
  EXPECT_EQ(evaluation.model_version(), "rooted-2026.1");

  // A candidate that ignores attendance ranks nobody: AUC at chance.
  v1::ModelConfig candidate = DefaultModelConfig();
  candidate.set_version("candidate-no-attendance");
  for (auto& rule : *candidate.mutable_rules()) {
    if (rule.indicator() == indicator::kAttendance ||
        rule.indicator() == indicator::kSevereAbsence ||
        rule.indicator() == indicator::kUnauthorisedAbsence) {
      rule.set_points(0);
    }
  }
  *request.mutable_model() = candidate;
  ASSERT_TRUE(
      stack_->stub->GetModelEvaluation(Context(CouncilToken()).get(), request, &evaluation).ok());
  EXPECT_EQ(evaluation.model_version(), "candidate-no-attendance");
  EXPECT_EQ(evaluation.auc_bp(), 5000);

  request.clear_model();
  *request.mutable_cut_off() = ToProtoDate(absl::CivilDay(2026, 5, 20));  // window not over
  grpc::Status status =
      stack_->stub->GetModelEvaluation(Context(CouncilToken()).get(), request, &evaluation);
  EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), ::testing::StartsWith("cut_off:"));
  EXPECT_EQ(stack_->stub->GetModelEvaluation(Context(SchoolToken("100007")).get(), request,
                                             &evaluation)
                .error_code(),
            grpc::PERMISSION_DENIED);
}

v1::Signal MoveSignal(const std::string& id, const std::string& upn, const std::string& from,
                      const std::string& to, absl::CivilDay day, v1::MoveType type) {
  v1::Signal signal;
  signal.set_signal_id(id);
  v1::SchoolMove* move = signal.mutable_move();
  move->set_upn(upn);
  move->set_from_school_urn(from);
  move->set_to_school_urn(to);
  *move->mutable_date() = ToProtoDate(day);
  move->set_move_type(type);
  return signal;
}

// A spring half-term worked by hand (23 Feb to 27 Mar 2026), establishments
// 100020 and 100021 mainstream, 100090 alternative provision, 100091 the PRU:
//   pupil 1  100020 -> 100021, managed move, 2 Mar
//   pupil 2  100020 -> 100090 (AP), 5 Mar
//   pupil 3  100091 (PRU) -> 100021, 10 Mar
//   pupil 4  permanently excluded from 100020, 12 Mar
//   pupil 5  100021 -> 100020 on 15 Jan: before the half-term
TEST_F(RiskScoringTest, TheMovementReportCountsAHalfTermWorkedByHand) {
  const std::string council = CouncilToken();
  v1::SetEstablishmentsRequest establishments;
  establishments.set_request_id("establishments-0001");
  for (const auto& [urn, kind] : std::vector<std::pair<std::string, v1::EstablishmentKind>>{
           {"100090", v1::ESTABLISHMENT_KIND_ALTERNATIVE_PROVISION},
           {"100091", v1::ESTABLISHMENT_KIND_PUPIL_REFERRAL_UNIT}}) {
    v1::Establishment* e = establishments.add_establishments();
    e->set_urn(urn);
    e->set_kind(kind);
  }
  v1::SetEstablishmentsResponse stored;
  ASSERT_TRUE(stack_->stub->SetEstablishments(Context(council).get(), establishments, &stored).ok());
  EXPECT_EQ(stack_->stub->SetEstablishments(Context(SchoolToken("100020")).get(), establishments, &stored)
                .error_code(),
            grpc::PERMISSION_DENIED);
  v1::SetEstablishmentsRequest bad = establishments;
  bad.mutable_establishments(1)->set_kind(v1::ESTABLISHMENT_KIND_UNSPECIFIED);
  grpc::Status bad_kind = stack_->stub->SetEstablishments(Context(council).get(), bad, &stored);
  EXPECT_EQ(bad_kind.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(bad_kind.error_message(), ::testing::StartsWith("establishments[1].kind:"));

  auto upn = [](int n) { return rooted::cohort::MakeUpn("801", 2011, 24, 860 + n); };
  const std::vector<v1::Signal> signals = {
      MoveSignal("mv-1", upn(1), "100020", "100021", absl::CivilDay(2026, 3, 2), v1::MOVE_TYPE_MANAGED_MOVE),
      MoveSignal("mv-2", upn(2), "100020", "100090", absl::CivilDay(2026, 3, 5), v1::MOVE_TYPE_SCHOOL_MOVE),
      MoveSignal("mv-3", upn(3), "100091", "100021", absl::CivilDay(2026, 3, 10), v1::MOVE_TYPE_SCHOOL_MOVE),
      [&] {
        v1::Signal signal;
        signal.set_signal_id("ex-4");
        signal.mutable_exclusion()->set_upn(upn(4));
        signal.mutable_exclusion()->set_school_urn("100020");
        *signal.mutable_exclusion()->mutable_date() = ToProtoDate(absl::CivilDay(2026, 3, 12));
        signal.mutable_exclusion()->add_reason_codes("PP");
        return signal;
      }(),
      MoveSignal("mv-5", upn(5), "100021", "100020", absl::CivilDay(2026, 1, 15), v1::MOVE_TYPE_SCHOOL_MOVE),
  };
  const std::string loader = Token(cv1::ROLE_SERVICE, cv1::ORGANISATION_TYPE_COUNCIL, "801");
  v1::StreamSignalsResponse streamed;
  ASSERT_TRUE(Stream(loader, signals, &streamed).ok());
  ASSERT_EQ(streamed.accepted(), 5) << streamed.DebugString();

  v1::GetMovementReportRequest request;
  *request.mutable_from() = ToProtoDate(absl::CivilDay(2026, 2, 23));
  *request.mutable_to() = ToProtoDate(absl::CivilDay(2026, 3, 27));
  request.set_include_pupils(true);
  v1::GetMovementReportResponse report;
  ASSERT_TRUE(Eventually([&] {
    report.Clear();
    return stack_->stub->GetMovementReport(Context(council).get(), request, &report).ok() &&
           report.council().left() == 4 && report.council().joined() == 3;
  })) << report.DebugString();
  // The same registers again change nothing.
  ASSERT_TRUE(Stream(loader, signals, &streamed).ok());
  absl::SleepFor(absl::Seconds(1));
  report.Clear();
  ASSERT_TRUE(stack_->stub->GetMovementReport(Context(council).get(), request, &report).ok());

  const v1::SchoolMovements& c = report.council();
  EXPECT_EQ(c.joined(), 3);
  EXPECT_EQ(c.left(), 4);
  EXPECT_EQ(c.managed_moves_in(), 1);
  EXPECT_EQ(c.managed_moves_out(), 1);
  EXPECT_EQ(c.to_alternative_provision(), 1);
  EXPECT_EQ(c.from_alternative_provision(), 0);
  EXPECT_EQ(c.to_pupil_referral_unit(), 0);
  EXPECT_EQ(c.from_pupil_referral_unit(), 1);
  EXPECT_EQ(c.permanent_exclusions(), 1);
  std::map<std::string, v1::SchoolMovements> rows;
  for (const v1::SchoolMovements& row : report.schools()) rows[row.school_urn()] = row;
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows["100020"].left(), 3);
  EXPECT_EQ(rows["100020"].joined(), 0);  // pupil 5 came before the half-term
  EXPECT_EQ(rows["100020"].managed_moves_out(), 1);
  EXPECT_EQ(rows["100020"].to_alternative_provision(), 1);
  EXPECT_EQ(rows["100020"].permanent_exclusions(), 1);
  EXPECT_EQ(rows["100021"].joined(), 2);
  EXPECT_EQ(rows["100021"].managed_moves_in(), 1);
  EXPECT_EQ(rows["100021"].from_pupil_referral_unit(), 1);
  EXPECT_EQ(rows["100090"].kind(), v1::ESTABLISHMENT_KIND_ALTERNATIVE_PROVISION);
  EXPECT_EQ(rows["100090"].joined(), 1);
  EXPECT_EQ(rows["100091"].kind(), v1::ESTABLISHMENT_KIND_PUPIL_REFERRAL_UNIT);
  EXPECT_EQ(rows["100091"].left(), 1);
  ASSERT_EQ(report.pupils_size(), 4);
  EXPECT_EQ(report.pupils(0).pupil_ref().value(), RefOf(upn(1)));  // in date order, by reference only

  // A school's lead sees its own row and pupils; its staff the counts only.
  request.set_school_urn("100020");
  const std::string lead = Token(cv1::ROLE_SCHOOL_LEAD, cv1::ORGANISATION_TYPE_SCHOOL, "100020");
  ASSERT_TRUE(stack_->stub->GetMovementReport(Context(lead).get(), request, &report).ok());
  ASSERT_EQ(report.schools_size(), 1);
  EXPECT_EQ(report.schools(0).left(), 3);
  EXPECT_EQ(report.pupils_size(), 3);
  EXPECT_FALSE(report.has_council());
  grpc::Status staff_pupils = stack_->stub->GetMovementReport(Context(SchoolToken("100020")).get(), request, &report);
  EXPECT_EQ(staff_pupils.error_code(), grpc::PERMISSION_DENIED);
  EXPECT_THAT(staff_pupils.error_message(), ::testing::StartsWith("include_pupils:"));
  request.set_include_pupils(false);
  EXPECT_TRUE(stack_->stub->GetMovementReport(Context(SchoolToken("100020")).get(), request, &report).ok());
  EXPECT_EQ(stack_->stub->GetMovementReport(Context(SchoolToken("100021")).get(), request, &report).error_code(),
            grpc::PERMISSION_DENIED);

  // Bad periods name the field.
  v1::GetMovementReportRequest backwards = request;
  *backwards.mutable_to() = ToProtoDate(absl::CivilDay(2026, 2, 1));
  grpc::Status bad_period = stack_->stub->GetMovementReport(Context(council).get(), backwards, &report);
  EXPECT_EQ(bad_period.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(bad_period.error_message(), ::testing::StartsWith("to:"));
  v1::GetMovementReportRequest no_from = request;
  no_from.clear_from();
  EXPECT_THAT(stack_->stub->GetMovementReport(Context(council).get(), no_from, &report).error_message(),
              ::testing::StartsWith("from:"));
}

}  // namespace
}  // namespace rooted::risk
