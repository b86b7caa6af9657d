#include "tools/term/term.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <random>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/auth/jwt.h"
#include "common/base/proto_date.h"
#include "common/base/proto_money.h"
#include "common/base/proto_time.h"
#include "common/base/status_macros.h"
#include "common/server/rpc_guard.h"
#include "rooted/directory/v1/directory.grpc.pb.h"
#include "rooted/forum/v1/forum.grpc.pb.h"
#include "rooted/fund/v1/fund.grpc.pb.h"
#include "rooted/referral/v1/casework.grpc.pb.h"
#include "rooted/referral/v1/programme.grpc.pb.h"
#include "rooted/referral/v1/referral.grpc.pb.h"
#include "rooted/risk/v1/risk.grpc.pb.h"
#include "tools/cohort/cohort.h"
#include "tools/term/demo_directory.h"

namespace rooted::term {
namespace {

namespace cv1 = rooted::common::v1;
namespace rv1 = rooted::referral::v1;
namespace kv1 = rooted::risk::v1;
namespace dv1 = rooted::directory::v1;
namespace fv1 = rooted::forum::v1;
namespace pv1 = rooted::fund::v1;

constexpr int kMaxTermDays = 60;
constexpr int kMinTermDays = 20;
constexpr int kCandidatesPerSchool = 40;
constexpr const char* kPartnerId = "org-north-youth-trust";
constexpr absl::string_view kProgrammeId = "attendance-recovery-pilot";
constexpr const char* kLeadSubject = "lead-nyt-1";

// Someone the scenario signs in as.
struct Person {
  std::string subject;
  cv1::Role role;
  cv1::OrganisationType organisation_type;
  std::string organisation_id;
};

std::string Pounds(int64_t pence) {
  std::string whole = std::to_string(pence / 100);
  for (int i = int(whole.size()) - 3; i > 0; i -= 3) whole.insert(size_t(i), ",");
  return absl::StrFormat("£%s.%02d", whole, pence % 100);
}

std::string BandWord(cv1::RiskBand band) {
  switch (band) {
    case cv1::RISK_BAND_LOW: return "low";
    case cv1::RISK_BAND_MEDIUM: return "medium";
    case cv1::RISK_BAND_HIGH: return "high";
    case cv1::RISK_BAND_VERY_HIGH: return "very high";
    default: return "unscored";
  }
}

std::string DecisionWord(fv1::DecisionType type) {
  switch (type) {
    case fv1::DECISION_TYPE_ALLOCATE_PROGRAMME_LEAD: return "programme lead allocated";
    case fv1::DECISION_TYPE_REFER_TO_SERVICE: return "referred to a service";
    case fv1::DECISION_TYPE_REQUEST_FUND_SUPPORT: return "fund support";
    case fv1::DECISION_TYPE_ESCALATE_EARLY_HELP: return "escalated to early help";
    case fv1::DECISION_TYPE_ESCALATE_SOCIAL_CARE: return "escalated to social care";
    case fv1::DECISION_TYPE_NO_FURTHER_ACTION: return "no further action";
    case fv1::DECISION_TYPE_REVIEW: return "review";
    default: return "other";
  }
}

std::string FormatCounts(const std::map<std::string, int>& counts) {
  std::vector<std::string> parts;
  for (const auto& [what, n] : counts) parts.push_back(absl::StrCat(what, " ", n));
  return absl::StrJoin(parts, ", ");
}

// The school a signal belongs to (the school a move leaves).
const std::string& SignalSchool(const kv1::Signal& s) {
  if (s.has_attendance()) return s.attendance().school_urn();
  if (s.has_suspension()) return s.suspension().school_urn();
  if (s.has_exclusion()) return s.exclusion().school_urn();
  if (s.has_move()) return s.move().from_school_urn();
  return s.context().school_urn();
}

bool IsAbsence(const std::string& code) {
  static const std::set<std::string> kAbsent = {"I", "M", "C", "O", "N", "G", "U", "E"};
  return kAbsent.count(code) > 0;
}

// Contiguous runs of school days (gaps longer than a weekend split them):
// the terms and half-terms a forum's calendar is given.
std::vector<std::pair<absl::CivilDay, absl::CivilDay>> Runs(const std::vector<absl::CivilDay>& days) {
  std::vector<std::pair<absl::CivilDay, absl::CivilDay>> runs;
  for (const absl::CivilDay day : days) {
    if (!runs.empty() && day - runs.back().second <= 3) {
      runs.back().second = day;
    } else {
      runs.push_back({day, day});
    }
  }
  return runs;
}

class Scenario {
 public:
  Scenario(const TermOptions& options, SimulatedClock& clock, const Progress& progress,
           const PhaseHook& hook, std::unique_ptr<JwtSigner> signer)
      : options_(options),
        clock_(clock),
        progress_(progress),
        hook_(hook),
        signer_(std::move(signer)),
        cohort_([&] {
          cohort::CohortOptions c;
          c.la_code = options.la_code;
          c.schools = 15;  // every fifth a secondary: three pilots
          c.pupils = options.council_pupils;
          c.seed = options.seed;
          c.academic_year = TermAcademicYear(options.today);
          return c;
        }()),
        rng_(options.seed),
        referrals_(rv1::ReferralService::NewStub(Channel(options.targets.referral))),
        programmes_(rv1::ProgrammeService::NewStub(Channel(options.targets.referral))),
        casework_(rv1::CaseworkService::NewStub(Channel(options.targets.referral))),
        risk_(kv1::RiskScoringService::NewStub(Channel(options.targets.risk))),
        forum_(fv1::ForumService::NewStub(Channel(options.targets.forum))),
        directory_(dv1::DirectoryService::NewStub(Channel(options.targets.directory))),
        triage_(dv1::TriageService::NewStub(Channel(options.targets.directory))),
        fund_(pv1::FundService::NewStub(Channel(options.targets.fund))) {}

  absl::StatusOr<TermSummary> Play();

 private:
  struct Case {
    std::string referral_id;
    std::string upn;
    std::string school_urn;
    cv1::PupilRef pupil_ref;
    std::string top_service_id;
    std::string forum_case_id;
    bool heard = false;
    std::vector<fv1::DecisionType> decisions;
    int64_t fund_pence = 0;
    bool service_referred = false;
    bool fund_requested = false;
    bool lead_allocated = false;
  };

  static std::shared_ptr<grpc::Channel> Channel(const std::string& target) {
    return grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
  }

  // ---- people -----------------------------------------------------------
  Person Council(const std::string& who, cv1::Role role = cv1::ROLE_COUNCIL_OFFICER) const {
    return {who, role, cv1::ORGANISATION_TYPE_COUNCIL, options_.la_code};
  }
  Person SchoolLead(const std::string& urn) const {
    return {"head-" + urn, cv1::ROLE_SCHOOL_LEAD, cv1::ORGANISATION_TYPE_SCHOOL, urn};
  }
  Person SchoolStaff(const std::string& urn) const {
    return {"inclusion-lead-" + urn, cv1::ROLE_SCHOOL_STAFF, cv1::ORGANISATION_TYPE_SCHOOL, urn};
  }
  Person Chair() const { return Council("chair-1", cv1::ROLE_FORUM_COORDINATOR); }
  Person Connector() const { return Council("mis-connector", cv1::ROLE_SERVICE); }

  // ---- calls ------------------------------------------------------------
  absl::StatusOr<std::unique_ptr<grpc::ClientContext>> ContextAs(const Person& as) const {
    TokenRequest request;
    request.principal = {as.subject, {as.role}, as.organisation_type, as.organisation_id, options_.la_code};
    request.issuer = "rooted-local";
    request.audience = "rooted";
    request.issued_at = clock_.Now();
    request.lifetime = absl::Hours(1);
    ASSIGN_OR_RETURN(std::string token, signer_->Sign(request));
    auto context = std::make_unique<grpc::ClientContext>();
    context->AddMetadata("authorization", "Bearer " + token);
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    return context;
  }

