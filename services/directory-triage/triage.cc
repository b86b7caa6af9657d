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

// Whether this child cannot use this service; the reason is written to
// `why` only when asked for (triage checks thousands, lists a hundred).
bool Excluded(const v1::Service& s, int32_t recommendable_until, const TriageInput& in,
              std::string* why) {
  if (recommendable_until < EpochDay(in.today)) {
    if (why) *why = NotRecommendableReason(s, in.today);
    return true;
  }
  std::string ineligible;
  if (!IsEligible(s.eligibility(), in.age, in.year_group, in.area_code, why ? &ineligible : nullptr)) {
    if (why) *why = absl::StrCat("not eligible: ", ineligible);
    return true;
  }
  if (in.free_only && !IsFree(s)) {
    if (why) *why = "charges, and only free services were asked for";
    return true;
  }
  if (!in.language.empty() &&
      std::find(s.languages().begin(), s.languages().end(), in.language) == s.languages().end()) {
    if (why) *why = absl::StrCat("not offered in the language asked for (", in.language, ")");
    return true;
  }
  if (in.delivery != v1::DELIVERY_UNSPECIFIED &&
      std::find(s.delivery().begin(), s.delivery().end(), in.delivery) == s.delivery().end()) {
    if (why) {
      *why = in.delivery == v1::DELIVERY_IN_SCHOOL       ? "not delivered in school"
             : in.delivery == v1::DELIVERY_OUT_OF_SCHOOL ? "not delivered out of school"
                                                         : "not delivered online";
    }
    return true;
  }
  if (s.capacity().maximum() > 0 && s.capacity().available() == 0) {
    if (why) *why = "full: no places free";
    return true;
  }
  return false;
}

