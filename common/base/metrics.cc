#include "common/base/metrics.h"

#include "absl/strings/string_view.h"

namespace rooted {

Metrics::Metrics(std::shared_ptr<prometheus::Registry> registry, const std::string& service)
    : registry_(std::move(registry)),
      service_labels_({{std::string(kServiceLabel), service}}),
      rpc_requests_(prometheus::BuildCounter()
                        .Name("rooted_rpc_requests_total")
                        .Help("gRPC requests handled, by method and status code")
                        .Labels({{std::string(kServiceLabel), service}})
                        .Register(*registry_)),
      rpc_duration_(prometheus::BuildHistogram()
                        .Name("rooted_rpc_duration_seconds")
                        .Help("gRPC handler latency, by method")
                        .Labels({{std::string(kServiceLabel), service}})
                        .Register(*registry_)),
      events_produced_(prometheus::BuildCounter()
                           .Name("rooted_events_produced_total")
                           .Help("Events delivered to Kafka (delivery report received)")
                           .Labels({{std::string(kServiceLabel), service}})
                           .Register(*registry_)),
      produce_failures_(prometheus::BuildCounter()
                            .Name("rooted_events_produce_failures_total")
                            .Help("Events whose delivery failed and will be retried")
                            .Labels({{std::string(kServiceLabel), service}})
                            .Register(*registry_)),
      events_consumed_(
          prometheus::BuildCounter()
              .Name("rooted_events_consumed_total")
              .Help("Events consumed, by outcome (applied, duplicate, retried, skipped)")
              .Labels({{std::string(kServiceLabel), service}})
              .Register(*registry_)),
      events_dead_lettered_(prometheus::BuildCounter()
                                .Name("rooted_events_dead_lettered_total")
                                .Help("Events sent to a dead-letter topic")
                                .Labels({{std::string(kServiceLabel), service}})
                                .Register(*registry_)),
      outbox_depth_(prometheus::BuildGauge()
                        .Name("rooted_outbox_depth")
                        .Help("Events written to the outbox and not yet delivered to Kafka")
                        .Labels({{std::string(kServiceLabel), service}})
                        .Register(*registry_)
                        .Add({})),
      consumer_lag_(prometheus::BuildGauge()
                        .Name("rooted_consumer_lag")
                        .Help("Messages behind the partition's high watermark")
                        .Labels({{std::string(kServiceLabel), service}})
                        .Register(*registry_)),
      redis_pipeline_waiting_(
          prometheus::BuildGauge()
              .Name("rooted_redis_pipeline_waiting")
              .Help("Commands on the pipelined Redis connection without a reply yet")
              .Labels({{std::string(kServiceLabel), service}})
              .Register(*registry_)
              .Add({})),
      redis_pipeline_failures_(
          prometheus::BuildCounter()
              .Name("rooted_redis_pipeline_failures_total")
              .Help("Pipelined Redis connections dropped or not made, by reason; each failed "
                    "the commands then waiting")
              .Labels({{std::string(kServiceLabel), service}})
              .Register(*registry_)),
      rpc_requests_by_(rpc_requests_, {"method", "code"}),
      rpc_duration_by_({"method"},
                       [this](const prometheus::Labels& labels) -> prometheus::Histogram& {
                         return rpc_duration_.Add(labels, LatencyBuckets());
                       }),
      events_produced_by_(events_produced_, {"topic"}),
      produce_failures_by_(produce_failures_, {"topic"}),
      events_consumed_by_(events_consumed_, {"topic", "outcome"}),
      events_dead_lettered_by_(events_dead_lettered_, {"topic"}),
      consumer_lag_by_(consumer_lag_, {"consumer_group", "topic", "partition"}),
      redis_pipeline_failures_by_(redis_pipeline_failures_, {"reason"}) {
  for (const absl::string_view reason : kRedisPipelineFailureReasons) {
    redis_pipeline_failures_by_.Get({reason});
  }
}

void Metrics::DeclareConsumedTopic(absl::string_view topic) {
  for (const absl::string_view outcome : kConsumedOutcomes)
    events_consumed_by_.Get({topic, outcome});
  events_dead_lettered_by_.Get({topic});
}

void Metrics::DeclareProducedTopic(absl::string_view topic) {
  events_produced_by_.Get({topic});
  produce_failures_by_.Get({topic});
}

const prometheus::Histogram::BucketBoundaries& Metrics::LatencyBuckets() {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
  return kBuckets;
}

void Metrics::RecordRpc(absl::string_view method, absl::string_view code, double seconds) {
  rpc_requests_by_.Get({method, code}).Increment();
  rpc_duration_by_.Get({method}).Observe(seconds);
}

void Metrics::RecordProduced(absl::string_view topic, double count) {
  events_produced_by_.Get({topic}).Increment(count);
}

void Metrics::RecordProduceFailure(absl::string_view topic) {
  produce_failures_by_.Get({topic}).Increment();
}

void Metrics::RecordConsumed(absl::string_view topic, absl::string_view outcome, double count) {
  events_consumed_by_.Get({topic, outcome}).Increment(count);
}

void Metrics::RecordDeadLettered(absl::string_view topic) {
  events_dead_lettered_by_.Get({topic}).Increment();
}

void Metrics::SetOutboxDepth(double depth) { outbox_depth_.Set(depth); }

void Metrics::SetRedisPipelineWaiting(double commands) { redis_pipeline_waiting_.Set(commands); }

void Metrics::RecordRedisPipelineFailure(absl::string_view reason) {
  redis_pipeline_failures_by_.Get({reason}).Increment();
}

void Metrics::SetConsumerLag(absl::string_view group, absl::string_view topic, int32_t partition,
                             double lag) {
  consumer_lag_by_.Get({group, topic, std::to_string(partition)}).Set(lag);
}

}  // namespace rooted
