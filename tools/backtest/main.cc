// rooted-backtest: how well would the model have found the pupils who went on
// to be suspended or excluded? Folds every signal before the cut-off day into
// pupil states (the service's own code), scores them, and checks the top of
// the list against what happened in the weeks after.
//
//   rooted-backtest [--signals=FILE | --pupils=20000 --schools=40 --seed=1]
//                   [--cut=2026-01-05] [--weeks=12] [--list-size=200]
//                   [--model=FILE]   a ModelConfig in protobuf text format
//
// A council runs it on its own history (--signals: length-delimited
// rooted.risk.v1.Signal, as rooted-cohort --out writes) to tune the model.

#include <fcntl.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>
#include <google/protobuf/text_format.h>
#include <google/protobuf/util/delimited_message_util.h>

#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "absl/strings/str_format.h"
#include "common/base/config.h"
#include "services/risk-scoring/backtest.h"
#include "services/risk-scoring/risk_model.h"
#include "tools/cohort/cohort.h"

namespace {

namespace v1 = rooted::risk::v1;
using rooted::risk::PupilState;

int Fail(absl::string_view message) {
  std::cerr << "rooted-backtest: " << message << "\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  absl::StatusOr<rooted::Config> config = rooted::Config::Parse(argc, argv);
  if (!config.ok()) return Fail(config.status().message());
  const std::string signals_file = config->String("signals", "");
  rooted::cohort::CohortOptions cohort_options;
  cohort_options.pupils = int(*config->Int("pupils", 20000, 1, 10'000'000));
  cohort_options.schools = int(*config->Int("schools", 40, 1, 5000));
  cohort_options.seed = uint64_t(*config->Int("seed", 1, 0, INT64_MAX));
  absl::CivilDay cut;
  if (!absl::ParseCivilTime(config->String("cut", "2026-01-05"), &cut)) {
    return Fail("--cut: a date such as 2026-01-05");
  }
  const int64_t weeks = *config->Int("weeks", 12, 1, 52);
  const int list_size = int(*config->Int("list-size", 200, 1, 1'000'000));
  const std::string model_file = config->String("model", "");
  if (absl::Status used = config->CheckAllFlagsUsed(); !used.ok()) return Fail(used.message());

  v1::ModelConfig model_config = rooted::risk::DefaultModelConfig();
  if (!model_file.empty()) {
    std::ifstream in(model_file);
    std::stringstream text;
    text << in.rdbuf();
    if (!in || !google::protobuf::TextFormat::ParseFromString(text.str(), &model_config)) {
      return Fail("--model: not a ModelConfig in protobuf text format");
    }
  }
  absl::StatusOr<rooted::risk::RiskModel> model = rooted::risk::RiskModel::Create(model_config);
  if (!model.ok()) return Fail(model.status().message());

  struct Pupil {
    PupilState state;
    bool outcome = false;
  };
  // Ordered by UPN, so ties at the list cut break the same way every run.
  std::map<std::string, Pupil> pupils;
  const absl::CivilDay window_end = cut + weeks * 7;
  int64_t folded = 0, rejected = 0;
  auto take = [&](const v1::Signal& signal) {
    const std::optional<absl::CivilDay> day = rooted::cohort::SignalDay(signal);
    Pupil& pupil = pupils[rooted::cohort::SignalUpn(signal)];
    if (!day || *day < cut) {
      if (rooted::risk::ApplySignal(pupil.state, signal).ok()) {
        ++folded;
      } else {
        ++rejected;
      }
    } else if (*day < window_end && (signal.has_suspension() || signal.has_exclusion())) {
      pupil.outcome = true;
    }
    return !day || *day < window_end;
  };
  if (!signals_file.empty()) {
    const int fd = open(signals_file.c_str(), O_RDONLY);
    if (fd < 0) return Fail("--signals: cannot open " + signals_file);
    google::protobuf::io::FileInputStream stream(fd);
    v1::Signal signal;
    bool clean_eof = false;
    while (google::protobuf::util::ParseDelimitedFromZeroCopyStream(&signal, &stream, &clean_eof)) {
      take(signal);
    }
    if (!clean_eof) return Fail("--signals: not a stream of length-delimited Signals");
  } else {
    rooted::cohort::Cohort(cohort_options).Generate([&](v1::Signal&& s) { return take(s); });
  }

  std::vector<rooted::risk::BacktestCase> cases;
  std::map<int, int> bands;
  int persistent = 0, severe = 0, cliff_edge = 0;
  for (const auto& [upn, pupil] : pupils) {
    const rooted::risk::Assessment a = model->Assess(pupil.state);
    cases.push_back({a.score, pupil.outcome});
    ++bands[a.band];
    const std::optional<int> bp = a.attendance.year.AttendanceBp();
    persistent += bp && *bp < 9000 ? 1 : 0;
    severe += bp && *bp < 5000 ? 1 : 0;
    cliff_edge += a.cliff_edge ? 1 : 0;
  }
  const rooted::risk::BacktestResult r = rooted::risk::Evaluate(cases, list_size);
  const double n = double(std::max<size_t>(1, pupils.size()));
  std::cout << absl::StrFormat(
      "model %s, cut-off %s, outcomes (suspension or exclusion) in the %d weeks after\n"
      "pupils %d, signals folded %d (%d unusable), with an outcome %d (%.1f%%)\n"
      "persistently absent %.1f%%, severely absent %.1f%%, cliff-edge %d\n"
      "bands: low %d, medium %d, high %d, very high %d\n"
      "top %d: precision %.3f, recall %.3f (base rate %.3f); AUC %.3f\n",
      model->version(), absl::FormatCivilTime(cut), weeks, r.pupils, folded, rejected, r.positives,
      100.0 * r.positives / n, 100.0 * persistent / n, 100.0 * severe / n, cliff_edge,
      bands[rooted::common::v1::RISK_BAND_LOW], bands[rooted::common::v1::RISK_BAND_MEDIUM],
      bands[rooted::common::v1::RISK_BAND_HIGH], bands[rooted::common::v1::RISK_BAND_VERY_HIGH],
      r.list_size, r.precision_at_k, r.recall_at_k, r.positives / n, r.auc);
  return 0;
}
