#include "services/risk-scoring/signal_scorer.h"

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/identity/pupil_ref.h"
#include "common/kafka/event_metadata.h"
#include "common/kafka/topics.h"
#include "rooted/risk/v1/risk_events.pb.h"
#include "services/risk-scoring/movements.h"

namespace rooted::risk {
namespace {

constexpr char kProducer[] = "risk-scoring";

}  // namespace

ModelHolder::ModelHolder(RiskStore& store, const Clock& clock, absl::Duration refresh)
    : store_(store), clock_(clock), refresh_(refresh) {}

absl::Status ModelHolder::Load() {
  absl::StatusOr<std::optional<v1::ModelConfig>> stored = store_.LoadModel();
  if (!stored.ok()) return stored.status();
  absl::StatusOr<RiskModel> model = RiskModel::Create(stored->value_or(DefaultModelConfig()));
  if (!model.ok()) return model.status();
  std::lock_guard lock(mu_);
  if (!model_ || model_->version() != model->version()) {
    model_ = std::make_shared<const RiskModel>(*std::move(model));
  }
  loaded_at_ = clock_.Now();
  return absl::OkStatus();
}

std::shared_ptr<const RiskModel> ModelHolder::Current() {
  bool stale = false;
  {
    std::lock_guard lock(mu_);
    stale = !model_ || clock_.Now() - loaded_at_ >= refresh_;
  }
  // A failed refresh keeps the model in hand: scoring goes on.
  if (stale) (void)Load();
  std::lock_guard lock(mu_);
  if (!model_) model_ = std::make_shared<const RiskModel>(*RiskModel::Create(DefaultModelConfig()));
  return model_;
}

absl::Status ModelHolder::Adopt(const v1::ModelConfig& config) {
  absl::StatusOr<RiskModel> model = RiskModel::Create(config);
  if (!model.ok()) return model.status();
  if (absl::Status saved = store_.SaveModel(config); !saved.ok()) return saved;
  std::lock_guard lock(mu_);
  model_ = std::make_shared<const RiskModel>(*std::move(model));
  loaded_at_ = clock_.Now();
  return absl::OkStatus();
}

SignalScorer::SignalScorer(RiskStore& store, ModelHolder& models, const Clock& clock,
                           std::string la_code)
    : store_(store),
      models_(models),
      clock_(clock),
      self_{kProducer,
            {common::v1::ROLE_SERVICE},
            common::v1::ORGANISATION_TYPE_COUNCIL,
            la_code,
            la_code} {}

absl::StatusOr<ApplyResult> SignalScorer::Apply(const ConsumedEvent& event) {
  absl::StatusOr<std::vector<ApplyResult>> results = ApplyBatch({&event, 1});
  if (!results.ok()) return results.status();
  return results->front();
}

void SignalScorer::Score(const std::string& pupil_ref, PupilState& state, const RiskModel& model,
                         const std::string& causation_id, std::vector<OutboxEvent>& events) const {
  const Assessment assessment = model.Assess(state);
  const common::v1::RiskBand previous_band = state.band();
  const bool was_cliff_edge = state.cliff_edge();
  state.set_score(assessment.score);
  state.set_band(assessment.band);
  state.set_cliff_edge(assessment.cliff_edge);
  state.set_model_version(model.version());

  // A pupil first seen at LOW is news to nobody.
  const bool first_seen_low = previous_band == common::v1::RISK_BAND_UNSPECIFIED &&
                              assessment.band == common::v1::RISK_BAND_LOW;
  if (assessment.band != previous_band && !first_seen_low) {
    v1::RiskEvent envelope;
    FillEventMetadata(envelope.mutable_metadata(), kProducer, pupil_ref, causation_id,
                      "rooted.risk.v1.RiskBandChanged", self_, clock_.Now());
    v1::RiskBandChanged* changed = envelope.mutable_risk_band_changed();
    changed->mutable_pupil_ref()->set_value(pupil_ref);
    changed->set_school_urn(state.school_urn());
    changed->set_previous_band(previous_band);
    changed->set_band(assessment.band);
    changed->set_score(assessment.score);
    changed->set_model_version(model.version());
    for (const v1::RiskReason& reason : assessment.reasons) {
      changed->add_indicators(reason.indicator());
    }
    events.push_back(ToOutboxEvent(topics::kRiskEvents, pupil_ref, envelope.metadata(), envelope));
  }
  if (assessment.cliff_edge && !was_cliff_edge) {
    v1::RiskEvent envelope;
    FillEventMetadata(envelope.mutable_metadata(), kProducer, pupil_ref, causation_id,
                      "rooted.risk.v1.CliffEdgeFlagged", self_, clock_.Now());
    v1::CliffEdgeFlagged* flagged = envelope.mutable_cliff_edge_flagged();
    flagged->mutable_pupil_ref()->set_value(pupil_ref);
    flagged->set_school_urn(state.school_urn());
    for (const std::string& name : assessment.near_indicators) flagged->add_near_indicators(name);
    flagged->set_model_version(model.version());
    events.push_back(ToOutboxEvent(topics::kRiskEvents, pupil_ref, envelope.metadata(), envelope));
  }
}

absl::StatusOr<std::vector<ApplyResult>> SignalScorer::ApplyBatch(
    std::span<const ConsumedEvent> events) {
  // Decode first: one unreadable event fails the batch before anything is
  // written, and the consumer isolates it.
  std::vector<v1::SignalEvent> signals(events.size());
  absl::flat_hash_map<std::string, size_t> slot_of;  // pupil ref -> index in refs
  std::vector<std::string> refs;
  for (size_t i = 0; i < events.size(); ++i) {
    if (!signals[i].ParseFromString(events[i].payload)) {
      return absl::InvalidArgumentError("payload is not a SignalEvent");
    }
    const std::string& ref = signals[i].pupil_ref().value();
    if (!PupilRefHasher::LooksLikeRef(ref)) {
      return absl::InvalidArgumentError("pupil_ref: not a pupil reference");
    }
    if (slot_of.emplace(ref, refs.size()).second) refs.push_back(ref);
  }
  absl::StatusOr<std::vector<std::optional<PupilState>>> loaded = store_.LoadPupils(refs);
  if (!loaded.ok()) return loaded.status();

  std::vector<PupilState> states(refs.size());
  std::vector<std::string> previous_school(refs.size());
  std::vector<bool> changed(refs.size(), false);
  std::vector<std::string> causation(refs.size());
  for (size_t slot = 0; slot < refs.size(); ++slot) {
    if ((*loaded)[slot]) {
      states[slot] = *std::move((*loaded)[slot]);
      previous_school[slot] = states[slot].school_urn();
    }
  }
  std::vector<ApplyResult> results;
  results.reserve(events.size());
  std::vector<v1::PupilMovement> movements;
  for (size_t i = 0; i < events.size(); ++i) {
    const size_t slot = slot_of.at(signals[i].pupil_ref().value());
    absl::StatusOr<bool> applied = ApplySignal(states[slot], signals[i].signal());
    if (!applied.ok()) return applied.status();
    results.push_back(*applied ? ApplyResult::kApplied : ApplyResult::kDuplicate);
    if (*applied) {
      changed[slot] = true;
      causation[slot] = signals[i].metadata().event_id();
      // Moves and exclusions also go to the movement report's log.
      if (std::optional<v1::PupilMovement> m = MovementOf(refs[slot], signals[i].signal())) {
        movements.push_back(*std::move(m));
      }
    }
  }

  const std::shared_ptr<const RiskModel> model = models_.Current();
  std::vector<PupilWrite> writes;
  std::vector<OutboxEvent> outbox;
  for (size_t slot = 0; slot < refs.size(); ++slot) {
    if (!changed[slot]) continue;
    Score(refs[slot], states[slot], *model, causation[slot], outbox);
    writes.push_back({refs[slot], std::move(states[slot]), std::move(previous_school[slot])});
  }
  if (absl::Status saved = store_.SavePupils(writes, outbox, movements); !saved.ok()) return saved;
  return results;
}

absl::StatusOr<SignalScorer::RescoreCounts> SignalScorer::RescoreAll() {
  const std::shared_ptr<const RiskModel> model = models_.Current();
  RescoreCounts counts;
  std::string cursor = "0";
  do {
    absl::StatusOr<std::vector<StoredPupil>> page = store_.ScanPupils(cursor, 500);
    if (!page.ok()) return page.status();
    for (StoredPupil& pupil : *page) {
      ++counts.scanned;
      for (int attempt = 0; pupil.state.model_version() != model->version(); ++attempt) {
        if (attempt == 3) {
          ++counts.left_to_scorer;
          break;
        }
        PupilState state = pupil.state;
        std::vector<OutboxEvent> events;
        Score(pupil.pupil_ref, state, *model, model->version(), events);
        absl::StatusOr<bool> replaced = store_.ReplacePupil(
            {pupil.pupil_ref, state, pupil.state.school_urn()}, pupil.bytes, events);
        if (!replaced.ok()) return replaced.status();
        if (*replaced) {
          ++counts.rescored;
          break;
        }
        // The scorer wrote first: read it again (it may now be current).
        absl::StatusOr<std::optional<StoredPupil>> again = store_.LoadStoredPupil(pupil.pupil_ref);
        if (!again.ok()) return again.status();
        if (!*again) break;
        pupil = **std::move(again);
      }
    }
  } while (cursor != "0");
  return counts;
}

}  // namespace rooted::risk
