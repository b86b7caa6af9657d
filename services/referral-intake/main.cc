// referral-intake: wiring only. Reads configuration, builds the store, the
// producer, the relay and the service, serves until SIGTERM, then drains.

#include <prometheus/registry.h>

#include <iostream>

#include "common/base/config.h"
#include "common/base/status_macros.h"
#include "common/identity/pupil_ref.h"
#include "common/kafka/kafka_producer.h"
#include "common/outbox/outbox.h"
#include "common/server/service_runtime.h"
#include "common/server/service_settings.h"
#include "services/referral-intake/referral_service.h"

namespace {

constexpr char kServiceName[] = "referral-intake";

absl::Status Run(const rooted::Config& config) {
  ASSIGN_OR_RETURN(rooted::ServiceSettings settings,
                   rooted::LoadServiceSettings(config, /*default_grpc_port=*/50051,
                                               /*default_metrics_port=*/9464));
  ASSIGN_OR_RETURN(std::string pupil_secret,
                   config.Secret("pupil-ref-secret", rooted::PupilRefHasher::kMinSecretBytes));
  rooted::referral::ReferralServiceOptions options;
  options.sharing_agreement = config.String("sharing-agreement", "local-pilot");
  const std::string key_prefix = config.String("redis-key-prefix", "ri");
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
  rooted::OutboxRelay relay(redis, *producer,
                            {.stream_key = key_prefix + ":outbox",
                             .lease_key = key_prefix + ":outbox:lease",
                             .producer_name = kServiceName},
                            metrics, logger);
  rooted::referral::RedisReferralStore store(redis, key_prefix);
  rooted::RpcGuard guard(*verifier, metrics, logger);
  rooted::referral::ReferralServiceImpl service(store, guard, hasher, clock, metrics, options);

  ASSIGN_OR_RETURN(auto server, rooted::GrpcServer::Start(
                                    {.listen_address = settings.grpc_address,
                                     .service_names = {"rooted.referral.v1.ReferralService"}},
                                    {&service},
                                    {[&] { return redis.Ping(); },
                                     [&] { return producer->CheckConnected(absl::Seconds(1)); }},
                                    logger));
  relay.Start();
  logger.Info("serving", {{"grpc_port", server->port()}, {"metrics", settings.metrics_address}});

  const std::string signal_name = rooted::WaitForShutdownSignal();
  logger.Info("shutting down", {{"signal", signal_name}});
  server->Shutdown(settings.shutdown_drain);
  relay.Stop(settings.shutdown_drain);
  (void)producer->Flush(absl::Seconds(5));
  logger.Info("stopped");
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) { return rooted::ServiceMain(argc, argv, kServiceName, Run); }
