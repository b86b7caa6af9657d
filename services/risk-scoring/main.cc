// risk-scoring: wiring only. Serves the early identification API, consumes
// the signals topic into pupil states and rankings, and relays risk events.

#include <prometheus/registry.h>

#include <atomic>
#include <iostream>
#include <thread>

#include "common/base/config.h"
#include "common/base/status_macros.h"
#include "common/identity/pupil_ref.h"
#include "common/kafka/event_consumer.h"
#include "common/kafka/kafka_producer.h"
#include "common/kafka/topics.h"
#include "common/outbox/outbox.h"
#include "common/server/service_runtime.h"
#include "common/server/service_settings.h"
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
  RETURN_IF_ERROR(config.CheckAllFlagsUsed());

  rooted::SystemClock clock;
  rooted::Logger logger(kServiceName, std::cerr, settings.log_level, clock);
  rooted::Metrics metrics(std::make_shared<prometheus::Registry>(), kServiceName);
  ASSIGN_OR_RETURN(auto exposer, rooted::StartMetricsEndpoint(settings.metrics_address, metrics));
  ASSIGN_OR_RETURN(rooted::PupilRefHasher hasher, rooted::PupilRefHasher::Create(pupil_secret));
  ASSIGN_OR_RETURN(auto verifier, rooted::JwtVerifier::Create(settings.token, clock));

  rooted::RedisClient redis(settings.redis);
  ASSIGN_OR_RETURN(auto producer,
                   rooted::KafkaProducer::Create({settings.kafka_bootstrap, kServiceName, {}}));
  rooted::risk::RiskStore store(redis, key_prefix);
  rooted::risk::ModelHolder models(store, clock);
  if (absl::Status loaded = models.Load(); !loaded.ok()) {
    logger.Warn("model not loaded yet; the default model applies until Redis answers",
                {{"error", std::string(loaded.message())}});
  }
  rooted::OutboxRelay relay(redis, *producer,
                            {.stream_key = store.outbox_key(),
                             .lease_key = key_prefix + ":outbox:lease",
                             .producer_name = kServiceName},
                            metrics, logger);
  rooted::risk::SignalScorer scorer(store, models, clock, options.la_code);
  rooted::EventConsumerOptions consumer_options;
  consumer_options.bootstrap_servers = settings.kafka_bootstrap;
  consumer_options.group_id = group;
  consumer_options.topics = {std::string(rooted::topics::kSignals)};
  consumer_options.client_id = kServiceName;
  consumer_options.max_batch = size_t(consumer_batch);
  ASSIGN_OR_RETURN(auto consumer, rooted::EventConsumer::Create(consumer_options, scorer, *producer,
                                                                metrics, logger));
  // Interventions from the other domains, for the outcome report: low volume,
  // one event at a time, in a consumer group of their own.
  rooted::risk::InterventionRecorder interventions(redis, store, key_prefix);
  rooted::EventConsumerOptions intervention_options = consumer_options;
  intervention_options.group_id = group + "-outcomes";
  intervention_options.topics = {
      std::string(rooted::topics::kReferralEvents), std::string(rooted::topics::kForumEvents),
      std::string(rooted::topics::kDirectoryEvents), std::string(rooted::topics::kFundEvents)};
  intervention_options.max_batch = 1;
  ASSIGN_OR_RETURN(auto intervention_consumer,
                   rooted::EventConsumer::Create(intervention_options, interventions, *producer,
                                                 metrics, logger));

  rooted::RpcGuard guard(*verifier, metrics, logger);
  rooted::risk::RiskServiceImpl service(store, models, interventions, *producer, guard, hasher,
                                        clock, metrics, options);
  ASSIGN_OR_RETURN(auto server, rooted::GrpcServer::Start(
                                    {.listen_address = settings.grpc_address,
                                     .service_names = {"rooted.risk.v1.RiskScoringService"}},
                                    {&service},
                                    {[&] { return redis.Ping(); },
                                     [&] { return producer->CheckConnected(absl::Seconds(1)); }},
                                    logger));
  relay.Start();
  consumer->Start();
  intervention_consumer->Start();
  // Brings stored scores and rankings to the current model after a change
  // (made here or on another replica), and once at start.
  std::atomic<bool> rescoring{true};
  std::thread rescorer([&] {
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
  logger.Info("serving", {{"grpc_port", server->port()}, {"metrics", settings.metrics_address}});

  const std::string signal_name = rooted::WaitForShutdownSignal();
  logger.Info("shutting down", {{"signal", signal_name}});
  server->Shutdown(settings.shutdown_drain);
  rescoring = false;
  rescorer.join();
  consumer->Stop();
  intervention_consumer->Stop();
  relay.Stop(settings.shutdown_drain);
  (void)producer->Flush(absl::Seconds(5));
  logger.Info("stopped");
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) { return rooted::ServiceMain(argc, argv, kServiceName, Run); }