  // One RPC as `as`, retried with the same request (and so the same
  // idempotency key) while the service is down or restarting.
  template <typename Stub, typename Request, typename Response>
  absl::Status Call(absl::string_view what, Stub& stub,
                    grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
                    const Person& as, const Request& request, Response* response) {
    const absl::Time give_up = absl::Now() + options_.event_wait;
    for (absl::Duration pause = absl::Milliseconds(50);; pause = std::min(pause * 2, absl::Seconds(1))) {
      ASSIGN_OR_RETURN(auto context, ContextAs(as));
      response->Clear();
      const grpc::Status status = (stub.*method)(context.get(), request, response);
      if (status.ok()) return absl::OkStatus();
      const bool transient = status.error_code() == grpc::UNAVAILABLE ||
                             status.error_code() == grpc::DEADLINE_EXCEEDED ||
                             status.error_code() == grpc::ABORTED;
      if (!transient || absl::Now() > give_up) {
        return absl::Status(absl::StatusCode(status.error_code()),
                            absl::StrCat(what, ": ", CodeName(status.error_code()), ": ", status.error_message()));
      }
      absl::SleepFor(pause);
    }
  }

  // Polls `ready` (which may fail with a final error) until it says yes.
  template <typename F>
  absl::Status WaitFor(absl::string_view what, F ready) {
    const absl::Time give_up = absl::Now() + options_.event_wait;
    while (true) {
      ASSIGN_OR_RETURN(bool done, ready());
      if (done) return absl::OkStatus();
      if (absl::Now() > give_up) {
        return absl::DeadlineExceededError(absl::StrCat("waited ", absl::FormatDuration(options_.event_wait),
                                                        " for ", what));
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
  }

  absl::Status At(absl::CivilDay day, int hour, int minute = 0) {
    return clock_.AdvanceTo(absl::FromCivil(absl::CivilMinute(day.year(), day.month(), day.day(), hour, minute),
                                            options_.zone));
  }
  absl::Status Later(absl::Duration d) { return clock_.AdvanceTo(clock_.Now() + d); }
  void Say(const std::string& line) const {
    if (progress_) progress_(line);
  }
  absl::Status Hook(Phase phase) { return hook_ ? hook_(phase) : absl::OkStatus(); }

  // ---- the phases ---------------------------------------------------------
  absl::Status PrepareRegisters();
  absl::Status StreamDay(absl::CivilDay day);
  absl::Status WaitForScores(absl::CivilDay day);
  absl::Status SetUpDirectory();
  absl::Status SetUpFund();
  absl::Status SetUpForum(absl::CivilDay from);
  absl::Status SetUpProgramme();
  absl::Status WaitForScreenings();
  absl::Status MakeReferrals();
  absl::Status TriageReferrals();
  absl::Status HoldMeeting(const fv1::Meeting& meeting);
  absl::Status CompleteFundRequests();
  absl::Status SettlePayments();
  absl::Status CountBands();
  absl::Status CloseCasesAndReport();
  rv1::ReferralDetails DetailsFor(const cohort::Pupil& pupil, const kv1::RiskProfile& profile, int n) const;

  const TermOptions& options_;
  SimulatedClock& clock_;
  const Progress& progress_;
  const PhaseHook& hook_;
  std::unique_ptr<JwtSigner> signer_;
  const cohort::Cohort cohort_;
  std::mt19937_64 rng_;
  std::unique_ptr<rv1::ReferralService::Stub> referrals_;
  std::unique_ptr<rv1::ProgrammeService::Stub> programmes_;
  std::unique_ptr<rv1::CaseworkService::Stub> casework_;
  std::unique_ptr<kv1::RiskScoringService::Stub> risk_;
  std::unique_ptr<fv1::ForumService::Stub> forum_;
  std::unique_ptr<dv1::DirectoryService::Stub> directory_;
  std::unique_ptr<dv1::TriageService::Stub> triage_;
  std::unique_ptr<pv1::FundService::Stub> fund_;

  TermSummary summary_;
  std::vector<absl::CivilDay> days_;
  std::map<std::string, const cohort::Pupil*> pupil_by_upn_;
  std::vector<kv1::Signal> contexts_;
  std::map<absl::CivilDay, std::vector<kv1::Signal>> signals_by_day_;
  // Supported pupils from the day of their first forum decision: the
  // scenario models support winning back about half of their absences.
  std::map<std::string, absl::CivilDay> supported_from_;
  std::vector<Case> cases_;
  std::map<std::string, std::string> allocation_by_school_;
  std::vector<std::string> payments_to_settle_;
};

absl::Status Scenario::PrepareRegisters() {
  std::vector<absl::CivilDay> year = cohort_.SchoolDays();
  year.erase(std::remove_if(year.begin(), year.end(), [&](absl::CivilDay d) { return d >= options_.today; }),
             year.end());
  if (year.size() < size_t(kMinTermDays)) {
    return absl::FailedPreconditionError("fewer than 20 school days before today to play a term over");
  }
  days_.assign(year.end() - std::min<long>(long(year.size()), kMaxTermDays), year.end());
  summary_.first_day = days_.front();
  summary_.last_day = days_.back();
  summary_.school_days = int(days_.size());

  std::set<std::string> pilots;
  for (const cohort::School& school : cohort_.schools()) {
    if (school.secondary && pilots.size() < 3) pilots.insert(school.urn);
  }
  summary_.pilot_schools.assign(pilots.begin(), pilots.end());
  for (const cohort::Pupil& pupil : cohort_.pupils()) {
    if (pilots.count(pupil.context.school_urn()) == 0) continue;
    pupil_by_upn_[pupil.upn] = &pupil;
  }
  summary_.pupils = int(pupil_by_upn_.size());
  cohort_.Generate([&](kv1::Signal&& s) {
    if (pilots.count(SignalSchool(s)) == 0) return true;
    const std::optional<absl::CivilDay> day = cohort::SignalDay(s);
    if (!day) {
      contexts_.push_back(std::move(s));
    } else if (*day >= days_.front() && *day <= days_.back()) {
      signals_by_day_[*day].push_back(std::move(s));
    }
    return !day || *day <= days_.back();
  });
  return absl::OkStatus();
}

absl::Status Scenario::StreamDay(absl::CivilDay day) {
  std::vector<kv1::Signal>& signals = signals_by_day_[day];
  std::bernoulli_distribution recovered(0.5);
  for (kv1::Signal& s : signals) {
    if (!s.has_attendance()) continue;
    const auto supported = supported_from_.find(s.attendance().upn());
    if (supported != supported_from_.end() && day > supported->second && IsAbsence(s.attendance().code()) &&
        s.attendance().code() != "E" && recovered(rng_)) {
      s.mutable_attendance()->set_code(s.attendance().session() == kv1::SESSION_AM ? "/" : "\\");
    }
  }
  std::vector<kv1::Signal> batch = std::move(signals);
  if (day == days_.front()) batch.insert(batch.begin(), contexts_.begin(), contexts_.end());
  // The schools' registers arrive after the afternoon session, through the
  // council's MIS connector.
  RETURN_IF_ERROR(At(day, 17));
  const absl::Time give_up = absl::Now() + options_.event_wait;
  for (;;) {
    ASSIGN_OR_RETURN(auto context, ContextAs(Connector()));
    kv1::StreamSignalsResponse response;
    auto writer = risk_->StreamSignals(context.get(), &response);
    kv1::StreamSignalsRequest request;
    bool open = true;
    for (size_t i = 0; i < batch.size() && open; ++i) {
      *request.add_signals() = batch[i];
      if (request.signals_size() == 2000 || i + 1 == batch.size()) {
        open = writer->Write(request);
        request.Clear();
      }
    }
    writer->WritesDone();
    const grpc::Status status = writer->Finish();
    if (status.ok()) {
      summary_.signals_accepted += response.accepted();
      summary_.signals_rejected += response.rejected();
      return absl::OkStatus();
    }
    // Signal ids make a resent day harmless.
    if (status.error_code() != grpc::UNAVAILABLE || absl::Now() > give_up) {
      return absl::UnavailableError(absl::StrCat("StreamSignals: ", status.error_message()));
    }
    absl::SleepFor(absl::Milliseconds(500));
  }
}

absl::Status Scenario::WaitForScores(absl::CivilDay day) {
  // The last pupil of each pilot school was the last to be sent that day.
  std::map<std::string, std::string> probe;
  for (const auto& [upn, pupil] : pupil_by_upn_) probe[pupil->context.school_urn()] = upn;
  for (const auto& [urn, upn] : probe) {
    kv1::GetRiskProfileRequest request;
    request.set_upn(upn);
    auto ready = [&]() -> absl::StatusOr<bool> {
      kv1::GetRiskProfileResponse response;
      absl::Status s = Call("GetRiskProfile", *risk_, &kv1::RiskScoringService::Stub::GetRiskProfile,
                            SchoolLead(urn), request, &response);
      if (absl::IsNotFound(s)) return false;
      RETURN_IF_ERROR(s);
      absl::StatusOr<absl::CivilDay> as_of = FromProtoDate(response.profile().as_of());
      return as_of.ok() && *as_of >= day;
    };
    RETURN_IF_ERROR(WaitFor("the risk scores of the day's registers", ready));
  }
  return absl::OkStatus();
}

absl::Status Scenario::SetUpDirectory() {
  dv1::ImportOpenReferralRequest import;
  import.set_request_id("term-directory-import");
  import.set_json(DemoDirectoryOpenReferralJson());
  dv1::ImportOpenReferralResponse imported;
  RETURN_IF_ERROR(Call("ImportOpenReferral", *directory_, &dv1::DirectoryService::Stub::ImportOpenReferral,
                       Council("directory-officer-1"), import, &imported));
  const absl::CivilDay today = absl::ToCivilDay(clock_.Now(), options_.zone);
  for (const DemoService& s : DemoServices()) {
    dv1::SetQualityAssuranceRequest qa;
    qa.set_request_id("term-qa-" + s.id);
    qa.set_service_id(s.id);
    qa.mutable_quality()->set_status(dv1::QA_STATUS_APPROVED);
    *qa.mutable_quality()->mutable_assured_date() = ToProtoDate(today);
    *qa.mutable_quality()->mutable_review_date() = ToProtoDate(today + 365);
    dv1::SetQualityAssuranceResponse assured;
    RETURN_IF_ERROR(Call("SetQualityAssurance", *directory_, &dv1::DirectoryService::Stub::SetQualityAssurance,
                         Council("qa-officer-1"), qa, &assured));
    if (s.places == 0) continue;
    dv1::UpdateCapacityRequest capacity;
    capacity.set_request_id("term-capacity-" + s.id);
    capacity.set_service_id(s.id);
    capacity.mutable_capacity()->set_maximum(s.places);
    capacity.mutable_capacity()->set_available(s.places * 2 / 3);
    capacity.mutable_capacity()->set_waiting_time_days(10);
    dv1::UpdateCapacityResponse updated;
    RETURN_IF_ERROR(Call("UpdateCapacity", *directory_, &dv1::DirectoryService::Stub::UpdateCapacity,
                         Council("directory-officer-1"), capacity, &updated));
  }
  Say(absl::StrCat("directory: ", imported.services(), " services from ", imported.organizations(),
                   " organisations imported (Open Referral UK) and quality assured"));
  return absl::OkStatus();
}

absl::Status Scenario::SetUpFund() {
  const int year = TermAcademicYear(options_.today);
  pv1::CreateFundRequest create;
  create.set_request_id("term-fund-create");
  pv1::Fund* f = create.mutable_fund();
  f->set_la_code(options_.la_code);
  f->set_name(absl::StrFormat("Local response fund %d/%02d", year, (year + 1) % 100));
  *f->mutable_total_budget() = Gbp(2'500'000);
  *f->mutable_period_start() = ToProtoDate(absl::CivilDay(year, 9, 1));
  *f->mutable_period_end() = ToProtoDate(absl::CivilDay(year + 1, 8, 31));
  for (pv1::Category c : {pv1::CATEGORY_UNIFORM_CLOTHING, pv1::CATEGORY_TRANSPORT, pv1::CATEGORY_EQUIPMENT_DIGITAL,
                          pv1::CATEGORY_ACTIVITIES, pv1::CATEGORY_EMERGENCY_ESSENTIALS}) {
    f->add_categories(c);
  }
  *f->mutable_per_request_limit() = Gbp(50'000);
  *f->mutable_per_child_limit() = Gbp(75'000);
  *f->mutable_approval()->mutable_school_lead_limit() = Gbp(10'000);
  *f->mutable_approval()->mutable_two_approver_threshold() = Gbp(30'000);
  pv1::CreateFundResponse created;
  RETURN_IF_ERROR(Call("CreateFund", *fund_, &pv1::FundService::Stub::CreateFund,
                       Council("finance-1", cv1::ROLE_FINANCE_OFFICER), create, &created));
  summary_.fund_id = created.fund().fund_id();
  for (const std::string& urn : summary_.pilot_schools) {
    pv1::AllocateFundsRequest allocate;
    allocate.set_request_id("term-allocate-" + urn);
    allocate.mutable_allocation()->set_fund_id(summary_.fund_id);
    allocate.mutable_allocation()->mutable_holder()->set_type(cv1::ORGANISATION_TYPE_SCHOOL);
    allocate.mutable_allocation()->mutable_holder()->set_id(urn);
    allocate.mutable_allocation()->set_term("pilot");
    *allocate.mutable_allocation()->mutable_amount() = Gbp(200'000);
    pv1::AllocateFundsResponse allocated;
    RETURN_IF_ERROR(Call("AllocateFunds", *fund_, &pv1::FundService::Stub::AllocateFunds,
                         Council("finance-1", cv1::ROLE_FINANCE_OFFICER), allocate, &allocated));
    allocation_by_school_[urn] = allocated.allocation().allocation_id();
  }
  Say(absl::StrCat("fund: ", f->name(), ", ", Pounds(f->total_budget().pence()), "; ",
                   Pounds(200'000), " allocated to each pilot school"));
  return absl::OkStatus();
}

absl::Status Scenario::SetUpProgramme() {
  rv1::UpsertProgrammeRequest upsert;
  upsert.set_request_id("term-programme-create");
  rv1::Programme* p = upsert.mutable_programme();
  p->set_programme_id(std::string(kProgrammeId));
  p->set_name("Attendance recovery pilot");
  rv1::ScopeRule* absent = p->add_in_scope();
  absent->set_rule_id("persistent-absence");
  absent->set_description("attendance below 90% this term");
  absent->mutable_attendance_below()->set_threshold_bp(9000);
  rv1::ScopeRule* looked_after = p->add_out_of_scope();
  looked_after->set_rule_id("looked-after");
  looked_after->set_description("looked-after children (the virtual school's)");
  looked_after->set_looked_after(true);
  looked_after->set_redirect_pathway("virtual-school");
  rv1::ScopeRule* welfare = p->add_out_of_scope();
  welfare->set_rule_id("education-welfare-allocated");
  welfare->set_description("already allocated an education welfare officer");
  welfare->mutable_agency_involved()->set_agency_type(cv1::AGENCY_TYPE_EDUCATION_WELFARE);
  rv1::UpsertProgrammeResponse created;
  RETURN_IF_ERROR(Call("UpsertProgramme", *programmes_, &rv1::ProgrammeService::Stub::UpsertProgramme,
                       Council("inclusion-officer-1"), upsert, &created));
  Say("programme: the attendance recovery pilot screens referrals (attendance below 90%; looked-after children "
      "to the virtual school)");
  return absl::OkStatus();
}

absl::Status Scenario::WaitForScreenings() {
  for (const Case& c : cases_) {
    rv1::GetScreeningRequest request;
    request.set_referral_id(c.referral_id);
    rv1::GetScreeningResponse response;
    auto screened = [&]() -> absl::StatusOr<bool> {
      absl::Status s = Call("GetScreening", *programmes_, &rv1::ProgrammeService::Stub::GetScreening,
                            Council("inclusion-officer-1"), request, &response);
      if (absl::IsNotFound(s)) return false;
      RETURN_IF_ERROR(s);
      return true;
    };
    RETURN_IF_ERROR(WaitFor("the referral's screening (risk scoring's evidence, then referral intake)", screened));
    std::string outcome = rv1::ScreeningOutcome_Name(response.screening().outcome());
    outcome = absl::AsciiStrToLower(outcome.substr(std::string("SCREENING_OUTCOME_").size()));
    ++summary_.screenings_by_outcome[outcome];
  }
  return absl::OkStatus();
}

absl::Status Scenario::SetUpForum(absl::CivilDay from) {
  fv1::CreateForumRequest create;
  create.set_request_id("term-forum-create");
  fv1::Forum* forum = create.mutable_forum();
  forum->set_la_code(options_.la_code);
  forum->set_locality("Pilot locality");
  forum->set_name("Pilot Multi-Agency Forum");
  forum->mutable_cadence()->set_weekday(fv1::WEEKDAY_WEDNESDAY);
  forum->mutable_cadence()->set_every_weeks(1);
  forum->mutable_cadence()->set_start_minute(14 * 60);
  forum->mutable_cadence()->set_duration_minutes(120);
  // Not only the term played: the rest of the school year (the next one too
  // when today is in the summer holidays), so a referral made after the demo
  // still has meetings to be heard at.
  for (const auto& [first, last] :
       ForumTerms(cohort_.options().academic_year, from, options_.today)) {
    fv1::TermDates* term = forum->add_terms();
    *term->mutable_start() = ToProtoDate(first);
    *term->mutable_end() = ToProtoDate(last);
  }
  auto member = [&](cv1::OrganisationType type, const std::string& id, cv1::AgencyType agency) {
    fv1::ForumMember* m = forum->add_members();
    m->mutable_organisation()->set_type(type);
    m->mutable_organisation()->set_id(id);
    m->set_agency_type(agency);
  };
  for (const std::string& urn : summary_.pilot_schools) {
    member(cv1::ORGANISATION_TYPE_SCHOOL, urn, cv1::AGENCY_TYPE_EDUCATION);
    forum->add_school_urns(urn);
  }
  member(cv1::ORGANISATION_TYPE_COUNCIL, options_.la_code, cv1::AGENCY_TYPE_COUNCIL_INCLUSION);
  member(cv1::ORGANISATION_TYPE_PARTNER, kPartnerId, cv1::AGENCY_TYPE_VOLUNTARY_SECTOR);
  member(cv1::ORGANISATION_TYPE_PARTNER, "org-nhs-north", cv1::AGENCY_TYPE_HEALTH);
  forum->mutable_quorum()->set_minimum_agencies(3);
  forum->mutable_quorum()->add_required_agencies(cv1::AGENCY_TYPE_EDUCATION);
  forum->mutable_quorum()->add_required_agencies(cv1::AGENCY_TYPE_COUNCIL_INCLUSION);
  forum->set_case_slots(8);
  forum->set_minutes_per_case(15);
  forum->set_chair_subject("chair-1");
  forum->set_coordinator_subject("coordinator-1");
  forum->set_priority_within_school_days(10);
  fv1::CreateForumResponse created;
  RETURN_IF_ERROR(Call("CreateForum", *forum_, &fv1::ForumService::Stub::CreateForum,
                       Council("inclusion-officer-1"), create, &created));
  summary_.forum_id = created.forum().forum_id();
  rv1::SetLeadCapacityRequest capacity;
  capacity.set_request_id("term-lead-capacity");
  capacity.set_lead_subject(kLeadSubject);
  capacity.set_partner_id(kPartnerId);
  capacity.set_caseload_limit(12);
  rv1::SetLeadCapacityResponse capped;
  RETURN_IF_ERROR(Call("SetLeadCapacity", *casework_, &rv1::CaseworkService::Stub::SetLeadCapacity,
                       Council("coordinator-1", cv1::ROLE_FORUM_COORDINATOR), capacity, &capped));
  Say("forum: the pilot Multi-Agency Forum meets weekly on Wednesdays at 14:00, 8 cases a meeting");
  return absl::OkStatus();
}

rv1::ReferralDetails Scenario::DetailsFor(const cohort::Pupil& pupil, const kv1::RiskProfile& profile,
                                          int n) const {
  static const char* kGiven[] = {"Amira", "Jayden", "Olivia", "Kacper", "Leah", "Mason", "Zainab", "Tyler",
                                 "Freya", "Ibrahim", "Chloe", "Reece", "Maya", "Callum", "Aisha"};
  static const char* kFamily[] = {"Khan", "Smith", "Nowak", "Jones", "Ahmed", "Taylor", "Brown",
                                  "Hussain", "Wilson", "Begum", "Walker", "Patel", "Evans"};
  rv1::ReferralDetails d;
  rv1::Child* child = d.mutable_child();
  child->set_upn(pupil.upn);
  child->set_given_name(kGiven[size_t(n) % std::size(kGiven)]);
  child->set_family_name(kFamily[size_t(n * 7 + 3) % std::size(kFamily)]);
  const int born = cohort_.options().academic_year - pupil.year_group - 5;
  *child->mutable_date_of_birth() = ToProtoDate(absl::CivilDay(born, 10 + n % 3, 1 + n % 27));
  child->set_year_group(pupil.year_group);
  child->set_school_urn(pupil.context.school_urn());
  d.mutable_referrer()->set_name("Pastoral lead");
  d.mutable_referrer()->set_job_title(absl::StrCat("Head of Year ", pupil.year_group));
  d.mutable_referrer()->set_email("pastoral@school" + pupil.context.school_urn() + ".example.org");

  std::set<std::string> needs = {"attendance-engagement"};
  rv1::ConcernReason* attendance = d.add_reasons_for_concern();
  attendance->set_category(rv1::CONCERN_CATEGORY_ATTENDANCE);
  attendance->set_detail(absl::StrFormat("Attendance %.1f%% this term; the early identification tool lists them %s.",
                                         profile.attendance_bp() / 100.0, BandWord(profile.band())));
  for (const kv1::RiskReason& reason : profile.reasons()) {
    if (absl::StrContains(reason.indicator(), "suspension")) {
      needs.insert("behaviour");
      rv1::ConcernReason* r = d.add_reasons_for_concern();
      r->set_category(rv1::CONCERN_CATEGORY_SUSPENSIONS);
      r->set_detail(reason.text());
    } else if (absl::StrContains(reason.indicator(), "sen") || absl::StrContains(reason.indicator(), "semh")) {
      needs.insert("semh");
    } else if (absl::StrContains(reason.indicator(), "disadvantaged") ||
               absl::StrContains(reason.indicator(), "free_school_meals")) {
      needs.insert("financial-hardship");
    } else if (absl::StrContains(reason.indicator(), "carer")) {
      needs.insert("young-carers");
    } else if (absl::StrContains(reason.indicator(), "social_care")) {
      needs.insert("family-support");
    }
  }
  if (pupil.context.young_carer()) needs.insert("young-carers");
  if (pupil.context.free_school_meals()) needs.insert("financial-hardship");
  for (const std::string& term : needs) {
    cv1::Need* need = d.add_needs();
    need->set_term_id(term);
    need->set_severity(profile.band() == cv1::RISK_BAND_VERY_HIGH ? cv1::SEVERITY_HIGH : cv1::SEVERITY_MEDIUM);
  }
  d.add_strengths("Gets on well with the PE department");
  d.add_strategies_that_worked("Morning check-in with a trusted adult");
  d.mutable_risk_assessment()->set_level(profile.band() == cv1::RISK_BAND_VERY_HIGH ? rv1::RISK_LEVEL_HIGH
                                                                                    : rv1::RISK_LEVEL_MEDIUM);
  d.add_resource_requirements("Mentoring and help with the journey to school");
  // Some already have an education welfare officer: outside the pilot's scope.
  if (n % 7 == 6) d.add_other_agencies()->set_agency_type(cv1::AGENCY_TYPE_EDUCATION_WELFARE);
  d.mutable_consent()->set_status(rv1::CONSENT_STATUS_GIVEN);
  d.mutable_consent()->set_given_by_name("Parent");
  d.mutable_consent()->set_given_by_relationship(rv1::RELATIONSHIP_PARENT);
  for (rv1::ConsentScope scope : {rv1::CONSENT_SCOPE_FORUM, rv1::CONSENT_SCOPE_SERVICES, rv1::CONSENT_SCOPE_FUND,
                                  rv1::CONSENT_SCOPE_EVALUATION}) {
    d.mutable_consent()->add_scopes(scope);
  }
  d.set_refer_to_forum(true);
  d.set_programme_id(std::string(kProgrammeId));
  return d;
}

absl::Status Scenario::MakeReferrals() {
  int n = 0;
  for (const std::string& urn : summary_.pilot_schools) {
    // The school's list, as its inclusion lead sees it.
    kv1::ListAtRiskRequest list;
    list.set_school_urn(urn);
    list.set_minimum_band(cv1::RISK_BAND_MEDIUM);
    list.set_include_cliff_edge(true);
    list.mutable_page()->set_page_size(500);
    kv1::ListAtRiskResponse listed;
    RETURN_IF_ERROR(Call("ListAtRisk", *risk_, &kv1::RiskScoringService::Stub::ListAtRisk, SchoolStaff(urn), list,
                         &listed));
    summary_.at_risk_listed += listed.profiles_size();

    // The school knows its pupils by UPN: it looks up those it is most
    // worried about and refers the highest bands.
    std::vector<const cohort::Pupil*> pupils;
    for (const auto& [upn, pupil] : pupil_by_upn_) {
      if (pupil->context.school_urn() == urn) pupils.push_back(pupil);
    }
    std::sort(pupils.begin(), pupils.end(),
              [](const cohort::Pupil* a, const cohort::Pupil* b) { return a->propensity > b->propensity; });
    std::vector<std::pair<const cohort::Pupil*, kv1::RiskProfile>> candidates;
    for (size_t i = 0; i < pupils.size() && i < size_t(kCandidatesPerSchool); ++i) {
      kv1::GetRiskProfileRequest request;
      request.set_upn(pupils[i]->upn);
      kv1::GetRiskProfileResponse response;
      absl::Status s = Call("GetRiskProfile", *risk_, &kv1::RiskScoringService::Stub::GetRiskProfile,
                            SchoolStaff(urn), request, &response);
      if (absl::IsNotFound(s)) continue;  // left or excluded before the term
      RETURN_IF_ERROR(s);
      if (response.profile().band() >= cv1::RISK_BAND_MEDIUM) candidates.emplace_back(pupils[i], response.profile());
    }
    std::stable_sort(candidates.begin(), candidates.end(), [](const auto& a, const auto& b) {
      return a.second.score() > b.second.score();
    });
    for (size_t i = 0; i < candidates.size() && i < size_t(options_.referrals_per_school); ++i, ++n) {
      rv1::SubmitReferralRequest submit;
      submit.set_request_id(absl::StrCat("term-referral-", urn, "-", i));
      *submit.mutable_details() = DetailsFor(*candidates[i].first, candidates[i].second, n);
      rv1::SubmitReferralResponse submitted;
      RETURN_IF_ERROR(Call("SubmitReferral", *referrals_, &rv1::ReferralService::Stub::SubmitReferral,
                           SchoolStaff(urn), submit, &submitted));
      Case c;
      c.referral_id = submitted.referral().referral_id();
      c.upn = candidates[i].first->upn;
      c.school_urn = urn;
      c.pupil_ref = submitted.referral().pupil_ref();
      cases_.push_back(std::move(c));
      summary_.referral_ids.push_back(submitted.referral().referral_id());
      RETURN_IF_ERROR(Later(absl::Minutes(7)));
    }
  }
  Say(absl::StrCat("early identification: ", summary_.at_risk_listed,
                   " pupils on the pilot schools' lists (medium risk and above); ", cases_.size(),
                   " referred to the forum"));
  return absl::OkStatus();
}

absl::Status Scenario::TriageReferrals() {
  for (Case& c : cases_) {
    dv1::TriageRequest request;
    request.set_referral_id(c.referral_id);
    request.set_max_results(5);
    dv1::TriageResponse response;
    // The directory learns the referral's needs from its event.
    auto ready = [&]() -> absl::StatusOr<bool> {
      absl::Status s = Call("Triage", *triage_, &dv1::TriageService::Stub::Triage, Council("inclusion-officer-1"),
                            request, &response);
      if (absl::IsNotFound(s)) return false;
      RETURN_IF_ERROR(s);
      return true;
    };
    RETURN_IF_ERROR(WaitFor("the directory to hear of the referral", ready));
    ++summary_.triaged;
    if (!response.ranked().empty()) c.top_service_id = response.ranked(0).service().id();
  }
  Say(absl::StrCat("triage: ", summary_.triaged, " referrals matched to quality-assured services"));
  return absl::OkStatus();
}

absl::Status Scenario::HoldMeeting(const fv1::Meeting& meeting) {
  const absl::Time starts = FromProtoTimestamp(meeting.starts_at());
  RETURN_IF_ERROR(clock_.AdvanceTo(starts - absl::Hours(2)));
  fv1::GetAgendaRequest agenda_request;
  agenda_request.set_meeting_id(meeting.meeting_id());
  fv1::GetAgendaResponse agenda;
  RETURN_IF_ERROR(Call("GetAgenda", *forum_, &fv1::ForumService::Stub::GetAgenda, Chair(), agenda_request, &agenda));
  if (agenda.items().empty()) return absl::OkStatus();

  RETURN_IF_ERROR(clock_.AdvanceTo(starts + absl::Minutes(5)));
  fv1::RecordAttendanceRequest attendance;
  attendance.set_request_id("term-attendance-" + meeting.meeting_id());
  attendance.set_meeting_id(meeting.meeting_id());
  for (const std::string& urn : summary_.pilot_schools) {
    fv1::ForumMember* m = attendance.add_present();
    m->mutable_organisation()->set_type(cv1::ORGANISATION_TYPE_SCHOOL);
    m->mutable_organisation()->set_id(urn);
  }
  for (const auto& [type, id] : std::vector<std::pair<cv1::OrganisationType, std::string>>{
           {cv1::ORGANISATION_TYPE_COUNCIL, options_.la_code}, {cv1::ORGANISATION_TYPE_PARTNER, kPartnerId}}) {
    fv1::ForumMember* m = attendance.add_present();
    m->mutable_organisation()->set_type(type);
    m->mutable_organisation()->set_id(id);
  }
  fv1::RecordAttendanceResponse held;
  RETURN_IF_ERROR(Call("RecordAttendance", *forum_, &fv1::ForumService::Stub::RecordAttendance, Chair(), attendance,
                       &held));
  ++summary_.meetings_held;
  summary_.meeting_ids.push_back(meeting.meeting_id());

  int order = 0;
  for (const fv1::AgendaItem& item : agenda.items()) {
    auto found = std::find_if(cases_.begin(), cases_.end(),
                              [&](const Case& c) { return c.referral_id == item.forum_case().referral_id(); });
    if (found == cases_.end()) continue;
    Case& c = *found;
    c.forum_case_id = item.forum_case().case_id();
    c.heard = true;
    // What a forum decides varies with the child; here, in a fixed rotation
    // so every kind of support is seen.
    const size_t turn = size_t(std::distance(cases_.begin(), found)) % 6;
    std::vector<fv1::Decision> decisions;
    auto decide = [&](fv1::DecisionType type) -> fv1::Decision& {
      fv1::Decision& d = decisions.emplace_back();
      d.set_case_id(c.forum_case_id);
      d.set_type(type);
      return d;
    };
    static constexpr int64_t kAmounts[] = {8'500, 24'000, 42'000};
    if ((turn == 0 || turn == 1 || turn == 4) && !c.top_service_id.empty()) {
      decide(fv1::DECISION_TYPE_REFER_TO_SERVICE).set_target_id(c.top_service_id);
    }
    if (turn == 1 || turn == 3 || turn == 4) {
      c.fund_pence = kAmounts[turn == 1 ? 0 : turn == 3 ? 1 : 2];
      *decide(fv1::DECISION_TYPE_REQUEST_FUND_SUPPORT).mutable_fund_amount() = Gbp(c.fund_pence);
    }
    if (turn == 2) decide(fv1::DECISION_TYPE_ALLOCATE_PROGRAMME_LEAD).set_target_id(kPartnerId);
    if (turn == 5 || decisions.empty()) decide(fv1::DECISION_TYPE_ESCALATE_EARLY_HELP);

    for (size_t k = 0; k < decisions.size(); ++k) {
      RETURN_IF_ERROR(Later(absl::Minutes(4)));
      fv1::RecordDecisionRequest request;
      request.set_request_id(absl::StrCat("term-decision-", c.forum_case_id, "-", k));
      request.set_meeting_id(meeting.meeting_id());
      *request.mutable_decision() = decisions[k];
      fv1::RecordDecisionResponse recorded;
      RETURN_IF_ERROR(Call("RecordDecision", *forum_, &fv1::ForumService::Stub::RecordDecision, Chair(), request,
                           &recorded));
      c.decisions.push_back(decisions[k].type());
      ++summary_.decisions_by_type[DecisionWord(decisions[k].type())];
    }
    supported_from_.emplace(c.upn, absl::ToCivilDay(clock_.Now(), options_.zone));
    ++order;
  }
  Say(absl::StrCat("forum: meeting on ", absl::FormatTime("%a %e %b %Y", starts, options_.zone), " heard ", order,
                   " cases", agenda.not_fitted_total() > 0 ? absl::StrCat(" (", agenda.not_fitted_total(),
                                                                           " carried to the next meeting)")
                                                           : ""));

  // After the meeting the coordinator makes the service referrals decided.
  RETURN_IF_ERROR(clock_.AdvanceTo(starts + absl::Hours(3)));
  for (Case& c : cases_) {
    if (c.service_referred ||
        std::find(c.decisions.begin(), c.decisions.end(), fv1::DECISION_TYPE_REFER_TO_SERVICE) == c.decisions.end()) {
      continue;
    }
    dv1::MakeServiceReferralRequest request;
    request.set_request_id("term-service-referral-" + c.referral_id);
    request.set_referral_id(c.referral_id);
    request.set_service_id(c.top_service_id);
    dv1::MakeServiceReferralResponse made;
    RETURN_IF_ERROR(Call("MakeServiceReferral", *directory_, &dv1::DirectoryService::Stub::MakeServiceReferral,
                         Council("coordinator-1", cv1::ROLE_FORUM_COORDINATOR), request, &made));
    c.service_referred = true;
    ++summary_.services_matched;
  }
  // Cases the forum gave the partner go to one of its programme leads, who
  // visits the family and agrees a first goal.
  for (Case& c : cases_) {
    if (c.lead_allocated ||
        std::find(c.decisions.begin(), c.decisions.end(), fv1::DECISION_TYPE_ALLOCATE_PROGRAMME_LEAD) ==
            c.decisions.end()) {
      continue;
    }
    rv1::AllocateLeadRequest allocate;
    allocate.set_request_id("term-lead-" + c.referral_id);
    allocate.set_referral_id(c.referral_id);
    allocate.set_lead_subject(kLeadSubject);
    allocate.set_reason("Multi-Agency Forum decision");
    rv1::AllocateLeadResponse allocated;
    RETURN_IF_ERROR(Call("AllocateLead", *casework_, &rv1::CaseworkService::Stub::AllocateLead,
                         Council("coordinator-1", cv1::ROLE_FORUM_COORDINATOR), allocate, &allocated));
    const Person lead{kLeadSubject, cv1::ROLE_PROGRAMME_LEAD, cv1::ORGANISATION_TYPE_PARTNER, kPartnerId};
    rv1::RecordContactRequest contact;
    contact.set_request_id("term-contact-" + c.referral_id);
    contact.set_referral_id(c.referral_id);
    *contact.mutable_contact()->mutable_date() = ToProtoDate(absl::ToCivilDay(clock_.Now(), options_.zone));
    contact.mutable_contact()->set_with(rv1::CONTACT_WITH_PARENT_CARER);
    contact.mutable_contact()->set_type(rv1::CONTACT_TYPE_HOME_VISIT);
    contact.mutable_contact()->set_duration_minutes(45);
    contact.mutable_contact()->set_note("First visit: agreed a morning routine and a weekly check-in");
    rv1::RecordContactResponse recorded;
    RETURN_IF_ERROR(Call("RecordContact", *casework_, &rv1::CaseworkService::Stub::RecordContact, lead, contact,
                         &recorded));
    rv1::SetGoalRequest goal;
    goal.set_request_id("term-goal-" + c.referral_id);
    goal.set_referral_id(c.referral_id);
    goal.mutable_goal()->set_description("In school every morning by 8:45 for three weeks");
    *goal.mutable_goal()->mutable_target_date() =
        ToProtoDate(absl::ToCivilDay(clock_.Now(), options_.zone) + 28);
    rv1::SetGoalResponse goals;
    RETURN_IF_ERROR(Call("SetGoal", *casework_, &rv1::CaseworkService::Stub::SetGoal, lead, goal, &goals));
    c.lead_allocated = true;
    ++summary_.leads_allocated;
  }
  return absl::OkStatus();
}

absl::Status Scenario::CompleteFundRequests() {
  int expected = 0;
  for (const Case& c : cases_) expected += c.fund_pence > 0 && !c.fund_requested ? 1 : 0;
  if (expected == 0) return absl::OkStatus();
  // Each fund decision opens a draft for the council to complete.
  pv1::ListFundRequestsRequest list;
  list.set_status(pv1::REQUEST_STATUS_DRAFT);
  list.mutable_page()->set_page_size(500);
  pv1::ListFundRequestsResponse drafts;
  auto ready = [&]() -> absl::StatusOr<bool> {
    RETURN_IF_ERROR(Call("ListFundRequests", *fund_, &pv1::FundService::Stub::ListFundRequests,
                         Council("inclusion-officer-1"), list, &drafts));
    return drafts.fund_requests_size() >= expected;
  };
  RETURN_IF_ERROR(WaitFor("fund-payments to open a draft for each fund decision", ready));
  static constexpr pv1::Category kCategories[] = {pv1::CATEGORY_UNIFORM_CLOTHING, pv1::CATEGORY_TRANSPORT,
                                                  pv1::CATEGORY_EQUIPMENT_DIGITAL};
  int n = 0;
  for (const pv1::FundRequest& draft : drafts.fund_requests()) {
    auto c = std::find_if(cases_.begin(), cases_.end(),
                          [&](const Case& k) { return k.referral_id == draft.referral_id(); });
    if (c == cases_.end()) continue;
    pv1::SubmitFundRequestRequest submit;
    submit.set_client_request_id("term-fund-submit-" + draft.request_id());
    pv1::FundRequest* r = submit.mutable_fund_request();
    r->set_fund_id(summary_.fund_id);
    r->set_allocation_id(allocation_by_school_[c->school_urn]);
    r->set_referral_id(c->referral_id);
    r->set_decision_id(draft.decision_id());
    *r->mutable_pupil_ref() = c->pupil_ref;
    r->set_category(kCategories[size_t(n++) % std::size(kCategories)]);
    *r->mutable_amount() = draft.amount();
    r->set_payee_type(pv1::PAYEE_TYPE_FAMILY);
    r->mutable_family_bank()->set_account_name("Parent");
    r->mutable_family_bank()->set_sort_code("112233");
    r->mutable_family_bank()->set_account_number(absl::StrFormat("%08d", 10'000'000 + n));
    r->set_justification("Agreed at the Multi-Agency Forum to remove a barrier to attending school");
    r->set_evidence_reference("forum-minutes-" + draft.decision_id().substr(0, 8));
    pv1::SubmitFundRequestResponse submitted;
    RETURN_IF_ERROR(Call("SubmitFundRequest", *fund_, &pv1::FundService::Stub::SubmitFundRequest,
                         SchoolStaff(c->school_urn), submit, &submitted));
    ++summary_.fund_requests;
    c->fund_requested = true;
    // The approval matrix: a school lead up to £100, a council approver up
    // to £300, two council approvers above.
    const int64_t pence = draft.amount().pence();
    std::vector<Person> approvers;
    if (pence <= 10'000) {
      approvers = {SchoolLead(c->school_urn)};
    } else {
      approvers = {Council("approver-1", cv1::ROLE_FUND_APPROVER)};
      if (pence > 30'000) approvers.push_back(Council("approver-2", cv1::ROLE_FUND_APPROVER));
    }
    pv1::ApproveFundRequestResponse approved;
    for (size_t k = 0; k < approvers.size(); ++k) {
      const Person& approver = approvers[k];
      RETURN_IF_ERROR(Later(absl::Minutes(20)));
      pv1::ApproveFundRequestRequest approve;
      approve.set_client_request_id(absl::StrCat("approve-", submitted.fund_request().request_id(), "-", k));
      approve.set_fund_request_id(submitted.fund_request().request_id());
      RETURN_IF_ERROR(Call("ApproveFundRequest", *fund_, &pv1::FundService::Stub::ApproveFundRequest, approver,
                           approve, &approved));
    }
    if (!approved.fund_request().payment_id().empty()) {
      payments_to_settle_.push_back(approved.fund_request().payment_id());
    }
  }
  Say(absl::StrCat("fund: ", summary_.fund_requests, " requests completed from forum decisions and approved; ",
                   payments_to_settle_.size(), " payments issued"));
  return absl::OkStatus();
}

absl::Status Scenario::SettlePayments() {
  if (payments_to_settle_.empty()) return absl::OkStatus();
  pv1::ImportBankFileRequest file;
  file.set_client_request_id(absl::StrCat("term-bank-file-", payments_to_settle_.size(), "-",
                                          payments_to_settle_.front().substr(0, 8)));
  std::string csv = "payment_id,status,reason\n";
  for (const std::string& id : payments_to_settle_) absl::StrAppend(&csv, id, ",settled,\n");
  file.set_csv(csv);
  pv1::ImportBankFileResponse imported;
  RETURN_IF_ERROR(Call("ImportBankFile", *fund_, &pv1::FundService::Stub::ImportBankFile,
                       Council("finance-1", cv1::ROLE_FINANCE_OFFICER), file, &imported));
  summary_.payments_settled += imported.settled();
  Say(absl::StrCat("fund: the bank's file settled ", imported.settled(), " payments"));
  payments_to_settle_.clear();
  return absl::OkStatus();
}

absl::Status Scenario::CountBands() {
  summary_.pupils_by_band.clear();
  for (const std::string& urn : summary_.pilot_schools) {
    kv1::ListAtRiskRequest list;
    list.set_school_urn(urn);
    list.set_minimum_band(cv1::RISK_BAND_LOW);
    list.mutable_page()->set_page_size(500);
    do {
      kv1::ListAtRiskResponse page;
      RETURN_IF_ERROR(Call("ListAtRisk", *risk_, &kv1::RiskScoringService::Stub::ListAtRisk, SchoolLead(urn), list,
                           &page));
      for (const kv1::RiskProfile& p : page.profiles()) ++summary_.pupils_by_band[BandWord(p.band())];
      list.mutable_page()->set_page_token(page.page().next_page_token());
    } while (!list.page().page_token().empty());
  }
  return absl::OkStatus();
}

absl::Status Scenario::CloseCasesAndReport() {
  // One case followed end to end: referred, triaged, heard, referred to a
  // service, fund paid, closed. Its timeline fills as each service's events
  // reach referral intake.
  const auto sampled = std::find_if(cases_.begin(), cases_.end(), [](const Case& c) {
    return c.fund_pence > 0 && c.heard &&
           std::find(c.decisions.begin(), c.decisions.end(), fv1::DECISION_TYPE_REFER_TO_SERVICE) != c.decisions.end();
  });
  // Every third case (and the followed one) closes at the end of term with
  // its outcome; the rest carry on into the next term.
  for (size_t i = 0; i < cases_.size(); ++i) {
    if (i % 3 != 0 && cases_.begin() + long(i) != sampled) continue;
    rv1::CloseCaseRequest close;
    close.set_request_id("term-close-" + cases_[i].referral_id);
    close.set_referral_id(cases_[i].referral_id);
    close.set_outcome(rv1::CASE_OUTCOME_SUSTAINED_ATTENDANCE);
    close.set_note("Attendance back above 90% for six weeks; support ends with the term");
    rv1::CloseCaseResponse closed;
    RETURN_IF_ERROR(Call("CloseCase", *referrals_, &rv1::ReferralService::Stub::CloseCase,
                         SchoolLead(cases_[i].school_urn), close, &closed));
    ++summary_.cases_closed;
  }
  pv1::GetFundReportRequest report_request;
  report_request.set_fund_id(summary_.fund_id);
  pv1::GetFundReportResponse report;
  RETURN_IF_ERROR(Call("GetFundReport", *fund_, &pv1::FundService::Stub::GetFundReport,
                       Council("finance-1", cv1::ROLE_FINANCE_OFFICER), report_request, &report));
  summary_.fund_committed_pence = report.fund().committed().pence();
  summary_.fund_paid_pence = report.fund().paid().pence();

  kv1::GetOutcomeReportRequest outcome_request;
  outcome_request.set_la_code(options_.la_code);
  kv1::GetOutcomeReportResponse outcomes;
  // The closures reach the report through referral intake's events.
  auto reported = [&]() -> absl::StatusOr<bool> {
    RETURN_IF_ERROR(Call("GetOutcomeReport", *risk_, &kv1::RiskScoringService::Stub::GetOutcomeReport,
                         Council("inclusion-officer-1"), outcome_request, &outcomes));
    int closed = 0;
    for (const kv1::ClosureCount& c : outcomes.closures()) closed += c.cases();
    return closed >= summary_.cases_closed;
  };
  RETURN_IF_ERROR(WaitFor("the outcome report to count the closed cases", reported));
  for (const kv1::ClosureCount& c : outcomes.closures()) summary_.closures_by_outcome[c.outcome()] = c.cases();
  for (const kv1::InterventionOutcome& o : outcomes.outcomes()) {
    if (o.cases() == 0 && o.pending_cases() == 0) continue;
    std::string line = absl::StrFormat("%-17s", o.intervention());
    if (o.cases() > 0) {
      absl::StrAppendFormat(&line, " %d cases: attendance %.1f%% in the six weeks before, %.1f%% after", o.cases(),
                            o.attendance_before_bp() / 100.0, o.attendance_after_bp() / 100.0);
    }
    if (o.pending_cases() > 0) absl::StrAppend(&line, o.cases() > 0 ? ";" : "", " ", o.pending_cases(), " too recent to measure");
    summary_.outcome_lines.push_back(line);
  }

  if (sampled == cases_.end()) return absl::OkStatus();
  summary_.sampled_referral_id = sampled->referral_id;
  rv1::GetCaseTimelineRequest timeline_request;
  timeline_request.set_referral_id(sampled->referral_id);
  timeline_request.set_purpose("end of term review");
  rv1::GetCaseTimelineResponse timeline;
  auto ready = [&]() -> absl::StatusOr<bool> {
    RETURN_IF_ERROR(Call("GetCaseTimeline", *referrals_, &rv1::ReferralService::Stub::GetCaseTimeline,
                         SchoolLead(sampled->school_urn), timeline_request, &timeline));
    bool settled = false;
    bool closed = false;
    for (const rv1::TimelineEntry& e : timeline.entries()) {
      settled = settled || absl::StrContains(e.event_type(), "PaymentSettled");
      closed = closed || absl::StrContains(e.event_type(), "CaseClosed");
    }
    return settled && closed;
  };
  RETURN_IF_ERROR(WaitFor("the case timeline to hold the payment and the closure", ready));
  for (const rv1::TimelineEntry& e : timeline.entries()) {
    summary_.sampled_timeline.push_back(
        absl::StrCat(absl::FormatTime("%Y-%m-%d %H:%M", FromProtoTimestamp(e.occurred_at()), options_.zone), "  ",
                     e.summary()));
  }
  return absl::OkStatus();
}

absl::StatusOr<TermSummary> Scenario::Play() {
  RETURN_IF_ERROR(PrepareRegisters());
  Say(absl::StrCat("term: ", days_.size(), " school days, ", absl::FormatCivilTime(days_.front()), " to ",
                   absl::FormatCivilTime(days_.back()), "; ", summary_.pupils, " pupils in pilot schools ",
                   summary_.pilot_schools[0], ", ", summary_.pilot_schools[1], ", ", summary_.pilot_schools[2]));
  // The clock starts the morning before the term's first register.
  RETURN_IF_ERROR(clock_.StartAt(absl::FromCivil(absl::CivilMinute(days_.front().year(), days_.front().month(),
                                                                   days_.front().day(), 7, 30),
                                                 options_.zone)));
  RETURN_IF_ERROR(SetUpDirectory());
  RETURN_IF_ERROR(SetUpFund());
  RETURN_IF_ERROR(SetUpProgramme());

  const size_t referral_day = days_.size() * 2 / 5;
  std::vector<fv1::Meeting> meetings;
  size_t next_meeting = 0;
  for (size_t d = 0; d < days_.size(); ++d) {
    const absl::CivilDay day = days_[d];
    if (d == referral_day) {
      RETURN_IF_ERROR(WaitForScores(days_[d - 1]));
      RETURN_IF_ERROR(At(day, 8, 30));
      RETURN_IF_ERROR(SetUpForum(day));
      RETURN_IF_ERROR(At(day, 9));
      RETURN_IF_ERROR(MakeReferrals());
      RETURN_IF_ERROR(Hook(Phase::kReferralsMade));
      RETURN_IF_ERROR(At(day, 13));
      RETURN_IF_ERROR(TriageReferrals());
      RETURN_IF_ERROR(WaitForScreenings());
      Say(absl::StrCat("screening: ", FormatCounts(summary_.screenings_by_outcome)));
      // Wait until the forum has listed every referral.
      fv1::ListCasesRequest list;
      list.set_forum_id(summary_.forum_id);
      list.mutable_page()->set_page_size(500);
      fv1::ListCasesResponse listed;
      auto ready = [&]() -> absl::StatusOr<bool> {
        RETURN_IF_ERROR(Call("ListCases", *forum_, &fv1::ForumService::Stub::ListCases, Chair(), list, &listed));
        return listed.cases_size() >= int(cases_.size());
      };
      RETURN_IF_ERROR(WaitFor("the forum to list every referral", ready));
      summary_.forum_cases = listed.cases_size();
      fv1::ListMeetingsRequest request;
      request.set_forum_id(summary_.forum_id);
      *request.mutable_from() = ToProtoTimestamp(clock_.Now());
      request.mutable_page()->set_page_size(100);
      fv1::ListMeetingsResponse response;
      RETURN_IF_ERROR(Call("ListMeetings", *forum_, &fv1::ForumService::Stub::ListMeetings, Chair(), request,
                           &response));
      meetings.assign(response.meetings().begin(), response.meetings().end());
      const auto this_term =
          std::count_if(meetings.begin(), meetings.end(), [&](const fv1::Meeting& m) {
            return absl::ToCivilDay(FromProtoTimestamp(m.starts_at()), options_.zone) <=
                   days_.back();
          });
      Say(absl::StrCat("forum: ", summary_.forum_cases, " cases listed; ", this_term,
                       " meetings left this term, ", meetings.size(),
                       " to the end of the school year"));
    }
    bool held_today = false;
    while (next_meeting < meetings.size() &&
           absl::ToCivilDay(FromProtoTimestamp(meetings[next_meeting].starts_at()), options_.zone) == day) {
      const bool waiting = std::any_of(cases_.begin(), cases_.end(), [](const Case& c) { return !c.heard; });
      if (waiting) {
        RETURN_IF_ERROR(HoldMeeting(meetings[next_meeting]));
        held_today = true;
      }
      ++next_meeting;
    }
    if (held_today) {
      RETURN_IF_ERROR(Hook(Phase::kForumHeld));
      RETURN_IF_ERROR(At(day, 16));
      RETURN_IF_ERROR(CompleteFundRequests());
      RETURN_IF_ERROR(Hook(Phase::kPaymentsIssued));
    }
    // The bank's file comes in on Fridays.
    if (absl::GetWeekday(day) == absl::Weekday::friday || d + 1 == days_.size()) {
      RETURN_IF_ERROR(At(day, 10));
      RETURN_IF_ERROR(SettlePayments());
    }
    RETURN_IF_ERROR(StreamDay(day));
    if (d % 10 == 9 || d + 1 == days_.size()) {
      Say(absl::StrCat("registers: ", d + 1, "/", days_.size(), " school days streamed (",
                       summary_.signals_accepted, " signals accepted)"));
    }
  }
  RETURN_IF_ERROR(WaitForScores(days_.back()));
  RETURN_IF_ERROR(CountBands());
  // Back to today: the stack keeps running at real time from here.
  RETURN_IF_ERROR(clock_.CatchUpWithRealTime());
  RETURN_IF_ERROR(CloseCasesAndReport());
  return summary_;
}

}  // namespace

std::vector<std::pair<absl::CivilDay, absl::CivilDay>> ForumTerms(int played_year,
                                                                  absl::CivilDay from,
                                                                  absl::CivilDay today) {
  std::vector<absl::CivilDay> days;
  // The played year, and the next when today is past its last school day.
  for (int year = played_year; year <= played_year + 1; ++year) {
    cohort::CohortOptions probe;
    probe.pupils = 1;
    probe.schools = 1;
    probe.academic_year = year;
    const std::vector<absl::CivilDay> school_days = cohort::Cohort(probe).SchoolDays();
    std::copy_if(school_days.begin(), school_days.end(), std::back_inserter(days),
                 [&](absl::CivilDay d) { return d >= from; });
    if (school_days.back() >= today) break;
  }
  return Runs(days);
}

int TermAcademicYear(absl::CivilDay today) {
  const int current = today.month() >= 9 ? int(today.year()) : int(today.year()) - 1;
  cohort::CohortOptions probe;
  probe.pupils = 1;
  probe.schools = 1;
  probe.academic_year = current;
  const std::vector<absl::CivilDay> days = cohort::Cohort(probe).SchoolDays();
  const auto passed = std::count_if(days.begin(), days.end(), [&](absl::CivilDay d) { return d < today; });
  return passed >= kMinTermDays ? current : current - 1;
}

absl::StatusOr<TermSummary> PlayTerm(const TermOptions& options, SimulatedClock& clock, const Progress& progress,
                                     const PhaseHook& hook) {
  ASSIGN_OR_RETURN(std::unique_ptr<JwtSigner> signer, JwtSigner::Create(JwtAlgorithm::kHs256, options.token_secret));
  Scenario scenario(options, clock, progress, hook, std::move(signer));
  return scenario.Play();
}

std::string FormatSummary(const TermSummary& s) {
  std::string out = absl::StrFormat("A term played through RootED: %d school days, %s to %s\n", s.school_days,
                                    absl::FormatCivilTime(s.first_day), absl::FormatCivilTime(s.last_day));
  absl::StrAppendFormat(&out, "  pupils scored       %d in pilot schools %s, %s, %s;", s.pupils, s.pilot_schools[0],
                        s.pilot_schools[1], s.pilot_schools[2]);
  for (const char* band : {"low", "medium", "high", "very high"}) {
    const auto it = s.pupils_by_band.find(band);
    absl::StrAppend(&out, " ", band, " ", it == s.pupils_by_band.end() ? 0 : it->second);
  }
  absl::StrAppendFormat(&out, "\n  registers           %d signals accepted, %d rejected\n", s.signals_accepted,
                        s.signals_rejected);
  absl::StrAppendFormat(&out, "  referrals           %d (from %d pupils on the schools' lists), %d triaged\n",
                        s.referral_ids.size(), s.at_risk_listed, s.triaged);
  absl::StrAppendFormat(&out, "  programme screening %s\n", FormatCounts(s.screenings_by_outcome));
  absl::StrAppendFormat(&out, "  forum               %d cases, %d meetings held; decisions:", s.forum_cases,
                        s.meetings_held);
  for (const auto& [type, n] : s.decisions_by_type) absl::StrAppend(&out, " ", type, " ", n, ";");
  absl::StrAppendFormat(&out, "\n  services            %d referrals made to directory services; %d cases with a programme lead\n",
                        s.services_matched, s.leads_allocated);
  absl::StrAppendFormat(&out, "  fund                %d requests, %s committed, %s paid (%d payments settled)\n",
                        s.fund_requests, Pounds(s.fund_committed_pence), Pounds(s.fund_paid_pence),
                        s.payments_settled);
  absl::StrAppendFormat(&out, "  cases closed        %d; in the outcome report:", s.cases_closed);
  for (const auto& [outcome, n] : s.closures_by_outcome) absl::StrAppend(&out, " ", outcome, " ", n);
  absl::StrAppend(&out, "\n");
  if (!s.outcome_lines.empty()) {
    absl::StrAppend(&out, "  outcome report (the demo models support winning back half of a supported pupil's absences):\n");
  }
  for (const std::string& line : s.outcome_lines) absl::StrAppend(&out, "    ", line, "\n");
  if (!s.sampled_referral_id.empty()) {
    absl::StrAppend(&out, "  one case, ", s.sampled_referral_id, ":\n");
    for (const std::string& line : s.sampled_timeline) absl::StrAppend(&out, "    ", line, "\n");
  }
  return out;
}

}  // namespace rooted::term
