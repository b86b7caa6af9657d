#include "services/directory-triage/directory_index.h"

#include <algorithm>
#include <cmath>
#include <mutex>

#include "absl/strings/ascii.h"
#include "common/base/proto_date.h"
#include "services/directory-triage/directory_model.h"

namespace rooted::directory {

std::vector<std::string> DirectoryIndex::Words(absl::string_view text) {
  std::vector<std::string> words;
  std::string word;
  auto flush = [&] {
    if (word.size() >= 2) words.push_back(word);
    word.clear();
  };
  for (char c : text) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (absl::ascii_isalnum(u) || u >= 0x80) {
      word += char(absl::ascii_tolower(u));
    } else {
      flush();
    }
  }
  flush();
  std::sort(words.begin(), words.end());
  words.erase(std::unique(words.begin(), words.end()), words.end());
  return words;
}

// Within a council's area the flat-earth (equirectangular) distance is within
// a fraction of a percent of the great circle, and needs no trigonometry per site.
DistanceOrigin::DistanceOrigin(const GeoPoint& from)
    : point(from), x_scale(std::cos(double(from.latitude_e6) * M_PI / 180.0 / 1e6)) {}

int32_t EpochDay(absl::CivilDay day) { return int32_t(day - absl::CivilDay(1970, 1, 1)); }

int32_t RecommendableUntil(const v1::Service& service) {
  if (service.withdrawn() || service.quality().status() != v1::QA_STATUS_APPROVED) return INT32_MIN;
  absl::StatusOr<absl::CivilDay> review = FromProtoDate(service.quality().review_date());
  return review.ok() ? EpochDay(*review) : INT32_MIN;
}

namespace {

std::vector<GeoPoint> Sites(const v1::Service& service) {
  std::vector<GeoPoint> sites;
  for (const v1::Location& l : service.locations()) {
    if (l.latitude_e6() == 0 && l.longitude_e6() == 0) continue;
    sites.push_back({l.latitude_e6(), l.longitude_e6()});
  }
  return sites;
}

std::optional<int64_t> Nearest(const std::vector<GeoPoint>& sites, const DistanceOrigin& from) {
  constexpr double kMetresPerMicrodegree = 6'371'000 * M_PI / 180.0 / 1e6;
  std::optional<int64_t> nearest;
  for (const GeoPoint& site : sites) {
    const double dx = double(site.longitude_e6 - from.point.longitude_e6) * from.x_scale;
    const double dy = double(site.latitude_e6 - from.point.latitude_e6);
    const int64_t d = int64_t(std::sqrt(dx * dx + dy * dy) * kMetresPerMicrodegree + 0.5);
    if (!nearest || d < *nearest) nearest = d;
  }
  return nearest;
}

// The record and its facts in one allocation.
struct Indexed {
  v1::Service service;
  ServiceFacts facts;
};

}  // namespace

std::optional<int64_t> NearestSiteMetres(const v1::Service& service, const DistanceOrigin& from) {
  return Nearest(Sites(service), from);
}

std::optional<int64_t> NearestSiteMetres(const ServiceFacts& facts, const DistanceOrigin& from) {
  return Nearest(facts.sites, from);
}

DirectoryIndex::Entry DirectoryIndex::MakeEntry(const v1::Service& service) {
  auto indexed = std::make_shared<Indexed>();
  indexed->service = service;
  ServiceFacts& f = indexed->facts;
  const v1::Eligibility& e = service.eligibility();
  f.recommendable_until = RecommendableUntil(service);
  f.min_age = e.minimum_age();
  f.max_age = e.maximum_age() == 0 ? 200 : e.maximum_age();
  f.year_rule = e.minimum_year_group() != 0 || e.maximum_year_group() != 0;
  f.min_year = e.minimum_year_group();
  f.max_year = e.maximum_year_group() == 0 ? 14 : e.maximum_year_group();
  f.has_areas = !e.area_codes().empty();
  f.free = IsFree(service);
  f.online = std::find(service.delivery().begin(), service.delivery().end(), v1::DELIVERY_ONLINE) !=
             service.delivery().end();
  f.available = service.capacity().available();
  f.maximum = service.capacity().maximum();
  f.waiting_days = service.capacity().waiting_time_days();
  f.sites = Sites(service);
  Entry entry;
  entry.sort_name = absl::AsciiStrToLower(service.name());
  entry.facts = &indexed->facts;
  entry.service = std::shared_ptr<const v1::Service>(indexed, &indexed->service);
  return entry;
}

