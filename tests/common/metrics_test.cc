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

}  // namespace
}  // namespace rooted
