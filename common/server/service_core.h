#ifndef ROOTED_COMMON_SERVER_SERVICE_CORE_H_
#define ROOTED_COMMON_SERVER_SERVICE_CORE_H_

#include <grpcpp/grpcpp.h>
#include <prometheus/exposer.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/auth/jwt.h"
#include "common/base/clock.h"
#include "common/base/log.h"
#include "common/base/metrics.h"
#include "common/kafka/event_consumer.h"
#include "common/kafka/kafka_producer.h"
#include "common/outbox/outbox.h"
#include "common/redis/pipelined_redis.h"
#include "common/redis/redis_client.h"
#include "common/server/checked_events.h"
#include "common/server/guarded_service.h"
#include "common/server/rpc_guard.h"
#include "common/server/service_settings.h"

namespace rooted {

// What every service runs on: clock, JSON logger, metrics endpoint, token
// verifier, its Redis, a Kafka producer, the outbox relay and the RPC guard,
// built from its settings in one place. The service builds its store and
// handlers on top, then calls Serve.
class ServiceCore {
 public:
  // `key_prefix` namespaces the service's Redis keys; its outbox is
  // "<prefix>:outbox", relayed to `topic` (the service's own).
  static absl::StatusOr<std::unique_ptr<ServiceCore>> Start(ServiceSettings settings,
                                                            std::string name,
                                                            std::string key_prefix,
                                                            absl::string_view topic);
  ~ServiceCore();

  const Clock& clock() const { return *clock_; }
  Logger& logger() { return *logger_; }
  Metrics& metrics() { return *metrics_; }
  RedisClient& redis() { return *redis_; }
  // The same Redis for calls that must not hold a thread while they wait.
  PipelinedRedis& redis_pipe() { return *redis_pipe_; }
  KafkaProducer& producer() { return *producer_; }
  const RpcGuard& guard() const { return *guard_; }
  // What a GuardedService of this service stands on: the guard, the clock,
  // the service's own audit trail ("<prefix>:audit"), `owners` for the
  // records its rules name, and the sharing agreement its entries cite.
  GuardedService::Options ServiceOptions(const RecordOwners* owners, std::string sharing_agreement);
  const ServiceSettings& settings() const { return settings_; }
  const std::string& name() const { return name_; }
  // Consumer options with this service's bootstrap and client id.
  EventConsumerOptions ConsumerOptions(std::string group, std::vector<std::string> topics) const;
  // A consumer for `handler` behind a CheckedEventHandler: an event that does
  // not parse, or holds a value no producer of ours sends, is dead-lettered
  // with the reason before the handler sees it. The core keeps the checker,
  // so the consumer must go before the core.
  absl::StatusOr<std::unique_ptr<EventConsumer>> Consumer(EventConsumerOptions options,
                                                          EventHandler& handler);

  // Serves gRPC (health, reflection and the service's audit trail for the
  // data protection officer included) with the relay and
  // consumers running until SIGTERM or SIGINT, then drains in order, each
  // stage within its setting: stop taking RPCs, stop consumers (committing
  // offsets), relay what is left, flush the producer. If a stage overruns,
  // the process exits at once (code 0) rather than wait past the grace period.
  // A service with a method lacking its handler or access rule does not start.
  absl::Status Serve(std::vector<GuardedService*> services,
                     const std::vector<EventConsumer*>& consumers);

 private:
  ServiceCore(ServiceSettings settings, std::string name, std::string key_prefix);
  // Runs one stage of shutdown for at most `limit`; false if it overran.
  bool RunBounded(absl::string_view stage, absl::Duration limit, std::function<void()> run);

  const ServiceSettings settings_;
  const std::string name_;
  const std::string key_prefix_;
  std::unique_ptr<Clock> clock_;
  std::unique_ptr<Logger> logger_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::unique_ptr<JwtVerifier> verifier_;
  std::unique_ptr<RedisClient> redis_;
  std::unique_ptr<PipelinedRedis> redis_pipe_;
  std::unique_ptr<KafkaProducer> producer_;
  std::unique_ptr<OutboxRelay> relay_;
  std::unique_ptr<RpcGuard> guard_;
  std::unique_ptr<RedisAuditTrail> audit_;
  std::vector<std::unique_ptr<CheckedEventHandler>> checked_handlers_;
};

}  // namespace rooted

#endif  // ROOTED_COMMON_SERVER_SERVICE_CORE_H_
