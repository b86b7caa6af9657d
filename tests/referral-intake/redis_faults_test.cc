// Redis in trouble, through a fault-injecting front for a real redis-server:
// Redis's passing conditions (loading its dataset after a restart, a long
// script, a read-only replica, a full memory) are UNAVAILABLE to callers and
// waited out by event consumers, so no event is dead-lettered for them; a
// real refusal is still INTERNAL, and poison is still dead-lettered.

#include <gtest/gtest.h>

#include <future>

#include "absl/strings/match.h"
#include "common/base/proto_time.h"
#include "common/identity/upn.h"
#include "common/kafka/event_metadata.h"
#include "common/kafka/topics.h"
#include "rooted/forum/v1/forum_events.pb.h"
#include "tests/referral-intake/referral_fixtures.h"
#include "tests/referral-intake/referral_services_stack.h"
#include "tests/support/metric_totals.h"
#include "tests/support/run_tool.h"

namespace rooted::referral {
namespace {

namespace cv1 = rooted::common::v1;

// Redis's own replies for the conditions that pass.
const std::vector<std::string> kPassingConditions = {
    "LOADING Redis is loading the dataset in memory",
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.",
    "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
    "READONLY You can't write against a read only replica.",
    "NOREPLICAS Not enough good replicas to write.",
    "TRYAGAIN Multiple keys request during rehashing of slot",
    "CLUSTERDOWN The cluster is down",
    "OOM command not allowed when used memory > 'maxmemory'.",
    // A script's failed call, as Redis before 7 reported it.
    "ERR Error running script (call to f_0123): @user_script:1: -OOM command not allowed when used "
    "memory > 'maxmemory'.",
};

// Error replies that refuse the command itself: retrying cannot help.
const std::vector<std::string> kRefusals = {
    "WRONGTYPE Operation against a key holding the wrong kind of value",
    "ERR unknown command 'FROB', with args beginning with: ",
    "NOPERM this user has no permissions to run the 'get' command",
};

class RedisFaultsTest : public ::testing::Test {
 protected:
  void TearDown() override { proxy().AnswerWith(""); }

  rooted::testing::RedisFaultProxy& proxy() { return *stack_.h.fault_proxy; }

  absl::Status PipelinedCommand(const std::vector<std::string>& args) {
    std::promise<absl::Status> answered;
    stack_.h.redis_pipe->Command(
        args, [&](absl::StatusOr<RedisReply> reply) { answered.set_value(reply.status()); });
    return answered.get_future().get();
  }

  std::string SchoolToken(const std::string& urn) {
    return stack_.h.tokens.Mint("teacher-1", cv1::ROLE_SCHOOL_STAFF, cv1::ORGANISATION_TYPE_SCHOOL,
                                urn, "801", stack_.h.clock.Now());
  }

  grpc::Status Submit(const std::string& request_id, v1::SubmitReferralResponse* response) {
    v1::SubmitReferralRequest request;
    request.set_request_id(request_id);
    *request.mutable_details() = testing::GoodDetails(
        "100001", std::string(1, UpnCheckLetter("A801200001001")) + "801200001001");
    return stack_.referral_stub->SubmitReferral(
        rooted::testing::AuthedContext(SchoolToken("100001")).get(), request, response);
  }

