// The access matrix, against the real services: every RPC of every service
// in the API files (walked from their descriptors, so a new RPC is covered,
// or fails here until it has its case), called as every role from every
// organisation the rules tell apart (own school / another school, own
// council / another council, the allocated partner / another partner / the
// same partner working for another council, a forum's chair and coordinator
// by subject, seated or not), each with the code its declared rule calls for.
//
// The expectation is worked out here, from the rule and what the test knows
// of the caller's relation to the record it seeded, never by asking the
// production policy:
//   - no grant names the caller's role: PERMISSION_DENIED;
//   - the rule names a record the caller is not in scope for: the answer for
//     a record that does not exist (NOT_FOUND, or, for a referral a service
//     knows only from referral-intake's events, UNAVAILABLE with gRPC's retry
//     pushback), the very code and message a made-up id gets;
//   - the rule names a school field and the caller is another school's:
//     PERMISSION_DENIED;
//   - the rule names no record, the caller's kind of organisation fits, but
//     the thing the call acts on is not theirs (another school's fund
//     request, another partner's service, this council's model for another
//     council): refused (PERMISSION_DENIED or NOT_FOUND), or, for a read, an
//     answer holding nothing of it;
//   - otherwise in scope: never PERMISSION_DENIED, UNAUTHENTICATED, INTERNAL
//     or UNKNOWN, and never the unseen answer.
// Rows that change things run after the reads, refusals before admissions,
// and calls that end a record (withdraw, close, cancel) act on records of
// their own.
//
// Also: an unauthenticated pass of random bytes at every RPC of every
// service (only ever UNAUTHENTICATED); it also finds which process serves
// each service.

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/support/client_callback.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>
#include <tuple>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/base/proto_date.h"
#include "common/base/proto_money.h"
#include "common/identity/upn.h"
#include "rooted/directory/v1/directory.grpc.pb.h"
#include "rooted/forum/v1/forum.grpc.pb.h"
#include "rooted/fund/v1/fund.grpc.pb.h"
#include "rooted/referral/v1/casework.grpc.pb.h"
#include "rooted/referral/v1/programme.grpc.pb.h"
#include "rooted/referral/v1/referral.grpc.pb.h"
#include "rooted/risk/v1/risk.grpc.pb.h"
#include "tests/referral-intake/referral_fixtures.h"
#include "tests/support/auth.h"
#include "tests/support/health_probe.h"
#include "tests/support/local_stack.h"
#include "tools/access/access_table.h"

namespace rooted {
namespace {

namespace pb = google::protobuf;
namespace cv1 = rooted::common::v1;
namespace rv1 = rooted::referral::v1;
namespace kv1 = rooted::risk::v1;
namespace fv1 = rooted::forum::v1;
namespace dv1 = rooted::directory::v1;
namespace pv1 = rooted::fund::v1;

const std::string kTokenSecret(40, 'm');
const std::string kPupilRefSecret(40, 'p');

constexpr char kLa[] = "801";
constexpr char kOtherLa[] = "802";
constexpr char kSchoolA[] = "100101";
constexpr char kSchoolB[] = "100102";
constexpr char kPartnerP[] = "partner-p";
constexpr char kPartnerQ[] = "partner-q";
constexpr char kChair[] = "chair-1";
constexpr char kCoordinator[] = "coordinator-1";
// A well-formed id no record has: what a record the caller may not see must look like.
constexpr char kPhantomId[] = "6f1c2a3e-5b7d-4c1e-9a0b-0000decafbad";

const char* const kServiceNames[] = {"referral-intake", "risk-scoring", "forum-scheduling",
                                     "directory-triage", "fund-payments"};

// ---- the stack -------------------------------------------------------------

// The five service binaries on ports of their own choosing, one Redis (a
// database each, as the local run does) and the local broker.
class Stack {
 public:
  Stack() {
    int db = 1;
    for (const char* name : kServiceNames) {
      std::vector<std::string> flags = {"--redis-port=" + std::to_string(redis_.port()),
                                        "--redis-db=" + std::to_string(db++),
                                        "--kafka-bootstrap=" + broker_.bootstrap(),
                                        "--kafka-session-timeout=6s",
                                        "--shutdown-drain=1s",
                                        "--token-secret=" + kTokenSecret,
                                        "--log-level=error"};
      const std::string service = name;
      if (service == "referral-intake" || service == "risk-scoring") {
        flags.push_back("--pupil-ref-secret=" + kPupilRefSecret);
        flags.push_back("--schools-file=" + testing::TestSchoolRegister());
      }
      if (service == "risk-scoring") flags.push_back(std::string("--la-code=") + kLa);
      processes_.push_back(std::make_unique<testing::ServiceProcess>(
          testing::BinaryDir() + "/services/" + service + "/" + service, flags));
      targets_.push_back("127.0.0.1:" + std::to_string(processes_.back()->grpc_port()));
      channels_.push_back(grpc::CreateChannel(targets_.back(), grpc::InsecureChannelCredentials()));
    }
  }

  // True once every service says it is ready (its Redis and Kafka answer).
  bool WaitReady(absl::Duration timeout) const {
    const absl::Time give_up = absl::Now() + timeout;
    for (const std::string& target : targets_) {
      while (!testing::IsServing(target, "")) {
        if (absl::Now() > give_up) return false;
        absl::SleepFor(absl::Milliseconds(100));
      }
    }
    return true;
  }

  size_t size() const { return targets_.size(); }
  const std::string& name(size_t i) const { return names_[i]; }
  const std::shared_ptr<grpc::Channel>& channel(size_t i) const { return channels_[i]; }
  const std::shared_ptr<grpc::Channel>& channel(const std::string& service) const {
    for (size_t i = 0; i < names_.size(); ++i) {
      if (names_[i] == service) return channels_[i];
    }
    throw std::runtime_error("no such service " + service);
  }

 private:
  testing::RedisServer redis_;
  testing::Broker broker_;
  std::vector<std::string> names_ = {std::begin(kServiceNames), std::end(kServiceNames)};
  std::vector<std::unique_ptr<testing::ServiceProcess>> processes_;
  std::vector<std::string> targets_;
  std::vector<std::shared_ptr<grpc::Channel>> channels_;
};

// ---- raw calls -------------------------------------------------------------

struct Answer {
  grpc::StatusCode code = grpc::UNKNOWN;
  std::string message;
  bool retry_pushback = false;  // the grpc-retry-pushback-ms trailer
  std::string body;
};

std::string CodeText(grpc::StatusCode code) {
  static const char* const kNames[] = {"OK",
                                       "CANCELLED",
                                       "UNKNOWN",
                                       "INVALID_ARGUMENT",
                                       "DEADLINE_EXCEEDED",
                                       "NOT_FOUND",
                                       "ALREADY_EXISTS",
                                       "PERMISSION_DENIED",
                                       "RESOURCE_EXHAUSTED",
                                       "FAILED_PRECONDITION",
                                       "ABORTED",
                                       "OUT_OF_RANGE",
                                       "UNIMPLEMENTED",
                                       "INTERNAL",
                                       "UNAVAILABLE",
                                       "DATA_LOSS",
                                       "UNAUTHENTICATED"};
  const int i = int(code);
  return i >= 0 && i < int(std::size(kNames)) ? kNames[i] : absl::StrCat("code ", i);
}

std::string Bytes(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!buffer.Dump(&slices).ok()) return out;
  for (const grpc::Slice& s : slices)
    out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

void Conclude(grpc::ClientContext& context, const grpc::Status& status, Answer& answer) {
  answer.code = status.error_code();
  answer.message = status.error_message();
  for (const auto& [key, value] : context.GetServerTrailingMetadata()) {
    if (std::string(key.data(), key.size()) == "grpc-retry-pushback-ms")
      answer.retry_pushback = true;
  }
}

std::unique_ptr<grpc::ClientContext> ContextWith(const std::string& token) {
  auto context = std::make_unique<grpc::ClientContext>();
  if (!token.empty()) context->AddMetadata("authorization", "Bearer " + token);
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  return context;
}

// A unary call with the body as given, as a client with no generated code makes it.
Answer CallUnary(const std::shared_ptr<grpc::Channel>& channel, const std::string& path,
                 const std::string& body, const std::string& token) {
  grpc::GenericStub stub(channel);
  std::unique_ptr<grpc::ClientContext> context = ContextWith(token);
  grpc::Slice slice(body.data(), body.size());
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(context.get(), path, grpc::StubOptions(), &request, &response,
                 [&](grpc::Status status) { done.set_value(std::move(status)); });
  Answer answer;
  Conclude(*context, done.get_future().get(), answer);
  if (answer.code == grpc::OK) answer.body = Bytes(response);
  return answer;
}

// A client-streaming call with one message: writes it, closes, reads the answer.
class OneMessageStream final : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  explicit OneMessageStream(const std::string& body) {
    grpc::Slice slice(body.data(), body.size());
    request_ = grpc::ByteBuffer(&slice, 1);
  }
  void Go() {
    StartRead(&response_);
    StartWriteLast(&request_, grpc::WriteOptions());
    StartCall();
  }
  void OnReadDone(bool ok) override { read_ = ok; }
  void OnDone(const grpc::Status& status) override { done_.set_value(status); }
  grpc::Status Wait() { return done_.get_future().get(); }
  std::string body() const { return read_ ? Bytes(response_) : ""; }

