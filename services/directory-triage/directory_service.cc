#include "services/directory-triage/directory_service.h"

#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/base/field_validation.h"
#include "common/base/ids.h"
#include "common/base/proto_date.h"
#include "common/base/proto_time.h"
#include "common/base/retry_later.h"
#include "common/base/status_macros.h"
#include "common/identity/needs_taxonomy.h"
#include "common/server/paging.h"
#include "services/directory-triage/directory_model.h"
#include "services/directory-triage/open_referral.h"

namespace rooted::directory {
namespace cv1 = rooted::common::v1;
namespace rv1 = rooted::referral::v1;
namespace {

constexpr int kDefaultPageSize = 20;
constexpr int kMaxPageSize = 100;
constexpr size_t kImportChunk = 200;
constexpr size_t kMaxProblemsShown = 100;
constexpr int kMaxDistricts = 5000;

absl::Status RequireCouncilOfficer(const Principal& who, absl::string_view method) {
  if (who.HasRole(cv1::ROLE_COUNCIL_OFFICER) &&
      who.organisation_type == cv1::ORGANISATION_TYPE_COUNCIL) {
    return absl::OkStatus();
  }
  return absl::PermissionDeniedError(absl::StrCat(method, ": council officers only"));
}

}  // namespace

absl::StatusOr<Versioned<v1::Service>> DirectoryServiceImpl::ServiceToChange(
    const Principal& who, const std::string& service_id, absl::string_view method) {
  RETURN_IF_ERROR(ValidateRecordId("service_id", service_id));
  DirectoryStore& store = core_.store();
  ASSIGN_OR_RETURN(auto service, store.Load<v1::Service>(store.ServiceKey(service_id), "service_id"));
  if (DirectoryCore::IsCouncil(who)) return service;
  absl::StatusOr<Versioned<v1::Organization>> org = store.Load<v1::Organization>(
      store.OrganizationKey(service.record.organization_id()), "service.organization_id");
  if (org.ok() && DirectoryCore::IsProvider(who, org->record)) return service;
  return absl::PermissionDeniedError(
      absl::StrCat(method, ": only the service's own organisation or the council may change it"));
}

absl::Status DirectoryServiceImpl::UpsertOrganization(const Principal& who,
                                                      const v1::UpsertOrganizationRequest* request,
                                                      v1::UpsertOrganizationResponse* response) {
  ASSIGN_OR_RETURN(bool replayed, Replayed(who, "UpsertOrganization", *request, response));
  if (replayed) return absl::OkStatus();
  v1::Organization org = request->organization();
  if (org.id().empty()) org.set_id(NewUuid());
  RETURN_IF_ERROR(ValidateRecordId("organization.id", org.id()));
  RETURN_IF_ERROR(ValidateOrganization(org));
  DirectoryStore& store = core_.store();
  absl::StatusOr<Versioned<v1::Organization>> existing =
      store.Load<v1::Organization>(store.OrganizationKey(org.id()), "organization.id");
  if (!existing.ok() && !absl::IsNotFound(existing.status())) return existing.status();
  const bool council = DirectoryCore::IsCouncil(who);
  // A partner keeps its own record and cannot claim another's.
  if (!council && (!DirectoryCore::IsProvider(who, org) ||
                   (existing.ok() && !DirectoryCore::IsProvider(who, existing->record)))) {
    return absl::PermissionDeniedError(
        "organization.ref: a partner may only edit its own organisation");
  }
  WriteBatch batch;
  store.Put(batch, store.OrganizationKey(org.id()), org, existing.ok() ? existing->version : 0);
  batch.commands.push_back({"SADD", store.OrganizationsKey(), org.id()});
  store.Audit(batch, core_.Audit(who, "UpsertOrganization", "organization", org.id(),
                                 request->request_id()));
  *response->mutable_organization() = org;
  return Commit(who, "UpsertOrganization", *request, response, std::move(batch));
}

absl::Status DirectoryServiceImpl::UpsertService(const Principal& who,
                                                 const v1::UpsertServiceRequest* request,
                                                 v1::UpsertServiceResponse* response) {
  ASSIGN_OR_RETURN(bool replayed, Replayed(who, "UpsertService", *request, response));
  if (replayed) return absl::OkStatus();
  v1::Service service = request->service();
  if (service.id().empty()) service.set_id(NewUuid());
  RETURN_IF_ERROR(ValidateRecordId("service.id", service.id()));
  RETURN_IF_ERROR(
      ValidateService(service, [&](const std::string& term) { return core_.IsKnownTerm(term); }));
  DirectoryStore& store = core_.store();
  ASSIGN_OR_RETURN(auto org,
                   store.Load<v1::Organization>(store.OrganizationKey(service.organization_id()),
                                                "service.organization_id"));
  const bool council = DirectoryCore::IsCouncil(who);
  if (!council && !DirectoryCore::IsProvider(who, org.record)) {
    return absl::PermissionDeniedError(
        "service.organization_id: a partner may only edit its own organisation's services");
  }
  absl::StatusOr<Versioned<v1::Service>> existing =
      store.Load<v1::Service>(store.ServiceKey(service.id()), "service.id");
  if (!existing.ok() && !absl::IsNotFound(existing.status())) return existing.status();
  if (existing.ok()) {
    if (existing->record.withdrawn()) {
      return absl::FailedPreconditionError("service.id: the service was withdrawn");
    }
    if (!council && existing->record.organization_id() != service.organization_id()) {
      return absl::PermissionDeniedError("service.id: the service belongs to another organisation");
    }
  }
  // Quality assurance is set only through SetQualityAssurance: the council
  // keeps it as it was; a provider's own edit goes back for approval.
  if (existing.ok() && council) {
    *service.mutable_quality() = existing->record.quality();
  } else {
    service.clear_quality();
    service.mutable_quality()->set_status(v1::QA_STATUS_PENDING);
  }
  service.set_withdrawn(false);
  *service.mutable_last_modified() = ToProtoTimestamp(core_.clock().Now());
  *service.mutable_capacity()->mutable_updated() = service.last_modified();
  WriteBatch batch;
  store.Put(batch, store.ServiceKey(service.id()), service, existing.ok() ? existing->version : 0);
  batch.commands.push_back({"SADD", store.ServicesKey(), service.id()});
  batch.commands.push_back(store.ChangeCommand("service", service.id()));
  v1::DirectoryEvent event;
  if (existing.ok()) {
    *event.mutable_service_updated()->mutable_service() = service;
  } else {
    *event.mutable_service_published()->mutable_service() = service;
  }
  core_.AddEvent(batch, who, service.id(), service.id(), std::move(event));
  store.Audit(batch,
              core_.Audit(who, "UpsertService", "service", service.id(), request->request_id()));
  *response->mutable_service() = service;
  RETURN_IF_ERROR(Commit(who, "UpsertService", *request, response, std::move(batch)));
  core_.index().Upsert(response->service());
  return absl::OkStatus();
}

absl::Status DirectoryServiceImpl::GetService(const Principal& who,
                                              const v1::GetServiceRequest* request,
                                              v1::GetServiceResponse* response) {
  RETURN_IF_ERROR(ValidateRecordId("service_id", request->service_id()));
  DirectoryStore& store = core_.store();
  ASSIGN_OR_RETURN(auto service,
                   store.Load<v1::Service>(store.ServiceKey(request->service_id()), "service_id"));
  absl::StatusOr<Versioned<v1::Organization>> org = store.Load<v1::Organization>(
      store.OrganizationKey(service.record.organization_id()), "organization_id");
  *response->mutable_service() =
      core_.Redacted(service.record, who, org.ok() ? &org->record : nullptr);
  return absl::OkStatus();
}

absl::Status DirectoryServiceImpl::SearchServices(const Principal& who,
                                                  const v1::SearchServicesRequest* request,
                                                  v1::SearchServicesResponse* response) {
  SearchQuery query;
  RETURN_IF_ERROR(ValidateText("text", request->text(), 200, false));
  query.text = request->text();
  if (!request->taxonomy_term_id().empty() && !core_.IsKnownTerm(request->taxonomy_term_id())) {
    return FieldError("taxonomy_term_id", "not a term of the needs taxonomy");
  }
  query.taxonomy_term_id = request->taxonomy_term_id();
  if (request->age() < 0 || request->age() > 120) return FieldError("age", "0 (any) to 120");
  if (request->age() > 0) query.age = request->age();
  if (request->year_group() < 0 || request->year_group() > 14) {
    return FieldError("year_group", "0 (any) to 14");
  }
  if (request->year_group() > 0) query.year_group = request->year_group();
  query.free_only = request->free_only();
  RETURN_IF_ERROR(ValidateText("area_code", request->area_code(), 20, false));
  query.area_code = request->area_code();
  ASSIGN_OR_RETURN(query.near, core_.LocateEither(request->postcode(), request->latitude_e6(),
                                                  request->longitude_e6(), ""));
  if (request->proximity_metres() < 0 || request->proximity_metres() > 200'000) {
    return FieldError("proximity_metres", "0 (any) to 200,000");
  }
  if (request->proximity_metres() > 0 && !query.near) {
    return FieldError("proximity_metres", "needs a postcode or coordinates to measure from");
  }
  query.proximity_metres = request->proximity_metres();
  if (!v1::Delivery_IsValid(request->delivery())) return FieldError("delivery", "unknown");
  query.delivery = request->delivery();
  RETURN_IF_ERROR(ValidateText("language", request->language(), 3, false));
  query.language = request->language();
  if (request->include_unapproved())
    RETURN_IF_ERROR(RequireCouncilOfficer(who, "include_unapproved"));
  query.include_unapproved = request->include_unapproved();
  query.today = core_.Today();
  ASSIGN_OR_RETURN(const Page page, ParsePage(request->page(), kDefaultPageSize, kMaxPageSize));
  size_t total = 0;
  for (const SearchHit& hit : core_.index().Search(query, page.offset, size_t(page.size), &total)) {
    *response->add_services() = core_.Redacted(*hit.service, who, nullptr);
    response->add_distance_metres(int32_t(hit.distance_metres));
  }
  response->set_total_items(int32_t(total));
  const size_t next = page.offset + size_t(response->services_size());
  response->mutable_page()->set_next_page_token(NextPageToken(next, next < total));
  return absl::OkStatus();
}

absl::Status DirectoryServiceImpl::SetQualityAssurance(
    const Principal& who, const v1::SetQualityAssuranceRequest* request,
    v1::SetQualityAssuranceResponse* response) {
  RETURN_IF_ERROR(RequireCouncilOfficer(who, "SetQualityAssurance"));
  ASSIGN_OR_RETURN(bool replayed, Replayed(who, "SetQualityAssurance", *request, response));
  if (replayed) return absl::OkStatus();
  const v1::QualityAssurance& asked = request->quality();
  if (asked.status() != v1::QA_STATUS_APPROVED && asked.status() != v1::QA_STATUS_SUSPENDED &&
      asked.status() != v1::QA_STATUS_PENDING) {
    return FieldError("quality.status", "approved, suspended or pending (expiry is automatic)");
  }
  const absl::CivilDay today = core_.Today();
  if (asked.status() == v1::QA_STATUS_APPROVED) {
    absl::StatusOr<absl::CivilDay> review = FromProtoDate(asked.review_date());
    if (!review.ok()) return FieldError("quality.review_date", "an approval needs a review date");
    if (*review <= today || *review > today + 3 * 366) {
      return FieldError("quality.review_date", "after today and within three years");
    }
  }
  ASSIGN_OR_RETURN(auto service,
                   ServiceToChange(who, request->service_id(), "SetQualityAssurance"));
  v1::Service& s = service.record;
  if (s.withdrawn()) return absl::FailedPreconditionError("service_id: the service was withdrawn");
  const v1::QaStatus previous = EffectiveQaStatus(s.quality(), today);
  s.mutable_quality()->set_status(asked.status());
  s.mutable_quality()->set_assessor_subject(who.subject);
  *s.mutable_quality()->mutable_assured_date() = ToProtoDate(today);
  *s.mutable_quality()->mutable_review_date() = asked.review_date();
  *s.mutable_last_modified() = ToProtoTimestamp(core_.clock().Now());
  DirectoryStore& store = core_.store();
  WriteBatch batch;
  store.Put(batch, store.ServiceKey(s.id()), s, service.version);
  batch.commands.push_back(store.ChangeCommand("service", s.id()));
  v1::DirectoryEvent event;
  v1::ServiceQualityChanged* changed = event.mutable_service_quality_changed();
  changed->set_service_id(s.id());
  changed->set_previous_status(previous);
  changed->set_status(asked.status());
  core_.AddEvent(batch, who, s.id(), s.id(), std::move(event));
  store.Audit(batch,
              core_.Audit(who, "SetQualityAssurance", "service", s.id(), request->request_id()));
  *response->mutable_service() = s;
  RETURN_IF_ERROR(Commit(who, "SetQualityAssurance", *request, response, std::move(batch)));
  core_.index().Upsert(response->service());
  return absl::OkStatus();
}

absl::Status DirectoryServiceImpl::WithdrawService(const Principal& who,
                                                   const v1::WithdrawServiceRequest* request,
                                                   v1::WithdrawServiceResponse* response) {
  ASSIGN_OR_RETURN(bool replayed, Replayed(who, "WithdrawService", *request, response));
  if (replayed) return absl::OkStatus();
  RETURN_IF_ERROR(ValidateText("reason", request->reason(), 500, true));
  ASSIGN_OR_RETURN(auto service, ServiceToChange(who, request->service_id(), "WithdrawService"));
  v1::Service& s = service.record;
  if (s.withdrawn()) return absl::FailedPreconditionError("service_id: already withdrawn");
  s.set_withdrawn(true);
  *s.mutable_last_modified() = ToProtoTimestamp(core_.clock().Now());
  DirectoryStore& store = core_.store();
  WriteBatch batch;
  store.Put(batch, store.ServiceKey(s.id()), s, service.version);
  batch.commands.push_back(store.ChangeCommand("service", s.id()));
  v1::DirectoryEvent event;
  event.mutable_service_withdrawn()->set_service_id(s.id());
  event.mutable_service_withdrawn()->set_organization_id(s.organization_id());
  event.mutable_service_withdrawn()->set_reason(request->reason());
  core_.AddEvent(batch, who, s.id(), s.id(), std::move(event));
  store.Audit(batch, core_.Audit(who, "WithdrawService", "service", s.id(), request->request_id()));
  *response->mutable_service() = s;
  RETURN_IF_ERROR(Commit(who, "WithdrawService", *request, response, std::move(batch)));
  core_.index().Upsert(response->service());
  return absl::OkStatus();
}

absl::Status DirectoryServiceImpl::UpdateCapacity(const Principal& who,
                                                  const v1::UpdateCapacityRequest* request,
                                                  v1::UpdateCapacityResponse* response) {
  ASSIGN_OR_RETURN(bool replayed, Replayed(who, "UpdateCapacity", *request, response));
  if (replayed) return absl::OkStatus();
  RETURN_IF_ERROR(ValidateCapacity(request->capacity(), "capacity"));
  ASSIGN_OR_RETURN(auto service, ServiceToChange(who, request->service_id(), "UpdateCapacity"));
  v1::Service& s = service.record;
  if (s.withdrawn()) return absl::FailedPreconditionError("service_id: the service was withdrawn");
  *s.mutable_capacity() = request->capacity();
  *s.mutable_last_modified() = ToProtoTimestamp(core_.clock().Now());
  *s.mutable_capacity()->mutable_updated() = s.last_modified();
  DirectoryStore& store = core_.store();
  WriteBatch batch;
  store.Put(batch, store.ServiceKey(s.id()), s, service.version);
  batch.commands.push_back(store.ChangeCommand("service", s.id()));
  v1::DirectoryEvent event;
  *event.mutable_service_updated()->mutable_service() = s;
  core_.AddEvent(batch, who, s.id(), s.id(), std::move(event));
  *response->mutable_service() = s;
  RETURN_IF_ERROR(Commit(who, "UpdateCapacity", *request, response, std::move(batch)));
  core_.index().Upsert(response->service());
  return absl::OkStatus();
}

absl::Status DirectoryServiceImpl::ImportChunk(const Principal& who, const std::string& request_id,
                                               size_t chunk,
                                               const std::vector<const v1::Service*>& services) {
  DirectoryStore& store = core_.store();
  std::vector<std::string> keys;
  for (const v1::Service* s : services) keys.push_back(store.ServiceKey(s->id()));
  ASSIGN_OR_RETURN(auto existing, store.LoadAll<v1::Service>(keys));
  std::map<std::string, const Versioned<v1::Service>*> by_id;
  for (const auto& e : existing) by_id[e.record.id()] = &e;
  WriteBatch batch;
  // Each chunk lands once, however often the import is retried.
  batch.guard_key = absl::StrCat(store.prefix(), ":import:", who.subject, ":", request_id, ":", chunk);
  batch.guard_value = "1";
  batch.guard_ttl_seconds = 7 * 24 * 3600;
  const google::protobuf::Timestamp now = ToProtoTimestamp(core_.clock().Now());
  std::vector<v1::Service> written;
  for (const v1::Service* imported : services) {
    v1::Service s = *imported;
    *s.mutable_last_modified() = now;
    auto it = by_id.find(s.id());
    store.Put(batch, store.ServiceKey(s.id()), s, it == by_id.end() ? 0 : it->second->version);
    batch.commands.push_back({"SADD", store.ServicesKey(), s.id()});
    batch.commands.push_back(store.ChangeCommand("service", s.id()));
    v1::DirectoryEvent event;
    if (it == by_id.end()) {
      *event.mutable_service_published()->mutable_service() = s;
    } else {
      *event.mutable_service_updated()->mutable_service() = s;
    }
    core_.AddEvent(batch, who, s.id(), request_id, std::move(event));
    written.push_back(std::move(s));
  }
  ASSIGN_OR_RETURN(WriteOutcome outcome, store.Commit(batch));
  if (outcome.kind == WriteOutcome::Kind::kPreconditionFailed) {
    return absl::AbortedError("json: a service changed while the import ran; retry the import");
  }
  if (outcome.kind == WriteOutcome::Kind::kApplied) {
    for (const v1::Service& s : written) core_.index().Upsert(s);
  }
  return absl::OkStatus();
}

absl::Status DirectoryServiceImpl::ImportOpenReferral(const Principal& who,
                                                      const v1::ImportOpenReferralRequest* request,
                                                      v1::ImportOpenReferralResponse* response) {
  RETURN_IF_ERROR(RequireCouncilOfficer(who, "ImportOpenReferral"));
  ASSIGN_OR_RETURN(bool replayed, Replayed(who, "ImportOpenReferral", *request, response));
  if (replayed) return absl::OkStatus();
  ASSIGN_OR_RETURN(OpenReferralImport imported, ParseOpenReferral(request->json()));
  DirectoryStore& store = core_.store();
  std::vector<std::string> problems = std::move(imported.problems);
  // Organisations first: each is a record of its own.
  std::set<std::string> organizations;
  {
    WriteBatch batch;
    std::vector<std::string> keys;
    for (const v1::Organization& o : imported.organizations)
      keys.push_back(store.OrganizationKey(o.id()));
    ASSIGN_OR_RETURN(auto existing, store.LoadAll<v1::Organization>(keys));
    std::map<std::string, int64_t> versions;
    for (const auto& e : existing) versions[e.record.id()] = e.version;
    for (const v1::Organization& o : imported.organizations) {
      absl::Status valid = ValidateRecordId("organization.id", o.id());
      if (valid.ok()) valid = ValidateOrganization(o);
      if (!valid.ok()) {
        problems.push_back(absl::StrCat("organization ", o.id(), ": ", valid.message()));
        continue;
      }
      store.Put(batch, store.OrganizationKey(o.id()), o, versions[o.id()]);
      batch.commands.push_back({"SADD", store.OrganizationsKey(), o.id()});
      organizations.insert(o.id());
    }
    batch.guard_key =
        absl::StrCat(store.prefix(), ":import:", who.subject, ":", request->request_id(), ":orgs");
    batch.guard_value = "1";
    batch.guard_ttl_seconds = 7 * 24 * 3600;
    ASSIGN_OR_RETURN(WriteOutcome outcome, store.Commit(batch));
    if (outcome.kind == WriteOutcome::Kind::kPreconditionFailed) {
      return absl::AbortedError("json: an organisation changed while the import ran; retry");
    }
  }
  ASSIGN_OR_RETURN(RedisReply known, store.redis().Command({"SMEMBERS", store.OrganizationsKey()}));
  for (const RedisReply& id : known.elements) organizations.insert(id.str);
  std::vector<const v1::Service*> valid;
  for (v1::Service& s : imported.services) {
    // Imported services are checked again by the council before they are recommended,
    // unless the export they came from carried an approval.
    if (s.quality().status() == v1::QA_STATUS_UNSPECIFIED)
      s.mutable_quality()->set_status(v1::QA_STATUS_PENDING);
    absl::Status ok = ValidateRecordId("service.id", s.id());
    if (ok.ok())
      ok = ValidateService(s, [&](const std::string& term) { return core_.IsKnownTerm(term); });
    if (ok.ok() && !organizations.contains(s.organization_id())) {
      ok = FieldError("service.organization_id",
                      "no such organisation in the document or directory");
    }
    if (!ok.ok()) {
      problems.push_back(absl::StrCat("service ", s.id(), ": ", ok.message()));
      continue;
    }
    valid.push_back(&s);
  }
  for (size_t i = 0; i < valid.size(); i += kImportChunk) {
    std::vector<const v1::Service*> chunk(
        valid.begin() + long(i), valid.begin() + long(std::min(valid.size(), i + kImportChunk)));
    RETURN_IF_ERROR(ImportChunk(who, request->request_id(), i / kImportChunk, chunk));
  }
  response->set_organizations(int32_t(imported.organizations.size()));
  response->set_services(int32_t(valid.size()));
  for (size_t i = 0; i < problems.size() && i < kMaxProblemsShown; ++i)
    response->add_problems(problems[i]);
  WriteBatch done;
  store.Audit(done, core_.Audit(who, "ImportOpenReferral", "import", request->request_id(),
                                request->request_id()));
  return Commit(who, "ImportOpenReferral", *request, response, std::move(done));
}

absl::Status DirectoryServiceImpl::ExportOpenReferral(const Principal& who,
                                                      const v1::ExportOpenReferralRequest* request,
                                                      v1::ExportOpenReferralResponse* response) {
  if (!request->organization_id().empty()) {
    RETURN_IF_ERROR(ValidateRecordId("organization_id", request->organization_id()));
  }
  DirectoryStore& store = core_.store();
  std::vector<v1::Service> services;
  std::set<std::string> org_ids;
  for (const auto& s : core_.index().All(request->organization_id())) {
    services.push_back(core_.Redacted(*s, who, nullptr));
    org_ids.insert(s->organization_id());
  }
  std::vector<std::string> keys;
  for (const std::string& id : org_ids) keys.push_back(store.OrganizationKey(id));
  ASSIGN_OR_RETURN(auto orgs, store.LoadAll<v1::Organization>(keys));
  std::vector<v1::Organization> organizations;
  for (auto& o : orgs) organizations.push_back(std::move(o.record));
  response->set_json(rooted::directory::ExportOpenReferral(services, organizations));
  return absl::OkStatus();
}

absl::Status DirectoryServiceImpl::MakeServiceReferral(
    const Principal& who, const v1::MakeServiceReferralRequest* request,
    v1::MakeServiceReferralResponse* response) {
  ASSIGN_OR_RETURN(bool replayed, Replayed(who, "MakeServiceReferral", *request, response));
  if (replayed) return absl::OkStatus();
  RETURN_IF_ERROR(ValidateRecordId("service_id", request->service_id()));
  DirectoryStore& store = core_.store();
  // Whose the referral is the access rule has decided (on these same facts).
  ASSIGN_OR_RETURN(std::optional<ReferralFactsKeeper::Facts> facts,
                   referrals_.Find(request->referral_id()));
  if (!facts) return ReferralNotKnownHere("referral_id");
  const rv1::ReferralFacts& referral = facts->record;
  RETURN_IF_ERROR(CheckReferralUse(referral, rv1::CONSENT_SCOPE_SERVICES, "referral_id"));
  ASSIGN_OR_RETURN(auto service,
                   store.Load<v1::Service>(store.ServiceKey(request->service_id()), "service_id"));
  if (std::string why = NotRecommendableReason(service.record, core_.Today()); !why.empty()) {
    return absl::FailedPreconditionError(absl::StrCat("service_id: ", why));
  }
  ASSIGN_OR_RETURN(auto org, store.Load<v1::Organization>(
                                 store.OrganizationKey(service.record.organization_id()),
                                 "service.organization_id"));
  v1::ServiceReferral made;
  made.set_referral_id(referral.referral_id());
  made.set_service_id(service.record.id());
  made.set_organization_id(org.record.id());
  *made.mutable_made_by() = who.ToActor();
  *made.mutable_made_at() = ToProtoTimestamp(core_.clock().Now());
  const std::string field = absl::StrCat(referral.referral_id(), "|", service.record.id());
  WriteBatch batch;
  batch.preconditions.push_back({store.ServiceReferralsKey(), field, ""});
  const ReferralFactsKeeper::Guard unchanged = referrals_.FactsUnchanged(*facts);
  batch.preconditions.push_back({unchanged.key, unchanged.field, unchanged.expected});
  batch.commands.push_back({"HSET", store.ServiceReferralsKey(), field, made.SerializeAsString()});
  v1::DirectoryEvent event;
  v1::ServiceReferralMade* e = event.mutable_service_referral_made();
  *e->mutable_service_referral() = made;
  *e->mutable_pupil_ref() = referral.pupil_ref();
  *e->mutable_provider() = org.record.ref();
  core_.AddEvent(batch, who, referral.pupil_ref().value(), referral.referral_id(),
                 std::move(event));
  AuditEntry entry = core_.Audit(who, "MakeServiceReferral", "referral", referral.referral_id(),
                                 request->request_id());
  entry.pupil_refs = {referral.pupil_ref().value()};
  store.Audit(batch, entry);
  *response->mutable_service_referral() = made;
  absl::Status committed = Commit(who, "MakeServiceReferral", *request, response, std::move(batch));
  if (!absl::IsAborted(committed)) return committed;
  ASSIGN_OR_RETURN(std::optional<std::string> made_before,
                   store.HashField(store.ServiceReferralsKey(), field));
  if (made_before) {
    return absl::AlreadyExistsError("service_id: this child is already referred to this service");
  }
  return RetryLater("referral_id: the referral changed while this request ran; retry",
                    absl::Milliseconds(200));
}

absl::Status DirectoryServiceImpl::LoadPostcodeDistricts(
    const Principal& who, const v1::LoadPostcodeDistrictsRequest* request,
    v1::LoadPostcodeDistrictsResponse* response) {
  RETURN_IF_ERROR(RequireCouncilOfficer(who, "LoadPostcodeDistricts"));
  ASSIGN_OR_RETURN(bool replayed, Replayed(who, "LoadPostcodeDistricts", *request, response));
  if (replayed) return absl::OkStatus();
  if (request->districts().empty() || request->districts_size() > kMaxDistricts) {
    return FieldError("districts", absl::StrCat("give 1 to ", kMaxDistricts));
  }
  DirectoryStore& store = core_.store();
  std::vector<std::string> hset = {"HSET", store.PostcodesKey()};
  for (int i = 0; i < request->districts_size(); ++i) {
    const v1::PostcodeDistrict& d = request->districts(i);
    const std::string path = absl::StrCat("districts[", i, "]");
    if (PostcodeDistrict(d.district()) != d.district()) {
      return FieldError(path + ".district", "an outward code in capitals, such as \"LS6\"");
    }
    if (d.latitude_e6() < 49'000'000 || d.latitude_e6() > 61'000'000 ||
        d.longitude_e6() < -9'000'000 || d.longitude_e6() > 3'000'000) {
      return FieldError(path, "coordinates outside the United Kingdom");
    }
    hset.insert(hset.end(), {d.district(), absl::StrCat(d.latitude_e6(), ",", d.longitude_e6())});
  }
  WriteBatch batch;
  batch.commands.push_back(std::move(hset));
  batch.commands.push_back(store.ChangeCommand("postcodes", ""));
  store.Audit(batch,
              core_.Audit(who, "LoadPostcodeDistricts", "postcodes", "", request->request_id()));
  response->set_loaded(request->districts_size());
  RETURN_IF_ERROR(Commit(who, "LoadPostcodeDistricts", *request, response, std::move(batch)));
  return core_.ReloadTables();
}

absl::Status DirectoryServiceImpl::UpsertTaxonomyTerm(const Principal& who,
                                                      const v1::UpsertTaxonomyTermRequest* request,
                                                      v1::UpsertTaxonomyTermResponse* response) {
  RETURN_IF_ERROR(RequireCouncilOfficer(who, "UpsertTaxonomyTerm"));
  ASSIGN_OR_RETURN(bool replayed, Replayed(who, "UpsertTaxonomyTerm", *request, response));
  if (replayed) return absl::OkStatus();
  const v1::TaxonomyTerm& term = request->term();
  if (term.id().rfind("la-", 0) != 0 || !IsKnownNeedsTerm(term.id())) {
    return FieldError("term.id", "a council term: \"la-\" then lower-case letters, digits or '-'");
  }
  RETURN_IF_ERROR(ValidateText("term.label", term.label(), 100, true));
  DirectoryStore& store = core_.store();
  WriteBatch batch;
  batch.commands.push_back({"HSET", store.TermsKey(), term.id(), term.label()});
  batch.commands.push_back(store.ChangeCommand("terms", term.id()));
  store.Audit(batch, core_.Audit(who, "UpsertTaxonomyTerm", "taxonomy_term", term.id(),
                                 request->request_id()));
  *response->mutable_term() = term;
  RETURN_IF_ERROR(Commit(who, "UpsertTaxonomyTerm", *request, response, std::move(batch)));
  return core_.ReloadTables();
}

absl::Status DirectoryServiceImpl::ListTaxonomyTerms(
    const Principal& /*who*/, const v1::ListTaxonomyTermsRequest* /*request*/,
    v1::ListTaxonomyTermsResponse* response) {
  for (v1::TaxonomyTerm& term : core_.Terms()) *response->add_terms() = std::move(term);
  return absl::OkStatus();
}

void DirectoryServiceImpl::Bind(GuardedService& service) {
  service.Handle("UpsertOrganization", *this, &DirectoryServiceImpl::UpsertOrganization);
  service.Handle("UpsertService", *this, &DirectoryServiceImpl::UpsertService);
  service.Handle("GetService", *this, &DirectoryServiceImpl::GetService);
  service.Handle("SearchServices", *this, &DirectoryServiceImpl::SearchServices);
  service.Handle("SetQualityAssurance", *this, &DirectoryServiceImpl::SetQualityAssurance);
  service.Handle("ImportOpenReferral", *this, &DirectoryServiceImpl::ImportOpenReferral);
  service.Handle("ExportOpenReferral", *this, &DirectoryServiceImpl::ExportOpenReferral);
  service.Handle("WithdrawService", *this, &DirectoryServiceImpl::WithdrawService);
  service.Handle("UpdateCapacity", *this, &DirectoryServiceImpl::UpdateCapacity);
  service.Handle("MakeServiceReferral", *this, &DirectoryServiceImpl::MakeServiceReferral);
  service.Handle("LoadPostcodeDistricts", *this, &DirectoryServiceImpl::LoadPostcodeDistricts);
  service.Handle("UpsertTaxonomyTerm", *this, &DirectoryServiceImpl::UpsertTaxonomyTerm);
  service.Handle("ListTaxonomyTerms", *this, &DirectoryServiceImpl::ListTaxonomyTerms);
}

}  // namespace rooted::directory
