#include "common/server/service_core.h"

#include <prometheus/registry.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <future>
#include <iostream>
#include <thread>

#include "common/base/simulated_clock.h"
#include "common/base/status_macros.h"
#include "common/server/audit_service.h"
#include "common/server/service_runtime.h"

namespace rooted {

ServiceCore::ServiceCore(ServiceSettings settings, std::string name, std::string key_prefix)
    : settings_(std::move(settings)), name_(std::move(name)), key_prefix_(std::move(key_prefix)) {}

ServiceCore::~ServiceCore() = default;

absl::StatusOr<std::unique_ptr<ServiceCore>> ServiceCore::Start(ServiceSettings settings,
                                                                std::string name,
                                                                std::string key_prefix,
                                                                absl::string_view topic) {
  std::unique_ptr<ServiceCore> core(
      new ServiceCore(std::move(settings), std::move(name), key_prefix));
  const ServiceSettings& s = core->settings_;
  if (s.simulated_clock_file.empty()) {
    core->clock_ = std::make_unique<SystemClock>();
  } else {
    ASSIGN_OR_RETURN(core->clock_, SimulatedClock::Open(s.simulated_clock_file, /*writable=*/false));
  }
  core->logger_ = std::make_unique<Logger>(core->name_, std::cerr, s.log_level, *core->clock_);
  if (!s.simulated_clock_file.empty()) {
    core->logger_->Warn("running on a simulated clock: for rehearsals only, never with real records",
                        {{"simulated_clock_file", s.simulated_clock_file}});
  }
  core->metrics_ = std::make_unique<Metrics>(std::make_shared<prometheus::Registry>(), core->name_);
  ASSIGN_OR_RETURN(core->exposer_, StartMetricsEndpoint(s.metrics_address, *core->metrics_));
  ASSIGN_OR_RETURN(core->verifier_, JwtVerifier::Create(s.token, *core->clock_));
  core->redis_ = std::make_unique<RedisClient>(s.redis);
  ASSIGN_OR_RETURN(core->redis_pipe_, PipelinedRedis::Start(s.redis, core->metrics_.get()));
  ASSIGN_OR_RETURN(core->producer_, KafkaProducer::Create({.bootstrap_servers = s.kafka_bootstrap,
                                                           .client_id = core->name_,
                                                           .overrides = {},
                                                           .logger = core->logger_.get()}));
  core->relay_ =
      std::make_unique<OutboxRelay>(*core->redis_, *core->producer_,
                                    OutboxRelayOptions{.stream_key = key_prefix + ":outbox",
                                                       .lease_key = key_prefix + ":outbox:lease",
                                                       .producer_name = core->name_,
                                                       .topics = {std::string(topic)}},
                                    *core->metrics_, *core->logger_);
  core->guard_ = std::make_unique<RpcGuard>(*core->verifier_, *core->metrics_, *core->logger_);
  core->audit_ = std::make_unique<RedisAuditTrail>(*core->redis_pipe_, key_prefix + ":audit");
  return core;
}

EventConsumerOptions ServiceCore::ConsumerOptions(std::string group,
                                                  std::vector<std::string> topics) const {
  EventConsumerOptions options;
  options.bootstrap_servers = settings_.kafka_bootstrap;
  options.group_id = std::move(group);
  options.topics = std::move(topics);
  options.client_id = name_;
  const int64_t session_ms = absl::ToInt64Milliseconds(settings_.kafka_session_timeout);
  options.overrides = {{"session.timeout.ms", std::to_string(session_ms)},
                       {"heartbeat.interval.ms", std::to_string(session_ms / 4)}};
  return options;
}

absl::StatusOr<std::unique_ptr<EventConsumer>> ServiceCore::Consumer(EventConsumerOptions options,
                                                                     EventHandler& handler) {
  checked_handlers_.push_back(std::make_unique<CheckedEventHandler>(handler));
  return EventConsumer::Create(std::move(options), *checked_handlers_.back(), *producer_, *metrics_,
                               *logger_);
}

GuardedService::Options ServiceCore::ServiceOptions(const RecordOwners* owners,
                                                    std::string sharing_agreement) {
  return {.guard = guard_.get(),
          .clock = clock_.get(),
          .audit = audit_.get(),
          .owners = owners,
          .sharing_agreement = std::move(sharing_agreement),
          .schools = settings_.schools.get()};
}

bool ServiceCore::RunBounded(absl::string_view stage, absl::Duration limit,
                             std::function<void()> run) {
  auto finished = std::make_shared<std::promise<void>>();
  std::future<void> done = finished->get_future();
  // Detached: if it overruns, the process leaves without waiting for it.
  std::thread([run = std::move(run), finished] {
    run();
    finished->set_value();
  }).detach();
  if (done.wait_for(absl::ToChronoMilliseconds(limit)) == std::future_status::ready) return true;
  logger_->Warn("shutdown stage overran its time; cutting it short",
                {{"stage", std::string(stage)}, {"limit_ms", absl::ToInt64Milliseconds(limit)}});
  return false;
}

absl::Status ServiceCore::Serve(std::vector<GuardedService*> guarded,
                                const std::vector<EventConsumer*>& consumers) {
  AuditServiceImpl audit_trail(*redis_, key_prefix_ + ":audit", name_);
  GuardedService audit_api("rooted.audit.v1.AuditService",
                           ServiceOptions(/*owners=*/nullptr, "data protection oversight"));
  audit_trail.Bind(audit_api);
  guarded.push_back(&audit_api);
  std::vector<grpc::Service*> services;
  std::vector<std::string> service_names;
  for (GuardedService* service : guarded) {
    RETURN_IF_ERROR(service->Complete());
    services.push_back(service);
    service_names.push_back(service->name());
  }
  ASSIGN_OR_RETURN(auto server,
                   GrpcServer::Start({.listen_address = settings_.grpc_address,
                                      .service_names = service_names,
                                      .max_message_bytes = settings_.grpc_max_message_bytes,
                                      .tls = settings_.tls},
                                     services,
                                     {[this] { return redis_->Ping(); },
                                      [this] { return producer_->CheckConnected(absl::Seconds(1)); }},
                                     *logger_));
  relay_->Start();
  for (EventConsumer* consumer : consumers) consumer->Start();
  const std::vector<int> metrics_ports = exposer_->GetListeningPorts();
  const int metrics_port = metrics_ports.empty() ? 0 : metrics_ports.front();
  if (!settings_.port_file.empty())
    RETURN_IF_ERROR(WritePortFile(settings_.port_file, server->port(), metrics_port));
  logger_->Info("serving", {{"grpc_port", server->port()}, {"metrics_port", metrics_port}});

  const std::string signal_name = WaitForShutdownSignal();
  logger_->Info("shutting down", {{"signal", signal_name}});
  // Each stage in its time, so the whole fits the pod's grace period even
  // with Kafka or Redis gone (a consumer leaving its group can otherwise
  // wait on an unreachable broker for a minute). What a stage cut short
  // leaves is safe: events wait in the outbox, uncommitted offsets are
  // redelivered and deduplicated.
  guard_->BeginDrain();
  bool whole = RunBounded("rpc drain", settings_.shutdown_drain + absl::Seconds(1),
                          [&] { server->Shutdown(settings_.shutdown_drain); });
  whole = whole && RunBounded("consumers", settings_.consumer_stop, [&] {
            for (EventConsumer* consumer : consumers) consumer->Stop();
          });
  whole = whole && RunBounded("outbox drain", settings_.outbox_drain,
                              [&] { relay_->Stop(settings_.outbox_drain); });
  whole = whole && RunBounded("kafka flush", settings_.kafka_flush,
                              [&] { (void)producer_->Flush(settings_.kafka_flush); });
  if (!whole) {
    // The overrunning stage still holds the parts it was stopping, so they
    // cannot be taken down under it: leave without them.
    logger_->Warn("stopped before every stage finished", {});
    std::_Exit(0);
  }
  logger_->Info("stopped");
  return absl::OkStatus();
}

}  // namespace rooted