 private:
  grpc::ByteBuffer request_;
  grpc::ByteBuffer response_;
  bool read_ = false;
  std::promise<grpc::Status> done_;
};

Answer CallStream(const std::shared_ptr<grpc::Channel>& channel, const std::string& path,
                  const std::string& body, const std::string& token) {
  grpc::GenericStub stub(channel);
  std::unique_ptr<grpc::ClientContext> context = ContextWith(token);
  OneMessageStream stream(body);
  stub.PrepareBidiStreamingCall(context.get(), path, grpc::StubOptions(), &stream);
  stream.Go();
  Answer answer;
  Conclude(*context, stream.Wait(), answer);
  if (answer.code == grpc::OK) answer.body = stream.body();
  return answer;
}

Answer Call(const pb::MethodDescriptor& method, const std::shared_ptr<grpc::Channel>& channel,
            const std::string& body, const std::string& token) {
  const std::string path = absl::StrCat("/", method.service()->full_name(), "/", method.name());
  return method.client_streaming() ? CallStream(channel, path, body, token)
                                   : CallUnary(channel, path, body, token);
}

// ---- who calls -------------------------------------------------------------

struct Who {
  std::string label;
  std::string subject;
  cv1::Role role = cv1::ROLE_UNSPECIFIED;
  cv1::OrganisationType type = cv1::ORGANISATION_TYPE_UNSPECIFIED;
  std::string org;
  std::string la;
};

std::string RoleName(cv1::Role role) {
  return absl::AsciiStrToLower(cv1::Role_Name(role).substr(5));  // "ROLE_" off
}

std::string OrgName(cv1::OrganisationType type, const std::string& org, const std::string& la) {
  switch (type) {
    case cv1::ORGANISATION_TYPE_SCHOOL:
      return std::string(org == kSchoolA ? "school A " : "school B ") + org;
    case cv1::ORGANISATION_TYPE_COUNCIL:
      return "council " + org;
    case cv1::ORGANISATION_TYPE_PARTNER:
      return absl::StrCat(org == kPartnerP ? "partner P" : "partner Q", la == kLa ? "" : " for ",
                          la == kLa ? "" : la);
    default:
      return "no organisation";
  }
}

Who Person(const std::string& subject, cv1::Role role, cv1::OrganisationType type,
           const std::string& org, const std::string& la) {
  return {absl::StrCat(subject, " (", RoleName(role), " at ", OrgName(type, org, la), ")"),
          subject,
          role,
          type,
          org,
          la};
}

struct Position {
  std::string key;
  cv1::OrganisationType type;
  std::string org;
  std::string la;
};

const std::vector<Position>& Positions() {
  static const auto* positions = new std::vector<Position>{
      {"a", cv1::ORGANISATION_TYPE_SCHOOL, kSchoolA, kLa},
      {"b", cv1::ORGANISATION_TYPE_SCHOOL, kSchoolB, kLa},
      {"c801", cv1::ORGANISATION_TYPE_COUNCIL, kLa, kLa},
      {"c802", cv1::ORGANISATION_TYPE_COUNCIL, kOtherLa, kOtherLa},
      {"p", cv1::ORGANISATION_TYPE_PARTNER, kPartnerP, kLa},
      {"q", cv1::ORGANISATION_TYPE_PARTNER, kPartnerQ, kLa},
      {"p802", cv1::ORGANISATION_TYPE_PARTNER, kPartnerP, kOtherLa},
  };
  return *positions;
}

const Position& At(const std::string& key) {
  for (const Position& p : Positions()) {
    if (p.key == key) return p;
  }
  throw std::runtime_error("no position " + key);
}

// Every role the contracts know (a new one is called with automatically).
std::vector<cv1::Role> AllRoles() {
  std::vector<cv1::Role> roles;
  const pb::EnumDescriptor* e = cv1::Role_descriptor();
  for (int i = 0; i < e->value_count(); ++i) {
    if (e->value(i)->number() != cv1::ROLE_UNSPECIFIED)
      roles.push_back(cv1::Role(e->value(i)->number()));
  }
  return roles;
}

std::string Subject(cv1::Role role, const std::string& position) {
  return absl::StrCat("m-", RoleName(role), "-", position);
}

// The programme lead the seeded case is allocated to: the matrix's own
// programme lead at partner P.
std::string LeadSubject() { return Subject(cv1::ROLE_PROGRAMME_LEAD, "p"); }

// Every role at every position; and the forum's chair and coordinator by
// subject, in their seats and in organisations that hold none.
std::vector<Who> Callers() {
  std::vector<Who> callers;
  for (cv1::Role role : AllRoles()) {
    for (const Position& p : Positions()) {
      callers.push_back(Person(Subject(role, p.key), role, p.type, p.org, p.la));
    }
  }
  for (cv1::Role role :
       {cv1::ROLE_FORUM_MEMBER, cv1::ROLE_COUNCIL_OFFICER, cv1::ROLE_FORUM_COORDINATOR,
        cv1::ROLE_SCHOOL_STAFF, cv1::ROLE_SCHOOL_LEAD, cv1::ROLE_PARTNER_WORKER}) {
    for (const char* key : {"c801", "a", "b", "p", "q", "c802"}) {
      const Position& p = At(key);
      callers.push_back(Person(kChair, role, p.type, p.org, p.la));
    }
  }
  for (cv1::Role role : {cv1::ROLE_FORUM_COORDINATOR, cv1::ROLE_COUNCIL_OFFICER,
                         cv1::ROLE_FORUM_MEMBER, cv1::ROLE_SCHOOL_STAFF}) {
    for (const char* key : {"c801", "a", "b", "c802"}) {
      const Position& p = At(key);
      callers.push_back(Person(kCoordinator, role, p.type, p.org, p.la));
    }
  }
  return callers;
}

// ---- whose things are ------------------------------------------------------

// What the test knows of whose a seeded thing is.
struct Owner {
  std::string la;                     // its council; "" when it has none (the directory)
  std::string school;                 // the school it belongs to
  std::vector<std::string> partners;  // the partners it is allocated to, or that own it
  bool council_wide = false;          // the council's own: any school or partner of it relates
  bool forum = false;                 // a forum's record: seats decide
  std::string lead;                   // the subject its case is allocated to, in its partner
  // What an answer to a reader out of relation must not hold.
  std::vector<std::string> secrets;
};

bool Contains(const std::vector<std::string>& list, const std::string& s) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

// The roles people of a forum's member organisations sit in it with, and
// the chair's and the coordinator's: the forum description's seats (README,
// "Forum seats come from the forum's own records").
const std::set<cv1::Role> kMemberRoles = {cv1::ROLE_SCHOOL_STAFF,    cv1::ROLE_SCHOOL_LEAD,
                                          cv1::ROLE_COUNCIL_OFFICER, cv1::ROLE_FORUM_COORDINATOR,
                                          cv1::ROLE_FORUM_MEMBER,    cv1::ROLE_PARTNER_WORKER,
                                          cv1::ROLE_PROGRAMME_LEAD};
const std::set<cv1::Role> kChairRoles = {cv1::ROLE_FORUM_COORDINATOR, cv1::ROLE_COUNCIL_OFFICER,
                                         cv1::ROLE_FORUM_MEMBER};
const std::set<cv1::Role> kCoordinatorRoles = {cv1::ROLE_FORUM_COORDINATOR,
                                               cv1::ROLE_COUNCIL_OFFICER};

// The seeded forum: council 801's; members school A, council 801 and partner P;
// chaired by chair-1, coordinated by coordinator-1.
bool IsMemberOrganisation(const Who& w) {
  return (w.type == cv1::ORGANISATION_TYPE_SCHOOL && w.org == kSchoolA) ||
         (w.type == cv1::ORGANISATION_TYPE_COUNCIL && w.org == kLa) ||
         (w.type == cv1::ORGANISATION_TYPE_PARTNER && w.org == kPartnerP);
}

bool RunsTheForum(const Who& w) {
  if (w.subject == kCoordinator) {
    return w.type == cv1::ORGANISATION_TYPE_COUNCIL && w.org == kLa &&
           kCoordinatorRoles.count(w.role) > 0;
  }
  if (w.subject == kChair) {
    const bool at_council = w.type == cv1::ORGANISATION_TYPE_COUNCIL && w.org == kLa;
    return (at_council || IsMemberOrganisation(w)) && kChairRoles.count(w.role) > 0;
  }
  return false;
}

bool SeatedInTheForum(const Who& w) {
  return RunsTheForum(w) || (IsMemberOrganisation(w) && kMemberRoles.count(w.role) > 0);
}

// Whether `scope` relates `w` to `owner` (`w` holds one of the grant's roles).
bool Relates(cv1::AccessScope scope, const Who& w, const Owner& owner) {
  const bool same_council = owner.la.empty() || w.la == owner.la;
  switch (scope) {
    case cv1::ACCESS_SCOPE_ANY_ORGANISATION:
      return true;
    case cv1::ACCESS_SCOPE_OWN_SCHOOL:
      if (w.type != cv1::ORGANISATION_TYPE_SCHOOL) return false;
      return owner.council_wide ? same_council : w.org == owner.school;
    case cv1::ACCESS_SCOPE_OWN_COUNCIL:
      return w.type == cv1::ORGANISATION_TYPE_COUNCIL && same_council;
    case cv1::ACCESS_SCOPE_ALLOCATED_PARTNER:
    case cv1::ACCESS_SCOPE_OWN_PARTNER:
      return w.type == cv1::ORGANISATION_TYPE_PARTNER && same_council &&
             (owner.council_wide || Contains(owner.partners, w.org));
    case cv1::ACCESS_SCOPE_ALLOCATED_LEAD:
      return w.type == cv1::ORGANISATION_TYPE_PARTNER && same_council && !owner.lead.empty() &&
             Contains(owner.partners, w.org) && w.subject == owner.lead;
    case cv1::ACCESS_SCOPE_FORUM_MEMBER:
      return owner.forum && SeatedInTheForum(w);
    case cv1::ACCESS_SCOPE_FORUM_RUNS:
      return owner.forum && RunsTheForum(w);
    default:
      return false;
  }
}

// Whether the caller's kind of organisation fits `scope` at all (what a rule
// naming no record can decide on its own).
bool KindFits(cv1::AccessScope scope, const Who& w) {
  switch (scope) {
    case cv1::ACCESS_SCOPE_ANY_ORGANISATION:
      return true;
    case cv1::ACCESS_SCOPE_OWN_SCHOOL:
      return w.type == cv1::ORGANISATION_TYPE_SCHOOL;
    case cv1::ACCESS_SCOPE_OWN_COUNCIL:
      return w.type == cv1::ORGANISATION_TYPE_COUNCIL;
    case cv1::ACCESS_SCOPE_ALLOCATED_PARTNER:
    case cv1::ACCESS_SCOPE_OWN_PARTNER:
    case cv1::ACCESS_SCOPE_ALLOCATED_LEAD:
      return w.type == cv1::ORGANISATION_TYPE_PARTNER;
    default:
      return false;
  }
}

// ---- requests --------------------------------------------------------------

std::string GetPath(const pb::Message& message, const std::string& path) {
  const pb::Message* m = &message;
  std::vector<std::string> parts = absl::StrSplit(path, '.');
  for (size_t i = 0; i < parts.size(); ++i) {
    const pb::FieldDescriptor* f = m->GetDescriptor()->FindFieldByName(parts[i]);
    if (f == nullptr || f->is_repeated()) return "";
    if (i + 1 == parts.size()) {
      return f->type() == pb::FieldDescriptor::TYPE_STRING ? m->GetReflection()->GetString(*m, f)
                                                           : "";
    }
    if (f->type() != pb::FieldDescriptor::TYPE_MESSAGE) return "";
    m = &m->GetReflection()->GetMessage(*m, f);
  }
  return "";
}

bool SetPath(pb::Message& message, const std::string& path, const std::string& value) {
  pb::Message* m = &message;
  std::vector<std::string> parts = absl::StrSplit(path, '.');
  for (size_t i = 0; i < parts.size(); ++i) {
    const pb::FieldDescriptor* f = m->GetDescriptor()->FindFieldByName(parts[i]);
    if (f == nullptr || f->is_repeated()) return false;
    if (i + 1 == parts.size()) {
      if (f->type() != pb::FieldDescriptor::TYPE_STRING) return false;
      m->GetReflection()->SetString(m, f, value);
      return true;
    }
    if (f->type() != pb::FieldDescriptor::TYPE_MESSAGE) return false;
    m = m->GetReflection()->MutableMessage(m, f);
  }
  return false;
}

// The value for a string field, by its dotted path and its name.
using Values =
    std::function<std::optional<std::string>(const std::string& path, const std::string& name)>;

// Sets every singular string field `values` knows, at any depth (a nested
// message only when something in it is set; one member of a oneof).
void FillByName(pb::Message& message, const std::string& prefix, const Values& values, int depth) {
  const pb::Descriptor* d = message.GetDescriptor();
  const pb::Reflection* r = message.GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const pb::FieldDescriptor* f = d->field(i);
    if (f->is_repeated()) continue;
    const pb::OneofDescriptor* oneof = f->real_containing_oneof();
    if (oneof != nullptr && r->HasOneof(message, oneof)) continue;
    const std::string path = prefix.empty() ? f->name() : absl::StrCat(prefix, ".", f->name());
    if (f->type() == pb::FieldDescriptor::TYPE_STRING) {
      if (std::optional<std::string> v = values(path, f->name())) r->SetString(&message, f, *v);
    } else if (f->type() == pb::FieldDescriptor::TYPE_MESSAGE && oneof == nullptr && depth < 4 &&
               !absl::StartsWith(f->message_type()->full_name(), "google.protobuf.")) {
      std::unique_ptr<pb::Message> sub(r->GetMessage(message, f).New());
      FillByName(*sub, path, values, depth + 1);
      if (sub->ByteSizeLong() > 0) r->MutableMessage(&message, f)->MergeFrom(*sub);
    }
  }
}

