#include "services/directory-triage/directory_core.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/base/field_validation.h"
#include "common/base/proto_time.h"
#include "common/base/status_macros.h"
#include "common/identity/needs_taxonomy.h"
#include "common/kafka/event_metadata.h"
#include "common/kafka/topics.h"
#include "services/directory-triage/directory_model.h"

namespace rooted::directory {
namespace cv1 = rooted::common::v1;

DirectoryCore::DirectoryCore(DirectoryStore& store, DirectoryIndex& index, const Clock& clock,
                             DirectoryOptions options)
    : store_(store), index_(index), clock_(clock), options_(std::move(options)) {}

absl::Status DirectoryCore::Load() {
  // Note where the feed stands first, so nothing changed during the load is missed.
  ASSIGN_OR_RETURN(RedisReply last,
                   store_.redis().Command({"XREVRANGE", store_.ChangesKey(), "+", "-", "COUNT", "1"}));
  {
    std::lock_guard lock(mu_);
    last_change_ = last.elements.empty() ? "0" : last.elements[0].elements[0].str;
  }
  RETURN_IF_ERROR(LoadTables());
  ASSIGN_OR_RETURN(std::vector<std::string> ids, store_.SetMembers(store_.ServicesKey()));
  for (size_t i = 0; i < ids.size(); i += 1000) {
    std::vector<std::string> keys;
    for (size_t j = i; j < std::min(ids.size(), i + 1000); ++j) keys.push_back(store_.ServiceKey(ids[j]));
    ASSIGN_OR_RETURN(auto services, store_.LoadAll<v1::Service>(keys));
    for (const auto& s : services) index_.Upsert(s.record);
  }
  return absl::OkStatus();
}

absl::Status DirectoryCore::LoadTables() {
  ASSIGN_OR_RETURN(RedisReply terms, store_.redis().Command({"HGETALL", store_.TermsKey()}));
  ASSIGN_OR_RETURN(RedisReply postcodes, store_.redis().Command({"HGETALL", store_.PostcodesKey()}));
  std::map<std::string, std::string> term_map;
  for (size_t i = 0; i + 1 < terms.elements.size(); i += 2) {
    term_map[terms.elements[i].str] = terms.elements[i + 1].str;
  }
  std::map<std::string, GeoPoint> postcode_map;
  for (size_t i = 0; i + 1 < postcodes.elements.size(); i += 2) {
    std::pair<std::string, std::string> latlon = absl::StrSplit(postcodes.elements[i + 1].str, ',');
    GeoPoint p;
    if (absl::SimpleAtoi(latlon.first, &p.latitude_e6) && absl::SimpleAtoi(latlon.second, &p.longitude_e6)) {
      postcode_map[postcodes.elements[i].str] = p;
    }
  }
  std::lock_guard lock(mu_);
  council_terms_ = std::move(term_map);
  postcodes_ = std::move(postcode_map);
  return absl::OkStatus();
}

absl::StatusOr<int> DirectoryCore::Follow() {
  // One follower at a time, so the feed position only moves forward.
  std::lock_guard follow(follow_mu_);
  int applied = 0;
  for (;;) {
    std::string from;
    {
      std::lock_guard lock(mu_);
      from = last_change_;
    }
    ASSIGN_OR_RETURN(RedisReply reply, store_.redis().Command({"XREAD", "COUNT", "1000", "STREAMS",
                                                               store_.ChangesKey(), from}));
    if (reply.is_nil() || reply.elements.empty()) return applied;
    const RedisReply& entries = reply.elements[0].elements[1];
    if (entries.elements.empty()) return applied;
    bool tables = false;
    std::vector<std::string> service_keys;
    std::string last = from;
    for (const RedisReply& entry : entries.elements) {
      last = entry.elements[0].str;
      const RedisReply& fields = entry.elements[1];
      std::string kind, id, by;
      for (size_t i = 0; i + 1 < fields.elements.size(); i += 2) {
        if (fields.elements[i].str == "kind") kind = fields.elements[i + 1].str;
        if (fields.elements[i].str == "id") id = fields.elements[i + 1].str;
        if (fields.elements[i].str == "by") by = fields.elements[i + 1].str;
      }
      if (by == store_.replica()) continue;  // applied when it was written
      if (kind == "service") {
        service_keys.push_back(store_.ServiceKey(id));
      } else {
        tables = true;
      }
    }
    if (tables) RETURN_IF_ERROR(LoadTables());
    ASSIGN_OR_RETURN(auto services, store_.LoadAll<v1::Service>(service_keys));
    for (const auto& s : services) index_.Upsert(s.record);
    applied += int(entries.elements.size());
    std::lock_guard lock(mu_);
    last_change_ = last;
  }
}

absl::Status DirectoryCore::ReloadTables() { return LoadTables(); }

absl::StatusOr<int> DirectoryCore::ExpireQualityAssurance() {
  const absl::CivilDay today = Today();
  const Principal system{options_.producer_name, {cv1::ROLE_SERVICE},
                         cv1::ORGANISATION_TYPE_UNSPECIFIED, "", ""};
  int expired = 0;
  for (const auto& service : index_.All("")) {
    if (service->quality().status() != v1::QA_STATUS_APPROVED ||
        EffectiveQaStatus(service->quality(), today) != v1::QA_STATUS_EXPIRED) {
      continue;
    }
    ASSIGN_OR_RETURN(auto stored, store_.Load<v1::Service>(store_.ServiceKey(service->id()), "service_id"));
    if (stored.record.quality().status() != v1::QA_STATUS_APPROVED) continue;
    v1::Service s = stored.record;
    s.mutable_quality()->set_status(v1::QA_STATUS_EXPIRED);
    *s.mutable_last_modified() = ToProtoTimestamp(clock_.Now());
    WriteBatch batch;
    store_.Put(batch, store_.ServiceKey(s.id()), s, stored.version);
    batch.commands.push_back(store_.ChangeCommand("service", s.id()));
    v1::DirectoryEvent event;
    v1::ServiceQualityChanged* changed = event.mutable_service_quality_changed();
    changed->set_service_id(s.id());
    changed->set_previous_status(v1::QA_STATUS_APPROVED);
    changed->set_status(v1::QA_STATUS_EXPIRED);
    AddEvent(batch, system, s.id(), s.id(), std::move(event));
    ASSIGN_OR_RETURN(WriteOutcome outcome, store_.Commit(batch));
    if (outcome.kind == WriteOutcome::Kind::kApplied) {
      index_.Upsert(s);
      ++expired;
    }
  }
  return expired;
}

bool DirectoryCore::IsKnownTerm(const std::string& term_id) const {
  for (const NeedsTerm& t : DefaultNeedsTaxonomy()) {
    if (t.id == term_id) return true;
  }
  std::lock_guard lock(mu_);
  return council_terms_.contains(term_id);
}

std::string DirectoryCore::TermLabel(const std::string& term_id) const {
  for (const NeedsTerm& t : DefaultNeedsTaxonomy()) {
    if (t.id == term_id) return std::string(t.label);
  }
  std::lock_guard lock(mu_);
  auto it = council_terms_.find(term_id);
  return it == council_terms_.end() ? term_id : it->second;
}

std::vector<v1::TaxonomyTerm> DirectoryCore::Terms() const {
  std::vector<v1::TaxonomyTerm> terms;
  for (const NeedsTerm& t : DefaultNeedsTaxonomy()) {
    v1::TaxonomyTerm& term = terms.emplace_back();
    term.set_id(std::string(t.id));
    term.set_label(std::string(t.label));
  }
  std::lock_guard lock(mu_);
  for (const auto& [id, label] : council_terms_) {
    v1::TaxonomyTerm& term = terms.emplace_back();
    term.set_id(id);
    term.set_label(label);
  }
  return terms;
}

absl::StatusOr<GeoPoint> DirectoryCore::Locate(const std::string& postcode,
                                               absl::string_view field) const {
  const std::string district = PostcodeDistrict(postcode);
  if (district.empty()) return FieldError(field, "not a UK postcode or postcode district");
  std::lock_guard lock(mu_);
  auto it = postcodes_.find(district);
  if (it == postcodes_.end()) {
    return FieldError(field, absl::StrCat("district ", district, " is not in the council's postcode table"));
  }
  return it->second;
}

absl::StatusOr<std::optional<GeoPoint>> DirectoryCore::LocateEither(
    const std::string& postcode, int64_t latitude_e6, int64_t longitude_e6,
    absl::string_view path) const {
  const std::string prefix = path.empty() ? "" : absl::StrCat(path, ".");
  const bool coordinates = latitude_e6 != 0 || longitude_e6 != 0;
  if (coordinates && !postcode.empty()) {
    return FieldError(prefix + "postcode", "give a postcode or coordinates, not both");
  }
  if (coordinates) {
    if (latitude_e6 < -90'000'000 || latitude_e6 > 90'000'000) {
      return FieldError(prefix + "latitude_e6", "-90 to 90 degrees in microdegrees");
    }
    if (longitude_e6 < -180'000'000 || longitude_e6 > 180'000'000) {
      return FieldError(prefix + "longitude_e6", "-180 to 180 degrees in microdegrees");
    }
    return GeoPoint{latitude_e6, longitude_e6};
  }
  if (postcode.empty()) return std::nullopt;
  ASSIGN_OR_RETURN(GeoPoint point, Locate(postcode, prefix + "postcode"));
  return point;
}

bool DirectoryCore::IsCouncil(const Principal& who) { return ActsForCouncil(who); }

bool DirectoryCore::IsProvider(const Principal& who, const v1::Organization& organization) {
  return who.organisation_type == cv1::ORGANISATION_TYPE_PARTNER &&
         who.HasAnyRole({cv1::ROLE_PARTNER_WORKER, cv1::ROLE_PROGRAMME_LEAD}) &&
         organization.ref().type() == cv1::ORGANISATION_TYPE_PARTNER &&
         organization.ref().id() == who.organisation_id;
}

void DirectoryCore::AddEvent(WriteBatch& batch, const Principal& who, const std::string& key,
                             const std::string& correlation_id, v1::DirectoryEvent event) const {
  FillEventMetadata(event.mutable_metadata(), options_.producer_name, correlation_id, "",
                    PayloadTypeName(event), who, clock_.Now());
  store_.Publish(batch, ToOutboxEvent(topics::kDirectoryEvents, key, event.metadata(), event));
}

AuditEntry DirectoryCore::Audit(const Principal& who, absl::string_view action,
                                absl::string_view kind, const std::string& id,
                                const std::string& request_id) const {
  AuditEntry entry = AuditOf(who, action, clock_.Now());
  entry.record_kind = std::string(kind);
  entry.record_id = id;
  entry.purpose = "service directory";
  entry.agreement = options_.sharing_agreement;
  entry.request_id = request_id;
  return entry;
}

v1::Service DirectoryCore::Redacted(const v1::Service& service, const Principal& who,
                                    const v1::Organization* organization) const {
  if (IsCouncil(who) || (organization != nullptr && IsProvider(who, *organization))) return service;
  v1::Service out = service;
  for (v1::Location& l : *out.mutable_locations()) {
    if (!l.confidential()) continue;
    l.clear_postcode();
    l.clear_latitude_e6();
    l.clear_longitude_e6();
  }
  return out;
}

TriageResult DirectoryCore::Rank(const TriageInput& input) const {
  return Triage(index_, input, [this](const std::string& term) { return TermLabel(term); });
}

}  // namespace rooted::directory
