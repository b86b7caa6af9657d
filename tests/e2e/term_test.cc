// The local run's term, end to end with real processes: redis-server, the
// local broker and the five service binaries on free loopback ports, on one
// shared simulated clock. Mid-term, three services are killed with SIGKILL
// (no draining) and restarted; afterwards every count must be exact (nothing
// lost, nothing doubled) and a sampled case's timeline must hold every step
// in order.

#include "tools/term/term.h"

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>

#include "common/base/proto_time.h"
#include "rooted/forum/v1/forum.grpc.pb.h"
#include "rooted/fund/v1/fund.grpc.pb.h"
#include "rooted/referral/v1/referral.grpc.pb.h"
#include "tests/support/auth.h"
#include "tests/support/health_probe.h"
#include "tests/support/local_stack.h"

namespace rooted {
namespace {

namespace cv1 = rooted::common::v1;
namespace rv1 = rooted::referral::v1;
namespace pv1 = rooted::fund::v1;
namespace fv1 = rooted::forum::v1;

const std::string kTokenSecret(40, 'e');
const std::string kPupilRefSecret(40, 'r');

// The five services as separate processes sharing one Redis (a database
// each, as the local run does) and one broker.
class TermStack {
 public:
  TermStack() : dir_(testing::MakeTempDir()), clock_path_(dir_ + "/simulated-clock") {
    std::ofstream(clock_path_, std::ios::binary) << std::string(8, '\0');
    int db = 1;
    for (const char* name : {"referral-intake", "risk-scoring", "forum-scheduling", "directory-triage",
                             "fund-payments"}) {
      services_[name] = {0, 0, db++, nullptr};
      Start(name);
    }
  }

  // The first start binds free ports of the service's own choosing; a restart
  // takes the same ones again, as a restarted pod keeps its address.
  void Start(const std::string& name) {
    Service& s = services_.at(name);
    std::vector<std::string> flags = {"--redis-port=" + std::to_string(redis_.port()),
                                      "--redis-db=" + std::to_string(s.redis_db),
                                      "--kafka-bootstrap=" + broker_.bootstrap(),
                                      "--kafka-session-timeout=6s",
                                      "--token-secret=" + kTokenSecret,
                                      "--simulated-clock-file=" + clock_path_,
                                      "--log-level=error"};
    if (name == "referral-intake" || name == "risk-scoring") {
      flags.push_back("--pupil-ref-secret=" + kPupilRefSecret);
      flags.push_back("--schools-file=" + testing::TestSchoolRegister());
    }
    if (name == "risk-scoring") flags.push_back("--la-code=801");
    s.process = std::make_unique<testing::ServiceProcess>(
        testing::BinaryDir() + "/services/" + name + "/" + name, flags, s.grpc_port,
        s.metrics_port);
    s.grpc_port = s.process->grpc_port();
    s.metrics_port = s.process->metrics_port();
  }

  // A crash: SIGKILL, then the same process started again.
  void KillAndRestart(const std::string& name) {
    services_.at(name).process->Kill();
    Start(name);
  }

  std::string Target(const std::string& name) const {
    return "127.0.0.1:" + std::to_string(services_.at(name).grpc_port);
  }
  const std::string& clock_path() const { return clock_path_; }

