#ifndef ROOTED_COMMON_SERVER_SERVICE_SETTINGS_H_
#define ROOTED_COMMON_SERVER_SERVICE_SETTINGS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/auth/jwt.h"
#include "common/auth/school_register.h"
#include "common/base/config.h"
#include "common/base/log.h"
#include "common/redis/redis_client.h"
#include "common/server/service_runtime.h"

namespace rooted {

// The settings every service reads, checked at start-up so a bad value stops
// the process with a message naming it (see Config for the spelling rules):
//   grpc-address, metrics-address, log-level, redis-host, redis-port,
//   redis-user, redis-password[-file], redis-db, kafka-bootstrap,
//   token-algorithm, token-secret[-file] (HS256),
//   token-public-key-file (RS256), token-issuer, token-audience,
//   grpc-max-message-bytes, time-zone, shutdown-drain,
//   tls-cert-file, tls-key-file, tls-client-ca-file (mutual TLS when set),
//   kafka-session-timeout, simulated-clock-file (rehearsals only: see SimulatedClock),
//   schools-file.
struct ServiceSettings {
  std::string grpc_address;
  std::string metrics_address;
  LogLevel log_level = LogLevel::kInfo;
  RedisOptions redis;
  std::string kafka_bootstrap;
  JwtVerifierSettings token;
  // Shutdown, stage by stage, each bounded: in-flight calls (shutdown_drain),
  // consumers committing and leaving their groups, the outbox relayed, the
  // producer flushed. Their sum and the preStop pause fit the pod's grace
  // period (tests/deploy/check_deploy.py checks it).
  absl::Duration shutdown_drain;
  absl::Duration consumer_stop;
  absl::Duration outbox_drain;
  absl::Duration kafka_flush;
  // Where the council is: school days, terms and meeting times are local to it.
  absl::TimeZone time_zone;
  TlsSettings tls;
  // The largest request accepted (a directory import is the big one).
  int grpc_max_message_bytes = 4 << 20;
  // How long a consumer that died unannounced keeps its partitions before
  // the group hands them to the others (or to its own restart).
  absl::Duration kafka_session_timeout = absl::Seconds(10);
  // Empty in production: the wall clock. Set, the time a rehearsal plays.
  std::string simulated_clock_file;
  // When set, the gRPC and metrics ports actually bound are written here
  // ("grpc=50051\nmetrics=9464\n", whole or not at all) once serving: how
  // a test or a supervisor that asked for port 0 learns them.
  std::string port_file;
  // Which council each school is in (schools-file: a GIAS extract, or any
  // CSV with URN and LA (code) columns). Null when none is given: council
  // officers then act for no school a request names.
  std::shared_ptr<const SchoolRegister> schools;
};

absl::StatusOr<ServiceSettings> LoadServiceSettings(const Config& config, int default_grpc_port,
                                                    int default_metrics_port,
                                                    int default_max_message_bytes = 4 << 20);

}  // namespace rooted

#endif  // ROOTED_COMMON_SERVER_SERVICE_SETTINGS_H_