// ---- the seeded records ------------------------------------------------------

struct Seeded {
  absl::CivilDay today;
  std::string programme_id;
  std::string forum_id;
  std::string meeting_id;      // a scheduled meeting the matrix reads and records at
  std::string meeting_end_id;  // one the matrix cancels
  std::string organization_id;
  std::string service_id;      // partner P's
  std::string service_end_id;  // partner P's, which the matrix withdraws
  std::string pupil_upn;       // a pupil of school A with a risk profile
  std::string pupil_ref;
  std::string referral_id;  // school A's, allocated to partner P, consent to every use
  std::string referral_ref;
  std::string referral_end_id;  // the same, for the matrix to withdraw and close
  std::string referral_end_ref;
  std::string goal_id;
  std::string forum_case_id;
  std::string action_id;
  std::string fund_id;
  std::string allocation_a;
  std::string allocation_p;
  std::string payee_id;
  std::string fund_request_approve;  // submitted, for approval rows
  std::string fund_request_reject;   // submitted, for rejection rows
  std::string fund_request_outcome;  // approved: its payment for outcome rows
  std::string payment_outcome;
  std::string payment_bank;             // approved: its payment for bank file rows
  std::string fund_request_paid;        // paid: for refund rows
  std::map<std::string, Owner> owners;  // by record id
  std::vector<std::string> fund_requests;
};

// ---- cases -----------------------------------------------------------------

// What the matrix does with one RPC.
struct Case {
  int order = 0;  // 0 reads, 1 changes, 2 ends a record
  // Values by field path or name, over the seeded ones.
  std::map<std::string, std::string> ids;
  // What the field names cannot give (a valid payload), given the request and the caller.
  std::function<void(pb::Message&, const Who&)> complete;
  // For a rule that names no record: whose the thing the call acts on is
  // (none: the caller's own view, which any caller the rule admits may have).
  std::optional<Owner> target;
  // For a change refused item by item inside an OK answer: that it took nothing.
  std::function<bool(const std::string& body)> took_nothing;

  Case Order(int o) && {
    order = o;
    return std::move(*this);
  }
  Case Ids(std::map<std::string, std::string> v) && {
    ids = std::move(v);
    return std::move(*this);
  }
  Case Completes(std::function<void(pb::Message&, const Who&)> f) && {
    complete = std::move(f);
    return std::move(*this);
  }
  Case Target(Owner o) && {
    target = std::move(o);
    return std::move(*this);
  }
  Case TookNothing(std::function<bool(const std::string&)> f) && {
    took_nothing = std::move(f);
    return std::move(*this);
  }
};

template <typename T>
T& As(pb::Message& m) {
  return dynamic_cast<T&>(m);
}

template <typename T>
std::function<void(pb::Message&, const Who&)> Complete(std::function<void(T&, const Who&)> f) {
  return [f = std::move(f)](pb::Message& m, const Who& who) { f(As<T>(m), who); };
}

std::string Upn(int64_t n) {
  const std::string digits = absl::StrFormat("8012%08d", n);
  return std::string(1, UpnCheckLetter("A" + digits)) + digits;
}

std::atomic<int64_t> next_id{1};
std::string FreshId(absl::string_view what) {
  return absl::StrFormat("mx-%s-%07d", what, next_id.fetch_add(1));
}

rv1::ReferralDetails ReferralFor(const std::string& upn, bool forum, const std::string& programme) {
  rv1::ReferralDetails d = referral::testing::GoodDetails(kSchoolA, upn);
  d.mutable_consent()->clear_scopes();
  for (rv1::ConsentScope scope : {rv1::CONSENT_SCOPE_FORUM, rv1::CONSENT_SCOPE_SERVICES,
                                  rv1::CONSENT_SCOPE_FUND, rv1::CONSENT_SCOPE_EVALUATION}) {
    d.mutable_consent()->add_scopes(scope);
  }
  d.set_refer_to_forum(forum);
  d.set_programme_id(programme);
  return d;
}

pv1::FundRequest FundRequestFor(const Seeded& s, const std::string& allocation, int64_t pence) {
  pv1::FundRequest r;
  r.set_fund_id(s.fund_id);
  r.set_allocation_id(allocation);
  r.set_referral_id(s.referral_id);
  r.mutable_pupil_ref()->set_value(s.referral_ref);
  r.set_category(pv1::CATEGORY_UNIFORM_CLOTHING);
  *r.mutable_amount() = Gbp(pence);
  r.set_payee_type(pv1::PAYEE_TYPE_FAMILY);
  r.mutable_family_bank()->set_account_name("Sam Khan");
  r.mutable_family_bank()->set_sort_code("112233");
  r.mutable_family_bank()->set_account_number("12345678");
  r.set_justification("School shoes so the child can attend");
  r.set_evidence_reference("matrix-evidence");
  return r;
}

dv1::Service ServiceFor(const std::string& id, const std::string& org, const std::string& name) {
  dv1::Service s;
  s.set_id(id);
  s.set_organization_id(org);
  s.set_name(name);
  s.set_description("Mentoring for pupils whose attendance is slipping");
  s.add_taxonomy_term_ids("attendance-engagement");
  s.mutable_eligibility()->set_minimum_age(11);
  s.mutable_eligibility()->set_maximum_age(16);
  dv1::Location* site = s.add_locations();
  site->set_id("site-1");
  site->set_postcode("LS6 1AA");
  site->set_latitude_e6(53'815'000);
  site->set_longitude_e6(-1'565'000);
  s.mutable_capacity()->set_maximum(10);
  s.mutable_capacity()->set_available(4);
  return s;
}

Owner CouncilWide(const std::string& la, std::vector<std::string> secrets = {}) {
  Owner o;
  o.la = la;
  o.council_wide = true;
  o.secrets = std::move(secrets);
  return o;
}

Owner OfSchoolA(std::vector<std::string> secrets = {}) {
  Owner o;
  o.la = kLa;
  o.school = kSchoolA;
  o.secrets = std::move(secrets);
  return o;
}

Owner OfPartnerP(const std::string& la, std::vector<std::string> secrets = {}) {
  Owner o;
  o.la = la;
  o.partners = {kPartnerP};
  o.secrets = std::move(secrets);
  return o;
}

