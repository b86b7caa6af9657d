// Shutdown with Kafka gone: every service stops within the pod's grace
// period (30 s in deploy/k8s), its stages each bounded (RPC drain, consumers
// leaving their groups, outbox drain, producer flush), rather than waiting
// on an unreachable broker. The five run side by side, as they would in a
// rollout, and are stopped together. A call still running when shutdown
// begins ends UNAVAILABLE, which clients retry, not CANCELLED.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "rooted/risk/v1/risk.grpc.pb.h"
#include "tests/support/auth.h"
#include "tests/support/health_probe.h"
#include "tests/support/local_stack.h"
#include "tests/support/run_tool.h"
#include "tests/support/service_harness.h"

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

TEST(ShutdownTest, AStreamCutByShutdownEndsUnavailableNamingTheMessageToSendAgain) {
  testing::LocalService risk("risk-scoring", testing::kTestTokenSecret,
                             {"--pupil-ref-secret=" + testing::kTestTokenSecret, "--la-code=801"});
  const std::string token =
      testing::TestTokens(testing::kTestTokenSecret)
          .Mint("mis-1", common::v1::ROLE_SCHOOL_STAFF, common::v1::ORGANISATION_TYPE_SCHOOL,
                "100001", "801", absl::Now());
  auto stub = risk::v1::RiskScoringService::NewStub(
      grpc::CreateChannel(risk.target(), grpc::InsecureChannelCredentials()));
  auto context = testing::AuthedContext(token);
  risk::v1::StreamSignalsResponse response;
  auto writer = stub->StreamSignals(context.get(), &response);
  // One signal the service refuses: once it is counted, the call is running.
  risk::v1::StreamSignalsRequest refused;
  refused.add_signals()->set_signal_id("no-register-mark");
  ASSERT_TRUE(writer->Write(refused));
  ASSERT_TRUE(testing::Eventually([&] {
    return absl::StrContains(testing::ScrapeMetrics(risk.metrics_port()),
                             "outcome=\"rejected\"} 1");
  }));

  ASSERT_EQ(kill(risk.pid(), SIGTERM), 0);
  // The health check stops answering SERVING once the drain has begun.
  ASSERT_TRUE(testing::Eventually(
      [&] { return !testing::IsServing(risk.target(), "rooted.risk.v1.RiskScoringService"); }));
  writer->Write(risk::v1::StreamSignalsRequest());
  writer->WritesDone();
  const grpc::Status status = writer->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_NE(status.error_message().find("shutting down"), std::string::npos)
      << status.error_message();
  EXPECT_NE(status.error_message().find("message 2"), std::string::npos) << status.error_message();
}

}  // namespace
}  // namespace rooted
