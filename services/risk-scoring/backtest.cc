#include "services/risk-scoring/backtest.h"

#include <algorithm>
#include <numeric>

namespace rooted::risk {

BacktestResult Evaluate(const std::vector<BacktestCase>& cases, int list_size) {
  BacktestResult result;
  result.pupils = int(cases.size());
  result.list_size = std::clamp(list_size, 0, result.pupils);
  for (const BacktestCase& c : cases) result.positives += c.outcome ? 1 : 0;

  std::vector<size_t> order(cases.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return cases[a].score > cases[b].score; });
  int hits = 0;
  for (int i = 0; i < result.list_size; ++i) hits += cases[order[size_t(i)]].outcome ? 1 : 0;
  if (result.list_size > 0) result.precision_at_k = double(hits) / result.list_size;
  if (result.positives > 0) result.recall_at_k = double(hits) / result.positives;

  // AUC by ranks: walk scores from lowest, counting negatives below each
  // positive; a tie between a positive and negatives counts half of them.
  const int negatives = result.pupils - result.positives;
  if (result.positives == 0 || negatives == 0) return result;
  double wins = 0;
  int negatives_below = 0;
  for (size_t i = order.size(); i > 0;) {
    // The group of equal scores ending at i-1 (order is descending).
    size_t j = i;
    int group_positives = 0, group_negatives = 0;
    while (j > 0 && cases[order[j - 1]].score == cases[order[i - 1]].score) {
      (cases[order[j - 1]].outcome ? group_positives : group_negatives) += 1;
      --j;
    }
    wins += group_positives * (negatives_below + 0.5 * group_negatives);
    negatives_below += group_negatives;
    i = j;
  }
  result.auc = wins / (double(result.positives) * negatives);
  return result;
}

}  // namespace rooted::risk
