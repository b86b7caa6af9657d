// rootedctl: the RootED APIs from the command line, for the everyday jobs.
//
//   rootedctl [COMMAND...] [--flags] [--json]     rootedctl --help
//
// Tables by default, the API's JSON with --json. Errors name the field at
// fault (from the service) and exit non-zero: 2 for a usage error, 1 when the
// service refused. Every setting is also an environment variable
// (ROOTED_TOKEN, ROOTED_REFERRAL_TARGET, ...), as for the services.

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/base/config.h"
#include "common/base/ids.h"
#include "common/base/proto_date.h"
#include "common/base/proto_time.h"
#include "common/kafka/event_consumer.h"
#include "common/kafka/kafka_producer.h"
#include "common/kafka/topics.h"
#include "common/server/checked_events.h"
#include "common/server/rpc_guard.h"
#include "rooted/audit/v1/audit.grpc.pb.h"
#include "rooted/directory/v1/directory.grpc.pb.h"
#include "rooted/forum/v1/forum.grpc.pb.h"
#include "rooted/fund/v1/fund.grpc.pb.h"
#include "rooted/referral/v1/casework.grpc.pb.h"
#include "rooted/referral/v1/programme.grpc.pb.h"
#include "rooted/referral/v1/referral.grpc.pb.h"
#include "rooted/risk/v1/risk.grpc.pb.h"
#include "rooted/risk/v1/risk_events.pb.h"
#include "tools/ctl/dead_letters.h"
#include "tools/ctl/yaml_json.h"
#include "tools/token/mint.h"

namespace {

namespace rv1 = rooted::referral::v1;
namespace kv1 = rooted::risk::v1;
namespace dv1 = rooted::directory::v1;
namespace fv1 = rooted::forum::v1;
namespace pv1 = rooted::fund::v1;
namespace cv1 = rooted::common::v1;

// A command's outcome: 0 done, 1 the service refused, 2 a usage error.
using Run = std::function<int(const rooted::Config&)>;

struct Command {
  std::string path;
  std::string usage;
  std::string help;
  Run run;
};

int UsageError(const std::string& path, absl::string_view message) {
  std::cerr << "rootedctl " << path << ": " << message << "\n(see rootedctl " << path << " --help)\n";
  return 2;
}

int Refused(const grpc::Status& status) {
  std::cerr << "rootedctl: " << rooted::CodeName(status.error_code()) << ": " << status.error_message()
            << "\n";
  return 1;
}

std::string EnumWords(const std::string& name, absl::string_view prefix) {
  std::string words = name.rfind(std::string(prefix), 0) == 0 ? name.substr(prefix.size()) : name;
  for (char& c : words) c = c == '_' ? ' ' : char(absl::ascii_tolower(static_cast<unsigned char>(c)));
  return words;
}

// A plain text table: columns as wide as their widest cell.
void PrintTable(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(header.size());
  for (size_t c = 0; c < header.size(); ++c) width[c] = header[c].size();
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size() && c < width.size(); ++c) width[c] = std::max(width[c], row[c].size());
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t c = 0; c < cells.size(); ++c) {
      out += cells[c];
      if (c + 1 < cells.size()) out += std::string(width[c] - cells[c].size() + 2, ' ');
    }
    std::cout << out << "\n";
  };
  line(header);
  for (const auto& row : rows) line(row);
}

void PrintJson(const google::protobuf::Message& message) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  std::cout << json;
}

// The settings every command shares, read before a command checks that
// every flag given was one it knows.
struct Session {
  explicit Session(const rooted::Config& config)
      : token(config.String("token", "")),
        json(config.Bool("json", false).value_or(false)),
        referral_target(config.String("referral-target", "127.0.0.1:50051")),
        risk_target(config.String("risk-target", "127.0.0.1:50052")),
        forum_target(config.String("forum-target", "127.0.0.1:50053")),
        directory_target(config.String("directory-target", "127.0.0.1:50054")),
        fund_target(config.String("fund-target", "127.0.0.1:50055")) {}

  std::unique_ptr<grpc::ClientContext> Context() const {
    auto context = std::make_unique<grpc::ClientContext>();
    if (!token.empty()) context->AddMetadata("authorization", "Bearer " + token);
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return context;
  }
  std::unique_ptr<rv1::ReferralService::Stub> Referrals() const {
    return rv1::ReferralService::NewStub(grpc::CreateChannel(referral_target, grpc::InsecureChannelCredentials()));
  }
  std::unique_ptr<kv1::RiskScoringService::Stub> Risk() const {
    return kv1::RiskScoringService::NewStub(grpc::CreateChannel(risk_target, grpc::InsecureChannelCredentials()));
  }

  std::unique_ptr<fv1::ForumService::Stub> Forum() const {
    return fv1::ForumService::NewStub(grpc::CreateChannel(forum_target, grpc::InsecureChannelCredentials()));
  }
  std::unique_ptr<dv1::DirectoryService::Stub> Directory() const {
    return dv1::DirectoryService::NewStub(grpc::CreateChannel(directory_target, grpc::InsecureChannelCredentials()));
  }

  std::string token;
  bool json;
  std::string referral_target;
  std::string risk_target;
  std::unique_ptr<dv1::TriageService::Stub> Triage() const {
    return dv1::TriageService::NewStub(grpc::CreateChannel(directory_target, grpc::InsecureChannelCredentials()));
  }
  std::unique_ptr<pv1::FundService::Stub> Fund() const {
    return pv1::FundService::NewStub(grpc::CreateChannel(fund_target, grpc::InsecureChannelCredentials()));
  }
  std::unique_ptr<rv1::ProgrammeService::Stub> Programmes() const {
    return rv1::ProgrammeService::NewStub(grpc::CreateChannel(referral_target, grpc::InsecureChannelCredentials()));
  }
  std::unique_ptr<rv1::CaseworkService::Stub> Casework() const {
    return rv1::CaseworkService::NewStub(grpc::CreateChannel(referral_target, grpc::InsecureChannelCredentials()));
  }

  std::string forum_target;
  std::string directory_target;
  std::string fund_target;

  // Every service keeps its own audit trail: the five of them, by name.
  std::vector<std::pair<std::string, std::string>> AuditTargets() const {
    return {{"referral-intake", referral_target},
            {"risk-scoring", risk_target},
            {"forum-scheduling", forum_target},
            {"directory-triage", directory_target},
            {"fund-payments", fund_target}};
  }
};

std::string Percent(int32_t bp) { return absl::StrFormat("%.1f%%", bp / 100.0); }

std::string Day(const google::protobuf::Timestamp& t) {
  return absl::FormatTime("%Y-%m-%d %H:%M", rooted::FromProtoTimestamp(t), absl::UTCTimeZone());
}

int Token(const rooted::Config& config) {
  absl::StatusOr<std::string> token = rooted::MintToken(config);
  if (!token.ok()) return UsageError("token", token.status().message());
  std::cout << *token << "\n";
  return 0;
}

