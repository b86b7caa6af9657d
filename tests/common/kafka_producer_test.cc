// The producer never gives up on a message librdkafka may still deliver:
// whatever the caller's wait, Deliver answers with each message's delivery
// report, so a caller that retries a failure never puts a second copy on the
// log.

#include "common/kafka/kafka_producer.h"

#include <gtest/gtest.h>

#include "tests/support/local_stack.h"

namespace rooted {
namespace {

TEST(KafkaProducerTest, AFailureIsLibrdkafkasOwnReportNeverAnEarlyGivingUp) {
  // Nothing listens here: every message waits in librdkafka until its
  // message timeout, then is reported failed.
  const int closed_port = testing::FreePort();
  std::unique_ptr<KafkaProducer> producer = *KafkaProducer::Create(
      {"127.0.0.1:" + std::to_string(closed_port), "test", {{"message.timeout.ms", "1500"}}});
  const OutgoingMessage message{
      "rooted.forum.events.v1", "pr_key", "payload", {{"event_id", "e-1"}}};
  const absl::Time asked = absl::Now();
  const std::vector<absl::Status> results =
      producer->Deliver({&message, 1}, absl::Milliseconds(100));
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results.front().code(), absl::StatusCode::kUnavailable) << results.front();
  EXPECT_NE(results.front().message().find("kafka delivery failed"), std::string::npos)
      << results.front();
  // Not a timing assertion on speed: the answer cannot come before the
  // report, which librdkafka gives only once its own timeout has passed.
  EXPECT_GE(absl::Now() - asked, absl::Milliseconds(1400));
}

TEST(KafkaProducerTest, ADeliveredMessageIsConfirmed) {
  testing::Broker broker;
  std::unique_ptr<KafkaProducer> producer =
      *KafkaProducer::Create({broker.bootstrap(), "test", {}});
  const OutgoingMessage message{
      "rooted.forum.events.v1", "pr_key", "payload", {{"event_id", "e-2"}}};
  EXPECT_TRUE(producer->Deliver({&message, 1}, absl::Seconds(10)).front().ok());
}

}  // namespace
}  // namespace rooted
