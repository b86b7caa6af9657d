#include "common/server/service_runtime.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "common/base/mutex_mode.h"
#include "common/base/thread_name.h"

namespace rooted {

void BlockShutdownSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

std::string WaitForShutdownSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int signal_number = 0;
  sigwait(&set, &signal_number);
  return signal_number == SIGINT ? "SIGINT" : "SIGTERM";
}

int ServiceMain(int argc, char** argv, absl::string_view service,
                const std::function<absl::Status(const Config&)>& run) {
  BlockShutdownSignals();
  UseMutexesWithoutDeadlockGraph();
  absl::StatusOr<Config> config = Config::Parse(argc, argv);
  const absl::Status status = config.ok() ? run(*config) : config.status();
  if (!status.ok()) {
    std::cerr << service << ": " << status.message() << "\n";
    return 2;
  }
  return 0;
}

absl::StatusOr<std::unique_ptr<GrpcServer>> GrpcServer::Start(
    GrpcServerOptions options, const std::vector<grpc::Service*>& services,
    std::vector<ReadinessCheck> readiness, Logger& logger) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  std::unique_ptr<GrpcServer> server(new GrpcServer(options, std::move(readiness), logger));
  grpc::ServerBuilder builder;
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
  if (options.tls.enabled()) {
    grpc::SslServerCredentialsOptions ssl(
        options.tls.client_ca.empty()
            ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
            : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    ssl.pem_root_certs = options.tls.client_ca;
    ssl.pem_key_cert_pairs.push_back({options.tls.private_key, options.tls.certificate_chain});
    credentials = grpc::SslServerCredentials(ssl);
  }
  builder.AddListeningPort(options.listen_address, credentials, &server->port_);
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, 1);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS,
                              std::max(2, options.max_idle_handler_threads));
  for (grpc::Service* service : services) builder.RegisterService(service);
  server->server_ = builder.BuildAndStart();
  if (!server->server_ || server->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen for gRPC on ", options.listen_address));
  }
  server->SetServing(false);
  // Liveness says only that the process answers; readiness ("" and each
  // service) also that its Redis and Kafka do. Kubernetes restarts on the
  // first and stops routing on the second, so an outage of a dependency
  // does not restart every pod.
  if (grpc::HealthCheckServiceInterface* health = server->server_->GetHealthCheckService()) {
    health->SetServingStatus(std::string(kLivenessHealthService), true);
  }
  server->watcher_ = std::thread([s = server.get()] {
    NameThisThread("readiness");
    s->WatchReadiness();
  });
  return server;
}

GrpcServer::GrpcServer(GrpcServerOptions options, std::vector<ReadinessCheck> readiness,
                       Logger& logger)
    : options_(std::move(options)), readiness_(std::move(readiness)), logger_(logger) {}

GrpcServer::~GrpcServer() { Shutdown(absl::ZeroDuration()); }

void GrpcServer::SetServing(bool serving) {
  grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService();
  if (health == nullptr) return;
  health->SetServingStatus("", serving);
  for (const std::string& name : options_.service_names) health->SetServingStatus(name, serving);
}

void GrpcServer::WatchReadiness() {
  while (!stopping_.load()) {
    bool ok = true;
    std::string why;
    for (const ReadinessCheck& check : readiness_) {
      if (absl::Status s = check(); !s.ok()) {
        ok = false;
        why = std::string(s.message());
        break;
      }
    }
    if (stopping_.load()) break;
    if (ok != ready_.load()) {
      ready_.store(ok);
      SetServing(ok);
      if (ok) {
        logger_.Info("ready");
      } else {
        logger_.Warn("not ready", {{"reason", why}});
      }
    }
    if (stop_watching_.WaitForNotificationWithTimeout(absl::Seconds(1))) break;
  }
}

void GrpcServer::Shutdown(absl::Duration drain) {
  if (stopping_.exchange(true)) return;
  stop_watching_.Notify();
  if (watcher_.joinable()) watcher_.join();
  ready_.store(false);
  if (server_) {
    SetServing(false);
    server_->Shutdown(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(drain));
    server_->Wait();
  }
}

absl::StatusOr<std::unique_ptr<prometheus::Exposer>> StartMetricsEndpoint(
    const std::string& address, const Metrics& metrics) {
  try {
    auto exposer = std::make_unique<prometheus::Exposer>(address);
    exposer->RegisterCollectable(metrics.registry());
    return exposer;
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on ", address, ": ", e.what()));
  }
}

// Written to a temporary file and renamed, so a reader sees all of it or none.
absl::Status WritePortFile(const std::string& path, int grpc_port, int metrics_port) {
  const std::string partial = path + ".partial";
  {
    std::ofstream out(partial, std::ios::trunc);
    out << "grpc=" << grpc_port << "\nmetrics=" << metrics_port << "\n";
    if (!out.flush())
      return absl::UnavailableError(absl::StrCat("--port-file: cannot write ", partial));
  }
  if (std::rename(partial.c_str(), path.c_str()) != 0) {
    return absl::UnavailableError(absl::StrCat("--port-file: cannot write ", path));
  }
  return absl::OkStatus();
}

}  // namespace rooted
