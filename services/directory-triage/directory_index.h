#ifndef ROOTED_SERVICES_DIRECTORY_TRIAGE_DIRECTORY_INDEX_H_
#define ROOTED_SERVICES_DIRECTORY_TRIAGE_DIRECTORY_INDEX_H_

#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "rooted/directory/v1/directory.pb.h"

namespace rooted::directory {

namespace v1 = rooted::directory::v1;

struct GeoPoint {
  int64_t latitude_e6 = 0;
  int64_t longitude_e6 = 0;
};

struct SearchQuery {
  std::string text;
  std::string taxonomy_term_id;
  std::optional<int> age;
  std::optional<int> year_group;
  bool free_only = false;
  std::string area_code;
  std::optional<GeoPoint> near;
  int proximity_metres = 0;  // 0: no limit
  v1::Delivery delivery = v1::DELIVERY_UNSPECIFIED;
  std::string language;
  bool include_unapproved = false;
  absl::CivilDay today;
};

struct SearchHit {
  std::shared_ptr<const v1::Service> service;
  int64_t distance_metres = -1;
};

// What triage checks of every candidate, kept flat beside the record so the
// hot loop reads a few cache lines instead of walking the protobuf.
struct ServiceFacts {
  int32_t recommendable_until = 0;  // see RecommendableUntil
  int32_t min_age = 0, max_age = 200;
  int32_t min_year = 0, max_year = 14;
  bool year_rule = false;
  bool has_areas = false;
  bool free = false;
  bool online = false;
  int32_t available = 0, maximum = 0, waiting_days = 0;
  std::vector<GeoPoint> sites;  // those with coordinates
};

// The directory held in memory for search and triage: every service, a
// text index (word prefixes of name and description) and a taxonomy index.
// Reads share a lock; an update takes it briefly. Each replica keeps its own,
// loaded at start and kept current from the store's change feed.
class DirectoryIndex {
 public:
  void Upsert(const v1::Service& service);
  void Remove(const std::string& service_id);
  std::shared_ptr<const v1::Service> Find(const std::string& service_id) const;
  size_t size() const;
  // Every service (withdrawn ones too), of one organisation if given, by id.
  std::vector<std::shared_ptr<const v1::Service>> All(const std::string& organization_id) const;

  // Matching services, nearest first when a point is given, else by name;
  // `total` is the number before paging.
  std::vector<SearchHit> Search(const SearchQuery& query, size_t offset, size_t limit,
                                size_t* total) const;

  // A service offering some of the terms asked for.
  struct Offer {
    std::shared_ptr<const v1::Service> service;  // keeps `facts` alive too
    const ServiceFacts* facts = nullptr;
    // The sum of the weights of the terms it offers.
    int weight = 0;
  };
  // Every live service offering any of the weighted terms.
  std::vector<Offer> Offering(const std::vector<std::pair<std::string, int>>& weighted_terms) const;

  // The words of `text`, lower case, for indexing and queries.
  static std::vector<std::string> Words(absl::string_view text);

 private:
  struct Entry {
    std::shared_ptr<const v1::Service> service;
    const ServiceFacts* facts = nullptr;  // owned with `service`
    std::string sort_name;
    bool live = true;
  };
  static Entry MakeEntry(const v1::Service& service);
  void CompactLocked();

  mutable std::shared_mutex mu_;
  std::vector<Entry> entries_;
  std::unordered_map<std::string, uint32_t> by_id_;
  std::map<std::string, std::vector<uint32_t>> words_;
  std::unordered_map<std::string, std::vector<uint32_t>> terms_;
  size_t dead_ = 0;
};

// A point to measure many distances from, with its longitude scale worked out once.
struct DistanceOrigin {
  explicit DistanceOrigin(const GeoPoint& from);
  GeoPoint point;
  double x_scale;
};

// Distance to the service's nearest located site; nullopt when it has none
// with coordinates (online or unplaced services).
std::optional<int64_t> NearestSiteMetres(const v1::Service& service, const DistanceOrigin& from);
std::optional<int64_t> NearestSiteMetres(const ServiceFacts& facts, const DistanceOrigin& from);

// The last day `service` may be recommended, as days since 1970, or INT32_MIN.
int32_t RecommendableUntil(const v1::Service& service);
int32_t EpochDay(absl::CivilDay day);

}  // namespace rooted::directory

#endif  // ROOTED_SERVICES_DIRECTORY_TRIAGE_DIRECTORY_INDEX_H_