// Reads `path` (JSON, or YAML when named .yaml/.yml) into `message`; the
// error names the file and what is wrong with it.
absl::Status ReadMessageFile(const std::string& path, google::protobuf::Message* message) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) return absl::InvalidArgumentError("--file: cannot read " + path);
  std::string json = text.str();
  if (rooted::ctl::IsYamlFileName(path)) {
    absl::StatusOr<std::string> converted = rooted::ctl::YamlToJson(json);
    if (!converted.ok()) return absl::InvalidArgumentError(absl::StrCat("--file: ", converted.status().message()));
    json = *std::move(converted);
  }
  const auto parsed = google::protobuf::util::JsonStringToMessage(json, message);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--file: not a ", message->GetDescriptor()->name(), ": ",
                                                   std::string(parsed.message())));
  }
  return absl::OkStatus();
}

int ReferralSubmit(const rooted::Config& config) {
  absl::StatusOr<std::string> file = config.RequiredString("file");
  if (!file.ok()) return UsageError("referral submit", file.status().message());
  rv1::SubmitReferralRequest request;
  if (absl::Status read = ReadMessageFile(*file, request.mutable_details()); !read.ok()) {
    return UsageError("referral submit", read.message());
  }
  request.set_request_id(config.String("request-id", rooted::NewUuid()));
  const Session session(config);
  if (absl::Status used = config.CheckAllFlagsUsed(); !used.ok()) return UsageError("referral submit", used.message());
  const bool json = session.json;
  rv1::SubmitReferralResponse response;
  const grpc::Status status = session.Referrals()->SubmitReferral(session.Context().get(), request, &response);
  if (!status.ok()) return Refused(status);
  if (json) {
    PrintJson(response);
  } else {
    std::cout << "referral " << response.referral().referral_id() << " submitted ("
              << EnumWords(rv1::ReferralStatus_Name(response.referral().status()), "REFERRAL_STATUS_") << ")\n";
  }
  return 0;
}