// Every RPC's case, by full method name. A new RPC needs one here.
std::map<std::string, Case> Cases(const Seeded& s) {
  std::map<std::string, Case> cases;
  const std::vector<std::string> referral_secrets = {s.referral_id, s.referral_ref,
                                                     s.referral_end_id, s.referral_end_ref};
  auto add = [&](const std::string& method, Case c) { cases[method] = std::move(c); };

  // -- referral intake: referrals
  add("rooted.referral.v1.ReferralService.SubmitReferral",
      Case()
          .Order(1)
          .Completes(Complete<rv1::SubmitReferralRequest>([](auto& r, const Who&) {
            *r.mutable_details() = ReferralFor(Upn(next_id.fetch_add(1) + 500'000), false, "");
          }))
          .Target(OfSchoolA()));
  add("rooted.referral.v1.ReferralService.GetReferral", Case());
  add("rooted.referral.v1.ReferralService.ListReferrals",
      Case().Target(OfSchoolA(referral_secrets)));
  add("rooted.referral.v1.ReferralService.UpdateReferral", Case().Order(1));
  add("rooted.referral.v1.ReferralService.WithdrawReferral",
      Case().Order(2).Ids({{"referral_id", s.referral_end_id}}));
  add("rooted.referral.v1.ReferralService.RecordConsent",
      Case().Order(1).Completes(Complete<rv1::RecordConsentRequest>([](auto& r, const Who&) {
        *r.mutable_consent() = ReferralFor(Upn(1), true, "").consent();
      })));
  add("rooted.referral.v1.ReferralService.GetCaseTimeline", Case());
  add("rooted.referral.v1.ReferralService.CloseCase",
      Case()
          .Order(2)
          .Ids({{"referral_id", s.referral_end_id}})
          .Completes(Complete<rv1::CloseCaseRequest>(
              [](auto& r, const Who&) { r.set_outcome(rv1::CASE_OUTCOME_NO_FURTHER_ACTION); })));

  // -- referral intake: casework
  add("rooted.referral.v1.CaseworkService.SetLeadCapacity",
      Case().Order(1).Completes(Complete<rv1::SetLeadCapacityRequest>([](auto& r, const Who&) {
        r.set_caseload_limit(40);
      })));  // the caller's own council's leads: its own view
  add("rooted.referral.v1.CaseworkService.AllocateLead", Case().Order(1));
  add("rooted.referral.v1.CaseworkService.ListCaseloads",
      Case().Target(OfPartnerP(kLa, referral_secrets)));
  add("rooted.referral.v1.CaseworkService.RecordContact",
      Case().Order(1).Completes(Complete<rv1::RecordContactRequest>([&s](auto& r, const Who&) {
        *r.mutable_contact()->mutable_date() = ToProtoDate(s.today);
        r.mutable_contact()->set_with(rv1::CONTACT_WITH_PARENT_CARER);
        r.mutable_contact()->set_type(rv1::CONTACT_TYPE_PHONE);
        r.mutable_contact()->set_duration_minutes(15);
        r.mutable_contact()->set_note("Called to agree a morning routine");
      })));
  add("rooted.referral.v1.CaseworkService.SetGoal",
      Case().Order(1).Completes(Complete<rv1::SetGoalRequest>([&s](auto& r, const Who&) {
        r.mutable_goal()->clear_goal_id();
        r.mutable_goal()->set_description("In school by 8:45 every day");
        *r.mutable_goal()->mutable_target_date() = ToProtoDate(s.today + 28);
      })));
  add("rooted.referral.v1.CaseworkService.RecordGoalProgress",
      Case().Order(1).Completes(Complete<rv1::RecordGoalProgressRequest>([&s](auto& r, const Who&) {
        *r.mutable_progress()->mutable_date() = ToProtoDate(s.today);
        r.mutable_progress()->set_scale(rv1::PROGRESS_SCALE_SOME);
      })));
  add("rooted.referral.v1.CaseworkService.RecordFeedback",
      Case().Order(1).Completes(Complete<rv1::RecordFeedbackRequest>([&s](auto& r, const Who&) {
        r.mutable_feedback()->set_from(rv1::FEEDBACK_FROM_PARENT_CARER);
        *r.mutable_feedback()->mutable_date() = ToProtoDate(s.today);
        r.mutable_feedback()->set_what_helped("The morning calls");
        r.mutable_feedback()->set_rating(4);
      })));
  add("rooted.referral.v1.CaseworkService.GetCasework", Case());

  // -- referral intake: programmes and screening
  add("rooted.referral.v1.ProgrammeService.UpsertProgramme",
      Case()
          .Order(1)
          .Completes(Complete<rv1::UpsertProgrammeRequest>([](auto& r, const Who&) {
            r.mutable_programme()->set_name("Attendance recovery (matrix)");
            rv1::ScopeRule* rule = r.mutable_programme()->add_in_scope();
            rule->set_rule_id("below-90");
            rule->set_description("attendance below 90%");
            rule->mutable_attendance_below()->set_threshold_bp(9000);
            r.set_expected_version(1);
          }))
          .Target(CouncilWide(kLa)));
  add("rooted.referral.v1.ProgrammeService.GetProgramme", Case());
  add("rooted.referral.v1.ProgrammeService.TestProgrammeCriteria",
      Case().Target(CouncilWide(kLa, referral_secrets)));
  add("rooted.referral.v1.ProgrammeService.GetScreening", Case());
  add("rooted.referral.v1.ProgrammeService.OverrideScreening",
      Case().Order(1).Completes(Complete<rv1::OverrideScreeningRequest>(
          [](auto& r, const Who&) { r.set_outcome(rv1::SCREENING_OUTCOME_ACCEPTED); })));

  // -- risk scoring
  add("rooted.risk.v1.RiskScoringService.StreamSignals",
      Case()
          .Order(1)
          .Completes(Complete<kv1::StreamSignalsRequest>([&s](auto& r, const Who&) {
            kv1::Signal* signal = r.add_signals();
            signal->set_signal_id(FreshId("signal"));
            kv1::AttendanceMark* mark = signal->mutable_attendance();
            mark->set_upn(s.pupil_upn);
            mark->set_school_urn(kSchoolA);
            *mark->mutable_date() = ToProtoDate(s.today - 1);
            mark->set_session(kv1::SESSION_AM);
            mark->set_code("/");
          }))
          .Target(OfSchoolA())
          .TookNothing([](const std::string& body) {
            kv1::StreamSignalsResponse r;
            return r.ParseFromString(body) && r.accepted() == 0;
          }));
  add("rooted.risk.v1.RiskScoringService.GetRiskProfile",
      Case().Ids({{"upn", s.pupil_upn}}).Target(OfSchoolA({s.pupil_ref})));
  add("rooted.risk.v1.RiskScoringService.ListAtRisk", Case().Target(OfSchoolA({s.pupil_ref})));
  add("rooted.risk.v1.RiskScoringService.GetModelConfig", Case().Target(CouncilWide(kLa)));
  add("rooted.risk.v1.RiskScoringService.UpdateModelConfig",
      Case().Order(1).Target(CouncilWide(kLa)));
  add("rooted.risk.v1.RiskScoringService.GetModelEvaluation",
      Case()
          .Completes(Complete<kv1::GetModelEvaluationRequest>(
              [&s](auto& r, const Who&) { *r.mutable_cut_off() = ToProtoDate(s.today - 100); }))
          .Target(CouncilWide(kLa)));
  add("rooted.risk.v1.RiskScoringService.GetOutcomeReport", Case().Target(CouncilWide(kLa)));
  add("rooted.risk.v1.RiskScoringService.SetEstablishments",
      Case()
          .Order(1)
          .Completes(Complete<kv1::SetEstablishmentsRequest>([](auto& r, const Who&) {
            kv1::Establishment* e = r.add_establishments();
            e->set_urn("100199");
            e->set_kind(kv1::ESTABLISHMENT_KIND_PUPIL_REFERRAL_UNIT);
            e->set_name("The matrix PRU");
          }))
          .Target(CouncilWide(kLa)));
  add("rooted.risk.v1.RiskScoringService.GetMovementReport",
      Case()
          .Completes(Complete<kv1::GetMovementReportRequest>([&s](auto& r, const Who&) {
            *r.mutable_from() = ToProtoDate(s.today - 30);
            *r.mutable_to() = ToProtoDate(s.today);
          }))
          .Target(OfSchoolA({s.pupil_ref})));

  // -- forum scheduling
  add("rooted.forum.v1.ForumService.CreateForum", Case().Order(1).Target(CouncilWide(kLa)));
  add("rooted.forum.v1.ForumService.GetForum", Case());
  add("rooted.forum.v1.ForumService.ListForums", Case());
  add("rooted.forum.v1.ForumService.ListMeetings", Case());
  add("rooted.forum.v1.ForumService.CancelMeeting",
      Case().Order(2).Ids({{"meeting_id", s.meeting_end_id}}));
  add("rooted.forum.v1.ForumService.MoveMeeting", Case().Order(1));
  add("rooted.forum.v1.ForumService.ListCase", Case().Order(1));
  add("rooted.forum.v1.ForumService.ListCases", Case());
  add("rooted.forum.v1.ForumService.GetAgenda", Case());
  add("rooted.forum.v1.ForumService.RecordAttendance", Case().Order(1));
  add("rooted.forum.v1.ForumService.RecordDecision", Case().Order(1));
  Owner forum;
  forum.la = kLa;
  forum.forum = true;
  add("rooted.forum.v1.ForumService.AssignAction",
      Case()
          .Order(1)
          .Completes(Complete<fv1::AssignActionRequest>([&s](auto& r, const Who&) {
            r.mutable_action()->set_description("Ring the family before the next meeting");
            r.mutable_action()->mutable_owner()->set_type(cv1::ORGANISATION_TYPE_SCHOOL);
            r.mutable_action()->mutable_owner()->set_id(kSchoolA);
            *r.mutable_action()->mutable_due() = ToProtoDate(s.today + 14);
          }))
          .Target(forum));
  add("rooted.forum.v1.ForumService.CompleteAction", Case().Order(1).Target(OfSchoolA()));
  add("rooted.forum.v1.ForumService.ListOverdueActions", Case());
  add("rooted.forum.v1.ForumService.ExportCalendar", Case());

  // -- directory and triage (the directory keeps no council: any council's officers)
  add("rooted.directory.v1.DirectoryService.UpsertOrganization",
      Case()
          .Order(1)
          .Completes(Complete<dv1::UpsertOrganizationRequest>([&s](auto& r, const Who&) {
            r.mutable_organization()->set_id(s.organization_id);
            r.mutable_organization()->set_name("Partner P Trust");
            r.mutable_organization()->mutable_ref()->set_type(cv1::ORGANISATION_TYPE_PARTNER);
            r.mutable_organization()->mutable_ref()->set_id(kPartnerP);
          }))
          .Target(OfPartnerP("")));
  add("rooted.directory.v1.DirectoryService.UpsertService",
      Case()
          .Order(1)
          .Completes(Complete<dv1::UpsertServiceRequest>([&s](auto& r, const Who&) {
            *r.mutable_service() = ServiceFor(s.service_id, s.organization_id, "Attend mentors");
          }))
          .Target(OfPartnerP("")));
  add("rooted.directory.v1.DirectoryService.GetService", Case());
  add("rooted.directory.v1.DirectoryService.SearchServices", Case());
  add("rooted.directory.v1.DirectoryService.SetQualityAssurance",
      Case()
          .Order(1)
          .Completes(Complete<dv1::SetQualityAssuranceRequest>([&s](auto& r, const Who&) {
            r.mutable_quality()->set_status(dv1::QA_STATUS_APPROVED);
            *r.mutable_quality()->mutable_assured_date() = ToProtoDate(s.today);
            *r.mutable_quality()->mutable_review_date() = ToProtoDate(s.today + 365);
          }))
          .Target(CouncilWide("")));
  add("rooted.directory.v1.DirectoryService.ImportOpenReferral",
      Case().Order(1).Target(CouncilWide("")));
  add("rooted.directory.v1.DirectoryService.ExportOpenReferral", Case());
  add("rooted.directory.v1.DirectoryService.WithdrawService",
      Case().Order(2).Ids({{"service_id", s.service_end_id}}).Target(OfPartnerP("")));
  add("rooted.directory.v1.DirectoryService.UpdateCapacity",
      Case()
          .Order(1)
          .Completes(Complete<dv1::UpdateCapacityRequest>([](auto& r, const Who&) {
            r.mutable_capacity()->set_maximum(10);
            r.mutable_capacity()->set_available(5);
            r.mutable_capacity()->set_waiting_time_days(7);
          }))
          .Target(OfPartnerP("")));
  add("rooted.directory.v1.DirectoryService.MakeServiceReferral", Case().Order(1));
  add("rooted.directory.v1.DirectoryService.LoadPostcodeDistricts",
      Case()
          .Order(1)
          .Completes(Complete<dv1::LoadPostcodeDistrictsRequest>([](auto& r, const Who&) {
            dv1::PostcodeDistrict* d = r.add_districts();
            d->set_district("LS6");
            d->set_latitude_e6(53'815'000);
            d->set_longitude_e6(-1'565'000);
          }))
          .Target(CouncilWide("")));
  add("rooted.directory.v1.DirectoryService.UpsertTaxonomyTerm",
      Case()
          .Order(1)
          .Completes(Complete<dv1::UpsertTaxonomyTermRequest>([](auto& r, const Who&) {
            r.mutable_term()->set_id("la-matrix-term");
            r.mutable_term()->set_label("A council's own term");
          }))
          .Target(CouncilWide("")));
  add("rooted.directory.v1.DirectoryService.ListTaxonomyTerms", Case());
  add("rooted.directory.v1.TriageService.Triage",
      Case().Completes(
          Complete<dv1::TriageRequest>([](auto& r, const Who&) { r.set_max_results(3); })));

  // -- fund payments
  const Owner fund_requests_of_a = OfSchoolA(s.fund_requests);
  add("rooted.fund.v1.FundService.CreateFund", Case().Order(1).Target(CouncilWide(kLa)));
  add("rooted.fund.v1.FundService.ListFunds", Case().Target(OfSchoolA({s.allocation_a})));
  add("rooted.fund.v1.FundService.AllocateFunds",
      Case()
          .Order(1)
          .Completes(Complete<pv1::AllocateFundsRequest>([](auto& r, const Who&) {
            r.mutable_allocation()->mutable_holder()->set_type(cv1::ORGANISATION_TYPE_SCHOOL);
            r.mutable_allocation()->mutable_holder()->set_id(kSchoolA);
            r.mutable_allocation()->set_term("matrix");
            *r.mutable_allocation()->mutable_amount() = Gbp(100);
          }))
          .Target(CouncilWide(kLa)));
  add("rooted.fund.v1.FundService.SubmitFundRequest",
      Case().Order(1).Completes(Complete<pv1::SubmitFundRequestRequest>([&s](auto& r, const Who&) {
        const std::string allocation = r.fund_request().allocation_id();
        *r.mutable_fund_request() = FundRequestFor(s, allocation, 100);
      })));
  add("rooted.fund.v1.FundService.ApproveFundRequest",
      Case()
          .Order(1)
          .Ids({{"fund_request_id", s.fund_request_approve}})
          .Target(fund_requests_of_a));
  add("rooted.fund.v1.FundService.RejectFundRequest",
      Case().Order(1).Ids({{"fund_request_id", s.fund_request_reject}}).Target(fund_requests_of_a));
  add("rooted.fund.v1.FundService.ListFundRequests", Case().Target(fund_requests_of_a));
  add("rooted.fund.v1.FundService.RecordPaymentOutcome",
      Case()
          .Order(1)
          .Ids({{"payment_id", s.payment_outcome}})
          .Completes(Complete<pv1::RecordPaymentOutcomeRequest>(
              [](auto& r, const Who&) { r.set_outcome(pv1::PAYMENT_OUTCOME_SETTLED); }))
          .Target(CouncilWide(kLa)));
  add("rooted.fund.v1.FundService.ImportBankFile",
      Case()
          .Order(1)
          .Completes(Complete<pv1::ImportBankFileRequest>([&s](auto& r, const Who&) {
            r.set_csv(absl::StrCat("payment_id,status,reason\n", s.payment_bank, ",settled,\n"));
          }))
          .Target(CouncilWide(kLa))
          .TookNothing([](const std::string& body) {
            pv1::ImportBankFileResponse r;
            return r.ParseFromString(body) && r.settled() == 0 && r.failed() == 0;
          }));
  add("rooted.fund.v1.FundService.GetFundReport", Case().Target(OfSchoolA({s.allocation_a})));
  add("rooted.fund.v1.FundService.ExportLedger", Case());
  add("rooted.fund.v1.FundService.RegisterPayee",
      Case()
          .Order(1)
          .Completes(Complete<pv1::RegisterPayeeRequest>([](auto& r, const Who&) {
            r.mutable_payee()->set_name("Uniform Shop Ltd");
            r.mutable_payee()->mutable_bank()->set_account_name("Uniform Shop Ltd");
            r.mutable_payee()->mutable_bank()->set_sort_code("204060");
            r.mutable_payee()->mutable_bank()->set_account_number("87654321");
          }))
          .Target(CouncilWide(kLa)));
  add("rooted.fund.v1.FundService.RecordRefund",
      Case()
          .Order(1)
          .Ids({{"fund_request_id", s.fund_request_paid}})
          .Completes(Complete<pv1::RecordRefundRequest>(
              [](auto& r, const Who&) { *r.mutable_amount() = Gbp(1); }))
          .Target(CouncilWide(kLa)));

  // -- every service's audit trail
  add("rooted.audit.v1.AuditService.ListAuditEntries",
      Case().Target(CouncilWide(kLa, referral_secrets)));
  return cases;
}

// The value of a field, by path then name: the case's, else the seeded one.
std::optional<std::string> ValueFor(const Seeded& s, const Case& c, const Who& who,
                                    const std::string& path, const std::string& name) {
  if (auto it = c.ids.find(path); it != c.ids.end()) return it->second;
  if (auto it = c.ids.find(name); it != c.ids.end()) return it->second;
  if (name == "request_id" || name == "client_request_id") return FreshId("call");
  if (absl::EndsWith(path, "pupil_ref.value")) return s.referral_ref;
  if (name == "allocation_id") {
    const bool p = who.type == cv1::ORGANISATION_TYPE_PARTNER && who.org == kPartnerP;
    return p ? s.allocation_p : s.allocation_a;
  }
  static const auto* kSeeded = new std::map<std::string, std::string Seeded::*>{
      {"referral_id", &Seeded::referral_id},
      {"forum_id", &Seeded::forum_id},
      {"meeting_id", &Seeded::meeting_id},
      {"fund_id", &Seeded::fund_id},
      {"service_id", &Seeded::service_id},
      {"organization_id", &Seeded::organization_id},
      {"programme_id", &Seeded::programme_id},
      {"goal_id", &Seeded::goal_id},
      {"case_id", &Seeded::forum_case_id},
      {"action_id", &Seeded::action_id},
      {"payee_id", &Seeded::payee_id},
      {"payment_id", &Seeded::payment_outcome},
      {"upn", &Seeded::pupil_upn},
  };
  if (auto it = kSeeded->find(name); it != kSeeded->end()) return s.*(it->second);
  if (name == "school_urn") return std::string(kSchoolA);
  if (name == "la_code") return std::string(kLa);
  if (name == "partner_id") return std::string(kPartnerP);
  if (name == "lead_subject") return LeadSubject();
  if (name == "purpose" || name == "reason" || name == "note") return std::string("access matrix");
  return std::nullopt;
}

// ---- expectations ----------------------------------------------------------

enum class Expect { kDenied, kUnseen, kRefused, kAdmitted };

std::string ExpectText(Expect e) {
  switch (e) {
    case Expect::kDenied:
      return "PERMISSION_DENIED";
    case Expect::kUnseen:
      return "the unseen answer";
    case Expect::kRefused:
      return "refused (PERMISSION_DENIED or NOT_FOUND), or an answer holding nothing of it";
    case Expect::kAdmitted:
      return "in scope";
  }
  return "?";
}

struct Expectation {
  Expect what = Expect::kAdmitted;
  std::string why;
};

// The rule's relation to the record (or, for a rule naming none, to the
// thing acted on), decided here from what the test knows.
Expectation Expected(const cv1::AccessRule& rule, const Case& c, const Who& who,
                     const Owner* record, const std::string& request_school) {
  std::vector<cv1::AccessScope> scopes;  // of the grants naming the caller's role
  for (const cv1::AccessGrant& grant : rule.grants()) {
    for (int role : grant.roles()) {
      if (role == who.role) scopes.push_back(grant.scope());
    }
  }
  if (scopes.empty()) return {Expect::kDenied, "no grant names the role"};
  if (record != nullptr) {
    for (cv1::AccessScope scope : scopes) {
      if (Relates(scope, who, *record)) return {Expect::kAdmitted, "in scope for the record"};
    }
    return {Expect::kUnseen, "the record is not the caller's to see"};
  }
  bool fits = false;
  for (cv1::AccessScope scope : scopes) {
    if (!KindFits(scope, who)) continue;
    if (scope == cv1::ACCESS_SCOPE_OWN_SCHOOL && !rule.school_field().empty() &&
        !request_school.empty() && request_school != who.org) {
      continue;
    }
    fits = true;
  }
  if (!fits) {
    if (!rule.school_field().empty() && who.type == cv1::ORGANISATION_TYPE_SCHOOL) {
      return {Expect::kDenied, "the request names another school"};
    }
    return {Expect::kDenied, "no grant fits the caller's kind of organisation"};
  }
  if (!c.target) return {Expect::kAdmitted, "the caller's own view"};
  for (cv1::AccessScope scope : scopes) {
    if (KindFits(scope, who) && Relates(scope, who, *c.target)) {
      return {Expect::kAdmitted, "in scope for what the call acts on"};
    }
  }
  return {Expect::kRefused, "what the call acts on is not the caller's"};
}

// The answer for a record that does not exist: a referral another service
// knows only from referral-intake's events may just not have arrived yet.
grpc::StatusCode UnseenCode(const pb::MethodDescriptor& method, const std::string& kind) {
  static const auto* kOwners =
      new std::map<std::string, std::string>{{"referral", "rooted.referral.v1"},
                                             {"forum", "rooted.forum.v1"},
                                             {"meeting", "rooted.forum.v1"},
                                             {"fund", "rooted.fund.v1"}};
  auto it = kOwners->find(kind);
  const bool learnt_from_events =
      it != kOwners->end() && method.service()->file()->package() != it->second;
  return learnt_from_events ? grpc::UNAVAILABLE : grpc::NOT_FOUND;
}

bool Holds(const std::string& body, const std::vector<std::string>& secrets) {
  return std::any_of(secrets.begin(), secrets.end(), [&](const std::string& s) {
    return !s.empty() && absl::StrContains(body, s);
  });
}

bool IsMutating(const pb::MethodDescriptor& method) {
  const pb::Descriptor* in = method.input_type();
  return in->FindFieldByName("request_id") != nullptr ||
         in->FindFieldByName("client_request_id") != nullptr || method.client_streaming();
}

// Where an in-scope row went wrong, or "" when it did not.
std::string CheckRow(const pb::MethodDescriptor& method, Expect what, const Case& c,
                     const Answer& got, const std::optional<Answer>& unseen) {
  const bool is_unseen = unseen && got.code == unseen->code && got.message == unseen->message;
  switch (what) {
    case Expect::kDenied:
      return got.code == grpc::PERMISSION_DENIED ? "" : "not refused";
    case Expect::kUnseen:
      if (!unseen) return "no unseen answer to compare with";
      if (!is_unseen) return "not the answer for a record that does not exist";
      if (got.code == grpc::UNAVAILABLE && !got.retry_pushback) return "no retry pushback";
      return "";
    case Expect::kRefused: {
      if (got.code == grpc::PERMISSION_DENIED || got.code == grpc::NOT_FOUND) return "";
      if (got.code == grpc::OK && c.took_nothing && c.took_nothing(got.body)) return "";
      if (got.code == grpc::OK && !IsMutating(method) && !Holds(got.body, c.target->secrets)) {
        return "";
      }
      return got.code == grpc::OK
                 ? (IsMutating(method) ? "the change was let through"
                                       : "the answer holds what is not the caller's")
                 : "not refused";
    }
    case Expect::kAdmitted:
      switch (got.code) {
        case grpc::PERMISSION_DENIED:
        case grpc::UNAUTHENTICATED:
        case grpc::INTERNAL:
        case grpc::UNKNOWN:
        case grpc::UNIMPLEMENTED:
        case grpc::DEADLINE_EXCEEDED:
        case grpc::DATA_LOSS:
          return "refused or failed in scope";
        default:
          return is_unseen ? "answered as unseen in scope" : "";
      }
  }
  return "?";
}

// Rows where a service answers other than its rule says: found by this
// matrix, reported, and kept here to the rule's expectation (the row still
// prints, marked KNOWN). One that no longer shows fails the test, so the list
// shrinks as they are fixed.
struct KnownIssue {
  std::string method;  // Service.Method
  Expect expected;
  grpc::StatusCode got;
  std::function<bool(const Who&)> callers;  // the rows it covers
  std::string note;
};

const std::vector<KnownIssue>& KnownIssues() {
  // None known today.
  static const auto* issues = new std::vector<KnownIssue>{};
  return *issues;
}

const KnownIssue* KnownFor(const std::string& method, Expect expected, grpc::StatusCode got,
                           const Who& who) {
  for (const KnownIssue& k : KnownIssues()) {
    if (k.method == method && k.expected == expected && k.got == got && k.callers(who)) return &k;
  }
  return nullptr;
}

// ---- the test --------------------------------------------------------------

class AccessMatrixTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    stack_ = new Stack();
    ASSERT_TRUE(stack_->WaitReady(absl::Seconds(90))) << "the services did not become ready";
  }
  static void TearDownTestSuite() {
    delete stack_;
    stack_ = nullptr;
  }

  // Where each API service is served: an unauthenticated call is
  // UNAUTHENTICATED where it is served and UNIMPLEMENTED elsewhere.
  static std::map<const pb::ServiceDescriptor*, std::vector<size_t>> ServedAt() {
    std::map<const pb::ServiceDescriptor*, std::vector<size_t>> served;
    for (const pb::FileDescriptor* file : ApiFiles()) {
      for (int i = 0; i < file->service_count(); ++i) {
        const pb::ServiceDescriptor* service = file->service(i);
        for (size_t t = 0; t < stack_->size(); ++t) {
          const Answer a = Call(*service->method(0), stack_->channel(t), "", "");
          if (a.code == grpc::UNAUTHENTICATED) served[service].push_back(t);
        }
      }
    }
    return served;
  }

  static inline Stack* stack_ = nullptr;
};