// The same decision as Excluded, from the flat facts where it can be (the
// hot loop); the protobuf only for the rare language, delivery and area checks.
bool ExcludedFast(const v1::Service& s, const ServiceFacts& f, int32_t today, const TriageInput& in) {
  if (f.recommendable_until < today) return true;
  if (in.age) {
    if (*in.age < f.min_age || *in.age > f.max_age) return true;
  } else if (in.year_group) {
    const int youngest = YearGroupMinimumAge(*in.year_group);
    if (youngest + 1 < f.min_age || youngest > f.max_age) return true;
  }
  if (in.year_group && f.year_rule && (*in.year_group < f.min_year || *in.year_group > f.max_year)) {
    return true;
  }
  if (f.has_areas && !in.area_code.empty() &&
      !IsEligible(s.eligibility(), std::nullopt, std::nullopt, in.area_code, nullptr)) {
    return true;
  }
  if (in.free_only && !f.free) return true;
  if (!in.language.empty() || in.delivery != v1::DELIVERY_UNSPECIFIED) {
    if (Excluded(s, f.recommendable_until, in, nullptr)) return true;
  }
  return f.maximum > 0 && f.available == 0;
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
  int total_weight = 0;
  std::vector<std::pair<std::string, int>> terms;
  for (const cv1::Need& need : in.needs) {
    terms.emplace_back(need.term_id(), Weight(need.severity()));
    total_weight += Weight(need.severity());
  }
  // Score everything cheaply first; words and protos only for what is shown.
  struct Scored {
    const v1::Service* service;
    int coverage, distance, waiting, capacity, total;
    std::optional<int64_t> metres;
  };

  const std::vector<DirectoryIndex::Offer> offering = index.Offering(terms);
  const std::optional<DistanceOrigin> origin =
      in.location ? std::optional<DistanceOrigin>(DistanceOrigin(*in.location)) : std::nullopt;
  std::vector<Scored> scored;
  std::vector<const DirectoryIndex::Offer*> excluded;
  const int32_t today = EpochDay(in.today);
  for (const DirectoryIndex::Offer& offer : offering) {
    const v1::Service& s = *offer.service;
    const ServiceFacts& f = *offer.facts;
    if (ExcludedFast(s, f, today, in)) {
      excluded.push_back(&offer);
      continue;
    }
    Scored r{&s, 0, 0, 0, 0, 0, std::nullopt};
    r.coverage =
        total_weight == 0 ? 0 : (kCoveragePoints * offer.weight + total_weight / 2) / total_weight;
    if (origin) r.metres = NearestSiteMetres(f, *origin);
    const bool online = f.online;
    if (r.metres) {
      r.distance = int(kDistancePoints * std::max<int64_t>(0, kDistanceHorizonMetres - *r.metres) /
                       kDistanceHorizonMetres);
    } else if (online) {
      r.distance = kDistancePoints * 3 / 4;
    } else if (!in.location) {
      r.distance = kDistancePoints / 2;
    } else {
      r.distance = kDistancePoints / 4;
    }
    r.waiting = kWaitingPoints * std::max(0, kWaitingHorizonDays - f.waiting_days) / kWaitingHorizonDays;
    r.capacity = kCapacityPoints / 2;
    if (f.maximum > 0) {
      // Full marks with a quarter of places free or more.
      const int quarter = std::max(1, f.maximum / 4);
      r.capacity = kCapacityPoints * std::min(f.available, quarter) / quarter;
    }
    r.total = r.coverage + r.distance + r.waiting + r.capacity;
    scored.push_back(r);
  }
  auto better = [](const Scored& a, const Scored& b) {
    if (a.total != b.total) return a.total > b.total;
    return a.service->id() < b.service->id();
  };
  const size_t shown = std::min(scored.size(), size_t(std::max(0, in.max_results)));
  std::partial_sort(scored.begin(), scored.begin() + long(shown), scored.end(), better);

  TriageResult result;
  for (size_t i = 0; i < shown; ++i) {
    const Scored& r = scored[i];
    const v1::Service& s = *r.service;
    v1::RankedService& out = result.ranked.emplace_back();
    std::vector<std::string> met;
    for (const cv1::Need& need : in.needs) {
      if (std::find(s.taxonomy_term_ids().begin(), s.taxonomy_term_ids().end(), need.term_id()) !=
          s.taxonomy_term_ids().end()) {
        met.push_back(term_label(need.term_id()));
      }
    }
    *out.add_components() = Component(
        "need_coverage", r.coverage,
        absl::StrCat("meets ", met.size(), " of ", in.needs.size(), " needs: ", absl::StrJoin(met, ", ")));
    *out.add_components() = Component("eligibility", 0, "eligible by age, year group and area");
    const bool online = std::find(s.delivery().begin(), s.delivery().end(), v1::DELIVERY_ONLINE) !=
                        s.delivery().end();
    const std::string distance_reason =
        r.metres ? absl::StrCat(Kilometres(*r.metres), " away")
        : online ? std::string("online")
        : !in.location ? std::string("no location given, so distance not scored")
                       : std::string("no site location published");
    *out.add_components() = Component("distance", r.distance, distance_reason);
    const int wait = s.capacity().waiting_time_days();
    *out.add_components() = Component(
        "waiting_time", r.waiting,
        wait == 0 ? std::string("no wait") : absl::StrCat("waiting about ", wait, " days"));
    const std::string capacity_reason =
        s.capacity().maximum() > 0
            ? absl::StrCat(s.capacity().available(), " of ", s.capacity().maximum(), " places free")
            : std::string("places not published");
    *out.add_components() = Component("capacity", r.capacity, capacity_reason);
    out.set_score(r.total);
    out.set_reason(absl::StrCat("meets ", absl::StrJoin(met, " and "), "; ", distance_reason, "; ",
                                out.components(3).reason(), "; ", capacity_reason));
    *out.mutable_service() = s;
  }
  result.excluded_total = int(excluded.size());
  const size_t listed = std::min(excluded.size(), size_t(kMaxExcluded));
  std::partial_sort(excluded.begin(), excluded.begin() + long(listed), excluded.end(),
                    [](const DirectoryIndex::Offer* a, const DirectoryIndex::Offer* b) {
                      return a->service->id() < b->service->id();
                    });
  for (size_t i = 0; i < listed; ++i) {
    const DirectoryIndex::Offer& offer = *excluded[i];
    v1::ExcludedService& e = result.excluded.emplace_back();
    e.set_service_id(offer.service->id());
    e.set_service_name(offer.service->name());
    Excluded(*offer.service, offer.facts->recommendable_until, in, e.mutable_reason());
  }
  return result;
}

}  // namespace rooted::directory
