#include "services/directory-triage/triage.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "services/directory-triage/directory_model.h"

namespace rooted::directory {
namespace cv1 = rooted::common::v1;
namespace {

constexpr int kCoveragePoints = 50;
constexpr int kDistancePoints = 20;
constexpr int kWaitingPoints = 15;
constexpr int kCapacityPoints = 15;
constexpr int64_t kDistanceHorizonMetres = 10'000;
constexpr int kWaitingHorizonDays = 56;

int Weight(cv1::Severity severity) {
  switch (severity) {
    case cv1::SEVERITY_HIGH:
      return 3;
    case cv1::SEVERITY_MEDIUM:
      return 2;
    default:
      return 1;
  }
}

std::string Kilometres(int64_t metres) { return absl::StrFormat("%.1f km", double(metres) / 1000); }

// Why this child cannot use this service, or "".
std::string ExclusionReason(const v1::Service& s, const TriageInput& in) {
  if (std::string why = NotRecommendableReason(s, in.today); !why.empty()) return why;
  if (std::string why = IneligibleReason(s.eligibility(), in.age, in.year_group, in.area_code);
      !why.empty()) {
    return absl::StrCat("not eligible: ", why);
  }
  if (in.free_only && !IsFree(s)) return "charges, and only free services were asked for";
  if (!in.language.empty() &&
      std::find(s.languages().begin(), s.languages().end(), in.language) == s.languages().end()) {
    return absl::StrCat("not offered in the language asked for (", in.language, ")");
  }
  if (in.delivery != v1::DELIVERY_UNSPECIFIED &&
      std::find(s.delivery().begin(), s.delivery().end(), in.delivery) == s.delivery().end()) {
    return in.delivery == v1::DELIVERY_IN_SCHOOL ? "not delivered in school"
           : in.delivery == v1::DELIVERY_OUT_OF_SCHOOL ? "not delivered out of school"
                                                       : "not delivered online";
  }
  if (s.capacity().maximum() > 0 && s.capacity().available() == 0) return "full: no places free";
  return "";
}

v1::ScoreComponent Component(absl::string_view name, int points, std::string reason) {
  v1::ScoreComponent c;
  c.set_name(std::string(name));
  c.set_points(points);
  c.set_reason(std::move(reason));
  return c;
}

}  // namespace

TriageResult Triage(const DirectoryIndex& index, const TriageInput& in,
                    const std::function<std::string(const std::string&)>& term_label) {
  std::vector<std::string> terms;
  int total_weight = 0;
  for (const cv1::Need& need : in.needs) {
    terms.push_back(need.term_id());
    total_weight += Weight(need.severity());
  }
  TriageResult result;
  std::vector<v1::RankedService> ranked;
  std::vector<v1::ExcludedService> excluded;
  index.ForEachOffering(terms, [&](const v1::Service& s) {
    if (std::string why = ExclusionReason(s, in); !why.empty()) {
      v1::ExcludedService& e = excluded.emplace_back();
      e.set_service_id(s.id());
      e.set_service_name(s.name());
      e.set_reason(std::move(why));
      return;
    }
    v1::RankedService r;
    std::vector<std::string> met;
    int covered = 0;
    for (const cv1::Need& need : in.needs) {
      if (std::find(s.taxonomy_term_ids().begin(), s.taxonomy_term_ids().end(), need.term_id()) !=
          s.taxonomy_term_ids().end()) {
        covered += Weight(need.severity());
        met.push_back(term_label(need.term_id()));
      }
    }
    const int coverage = total_weight == 0 ? 0 : (kCoveragePoints * covered + total_weight / 2) / total_weight;
    *r.add_components() = Component(
        "need_coverage", coverage,
        absl::StrCat("meets ", met.size(), " of ", in.needs.size(), " needs: ", absl::StrJoin(met, ", ")));
    *r.add_components() = Component("eligibility", 0, "eligible by age, year group and area");

    int distance_points = 0;
    std::string distance_reason;
    const bool online = std::find(s.delivery().begin(), s.delivery().end(), v1::DELIVERY_ONLINE) !=
                        s.delivery().end();
    std::optional<int64_t> metres;
    if (in.location) metres = NearestSiteMetres(s, *in.location);
    if (metres) {
      distance_points = int(kDistancePoints * std::max<int64_t>(0, kDistanceHorizonMetres - *metres) /
                            kDistanceHorizonMetres);
      distance_reason = absl::StrCat(Kilometres(*metres), " away");
    } else if (online) {
      distance_points = kDistancePoints * 3 / 4;
      distance_reason = "online";
    } else if (!in.location) {
      distance_points = kDistancePoints / 2;
      distance_reason = "no location given, so distance not scored";
    } else {
      distance_points = kDistancePoints / 4;
      distance_reason = "no site location published";
    }
    *r.add_components() = Component("distance", distance_points, distance_reason);

    const int wait = s.capacity().waiting_time_days();
    const int waiting_points =
        kWaitingPoints * std::max(0, kWaitingHorizonDays - wait) / kWaitingHorizonDays;
    *r.add_components() = Component(
        "waiting_time", waiting_points,
        wait == 0 ? std::string("no wait") : absl::StrCat("waiting about ", wait, " days"));

    int capacity_points = kCapacityPoints / 2;
    std::string capacity_reason = "places not published";
    if (s.capacity().maximum() > 0) {
      // Full marks with a quarter of places free or more.
      const int quarter = std::max(1, s.capacity().maximum() / 4);
      capacity_points = kCapacityPoints * std::min(s.capacity().available(), quarter) / quarter;
      capacity_reason = absl::StrCat(s.capacity().available(), " of ", s.capacity().maximum(),
                                     " places free");
    }
    *r.add_components() = Component("capacity", capacity_points, capacity_reason);

    int score = 0;
    for (const v1::ScoreComponent& c : r.components()) score += c.points();
    r.set_score(score);
    r.set_reason(absl::StrCat("meets ", absl::StrJoin(met, " and "), "; ", distance_reason, "; ",
                              r.components(3).reason(), "; ", capacity_reason));
    *r.mutable_service() = s;
    ranked.push_back(std::move(r));
  });
  std::sort(ranked.begin(), ranked.end(), [](const v1::RankedService& a, const v1::RankedService& b) {
    if (a.score() != b.score()) return a.score() > b.score();
    return a.service().id() < b.service().id();
  });
  if (ranked.size() > size_t(in.max_results)) ranked.resize(size_t(in.max_results));
  std::sort(excluded.begin(), excluded.end(),
            [](const v1::ExcludedService& a, const v1::ExcludedService& b) {
              return a.service_id() < b.service_id();
            });
  result.excluded_total = int(excluded.size());
  if (excluded.size() > size_t(kMaxExcluded)) excluded.resize(size_t(kMaxExcluded));
  result.ranked = std::move(ranked);
  result.excluded = std::move(excluded);
  return result;
}

}  // namespace rooted::directory