TEST_F(AccessMatrixTest, RandomBytesWithoutATokenAreOnlyEverUnauthenticated) {
  std::mt19937 random(20261202);
  int calls = 0;
  for (const auto& [service, targets] : ServedAt()) {
    for (int m = 0; m < service->method_count(); ++m) {
      for (size_t t : targets) {
        for (int i = 0; i < 4; ++i) {
          std::string body(size_t(random() % 96), '\0');
          for (char& c : body) c = char(random() % 256);
          const Answer a = Call(*service->method(m), stack_->channel(t), body, "");
          ++calls;
          EXPECT_EQ(a.code, grpc::UNAUTHENTICATED)
              << service->method(m)->full_name() << " at " << stack_->name(t) << ": "
              << CodeText(a.code) << ": " << a.message;
        }
      }
    }
  }
  std::printf("unauthenticated fuzz: %d calls of random bytes, every RPC of every service\n",
              calls);
}

// ---- seeding through the real APIs -----------------------------------------

testing::TestTokens& Tokens() {
  static auto* tokens = new testing::TestTokens(kTokenSecret);
  return *tokens;
}

std::string TokenFor(const Who& w) {
  return Tokens().Mint(w.subject, w.role, w.type, w.org, w.la, absl::Now());
}

std::unique_ptr<grpc::ClientContext> Ctx(const Who& w) { return ContextWith(TokenFor(w)); }

