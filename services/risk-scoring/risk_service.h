#ifndef ROOTED_SERVICES_RISK_SCORING_RISK_SERVICE_H_
#define ROOTED_SERVICES_RISK_SCORING_RISK_SERVICE_H_

#include <prometheus/counter.h>

#include <string>

#include "common/base/clock.h"
#include "common/identity/pupil_ref.h"
#include "common/kafka/event_producer.h"
#include "common/server/guarded_service.h"
#include "rooted/risk/v1/risk.grpc.pb.h"
#include "services/risk-scoring/outcomes.h"
#include "services/risk-scoring/risk_store.h"
#include "services/risk-scoring/signal_scorer.h"

namespace rooted::risk {

struct RiskServiceOptions {
  // The council this deployment serves (pupil references use its secret).
  std::string la_code;
  // Signals a StreamSignals message may carry, and rejections a reply lists.
  int max_signals_per_message = 10'000;
  int max_listed_rejections = 1'000;
  absl::Duration delivery_timeout = absl::Seconds(10);
};

// The early identification tool's API: signals in, explained risk out.
// Every handler runs through RpcGuard (authentication, metrics, no escaping
// exceptions); scopes: a school sees its own pupils, the council all of its.
class RiskServiceImpl final {
 public:
  // Binds every RPC of RiskScoringService to its handler here.
  void Bind(GuardedService& service);

  RiskServiceImpl(RiskStore& store, ModelHolder& models, InterventionRecorder& interventions,
                  EventProducer& producer, const PupilRefHasher& hasher, const Clock& clock,
                  Metrics& metrics, RiskServiceOptions options);

  absl::Status StreamSignals(const Principal& who, RequestStream<v1::StreamSignalsRequest>& stream,
                             v1::StreamSignalsResponse* response);
  absl::Status GetRiskProfile(const Principal& who, const v1::GetRiskProfileRequest* request,
                              v1::GetRiskProfileResponse* response);
  absl::Status ListAtRisk(const Principal& who, const v1::ListAtRiskRequest* request,
                          v1::ListAtRiskResponse* response);
  absl::Status GetModelConfig(const Principal& who, const v1::GetModelConfigRequest* request,
                              v1::GetModelConfigResponse* response);
  absl::Status UpdateModelConfig(const Principal& who, const v1::UpdateModelConfigRequest* request,
                                 v1::UpdateModelConfigResponse* response);
  // A backtest of the current or a candidate model on this council's own
  // register this academic year (see GetModelEvaluationRequest).
  absl::Status GetModelEvaluation(const Principal& who,
                                  const v1::GetModelEvaluationRequest* request,
                                  v1::GetModelEvaluationResponse* response);
  absl::Status GetOutcomeReport(const Principal& who, const v1::GetOutcomeReportRequest* request,
                                v1::GetOutcomeReportResponse* response);
  absl::Status SetEstablishments(const Principal& who, const v1::SetEstablishmentsRequest* request,
                                 v1::SetEstablishmentsResponse* response);
  absl::Status GetMovementReport(const Principal& who, const v1::GetMovementReportRequest* request,
                                 v1::GetMovementReportResponse* response);

 private:
  // Validates, pseudonymises and publishes one message's signals.
  // One message of the stream, number `message_number` (from 1), whose first
  // signal is the stream's `first_index`th.
  absl::Status TakeSignals(const Principal& who, const v1::StreamSignalsRequest& request,
                           int64_t message_number, int64_t first_index,
                           v1::StreamSignalsResponse& response);
  // A council principal of the council this deployment serves.
  bool IsOwnCouncil(const Principal& who) const;

  RiskStore& store_;
  ModelHolder& models_;
  InterventionRecorder& interventions_;
  EventProducer& producer_;
  const PupilRefHasher& hasher_;
  const Clock& clock_;
  prometheus::Family<prometheus::Counter>& signals_;
  prometheus::Counter& signals_accepted_;
  prometheus::Counter& signals_rejected_;
  const RiskServiceOptions options_;
};

}  // namespace rooted::risk

#endif  // ROOTED_SERVICES_RISK_SCORING_RISK_SERVICE_H_
