// Events a consumer must not act on: a payload that is not its topic's
// envelope, or one holding a value no producer of ours sends (a malformed
// pupil reference, an undeclared enum value, an id with spaces, a timestamp
// out of range). Checked once, before any service's handler, and
// dead-lettered with the field named; a real broker carries them.

#include "common/server/checked_events.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <atomic>
#include <sstream>

#include "common/kafka/kafka_producer.h"
#include "common/kafka/topics.h"
#include "rooted/directory/v1/directory_events.pb.h"
#include "rooted/forum/v1/forum_events.pb.h"
#include "rooted/fund/v1/fund_events.pb.h"
#include "rooted/referral/v1/referral_events.pb.h"
#include "rooted/risk/v1/risk_events.pb.h"
#include "tests/support/local_stack.h"

namespace rooted {
namespace {

namespace cv1 = rooted::common::v1;

const std::string kGoodRef = "pr_" + std::string(32, 'a');

ConsumedEvent EventOn(absl::string_view topic, const google::protobuf::Message& envelope) {
  ConsumedEvent event;
  event.topic = std::string(topic);
  event.payload = envelope.SerializeAsString();
  event.headers["event_id"] = "checked-event-0001";
  return event;
}

rooted::referral::v1::ReferralEvent Submitted(const std::string& pupil_ref) {
  rooted::referral::v1::ReferralEvent e;
  e.mutable_metadata()->set_event_id("checked-event-0001");
  auto& s = *e.mutable_referral_submitted();
  s.set_referral_id("ref_0123456789abcdef");
  s.mutable_pupil_ref()->set_value(pupil_ref);
  s.set_school_urn("100001");
  return e;
}

TEST(CheckEventTest, AnEventOurProducersSendPasses) {
  EXPECT_TRUE(CheckEvent(EventOn(topics::kReferralEvents, Submitted(kGoodRef))).ok());
  rooted::forum::v1::ForumEvent listed;
  listed.mutable_case_listed()->mutable_forum_case()->set_referral_id("ref_0123456789abcdef");
  listed.mutable_case_listed()->mutable_forum_case()->mutable_pupil_ref()->set_value(kGoodRef);
  listed.mutable_case_listed()->mutable_forum_case()->set_risk_band(cv1::RISK_BAND_HIGH);
  listed.mutable_case_listed()->mutable_forum_case()->add_allocated_partner_ids(
      "partner-calm-minds");
  EXPECT_TRUE(CheckEvent(EventOn(topics::kForumEvents, listed)).ok());
  // Topics of no envelope we know (the signals) are for their handler to check.
  ConsumedEvent signal;
  signal.topic = std::string(topics::kSignals);
  signal.payload = "\xff\xff not a message";
  EXPECT_TRUE(CheckEvent(signal).ok());
}

TEST(CheckEventTest, EachImpossibleValueIsRefusedNamingItsField) {
  struct Case {
    std::string what;
    ConsumedEvent event;
    std::string field;
  };
  std::vector<Case> cases;
  for (absl::string_view topic :
       {topics::kReferralEvents, topics::kRiskEvents, topics::kForumEvents,
        topics::kDirectoryEvents, topics::kFundEvents}) {
    ConsumedEvent garbage;
    garbage.topic = std::string(topic);
    garbage.payload = "\x0a\xff\xff\xff\xff\x0f";  // a length past the end
    cases.push_back({"undecodable on " + std::string(topic), garbage, "payload"});
  }
  cases.push_back({"malformed pupil ref",
                   EventOn(topics::kReferralEvents, Submitted("pr_" + std::string(32, 'Z'))),
                   "referral_submitted.pupil_ref"});
  cases.push_back({"empty pupil ref", EventOn(topics::kReferralEvents, Submitted("")),
                   "referral_submitted.pupil_ref"});
  rooted::risk::v1::RiskEvent band;
  band.mutable_risk_band_changed()->mutable_pupil_ref()->set_value(kGoodRef);
  band.mutable_risk_band_changed()->set_band(static_cast<cv1::RiskBand>(999));
  cases.push_back(
      {"undeclared enum value", EventOn(topics::kRiskEvents, band), "risk_band_changed.band"});
  rooted::directory::v1::DirectoryEvent triaged;
  triaged.mutable_triage_recommended()->set_referral_id("ref_0123456789abcdef");
  triaged.mutable_triage_recommended()->add_service_ids("svc calm minds; DROP");
  cases.push_back({"id with spaces", EventOn(topics::kDirectoryEvents, triaged),
                   "triage_recommended.service_ids[0]"});
  rooted::fund::v1::FundEvent requested;
  requested.mutable_fund_request_submitted()->set_fund_request_id("fund-request-0001");
  requested.mutable_metadata()->mutable_occurred_at()->set_nanos(-5);
  cases.push_back(
      {"timestamp out of range", EventOn(topics::kFundEvents, requested), "metadata.occurred_at"});

  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    const absl::Status checked = CheckEvent(c.event);
    EXPECT_EQ(checked.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(checked.message().substr(0, c.field.size() + 1), c.field + ":") << checked;
  }
}

// Counts what reaches it: the service's handler behind the checker.
class CountingHandler final : public EventHandler {
 public:
  absl::StatusOr<ApplyResult> Apply(const ConsumedEvent&) override {
    ++applied;
    return ApplyResult::kApplied;
  }
  std::atomic<int> applied{0};
};

TEST(CheckedEventHandlerTest, AnEventThatFailsTheCheckIsDeadLetteredAndNeverHandled) {
  testing::Broker broker;
  std::unique_ptr<KafkaProducer> producer =
      *KafkaProducer::Create({broker.bootstrap(), "test", {}});
  std::ostringstream log;
  SystemClock clock;
  Logger logger("test", log, LogLevel::kInfo, clock);
  Metrics metrics(std::make_shared<prometheus::Registry>(), "test");
  CountingHandler counting;
  CheckedEventHandler checked(counting);

  EventConsumerOptions options;
  options.bootstrap_servers = broker.bootstrap();
  options.group_id = "checked-test";
  options.topics = {std::string(topics::kReferralEvents)};
  options.max_attempts = 2;
  options.max_batch = 10;
  options.initial_backoff = absl::Milliseconds(5);
  options.overrides = {{"session.timeout.ms", "6000"}, {"heartbeat.interval.ms", "500"}};
  std::unique_ptr<EventConsumer> consumer =
      *EventConsumer::Create(options, checked, *producer, metrics, logger);
  consumer->Start();

  std::vector<OutgoingMessage> messages;
  int n = 0;
  for (const std::string& ref : {kGoodRef, "pr_" + std::string(32, 'Z'), kGoodRef}) {
    messages.push_back({std::string(topics::kReferralEvents),
                        kGoodRef,
                        Submitted(ref).SerializeAsString(),
                        {{"event_id", "checked-event-" + std::to_string(++n)}}});
  }
  for (const absl::Status& sent : producer->Deliver(messages, absl::Seconds(10)))
    ASSERT_TRUE(sent.ok()) << sent;

  std::vector<testing::ReadMessage> dead = testing::ReadTopic(
      broker.bootstrap(),
      std::string(topics::kReferralEvents) + std::string(topics::kDeadLetterSuffix), 1,
      absl::Seconds(30));
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].headers["event_id"], "checked-event-2");
  EXPECT_EQ(dead[0].headers["dlq_code"], "INVALID_ARGUMENT");
  EXPECT_EQ(dead[0].headers["dlq_reason"].rfind("referral_submitted.pupil_ref:", 0), 0u)
      << dead[0].headers["dlq_reason"];
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (counting.applied.load() < 2 && absl::Now() < deadline)
    absl::SleepFor(absl::Milliseconds(20));
  consumer->Stop();
  EXPECT_EQ(counting.applied.load(), 2);
}

}  // namespace
}  // namespace rooted
