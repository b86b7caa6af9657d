#ifndef ROOTED_TESTS_SUPPORT_METRIC_TOTALS_H_
#define ROOTED_TESTS_SUPPORT_METRIC_TOTALS_H_

#include <prometheus/registry.h>

#include <map>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace rooted::testing {

// The sum of counter `family` over its series labelled `label` = `value`.
inline double CounterTotal(const prometheus::Registry& registry, absl::string_view family,
                           absl::string_view label, absl::string_view value) {
  double total = 0;
  for (const prometheus::MetricFamily& collected : registry.Collect()) {
    if (collected.name != family) continue;
    for (const prometheus::ClientMetric& metric : collected.metric) {
      for (const prometheus::ClientMetric::Label& pair : metric.label) {
        if (pair.name == label && pair.value == value) total += metric.counter.value;
      }
    }
  }
  return total;
}

// Whether a series carries every label in `labels`.
inline bool CarriesLabels(const prometheus::ClientMetric& metric,
                          const std::map<std::string, std::string>& labels) {
  size_t matched = 0;
  for (const prometheus::ClientMetric::Label& pair : metric.label) {
    auto wanted = labels.find(pair.name);
    if (wanted != labels.end() && wanted->second == pair.value) ++matched;
  }
  return matched == labels.size();
}

inline double ValueOf(const prometheus::MetricFamily& family,
                      const prometheus::ClientMetric& metric) {
  return family.type == prometheus::MetricType::Gauge ? metric.gauge.value : metric.counter.value;
}

// The value of the one series of counter or gauge `family` carrying every
// label in `labels`; nullopt when no such series is exported.
inline std::optional<double> SeriesValue(const prometheus::Registry& registry,
                                         absl::string_view family,
                                         const std::map<std::string, std::string>& labels) {
  for (const prometheus::MetricFamily& collected : registry.Collect()) {
    if (collected.name != family) continue;
    for (const prometheus::ClientMetric& metric : collected.metric) {
      if (CarriesLabels(metric, labels)) return ValueOf(collected, metric);
    }
  }
  return std::nullopt;
}

// The sum of counter or gauge `family` over every series carrying every
// label in `labels` (say, a topic's lag over all its partitions).
inline double SeriesSum(const prometheus::Registry& registry, absl::string_view family,
                        const std::map<std::string, std::string>& labels) {
  double total = 0;
  for (const prometheus::MetricFamily& collected : registry.Collect()) {
    if (collected.name != family) continue;
    for (const prometheus::ClientMetric& metric : collected.metric) {
      if (CarriesLabels(metric, labels)) total += ValueOf(collected, metric);
    }
  }
  return total;
}

}  // namespace rooted::testing

#endif  // ROOTED_TESTS_SUPPORT_METRIC_TOTALS_H_
