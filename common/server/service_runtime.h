#ifndef ROOTED_COMMON_SERVER_SERVICE_RUNTIME_H_
#define ROOTED_COMMON_SERVER_SERVICE_RUNTIME_H_

#include <grpcpp/grpcpp.h>
#include <prometheus/exposer.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "common/base/config.h"
#include "common/base/log.h"
#include "common/base/metrics.h"

namespace rooted {

// Blocks SIGTERM and SIGINT in the calling thread and every thread it starts
// later. Call first thing in main, so WaitForShutdownSignal can take them.
void BlockShutdownSignals();
// Waits for SIGTERM or SIGINT; returns the signal's name.
std::string WaitForShutdownSignal();

// The main() every service shares: blocks the shutdown signals (before any
// thread starts), parses flags and environment, runs `run`, and turns a
// failure into exit code 2 with the message on stderr.
int ServiceMain(int argc, char** argv, absl::string_view service,
                const std::function<absl::Status(const Config&)>& run);

// TLS for the gRPC port, from PEM text. With a client CA, clients must
// present a certificate it signed (mutual TLS). Tokens are still checked by
// RpcGuard on every call, TLS or not.
struct TlsSettings {
  std::string certificate_chain;
  std::string private_key;
  std::string client_ca;  // empty: clients are not asked for a certificate
  bool enabled() const { return !certificate_chain.empty(); }
};

struct GrpcServerOptions {
  std::string listen_address;  // host:port; port 0 picks a free one
  // Names reported through grpc.health.v1 beside "" (the whole server).
  std::vector<std::string> service_names;
  int max_message_bytes = 4 * 1024 * 1024;
  // Handlers block on Redis, so each call in progress holds a thread. By
  // default gRPC's sync server lets a thread that finishes a call exit when
  // two others are already waiting for work, and starts a new one when a call
  // arrives and none is free: under load, threads (and their stacks) made and
  // unmade all the time. Up to this many idle threads are kept instead.
  int max_idle_handler_threads = 128;
  TlsSettings tls = {};  // not enabled: plaintext (local runs, or a mesh's mTLS)
};

// The gRPC health service name that reports SERVING while the process runs
// (Kubernetes' liveness probe); "" and the API names report readiness.
inline constexpr std::string_view kLivenessHealthService = "liveness";

// A gRPC server with health checking and reflection. Health is NOT_SERVING
// until every readiness check passes, and is re-checked every second, so a
// lost Redis or Kafka takes the pod out of load balancing.
class GrpcServer {
 public:
  using ReadinessCheck = std::function<absl::Status()>;

  static absl::StatusOr<std::unique_ptr<GrpcServer>> Start(
      GrpcServerOptions options, const std::vector<grpc::Service*>& services,
      std::vector<ReadinessCheck> readiness, Logger& logger);
  ~GrpcServer();

  int port() const { return port_; }
  bool ready() const { return ready_.load(); }

  // Health goes NOT_SERVING, new calls are refused, in-flight calls get up to
  // `drain` to finish.
  void Shutdown(absl::Duration drain);

 private:
  GrpcServer(GrpcServerOptions options, std::vector<ReadinessCheck> readiness, Logger& logger);
  void SetServing(bool serving);
  void WatchReadiness();

  GrpcServerOptions options_;
  std::vector<ReadinessCheck> readiness_;
  Logger& logger_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::atomic<bool> ready_{false};
  std::atomic<bool> stopping_{false};
  // Wakes the readiness watcher at once on shutdown, so it can wait out
  // its interval in one sleep.
  absl::Notification stop_watching_;
  std::thread watcher_;
};

// The Prometheus endpoint on its own port ("0.0.0.0:9464"; port 0 picks one).
absl::StatusOr<std::unique_ptr<prometheus::Exposer>> StartMetricsEndpoint(
    const std::string& address, const Metrics& metrics);

// Writes the ports a process bound ("grpc=<port>", "metrics=<port>") to
// `path` for whoever started it on port 0: whole or not at all.
absl::Status WritePortFile(const std::string& path, int grpc_port, int metrics_port);

}  // namespace rooted

#endif  // ROOTED_COMMON_SERVER_SERVICE_RUNTIME_H_
