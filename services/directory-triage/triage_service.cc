#include "services/directory-triage/triage_service.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "common/base/field_validation.h"
#include "common/base/status_macros.h"
#include "rooted/referral/v1/referral_events.pb.h"

namespace rooted::directory {
namespace cv1 = rooted::common::v1;
namespace rv1 = rooted::referral::v1;
namespace {

constexpr int kRecommendedOnEvent = 5;

}  // namespace

absl::StatusOr<TriageInput> TriageInputFrom(const DirectoryCore& core, const v1::NeedsProfile& p,
                                            absl::string_view path) {
  TriageInput in;
  if (p.needs().empty() || p.needs_size() > 20) {
    return FieldError(absl::StrCat(path, ".needs"), "give 1 to 20 needs");
  }
  std::set<std::string> seen;
  for (int i = 0; i < p.needs_size(); ++i) {
    const cv1::Need& need = p.needs(i);
    const std::string at = absl::StrCat(path, ".needs[", i, "]");
    if (!core.IsKnownTerm(need.term_id()) || !seen.insert(need.term_id()).second) {
      return FieldError(at + ".term_id", "not a term of the needs taxonomy, or repeated");
    }
    if (!cv1::Severity_IsValid(need.severity())) return FieldError(at + ".severity", "unknown");
    in.needs.push_back(need);
  }
  if (p.age() < 0 || p.age() > 25) return FieldError(absl::StrCat(path, ".age"), "0 (not given) to 25");
  if (p.age() > 0) in.age = p.age();
  if (p.year_group() < 0 || p.year_group() > 14) {
    return FieldError(absl::StrCat(path, ".year_group"), "0 (not given) to 14");
  }
  if (p.year_group() > 0) in.year_group = p.year_group();
  RETURN_IF_ERROR(ValidateText(absl::StrCat(path, ".area_code"), p.area_code(), 20, false));
  in.area_code = p.area_code();
  ASSIGN_OR_RETURN(in.location, core.LocateEither(p.postcode(), p.latitude_e6(), p.longitude_e6(), path));
  in.free_only = p.free_only();
  RETURN_IF_ERROR(ValidateText(absl::StrCat(path, ".language"), p.language(), 3, false));
  in.language = p.language();
  if (!v1::Delivery_IsValid(p.delivery())) return FieldError(absl::StrCat(path, ".delivery"), "unknown");
  in.delivery = p.delivery();
  in.today = core.Today();
  return in;
}

TriageServiceImpl::TriageServiceImpl(DirectoryCore& core, Metrics& metrics)
    : core_(core),
      triaged_(prometheus::BuildCounter()
                   .Name("rooted_directory_triages_total")
                   .Help("Triage requests answered, by subject (referral or profile)")
                   .Labels(metrics.service_labels())
                   .Register(*metrics.registry())) {
  // Both series start at 0, so increase() sees the first of each.
  for (const char* subject : {"profile", "referral"}) triaged_.Add({{"subject", subject}});
}

absl::Status TriageServiceImpl::Triage(const Principal& who, const v1::TriageRequest* request,
                                       v1::TriageResponse* response) {
  const int max_results = request->max_results() == 0 ? 10 : request->max_results();
  if (max_results < 1 || max_results > 50) return FieldError("max_results", "1 to 50");
  TriageInput input;
  switch (request->subject_case()) {
    case v1::TriageRequest::kProfile: {
      ASSIGN_OR_RETURN(input, TriageInputFrom(core_, request->profile(), "profile"));
      break;
    }
    case v1::TriageRequest::kReferralId: {
      // Whose the referral is the access rule has decided (on its facts).
      DirectoryStore& store = core_.store();
      absl::StatusOr<Versioned<v1::ReferralNeeds>> needs =
          store.Load<v1::ReferralNeeds>(store.ReferralKey(request->referral_id()), "referral_id");
      if (absl::IsNotFound(needs.status())) return ReferralNotKnownHere("referral_id");
      if (!needs.ok()) return needs.status();
      ASSIGN_OR_RETURN(input, TriageInputFrom(core_, needs->record.profile(), "referral.profile"));
      break;
    }
    case v1::TriageRequest::SUBJECT_NOT_SET:
      return FieldError("subject", "give referral_id or profile");
  }
  input.max_results = max_results;
  TriageResult result = core_.Rank(input);
  for (v1::RankedService& r : result.ranked) {
    *r.mutable_service() = core_.Redacted(r.service(), who, nullptr);
    *response->add_ranked() = std::move(r);
  }
  for (v1::ExcludedService& e : result.excluded) *response->add_excluded() = std::move(e);
  response->set_excluded_total(result.excluded_total);
  triaged_.Add({{"subject", request->has_profile() ? "profile" : "referral"}}).Increment();
  return absl::OkStatus();
}

absl::StatusOr<ApplyResult> ReferralNeedsHandler::Apply(const ConsumedEvent& event) {
  rv1::ReferralEvent envelope;
  if (!envelope.ParseFromString(event.payload)) {
    return absl::InvalidArgumentError("payload is not a ReferralEvent");
  }
  DirectoryStore& store = core_.store();
  WriteBatch batch;
  ASSIGN_OR_RETURN(std::optional<ReferralFactsKeeper::Facts> facts, facts_.Stage(batch, envelope));
  std::optional<v1::ReferralNeeds> triage;
  switch (envelope.payload_case()) {
    case rv1::ReferralEvent::kReferralSubmitted: {
      const rv1::ReferralSubmitted& e = envelope.referral_submitted();
      v1::ReferralNeeds needs;
      needs.set_referral_id(e.referral_id());
      *needs.mutable_pupil_ref() = e.pupil_ref();
      needs.set_school_urn(e.school_urn());
      needs.set_la_code(e.la_code());
      *needs.mutable_profile()->mutable_needs() = e.needs();
      needs.mutable_profile()->set_year_group(e.year_group());
      ASSIGN_OR_RETURN(std::optional<std::string> exists,
                       store.HashField(store.ReferralKey(e.referral_id()), "version"));
      if (exists) break;  // already known: a replay from before the guard's time
      store.Put(batch, store.ReferralKey(e.referral_id()), needs, 0);
      triage = std::move(needs);
      break;
    }
    case rv1::ReferralEvent::kReferralUpdated: {
      const rv1::ReferralUpdated& e = envelope.referral_updated();
      absl::StatusOr<Versioned<v1::ReferralNeeds>> found =
          store.Load<v1::ReferralNeeds>(store.ReferralKey(e.referral_id()), "referral_id");
      if (absl::IsNotFound(found.status())) break;
      if (!found.ok()) return found.status();
      v1::ReferralNeeds needs = found->record;
      *needs.mutable_profile()->mutable_needs() = e.needs();
      needs.mutable_profile()->set_year_group(e.year_group());
      store.Put(batch, store.ReferralKey(e.referral_id()), needs, found->version);
      triage = std::move(needs);
      break;
    }
    case rv1::ReferralEvent::kReferralWithdrawn:
      batch.commands.push_back({"DEL", store.ReferralKey(envelope.referral_withdrawn().referral_id())});
      break;
    default:
      break;
  }
  if (triage) {
    absl::StatusOr<TriageInput> input = TriageInputFrom(core_, triage->profile(), "referral.profile");
    // A referral whose needs triage cannot read (none given) is kept, not triaged.
    if (input.ok()) {
      input->max_results = kRecommendedOnEvent;
      const TriageResult result = core_.Rank(*input);
      v1::DirectoryEvent out;
      v1::TriageRecommended* recommended = out.mutable_triage_recommended();
      recommended->set_referral_id(triage->referral_id());
      *recommended->mutable_pupil_ref() = triage->pupil_ref();
      for (const v1::RankedService& r : result.ranked) {
        recommended->add_service_ids(r.service().id());
        recommended->add_scores(r.score());
      }
      const Principal system{core_.options().producer_name, {cv1::ROLE_SERVICE},
                             cv1::ORGANISATION_TYPE_COUNCIL, triage->la_code(), triage->la_code()};
      core_.AddEvent(batch, system, triage->pupil_ref().value(), triage->referral_id(), std::move(out));
    }
  }
  absl::StatusOr<ApplyResult> applied = store.CommitConsumed(std::move(batch), event.dedup_key());
  if (facts && applied.ok() && *applied == ApplyResult::kApplied) facts_.Remember(*facts);
  return applied;
}

void TriageServiceImpl::Bind(GuardedService& service) {
  service.Handle("Triage", *this, &TriageServiceImpl::Triage);
}

}  // namespace rooted::directory
