// A broker that comes back on the same address is rejoined unaided: the
// service's producer and its consumers find it again without a restart of
// their own. Locally, run-local.sh restarts a broker that dies on the port it
// had (rooted-broker --port); in a cluster, a Kafka pod keeps its address.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <memory>
#include <random>
#include <stdexcept>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "common/kafka/topics.h"
#include "rooted/risk/v1/risk.grpc.pb.h"
#include "tests/risk-scoring/risk_signals.h"
#include "tests/support/auth.h"
#include "tests/support/local_stack.h"
#include "tests/support/run_tool.h"
#include "tests/support/service_harness.h"
#include "tools/cohort/cohort.h"

namespace rooted {
namespace {

namespace cv1 = rooted::common::v1;
namespace kv1 = rooted::risk::v1;

// The value of the sample of `family` whose label set contains `labels`
// (as the exposition prints them, say `topic="rooted.signals.v1"`), summed.
double Sampled(const std::string& page, const std::string& family, const std::string& labels) {
  double total = 0;
  size_t at = 0;
  while ((at = page.find("\n" + family + "{", at)) != std::string::npos) {
    const size_t end = page.find('\n', at + 1);
    const std::string line = page.substr(at + 1, end - at - 1);
    at = end;
    if (!absl::StrContains(line, labels)) continue;
    double value = 0;
    if (absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &value)) total += value;
  }
  return total;
}

class BrokerRestartTest : public ::testing::Test {
 protected:
  // Streams pupil `serial`'s mark for the first day of term; OK once the
  // signal is on the topic.
  grpc::Status SendMark(kv1::RiskScoringService::Stub& stub, int serial) {
    auto context = testing::AuthedContext(token_);
    kv1::StreamSignalsResponse response;
    auto writer = stub.StreamSignals(context.get(), &response);
    kv1::StreamSignalsRequest request;
    *request.add_signals() =
        risk::testing::Mark(cohort::MakeUpn("801", 4001, 2014, serial), "100001",
                            absl::CivilDay(2026, 9, 7), kv1::SESSION_AM, "/");
    writer->Write(request);
    writer->WritesDone();
    grpc::Status status = writer->Finish();
    if (status.ok() && response.accepted() != 1) {
      return grpc::Status(
          grpc::StatusCode::FAILED_PRECONDITION,
          absl::StrCat("accepted ", response.accepted(), ", rejected ", response.rejected()));
    }
    return status;
  }

  const std::string token_ = testing::TestTokens(testing::kTestTokenSecret)
                                 .Mint("mis-1", cv1::ROLE_SCHOOL_STAFF,
                                       cv1::ORGANISATION_TYPE_SCHOOL, "100001", "801", absl::Now());
};

TEST_F(BrokerRestartTest, AServiceRejoinsABrokerThatReturnsOnTheSameAddress) {
  testing::RedisServer redis;
  // A port below Linux's ephemeral range (32768 up), so no outgoing
  // connection takes it while the broker is away.
  std::mt19937 random(std::random_device{}());
  std::unique_ptr<testing::Broker> broker;
  int port = 0;
  for (int attempt = 0; attempt < 5 && broker == nullptr; ++attempt) {
    port = std::uniform_int_distribution<int>(20000, 29999)(random);
    try {
      broker = std::make_unique<testing::Broker>(port);
    } catch (const std::runtime_error&) {
      // Taken by another process: another port.
    }
  }
  ASSERT_NE(broker, nullptr) << "no broker started on a port from 20000 to 29999";
  const std::string bootstrap = broker->bootstrap();
  testing::ServiceProcess risk(
      testing::BinaryDir() + "/services/risk-scoring/risk-scoring",
      {"--redis-port=" + std::to_string(redis.port()), "--kafka-bootstrap=" + bootstrap,
       "--token-secret=" + testing::kTestTokenSecret,
       "--pupil-ref-secret=" + testing::kTestTokenSecret, "--la-code=801", "--log-level=warn"});
  auto stub = kv1::RiskScoringService::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(risk.grpc_port()), grpc::InsecureChannelCredentials()));
  const auto scored = [&] {
    return Sampled(testing::ScrapeMetrics(risk.metrics_port()), "rooted_events_consumed_total",
                   absl::StrCat("topic=\"", topics::kSignals, "\""));
  };

  const grpc::Status before = SendMark(*stub, 0);
  ASSERT_TRUE(before.ok()) << before.error_message();
  ASSERT_TRUE(testing::Eventually([&] { return scored() == 1; })) << scored();

  // The broker dies and everything it held with it; one comes back on its port.
  kill(broker->pid(), SIGKILL);
  broker.reset();
  broker = std::make_unique<testing::Broker>(port);
  ASSERT_EQ(broker->bootstrap(), bootstrap);

  // The producer reconnects (a call may be refused UNAVAILABLE meanwhile,
  // which a client retries).
  int serial = 1;
  grpc::Status after;
  ASSERT_TRUE(testing::Eventually(
      [&] {
        after = SendMark(*stub, ++serial);
        return after.ok();
      },
      absl::Seconds(60)))
      << after.error_code() << " " << after.error_message();
  EXPECT_FALSE(
      testing::ReadTopic(bootstrap, std::string(topics::kSignals), 1, absl::Seconds(20)).empty());
  // The scorer's consumer rejoins its group and takes new signals. It may
  // keep the position it had on the old broker's partition for a moment,
  // and the new broker's log starts again at 0, so the first signals after
  // the restart can fall below it: the loss of an in-memory broker (README,
  // "Two commands"). So signals are sent until one is scored.
  EXPECT_TRUE(testing::Eventually(
      [&] {
        (void)SendMark(*stub, ++serial);
        return testing::Eventually([&] { return scored() >= 2; }, absl::Seconds(1));
      },
      absl::Seconds(90)))
      << scored() << " scored after " << serial << " pupils' marks";
}

}  // namespace
}  // namespace rooted
