#include "services/risk-scoring/risk_service.h"

#include <map>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "common/base/base64.h"
#include "common/base/ids.h"
#include "common/base/proto_date.h"
#include "common/base/field_validation.h"
#include "common/base/proto_time.h"
#include "common/base/status_macros.h"
#include "common/identity/upn.h"
#include "common/kafka/event_metadata.h"
#include "common/kafka/topics.h"
#include "common/server/paging.h"
#include "rooted/risk/v1/risk_events.pb.h"
#include "services/risk-scoring/backtest.h"
#include "services/risk-scoring/movements.h"
#include "services/risk-scoring/signal_intake.h"

namespace rooted::risk {
namespace {

namespace cv1 = rooted::common::v1;

constexpr char kProducer[] = "risk-scoring";
constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 500;

// "o:<offset>", base64url: opaque to clients, checked on the way back.
absl::CivilDay Today(const Clock& clock) {
  return absl::ToCivilDay(clock.Now(), absl::LocalTimeZone());
}

}  // namespace

RiskServiceImpl::RiskServiceImpl(RiskStore& store, ModelHolder& models,
                                 InterventionRecorder& interventions, EventProducer& producer,
                                 const PupilRefHasher& hasher, const Clock& clock, Metrics& metrics,
                                 RiskServiceOptions options)
    : store_(store),
      models_(models),
      interventions_(interventions),
      producer_(producer),
      hasher_(hasher),
      clock_(clock),
      signals_(prometheus::BuildCounter()
                   .Name("rooted_signals_total")
                   .Help("Signals received by StreamSignals, by outcome (accepted, rejected)")
                   .Labels(metrics.service_labels())
                   .Register(*metrics.registry())),
      signals_accepted_(signals_.Add({{"outcome", "accepted"}})),
      signals_rejected_(signals_.Add({{"outcome", "rejected"}})),
      options_(std::move(options)) {}

bool RiskServiceImpl::IsOwnCouncil(const Principal& who) const {
  return ActsForCouncil(who) && who.organisation_id == options_.la_code;
}

absl::Status RiskServiceImpl::TakeSignals(const Principal& who,
                                          const v1::StreamSignalsRequest& request,
                                          int64_t message_number, int64_t first_index,
                                          v1::StreamSignalsResponse& response) {
  if (request.signals_size() > options_.max_signals_per_message) {
    return absl::InvalidArgumentError(
        absl::StrCat("message ", message_number, ": signals: at most ",
                     options_.max_signals_per_message, " signals in one message"));
  }
  const absl::CivilDay today = Today(clock_);
  const absl::Time now = clock_.Now();
  std::vector<OutgoingMessage> messages;
  messages.reserve(size_t(request.signals_size()));
  for (int i = 0; i < request.signals_size(); ++i) {
    const v1::Signal& signal = request.signals(i);
    absl::StatusOr<PseudonymisedSignal> prepared =
        PrepareSignal(signal, absl::StrCat("signals[", first_index + i, "]"), who, options_.la_code,
                      hasher_, today);
    if (!prepared.ok()) {
      response.set_rejected(response.rejected() + 1);
      signals_rejected_.Increment();
      if (response.rejections_size() < options_.max_listed_rejections) {
        v1::SignalRejection* rejection = response.add_rejections();
        rejection->set_signal_id(signal.signal_id().substr(0, 128));
        rejection->set_message_number(message_number);
        rejection->set_index_in_message(i);
        const std::string message(prepared.status().message());
        const size_t colon = message.find(": ");
        rejection->set_field(colon == std::string::npos ? "" : message.substr(0, colon));
        rejection->set_reason(colon == std::string::npos ? message : message.substr(colon + 2));
      }
      continue;
    }
    v1::SignalEvent event;
    FillEventMetadata(event.mutable_metadata(), kProducer, prepared->school_urn,
                      /*causation_id=*/"", "rooted.risk.v1.SignalEvent", who, now);
    event.mutable_pupil_ref()->set_value(prepared->pupil_ref);
    *event.mutable_signal() = std::move(prepared->signal);
    messages.push_back(
        ToOutgoingMessage(topics::kSignals, prepared->pupil_ref, event.metadata(), event));
  }
  if (messages.empty()) return absl::OkStatus();
  const std::vector<absl::Status> delivered =
      producer_.Deliver(messages, options_.delivery_timeout);
  for (const absl::Status& status : delivered) {
    if (!status.ok()) {
      // Nothing is half-done that a replay cannot finish: signals land on
      // their natural keys, so the school's system resends the batch.
      return absl::UnavailableError(
          absl::StrCat("signals could not be published; resend this batch: ", status.message()));
    }
  }
  response.set_accepted(response.accepted() + int64_t(messages.size()));
  signals_accepted_.Increment(double(messages.size()));
  return absl::OkStatus();
}

absl::Status RiskServiceImpl::StreamSignals(const Principal& who,
                                            RequestStream<v1::StreamSignalsRequest>& stream,
                                            v1::StreamSignalsResponse* response) {
  v1::StreamSignalsRequest request;
  int64_t index = 0;
  // A message that does not decode ends the stream, naming its number; those
  // before it are in already. A bad signal is answered and the rest go on.
  for (;;) {
    ASSIGN_OR_RETURN(const bool more, stream.Next(request));
    if (!more) return absl::OkStatus();
    RETURN_IF_ERROR(TakeSignals(who, request, stream.count(), index, *response));
    index += request.signals_size();
  }
}

absl::Status RiskServiceImpl::GetRiskProfile(const Principal& who,
                                             const v1::GetRiskProfileRequest* request,
                                             v1::GetRiskProfileResponse* response) {
  if (!ActsForSchool(who) && !IsOwnCouncil(who)) {
    return absl::PermissionDeniedError(
        "GetRiskProfile: only school staff and this council's officers see risk profiles");
  }
  std::string ref;
  switch (request->pupil_case()) {
    case v1::GetRiskProfileRequest::kUpn: {
      absl::StatusOr<Upn> upn = ParseUpn(request->upn());
      if (!upn.ok())
        return absl::InvalidArgumentError(absl::StrCat("upn: ", upn.status().message()));
      ref = hasher_.RefFor(*upn);
      break;
    }
    case v1::GetRiskProfileRequest::kPupilRef:
      if (!PupilRefHasher::LooksLikeRef(request->pupil_ref().value())) {
        return absl::InvalidArgumentError("pupil_ref.value: not a pupil reference");
      }
      ref = request->pupil_ref().value();
      break;
    case v1::GetRiskProfileRequest::PUPIL_NOT_SET:
      return absl::InvalidArgumentError("pupil: give upn or pupil_ref");
  }
  absl::StatusOr<std::vector<std::optional<PupilState>>> states = store_.LoadPupils({ref});
  if (!states.ok()) return states.status();
  const std::optional<PupilState>& state = states->front();
  // The same answer for "no such pupil" and "not your pupil": a school
  // learns nothing about children it does not teach.
  if (!state || (ActsForSchool(who) && !who.IsSchool(state->school_urn()))) {
    return absl::NotFoundError("pupil: no risk profile for this pupil in your scope");
  }
  const std::shared_ptr<const RiskModel> model = models_.Current();
  *response->mutable_profile() = ToProfile(ref, *state, model->Assess(*state), model->version());
  *response->mutable_profile()->mutable_scored_at() = ToProtoTimestamp(clock_.Now());
  return absl::OkStatus();
}

absl::Status RiskServiceImpl::ListAtRisk(const Principal& who, const v1::ListAtRiskRequest* request,
                                         v1::ListAtRiskResponse* response) {
  RankingQuery query;
  query.school_urn = request->school_urn();
  if (ActsForSchool(who)) {
    if (query.school_urn.empty()) query.school_urn = who.organisation_id;
    if (!who.IsSchool(query.school_urn)) {
      return absl::PermissionDeniedError("school_urn: you may list only your own school");
    }
  } else if (!IsOwnCouncil(who)) {
    return absl::PermissionDeniedError(
        "ListAtRisk: only school staff and this council's officers list pupils at risk");
  }
  if (!query.school_urn.empty() && !IsSchoolUrn(query.school_urn)) {
    return absl::InvalidArgumentError("school_urn: a 6-digit school URN");
  }
  if (!cv1::RiskBand_IsValid(request->minimum_band())) {
    return absl::InvalidArgumentError("minimum_band: not a risk band");
  }
  ASSIGN_OR_RETURN(const Page requested,
                   ParsePage(request->page(), kDefaultPageSize, kMaxPageSize));
  query.offset = int64_t(requested.offset);
  query.limit = requested.size;
  const std::shared_ptr<const RiskModel> model = models_.Current();
  const cv1::RiskBand band = request->minimum_band() == cv1::RISK_BAND_UNSPECIFIED
                                 ? cv1::RISK_BAND_MEDIUM
                                 : request->minimum_band();
  // Only pupils scoring above zero are ranked at all.
  query.min_score = std::max(1, model->BandFloor(band));
  query.include_cliff_edge = request->include_cliff_edge();

  ASSIGN_OR_RETURN(RankingPage page, store_.ListRanking(query));
  ASSIGN_OR_RETURN(auto states, store_.LoadPupils(page.pupil_refs));
  for (size_t i = 0; i < page.pupil_refs.size(); ++i) {
    if (!states[i]) continue;  // removed between the two reads
    *response->add_profiles() =
        ToProfile(page.pupil_refs[i], *states[i], model->Assess(*states[i]), model->version());
  }
  response->mutable_page()->set_next_page_token(
      NextPageToken(size_t(query.offset) + page.pupil_refs.size(), page.more));
  return absl::OkStatus();
}

absl::Status RiskServiceImpl::GetModelConfig(const Principal& who,
                                             const v1::GetModelConfigRequest* request,
                                             v1::GetModelConfigResponse* response) {
  // The model is open to everyone it scores for: schools can see why.
  if (!ActsForSchool(who) && !IsOwnCouncil(who)) {
    return absl::PermissionDeniedError("GetModelConfig: school or council staff only");
  }
  if (!request->la_code().empty() && request->la_code() != options_.la_code) {
    return absl::NotFoundError("la_code: this deployment serves another council");
  }
  *response->mutable_config() = models_.Current()->config();
  return absl::OkStatus();
}

absl::Status RiskServiceImpl::UpdateModelConfig(const Principal& who,
                                                const v1::UpdateModelConfigRequest* request,
                                                v1::UpdateModelConfigResponse* response) {
  if (!who.HasRole(cv1::ROLE_COUNCIL_OFFICER) || !IsOwnCouncil(who)) {
    return absl::PermissionDeniedError(
        "UpdateModelConfig: only this council's officers change the model");
  }
  if (!IsValidRequestId(request->request_id())) {
    return absl::InvalidArgumentError("request_id: 8-64 letters, digits, '-' or '_'");
  }
  if (!request->la_code().empty() && request->la_code() != options_.la_code) {
    return absl::NotFoundError("la_code: this deployment serves another council");
  }
  RETURN_IF_ERROR(ValidateModelConfig(request->config(), "config"));
  // A version names one configuration for good: profiles record it.
  const std::shared_ptr<const RiskModel> current = models_.Current();
  if (current->version() == request->config().version()) {
    if (current->config().SerializeAsString() != request->config().SerializeAsString()) {
      return absl::AlreadyExistsError(
          "config.version: already names a different configuration; choose a new version");
    }
    *response->mutable_config() = current->config();
    return absl::OkStatus();
  }
  RETURN_IF_ERROR(models_.Adopt(request->config()));
  *response->mutable_config() = request->config();
  return absl::OkStatus();
}

absl::Status RiskServiceImpl::GetModelEvaluation(const Principal& who,
                                                 const v1::GetModelEvaluationRequest* request,
                                                 v1::GetModelEvaluationResponse* response) {
  if (!IsOwnCouncil(who)) {
    return absl::PermissionDeniedError("GetModelEvaluation: this council's officers only");
  }
  if (!request->la_code().empty() && request->la_code() != options_.la_code) {
    return absl::NotFoundError("la_code: this deployment serves another council");
  }
  const int list_size = request->list_size() == 0 ? 200 : request->list_size();
  if (list_size < 1 || list_size > 10'000) {
    return absl::InvalidArgumentError("list_size: 1 to 10,000");
  }
  const int weeks = request->outcome_weeks() == 0 ? 12 : request->outcome_weeks();
  if (weeks < 1 || weeks > 26) return absl::InvalidArgumentError("outcome_weeks: 1 to 26");
  absl::StatusOr<absl::CivilDay> cut = FromProtoDate(request->cut_off());
  if (!cut.ok()) return absl::InvalidArgumentError("cut_off: is not a calendar date");
  const absl::CivilDay window_end = *cut + weeks * 7;
  if (window_end > absl::ToCivilDay(clock_.Now(), absl::LocalTimeZone())) {
    return absl::InvalidArgumentError(
        "cut_off: the outcome window must have passed (cut_off plus outcome_weeks is after today)");
  }
  std::shared_ptr<const RiskModel> model = models_.Current();
  if (request->has_model()) {
    RETURN_IF_ERROR(ValidateModelConfig(request->model(), "model"));
    ASSIGN_OR_RETURN(RiskModel candidate, RiskModel::Create(request->model()));
    model = std::make_shared<const RiskModel>(std::move(candidate));
  }
  // Ordered by reference, so ties at the list cut break the same way every run.
  std::map<std::string, BacktestCase> cases;
  std::string cursor = "0";
  do {
    ASSIGN_OR_RETURN(auto page, store_.ScanPupils(cursor, 1000));
    for (const StoredPupil& pupil : page) {
      // Only pupils on a register in the cut-off's academic year.
      if (pupil.state.academic_year() != AcademicYearOf(*cut)) continue;
      cases[pupil.pupil_ref] = {model->Assess(StateBefore(pupil.state, *cut)).score,
                                SuspendedOrExcludedBetween(pupil.state, *cut, window_end)};
    }
  } while (cursor != "0");
  std::vector<BacktestCase> ordered;
  ordered.reserve(cases.size());
  for (const auto& [ref, c] : cases) ordered.push_back(c);
  const BacktestResult result = Evaluate(ordered, list_size);
  auto bp = [](double share) { return int32_t(share * 10'000 + 0.5); };
  response->set_list_size(result.list_size);
  response->set_precision_bp(bp(result.precision_at_k));
  response->set_recall_bp(bp(result.recall_at_k));
  response->set_auc_bp(bp(result.auc));
  response->set_model_version(model->version());
  response->set_pupils(result.pupils);
  response->set_pupils_with_outcome(result.positives);
  return absl::OkStatus();
}

absl::Status RiskServiceImpl::GetOutcomeReport(const Principal& who,
                                               const v1::GetOutcomeReportRequest* request,
                                               v1::GetOutcomeReportResponse* response) {
  if (!IsOwnCouncil(who)) {
    return absl::PermissionDeniedError("GetOutcomeReport: this council's officers only");
  }
  if (!request->la_code().empty() && request->la_code() != options_.la_code) {
    return absl::NotFoundError("la_code: this deployment serves another council");
  }
  std::vector<PupilInterventions> pupils;
  std::string cursor = "0";
  do {
    ASSIGN_OR_RETURN(std::vector<PupilInterventions> page, interventions_.LoadPage(cursor, 500));
    for (PupilInterventions& pupil : page) pupils.push_back(std::move(pupil));
  } while (cursor != "0");
  *response = BuildOutcomeReport(pupils);
  ASSIGN_OR_RETURN(std::vector<v1::ClosureCount> closures, interventions_.LoadClosures());
  for (v1::ClosureCount& c : closures) *response->add_closures() = std::move(c);
  return absl::OkStatus();
}

absl::Status RiskServiceImpl::SetEstablishments(const Principal& who,
                                                const v1::SetEstablishmentsRequest* request,
                                                v1::SetEstablishmentsResponse* response) {
  if (!who.HasRole(cv1::ROLE_COUNCIL_OFFICER) || !IsOwnCouncil(who)) {
    return absl::PermissionDeniedError("SetEstablishments: this council's officers only");
  }
  RETURN_IF_ERROR(ValidateRequestId(request->request_id()));
  if (request->establishments().empty() || request->establishments_size() > 5000) {
    return absl::InvalidArgumentError("establishments: give 1 to 5000");
  }
  for (int i = 0; i < request->establishments_size(); ++i) {
    const v1::Establishment& e = request->establishments(i);
    const std::string field = absl::StrCat("establishments[", i, "]");
    if (!IsSchoolUrn(e.urn())) return absl::InvalidArgumentError(field + ".urn: a 6-digit URN");
    if (e.kind() == v1::ESTABLISHMENT_KIND_UNSPECIFIED ||
        !v1::EstablishmentKind_IsValid(e.kind())) {
      return absl::InvalidArgumentError(field +
                                        ".kind: mainstream, alternative provision, PRU or special");
    }
    RETURN_IF_ERROR(ValidateText(field + ".name", e.name(), 200, /*required=*/false));
  }
  // Replacing an establishment's kind is idempotent: a retry writes the same.
  RETURN_IF_ERROR(store_.SaveEstablishments(
      {request->establishments().begin(), request->establishments().end()}));
  response->set_stored(request->establishments_size());
  return absl::OkStatus();
}

absl::Status RiskServiceImpl::GetMovementReport(const Principal& who,
                                                const v1::GetMovementReportRequest* request,
                                                v1::GetMovementReportResponse* response) {
  MovementReportScope scope{request->school_urn(), request->include_pupils()};
  if (ActsForSchool(who)) {
    if (scope.school_urn.empty()) scope.school_urn = who.organisation_id;
    if (!who.IsSchool(scope.school_urn)) {
      return absl::PermissionDeniedError(
          "school_urn: schools see their own movements; the council sees all");
    }
    if (scope.include_pupils && !who.HasRole(cv1::ROLE_SCHOOL_LEAD)) {
      return absl::PermissionDeniedError("include_pupils: the pupils are for the school's lead");
    }
  } else if (!IsOwnCouncil(who) ||
             !who.HasAnyRole({cv1::ROLE_COUNCIL_OFFICER, cv1::ROLE_FORUM_COORDINATOR})) {
    return absl::PermissionDeniedError(
        "GetMovementReport: school staff and this council's officers only");
  }
  if (!scope.school_urn.empty() && !IsSchoolUrn(scope.school_urn)) {
    return absl::InvalidArgumentError("school_urn: a 6-digit school URN");
  }
  absl::StatusOr<absl::CivilDay> from = FromProtoDate(request->from());
  if (!from.ok()) return absl::InvalidArgumentError("from: a date (the period's first day)");
  absl::StatusOr<absl::CivilDay> to = FromProtoDate(request->to());
  if (!to.ok()) return absl::InvalidArgumentError("to: a date (the period's last day)");
  if (*to < *from) return absl::InvalidArgumentError("to: before from");
  if (*to - *from > 366) return absl::InvalidArgumentError("to: the period is longer than a year");
  ASSIGN_OR_RETURN(std::vector<v1::PupilMovement> movements, store_.LoadMovements(*from, *to));
  ASSIGN_OR_RETURN(auto kinds, store_.LoadEstablishmentKinds());
  *response = BuildMovementReport(movements, kinds, scope);
  return absl::OkStatus();
}

void RiskServiceImpl::Bind(GuardedService& service) {
  service.Handle("StreamSignals", *this, &RiskServiceImpl::StreamSignals);
  service.Handle("GetRiskProfile", *this, &RiskServiceImpl::GetRiskProfile);
  service.Handle("ListAtRisk", *this, &RiskServiceImpl::ListAtRisk);
  service.Handle("GetModelConfig", *this, &RiskServiceImpl::GetModelConfig);
  service.Handle("UpdateModelConfig", *this, &RiskServiceImpl::UpdateModelConfig);
  service.Handle("GetModelEvaluation", *this, &RiskServiceImpl::GetModelEvaluation);
  service.Handle("GetOutcomeReport", *this, &RiskServiceImpl::GetOutcomeReport);
  service.Handle("SetEstablishments", *this, &RiskServiceImpl::SetEstablishments);
  service.Handle("GetMovementReport", *this, &RiskServiceImpl::GetMovementReport);
}

}  // namespace rooted::risk
