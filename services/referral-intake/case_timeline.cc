#include "services/referral-intake/case_timeline.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/base/proto_date.h"
#include "common/base/status_macros.h"
#include "common/kafka/topics.h"
#include "common/redis/atomic_write.h"
#include "rooted/directory/v1/directory_events.pb.h"
#include "rooted/forum/v1/forum_events.pb.h"
#include "rooted/fund/v1/fund_events.pb.h"
#include "rooted/referral/v1/referral_events.pb.h"
#include "rooted/risk/v1/risk_events.pb.h"

namespace rooted::referral {
namespace cv1 = rooted::common::v1;
namespace fv1 = rooted::forum::v1;
namespace dv1 = rooted::directory::v1;
namespace pv1 = rooted::fund::v1;
namespace kv1 = rooted::risk::v1;
namespace {

// "DECISION_TYPE_REFER_TO_SERVICE" -> "refer to service".
template <typename Enum>
std::string Words(const std::string& name, absl::string_view prefix) {
  std::string words = name.rfind(std::string(prefix), 0) == 0 ? name.substr(prefix.size()) : name;
  for (char& c : words) c = c == '_' ? ' ' : char(absl::ascii_tolower(static_cast<unsigned char>(c)));
  return words;
}

std::string Pounds(const cv1::Money& money) {
  return absl::StrFormat("£%d.%02d", money.pence() / 100, money.pence() % 100);
}

std::string DateText(const cv1::Date& date) {
  absl::StatusOr<absl::CivilDay> day = FromProtoDate(date);
  return day.ok() ? absl::FormatCivilTime(*day) : "";
}

// Where a case has got to; later stages rank higher.
int Rank(v1::ReferralStatus status) {
  switch (status) {
    case v1::REFERRAL_STATUS_SUBMITTED:
      return 1;
    case v1::REFERRAL_STATUS_TRIAGED:
      return 2;
    case v1::REFERRAL_STATUS_LISTED_FOR_FORUM:
      return 3;
    case v1::REFERRAL_STATUS_IN_SUPPORT:
      return 4;
    default:
      return 0;  // declined, withdrawn, closed: not moved on by events
  }
}

struct Steps {
  const cv1::EventMetadata& metadata;
  std::vector<TimelineStep> out;
  void Add(const std::string& referral_id, std::string summary,
           std::optional<v1::ReferralStatus> reached = std::nullopt) {
    if (referral_id.empty()) return;
    TimelineStep& step = out.emplace_back();
    step.referral_id = referral_id;
    *step.entry.mutable_occurred_at() = metadata.occurred_at();
    step.entry.set_event_type(metadata.event_type());
    step.entry.set_summary(std::move(summary));
    *step.entry.mutable_actor() = metadata.actor();
    step.entry.set_event_id(metadata.event_id());
    step.reached = reached;
  }
};

void DescribeReferral(const v1::ReferralEvent& e, Steps& s) {
  switch (e.payload_case()) {
    case v1::ReferralEvent::kReferralSubmitted:
      s.Add(e.referral_submitted().referral_id(),
            e.referral_submitted().refer_to_forum() ? "Referred, asking for the Multi-Agency Forum"
                                                    : "Referred");
      break;
    case v1::ReferralEvent::kReferralUpdated:
      s.Add(e.referral_updated().referral_id(),
            absl::StrCat("Referral updated: ", absl::StrJoin(e.referral_updated().changed_fields(), ", ")));
      break;
    case v1::ReferralEvent::kReferralWithdrawn:
      s.Add(e.referral_withdrawn().referral_id(), "Referral withdrawn");
      break;
    case v1::ReferralEvent::kConsentRecorded:
      s.Add(e.consent_recorded().referral_id(),
            absl::StrCat("Consent ", Words<v1::ConsentStatus>(v1::ConsentStatus_Name(e.consent_recorded().status()),
                                                              "CONSENT_STATUS_")));
      break;
    case v1::ReferralEvent::kCaseClosed:
      s.Add(e.case_closed().referral_id(),
            absl::StrCat("Case closed: ", Words<v1::CaseOutcome>(v1::CaseOutcome_Name(e.case_closed().outcome()),
                                                                 "CASE_OUTCOME_")));
      break;
    case v1::ReferralEvent::kReferralScreened: {
      const v1::ReferralScreened& sc = e.referral_screened();
      std::string summary = absl::StrCat(sc.overridden() ? "Screening overridden for " : "Screened for ",
                                         sc.programme_id(), ": ",
                                         Words<v1::ScreeningOutcome>(v1::ScreeningOutcome_Name(sc.outcome()),
                                                                     "SCREENING_OUTCOME_"));
      if (!sc.pathway().empty()) absl::StrAppend(&summary, " to ", sc.pathway());
      if (!sc.rule_id().empty() && !sc.overridden()) absl::StrAppend(&summary, " (rule ", sc.rule_id(), ")");
      s.Add(sc.referral_id(), summary);
      break;
    }
    case v1::ReferralEvent::kLeadAllocated: {
      const v1::LeadAllocated& a = e.lead_allocated();
      s.Add(a.referral_id(), absl::StrCat("Allocated to a programme lead at ", a.partner_id(),
                                          a.previous_partner_id().empty() ? "" : " (moved from " + a.previous_partner_id() + ")"),
            v1::REFERRAL_STATUS_IN_SUPPORT);
      break;
    }
    default:
      break;
  }
}

void DescribeForum(const fv1::ForumEvent& e, Steps& s) {
  switch (e.payload_case()) {
    case fv1::ForumEvent::kCaseListed: {
      const fv1::ForumCase& c = e.case_listed().forum_case();
      std::string summary = "Listed for the Multi-Agency Forum";
      if (c.has_hear_by()) absl::StrAppend(&summary, ", to be heard by ", DateText(c.hear_by()), " (", c.priority_reason(), ")");
      s.Add(c.referral_id(), std::move(summary), v1::REFERRAL_STATUS_LISTED_FOR_FORUM);
      break;
    }
    case fv1::ForumEvent::kCaseWithdrawn:
      s.Add(e.case_withdrawn().forum_case().referral_id(), "Taken off the forum's list");
      break;
    case fv1::ForumEvent::kDecisionRecorded: {
      const fv1::Decision& d = e.decision_recorded().decision();
      std::string summary = absl::StrCat(
          "Forum decision: ", Words<fv1::DecisionType>(fv1::DecisionType_Name(d.type()), "DECISION_TYPE_"));
      if (!d.target_id().empty()) absl::StrAppend(&summary, " (", d.target_id(), ")");
      if (d.has_fund_amount()) absl::StrAppend(&summary, " of ", Pounds(d.fund_amount()));
      if (d.has_review_on()) absl::StrAppend(&summary, " on ", DateText(d.review_on()));
      const bool support = d.type() != fv1::DECISION_TYPE_REVIEW && d.type() != fv1::DECISION_TYPE_NO_FURTHER_ACTION;
      s.Add(e.decision_recorded().referral_id(), std::move(summary),
            support ? std::optional(v1::REFERRAL_STATUS_IN_SUPPORT) : std::nullopt);
      break;
    }
    case fv1::ForumEvent::kActionAssigned: {
      const fv1::Action& a = e.action_assigned().action();
      s.Add(e.action_assigned().referral_id(),
            absl::StrCat("Action for ", OrganisationName(a.owner().type(), a.owner().id()), ", due ", DateText(a.due())));
      break;
    }
    case fv1::ForumEvent::kActionCompleted:
      s.Add(e.action_completed().referral_id(), "Action completed");
      break;
    case fv1::ForumEvent::kActionOverdue:
      s.Add(e.action_overdue().referral_id(),
            absl::StrCat("Action overdue (was due ", DateText(e.action_overdue().action().due()), ")"));
      break;
    default:
      break;
  }
}

void DescribeDirectory(const dv1::DirectoryEvent& e, Steps& s) {
  if (e.has_triage_recommended()) {
    s.Add(e.triage_recommended().referral_id(),
          absl::StrCat("Triage recommended ", e.triage_recommended().service_ids_size(), " services"),
          v1::REFERRAL_STATUS_TRIAGED);
  } else if (e.has_service_referral_made()) {
    const auto& made = e.service_referral_made();
    // Providers from an imported directory need not be RootED organisations:
    // then the directory's own organisation id names them.
    const std::string provider = made.provider().type() != cv1::ORGANISATION_TYPE_UNSPECIFIED
                                     ? OrganisationName(made.provider().type(), made.provider().id())
                                     : made.service_referral().organization_id();
    s.Add(made.service_referral().referral_id(),
          absl::StrCat("Referred to service ", made.service_referral().service_id(), " of ", provider),
          v1::REFERRAL_STATUS_IN_SUPPORT);
  }
}

}  // namespace

std::vector<TimelineStep> DescribeReferralEvent(const v1::ReferralEvent& event) {
  Steps s{event.metadata(), {}};
  DescribeReferral(event, s);
  return std::move(s.out);
}

void AppendToTimeline(const ReferralStore& store, WriteBatch& batch, const v1::ReferralEvent& event) {
  for (const TimelineStep& step : DescribeReferralEvent(event)) store.AppendTimeline(batch, step.referral_id, step.entry);
}

bool MovesCaseOn(v1::ReferralStatus current, v1::ReferralStatus reached) {
  return Rank(current) != 0 && Rank(reached) > Rank(current);
}

absl::StatusOr<std::vector<TimelineStep>> DescribeEvent(
    const ConsumedEvent& event,
    const std::function<absl::StatusOr<std::optional<std::string>>(const std::string&)>&
        referral_of_fund_request,
    const std::function<absl::StatusOr<std::vector<std::string>>(const std::string&)>&
        referrals_of_pupil) {
  auto unparsable = [&](const google::protobuf::Message& e) {
    return absl::InvalidArgumentError(absl::StrCat(
        "payload: is not a ", e.GetDescriptor()->full_name(), " (the event on ", event.topic, ")"));
  };
  if (event.topic == topics::kReferralEvents) {
    v1::ReferralEvent e;
    if (!e.ParseFromString(event.payload)) return unparsable(e);
    return DescribeReferralEvent(e);
  }
  if (event.topic == topics::kForumEvents) {
    fv1::ForumEvent e;
    if (!e.ParseFromString(event.payload)) return unparsable(e);
    Steps s{e.metadata(), {}};
    DescribeForum(e, s);
    return std::move(s.out);
  }
  if (event.topic == topics::kDirectoryEvents) {
    dv1::DirectoryEvent e;
    if (!e.ParseFromString(event.payload)) return unparsable(e);
    Steps s{e.metadata(), {}};
    DescribeDirectory(e, s);
    return std::move(s.out);
  }
  if (event.topic == topics::kFundEvents) {
    pv1::FundEvent e;
    if (!e.ParseFromString(event.payload)) return unparsable(e);
    Steps s{e.metadata(), {}};
    std::string paid_case;
    switch (e.payload_case()) {
      case pv1::FundEvent::kPaymentIssued:
      case pv1::FundEvent::kPaymentSettled:
      case pv1::FundEvent::kPaymentFailed: {
        const std::string& request = e.has_payment_issued() ? e.payment_issued().fund_request_id()
                                     : e.has_payment_settled()
                                         ? e.payment_settled().fund_request_id()
                                         : e.payment_failed().fund_request_id();
        ASSIGN_OR_RETURN(std::optional<std::string> found, referral_of_fund_request(request));
        paid_case = found.value_or("");
        break;
      }
      default:
        break;
    }
    switch (e.payload_case()) {
      case pv1::FundEvent::kFundRequestSubmitted: {
        const auto& f = e.fund_request_submitted();
        s.Add(f.referral_id(), absl::StrCat("Fund request of ", Pounds(f.amount()), " (",
                                            Words<pv1::Category>(pv1::Category_Name(f.category()), "CATEGORY_"),
                                            ") submitted"));
        break;
      }
      case pv1::FundEvent::kFundRequestApproved:
        s.Add(e.fund_request_approved().referral_id(), "Fund request approved");
        break;
      case pv1::FundEvent::kFundRequestRejected:
        s.Add(e.fund_request_rejected().referral_id(),
              absl::StrCat("Fund request rejected: ", e.fund_request_rejected().reason()));
        break;
      case pv1::FundEvent::kPaymentIssued:
        s.Add(paid_case,
              absl::StrCat("Payment of ", Pounds(e.payment_issued().amount()), " issued"));
        break;
      case pv1::FundEvent::kPaymentSettled:
        s.Add(paid_case, "Payment settled");
        break;
      case pv1::FundEvent::kPaymentFailed:
        s.Add(paid_case, absl::StrCat("Payment failed: ", e.payment_failed().reason()));
        break;
      default:
        break;
    }
    return std::move(s.out);
  }
  if (event.topic == topics::kRiskEvents) {
    kv1::RiskEvent e;
    if (!e.ParseFromString(event.payload)) return unparsable(e);
    Steps s{e.metadata(), {}};
    if (e.has_risk_band_changed()) {
      const auto& c = e.risk_band_changed();
      ASSIGN_OR_RETURN(const std::vector<std::string> referrals,
                       referrals_of_pupil(c.pupil_ref().value()));
      for (const std::string& referral : referrals) {
        s.Add(referral, absl::StrCat("Risk band ", Words<cv1::RiskBand>(cv1::RiskBand_Name(c.previous_band()), "RISK_BAND_"),
                                     " to ", Words<cv1::RiskBand>(cv1::RiskBand_Name(c.band()), "RISK_BAND_"),
                                     " (model ", c.model_version(), ")"));
      }
    } else if (e.has_cliff_edge_flagged()) {
      ASSIGN_OR_RETURN(const std::vector<std::string> referrals,
                       referrals_of_pupil(e.cliff_edge_flagged().pupil_ref().value()));
      for (const std::string& referral : referrals) {
        s.Add(referral, "Flagged as cliff-edge: near several thresholds");
      }
    }
    return std::move(s.out);
  }
  return std::vector<TimelineStep>{};
}

CaseTimelineHandler::CaseTimelineHandler(RedisClient& redis, RedisReferralStore& store,
                                         std::string prefix)
    : redis_(redis), store_(store), prefix_(std::move(prefix)) {}

absl::StatusOr<std::optional<WriteBatch>> CaseTimelineHandler::Prepare(const ConsumedEvent& event,
                                                        BatchContext& context) {
  const std::string fund_requests = prefix_ + ":fund_request_case";
  auto referral_of_fund_request =
      [&](const std::string& id) -> absl::StatusOr<std::optional<std::string>> {
    if (auto it = context.fund_request_case.find(id); it != context.fund_request_case.end()) {
      return it->second;
    }
    ASSIGN_OR_RETURN(RedisReply r, redis_.Command({"HGET", fund_requests, id}));
    if (r.is_nil()) return std::nullopt;
    return r.str;
  };
  // The submission indexed the pupil's cases itself, in its own atomic step.
  auto referrals_of_pupil =
      [&](const std::string& ref) -> absl::StatusOr<std::vector<std::string>> {
    ASSIGN_OR_RETURN(RedisReply r, redis_.Command({"SMEMBERS", store_.CasesOfPupilKey(ref)}));
    std::vector<std::string> ids;
    for (const RedisReply& e : r.elements) ids.push_back(e.str);
    return ids;
  };
  // Intake's own events were filed with the changes that raised them (and a
  // submission indexed the pupil's cases): nothing is left to do.
  if (event.topic == topics::kReferralEvents) return std::nullopt;
  WriteBatch batch;
  batch.guard_key = ProcessedEventKey(prefix_, event.dedup_key());
  batch.guard_value.assign(1, '1');
  batch.guard_ttl_seconds = kProcessedEventTtlSeconds;
  // The index later events are resolved through.
  if (event.topic == topics::kFundEvents) {
    rooted::fund::v1::FundEvent e;
    if (e.ParseFromString(event.payload) && e.has_fund_request_submitted()) {
      const auto& submitted = e.fund_request_submitted();
      batch.commands.push_back({"HSET", fund_requests, submitted.fund_request_id(), submitted.referral_id()});
      context.fund_request_case[submitted.fund_request_id()] = submitted.referral_id();
    }
  }
  ASSIGN_OR_RETURN(const std::vector<TimelineStep> steps,
                   DescribeEvent(event, referral_of_fund_request, referrals_of_pupil));
  for (const TimelineStep& step : steps) {
    // Entries of one instant (an approval and the payment it issues) keep
    // the order they were published in: within a pupil's partition, the offset.
    batch.commands.push_back(store_.TimelineAddCommand(step.referral_id, event.offset, step.entry));
    if (!step.reached) continue;
    absl::StatusOr<v1::Referral> referral = store_.Get(step.referral_id);
    if (absl::IsNotFound(referral.status())) continue;  // another council's case, or gone
    if (!referral.ok()) return referral.status();
    if (!MovesCaseOn(referral->status(), *step.reached)) continue;
    const int64_t version = referral->version();
    referral->set_status(*step.reached);
    referral->set_version(version + 1);
    store_.AppendWrite(batch, *referral, version);
  }
  return batch;
}

absl::StatusOr<ApplyResult> CaseTimelineHandler::Apply(const ConsumedEvent& event) {
  absl::StatusOr<std::vector<ApplyResult>> results = ApplyBatch({&event, 1});
  if (!results.ok()) return results.status();
  return results->front();
}

absl::StatusOr<std::vector<ApplyResult>> CaseTimelineHandler::ApplyBatch(
    std::span<const ConsumedEvent> events) {
  BatchContext context;
  std::vector<WriteBatch> batches;
  // Which batch each event wrote, or none when it had nothing to write.
  std::vector<std::optional<size_t>> batch_of_event;
  batches.reserve(events.size());
  for (const ConsumedEvent& event : events) {
    absl::StatusOr<std::optional<WriteBatch>> batch = Prepare(event, context);
    if (!batch.ok()) return batch.status();
    if (!*batch) {
      batch_of_event.emplace_back();
      continue;
    }
    batch_of_event.emplace_back(batches.size());
    batches.push_back(**std::move(batch));
  }
  absl::StatusOr<std::vector<WriteOutcome>> outcomes = ApplyEachAtomically(redis_, std::move(batches));
  if (!outcomes.ok()) return outcomes.status();
  std::vector<ApplyResult> results;
  for (const std::optional<size_t>& index : batch_of_event) {
    if (!index) {
      results.push_back(ApplyResult::kApplied);
      continue;
    }
    const WriteOutcome& outcome = (*outcomes)[*index];
    if (outcome.kind == WriteOutcome::Kind::kPreconditionFailed) {
      // A status read before an earlier event of the batch moved it: the
      // consumer redoes the batch one event at a time.
      return absl::AbortedError("the referral changed while its timeline was updated; retried");
    }
    results.push_back(outcome.kind == WriteOutcome::Kind::kApplied ? ApplyResult::kApplied
                                                                   : ApplyResult::kDuplicate);
  }
  return results;
}

absl::StatusOr<std::vector<v1::TimelineEntry>> CaseTimelineHandler::Timeline(
    const std::string& referral_id) {
  return store_.Timeline(referral_id);
}

}  // namespace rooted::referral
