// risk-scoring: wiring only. Serves the early identification API, consumes
// the signals topic into pupil states and rankings, and relays risk events.

#include <atomic>
#include <thread>

#include "common/base/config.h"
#include "common/base/status_macros.h"
#include "common/base/thread_name.h"
#include "common/identity/pupil_ref.h"
#include "common/kafka/event_consumer.h"
#include "common/kafka/topics.h"
#include "common/server/service_core.h"
#include "common/server/service_runtime.h"
#include "services/risk-scoring/evidence.h"
#include "services/risk-scoring/risk_service.h"

namespace {

constexpr char kServiceName[] = "risk-scoring";

absl::Status Run(const rooted::Config& config) {
  ASSIGN_OR_RETURN(rooted::ServiceSettings settings,
                   rooted::LoadServiceSettings(config, /*default_grpc_port=*/50052,
                                               /*default_metrics_port=*/9465));
  ASSIGN_OR_RETURN(std::string pupil_secret,
                   config.Secret("pupil-ref-secret", rooted::PupilRefHasher::kMinSecretBytes));
  rooted::risk::RiskServiceOptions options;
  options.la_code = config.String("la-code", "");
  if (!rooted::IsLaCode(options.la_code)) {
    return absl::InvalidArgumentError("--la-code (ROOTED_LA_CODE): the council's 3-digit LA code");
  }
  const std::string key_prefix = config.String("redis-key-prefix", "rs");
  ASSIGN_OR_RETURN(int64_t consumer_batch, config.Int("consumer-batch", 2000, 1, 100'000));
  const std::string group = config.String("consumer-group", kServiceName);
  const std::string sharing_agreement = config.String("sharing-agreement", "local-pilot");
  RETURN_IF_ERROR(config.CheckAllFlagsUsed());
  ASSIGN_OR_RETURN(rooted::PupilRefHasher hasher, rooted::PupilRefHasher::Create(pupil_secret));

  ASSIGN_OR_RETURN(auto core, rooted::ServiceCore::Start(settings, kServiceName, key_prefix,
                                                         rooted::topics::kRiskEvents));
  rooted::Logger& logger = core->logger();
  rooted::risk::RiskStore store(core->redis(), key_prefix);
  rooted::risk::ModelHolder models(store, core->clock());
  if (absl::Status loaded = models.Load(); !loaded.ok()) {
    logger.Warn("model not loaded yet; the default model applies until Redis answers",
                {{"error", std::string(loaded.message())}});
  }
  rooted::risk::SignalScorer scorer(store, models, core->clock(), options.la_code);
  rooted::EventConsumerOptions consumer_options =
      core->ConsumerOptions(group, {std::string(rooted::topics::kSignals)});
  consumer_options.max_batch = size_t(consumer_batch);
  ASSIGN_OR_RETURN(auto consumer, core->Consumer(consumer_options, scorer));
  // Interventions from the other domains, for the outcome report: low volume,
  // one event at a time, in a consumer group of their own.
  rooted::risk::InterventionRecorder interventions(core->redis(), store, key_prefix);
  ASSIGN_OR_RETURN(
      auto intervention_consumer,
      core->Consumer(
          core->ConsumerOptions(group + "-outcomes", {std::string(rooted::topics::kReferralEvents),
                                                      std::string(rooted::topics::kForumEvents),
                                                      std::string(rooted::topics::kDirectoryEvents),
                                                      std::string(rooted::topics::kFundEvents)}),
          interventions));
  // Referrals into a programme get the pupil's attendance evidence back.
  rooted::risk::EvidenceResponder evidence(core->redis(), store, core->clock(), key_prefix, options.la_code);
  ASSIGN_OR_RETURN(
      auto evidence_consumer,
      core->Consumer(core->ConsumerOptions(group + "-evidence",
                                           {std::string(rooted::topics::kReferralEvents)}),
                     evidence));
  rooted::risk::RiskServiceImpl service(store, models, interventions, core->producer(), hasher,
                                        core->clock(), core->metrics(), options);

  // Brings stored scores and rankings to the current model after a change
  // (made here or on another replica), and once at start.
  std::atomic<bool> rescoring{true};
  std::thread rescorer([&] {
    rooted::NameThisThread("rescorer");
    std::string rescored_version;
    while (rescoring.load()) {
      const std::string version = models.Current()->version();
      if (version != rescored_version) {
        absl::StatusOr<rooted::risk::SignalScorer::RescoreCounts> counts = scorer.RescoreAll();
        if (counts.ok()) {
          rescored_version = version;
          logger.Info("rescored to the current model",
                      {{"model_version", version},
                       {"pupils", counts->scanned},
                       {"rescored", counts->rescored},
                       {"left_to_scorer", counts->left_to_scorer}});
        } else {
          logger.Warn("rescoring failed; retrying",
                      {{"error", std::string(counts.status().message())}});
        }
      }
      for (int i = 0; i < 50 && rescoring.load(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
  });
  rooted::GuardedService api("rooted.risk.v1.RiskScoringService",
                             core->ServiceOptions(/*owners=*/nullptr, sharing_agreement));
  service.Bind(api);
  absl::Status served =
      core->Serve({&api}, {consumer.get(), intervention_consumer.get(), evidence_consumer.get()});
  rescoring = false;
  rescorer.join();
  return served;
}

}  // namespace

int main(int argc, char** argv) { return rooted::ServiceMain(argc, argv, kServiceName, Run); }
