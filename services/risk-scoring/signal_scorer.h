#ifndef ROOTED_SERVICES_RISK_SCORING_SIGNAL_SCORER_H_
#define ROOTED_SERVICES_RISK_SCORING_SIGNAL_SCORER_H_

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/auth/principal.h"
#include "common/base/clock.h"
#include "common/kafka/event_consumer.h"
#include "services/risk-scoring/risk_model.h"
#include "services/risk-scoring/risk_store.h"

namespace rooted::risk {

// The council's current model. Every replica re-reads it from the store at
// most every `refresh` so a change made through one reaches all.
class ModelHolder {
 public:
  ModelHolder(RiskStore& store, const Clock& clock, absl::Duration refresh = absl::Seconds(5));

  // The stored model, or the default if the council has not set one.
  absl::Status Load();
  std::shared_ptr<const RiskModel> Current();
  // Validates, stores (with its history) and adopts `config`.
  absl::Status Adopt(const v1::ModelConfig& config);

 private:
  RiskStore& store_;
  const Clock& clock_;
  const absl::Duration refresh_;
  std::mutex mu_;
  std::shared_ptr<const RiskModel> model_;
  absl::Time loaded_at_ = absl::InfinitePast();
};

// Consumes rooted.signals.v1: folds each batch of signals into the pupils'
// states, rescores the pupils that changed, keeps the rankings, and puts a
// RiskEvent in the outbox when a pupil's band changes or the cliff-edge flag
// is raised. State, rankings and events are written in one MULTI/EXEC.
//
// Effectively once without a processed-id per signal (which would blow the
// memory budget at 400 marks a pupil a year): every signal lands on its
// natural key (day and session, suspension start...), so a replay writes
// what is already there and reports kDuplicate.
//
// After a model change, GetRiskProfile answers with the new model at once,
// and RescoreAll brings the stored scores, bands and rankings to it (and
// announces the bands that moved) without waiting for each pupil's next signal.
class SignalScorer final : public EventHandler {
 public:
  SignalScorer(RiskStore& store, ModelHolder& models, const Clock& clock, std::string la_code);

  absl::StatusOr<ApplyResult> Apply(const ConsumedEvent& event) override;
  absl::StatusOr<std::vector<ApplyResult>> ApplyBatch(
      std::span<const ConsumedEvent> events) override;

  struct RescoreCounts {
    int64_t scanned = 0;
    int64_t rescored = 0;
    // Written by the scorer three times while we tried: it scores them itself.
    int64_t left_to_scorer = 0;
  };
  // Rescores every pupil scored by another model version than the current
  // one. Safe beside the consumer (and other replicas doing the same): each
  // write is a compare-and-set on the state as read, retried on a clash.
  absl::StatusOr<RescoreCounts> RescoreAll();

 private:
  // Scores `state` and, if its band or flag moved, appends the event.
  void Score(const std::string& pupil_ref, PupilState& state, const RiskModel& model,
             const std::string& causation_id, std::vector<OutboxEvent>& events) const;

  RiskStore& store_;
  ModelHolder& models_;
  const Clock& clock_;
  const Principal self_;
};

}  // namespace rooted::risk

#endif  // ROOTED_SERVICES_RISK_SCORING_SIGNAL_SCORER_H_
