// directory_bench: a council directory of 20,000 services loaded from Open
// Referral UK JSON, then Search and Triage latency while providers keep
// updating their capacity, against the real directory-triage binary,
// redis-server and the local broker.
//
//   directory_bench [--services=20000] [--calls=2000] [--updates-per-second=50]
//
// Beside each figure, its floor measured in the same run: ListTaxonomyTerms,
// an authenticated RPC that does no work.

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "common/base/config.h"
#include "common/identity/needs_taxonomy.h"
#include "rooted/directory/v1/directory.grpc.pb.h"
#include "services/directory-triage/open_referral.h"
#include "services/directory-triage/triage.h"
#include "tests/support/auth.h"
#include "tests/support/service_harness.h"
#include "tools/bench/bench_help.h"
#include "tools/bench/latency.h"

namespace {

using Clock = rooted::bench::Clock;
namespace v1 = rooted::directory::v1;
namespace cv1 = rooted::common::v1;

using rooted::bench::Millis;
using rooted::bench::Percentiles;
using rooted::bench::Summarise;

// A generated council directory in ORUK JSON: 400 providers, services spread
// over a 30 km square around Leeds, 1-3 needs each, most approved.
std::string GenerateDirectory(int services) {
  std::mt19937 random(7);
  const auto terms = rooted::DefaultNeedsTaxonomy();
  const char* words[] = {"mentoring", "counselling", "youth", "club", "family", "support",
                         "group", "sport", "music", "art", "drop-in", "wellbeing"};
  nlohmann::json out = nlohmann::json::array();
  for (int i = 0; i < services; ++i) {
    const int org = i % 400;
    nlohmann::json attributes = nlohmann::json::array();
    const int needs = 1 + int(random() % 3);
    const size_t first = random() % terms.size();
    for (int n = 0; n < needs; ++n) {
      const std::string term(terms[(first + size_t(n) * 5) % terms.size()].id);
      attributes.push_back({{"taxonomy_term", {{"code", term}, {"vocabulary", "rooted-needs"}}}});
    }
    const int min_age = 5 + int(random() % 8);
    nlohmann::json s = {
        {"id", "svc-" + std::to_string(i)},
        {"name", std::string(words[random() % 12]) + " " + words[random() % 12] + " " + std::to_string(i)},
        {"description", std::string("A ") + words[random() % 12] + " service for young people and families"},
        {"status", "active"},
        {"minimum_age", min_age},
        {"maximum_age", min_age + 4 + int(random() % 8)},
        {"organization", {{"id", "org-" + std::to_string(org)}, {"name", "Provider " + std::to_string(org)}, {"description", "A provider"}}},
        {"service_at_locations",
         {{{"location",
            {{"id", "loc-" + std::to_string(i)},
             {"latitude", 53.65 + double(random() % 27000) / 100000},
             {"longitude", -1.75 + double(random() % 45000) / 100000}}}}}},
        {"attributes", attributes},
        {"x_rooted",
         {{"capacity", {{"available", int(random() % 12)}, {"maximum", 12}, {"waiting_time_days", int(random() % 60)}}},
          {"quality", {{"status", random() % 10 < 8 ? "approved" : "pending"}, {"review_date", "2027-09-30"}}}}}};
    out.push_back(std::move(s));
  }
  return out.dump();
}

}  // namespace

