#ifndef ROOTED_COMMON_BASE_METRICS_H_
#define ROOTED_COMMON_BASE_METRICS_H_

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>
#include <string_view>

#include "absl/strings/string_view.h"

namespace rooted {

// The metrics every service exports, on one registry built in main. Names are
// the contract with deploy/ (dashboards and alerts); change them together.
// Labels never carry personal data: methods, codes, topics, school URNs.
// Thread safety: every method may be called concurrently.
class Metrics {
 public:
  Metrics(std::shared_ptr<prometheus::Registry> registry, const std::string& service);

  const std::shared_ptr<prometheus::Registry>& registry() const { return registry_; }

  // rooted_rpc_requests_total{method,code}, rooted_rpc_duration_seconds{method}
  void RecordRpc(absl::string_view method, absl::string_view code, double seconds);
  // rooted_events_produced_total{topic} / rooted_events_produce_failures_total{topic}
  void RecordProduced(absl::string_view topic, double count = 1);
  void RecordProduceFailure(absl::string_view topic);
  // rooted_events_consumed_total{topic,outcome}: outcome is applied, duplicate or retried.
  void RecordConsumed(absl::string_view topic, absl::string_view outcome, double count = 1);
  // rooted_events_dead_lettered_total{topic}
  void RecordDeadLettered(absl::string_view topic);
  // rooted_outbox_depth
  void SetOutboxDepth(double depth);
  // rooted_consumer_lag{topic,partition}
  void SetConsumerLag(absl::string_view topic, int32_t partition, double lag);
  // rooted_redis_pipeline_waiting: commands on the pipelined Redis connection
  // without a reply yet.
  void SetRedisPipelineWaiting(double commands);
  // rooted_redis_pipeline_failures_total{reason}: the pipelined connection
  // dropped (lost, timeout, unparsable) or not made (connect); each failed
  // the commands then waiting with UNAVAILABLE.
  void RecordRedisPipelineFailure(absl::string_view reason);

  static const prometheus::Histogram::BucketBoundaries& LatencyBuckets();

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& rpc_requests_;
  prometheus::Family<prometheus::Histogram>& rpc_duration_;
  prometheus::Family<prometheus::Counter>& events_produced_;
  prometheus::Family<prometheus::Counter>& produce_failures_;
  prometheus::Family<prometheus::Counter>& events_consumed_;
  prometheus::Family<prometheus::Counter>& events_dead_lettered_;
  prometheus::Gauge& outbox_depth_;
  prometheus::Family<prometheus::Gauge>& consumer_lag_;
  prometheus::Gauge& redis_pipeline_waiting_;
  prometheus::Family<prometheus::Counter>& redis_pipeline_failures_;
};

}  // namespace rooted

#endif  // ROOTED_COMMON_BASE_METRICS_H_