  testing::ReferralServicesStack stack_{/*faulty_redis=*/true};
};

TEST_F(RedisFaultsTest, PassingConditionsAreUnavailableAndRefusalsInternal) {
  RedisClient& redis = *stack_.h.redis;
  const RedisScript script("return redis.call('GET', KEYS[1])");
  for (const std::string& condition : kPassingConditions) {
    SCOPED_TRACE(condition);
    proxy().AnswerWith(condition);
    EXPECT_EQ(redis.Command({"GET", "k"}).status().code(), absl::StatusCode::kUnavailable);
    EXPECT_EQ(redis.Pipeline({{"GET", "a"}, {"SET", "b", "1"}}).status().code(),
              absl::StatusCode::kUnavailable);
    EXPECT_EQ(redis.Eval(script, {"k"}, {}).status().code(), absl::StatusCode::kUnavailable);
    EXPECT_EQ(PipelinedCommand({"GET", "k"}).code(), absl::StatusCode::kUnavailable);
  }
  for (const std::string& refusal : kRefusals) {
    SCOPED_TRACE(refusal);
    proxy().AnswerWith(refusal);
    const absl::Status refused = redis.Command({"GET", "k"}).status();
    EXPECT_EQ(refused.code(), absl::StatusCode::kInternal);
    EXPECT_NE(refused.message().find(refusal.substr(0, refusal.find(' '))), std::string::npos)
        << refused;
    EXPECT_EQ(PipelinedCommand({"GET", "k"}).code(), absl::StatusCode::kInternal);
    // A pipeline's refusals stay with their commands, for the caller to read.
    absl::StatusOr<std::vector<RedisReply>> replies = redis.Pipeline({{"GET", "a"}, {"GET", "b"}});
    ASSERT_TRUE(replies.ok()) << replies.status();
    EXPECT_TRUE(replies->front().is_error());
  }
  proxy().AnswerWith("");
  EXPECT_TRUE(redis.Command({"SET", "k", "v"}).ok());
  EXPECT_EQ(redis.Command({"GET", "k"})->str, "v");
}

TEST_F(RedisFaultsTest, ACallWhileRedisLoadsIsUnavailableAndSucceedsWhenRetried) {
  proxy().AnswerWith(kPassingConditions.front());
  v1::SubmitReferralResponse response;
  const grpc::Status loading = Submit("req-faults-0001", &response);
  EXPECT_EQ(loading.error_code(), grpc::StatusCode::UNAVAILABLE) << loading.error_message();

  proxy().AnswerWith("");
  const grpc::Status retried = Submit("req-faults-0001", &response);
  ASSERT_TRUE(retried.ok()) << retried.error_message();
  EXPECT_FALSE(response.referral().referral_id().empty());
}

TEST_F(RedisFaultsTest, NoEventIsDeadLetteredWhileRedisPassesThroughTrouble) {
  v1::SubmitReferralResponse submitted;
  ASSERT_TRUE(Submit("req-faults-0002", &submitted).ok());
  const std::string id = submitted.referral().referral_id();

  EventConsumerOptions options =
      stack_.h.ConsumerOptions("timeline-faults-test", {std::string(topics::kForumEvents)});
  // Quick retries, and few of them: without the classification, a handful of
  // refused attempts would send the event to the dead-letter topic.
  options.max_attempts = 3;
  options.initial_backoff = absl::Milliseconds(5);
  options.max_backoff = absl::Milliseconds(20);
  auto consumer = *EventConsumer::Create(options, *stack_.timeline, *stack_.h.producer,
                                         *stack_.h.metrics, *stack_.h.logger);
  consumer->Start();

  for (const std::string& condition : kPassingConditions) {
    SCOPED_TRACE(condition);
    proxy().AnswerWith(condition);
    const int64_t refused_before = proxy().refused();
    rooted::forum::v1::ForumEvent listed;
    listed.mutable_case_listed()->mutable_forum_case()->set_referral_id(id);
    listed.mutable_metadata()->set_event_id("faults-" + condition.substr(0, condition.find(' ')) +
                                            "-" + std::to_string(refused_before));
    listed.mutable_metadata()->set_event_type(PayloadTypeName(listed));
    *listed.mutable_metadata()->mutable_occurred_at() = ToProtoTimestamp(stack_.h.clock.Now());
    const OutgoingMessage message = ToOutgoingMessage(
        topics::kForumEvents, submitted.referral().pupil_ref().value(), listed.metadata(), listed);
    ASSERT_TRUE(stack_.h.producer->Deliver({&message, 1}, absl::Seconds(10)).front().ok());
    // Many more refused attempts than max_attempts: each would count against
    // the event if the condition were taken for the event's fault.
    ASSERT_TRUE(rooted::testing::Eventually(
        [&] { return proxy().refused() >= refused_before + 20; }, absl::Seconds(30)));
  }
  proxy().AnswerWith("");
  v1::GetCaseTimelineRequest request;
  request.set_referral_id(id);
  request.set_purpose("case review");
  auto listed_entries = [&] {
    v1::GetCaseTimelineResponse timeline;
    if (!stack_.referral_stub
             ->GetCaseTimeline(rooted::testing::AuthedContext(SchoolToken("100001")).get(), request,
                               &timeline)
             .ok()) {
      return 0;
    }
    int listed = 0;
    for (const v1::TimelineEntry& entry : timeline.entries())
      listed += absl::StartsWith(entry.event_id(), "faults-") ? 1 : 0;
    return listed;
  };
  EXPECT_TRUE(rooted::testing::Eventually(
      [&] { return listed_entries() == int(kPassingConditions.size()); }, absl::Seconds(60)))
      << listed_entries();
  consumer->Stop();
  EXPECT_TRUE(rooted::testing::ReadTopic(
                  stack_.h.broker.bootstrap(),
                  std::string(topics::kForumEvents) + std::string(topics::kDeadLetterSuffix), 0,
                  absl::Seconds(2))
                  .empty());
  EXPECT_EQ(rooted::testing::CounterTotal(*stack_.h.metrics->registry(),
                                          "rooted_events_dead_lettered_total", "topic",
                                          topics::kForumEvents),
            0);
}

// A real refusal is poison: dead-lettered with its reason. Once the cause is
// fixed, rootedctl replays it to the group that failed it, and to no other.
TEST_F(RedisFaultsTest, ARealRefusalIsDeadLetteredAndOnceFixedReplayedToThatGroupAlone) {
  v1::SubmitReferralResponse submitted;
  ASSERT_TRUE(Submit("req-faults-refused", &submitted).ok());
  const std::string referral_id = submitted.referral().referral_id();

  EventConsumerOptions options =
      stack_.h.ConsumerOptions("timeline-refusal-test", {std::string(topics::kForumEvents)});
  options.max_attempts = 2;
  options.initial_backoff = absl::Milliseconds(5);
  options.max_backoff = absl::Milliseconds(20);
  auto consumer = *EventConsumer::Create(options, *stack_.timeline, *stack_.h.producer,
                                         *stack_.h.metrics, *stack_.h.logger);
  // Another service's group on the same topic, which took the event in its stride.
  class Counter final : public EventHandler {
   public:
    absl::StatusOr<ApplyResult> Apply(const ConsumedEvent&) override {
      ++seen;
      return ApplyResult::kApplied;
    }
    std::atomic<int> seen{0};
  } other_service;
  auto other = *EventConsumer::Create(
      stack_.h.ConsumerOptions("another-service", {std::string(topics::kForumEvents)}),
      other_service, *stack_.h.producer, *stack_.h.metrics, *stack_.h.logger);
  consumer->Start();
  other->Start();
  proxy().AnswerWith(kRefusals.front());
  rooted::forum::v1::ForumEvent listed;
  listed.mutable_case_listed()->mutable_forum_case()->set_referral_id(referral_id);
  listed.mutable_metadata()->set_event_id("faults-refused-0001");
  listed.mutable_metadata()->set_event_type(PayloadTypeName(listed));
  *listed.mutable_metadata()->mutable_occurred_at() = ToProtoTimestamp(stack_.h.clock.Now());
  const OutgoingMessage message =
      ToOutgoingMessage(topics::kForumEvents, "pr_refused", listed.metadata(), listed);
  ASSERT_TRUE(stack_.h.producer->Deliver({&message, 1}, absl::Seconds(10)).front().ok());
  const std::string dlq_topic =
      std::string(topics::kForumEvents) + std::string(topics::kDeadLetterSuffix);
  std::vector<rooted::testing::ReadMessage> dead =
      rooted::testing::ReadTopic(stack_.h.broker.bootstrap(), dlq_topic, 1, absl::Seconds(30));
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].headers["dlq_code"], "INTERNAL");
  EXPECT_NE(dead[0].headers["dlq_reason"].find("WRONGTYPE"), std::string::npos)
      << dead[0].headers["dlq_reason"];
  proxy().AnswerWith("");  // the cause, fixed

