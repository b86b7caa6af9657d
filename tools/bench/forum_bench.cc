// forum_bench: agenda building for a council with many open cases and a
// year of meetings, and RecordDecision latency under an open-loop load,
// against the real forum-scheduling binary, redis-server and the local broker.
//
//   forum_bench [--cases=10000] [--agenda-calls=30] [--decisions=1000]
//               [--decision-rate=200]   decisions a second, fixed arrival rate
//
// Prints each figure beside its raw ceiling measured in the same run: reading
// the same case records straight from Redis (for the agenda), and GetForum, the
// lightest authenticated RPC there is, one small Redis read (for decisions).

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <iostream>
#include <thread>

#include "common/base/config.h"
#include "common/base/proto_date.h"
#include "common/base/proto_time.h"
#include "common/redis/redis_client.h"
#include "rooted/forum/v1/forum.grpc.pb.h"
#include "tests/support/auth.h"
#include "tests/support/service_harness.h"
#include "tools/bench/bench_help.h"
#include "tools/bench/latency.h"

namespace {

using Clock = rooted::bench::Clock;
namespace v1 = rooted::forum::v1;
namespace cv1 = rooted::common::v1;

using rooted::bench::Millis;
using rooted::bench::Percentiles;
using rooted::bench::Summarise;

void AddMember(v1::Forum& forum, cv1::OrganisationType type, const std::string& id,
               cv1::AgencyType agency) {
  v1::ForumMember* m = forum.add_members();
  m->mutable_organisation()->set_type(type);
  m->mutable_organisation()->set_id(id);
  m->set_agency_type(agency);
}

// A council-wide forum meeting weekly through the current school year, so a
// year of meetings, most still to come. 96 cases a meeting (8 hours, 5 minutes each).
v1::Forum BenchForum(absl::CivilDay today) {
  v1::Forum forum;
  forum.set_la_code("801");
  forum.set_locality("Whole council");
  forum.mutable_cadence()->set_weekday(v1::WEEKDAY_MONDAY);
  forum.mutable_cadence()->set_every_weeks(1);
  forum.mutable_cadence()->set_start_minute(9 * 60);
  forum.mutable_cadence()->set_duration_minutes(480);
  const int year = int(today.month() >= 9 ? today.year() : today.year() - 1);
  const std::pair<absl::CivilDay, absl::CivilDay> terms[] = {
      {absl::CivilDay(year, 9, 1), absl::CivilDay(year, 12, 19)},
      {absl::CivilDay(year + 1, 1, 5), absl::CivilDay(year + 1, 3, 27)},
      {absl::CivilDay(year + 1, 4, 13), absl::CivilDay(year + 1, 7, 22)}};
  for (const auto& [first, last] : terms) {
    v1::TermDates* t = forum.add_terms();
    *t->mutable_start() = rooted::ToProtoDate(first);
    *t->mutable_end() = rooted::ToProtoDate(last);
  }
  AddMember(forum, cv1::ORGANISATION_TYPE_SCHOOL, "100001", cv1::AGENCY_TYPE_EDUCATION);
  AddMember(forum, cv1::ORGANISATION_TYPE_COUNCIL, "801", cv1::AGENCY_TYPE_COUNCIL_INCLUSION);
  AddMember(forum, cv1::ORGANISATION_TYPE_PARTNER, "nhs-bench", cv1::AGENCY_TYPE_HEALTH);
  forum.mutable_quorum()->set_minimum_agencies(3);
  forum.set_case_slots(100);
  forum.set_minutes_per_case(5);
  forum.set_chair_subject("chair-bench");
  forum.set_coordinator_subject("coordinator-bench");
  forum.set_priority_within_school_days(10);
  return forum;
}

std::string Ref(int n) {
  std::string digits = std::to_string(n);
  return "pr_" + std::string(32 - digits.size(), '0') + digits;
}

}  // namespace