// Polls until `ready` says yes (or fails for good), for at most `timeout`.
template <typename F>
bool WaitFor(F ready, absl::Duration timeout = absl::Seconds(90)) {
  const absl::Time give_up = absl::Now() + timeout;
  while (absl::Now() < give_up) {
    if (ready()) return true;
    absl::SleepFor(absl::Milliseconds(100));
  }
  return false;
}

#define SEED_OK(call)                                                                          \
  do {                                                                                         \
    const grpc::Status seed_status = (call);                                                   \
    if (!seed_status.ok()) {                                                                   \
      return absl::InternalError(absl::StrCat(#call, ": ", CodeText(seed_status.error_code()), \
                                              ": ", seed_status.error_message()));             \
    }                                                                                          \
  } while (0)

absl::Status Waited(absl::string_view what) {
  return absl::DeadlineExceededError(absl::StrCat("waited for ", what));
}

absl::StatusOr<Seeded> Seed(const Stack& stack) {
  Seeded s;
  absl::TimeZone london;
  if (!absl::LoadTimeZone("Europe/London", &london)) return absl::InternalError("no Europe/London");
  s.today = absl::ToCivilDay(absl::Now(), london);

  const Who officer =
      Person("seed-officer", cv1::ROLE_COUNCIL_OFFICER, cv1::ORGANISATION_TYPE_COUNCIL, kLa, kLa);
  const Who coordinator =
      Person(kCoordinator, cv1::ROLE_FORUM_COORDINATOR, cv1::ORGANISATION_TYPE_COUNCIL, kLa, kLa);
  const Who finance =
      Person("seed-finance", cv1::ROLE_FINANCE_OFFICER, cv1::ORGANISATION_TYPE_COUNCIL, kLa, kLa);
  const Who teacher = Person("seed-teacher-a", cv1::ROLE_SCHOOL_STAFF,
                             cv1::ORGANISATION_TYPE_SCHOOL, kSchoolA, kLa);
  const Who head =
      Person("seed-head-a", cv1::ROLE_SCHOOL_LEAD, cv1::ORGANISATION_TYPE_SCHOOL, kSchoolA, kLa);
  const Who lead = Person(LeadSubject(), cv1::ROLE_PROGRAMME_LEAD, cv1::ORGANISATION_TYPE_PARTNER,
                          kPartnerP, kLa);
  const Who worker = Person("seed-worker-p", cv1::ROLE_PARTNER_WORKER,
                            cv1::ORGANISATION_TYPE_PARTNER, kPartnerP, kLa);

  auto referrals = rv1::ReferralService::NewStub(stack.channel("referral-intake"));
  auto casework = rv1::CaseworkService::NewStub(stack.channel("referral-intake"));
  auto programmes = rv1::ProgrammeService::NewStub(stack.channel("referral-intake"));
  auto risk = kv1::RiskScoringService::NewStub(stack.channel("risk-scoring"));
  auto forums = fv1::ForumService::NewStub(stack.channel("forum-scheduling"));
  auto directory = dv1::DirectoryService::NewStub(stack.channel("directory-triage"));
  auto triage = dv1::TriageService::NewStub(stack.channel("directory-triage"));
  auto funds = pv1::FundService::NewStub(stack.channel("fund-payments"));

  // A programme referrals are screened against.
  {
    rv1::UpsertProgrammeRequest request;
    request.set_request_id("seed-programme");
    request.mutable_programme()->set_programme_id("matrix-programme");
    request.mutable_programme()->set_name("Attendance recovery");
    rv1::ScopeRule* rule = request.mutable_programme()->add_in_scope();
    rule->set_rule_id("below-90");
    rule->set_description("attendance below 90%");
    rule->mutable_attendance_below()->set_threshold_bp(9000);
    rv1::UpsertProgrammeResponse response;
    SEED_OK(programmes->UpsertProgramme(Ctx(officer).get(), request, &response));
    s.programme_id = response.programme().programme_id();
  }

  // The forum: school A, council 801 and partner P its members; weekly from tomorrow.
  {
    fv1::CreateForumRequest request;
    request.set_request_id("seed-forum");
    fv1::Forum* f = request.mutable_forum();
    f->set_la_code(kLa);
    f->set_locality("Matrix locality");
    f->set_name("Matrix Multi-Agency Forum");
    f->mutable_cadence()->set_weekday(fv1::WEEKDAY_WEDNESDAY);
    f->mutable_cadence()->set_every_weeks(1);
    f->mutable_cadence()->set_start_minute(14 * 60);
    f->mutable_cadence()->set_duration_minutes(120);
    fv1::TermDates* term = f->add_terms();
    *term->mutable_start() = ToProtoDate(s.today + 1);
    *term->mutable_end() = ToProtoDate(s.today + 100);
    auto member = [&](cv1::OrganisationType type, const std::string& id, cv1::AgencyType agency) {
      fv1::ForumMember* m = f->add_members();
      m->mutable_organisation()->set_type(type);
      m->mutable_organisation()->set_id(id);
      m->set_agency_type(agency);
    };
    member(cv1::ORGANISATION_TYPE_SCHOOL, kSchoolA, cv1::AGENCY_TYPE_EDUCATION);
    member(cv1::ORGANISATION_TYPE_COUNCIL, kLa, cv1::AGENCY_TYPE_COUNCIL_INCLUSION);
    member(cv1::ORGANISATION_TYPE_PARTNER, kPartnerP, cv1::AGENCY_TYPE_VOLUNTARY_SECTOR);
    f->mutable_quorum()->set_minimum_agencies(2);
    f->mutable_quorum()->add_required_agencies(cv1::AGENCY_TYPE_EDUCATION);
    f->set_case_slots(8);
    f->set_minutes_per_case(15);
    f->set_chair_subject(kChair);
    f->set_coordinator_subject(kCoordinator);
    f->set_priority_within_school_days(10);
    f->add_school_urns(kSchoolA);
    fv1::CreateForumResponse response;
    SEED_OK(forums->CreateForum(Ctx(officer).get(), request, &response));
    s.forum_id = response.forum().forum_id();
    fv1::ListMeetingsRequest list;
    list.set_forum_id(s.forum_id);
    fv1::ListMeetingsResponse meetings;
    SEED_OK(forums->ListMeetings(Ctx(officer).get(), list, &meetings));
    if (meetings.meetings_size() < 2)
      return absl::InternalError("the forum has fewer than two meetings");
    s.meeting_id = meetings.meetings(0).meeting_id();
    s.meeting_end_id = meetings.meetings(1).meeting_id();
    Owner owner;
    owner.la = kLa;
    owner.forum = true;
    for (const std::string& id : {s.forum_id, s.meeting_id, s.meeting_end_id}) s.owners[id] = owner;
  }

  // Partner P's organisation and two of its services, approved.
  {
    dv1::UpsertOrganizationRequest request;
    request.set_request_id("seed-organisation");
    request.mutable_organization()->set_name("Partner P Trust");
    request.mutable_organization()->mutable_ref()->set_type(cv1::ORGANISATION_TYPE_PARTNER);
    request.mutable_organization()->mutable_ref()->set_id(kPartnerP);
    dv1::UpsertOrganizationResponse response;
    SEED_OK(directory->UpsertOrganization(Ctx(officer).get(), request, &response));
    s.organization_id = response.organization().id();
    for (std::string* id : {&s.service_id, &s.service_end_id}) {
      dv1::UpsertServiceRequest upsert;
      upsert.set_request_id(FreshId("seed-service"));
      *upsert.mutable_service() = ServiceFor("", s.organization_id, "Attend mentors");
      dv1::UpsertServiceResponse upserted;
      SEED_OK(directory->UpsertService(Ctx(officer).get(), upsert, &upserted));
      *id = upserted.service().id();
      dv1::SetQualityAssuranceRequest qa;
      qa.set_request_id(FreshId("seed-qa"));
      qa.set_service_id(*id);
      qa.mutable_quality()->set_status(dv1::QA_STATUS_APPROVED);
      *qa.mutable_quality()->mutable_assured_date() = ToProtoDate(s.today);
      *qa.mutable_quality()->mutable_review_date() = ToProtoDate(s.today + 365);
      dv1::SetQualityAssuranceResponse assured;
      SEED_OK(directory->SetQualityAssurance(Ctx(officer).get(), qa, &assured));
    }
  }

  // A pupil of school A on the register for two weeks, often absent.
  {
    s.pupil_upn = Upn(1);
    kv1::StreamSignalsRequest request;
    int n = 0;
    for (absl::CivilDay day = s.today - 15; day < s.today; ++day) {
      const absl::Weekday weekday = absl::GetWeekday(day);
      if (weekday == absl::Weekday::saturday || weekday == absl::Weekday::sunday) continue;
      for (kv1::Session session : {kv1::SESSION_AM, kv1::SESSION_PM}) {
        kv1::Signal* signal = request.add_signals();
        signal->set_signal_id(absl::StrCat("seed-mark-", n));
        kv1::AttendanceMark* mark = signal->mutable_attendance();
        mark->set_upn(s.pupil_upn);
        mark->set_school_urn(kSchoolA);
        *mark->mutable_date() = ToProtoDate(day);
        mark->set_session(session);
        const bool present = n++ % 3 == 0;
        mark->set_code(!present ? "N" : session == kv1::SESSION_AM ? "/" : "\\");
      }
    }
    kv1::StreamSignalsResponse response;
    auto context = Ctx(teacher);
    auto writer = risk->StreamSignals(context.get(), &response);
    writer->Write(request);
    writer->WritesDone();
    SEED_OK(writer->Finish());
    if (response.accepted() != request.signals_size()) {
      return absl::InternalError(absl::StrCat("signals rejected: ", response.ShortDebugString()));
    }
    kv1::GetRiskProfileRequest get;
    get.set_upn(s.pupil_upn);
    if (!WaitFor([&] {
          kv1::GetRiskProfileResponse profile;
          if (!risk->GetRiskProfile(Ctx(teacher).get(), get, &profile).ok()) return false;
          s.pupil_ref = profile.profile().pupil_ref().value();
          return true;
        }))
      return Waited("the pupil's risk profile");
  }

  // School A's referral, allocated to partner P's programme lead, and one
  // more like it for the calls that end a case.
  {
    rv1::SetLeadCapacityRequest capacity;
    capacity.set_request_id("seed-capacity");
    capacity.set_lead_subject(LeadSubject());
    capacity.set_partner_id(kPartnerP);
    capacity.set_caseload_limit(40);
    rv1::SetLeadCapacityResponse capped;
    SEED_OK(casework->SetLeadCapacity(Ctx(coordinator).get(), capacity, &capped));
    int k = 0;
    for (auto [id, ref] : {std::pair{&s.referral_id, &s.referral_ref},
                           std::pair{&s.referral_end_id, &s.referral_end_ref}}) {
      const bool main = k == 0;
      rv1::SubmitReferralRequest submit;
      submit.set_request_id(absl::StrCat("seed-referral-", k));
      const std::string upn = main ? s.pupil_upn : Upn(10 + k);
      ++k;
      *submit.mutable_details() = ReferralFor(upn, main, main ? s.programme_id : "");
      rv1::SubmitReferralResponse submitted;
      SEED_OK(referrals->SubmitReferral(Ctx(teacher).get(), submit, &submitted));
      *id = submitted.referral().referral_id();
      *ref = submitted.referral().pupil_ref().value();
      rv1::AllocateLeadRequest allocate;
      allocate.set_request_id(FreshId("seed-allocate"));
      allocate.set_referral_id(*id);
      allocate.set_lead_subject(LeadSubject());
      allocate.set_reason("seeded for the access matrix");
      rv1::AllocateLeadResponse allocated;
      SEED_OK(casework->AllocateLead(Ctx(coordinator).get(), allocate, &allocated));
      Owner owner;
      owner.la = kLa;
      owner.school = kSchoolA;
      owner.partners = {kPartnerP};
      owner.lead = LeadSubject();
      s.owners[*id] = owner;
    }
    rv1::SetGoalRequest goal;
    goal.set_request_id("seed-goal");
    goal.set_referral_id(s.referral_id);
    goal.mutable_goal()->set_description("In school every morning");
    *goal.mutable_goal()->mutable_target_date() = ToProtoDate(s.today + 28);
    rv1::SetGoalResponse goals;
    SEED_OK(casework->SetGoal(Ctx(lead).get(), goal, &goals));
    if (goals.casework().goals().empty()) return absl::InternalError("the goal was not kept");
    s.goal_id = goals.casework().goals(0).goal_id();
  }

  // The other services learn of the referrals from their events.
  {
    pv1::SubmitFundRequestRequest probe;
    probe.set_client_request_id("seed-probe-fund");
    *probe.mutable_fund_request() = FundRequestFor(s, "", 0);
    for (const std::string& id : {s.referral_id, s.referral_end_id}) {
      probe.mutable_fund_request()->set_referral_id(id);
      // Partner P is in the fund's facts once LeadAllocated has arrived.
      if (!WaitFor([&] {
            pv1::SubmitFundRequestResponse ignored;
            return funds->SubmitFundRequest(Ctx(worker).get(), probe, &ignored).error_code() !=
                   grpc::UNAVAILABLE;
          }))
        return Waited("fund-payments to learn the referral and its partner");
      dv1::MakeServiceReferralRequest made;
      made.set_request_id("seed-probe-directory");
      made.set_referral_id(id);
      if (!WaitFor([&] {
            dv1::MakeServiceReferralResponse ignored;
            return directory->MakeServiceReferral(Ctx(teacher).get(), made, &ignored)
                       .error_code() != grpc::UNAVAILABLE;
          }))
        return Waited("directory-triage to learn the referral");
    }
    dv1::TriageRequest request;
    request.set_referral_id(s.referral_id);
    if (!WaitFor([&] {
          dv1::TriageResponse ignored;
          return triage->Triage(Ctx(officer).get(), request, &ignored).ok();
        }))
      return Waited("the referral's needs in the directory");
    rv1::GetScreeningRequest screening;
    screening.set_referral_id(s.referral_id);
    if (!WaitFor([&] {
          rv1::GetScreeningResponse ignored;
          return programmes->GetScreening(Ctx(officer).get(), screening, &ignored).ok();
        }))
      return Waited("the referral's screening");
    fv1::ListCasesRequest cases;
    cases.set_forum_id(s.forum_id);
    if (!WaitFor([&] {
          fv1::ListCasesResponse listed;
          if (!forums->ListCases(Ctx(coordinator).get(), cases, &listed).ok()) return false;
          for (const fv1::ScheduledCase& c : listed.cases()) {
            if (c.forum_case().referral_id() == s.referral_id)
              s.forum_case_id = c.forum_case().case_id();
          }
          return !s.forum_case_id.empty();
        }))
      return Waited("the referral's forum case");
  }

  // An action on the case, school A's to complete.
  {
    fv1::AssignActionRequest request;
    request.set_request_id("seed-action");
    request.mutable_action()->set_case_id(s.forum_case_id);
    request.mutable_action()->set_description("Meet the family");
    request.mutable_action()->mutable_owner()->set_type(cv1::ORGANISATION_TYPE_SCHOOL);
    request.mutable_action()->mutable_owner()->set_id(kSchoolA);
    *request.mutable_action()->mutable_due() = ToProtoDate(s.today + 7);
    fv1::AssignActionResponse response;
    SEED_OK(forums->AssignAction(Ctx(coordinator).get(), request, &response));
    s.action_id = response.action().action_id();
    // The case is its forum's; the action its forum's and its owner's (school A).
    Owner of_forum;
    of_forum.la = kLa;
    of_forum.forum = true;
    s.owners[s.forum_case_id] = of_forum;
    Owner of_owner = of_forum;
    of_owner.school = kSchoolA;
    s.owners[s.action_id] = of_owner;
  }

  // The fund: allocations for school A and partner P, a payee, and school
  // A's requests in every state the matrix acts on.
  {
    pv1::CreateFundRequest create;
    create.set_request_id("seed-fund");
    pv1::Fund* f = create.mutable_fund();
    f->set_la_code(kLa);
    f->set_name("Local response fund");
    *f->mutable_total_budget() = Gbp(10'000'000);
    const int year = s.today.month() >= 9 ? int(s.today.year()) : int(s.today.year()) - 1;
    *f->mutable_period_start() = ToProtoDate(absl::CivilDay(year, 9, 1));
    *f->mutable_period_end() = ToProtoDate(absl::CivilDay(year + 1, 8, 31));
    f->add_categories(pv1::CATEGORY_UNIFORM_CLOTHING);
    f->add_categories(pv1::CATEGORY_TRANSPORT);
    *f->mutable_per_request_limit() = Gbp(50'000);
    *f->mutable_per_child_limit() = Gbp(500'000);
    *f->mutable_approval()->mutable_school_lead_limit() = Gbp(10'000);
    *f->mutable_approval()->mutable_two_approver_threshold() = Gbp(30'000);
    pv1::CreateFundResponse created;
    SEED_OK(funds->CreateFund(Ctx(finance).get(), create, &created));
    s.fund_id = created.fund().fund_id();
    s.owners[s.fund_id] = CouncilWide(kLa);
    for (auto [holder_type, holder, out] :
         {std::tuple{cv1::ORGANISATION_TYPE_SCHOOL, kSchoolA, &s.allocation_a},
          std::tuple{cv1::ORGANISATION_TYPE_PARTNER, kPartnerP, &s.allocation_p}}) {
      pv1::AllocateFundsRequest allocate;
      allocate.set_request_id(FreshId("seed-allocation"));
      allocate.mutable_allocation()->set_fund_id(s.fund_id);
      allocate.mutable_allocation()->mutable_holder()->set_type(holder_type);
      allocate.mutable_allocation()->mutable_holder()->set_id(holder);
      allocate.mutable_allocation()->set_term("autumn");
      *allocate.mutable_allocation()->mutable_amount() = Gbp(1'000'000);
      pv1::AllocateFundsResponse allocated;
      SEED_OK(funds->AllocateFunds(Ctx(finance).get(), allocate, &allocated));
      *out = allocated.allocation().allocation_id();
    }
    pv1::RegisterPayeeRequest payee;
    payee.set_request_id("seed-payee");
    payee.mutable_payee()->set_name("Uniform Shop Ltd");
    payee.mutable_payee()->mutable_bank()->set_account_name("Uniform Shop Ltd");
    payee.mutable_payee()->mutable_bank()->set_sort_code("204060");
    payee.mutable_payee()->mutable_bank()->set_account_number("87654321");
    pv1::RegisterPayeeResponse registered;
    SEED_OK(funds->RegisterPayee(Ctx(finance).get(), payee, &registered));
    s.payee_id = registered.payee().payee_id();
    std::vector<std::string*> requests = {&s.fund_request_approve, &s.fund_request_reject,
                                          &s.fund_request_outcome, &s.fund_request_paid};
    std::string bank_request;
    requests.push_back(&bank_request);
    for (std::string* id : requests) {
      pv1::SubmitFundRequestRequest submit;
      submit.set_client_request_id(FreshId("seed-fund-request"));
      *submit.mutable_fund_request() = FundRequestFor(s, s.allocation_a, 2'500);
      pv1::SubmitFundRequestResponse submitted;
      SEED_OK(funds->SubmitFundRequest(Ctx(teacher).get(), submit, &submitted));
      *id = submitted.fund_request().request_id();
      s.fund_requests.push_back(*id);
    }
    for (auto [id, payment] : {std::pair{&s.fund_request_outcome, &s.payment_outcome},
                               std::pair{&s.fund_request_paid, static_cast<std::string*>(nullptr)},
                               std::pair{&bank_request, &s.payment_bank}}) {
      pv1::ApproveFundRequestRequest approve;
      approve.set_client_request_id(FreshId("seed-approve"));
      approve.set_fund_request_id(*id);
      pv1::ApproveFundRequestResponse approved;
      SEED_OK(funds->ApproveFundRequest(Ctx(head).get(), approve, &approved));
      if (approved.fund_request().payment_id().empty()) return absl::InternalError("no payment id");
      if (payment != nullptr) {
        *payment = approved.fund_request().payment_id();
        continue;
      }
      pv1::RecordPaymentOutcomeRequest paid;
      paid.set_client_request_id(FreshId("seed-paid"));
      paid.set_payment_id(approved.fund_request().payment_id());
      paid.set_outcome(pv1::PAYMENT_OUTCOME_SETTLED);
      pv1::RecordPaymentOutcomeResponse settled;
      SEED_OK(funds->RecordPaymentOutcome(Ctx(finance).get(), paid, &settled));
    }
  }
  return s;
}

// ---- the matrix ------------------------------------------------------------

struct RowResult {
  std::string method;  // Service.Method
  std::string service;
  const Who* who;
  std::string caller;
  Expect expected;
  std::string why;
  Answer got;
  std::string fault;  // "" when the row is as the rule says
  bool phantom = false;
};

// One method's rows, in order: a made-up record id first, refusals, then admissions.
std::vector<RowResult> RunMethod(const pb::MethodDescriptor& method,
                                 const std::shared_ptr<grpc::Channel>& channel,
                                 const std::string& served_by, const Case& c, const Seeded& s,
                                 const std::vector<Who>& callers) {
  const cv1::AccessRule rule = method.options().GetExtension(cv1::access);
  const std::string name = absl::StrCat(method.service()->name(), ".", method.name());
  const pb::Message* prototype =
      pb::MessageFactory::generated_factory()->GetPrototype(method.input_type());
  auto build = [&](const Who& who) {
    std::unique_ptr<pb::Message> request(prototype->New());
    FillByName(
        *request, "",
        [&](const std::string& path, const std::string& field) {
          return ValueFor(s, c, who, path, field);
        },
        0);
    if (c.complete) c.complete(*request, who);
    return request;
  };
  struct Planned {
    const Who* who;
    Expectation expected;
  };
  std::vector<Planned> refusals, admissions;
  std::vector<RowResult> results;
  for (const Who& who : callers) {
    std::unique_ptr<pb::Message> request = build(who);
    const Owner* record = nullptr;
    if (!rule.record().kind().empty()) {
      const std::string id = GetPath(*request, rule.record().field());
      auto it = s.owners.find(id);
      if (it == s.owners.end()) {
        results.push_back({name,
                           served_by,
                           &who,
                           who.label,
                           Expect::kAdmitted,
                           "",
                           {},
                           absl::StrCat("the matrix fills ", rule.record().field(), " with '", id,
                                        "', which is no seeded record"),
                           false});
        return results;
      }
      record = &it->second;
    }
    const std::string school =
        rule.school_field().empty() ? "" : GetPath(*request, rule.school_field());
    Expectation e = Expected(rule, c, who, record, school);
    (e.what == Expect::kAdmitted ? admissions : refusals).push_back({&who, std::move(e)});
  }

  std::optional<Answer> unseen;
  if (!rule.record().kind().empty() && !admissions.empty()) {
    // The answer for a record that does not exist, asked by one in scope for the real one.
    const Who& who = *admissions.front().who;
    std::unique_ptr<pb::Message> request = build(who);
    SetPath(*request, rule.record().field(), kPhantomId);
    Answer a = Call(method, channel, request->SerializeAsString(), TokenFor(who));
    const grpc::StatusCode want = UnseenCode(method, rule.record().kind());
    std::string fault;
    if (a.code != want) {
      fault = absl::StrCat("a made-up ", rule.record().field(), " is not ", CodeText(want));
    } else if (!absl::StartsWith(a.message, rule.record().field() + ":")) {
      fault = "the answer for a made-up id does not name the field";
    } else if (want == grpc::UNAVAILABLE && !a.retry_pushback) {
      fault = "no retry pushback for a made-up referral";
    }
    results.push_back({name, served_by, &who, who.label + " with a made-up id", Expect::kUnseen,
                       "no such record", a, fault, true});
    unseen = std::move(a);
  }
  for (const std::vector<Planned>* rows : {&refusals, &admissions}) {
    for (const Planned& p : *rows) {
      std::unique_ptr<pb::Message> request = build(*p.who);
      Answer a = Call(method, channel, request->SerializeAsString(), TokenFor(*p.who));
      std::string fault = CheckRow(method, p.expected.what, c, a, unseen);
      results.push_back({name, served_by, p.who, p.who->label, p.expected.what, p.expected.why,
                         std::move(a), std::move(fault), false});
    }
  }
  return results;
}

TEST_F(AccessMatrixTest, EveryRpcAsEveryCallerAnswersAsItsRuleSays) {
  const absl::Time started = absl::Now();
  absl::StatusOr<Seeded> seeded = Seed(*stack_);
  ASSERT_TRUE(seeded.ok()) << seeded.status();
  const Seeded& s = *seeded;
  const absl::Duration seeding = absl::Now() - started;
  const std::map<std::string, Case> cases = Cases(s);
  const std::vector<Who> callers = Callers();

  struct Job {
    const pb::MethodDescriptor* method;
    size_t target;
    const Case* c;
  };
  std::map<int, std::vector<Job>> jobs;  // by order
  std::set<std::string> covered;
  int methods = 0;
  for (const auto& [service, targets] : ServedAt()) {
    EXPECT_FALSE(targets.empty()) << service->full_name() << " is served by none of the five";
    for (int m = 0; m < service->method_count(); ++m) {
      const pb::MethodDescriptor* method = service->method(m);
      ++methods;
      auto c = cases.find(method->full_name());
      if (c == cases.end()) {
        ADD_FAILURE()
            << method->full_name()
            << " has no case in the access matrix: add one to Cases() in "
               "tests/e2e/access_matrix_test.cc (its order, the ids it needs, a valid "
               "payload, and, if its rule names no record, whose the thing it acts on is)";
        continue;
      }
      covered.insert(method->full_name());
      for (size_t t : targets) jobs[c->second.order].push_back({method, t, &c->second});
    }
  }
  for (const auto& [name, c] : cases) {
    if (!covered.count(name))
      std::printf("note: the matrix has a case for %s, which no API has\n", name.c_str());
  }

  std::vector<RowResult> rows;
  std::mutex mu;
  for (auto& [order, list] : jobs) {
    std::atomic<size_t> next{0};
    std::vector<std::thread> workers;
    for (int w = 0; w < 3; ++w) {
      workers.emplace_back([&] {
        for (size_t i = next++; i < list.size(); i = next++) {
          const Job& job = list[i];
          std::vector<RowResult> done = RunMethod(*job.method, stack_->channel(job.target),
                                                  stack_->name(job.target), *job.c, s, callers);
          std::lock_guard lock(mu);
          for (RowResult& r : done) rows.push_back(std::move(r));
        }
      });
    }
    for (std::thread& t : workers) t.join();
  }

  // The summary, then every row that is not as its rule says.
  struct Tally {
    int rows = 0, denied = 0, unseen = 0, refused = 0, admitted = 0, admitted_ok = 0;
  };
  std::map<std::string, Tally> by_service;
  std::map<const KnownIssue*, int> known_seen;
  std::vector<const RowResult*> faults;
  for (const RowResult& r : rows) {
    Tally& t = by_service[r.service];
    ++t.rows;
    switch (r.expected) {
      case Expect::kDenied:
        ++t.denied;
        break;
      case Expect::kUnseen:
        ++t.unseen;
        break;
      case Expect::kRefused:
        ++t.refused;
        break;
      case Expect::kAdmitted:
        ++t.admitted;
        if (r.got.code == grpc::OK) ++t.admitted_ok;
        break;
    }
    if (r.fault.empty()) continue;
    if (const KnownIssue* k = KnownFor(r.method, r.expected, r.got.code, *r.who);
        k != nullptr && !r.phantom) {
      ++known_seen[k];
      continue;
    }
    faults.push_back(&r);
  }
  std::printf("access matrix: %zu rows, %d methods, %zu callers; seeded in %s, all in %s\n",
              rows.size(), methods, callers.size(), absl::FormatDuration(seeding).c_str(),
              absl::FormatDuration(absl::Now() - started).c_str());
  for (const auto& [service, t] : by_service) {
    std::printf("  %-17s %5d rows: %4d denied, %4d unseen, %4d refused, %4d in scope (%d OK)\n",
                service.c_str(), t.rows, t.denied, t.unseen, t.refused, t.admitted, t.admitted_ok);
  }
  for (const KnownIssue& k : KnownIssues()) {
    const int n = known_seen.count(&k) ? known_seen[&k] : 0;
    std::printf("  KNOWN ACCESS ISSUE (%d rows): %s: expected %s, the service answers %s: %s\n", n,
                k.method.c_str(), ExpectText(k.expected).c_str(), CodeText(k.got).c_str(),
                k.note.c_str());
    EXPECT_GT(n, 0) << "the known issue in " << k.method
                    << " no longer shows: remove it from KnownIssues()";
  }
  // ROOTED_MATRIX_ROWS=1 prints every row.
  if (const char* all = std::getenv("ROOTED_MATRIX_ROWS"); all != nullptr && *all == '1') {
    for (const RowResult& r : rows) {
      std::printf("row %s | %s | expected %s | got %s: %s%s\n", r.method.c_str(), r.caller.c_str(),
                  ExpectText(r.expected).c_str(), CodeText(r.got.code).c_str(),
                  r.got.message.c_str(), r.fault.empty() ? "" : (" [" + r.fault + "]").c_str());
    }
  }
  std::sort(faults.begin(), faults.end(), [](const RowResult* a, const RowResult* b) {
    return std::tie(a->method, a->caller) < std::tie(b->method, b->caller);
  });
  for (const RowResult* r : faults) {
    ADD_FAILURE() << r->method << " at " << r->service << " as " << r->caller << ": expected "
                  << ExpectText(r->expected) << " (" << r->why << "), got " << CodeText(r->got.code)
                  << ": " << r->got.message << " [" << r->fault << "]";
  }
  EXPECT_TRUE(faults.empty()) << faults.size() << " of " << rows.size()
                              << " rows are not as their rules say (listed above)";
}

}  // namespace
}  // namespace rooted