int main(int argc, char** argv) {
  if (rooted::bench::AnsweredHelp(
          argc, argv,
          R"(usage: directory_bench [--services=20000] [--calls=2000] [--updates-per-second=50]
  Search and Triage over an ORUK directory while providers update capacity.
)"))
    return 0;
  auto config = rooted::Config::Parse(argc, argv);
  if (!config.ok()) {
    std::cerr << config.status().message() << "\n";
    return 2;
  }
  const int services = int(*config->Int("services", 20'000, 100, 1'000'000));
  const int calls = int(*config->Int("calls", 2000, 100, 1'000'000));
  const int updates_per_second = int(*config->Int("updates-per-second", 50, 0, 10'000));
  const std::string secret(40, 'b');

  rooted::testing::LocalService service("directory-triage", secret);
  const rooted::testing::TestTokens tokens(secret);
  const std::string council = tokens.Mint("officer-bench", cv1::ROLE_COUNCIL_OFFICER,
                                          cv1::ORGANISATION_TYPE_COUNCIL, "801", "801", absl::Now());
  const std::string school = tokens.Mint("teacher-bench", cv1::ROLE_SCHOOL_STAFF,
                                         cv1::ORGANISATION_TYPE_SCHOOL, "100001", "801", absl::Now());
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  args.SetMaxSendMessageSize(64 << 20);
  auto channel = grpc::CreateCustomChannel(service.target(), grpc::InsecureChannelCredentials(), args);
  auto directory = v1::DirectoryService::NewStub(channel);
  auto triage = v1::TriageService::NewStub(channel);
  for (int i = 0; i < 200; ++i) {
    v1::ListTaxonomyTermsResponse r;
    if (directory->ListTaxonomyTerms(rooted::testing::AuthedContext(school).get(), {}, &r).ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }

  const std::string json = GenerateDirectory(services);
  std::cout << "directory_bench: " << services << " services (" << json.size() / (1 << 20)
            << " MiB of ORUK JSON), " << std::thread::hardware_concurrency() << " cores\n";
  v1::ImportOpenReferralRequest import;
  import.set_request_id("bench-import-0001");
  import.set_json(json);
  v1::ImportOpenReferralResponse imported;
  auto context = rooted::testing::AuthedContext(council);
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
  const auto import_start = Clock::now();
  grpc::Status status = directory->ImportOpenReferral(context.get(), import, &imported);
  const double import_seconds = Millis(Clock::now() - import_start) / 1000;
  if (!status.ok()) {
    std::cerr << "ImportOpenReferral: " << status.error_message() << "\n";
    return 1;
  }
  std::cout << "import                            " << imported.services() << " services in "
            << import_seconds << " s (" << imported.problems_size() << " problems)\n";

  // Triage's own work, in this process over the same directory: what the
  // RPC figures below add transport, authentication and scheduling to.
  {
    rooted::directory::DirectoryIndex index;
    absl::StatusOr<rooted::directory::OpenReferralImport> parsed = rooted::directory::ParseOpenReferral(json);
    if (!parsed.ok()) {
      std::cerr << "ParseOpenReferral: " << parsed.status().message() << "\n";
      return 1;
    }
    for (const auto& s : parsed->services) index.Upsert(s);
    std::mt19937 random(5);
    const auto needs = rooted::DefaultNeedsTaxonomy();
    std::vector<double> local;
    for (int i = 0; i < calls; ++i) {
      rooted::directory::TriageInput in;
      in.today = absl::ToCivilDay(absl::Now(), absl::UTCTimeZone());
      in.age = 11 + int(random() % 5);
      in.location = rooted::directory::GeoPoint{53'820'000, -1'580'000};
      for (int n = 0; n < 3; ++n) {
        cv1::Need need;
        need.set_term_id(std::string(needs[(size_t(i) + size_t(n) * 3) % needs.size()].id));
        need.set_severity(cv1::Severity(1 + random() % 3));
        in.needs.push_back(need);
      }
      const auto t0 = Clock::now();
      (void)rooted::directory::Triage(index, in, [](const std::string& term) { return term; });
      local.push_back(Millis(Clock::now() - t0));
    }
    const Percentiles l = Summarise(local);
    std::cout << "Triage in process (no RPC)        p50 " << l.p50 << " ms   p99 " << l.p99 << " ms\n";
  }

  v1::LoadPostcodeDistrictsRequest districts;
  districts.set_request_id("bench-districts-01");
  v1::PostcodeDistrict* ls6 = districts.add_districts();
  ls6->set_district("LS6");
  ls6->set_latitude_e6(53'820'000);
  ls6->set_longitude_e6(-1'580'000);
  v1::LoadPostcodeDistrictsResponse loaded;
  (void)directory->LoadPostcodeDistricts(rooted::testing::AuthedContext(council).get(), districts, &loaded);

  // Providers update capacity throughout.
  std::atomic<bool> updating{true};
  std::atomic<int> updates{0};
  std::thread updater([&] {
    std::mt19937 random(3);
    const auto start = Clock::now();
    while (updating.load() && updates_per_second > 0) {
      const auto due = start + std::chrono::microseconds(int64_t(updates.load()) * 1'000'000 / updates_per_second);
      std::this_thread::sleep_until(due);
      v1::UpdateCapacityRequest request;
      request.set_request_id("bench-capacity-" + std::to_string(updates.load()));
      request.set_service_id("svc-" + std::to_string(random() % unsigned(services)));
      request.mutable_capacity()->set_maximum(12);
      request.mutable_capacity()->set_available(int(random() % 12));
      request.mutable_capacity()->set_waiting_time_days(int(random() % 60));
      v1::UpdateCapacityResponse response;
      (void)directory->UpdateCapacity(rooted::testing::AuthedContext(council).get(), request, &response);
      ++updates;
    }
  });

  const auto terms = rooted::DefaultNeedsTaxonomy();
  std::mt19937 random(5);
  std::vector<double> floor, search, triaged;
  int64_t ranked = 0, found = 0;
  for (int i = 0; i < calls; ++i) {
    v1::ListTaxonomyTermsResponse terms_response;
    auto t0 = Clock::now();
    (void)directory->ListTaxonomyTerms(rooted::testing::AuthedContext(school).get(), {}, &terms_response);
    floor.push_back(Millis(Clock::now() - t0));

    v1::SearchServicesRequest query;
    const char* words[] = {"mentor", "couns", "youth", "family", "sport", "music"};
    query.set_text(words[random() % 6]);
    query.set_age(11 + int(random() % 5));
    if (i % 2 == 0) {
      query.set_postcode("LS6 1AA");
      query.set_proximity_metres(8000);
    }
    v1::SearchServicesResponse search_response;
    t0 = Clock::now();
    status = directory->SearchServices(rooted::testing::AuthedContext(school).get(), query, &search_response);
    search.push_back(Millis(Clock::now() - t0));
    if (!status.ok()) std::cerr << "SearchServices: " << status.error_message() << "\n";
    found += search_response.total_items();

    v1::TriageRequest request;
    v1::NeedsProfile* profile = request.mutable_profile();
    for (int n = 0; n < 3; ++n) {
      cv1::Need* need = profile->add_needs();
      need->set_term_id(std::string(terms[(random() % terms.size())].id));
      need->set_severity(cv1::Severity(1 + random() % 3));
    }
    // Repeated terms are refused: keep the first of each.
    std::vector<std::string> seen;
    auto* needs = profile->mutable_needs();
    for (int n = needs->size() - 1; n >= 0; --n) {
      if (std::count_if(needs->begin(), needs->begin() + n, [&](const cv1::Need& x) {
            return x.term_id() == needs->Get(n).term_id();
          }) > 0) {
        needs->DeleteSubrange(n, 1);
      }
    }
    profile->set_age(11 + int(random() % 5));
    profile->set_postcode("LS6");
    v1::TriageResponse triage_response;
    t0 = Clock::now();
    status = triage->Triage(rooted::testing::AuthedContext(school).get(), request, &triage_response);
    triaged.push_back(Millis(Clock::now() - t0));
    if (!status.ok()) std::cerr << "Triage: " << status.error_message() << "\n";
    ranked += triage_response.ranked_size();
  }
  updating = false;
  updater.join();
  const Percentiles f = Summarise(floor), s = Summarise(search), t = Summarise(triaged);
  std::cout << "floor: ListTaxonomyTerms          p50 " << f.p50 << " ms   p99 " << f.p99 << " ms\n";
  std::cout << "SearchServices                    p50 " << s.p50 << " ms   p99 " << s.p99
            << " ms   (" << found / calls << " matches on average)\n";
  std::cout << "Triage (3 needs, located)         p50 " << t.p50 << " ms   p99 " << t.p99
            << " ms   (" << ranked / calls << " ranked on average)\n";
  std::cout << "while " << updates.load() << " capacity updates landed ("
            << updates_per_second << "/s)\n";
  return 0;
}