int ReferralList(const rooted::Config& config) {
  rv1::ListReferralsRequest request;
  request.set_school_urn(config.String("school", ""));
  const std::string status_name = absl::AsciiStrToUpper(config.String("status", ""));
  if (!status_name.empty()) {
    rv1::ReferralStatus status;
    if (!rv1::ReferralStatus_Parse("REFERRAL_STATUS_" + status_name, &status)) {
      return UsageError("referral list", "--status: submitted, triaged, listed_for_forum, in_support, withdrawn or closed");
    }
    request.set_status(status);
  }
  const Session session(config);
  if (absl::Status used = config.CheckAllFlagsUsed(); !used.ok()) return UsageError("referral list", used.message());
  const bool json = session.json;
  rv1::ListReferralsResponse response;
  const grpc::Status status = session.Referrals()->ListReferrals(session.Context().get(), request, &response);
  if (!status.ok()) return Refused(status);
  if (json) {
    PrintJson(response);
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (const rv1::ReferralSummary& r : response.referrals()) {
    rows.push_back({r.referral_id(), r.school_urn(), r.child_initials(), absl::StrCat(r.year_group()),
                    EnumWords(rv1::ReferralStatus_Name(r.status()), "REFERRAL_STATUS_"),
                    r.refer_to_forum() ? "yes" : "no", Day(r.created_at())});
  }
  PrintTable({"REFERRAL", "SCHOOL", "CHILD", "YEAR", "STATUS", "FORUM", "SUBMITTED"}, rows);
  return 0;
}

int ReferralShow(const rooted::Config& config) {
  absl::StatusOr<std::string> id = config.RequiredString("id");
  if (!id.ok()) return UsageError("referral show", id.status().message());
  rv1::GetReferralRequest request;
  request.set_referral_id(*id);
  request.set_purpose(config.String("purpose", "case work"));
  const Session session(config);
  if (absl::Status used = config.CheckAllFlagsUsed(); !used.ok()) return UsageError("referral show", used.message());
  rv1::GetReferralResponse response;
  const grpc::Status status = session.Referrals()->GetReferral(session.Context().get(), request, &response);
  if (!status.ok()) return Refused(status);
  PrintJson(response);  // a referral is a document: shown whole, as JSON
  return 0;
}

int CaseTimeline(const rooted::Config& config) {
  absl::StatusOr<std::string> id = config.RequiredString("id");
  if (!id.ok()) return UsageError("case timeline", id.status().message());
  rv1::GetCaseTimelineRequest request;
  request.set_referral_id(*id);
  request.set_purpose(config.String("purpose", "case work"));
  const Session session(config);
  if (absl::Status used = config.CheckAllFlagsUsed(); !used.ok()) return UsageError("case timeline", used.message());
  const bool json = session.json;
  rv1::GetCaseTimelineResponse response;
  const grpc::Status status = session.Referrals()->GetCaseTimeline(session.Context().get(), request, &response);
  if (!status.ok()) return Refused(status);
  if (json) {
    PrintJson(response);
    return 0;
  }
  std::cout << "case " << *id << ": " << EnumWords(rv1::ReferralStatus_Name(response.status()), "REFERRAL_STATUS_")
            << "\n";
  std::vector<std::vector<std::string>> rows;
  for (const rv1::TimelineEntry& e : response.entries()) {
    rows.push_back({Day(e.occurred_at()), e.actor().subject(), e.summary()});
  }
  PrintTable({"WHEN (UTC)", "BY", "WHAT"}, rows);
  return 0;
}

int RiskList(const rooted::Config& config) {
  kv1::ListAtRiskRequest request;
  request.set_school_urn(config.String("school", ""));
  const std::string band = absl::AsciiStrToUpper(config.String("band", "medium"));
  cv1::RiskBand minimum;
  if (!cv1::RiskBand_Parse("RISK_BAND_" + band, &minimum)) {
    return UsageError("risk list", "--band: low, medium, high or very_high");
  }
  request.set_minimum_band(minimum);
  request.set_include_cliff_edge(config.Bool("cliff-edge", true).value_or(true));
  const Session session(config);
  if (absl::Status used = config.CheckAllFlagsUsed(); !used.ok()) return UsageError("risk list", used.message());
  const bool json = session.json;
  kv1::ListAtRiskResponse response;
  const grpc::Status status = session.Risk()->ListAtRisk(session.Context().get(), request, &response);
  if (!status.ok()) return Refused(status);
  if (json) {
    PrintJson(response);
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (const kv1::RiskProfile& p : response.profiles()) {
    std::vector<std::string> reasons;
    for (const kv1::RiskReason& r : p.reasons()) reasons.push_back(r.text());
    rows.push_back({p.pupil_ref().value(), p.school_urn(), EnumWords(cv1::RiskBand_Name(p.band()), "RISK_BAND_"),
                    absl::StrCat(p.score()), p.cliff_edge() ? "yes" : "", absl::StrJoin(reasons, "; ")});
  }
  PrintTable({"PUPIL REF", "SCHOOL", "BAND", "SCORE", "CLIFF", "REASONS"}, rows);
  return 0;
}

int DirectorySearch(const rooted::Config& config) {
  dv1::SearchServicesRequest request;
  request.set_text(config.String("text", ""));
  request.set_taxonomy_term_id(config.String("need", ""));
  request.set_postcode(config.String("postcode", ""));
  const absl::StatusOr<int64_t> age = config.Int("age", 0, 0, 120);
  if (!age.ok()) return UsageError("directory search", age.status().message());
  request.set_age(int32_t(*age));
  const Session session(config);
  if (absl::Status used = config.CheckAllFlagsUsed(); !used.ok()) return UsageError("directory search", used.message());
  dv1::SearchServicesResponse response;
  const grpc::Status status = session.Directory()->SearchServices(session.Context().get(), request, &response);
  if (!status.ok()) return Refused(status);
  if (session.json) {
    PrintJson(response);
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (int i = 0; i < response.services_size(); ++i) {
    const dv1::Service& s = response.services(i);
    const int32_t metres = i < response.distance_metres_size() ? response.distance_metres(i) : -1;
    rows.push_back({s.id(), s.name(), absl::StrJoin(s.taxonomy_term_ids(), ","),
                    metres < 0 ? "" : absl::StrFormat("%.1f km", metres / 1000.0),
                    absl::StrCat(s.capacity().available(), "/", s.capacity().maximum())});
  }
  PrintTable({"SERVICE", "NAME", "NEEDS", "DISTANCE", "PLACES"}, rows);
  std::cout << response.total_items() << " found\n";
  return 0;
}

int ForumAgenda(const rooted::Config& config) {
  absl::StatusOr<std::string> meeting = config.RequiredString("meeting");
  if (!meeting.ok()) return UsageError("forum agenda", meeting.status().message());
  fv1::GetAgendaRequest request;
  request.set_meeting_id(*meeting);
  const Session session(config);
  if (absl::Status used = config.CheckAllFlagsUsed(); !used.ok()) return UsageError("forum agenda", used.message());
  fv1::GetAgendaResponse response;
  const grpc::Status status = session.Forum()->GetAgenda(session.Context().get(), request, &response);
  if (!status.ok()) return Refused(status);
  if (session.json) {
    PrintJson(response);
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (const fv1::AgendaItem& item : response.items()) {
    const fv1::ForumCase& c = item.forum_case();
    rows.push_back({absl::StrCat(item.order()), c.case_id(), item.redacted() ? "(redacted)" : c.referral_id(),
                    EnumWords(cv1::RiskBand_Name(c.risk_band()), "RISK_BAND_"), c.priority_reason(),
                    item.misses_deadline() ? "late" : ""});
  }
  PrintTable({"#", "CASE", "REFERRAL", "BAND", "PRIORITY", ""}, rows);
  if (response.not_fitted_total() > 0) {
    std::cout << response.not_fitted_total() << " cases did not fit; the nearest: "
              << (response.not_fitted().empty() ? "" : response.not_fitted(0).reason()) << "\n";
  }
  return 0;
}

int TriageReferral(const rooted::Config& config) {
  absl::StatusOr<std::string> referral = config.RequiredString("referral");
  if (!referral.ok()) return UsageError("triage", referral.status().message());
  dv1::TriageRequest request;
  request.set_referral_id(*referral);
  const Session session(config);
  if (absl::Status used = config.CheckAllFlagsUsed(); !used.ok()) return UsageError("triage", used.message());
  dv1::TriageResponse response;
  const grpc::Status status = session.Triage()->Triage(session.Context().get(), request, &response);
  if (!status.ok()) return Refused(status);
  if (session.json) {
    PrintJson(response);
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (const dv1::RankedService& r : response.ranked()) {
    rows.push_back({absl::StrCat(r.score()), r.service().id(), r.service().name(), r.reason()});
  }
  PrintTable({"SCORE", "SERVICE", "NAME", "WHY"}, rows);
  std::cout << response.excluded_total() << " services meet a need but cannot take this child";
  if (!response.excluded().empty()) std::cout << " (for example: " << response.excluded(0).reason() << ")";
  std::cout << "\n";
  return 0;
}

std::string Pounds(const cv1::Money& money) {
  return absl::StrFormat("£%d.%02d", money.pence() / 100, money.pence() % 100);
}

// Every page of a listing gathered into `all` (its repeated fields appended
// page by page); `ask` sends one request.
template <typename Request, typename Response, typename Ask>
grpc::Status EveryPage(const Session& session, Ask ask, Response& all) {
  Request request;
  request.mutable_page()->set_page_size(500);
  do {
    Response page;
    if (grpc::Status status = ask(session.Context().get(), request, &page); !status.ok())
      return status;
    all.MergeFrom(page);
    request.mutable_page()->set_page_token(page.page().next_page_token());
  } while (!request.page().page_token().empty());
  return grpc::Status::OK;
}

int ForumList(const rooted::Config& config) {
  const Session session(config);
  if (absl::Status used = config.CheckAllFlagsUsed(); !used.ok())
    return UsageError("forum list", used.message());
  fv1::ListForumsResponse all;
  const grpc::Status status = EveryPage<fv1::ListForumsRequest>(
      session,
      [&](auto* context, const auto& request, auto* page) {
        return session.Forum()->ListForums(context, request, page);
      },
      all);
  if (!status.ok()) return Refused(status);
  if (session.json) {
    PrintJson(all);
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (const fv1::Forum& f : all.forums()) {
    const fv1::Cadence& c = f.cadence();
    const std::string every =
        c.every_weeks() == 1 ? "weekly" : absl::StrCat("every ", c.every_weeks(), " weeks");
    rows.push_back(
        {f.forum_id(), f.name(), f.locality(),
         absl::StrFormat("%s %02d:%02d, %s", EnumWords(fv1::Weekday_Name(c.weekday()), "WEEKDAY_"),
                         c.start_minute() / 60, c.start_minute() % 60, every),
         absl::StrCat(f.terms_size())});
  }
  PrintTable({"FORUM", "NAME", "LOCALITY", "MEETS", "TERMS"}, rows);
  return 0;
}

int FundAllocations(const rooted::Config& config) {
  const Session session(config);
  if (absl::Status used = config.CheckAllFlagsUsed(); !used.ok())
    return UsageError("fund allocations", used.message());
  pv1::ListFundsResponse all;
  const grpc::Status status = EveryPage<pv1::ListFundsRequest>(
      session,
      [&](auto* context, const auto& request, auto* page) {
        return session.Fund()->ListFunds(context, request, page);
      },
      all);
  if (!status.ok()) return Refused(status);
  if (session.json) {
    PrintJson(all);
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (const pv1::ListedFund& listed : all.funds()) {
    const pv1::Fund& f = listed.fund();
    rows.push_back({f.fund_id(), f.name(), "", "", "", Pounds(f.total_budget())});
    for (const pv1::AllocationBalance& a : listed.allocations()) {
      const cv1::OrganisationRef& holder = a.allocation().holder();
      rows.push_back(
          {"", "", a.allocation().allocation_id(),
           absl::StrCat(EnumWords(cv1::OrganisationType_Name(holder.type()), "ORGANISATION_TYPE_"),
                        " ", holder.id()),
           a.allocation().term(), Pounds(a.remaining())});
    }
  }
  PrintTable({"FUND", "NAME", "ALLOCATION", "HOLDER", "TERM", "BUDGET / LEFT"}, rows);
  return 0;
}

int FundList(const rooted::Config& config) {
  pv1::ListFundRequestsRequest request;
  request.set_fund_id(config.String("fund", ""));
  const std::string status_name = absl::AsciiStrToUpper(config.String("status", ""));
  if (!status_name.empty()) {
    pv1::RequestStatus status;
    if (!pv1::RequestStatus_Parse("REQUEST_STATUS_" + status_name, &status)) {
      return UsageError("fund list", "--status: draft, submitted, approved, rejected, paid or payment_failed");
    }
    request.set_status(status);
  }
  const Session session(config);
  if (absl::Status used = config.CheckAllFlagsUsed(); !used.ok()) return UsageError("fund list", used.message());
  pv1::ListFundRequestsResponse response;
  const grpc::Status status = session.Fund()->ListFundRequests(session.Context().get(), request, &response);
  if (!status.ok()) return Refused(status);
  if (session.json) {
    PrintJson(response);
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (const pv1::FundRequest& r : response.fund_requests()) {
    rows.push_back({r.request_id(), r.referral_id(),
                    EnumWords(pv1::Category_Name(r.category()), "CATEGORY_"), Pounds(r.amount()),
                    EnumWords(pv1::RequestStatus_Name(r.status()), "REQUEST_STATUS_"),
                    absl::StrCat(r.approved_by_size())});
  }
  PrintTable({"REQUEST", "REFERRAL", "CATEGORY", "AMOUNT", "STATUS", "APPROVALS"}, rows);
  return 0;
}

int FundApprove(const rooted::Config& config) {
  absl::StatusOr<std::string> id = config.RequiredString("request");
  if (!id.ok()) return UsageError("fund approve", id.status().message());
  pv1::ApproveFundRequestRequest request;
  request.set_fund_request_id(*id);
  request.set_client_request_id(config.String("request-id", rooted::NewUuid()));
  const Session session(config);
  if (absl::Status used = config.CheckAllFlagsUsed(); !used.ok()) return UsageError("fund approve", used.message());
  pv1::ApproveFundRequestResponse response;
  const grpc::Status status = session.Fund()->ApproveFundRequest(session.Context().get(), request, &response);
  if (!status.ok()) return Refused(status);
  if (session.json) {
    PrintJson(response);
    return 0;
  }
  std::cout << "fund request " << *id << ": "
            << EnumWords(pv1::RequestStatus_Name(response.fund_request().status()), "REQUEST_STATUS_")
            << (response.fund_request().payment_id().empty() ? "" : ", payment " + response.fund_request().payment_id())
            << "\n";
  return 0;
}

// "85", "85.5" or "85.50" pounds as pence.
absl::StatusOr<int64_t> ParsePounds(absl::string_view text) {
  const size_t dot = text.find('.');
  int64_t pounds = 0;
  int64_t pence = 0;
  const absl::string_view whole = text.substr(0, dot);
  const absl::string_view fraction = dot == absl::string_view::npos ? "" : text.substr(dot + 1);
  if (whole.empty() || fraction.size() > 2 || !absl::SimpleAtoi(whole, &pounds) || pounds < 0 ||
      (!fraction.empty() && !absl::SimpleAtoi(fraction, &pence))) {
    return absl::InvalidArgumentError("--amount: pounds, such as 85 or 85.50");
  }
  return pounds * 100 + (fraction.size() == 1 ? pence * 10 : pence);
}

int ForumDecision(const rooted::Config& config) {
  const std::string path = "forum decision";
  absl::StatusOr<std::string> meeting = config.RequiredString("meeting");
  absl::StatusOr<std::string> case_id = config.RequiredString("case");
  absl::StatusOr<std::string> type_name = config.RequiredString("type");
  for (const auto* given : {&meeting, &case_id, &type_name}) {
    if (!given->ok()) return UsageError(path, given->status().message());
  }
  fv1::RecordDecisionRequest request;
  request.set_request_id(config.String("request-id", rooted::NewUuid()));
  request.set_meeting_id(*meeting);
  fv1::Decision* decision = request.mutable_decision();
  decision->set_case_id(*case_id);
  fv1::DecisionType type;
  if (!fv1::DecisionType_Parse("DECISION_TYPE_" + absl::AsciiStrToUpper(*type_name), &type) ||
      type == fv1::DECISION_TYPE_UNSPECIFIED) {
    return UsageError(path, "--type: allocate_programme_lead, refer_to_service, request_fund_support, "
                            "escalate_early_help, escalate_social_care, no_further_action or review");
  }
  decision->set_type(type);
  decision->set_target_id(config.String("target", ""));
  if (const std::string amount = config.String("amount", ""); !amount.empty()) {
    absl::StatusOr<int64_t> pence = ParsePounds(amount);
    if (!pence.ok()) return UsageError(path, pence.status().message());
    decision->mutable_fund_amount()->set_pence(*pence);
    decision->mutable_fund_amount()->set_currency("GBP");
  }
  if (const std::string review = config.String("review-on", ""); !review.empty()) {
    absl::CivilDay day;
    if (!absl::ParseCivilTime(review, &day)) return UsageError(path, "--review-on: a date, YYYY-MM-DD");
    *decision->mutable_review_on() = rooted::ToProtoDate(day);
  }
  const Session session(config);
  if (absl::Status used = config.CheckAllFlagsUsed(); !used.ok()) return UsageError(path, used.message());
  fv1::RecordDecisionResponse response;
  const grpc::Status status = session.Forum()->RecordDecision(session.Context().get(), request, &response);
  if (!status.ok()) return Refused(status);
  if (session.json) {
    PrintJson(response);
    return 0;
  }
  std::cout << "decision " << response.decision().decision_id() << " recorded: "
            << EnumWords(fv1::DecisionType_Name(response.decision().type()), "DECISION_TYPE_") << " (by "
            << response.decision().decided_by().subject() << ")\n";
  return 0;
}

int FundRequest(const rooted::Config& config) {
  absl::StatusOr<std::string> file = config.RequiredString("file");
  if (!file.ok()) return UsageError("fund request", file.status().message());
  pv1::SubmitFundRequestRequest request;
  if (absl::Status read = ReadMessageFile(*file, request.mutable_fund_request()); !read.ok()) {
    return UsageError("fund request", read.message());
  }
  request.set_client_request_id(config.String("request-id", rooted::NewUuid()));
  const Session session(config);
  if (absl::Status used = config.CheckAllFlagsUsed(); !used.ok()) return UsageError("fund request", used.message());
  pv1::SubmitFundRequestResponse response;
  const grpc::Status status = session.Fund()->SubmitFundRequest(session.Context().get(), request, &response);
  if (!status.ok()) return Refused(status);
  if (session.json) {
    PrintJson(response);
    return 0;
  }
  std::cout << "fund request " << response.fund_request().request_id() << " "
            << EnumWords(pv1::RequestStatus_Name(response.fund_request().status()), "REQUEST_STATUS_") << "\n";
  return 0;
}

int ScreeningShow(const rooted::Config& config) {
  absl::StatusOr<std::string> id = config.RequiredString("referral");
  if (!id.ok()) return UsageError("screening show", id.status().message());
  rv1::GetScreeningRequest request;
  request.set_referral_id(*id);
  const Session session(config);
  if (absl::Status used = config.CheckAllFlagsUsed(); !used.ok()) return UsageError("screening show", used.message());
  rv1::GetScreeningResponse response;
  const grpc::Status status = session.Programmes()->GetScreening(session.Context().get(), request, &response);
  if (!status.ok()) return Refused(status);
  if (session.json) {
    PrintJson(response);
    return 0;
  }
  const rv1::Screening& s = response.screening();
  std::cout << "referral " << s.referral_id() << ", programme " << s.programme_id() << " v" << s.programme_version()
            << ": " << EnumWords(rv1::ScreeningOutcome_Name(s.outcome()), "SCREENING_OUTCOME_")
            << (s.pathway().empty() ? "" : " to " + s.pathway()) << "\n  " << s.reason() << "\n";
  if (s.overridden()) {
    std::cout << "  overridden by " << s.overridden_by().subject() << " (the rules said "
              << EnumWords(rv1::ScreeningOutcome_Name(s.rules_outcome()), "SCREENING_OUTCOME_")
              << "): " << s.override_reason() << "\n";
  }
  return 0;
}

int CaseloadList(const rooted::Config& config) {
  rv1::ListCaseloadsRequest request;
  request.set_partner_id(config.String("partner", ""));
  const Session session(config);
  if (absl::Status used = config.CheckAllFlagsUsed(); !used.ok()) return UsageError("caseload list", used.message());
  rv1::ListCaseloadsResponse response;
  const grpc::Status status = session.Casework()->ListCaseloads(session.Context().get(), request, &response);
  if (!status.ok()) return Refused(status);
  if (session.json) {
    PrintJson(response);
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (const rv1::LeadCaseload& c : response.caseloads()) {
    rows.push_back({c.partner_id(), c.lead_subject(),
                    absl::StrCat(c.referral_ids_size(), " of ", c.caseload_limit()),
                    absl::StrJoin(c.referral_ids(), " ")});
  }
  PrintTable({"PARTNER", "LEAD", "OPEN CASES", "REFERRALS"}, rows);
  return 0;
}

int MovementReport(const rooted::Config& config) {
  const std::string path = "movement report";
  absl::StatusOr<std::string> from = config.RequiredString("from");
  absl::StatusOr<std::string> to = config.RequiredString("to");
  if (!from.ok()) return UsageError(path, from.status().message());
  if (!to.ok()) return UsageError(path, to.status().message());
  absl::CivilDay first, last;
  if (!absl::ParseCivilTime(*from, &first)) return UsageError(path, "--from: a date, YYYY-MM-DD");
  if (!absl::ParseCivilTime(*to, &last)) return UsageError(path, "--to: a date, YYYY-MM-DD");
  kv1::GetMovementReportRequest request;
  request.set_school_urn(config.String("school", ""));
  *request.mutable_from() = rooted::ToProtoDate(first);
  *request.mutable_to() = rooted::ToProtoDate(last);
  request.set_include_pupils(config.Bool("pupils", false).value_or(false));
  const Session session(config);
  if (absl::Status used = config.CheckAllFlagsUsed(); !used.ok()) return UsageError(path, used.message());
  kv1::GetMovementReportResponse response;
  const grpc::Status status = session.Risk()->GetMovementReport(session.Context().get(), request, &response);
  if (!status.ok()) return Refused(status);
  if (session.json) {
    PrintJson(response);
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  auto row = [&](const kv1::SchoolMovements& m, const std::string& name) {
    rows.push_back({name, absl::StrCat(m.joined()), absl::StrCat(m.left()),
                    absl::StrCat(m.managed_moves_in(), "/", m.managed_moves_out()),
                    absl::StrCat(m.to_alternative_provision(), "/", m.from_alternative_provision()),
                    absl::StrCat(m.to_pupil_referral_unit(), "/", m.from_pupil_referral_unit()),
                    absl::StrCat(m.permanent_exclusions())});
  };
  for (const kv1::SchoolMovements& m : response.schools()) row(m, m.school_urn());
  if (response.has_council()) row(response.council(), "council");
  PrintTable({"SCHOOL", "JOINED", "LEFT", "MANAGED IN/OUT", "AP TO/FROM", "PRU TO/FROM", "EXCLUDED"}, rows);
  for (const kv1::PupilMovement& p : response.pupils()) {
    std::cout << "  " << p.date().year() << "-" << absl::StrFormat("%02d-%02d", p.date().month(), p.date().day())
              << "  " << p.pupil_ref().value() << "  " << p.from_school_urn() << " -> "
              << (p.to_school_urn().empty() ? "(excluded)" : p.to_school_urn()) << "\n";
  }
  return 0;
}

int OutcomesReport(const rooted::Config& config) {
  const Session session(config);
  if (absl::Status used = config.CheckAllFlagsUsed(); !used.ok()) return UsageError("outcomes report", used.message());
  kv1::GetOutcomeReportResponse response;
  const grpc::Status status = session.Risk()->GetOutcomeReport(session.Context().get(), {}, &response);
  if (!status.ok()) return Refused(status);
  if (session.json) {
    PrintJson(response);
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (const kv1::InterventionOutcome& o : response.outcomes()) {
    rows.push_back({o.intervention(), absl::StrCat(o.cases()), absl::StrCat(o.pending_cases()),
                    o.cases() ? Percent(o.attendance_before_bp()) : "", o.cases() ? Percent(o.attendance_after_bp()) : "",
                    o.term_later_cases() ? Percent(o.attendance_term_later_bp()) : "",
                    o.term_later_cases() ? absl::StrCat(o.sustained_cases(), "/", o.term_later_cases()) : ""});
  }
  PrintTable({"INTERVENTION", "CASES", "PENDING", "BEFORE", "AFTER", "TERM LATER", "SUSTAINED"}, rows);
  if (!response.closures().empty()) {
    std::cout << "\ncases closed:";
    for (const kv1::ClosureCount& c : response.closures()) std::cout << " " << EnumWords(c.outcome(), "") << " " << c.cases() << ";";
    std::cout << "\n";
  }
  return 0;
}

// The entries of one service's trail that match `request`, every page.
grpc::Status ReadTrail(const Session& session, const std::string& target,
                       rooted::audit::v1::ListAuditEntriesRequest request,
                       std::vector<rooted::audit::v1::AuditRecord>& into) {
  auto stub = rooted::audit::v1::AuditService::NewStub(
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  request.mutable_page()->set_page_size(500);
  do {
    rooted::audit::v1::ListAuditEntriesResponse page;
    const grpc::Status status = stub->ListAuditEntries(session.Context().get(), request, &page);
    if (!status.ok()) return status;
    for (rooted::audit::v1::AuditRecord& entry : *page.mutable_entries())
      into.push_back(std::move(entry));
    request.mutable_page()->set_page_token(page.next_page_token());
  } while (!request.page().page_token().empty());
  return grpc::Status::OK;
}

int Audit(const rooted::Config& config) {
  const std::string path = "audit";
  rooted::audit::v1::ListAuditEntriesRequest request;
  if (std::string ref = config.String("pupil-ref", ""); !ref.empty())
    request.mutable_pupil_ref()->set_value(ref);
  request.set_actor_subject(config.String("actor", ""));
  request.set_purpose(config.String("purpose", ""));
  // --from is the first day included, --to the last.
  for (const bool first_day : {true, false}) {
    const std::string flag = first_day ? "from" : "to";
    const std::string given = config.String(flag, "");
    if (given.empty()) continue;
    absl::CivilDay day;
    if (!absl::ParseCivilTime(given, &day))
      return UsageError(path, absl::StrCat("--", flag, ": a date, YYYY-MM-DD"));
    const google::protobuf::Timestamp bound =
        rooted::ToProtoTimestamp(absl::FromCivil(first_day ? day : day + 1, absl::UTCTimeZone()));
    *(first_day ? request.mutable_from() : request.mutable_to()) = bound;
  }
  if (request.pupil_ref().value().empty() && request.actor_subject().empty() &&
      !request.has_from()) {
    return UsageError(path,
                      "give --pupil-ref, --actor or --from: the whole trail is not one question");
  }
  const Session session(config);
  if (absl::Status used = config.CheckAllFlagsUsed(); !used.ok())
    return UsageError(path, used.message());
  std::vector<rooted::audit::v1::AuditRecord> entries;
  std::vector<std::string> unanswered;
  for (const auto& [service, target] : session.AuditTargets()) {
    const grpc::Status status = ReadTrail(session, target, request, entries);
    if (status.ok()) continue;
    if (status.error_code() == grpc::PERMISSION_DENIED ||
        status.error_code() == grpc::UNAUTHENTICATED ||
        status.error_code() == grpc::INVALID_ARGUMENT) {
      return Refused(status);
    }
    unanswered.push_back(absl::StrCat(service, " (", rooted::CodeName(status.error_code()), ": ",
                                      status.error_message(), ")"));
  }
  // One history in time order, whichever trail an entry came from.
  std::stable_sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
    return std::pair(a.at().seconds(), a.at().nanos()) <
           std::pair(b.at().seconds(), b.at().nanos());
  });
  if (session.json) {
    rooted::audit::v1::ListAuditEntriesResponse merged;
    for (auto& entry : entries) *merged.add_entries() = std::move(entry);
    PrintJson(merged);
  } else {
    std::vector<std::vector<std::string>> rows;
    for (const auto& e : entries) {
      rows.push_back(
          {absl::FormatTime("%Y-%m-%d %H:%M:%S", rooted::FromProtoTimestamp(e.at()),
                            absl::UTCTimeZone()),
           e.service(), e.actor_subject(), e.actor_role(), e.actor_organisation(), e.action(),
           e.record_kind().empty() ? "" : absl::StrCat(e.record_kind(), " ", e.record_id()),
           e.outcome(), e.purpose()});
    }
    PrintTable({"AT (UTC)", "SERVICE", "WHO", "ROLE", "ORGANISATION", "CALL", "RECORD", "OUTCOME",
                "PURPOSE"},
               rows);
  }
  if (unanswered.empty()) return 0;
  std::cerr << "rootedctl audit: incomplete, no answer from " << absl::StrJoin(unanswered, "; ")
            << "\n";
  return 1;
}

// --- Dead letters: read from Kafka itself, the one place they are kept.

// What the dead-letter commands share: the cluster, and which letters.
struct DeadLetterQuery {
  std::string bootstrap;
  std::string topic;  // the consumed topic, or every topic when empty
  std::string group;  // the failing consumer group, or every group when empty
};

absl::StatusOr<DeadLetterQuery> ReadDeadLetterQuery(const rooted::Config& config) {
  DeadLetterQuery query{config.String("kafka-bootstrap", ""), config.String("topic", ""),
                        config.String("group", "")};
  if (query.bootstrap.empty()) {
    return absl::InvalidArgumentError(
        "--kafka-bootstrap (ROOTED_KAFKA_BOOTSTRAP): the Kafka cluster's bootstrap servers "
        "(the local stack's are in .run/bootstrap)");
  }
  if (!query.topic.empty() && std::find(rooted::topics::kAll.begin(), rooted::topics::kAll.end(),
                                        query.topic) == rooted::topics::kAll.end()) {
    return absl::InvalidArgumentError(absl::StrCat("--topic: one of ",
                                                   absl::StrJoin(rooted::topics::kAll, ", "),
                                                   " (the topic the event was consumed from)"));
  }
  return query;
}

absl::StatusOr<std::vector<rooted::ctl::DeadLetter>> FindDeadLetters(const DeadLetterQuery& query) {
  std::vector<std::string> dlq_topics;
  for (const absl::string_view topic : rooted::topics::kAll) {
    if (query.topic.empty() || query.topic == topic) {
      dlq_topics.push_back(absl::StrCat(topic, rooted::topics::kDeadLetterSuffix));
    }
  }
  absl::StatusOr<std::vector<rooted::ctl::DeadLetter>> letters =
      rooted::ctl::ReadDeadLetters(query.bootstrap, dlq_topics, absl::Seconds(30));
  if (!letters.ok() || query.group.empty()) return letters;
  std::erase_if(*letters, [&](const rooted::ctl::DeadLetter& letter) {
    return letter.header(rooted::kDeadLetterGroupHeader) != query.group;
  });
  return letters;
}

int KafkaFailed(absl::string_view path, const absl::Status& status) {
  std::cerr << "rootedctl " << path << ": " << absl::StatusCodeToString(status.code()) << ": "
            << status.message() << "\n";
  return 1;
}

std::string When(absl::Time at) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S", at, absl::UTCTimeZone());
}

nlohmann::json DeadLetterJson(const rooted::ctl::DeadLetter& letter) {
  return {{"id", letter.id()},
          {"topic", letter.source_topic()},
          {"deadLetteredAt", absl::FormatTime(absl::RFC3339_sec, letter.at, absl::UTCTimeZone())},
          {"headers", letter.headers}};
}

// JSON text of what a dead letter carries. Its key and headers are bytes a
// faulty producer wrote, not always UTF-8: invalid sequences print as U+FFFD
// rather than end the command.
std::string DumpDeadLetterJson(const nlohmann::json& value) {
  return value.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

int DlqList(const rooted::Config& config) {
  const Session session(config);
  absl::StatusOr<DeadLetterQuery> query = ReadDeadLetterQuery(config);
  if (!query.ok()) return UsageError("dlq list", query.status().message());
  if (absl::Status used = config.CheckAllFlagsUsed(); !used.ok())
    return UsageError("dlq list", used.message());
  absl::StatusOr<std::vector<rooted::ctl::DeadLetter>> letters = FindDeadLetters(*query);
  if (!letters.ok()) return KafkaFailed("dlq list", letters.status());
  if (session.json) {
    nlohmann::json all = nlohmann::json::array();
    for (const auto& letter : *letters) all.push_back(DeadLetterJson(letter));
    std::cout << DumpDeadLetterJson(all) << "\n";
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& letter : *letters) {
    rows.push_back({letter.id(), When(letter.at), letter.header(rooted::kDeadLetterGroupHeader),
                    letter.header(rooted::kDeadLetterCodeHeader),
                    letter.header(rooted::kDeadLetterAttemptsHeader), letter.header("event_type"),
                    letter.header(rooted::kDeadLetterReasonHeader)});
  }
  PrintTable({"DEAD LETTER", "AT (UTC)", "GROUP", "CODE", "TRIES", "EVENT TYPE", "REASON"}, rows);
  return 0;
}

// The payload as its topic's envelope in the API's JSON; FAILED_PRECONDITION
// saying why when it cannot be (the usual reason an event is dead-lettered).
absl::StatusOr<std::string> PayloadJson(const rooted::ctl::DeadLetter& letter) {
  const google::protobuf::Message* envelope =
      letter.source_topic() == rooted::topics::kSignals
          ? &rooted::risk::v1::SignalEvent::default_instance()
          : rooted::EventEnvelopeOf(letter.source_topic());
  if (envelope == nullptr)
    return absl::FailedPreconditionError("no envelope is known for this topic");
  std::unique_ptr<google::protobuf::Message> parsed(envelope->New());
  if (!parsed->ParseFromString(letter.payload)) {
    return absl::FailedPreconditionError(absl::StrCat(letter.payload.size(),
                                                      " bytes that do not parse as ",
                                                      envelope->GetDescriptor()->full_name()));
  }
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  if (const auto printed = google::protobuf::util::MessageToJsonString(*parsed, &json, options);
      !printed.ok()) {
    return absl::FailedPreconditionError(std::string(printed.message()));
  }
  return json;
}

absl::StatusOr<std::vector<rooted::ctl::DeadLetter>> DeadLettersNamed(
    const DeadLetterQuery& query, const std::vector<std::string>& ids) {
  std::vector<rooted::ctl::DeadLetter> named;
  std::set<std::string> wanted;
  for (const std::string& id : ids) {
    absl::StatusOr<rooted::ctl::DeadLetterPlace> place = rooted::ctl::ParseDeadLetterId(id, "--id");
    if (!place.ok()) return place.status();
    wanted.insert(id);
  }
  absl::StatusOr<std::vector<rooted::ctl::DeadLetter>> letters = FindDeadLetters(query);
  if (!letters.ok()) return letters.status();
  for (auto& letter : *letters) {
    if (wanted.erase(letter.id()) > 0) named.push_back(std::move(letter));
  }
  if (!wanted.empty()) {
    return absl::NotFoundError(
        absl::StrCat("--id: ", absl::StrJoin(wanted, ", "),
                     " not on the dead-letter topics (dlq list shows what is)"));
  }
  return named;
}

int DlqShow(const rooted::Config& config) {
  const Session session(config);
  absl::StatusOr<DeadLetterQuery> query = ReadDeadLetterQuery(config);
  if (!query.ok()) return UsageError("dlq show", query.status().message());
  absl::StatusOr<std::string> id = config.RequiredString("id");
  if (!id.ok()) return UsageError("dlq show", id.status().message());
  if (absl::Status used = config.CheckAllFlagsUsed(); !used.ok())
    return UsageError("dlq show", used.message());
  if (absl::Status valid = rooted::ctl::ParseDeadLetterId(*id, "--id").status(); !valid.ok()) {
    return UsageError("dlq show", valid.message());
  }
  absl::StatusOr<std::vector<rooted::ctl::DeadLetter>> found = DeadLettersNamed(*query, {*id});
  if (!found.ok()) return KafkaFailed("dlq show", found.status());
  const rooted::ctl::DeadLetter& letter = found->front();
  if (session.json) {
    nlohmann::json shown = DeadLetterJson(letter);
    shown["key"] = letter.key;
    if (absl::StatusOr<std::string> payload = PayloadJson(letter); payload.ok()) {
      shown["payload"] = nlohmann::json::parse(*payload, nullptr, /*allow_exceptions=*/false);
    } else {
      shown["payload"] = nullptr;
      shown["payloadError"] = std::string(payload.status().message());
    }
    std::cout << DumpDeadLetterJson(shown) << "\n";
    return 0;
  }
  std::cout << "dead letter  " << letter.id() << "\n"
            << "at (UTC)     " << When(letter.at) << "\n"
            << "from         " << letter.source_topic() << ", key " << letter.key << "\n";
  for (const auto& [name, value] : letter.headers)
    std::cout << "  " << name << ": " << value << "\n";
  const absl::StatusOr<std::string> payload = PayloadJson(letter);
  std::cout << "payload:\n"
            << (payload.ok() ? *payload : absl::StrCat("(", payload.status().message(), ")"))
            << "\n";
  return 0;
}

int DlqReplay(const rooted::Config& config) {
  absl::StatusOr<DeadLetterQuery> query = ReadDeadLetterQuery(config);
  if (!query.ok()) return UsageError("dlq replay", query.status().message());
  const std::string ids = config.String("id", "");
  absl::StatusOr<bool> all = config.Bool("all", false);
  if (!all.ok()) return UsageError("dlq replay", all.status().message());
  if (absl::Status used = config.CheckAllFlagsUsed(); !used.ok())
    return UsageError("dlq replay", used.message());
  if (ids.empty() == !*all) {
    return UsageError("dlq replay",
                      "either --id=ID[,ID...] or --all (with --topic and --group to narrow it)");
  }
  const std::vector<std::string> named = absl::StrSplit(ids, ',', absl::SkipEmpty());
  absl::StatusOr<std::vector<rooted::ctl::DeadLetter>> letters =
      *all ? FindDeadLetters(*query) : DeadLettersNamed(*query, named);
  if (!letters.ok()) {
    return absl::IsInvalidArgument(letters.status())
               ? UsageError("dlq replay", letters.status().message())
               : KafkaFailed("dlq replay", letters.status());
  }
  std::vector<rooted::OutgoingMessage> replays;
  for (const auto& letter : *letters) {
    absl::StatusOr<rooted::OutgoingMessage> replay = rooted::ctl::ReplayOf(letter);
    if (!replay.ok()) return KafkaFailed("dlq replay", replay.status());
    replays.push_back(*std::move(replay));
  }
  if (replays.empty()) {
    std::cout << "no dead letters to replay\n";
    return 0;
  }
  absl::StatusOr<std::unique_ptr<rooted::KafkaProducer>> producer = rooted::KafkaProducer::Create(
      {.bootstrap_servers = query->bootstrap, .client_id = "rootedctl"});
  if (!producer.ok()) return UsageError("dlq replay", producer.status().message());
  const std::vector<absl::Status> sent = (*producer)->Deliver(replays, absl::Seconds(30));
  int failed = 0;
  for (size_t i = 0; i < replays.size(); ++i) {
    const rooted::ctl::DeadLetter& letter = (*letters)[i];
    if (sent[i].ok()) {
      std::cout << "replayed " << letter.id() << " to " << letter.source_topic() << " for "
                << letter.header(rooted::kDeadLetterGroupHeader) << "\n";
    } else {
      ++failed;
      std::cerr << "rootedctl dlq replay: " << letter.id() << " not replayed: " << sent[i].message()
                << "\n";
    }
  }
  return failed == 0 ? 0 : 1;
}

const std::vector<Command>& Commands() {
  static const auto* commands = new std::vector<Command>{
      {"token", "--role=ROLE[,ROLE] --org=TYPE:ID --la=LA --subject=ID [--lifetime=8h]",
       "Mint a local token (HS256 with --token-secret or ROOTED_TOKEN_SECRET).", Token},
      {"referral submit", "--file=REFERRAL.json|.yaml [--request-id=ID]",
       "Submit a referral; the file holds ReferralDetails in the API's JSON, or the same in YAML.",
       ReferralSubmit},
      {"referral list", "[--school=URN] [--status=STATUS]",
       "List referrals you may see, newest first.", ReferralList},
      {"referral show", "--id=REFERRAL [--purpose=TEXT]",
       "Show one referral (the read is audited).", ReferralShow},
      {"case timeline", "--id=REFERRAL [--purpose=TEXT]", "A case's history from every service.",
       CaseTimeline},
      {"risk list", "[--school=URN] [--band=medium] [--cliff-edge=true]",
       "Pupils at risk, highest first, with the reasons.", RiskList},
      {"directory search", "[--text=WORDS] [--need=TERM] [--age=N] [--postcode=LS6]",
       "Quality-assured services, nearest first when a postcode is given.", DirectorySearch},
      {"forum list", "", "The forums of your council, with when they meet.", ForumList},
      {"forum agenda", "--meeting=MEETING", "A meeting's agenda pack, as your role may see it.",
       ForumAgenda},
      {"forum decision",
       "--meeting=MEETING --case=CASE --type=TYPE [--target=SERVICE|PARTNER] [--amount=POUNDS] "
       "[--review-on=YYYY-MM-DD] [--request-id=ID]",
       "Record a decision of a held, quorate meeting (chair or coordinator). TYPE: "
       "refer_to_service, "
       "allocate_programme_lead (with --target), request_fund_support (with --amount), "
       "escalate_early_help, "
       "escalate_social_care, no_further_action, review (with --review-on).",
       ForumDecision},
      {"triage", "--referral=REFERRAL", "The services that fit a referred child, ranked, with why.",
       TriageReferral},
      {"fund allocations", "",
       "Your council's funds, with the allocations you may see and what each has left.",
       FundAllocations},
      {"fund list", "--fund=FUND [--status=STATUS] (--status=draft: drafts from forum decisions)",
       "Fund requests you may see.", FundList},
      {"fund request", "--file=REQUEST.json|.yaml [--request-id=ID]",
       "Request a payment from the fund: the file holds a FundRequest (with decision_id to "
       "complete a "
       "forum's draft).",
       FundRequest},
      {"fund approve", "--request=FUND_REQUEST [--request-id=ID]",
       "Approve a fund request (never your own).", FundApprove},
      {"screening show", "--referral=REFERRAL",
       "How a referral was screened against its programme, and why.", ScreeningShow},
      {"caseload list", "[--partner=PARTNER]",
       "Programme leads' caseloads (coordinators: all; partners: their own).", CaseloadList},
      {"movement report", "--from=YYYY-MM-DD --to=YYYY-MM-DD [--school=URN] [--pupils]",
       "Pupils who joined and left each school over a period (a half-term), with managed moves, "
       "AP, PRU and "
       "exclusions.",
       MovementReport},
      {"outcomes report", "",
       "Attendance before, after and a term after each kind of intervention.", OutcomesReport},
      {"audit",
       "[--pupil-ref=REF] [--actor=SUBJECT] [--from=YYYY-MM-DD] [--to=YYYY-MM-DD] [--purpose=TEXT]",
       "Who read or changed what, asked of all five services' audit trails and merged in time "
       "order "
       "(data protection officers; the question is itself audited). For example, who has looked at "
       "this child's record this year: --pupil-ref=REF --from=2026-09-01.",
       Audit},
      {"dlq list", "--kafka-bootstrap=HOST:PORT [--topic=TOPIC] [--group=GROUP]",
       "Events a consumer group gave up on, with why (read from Kafka's dead-letter topics).",
       DlqList},
      {"dlq show", "--kafka-bootstrap=HOST:PORT --id=DEAD_LETTER",
       "One dead letter: its headers and its event, decoded.", DlqShow},
      {"dlq replay",
       "--kafka-bootstrap=HOST:PORT (--id=DEAD_LETTER[,...] | --all [--topic=TOPIC] "
       "[--group=GROUP])",
       "Once the cause is fixed, send dead letters back to their topic for the group that failed "
       "them alone; every other group skips them, and a letter replayed twice is applied once.",
       DlqReplay},
  };
  return *commands;
}

void Help() {
  std::cout << "rootedctl: the RootED APIs from the command line.\n\ncommands:\n";
  for (const Command& c : Commands()) std::cout << "  " << c.path << "  " << c.usage << "\n      " << c.help << "\n";
  std::cout << "\nevery command: --token=TOKEN (or ROOTED_TOKEN), --json, and --referral-target,\n"
               "--risk-target, --forum-target, --directory-target, --fund-target=HOST:PORT (defaults: the local stack)\n";
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> words, flags;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    (arg.rfind("--", 0) == 0 ? flags : words).push_back(arg);
  }
  const std::string path = absl::StrJoin(words, " ");
  const bool help = std::find(flags.begin(), flags.end(), "--help") != flags.end();
  for (const Command& c : Commands()) {
    if (c.path != path) continue;
    if (help) {
      std::cout << "usage: rootedctl " << c.path << " " << c.usage << "\n" << c.help << "\n";
      return 0;
    }
    absl::StatusOr<rooted::Config> config = rooted::Config::Parse(flags, rooted::Config::ProcessEnvironment());
    if (!config.ok()) return UsageError(c.path, config.status().message());
    return c.run(*config);
  }
  if (path.empty() || help) {
    Help();
    return path.empty() && !help ? 2 : 0;
  }
  std::cerr << "rootedctl: unknown command \"" << path << "\"\n";
  Help();
  return 2;
}