 private:
  struct Service {
    int grpc_port;
    int metrics_port;
    int redis_db;
    std::unique_ptr<testing::ServiceProcess> process;
  };
  testing::RedisServer redis_;
  testing::Broker broker_;
  std::string dir_;
  std::string clock_path_;
  std::map<std::string, Service> services_;
};

int IndexOf(const std::vector<std::string>& types, const std::string& type) {
  const auto it = std::find(types.begin(), types.end(), type);
  return it == types.end() ? -1 : int(it - types.begin());
}

TEST(TermEndToEndTest, ATermPlaysThroughServicesKilledMidTermLosingAndDoublingNothing) {
  TermStack stack;
  absl::StatusOr<std::unique_ptr<SimulatedClock>> clock = SimulatedClock::Open(stack.clock_path(), true);
  ASSERT_TRUE(clock.ok()) << clock.status();

  term::TermOptions options;
  options.targets = {stack.Target("referral-intake"), stack.Target("risk-scoring"), stack.Target("forum-scheduling"),
                     stack.Target("directory-triage"), stack.Target("fund-payments")};
  options.token_secret = kTokenSecret;
  options.council_pupils = 3000;
  options.referrals_per_school = 5;
  options.today = absl::CivilDay(2026, 11, 23);  // a fixed term: 2026-09-03 to 2026-11-20
  ASSERT_TRUE(absl::LoadTimeZone("Europe/London", &options.zone));
  options.event_wait = absl::Seconds(90);

  std::set<term::Phase> crashed;
  auto crash_once = [&](term::Phase phase) -> absl::Status {
    if (!crashed.insert(phase).second) return absl::OkStatus();
    // Forum scheduling has referral events to consume; referral intake has
    // forum events for its timelines and relays its own; fund payments has
    // payments issued to announce.
    stack.KillAndRestart(phase == term::Phase::kReferralsMade ? "forum-scheduling"
                         : phase == term::Phase::kForumHeld   ? "referral-intake"
                                                              : "fund-payments");
    return absl::OkStatus();
  };
  // Each service answers Kubernetes' probes: alive, and ready once its Redis
  // and Kafka answer.
  for (const std::string& target : {options.targets.referral, options.targets.risk, options.targets.forum,
                                    options.targets.directory, options.targets.fund}) {
    const absl::Time give_up = absl::Now() + absl::Seconds(30);
    while (!testing::IsServing(target, "") && absl::Now() < give_up) absl::SleepFor(absl::Milliseconds(100));
    EXPECT_TRUE(testing::IsServing(target, "")) << target;
    EXPECT_TRUE(testing::IsServing(target, "liveness")) << target;
    EXPECT_FALSE(testing::IsServing(target, "no.such.Service")) << target;
  }

  absl::StatusOr<term::TermSummary> played = term::PlayTerm(options, **clock, nullptr, crash_once);
  ASSERT_TRUE(played.ok()) << played.status();
  const term::TermSummary& s = *played;
  EXPECT_EQ(crashed.size(), 3u);

  // The counts, exactly: a lost event would leave one short, a replayed one
  // would add one.
  EXPECT_EQ(s.school_days, 53);
  EXPECT_EQ(s.pilot_schools.size(), 3u);
  EXPECT_EQ(s.signals_rejected, 0);
  EXPECT_GT(s.signals_accepted, 100'000);
  ASSERT_EQ(s.referral_ids.size(), 15u);
  EXPECT_EQ(s.forum_cases, 15);
  EXPECT_EQ(s.triaged, 15);
  // Every referral screened once, through risk scoring's evidence.
  int screened = 0;
  for (const auto& [outcome, n] : s.screenings_by_outcome) screened += n;
  EXPECT_EQ(screened, 15) << ::testing::PrintToString(s.screenings_by_outcome);
  EXPECT_EQ(s.meetings_held, 2);  // eight places a meeting
  int decisions = 0;
  for (const auto& [type, n] : s.decisions_by_type) decisions += n;
  EXPECT_EQ(decisions, 20);
  EXPECT_EQ(s.decisions_by_type.at("fund support"), 7);
  EXPECT_EQ(s.services_matched, s.decisions_by_type.at("referred to a service"));
  EXPECT_EQ(s.leads_allocated, s.decisions_by_type.at("programme lead allocated"));
  EXPECT_EQ(s.fund_requests, 7);
  EXPECT_EQ(s.payments_settled, 7);
  EXPECT_EQ(s.fund_committed_pence, 0);
  EXPECT_EQ(s.fund_paid_pence, 3 * 8'500 + 2 * 24'000 + 2 * 42'000);
  EXPECT_EQ(s.cases_closed, 6);
  EXPECT_EQ(s.closures_by_outcome, (std::map<std::string, int>{{"sustained_attendance", 6}}));
  int band_total = 0;
  for (const auto& [band, n] : s.pupils_by_band) band_total += n;
  EXPECT_GT(band_total, 0);
  EXPECT_LE(band_total, s.pupils);

  testing::TestTokens tokens(kTokenSecret);
  auto as_council = [&](cv1::Role role) {
    return testing::AuthedContext(tokens.Mint("checker-1", role, cv1::ORGANISATION_TYPE_COUNCIL, "801", "801",
                                              (*clock)->Now()));
  };

  // One fund request per fund decision, each paid once.
  auto fund = pv1::FundService::NewStub(
      grpc::CreateChannel(stack.Target("fund-payments"), grpc::InsecureChannelCredentials()));
  pv1::ListFundRequestsRequest list;
  list.set_fund_id(s.fund_id);
  list.mutable_page()->set_page_size(100);
  pv1::ListFundRequestsResponse requests;
  ASSERT_TRUE(fund->ListFundRequests(as_council(cv1::ROLE_FINANCE_OFFICER).get(), list, &requests).ok());
  ASSERT_EQ(requests.fund_requests_size(), 7);
  std::set<std::string> decisions_funded;
  for (const pv1::FundRequest& r : requests.fund_requests()) {
    EXPECT_EQ(r.status(), pv1::REQUEST_STATUS_PAID) << r.request_id();
    decisions_funded.insert(r.decision_id());
  }
  EXPECT_EQ(decisions_funded.size(), 7u);

  // The forum meets on after the term played, to the end of the school year,
  // so a referral made after the demo can still reach an agenda.
  auto forum = fv1::ForumService::NewStub(
      grpc::CreateChannel(stack.Target("forum-scheduling"), grpc::InsecureChannelCredentials()));
  fv1::ListMeetingsRequest ahead;
  ahead.set_forum_id(s.forum_id);
  *ahead.mutable_from() = ToProtoTimestamp(absl::FromCivil(options.today, options.zone));
  ahead.mutable_page()->set_page_size(500);
  fv1::ListMeetingsResponse meetings;
  ASSERT_TRUE(
      forum->ListMeetings(as_council(cv1::ROLE_COUNCIL_OFFICER).get(), ahead, &meetings).ok());
  ASSERT_GT(meetings.meetings_size(), 0);
  auto day_of = [&](const fv1::Meeting& m) {
    return absl::ToCivilDay(FromProtoTimestamp(m.starts_at()), options.zone);
  };
  EXPECT_EQ(day_of(meetings.meetings(0)), absl::CivilDay(2026, 11, 25));  // the Wednesday after
  EXPECT_EQ(day_of(meetings.meetings(meetings.meetings_size() - 1)), absl::CivilDay(2027, 7, 21));

  // Every case's timeline: each event once, in time order.
  auto referrals = rv1::ReferralService::NewStub(
      grpc::CreateChannel(stack.Target("referral-intake"), grpc::InsecureChannelCredentials()));
  for (const std::string& id : s.referral_ids) {
    rv1::GetCaseTimelineRequest request;
    request.set_referral_id(id);
    request.set_purpose("end to end test");
    rv1::GetCaseTimelineResponse timeline;
    ASSERT_TRUE(referrals->GetCaseTimeline(as_council(cv1::ROLE_COUNCIL_OFFICER).get(), request, &timeline).ok());
    std::set<std::string> event_ids;
    int submitted = 0;
    for (int i = 0; i < timeline.entries_size(); ++i) {
      const rv1::TimelineEntry& e = timeline.entries(i);
      EXPECT_TRUE(event_ids.insert(e.event_id()).second) << id << ": " << e.summary() << " twice";
      if (i > 0) {
        EXPECT_LE(timeline.entries(i - 1).occurred_at().seconds(), e.occurred_at().seconds()) << id;
      }
      submitted += e.event_type() == "rooted.referral.v1.ReferralSubmitted" ? 1 : 0;
    }
    EXPECT_EQ(submitted, 1) << id;
  }

  // The sampled case went through every step, in this order.
  ASSERT_FALSE(s.sampled_referral_id.empty());
  rv1::GetCaseTimelineRequest request;
  request.set_referral_id(s.sampled_referral_id);
  request.set_purpose("end to end test");
  rv1::GetCaseTimelineResponse timeline;
  ASSERT_TRUE(referrals->GetCaseTimeline(as_council(cv1::ROLE_COUNCIL_OFFICER).get(), request, &timeline).ok());
  std::vector<std::string> types;
  for (const rv1::TimelineEntry& e : timeline.entries()) types.push_back(e.event_type());
  // Triage and the forum's listing both follow the referral, in either order.
  EXPECT_GT(IndexOf(types, "rooted.directory.v1.TriageRecommended"), 0) << ::testing::PrintToString(types);
  const std::vector<std::string> steps = {
      "rooted.referral.v1.ReferralSubmitted",
      "rooted.forum.v1.CaseListed",             "rooted.forum.v1.DecisionRecorded",
      "rooted.directory.v1.ServiceReferralMade", "rooted.fund.v1.FundRequestSubmitted",
      "rooted.fund.v1.FundRequestApproved",     "rooted.fund.v1.PaymentIssued",
      "rooted.fund.v1.PaymentSettled",          "rooted.referral.v1.CaseClosed"};
  int previous = -1;
  for (const std::string& step : steps) {
    const int at = IndexOf(types, step);
    EXPECT_GT(at, previous) << step << " missing or out of order in:\n" << ::testing::PrintToString(types);
    previous = std::max(previous, at);
  }
  EXPECT_EQ(timeline.status(), rv1::REFERRAL_STATUS_CLOSED);
}

}  // namespace
}  // namespace rooted
