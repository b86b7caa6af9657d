// rooted-broker: a Kafka-protocol broker for local runs and tests, built from
// librdkafka's mock cluster. In memory, real wire protocol, consumer groups.
// It is a live pipe, not a store: nothing survives a restart.
//
//   rooted-broker [--brokers=1] [--port=0] [--partitions=6] [--signal-partitions=24]
//                 [--bootstrap-file=PATH]
//
// With --port, broker 1 listens on 127.0.0.1:PORT, broker 2 on PORT+1 and so
// on, so a broker started again after a crash is found again by every client
// that knew it (its topics come back empty: what it held is gone). Without
// it, free ports. Prints "bootstrap=HOST:PORT[,...]" on stdout once the
// topics exist, then serves until SIGTERM or SIGINT.

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "common/base/config.h"
#include "common/kafka/topics.h"
#include "common/server/service_runtime.h"
#include "tools/broker/listen_ports.h"

int main(int argc, char** argv) {
  rooted::BlockShutdownSignals();
  absl::StatusOr<rooted::Config> config = rooted::Config::Parse(argc, argv);
  if (!config.ok()) {
    std::cerr << "rooted-broker: " << config.status().message() << "\n";
    return 2;
  }
  absl::StatusOr<int64_t> brokers = config->Int("brokers", 1, 1, 5);
  absl::StatusOr<int64_t> port = config->Int("port", 0, 0, 65535 - 4);
  absl::StatusOr<int64_t> partitions = config->Int("partitions", 6, 1, 256);
  // The mock cluster keeps only about 5 MB a partition and drops older
  // messages: the high-volume signals topic gets more partitions, so a
  // scorer that falls behind a burst has room to catch up before anything
  // is dropped (24 x 5 MB: about 1.4 million signals in flight).
  absl::StatusOr<int64_t> signal_partitions = config->Int("signal-partitions", 24, 1, 256);
  const std::string bootstrap_file = config->String("bootstrap-file", "");
  for (const absl::Status& s : {brokers.status(), port.status(), partitions.status(),
                                signal_partitions.status(), config->CheckAllFlagsUsed()}) {
    if (!s.ok()) {
      std::cerr << "rooted-broker: " << s.message() << "\n";
      return 2;
    }
  }

  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // The handle never connects anywhere; keep it from warning that it cannot.
  rd_kafka_conf_set(conf, "log_level", "3", error, sizeof(error));
  // The mock brokers' sockets take this handle's settings. With Nagle on, a
  // reply written while the client has yet to acknowledge the last one
  // waits for Linux's delayed ACK: every produce round took 45 ms instead of
  // 3, and an outbox relay could publish only about 10,000 events a second.
  rd_kafka_conf_set(conf, "socket.nagle.disable", "true", error, sizeof(error));
  // The mock cluster hangs off a client handle; this one never produces.
  rd_kafka_t* handle = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));
  if (handle == nullptr) {
    std::cerr << "rooted-broker: " << error << "\n";
    return 1;
  }
  if (*port != 0) {
    std::vector<uint16_t> ports;
    for (int64_t i = 0; i < *brokers; ++i) ports.push_back(static_cast<uint16_t>(*port + i));
    if (absl::Status free = rooted::broker::ListenOnPorts(ports); !free.ok()) {
      std::cerr << "rooted-broker: --port: " << free.message() << "\n";
      rd_kafka_destroy(handle);
      return 1;
    }
  }
  rd_kafka_mock_cluster_t* cluster = rd_kafka_mock_cluster_new(handle, static_cast<int>(*brokers));
  if (cluster == nullptr) {
    std::cerr << "rooted-broker: cannot start the mock cluster\n";
    rd_kafka_destroy(handle);
    return 1;
  }
  if (rooted::broker::PendingListenPorts() != 0) {
    std::cerr << "rooted-broker: the mock brokers did not take the ports of --port\n";
    rd_kafka_mock_cluster_destroy(cluster);
    rd_kafka_destroy(handle);
    return 1;
  }
  for (absl::string_view topic : rooted::topics::kAll) {
    for (const std::string& name :
         {std::string(topic),
          std::string(topic) + std::string(rooted::topics::kDeadLetterSuffix)}) {
      const int64_t count = topic == rooted::topics::kSignals ? *signal_partitions : *partitions;
      rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(
          cluster, name.c_str(), static_cast<int>(count), static_cast<int>(*brokers));
      // A client that reconnected the moment a restarted broker listened
      // may have had the topic made already (with the mock's defaults).
      if (err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        std::cerr << "rooted-broker: " << name << " was made by a client before this broker\n";
        continue;
      }
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        std::cerr << "rooted-broker: creating " << name << ": " << rd_kafka_err2str(err) << "\n";
        return 1;
      }
    }
  }
  const std::string bootstraps = rd_kafka_mock_cluster_bootstraps(cluster);
  if (!bootstrap_file.empty()) {
    const std::string tmp = bootstrap_file + ".tmp";
    std::ofstream(tmp) << bootstraps << "\n";
    std::rename(tmp.c_str(), bootstrap_file.c_str());
  }
  std::cout << "bootstrap=" << bootstraps << std::endl;

  const std::string signal_name = rooted::WaitForShutdownSignal();
  std::cerr << "rooted-broker: " << signal_name << ", stopping\n";
  rd_kafka_mock_cluster_destroy(cluster);
  rd_kafka_destroy(handle);
  return 0;
}
