#ifndef ROOTED_SERVICES_RISK_SCORING_BACKTEST_H_
#define ROOTED_SERVICES_RISK_SCORING_BACKTEST_H_

#include <vector>

namespace rooted::risk {

// One pupil in a backtest: the score the model gave on the cut-off day and
// whether the outcome (a suspension or exclusion) followed within the window.
struct BacktestCase {
  int score = 0;
  bool outcome = false;
};

struct BacktestResult {
  int pupils = 0;
  int positives = 0;
  int list_size = 0;
  // Of the top list_size pupils by score, the share with the outcome, and the
  // share of all outcomes they hold. Ties at the cut are broken by input
  // order, as a list handed to a school would be.
  double precision_at_k = 0;
  double recall_at_k = 0;
  // Area under the ROC curve (Mann-Whitney; tied scores count half).
  double auc = 0;
};

// How well scores ranked the pupils who went on to be suspended or excluded.
BacktestResult Evaluate(const std::vector<BacktestCase>& cases, int list_size);

}  // namespace rooted::risk

#endif  // ROOTED_SERVICES_RISK_SCORING_BACKTEST_H_
