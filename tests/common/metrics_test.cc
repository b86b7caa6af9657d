#include "common/base/metrics.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "tests/support/metric_totals.h"

namespace rooted {
namespace {

TEST(MetricHandlesTest, EachSetOfLabelValuesIsOneSeriesFoundOnce) {
  prometheus::Registry registry;
  auto& family = prometheus::BuildCounter().Name("widgets_total").Help("widgets").Register(registry);
  MetricHandles<prometheus::Counter> widgets(family, {"colour", "size"});

  prometheus::Counter& red_small = widgets.Get({"red", "small"});
  EXPECT_EQ(&widgets.Get({"red", "small"}), &red_small);
  EXPECT_EQ(&family.Add({{"colour", "red"}, {"size", "small"}}), &red_small) << "the family's own series";
  // Values are told apart whole, not by their joined bytes.
  EXPECT_NE(&widgets.Get({"reds", "mall"}), &red_small);
  EXPECT_NE(&widgets.Get({"small", "red"}), &red_small);

  // Many threads at once, on few series: no count lost, no series twice.
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&widgets, t] {
      for (int i = 0; i < 1000; ++i) widgets.Get({t % 2 == 0 ? "blue" : "green", "large"}).Increment();
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(testing::CounterTotal(registry, "widgets_total", "colour", "blue"), 4000);
  EXPECT_EQ(testing::CounterTotal(registry, "widgets_total", "colour", "green"), 4000);
  EXPECT_EQ(family.Collect().front().metric.size(), 5u);
}

TEST(MetricsTest, RpcsAreCountedByMethodAndCodeAndTimedByMethod) {
  auto registry = std::make_shared<prometheus::Registry>();
  Metrics metrics(registry, "test-service");
  metrics.RecordRpc("SubmitReferral", "OK", 0.002);
  metrics.RecordRpc("SubmitReferral", "OK", 0.004);
  metrics.RecordRpc("SubmitReferral", "INVALID_ARGUMENT", 0.001);
  metrics.RecordProduced("rooted.referral.events.v1", 3);
  EXPECT_EQ(testing::CounterTotal(*registry, "rooted_rpc_requests_total", "code", "OK"), 2);
  EXPECT_EQ(testing::CounterTotal(*registry, "rooted_rpc_requests_total", "method", "SubmitReferral"), 3);
  EXPECT_EQ(testing::CounterTotal(*registry, "rooted_events_produced_total", "topic", "rooted.referral.events.v1"), 3);
  for (const prometheus::MetricFamily& family : registry->Collect()) {
    if (family.name != "rooted_rpc_duration_seconds") continue;
    ASSERT_EQ(family.metric.size(), 1u);
    EXPECT_EQ(family.metric[0].histogram.sample_count, 3u);
    EXPECT_EQ(family.metric[0].histogram.bucket.size(), Metrics::LatencyBuckets().size() + 1);
  }
}

// increase() of a counter that first appears at 1 is 0: every series an
// alert watches must be exported at 0 before its first event.
TEST(MetricsTest, SeriesAlertsWatchStartAtZero) {
  auto registry = std::make_shared<prometheus::Registry>();
  Metrics metrics(registry, "test-service");
  for (const absl::string_view reason : kRedisPipelineFailureReasons) {
    EXPECT_EQ(testing::SeriesValue(*registry, "rooted_redis_pipeline_failures_total",
                                   {{"reason", std::string(reason)}}),
              0)
        << reason;
  }
  const std::string topic = "rooted.fund.events.v1";
  EXPECT_FALSE(
      testing::SeriesValue(*registry, "rooted_events_produce_failures_total", {{"topic", topic}}));
  metrics.DeclareProducedTopic(topic);
  metrics.DeclareConsumedTopic(topic);
  for (const char* family : {"rooted_events_produced_total", "rooted_events_produce_failures_total",
                             "rooted_events_dead_lettered_total"}) {
    EXPECT_EQ(testing::SeriesValue(*registry, family,
                                   {{"topic", topic}, {"rooted_service", "test-service"}}),
              0)
        << family;
  }
  for (const absl::string_view outcome : kConsumedOutcomes) {
    EXPECT_EQ(testing::SeriesValue(*registry, "rooted_events_consumed_total",
                                   {{"topic", topic}, {"outcome", std::string(outcome)}}),
              0)
        << outcome;
  }
  // Declaring is idempotent and a later event counts on the same series.
  metrics.DeclareConsumedTopic(topic);
  metrics.RecordDeadLettered(topic);
  EXPECT_EQ(
      testing::SeriesValue(*registry, "rooted_events_dead_lettered_total", {{"topic", topic}}), 1);
}

}  // namespace
}  // namespace rooted
