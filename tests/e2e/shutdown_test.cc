// Shutdown with Kafka gone: every service stops within the pod's grace
// period (30 s in deploy/k8s), its stages each bounded (RPC drain, consumers
// leaving their groups, outbox drain, producer flush), rather than waiting
// on an unreachable broker. The five run side by side, as they would in a
// rollout, and are stopped together.

#include <gtest/gtest.h>
#include <signal.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/support/local_stack.h"

namespace rooted {
namespace {

// The pod's terminationGracePeriodSeconds, less the preStop pause: what is
// left for the process once SIGTERM arrives.
constexpr absl::Duration kGraceAfterPreStop = absl::Seconds(30 - 5);

TEST(ShutdownTest, EveryServiceStopsWithinItsGracePeriodWithKafkaUnreachable) {
  testing::RedisServer redis;
  auto broker = std::make_unique<testing::Broker>();
  const std::string secret(40, 's');
  struct Started {
    std::string name;
    std::unique_ptr<testing::ServiceProcess> process;
  };
  std::vector<Started> services;
  int db = 0;
  for (const std::string name : {"referral-intake", "risk-scoring", "forum-scheduling",
                                 "directory-triage", "fund-payments"}) {
    std::vector<std::string> flags = {
        "--redis-port=" + std::to_string(redis.port()), "--redis-db=" + std::to_string(++db),
        "--kafka-bootstrap=" + broker->bootstrap(), "--token-secret=" + secret, "--log-level=warn"};
    if (name == "referral-intake" || name == "risk-scoring")
      flags.push_back("--pupil-ref-secret=" + secret);
    if (name == "risk-scoring") flags.push_back("--la-code=801");
    services.push_back({name, std::make_unique<testing::ServiceProcess>(
                                  testing::BinaryDir() + "/services/" + name + "/" + name, flags)});
  }
  // The broker goes without a word, as a lost network or a crashed pod does.
  kill(broker->pid(), SIGKILL);
  for (Started& s : services) kill(s.process->pid(), SIGTERM);
  for (Started& s : services) {
    // Terminate sends SIGTERM again (harmless) and kills the process if it
    // has not exited in time, answering -SIGKILL.
    EXPECT_EQ(s.process->Terminate(kGraceAfterPreStop), 0)
        << s.name << " did not stop within its grace period";
  }
}

}  // namespace
}  // namespace rooted
