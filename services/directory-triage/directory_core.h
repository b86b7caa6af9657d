#ifndef ROOTED_SERVICES_DIRECTORY_TRIAGE_DIRECTORY_CORE_H_
#define ROOTED_SERVICES_DIRECTORY_TRIAGE_DIRECTORY_CORE_H_

#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "common/auth/principal.h"
#include "common/base/clock.h"
#include "rooted/directory/v1/directory_events.pb.h"
#include "services/directory-triage/directory_index.h"
#include "services/directory-triage/directory_store.h"
#include "services/directory-triage/triage.h"

namespace rooted::directory {

struct DirectoryOptions {
  std::string producer_name = "directory-triage";
  std::string sharing_agreement = "local-pilot";
  // Where "today" is reckoned for review dates.
  absl::TimeZone zone;
};

// What the directory's RPCs and its event handler share: the store, this
// replica's in-memory index and tables (kept current from the change feed),
// and the steps every change takes.
class DirectoryCore {
 public:
  DirectoryCore(DirectoryStore& store, DirectoryIndex& index, const Clock& clock,
                DirectoryOptions options);

  // Loads every service and the council's tables; then Follow keeps them current.
  absl::Status Load();
  // Applies changes other replicas made since the last call.
  absl::StatusOr<int> Follow();
  // After this replica changed the council's tables.
  absl::Status ReloadTables();
  // Persists expiry of approved services past their review date, with a
  // ServiceQualityChanged event each, once.
  absl::StatusOr<int> ExpireQualityAssurance();

  absl::CivilDay Today() const { return absl::ToCivilDay(clock_.Now(), options_.zone); }
  const Clock& clock() const { return clock_; }
  DirectoryStore& store() { return store_; }
  DirectoryIndex& index() { return index_; }
  const DirectoryOptions& options() const { return options_; }

  bool IsKnownTerm(const std::string& term_id) const;
  std::string TermLabel(const std::string& term_id) const;
  std::vector<v1::TaxonomyTerm> Terms() const;
  // The centroid of a postcode's district; INVALID_ARGUMENT naming `field`.
  absl::StatusOr<GeoPoint> Locate(const std::string& postcode, absl::string_view field) const;
  // A point given as coordinates, or by postcode, or neither; `path` prefixes
  // the fields named in errors ("profile" -> "profile.latitude_e6").
  absl::StatusOr<std::optional<GeoPoint>> LocateEither(const std::string& postcode,
                                                       int64_t latitude_e6, int64_t longitude_e6,
                                                       absl::string_view path) const;

  // Council officers (and forum coordinators) of any council act on the whole directory.
  static bool IsCouncil(const Principal& who);
  // The partner that runs `organization`.
  static bool IsProvider(const Principal& who, const v1::Organization& organization);

  void AddEvent(WriteBatch& batch, const Principal& who, const std::string& key,
                const std::string& correlation_id, v1::DirectoryEvent event) const;
  AuditEntry Audit(const Principal& who, absl::string_view action, absl::string_view kind,
                   const std::string& id, const std::string& request_id) const;
  // Confidential sites lose address and coordinates for all but the council and provider.
  v1::Service Redacted(const v1::Service& service, const Principal& who,
                       const v1::Organization* organization) const;

  TriageResult Rank(const TriageInput& input) const;

 private:
  absl::Status LoadTables();

  DirectoryStore& store_;
  DirectoryIndex& index_;
  const Clock& clock_;
  const DirectoryOptions options_;
  std::mutex follow_mu_;
  mutable std::mutex mu_;
  std::map<std::string, std::string> council_terms_;
  std::map<std::string, GeoPoint> postcodes_;
  std::string last_change_ = "0";
};

}  // namespace rooted::directory

#endif  // ROOTED_SERVICES_DIRECTORY_TRIAGE_DIRECTORY_CORE_H_