void DirectoryIndex::Upsert(const v1::Service& service) {
  Entry fresh = MakeEntry(service);
  std::unique_lock lock(mu_);
  if (auto it = by_id_.find(service.id()); it != by_id_.end()) {
    Entry& existing = entries_[it->second];
    // Capacity, QA and most edits leave the indexed words and terms alone:
    // replace the record in place.
    if (existing.service->name() == service.name() &&
        existing.service->description() == service.description() &&
        std::equal(existing.service->taxonomy_term_ids().begin(),
                   existing.service->taxonomy_term_ids().end(),
                   service.taxonomy_term_ids().begin(), service.taxonomy_term_ids().end())) {
      existing.service = std::move(fresh.service);
      existing.facts = fresh.facts;
      return;
    }
    existing.live = false;
    ++dead_;
  }
  const uint32_t index = uint32_t(entries_.size());
  entries_.push_back(std::move(fresh));
  by_id_[service.id()] = index;
  for (std::string& word : Words(service.name() + " " + service.description())) {
    words_[std::move(word)].push_back(index);
  }
  for (const std::string& term : service.taxonomy_term_ids()) terms_[term].push_back(index);
  if (dead_ > 1024 && dead_ > entries_.size() / 2) CompactLocked();
}

void DirectoryIndex::Remove(const std::string& service_id) {
  std::unique_lock lock(mu_);
  auto it = by_id_.find(service_id);
  if (it == by_id_.end()) return;
  entries_[it->second].live = false;
  ++dead_;
  by_id_.erase(it);
}

void DirectoryIndex::CompactLocked() {
  std::vector<Entry> live;
  for (Entry& e : entries_) {
    if (e.live) live.push_back(std::move(e));
  }
  entries_.clear();
  by_id_.clear();
  words_.clear();
  terms_.clear();
  dead_ = 0;
  for (Entry& e : live) {
    const uint32_t index = uint32_t(entries_.size());
    by_id_[e.service->id()] = index;
    for (std::string& word : Words(e.service->name() + " " + e.service->description())) {
      words_[std::move(word)].push_back(index);
    }
    for (const std::string& term : e.service->taxonomy_term_ids()) terms_[term].push_back(index);
    entries_.push_back(std::move(e));
  }
}

std::shared_ptr<const v1::Service> DirectoryIndex::Find(const std::string& service_id) const {
  std::shared_lock lock(mu_);
  auto it = by_id_.find(service_id);
  return it == by_id_.end() ? nullptr : entries_[it->second].service;
}

size_t DirectoryIndex::size() const {
  std::shared_lock lock(mu_);
  return by_id_.size();
}

std::vector<std::shared_ptr<const v1::Service>> DirectoryIndex::All(
    const std::string& organization_id) const {
  std::shared_lock lock(mu_);
  std::vector<std::shared_ptr<const v1::Service>> out;
  for (const Entry& e : entries_) {
    if (e.live && (organization_id.empty() || e.service->organization_id() == organization_id)) {
      out.push_back(e.service);
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a->id() < b->id(); });
  return out;
}