int main(int argc, char** argv) {
  if (rooted::bench::AnsweredHelp(
          argc, argv,
          R"(usage: forum_bench [--cases=10000] [--agenda-calls=30] [--decisions=1000] [--decision-rate=200]
  Agenda planning over open cases and a year of meetings, and RecordDecision at a fixed rate.
)"))
    return 0;
  auto config = rooted::Config::Parse(argc, argv);
  if (!config.ok()) {
    std::cerr << config.status().message() << "\n";
    return 2;
  }
  const int cases = int(*config->Int("cases", 10'000, 10, 1'000'000));
  const int agenda_calls = int(*config->Int("agenda-calls", 30, 1, 10'000));
  const int decisions = int(*config->Int("decisions", 1000, 10, 1'000'000));
  const double decision_rate = double(*config->Int("decision-rate", 200, 1, 100'000));
  const std::string secret(40, 'b');

  rooted::testing::LocalService service("forum-scheduling", secret);
  rooted::RedisOptions redis_options;
  redis_options.port = service.redis().port();
  rooted::RedisClient redis(redis_options);
  const rooted::testing::TestTokens tokens(secret);
  const std::string council = tokens.Mint("coordinator-bench", cv1::ROLE_FORUM_COORDINATOR,
                                          cv1::ORGANISATION_TYPE_COUNCIL, "801", "801", absl::Now());
  auto channel =
      grpc::CreateChannel(service.target(), grpc::InsecureChannelCredentials());
  auto stub = v1::ForumService::NewStub(channel);
  for (int i = 0; i < 200; ++i) {
    v1::GetForumRequest request;
    request.set_forum_id("not-yet-a-forum");
    v1::GetForumResponse response;
    if (stub->GetForum(rooted::testing::AuthedContext(council).get(), request, &response)
            .error_code() != grpc::UNAVAILABLE) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }

  absl::TimeZone london;
  (void)absl::LoadTimeZone("Europe/London", &london);
  const absl::CivilDay today = absl::ToCivilDay(absl::Now(), london);
  v1::CreateForumRequest create;
  create.set_request_id("bench-create-forum");
  *create.mutable_forum() = BenchForum(today);
  v1::CreateForumResponse created;
  grpc::Status status = stub->CreateForum(rooted::testing::AuthedContext(council).get(), create,
                                          &created);
  if (!status.ok()) {
    std::cerr << "CreateForum: " << status.error_message() << "\n";
    return 1;
  }
  const v1::Forum& forum = created.forum();
  v1::ListMeetingsRequest list_meetings;
  list_meetings.set_forum_id(forum.forum_id());
  list_meetings.mutable_page()->set_page_size(500);
  v1::ListMeetingsResponse meetings;
  (void)stub->ListMeetings(rooted::testing::AuthedContext(council).get(), list_meetings, &meetings);
  std::string last_held, next_meeting;
  for (const v1::Meeting& m : meetings.meetings()) {
    if (rooted::FromProtoTimestamp(m.starts_at()) < absl::Now()) {
      last_held = m.meeting_id();
    } else if (next_meeting.empty()) {
      next_meeting = m.meeting_id();
    }
  }
  std::cout << "forum_bench: " << cases << " open cases, " << meetings.meetings_size()
            << " meetings this school year (" << std::thread::hardware_concurrency()
            << " cores)\n";

  // Load the queue: every fourth case urgent.
  const auto load_start = Clock::now();
  std::atomic<int> next{0};
  std::vector<std::thread> loaders;
  for (int t = 0; t < 8; ++t) {
    loaders.emplace_back([&] {
      for (int i; (i = next++) < cases;) {
        v1::ListCaseRequest request;
        request.set_request_id("bench-list-" + std::to_string(i));
        request.set_forum_id(forum.forum_id());
        request.set_referral_id("bench-referral-" + std::to_string(i));
        request.mutable_pupil_ref()->set_value(Ref(i));
        request.set_school_urn("100001");
        if (i % 4 == 0) {
          *request.mutable_hear_by() = rooted::ToProtoDate(today + 14 + i % 60);
        }
        v1::ListCaseResponse response;
        grpc::Status s =
            stub->ListCase(rooted::testing::AuthedContext(council).get(), request, &response);
        if (!s.ok()) std::cerr << "ListCase: " << s.error_message() << "\n";
      }
    });
  }
  for (auto& t : loaders) t.join();
  std::cout << "cases listed                      " << int(cases / (Millis(Clock::now() - load_start) / 1000))
            << " ListCase/s\n";

  // Raw ceiling: the same case records read straight from Redis.
  std::vector<double> raw;
  std::vector<std::string> members;
  absl::StatusOr<rooted::RedisReply> open_cases =
      redis.Command({"SMEMBERS", "fs:open_cases:" + forum.forum_id()});
  if (!open_cases.ok()) {
    std::cerr << "SMEMBERS: " << open_cases.status().message() << "\n";
    return 1;
  }
  for (const rooted::RedisReply& e : open_cases->elements) members.push_back("fs:case:" + e.str);
  for (int i = 0; i < agenda_calls; ++i) {
    std::vector<std::vector<std::string>> commands;
    commands.reserve(members.size());
    for (const std::string& key : members) commands.push_back({"HMGET", key, "record", "version"});
    const auto t0 = Clock::now();
    (void)redis.Pipeline(commands);
    raw.push_back(Millis(Clock::now() - t0));
  }
  std::vector<double> agenda, plan;
  size_t items = 0, not_fitted = 0;
  for (int i = 0; i < agenda_calls; ++i) {
    v1::GetAgendaRequest request;
    request.set_meeting_id(next_meeting);
    v1::GetAgendaResponse response;
    auto t0 = Clock::now();
    status = stub->GetAgenda(rooted::testing::AuthedContext(council).get(), request, &response);
    agenda.push_back(Millis(Clock::now() - t0));
    items = size_t(response.items_size());
    not_fitted = size_t(response.not_fitted_size());
    v1::ListCasesRequest cases_request;
    cases_request.set_forum_id(forum.forum_id());
    v1::ListCasesResponse cases_response;
    t0 = Clock::now();
    (void)stub->ListCases(rooted::testing::AuthedContext(council).get(), cases_request,
                          &cases_response);
    plan.push_back(Millis(Clock::now() - t0));
  }
  if (!status.ok()) std::cerr << "GetAgenda: " << status.error_message() << "\n";
  const Percentiles raw_p = Summarise(raw), agenda_p = Summarise(agenda), plan_p = Summarise(plan);
  std::cout << "raw: HMGET " << members.size() << " case records   p50 " << raw_p.p50
            << " ms   p99 " << raw_p.p99 << " ms\n";
  std::cout << "GetAgenda (plan the year, next meeting)   p50 " << agenda_p.p50 << " ms   p99 "
            << agenda_p.p99 << " ms   (" << items << " items, " << not_fitted
            << " not fitted)   " << agenda_p.p50 / raw_p.p50 << "x raw\n";
  std::cout << "ListCases (plan the year, first page)     p50 " << plan_p.p50 << " ms   p99 "
            << plan_p.p99 << " ms\n";

  // Decisions at the last meeting held, at a fixed arrival rate; latency
  // from each decision's intended send time.
  if (last_held.empty()) {
    std::cout << "no meeting held yet this school year: decisions not measured\n";
    return 0;
  }
  const std::string chair = tokens.Mint("chair-bench", cv1::ROLE_FORUM_MEMBER,
                                        cv1::ORGANISATION_TYPE_PARTNER, "nhs-bench", "801",
                                        absl::Now());
  v1::RecordAttendanceRequest attend;
  attend.set_request_id("bench-attendance");
  attend.set_meeting_id(last_held);
  for (const v1::ForumMember& m : forum.members()) *attend.add_present() = m;
  v1::RecordAttendanceResponse attended;
  status = stub->RecordAttendance(rooted::testing::AuthedContext(chair).get(), attend, &attended);
  if (!status.ok()) {
    std::cerr << "RecordAttendance: " << status.error_message() << "\n";
    return 1;
  }
  std::vector<std::string> case_ids;
  for (const std::string& key : members) case_ids.push_back(key.substr(std::string("fs:case:").size()));
  std::vector<double> floor_latency;
  for (int i = 0; i < 500; ++i) {
    v1::GetForumRequest request;
    request.set_forum_id(forum.forum_id());
    v1::GetForumResponse response;
    const auto t0 = Clock::now();
    (void)stub->GetForum(rooted::testing::AuthedContext(chair).get(), request, &response);
    floor_latency.push_back(Millis(Clock::now() - t0));
  }
  const int count = std::min(decisions, int(case_ids.size()));
  std::vector<double> decision_latency(size_t(count), 0);
  std::atomic<int> next_decision{0}, failures{0};
  const auto start = Clock::now();
  std::vector<std::thread> senders;
  for (int t = 0; t < 16; ++t) {
    senders.emplace_back([&] {
      for (int i; (i = next_decision++) < count;) {
        const auto intended =
            start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(i / decision_rate));
        std::this_thread::sleep_until(intended);
        v1::RecordDecisionRequest request;
        request.set_request_id("bench-decision-" + std::to_string(i));
        request.set_meeting_id(last_held);
        request.mutable_decision()->set_case_id(case_ids[size_t(i)]);
        request.mutable_decision()->set_type(i % 3 == 0 ? v1::DECISION_TYPE_NO_FURTHER_ACTION
                                                        : v1::DECISION_TYPE_ESCALATE_EARLY_HELP);
        v1::RecordDecisionResponse response;
        const grpc::Status s =
            stub->RecordDecision(rooted::testing::AuthedContext(chair).get(), request, &response);
        decision_latency[size_t(i)] = Millis(Clock::now() - intended);
        if (!s.ok() && failures++ == 0) std::cerr << "RecordDecision: " << s.error_message() << "\n";
      }
    });
  }
  for (auto& t : senders) t.join();
  const Percentiles floor_p = Summarise(floor_latency), decision_p = Summarise(decision_latency);
  std::cout << "raw: GetForum round trip (closed loop)    p50 " << floor_p.p50 << " ms   p99 "
            << floor_p.p99 << " ms\n";
  std::cout << "RecordDecision at " << decision_rate << "/s open loop   p50 " << decision_p.p50
            << " ms   p99 " << decision_p.p99 << " ms   max " << decision_p.max << " ms   ("
            << count << " decisions, " << failures.load() << " failed)\n";
  return failures.load() == 0 ? 0 : 1;
}
