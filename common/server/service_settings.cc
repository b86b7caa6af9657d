#include "common/server/service_settings.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"

namespace rooted {
namespace {

absl::StatusOr<std::string> ReadPem(const std::string& path, absl::string_view flag) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  if (!in || text.str().find("-----BEGIN ") == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, ": cannot read a PEM file at the path given"));
  }
  return text.str();
}

absl::Status LoadTls(const Config& config, TlsSettings* tls) {
  const std::string cert = config.String("tls-cert-file", "");
  const std::string key = config.String("tls-key-file", "");
  const std::string client_ca = config.String("tls-client-ca-file", "");
  if (cert.empty() != key.empty()) {
    return absl::InvalidArgumentError("--tls-cert-file and --tls-key-file go together");
  }
  if (cert.empty()) {
    if (!client_ca.empty()) {
      return absl::InvalidArgumentError("--tls-client-ca-file needs --tls-cert-file and --tls-key-file");
    }
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(tls->certificate_chain, ReadPem(cert, "tls-cert-file"));
  ASSIGN_OR_RETURN(tls->private_key, ReadPem(key, "tls-key-file"));
  if (!client_ca.empty()) {
    ASSIGN_OR_RETURN(tls->client_ca, ReadPem(client_ca, "tls-client-ca-file"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ServiceSettings> LoadServiceSettings(const Config& config, int default_grpc_port,
                                                    int default_metrics_port,
                                                    int default_max_message_bytes) {
  ServiceSettings s;
  s.grpc_address = config.String("grpc-address", absl::StrCat("0.0.0.0:", default_grpc_port));
  s.metrics_address =
      config.String("metrics-address", absl::StrCat("0.0.0.0:", default_metrics_port));
  ASSIGN_OR_RETURN(s.log_level, Logger::ParseLevel(config.String("log-level", "info")));
  s.redis.host = config.String("redis-host", "127.0.0.1");
  ASSIGN_OR_RETURN(int64_t redis_port, config.Int("redis-port", 6379, 1, 65535));
  s.redis.port = static_cast<int>(redis_port);
  s.redis.user = config.String("redis-user", "");
  if (absl::StatusOr<std::string> password = config.Secret("redis-password", 1); password.ok()) {
    s.redis.password = *password;
  }
  ASSIGN_OR_RETURN(int64_t db, config.Int("redis-db", 0, 0, 15));
  s.redis.database = static_cast<int>(db);
  ASSIGN_OR_RETURN(int64_t pool, config.Int("redis-pool-size", 64, 1, 1024));
  s.redis.pool_size = static_cast<int>(pool);
  ASSIGN_OR_RETURN(s.redis.command_timeout, config.Duration("redis-timeout", absl::Seconds(2)));
  ASSIGN_OR_RETURN(s.kafka_bootstrap, config.RequiredString("kafka-bootstrap"));
  ASSIGN_OR_RETURN(s.kafka_session_timeout, config.Duration("kafka-session-timeout", absl::Seconds(10)));
  if (s.kafka_session_timeout < absl::Seconds(6) || s.kafka_session_timeout > absl::Minutes(5)) {
    return absl::InvalidArgumentError(
        "--kafka-session-timeout (ROOTED_KAFKA_SESSION_TIMEOUT): between 6s and 5m (the broker's group limits)");
  }
  ASSIGN_OR_RETURN(s.token.algorithm, ParseJwtAlgorithm(config.String("token-algorithm", "HS256")));
  if (s.token.algorithm == JwtAlgorithm::kHs256) {
    ASSIGN_OR_RETURN(s.token.key, config.Secret("token-secret", 32));
  } else {
    ASSIGN_OR_RETURN(s.token.key, config.Secret("token-public-key", 1));
  }
  s.token.issuer = config.String("token-issuer", "rooted-local");
  s.token.audience = config.String("token-audience", "rooted");
  ASSIGN_OR_RETURN(int64_t max_message, config.Int("grpc-max-message-bytes",
                                                  default_max_message_bytes, 4096, 256 << 20));
  s.grpc_max_message_bytes = int(max_message);
  if (!absl::LoadTimeZone(config.String("time-zone", "Europe/London"), &s.time_zone)) {
    return absl::InvalidArgumentError(
        "--time-zone (ROOTED_TIME_ZONE): unknown time zone; is tzdata installed?");
  }
  RETURN_IF_ERROR(LoadTls(config, &s.tls));
  ASSIGN_OR_RETURN(s.shutdown_drain, config.Duration("shutdown-drain", absl::Seconds(10)));
  ASSIGN_OR_RETURN(s.consumer_stop, config.Duration("consumer-stop", absl::Seconds(3)));
  ASSIGN_OR_RETURN(s.outbox_drain, config.Duration("outbox-drain", absl::Seconds(5)));
  ASSIGN_OR_RETURN(s.kafka_flush, config.Duration("kafka-flush", absl::Seconds(3)));
  s.simulated_clock_file = config.String("simulated-clock-file", "");
  s.port_file = config.String("port-file", "");
  if (const std::string schools = config.String("schools-file", ""); !schools.empty()) {
    absl::StatusOr<SchoolRegister> reg = SchoolRegister::Load(schools);
    if (!reg.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--schools-file (ROOTED_SCHOOLS_FILE): ", reg.status().message()));
    }
    s.schools = std::make_shared<const SchoolRegister>(*std::move(reg));
  }
  return s;
}

}  // namespace rooted