std::vector<SearchHit> DirectoryIndex::Search(const SearchQuery& q, size_t offset, size_t limit,
                                              size_t* total) const {
  std::shared_lock lock(mu_);
  // Candidates: from the text index (every query word must prefix a word of
  // the service), then the taxonomy index, else everything.
  std::optional<std::vector<uint32_t>> candidates;
  for (const std::string& word : Words(q.text)) {
    std::vector<uint32_t> matches;
    for (auto it = words_.lower_bound(word); it != words_.end() && it->first.rfind(word, 0) == 0;
         ++it) {
      matches.insert(matches.end(), it->second.begin(), it->second.end());
    }
    std::sort(matches.begin(), matches.end());
    matches.erase(std::unique(matches.begin(), matches.end()), matches.end());
    if (candidates) {
      std::vector<uint32_t> both;
      std::set_intersection(candidates->begin(), candidates->end(), matches.begin(), matches.end(),
                            std::back_inserter(both));
      candidates = std::move(both);
    } else {
      candidates = std::move(matches);
    }
  }
  if (!q.taxonomy_term_id.empty()) {
    auto it = terms_.find(q.taxonomy_term_id);
    std::vector<uint32_t> with_term = it == terms_.end() ? std::vector<uint32_t>{} : it->second;
    if (candidates) {
      std::vector<uint32_t> both;
      std::set_intersection(candidates->begin(), candidates->end(), with_term.begin(),
                            with_term.end(), std::back_inserter(both));
      candidates = std::move(both);
    } else {
      candidates = std::move(with_term);
    }
  }
  std::vector<std::pair<const Entry*, int64_t>> matched;
  const int32_t today = EpochDay(q.today);
  const std::optional<DistanceOrigin> origin =
      q.near ? std::optional<DistanceOrigin>(DistanceOrigin(*q.near)) : std::nullopt;
  auto consider = [&](const Entry& e) {
    if (!e.live) return;
    const v1::Service& s = *e.service;
    if (!q.include_unapproved && e.facts->recommendable_until < today) return;
    if (q.free_only && !IsFree(s)) return;
    if (!IsEligible(s.eligibility(), q.age, q.year_group, q.area_code, nullptr)) return;
    if (q.delivery != v1::DELIVERY_UNSPECIFIED &&
        std::find(s.delivery().begin(), s.delivery().end(), q.delivery) == s.delivery().end()) {
      return;
    }
    if (!q.language.empty() &&
        std::find(s.languages().begin(), s.languages().end(), q.language) == s.languages().end()) {
      return;
    }
    int64_t distance = -1;
    if (q.near) {
      const std::optional<int64_t> d = NearestSiteMetres(*e.facts, *origin);
      if (q.proximity_metres > 0 && (!d || *d > q.proximity_metres)) return;
      distance = d.value_or(-1);
    }
    matched.emplace_back(&e, distance);
  };
  if (candidates) {
    for (uint32_t i : *candidates) consider(entries_[i]);
  } else {
    for (const Entry& e : entries_) consider(e);
  }
  // Nearest first (unplaced last) when a point is given; then by name and id.
  auto before = [&](const std::pair<const Entry*, int64_t>& a,
                    const std::pair<const Entry*, int64_t>& b) {
    if (q.near && a.second != b.second) {
      if (a.second < 0) return false;
      if (b.second < 0) return true;
      return a.second < b.second;
    }
    if (a.first->sort_name != b.first->sort_name) return a.first->sort_name < b.first->sort_name;
    return a.first->service->id() < b.first->service->id();
  };
  *total = matched.size();
  const size_t end = std::min(matched.size(), offset + limit);
  std::vector<SearchHit> hits;
  if (offset >= end) return hits;
  std::partial_sort(matched.begin(), matched.begin() + long(end), matched.end(), before);
  for (size_t i = offset; i < end; ++i) hits.push_back({matched[i].first->service, matched[i].second});
  return hits;
}

std::vector<DirectoryIndex::Offer> DirectoryIndex::Offering(
    const std::vector<std::pair<std::string, int>>& weighted_terms) const {
  std::shared_lock lock(mu_);
  std::vector<std::pair<uint32_t, int>> hits;
  for (const auto& [term, weight] : weighted_terms) {
    if (auto it = terms_.find(term); it != terms_.end()) {
      for (uint32_t i : it->second) hits.emplace_back(i, weight);
    }
  }
  std::sort(hits.begin(), hits.end());
  std::vector<Offer> out;
  out.reserve(hits.size());
  for (size_t i = 0; i < hits.size();) {
    const uint32_t index = hits[i].first;
    int weight = 0;
    for (; i < hits.size() && hits[i].first == index; ++i) weight += hits[i].second;
    const Entry& e = entries_[index];
    if (e.live) out.push_back({e.service, e.facts, weight});
  }
  return out;
}

}  // namespace rooted::directory
