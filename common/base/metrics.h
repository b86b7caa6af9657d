#ifndef ROOTED_COMMON_BASE_METRICS_H_
#define ROOTED_COMMON_BASE_METRICS_H_

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace rooted {

// A family's metrics, each found by its label values once and then kept.
// Finding one in the family builds a label map and hashes it under the
// family's lock, which cost a busy call more than the rest of its metrics
// work: 4% of referral intake's instructions went to two such look-ups.
// Thread safety: Get may be called concurrently.
template <typename Metric>
class MetricHandles {
 public:
  // `add` makes (or finds) the metric with the given labels in its family,
  // for instance with a histogram's buckets.
  MetricHandles(std::vector<std::string> label_names, std::function<Metric&(const prometheus::Labels&)> add)
      : label_names_(std::move(label_names)), add_(std::move(add)) {}
  MetricHandles(prometheus::Family<Metric>& family, std::vector<std::string> label_names)
      : MetricHandles(std::move(label_names),
                      [&family](const prometheus::Labels& labels) -> Metric& { return family.Add(labels); }) {}

  // The metric with these label values, one for each label name, in order.
  Metric& Get(std::initializer_list<absl::string_view> values) {
    std::string key;
    for (const absl::string_view value : values) {
      key.append(value.data(), value.size());
      key.push_back('\0');
    }
    {
      absl::ReaderMutexLock lock(&mu_);
      if (auto found = handles_.find(key); found != handles_.end()) return *found->second;
    }
    prometheus::Labels labels;
    size_t name = 0;
    for (const absl::string_view value : values) labels.emplace(label_names_.at(name++), std::string(value));
    Metric& metric = add_(labels);
    absl::MutexLock lock(&mu_);
    handles_.try_emplace(std::move(key), &metric);
    return metric;
  }

 private:
  const std::vector<std::string> label_names_;
  const std::function<Metric&(const prometheus::Labels&)> add_;
  absl::Mutex mu_;
  // The family owns the metrics, and nothing is ever removed from it.
  absl::flat_hash_map<std::string, Metric*> handles_ ABSL_GUARDED_BY(mu_);
};

// The label naming the service on every series of Metrics. Not "service":
// the Prometheus Operator sets that one from the Kubernetes Service, and a
// target's own label of that name would be renamed exported_service.
inline constexpr std::string_view kServiceLabel = "rooted_service";

// The outcomes of a consumed event, each a value of rooted_events_consumed_total's
// "outcome": applied, a duplicate of one already applied, an attempt that
// failed and will be retried, or a replay meant for another consumer group.
inline constexpr std::array<absl::string_view, 4> kConsumedOutcomes = {"applied", "duplicate",
                                                                       "retried", "skipped"};
// Why the pipelined Redis connection failed the commands waiting on it.
inline constexpr std::array<absl::string_view, 4> kRedisPipelineFailureReasons = {
    "lost", "timeout", "unparsable", "connect"};

// The metrics every service exports, on one registry built in main. Names are
// the contract with deploy/ (dashboards and alerts); change them together.
// Labels never carry personal data: methods, codes, topics, school URNs.
// Thread safety: every method may be called concurrently.
class Metrics {
 public:
  Metrics(std::shared_ptr<prometheus::Registry> registry, const std::string& service);

  const std::shared_ptr<prometheus::Registry>& registry() const { return registry_; }
  // The label every family of the service carries ({rooted_service: name}),
  // for a service's own families, so dashboards and alerts select them the
  // same way as the shared ones.
  const std::map<std::string, std::string>& service_labels() const { return service_labels_; }

  // A counter that first appears at 1 is invisible to increase() and rate(),
  // so an alert on the first dead letter would never fire. These start every
  // series the topic will have at 0: consumed (each outcome) and
  // dead-lettered for a topic consumed, produced and produce failures for
  // one produced.
  void DeclareConsumedTopic(absl::string_view topic);
  void DeclareProducedTopic(absl::string_view topic);

  // rooted_rpc_requests_total{method,code}, rooted_rpc_duration_seconds{method}
  void RecordRpc(absl::string_view method, absl::string_view code, double seconds);
  // rooted_events_produced_total{topic} / rooted_events_produce_failures_total{topic}
  void RecordProduced(absl::string_view topic, double count = 1);
  void RecordProduceFailure(absl::string_view topic);
  // rooted_events_consumed_total{topic,outcome}: outcome is one of kConsumedOutcomes.
  void RecordConsumed(absl::string_view topic, absl::string_view outcome, double count = 1);
  // rooted_events_dead_lettered_total{topic}
  void RecordDeadLettered(absl::string_view topic);
  // rooted_outbox_depth
  void SetOutboxDepth(double depth);
  // rooted_consumer_lag{consumer_group,topic,partition}: one series per
  // group, since one service may read a topic in two groups.
  void SetConsumerLag(absl::string_view group, absl::string_view topic, int32_t partition,
                      double lag);
  // rooted_redis_pipeline_waiting: commands on the pipelined Redis connection
  // without a reply yet.
  void SetRedisPipelineWaiting(double commands);
  // rooted_redis_pipeline_failures_total{reason}: the pipelined connection
  // dropped (lost, timeout, unparsable) or not made (connect); each failed
  // the commands then waiting with UNAVAILABLE. Every reason in
  // kRedisPipelineFailureReasons starts at 0.
  void RecordRedisPipelineFailure(absl::string_view reason);

  static const prometheus::Histogram::BucketBoundaries& LatencyBuckets();

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::map<std::string, std::string> service_labels_;
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
  MetricHandles<prometheus::Counter> rpc_requests_by_;
  MetricHandles<prometheus::Histogram> rpc_duration_by_;
  MetricHandles<prometheus::Counter> events_produced_by_;
  MetricHandles<prometheus::Counter> produce_failures_by_;
  MetricHandles<prometheus::Counter> events_consumed_by_;
  MetricHandles<prometheus::Counter> events_dead_lettered_by_;
  MetricHandles<prometheus::Gauge> consumer_lag_by_;
  MetricHandles<prometheus::Counter> redis_pipeline_failures_by_;
};

}  // namespace rooted

#endif  // ROOTED_COMMON_BASE_METRICS_H_