  const std::string kafka = " --kafka-bootstrap=" + stack_.h.broker.bootstrap();
  const rooted::testing::ToolResult list =
      rooted::testing::RunTool("tools/rootedctl", "dlq list" + kafka);
  ASSERT_EQ(list.exit_code, 0) << list.out;
  EXPECT_NE(list.out.find("timeline-refusal-test"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("WRONGTYPE"), std::string::npos) << list.out;
  const size_t at = list.out.find(dlq_topic + ":");
  ASSERT_NE(at, std::string::npos) << list.out;
  const std::string id = list.out.substr(at, list.out.find(' ', at) - at);
  const rooted::testing::ToolResult show =
      rooted::testing::RunTool("tools/rootedctl", "dlq show --id=" + id + kafka);
  ASSERT_EQ(show.exit_code, 0) << show.out;
  EXPECT_NE(show.out.find(referral_id), std::string::npos) << show.out;  // the event, decoded
  EXPECT_NE(show.out.find("dlq_consumer_group: timeline-refusal-test"), std::string::npos)
      << show.out;
  EXPECT_EQ(rooted::testing::RunTool("tools/rootedctl", "dlq show --id=nonsense" + kafka).exit_code,
            2);
  EXPECT_EQ(rooted::testing::RunTool("tools/rootedctl", "dlq replay" + kafka).exit_code, 2)
      << "neither --id nor --all";

  for (int time = 0; time < 2; ++time) {  // an operator who replays it twice
    const rooted::testing::ToolResult replay =
        rooted::testing::RunTool("tools/rootedctl", "dlq replay --id=" + id + kafka);
    ASSERT_EQ(replay.exit_code, 0) << replay.out;
    EXPECT_NE(replay.out.find("replayed " + id + " to " + std::string(topics::kForumEvents) +
                              " for timeline-refusal-test"),
              std::string::npos)
        << replay.out;
  }
  const prometheus::Registry& registry = *stack_.h.metrics->registry();
  const auto consumed = [&](const char* outcome) {
    return rooted::testing::SeriesValue(
               registry, "rooted_events_consumed_total",
               {{"topic", std::string(topics::kForumEvents)}, {"outcome", outcome}})
        .value_or(0);
  };
  // The other group skips both copies; the failing group applies the first
  // and takes the second for a duplicate.
  ASSERT_TRUE(rooted::testing::Eventually(
      [&] { return consumed("skipped") == 2 && consumed("duplicate") == 1; }, absl::Seconds(30)))
      << "skipped " << consumed("skipped") << ", duplicate " << consumed("duplicate");
  consumer->Stop();
  other->Stop();
  EXPECT_EQ(other_service.seen.load(), 1);
  absl::StatusOr<std::vector<v1::TimelineEntry>> timeline = stack_.timeline->Timeline(referral_id);
  ASSERT_TRUE(timeline.ok()) << timeline.status();
  int replayed = 0;
  for (const v1::TimelineEntry& entry : *timeline)
    replayed += entry.event_id() == "faults-refused-0001";
  EXPECT_EQ(replayed, 1);
}

}  // namespace
}  // namespace rooted::referral
