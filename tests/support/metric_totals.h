#ifndef ROOTED_TESTS_SUPPORT_METRIC_TOTALS_H_
#define ROOTED_TESTS_SUPPORT_METRIC_TOTALS_H_

#include <prometheus/registry.h>

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

}  // namespace rooted::testing

#endif  // ROOTED_TESTS_SUPPORT_METRIC_TOTALS_H_
